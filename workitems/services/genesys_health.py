"""Can this process reach Genesys? For /readyz: whether an OAuth token is obtainable.

The outcome is cached for TOKEN_CACHE_SECONDS in Django's cache, so readiness probes from any
number of balancers and processes cost Genesys at most one token request a minute (and usually
none: the token provider reuses the shared token until shortly before it expires).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from workitems.genesys import get_client

TOKEN_CACHE_KEY = "health:genesys-token"
TOKEN_CACHE_SECONDS = 60


def genesys_token_check(*, describe: Callable[[BaseException], str]) -> dict[str, Any]:
    """`{"ok", "error", "checked_at", "cached"}` as last found within TOKEN_CACHE_SECONDS.

    `describe` turns a failure into text safe to show: the caller knows what else it must mask
    (the readiness page masks database and broker passwords too)."""
    try:
        cached = cache.get(TOKEN_CACHE_KEY)
    except Exception:
        cached = None  # the cache is down too: check, and let the caller report that
    if isinstance(cached, dict):
        return {**cached, "cached": True}
    try:
        get_client().tokens.get()
        outcome: dict[str, Any] = {"ok": True, "error": ""}
    except Exception as exc:  # any failure is an answer here, never a crash of the probe
        outcome = {"ok": False, "error": describe(exc)}
    outcome["checked_at"] = timezone.now().isoformat()
    try:
        cache.set(TOKEN_CACHE_KEY, outcome, timeout=TOKEN_CACHE_SECONDS)
    except Exception:
        pass  # uncached, the next probe asks again; the answer itself is still right
    return {**outcome, "cached": False}
