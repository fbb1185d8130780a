"""Values an event must not carry: those the database cannot hold, and a `dateModified` so far in
the future that it would freeze the item (every later, real event would look stale).

Checked when an event is normalised — at ingest, so the sender gets a 400 with the reason and the
event is stored as rejected instead of acknowledged and then failing on every attempt; and again
when the processor applies a stored event, so one accepted before these rules is rejected rather
than retried. Each failure names the field and what to fix.

- NUL (U+0000) in any text, keys included: PostgreSQL text and jsonb cannot store it.
- NaN, Infinity, -Infinity (and numbers such as 1e400, which parse as infinite): not JSON numbers,
  and no numeric column holds them.
- Numbers the portal stores, outside their column's range (NUMBER_RANGES).
- `dateModified` more than EVENT_FUTURE_SKEW_SECONDS (default one day) ahead of our clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from workitems.models.workitem import PRIORITY_MAX, PRIORITY_MIN

DEFAULT_FUTURE_SKEW_SECONDS = 86400
# Event fields the portal stores in a numeric column, with the range Genesys allows for them.
NUMBER_RANGES = {"priority": (PRIORITY_MIN, PRIORITY_MAX)}
_MAX_PATH = 80


def future_skew() -> timedelta:
    return timedelta(
        seconds=getattr(settings, "EVENT_FUTURE_SKEW_SECONDS", DEFAULT_FUTURE_SKEW_SECONDS)
    )


def _path(parent: str, key: Any) -> str:
    text = f"{parent}[{key}]" if isinstance(key, int) else (f"{parent}.{key}" if parent else key)
    return text if len(text) <= _MAX_PATH else "…" + text[-_MAX_PATH:]


def unstorable_value(value: Any, path: str = "") -> str:
    """Why some value inside `value` (a parsed JSON document) cannot be stored, or ""."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{path or 'a value'} contains a NUL character (\\u0000), which cannot be stored"
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        shown = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return f"{path or 'a value'} is {shown}, not a finite number"
    if isinstance(value, Mapping):
        for key, item in value.items():
            key_text = str(key)
            if "\x00" in key_text:
                return (
                    f"a key in {path or 'the event'} contains a NUL character (\\u0000), "
                    "which cannot be stored"
                )
            problem = unstorable_value(item, _path(path, key_text))
            if problem:
                return problem
        return ""
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = unstorable_value(item, _path(path, index))
            if problem:
                return problem
    return ""


def out_of_range_field(body: Mapping[str, Any], where: str) -> str:
    """Why a stored numeric field of the event body is out of its range, or ""."""
    for name, (low, high) in NUMBER_RANGES.items():
        value = body.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # not a number: not stored as one (see lifecycle._int)
        if value != int(value) or not low <= value <= high:
            return f"{where}.{name} {value!r} must be a whole number from {low} to {high}"
    return ""


def too_far_ahead(date_modified: datetime | None, *, now: datetime) -> str:
    """Why `date_modified` is refused as too far in the future, or ""."""
    if date_modified is None:
        return ""
    skew = future_skew()
    if date_modified <= now + skew:
        return ""
    return (
        f"dateModified {date_modified.isoformat()} is more than {_duration(skew)} ahead of the "
        f"portal's clock ({now.isoformat(timespec='seconds')}); applied, it would make every later "
        "event for the item look stale. Check the sender's clock (EVENT_FUTURE_SKEW_SECONDS sets "
        "the allowance)"
    )


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day" + ("s" if days != 1 else "")
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds} s"
