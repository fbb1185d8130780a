"""Liveness and readiness for load balancers and process managers. JSON, no login, GET only.

`GET /healthz` — the process answers: 200 `{"status": "ok"}`, touching nothing else (no database,
no cache), so a slow database never gets a healthy web process restarted.

`GET /readyz` — can this process do useful work? Checks, each reported under `checks`:
- `database`: a connection and `SELECT 1`.
- `broker`: django-q2's broker — Redis: PING (2 s timeouts); the ORM broker: one indexed read of
  its OrmQ table.
- `sla_sweep`: age of the last SLA sweep (from the cache the sweep writes); stale after
  HEALTH_SLA_SWEEP_MAX_AGE_SECONDS (default 300; the sweep runs every minute), or if none ran yet.
- `genesys_token`: an OAuth token obtainable, as `genesys_token_check` in
  workitems/services/genesys_health.py finds it (cached for a minute, so probes do not hammer
  Genesys).

The rule, since a load balancer stops routing to a target that fails readyz:
- database or broker failing → `"fail"`, HTTP 503: this process cannot serve requests or enqueue
  work, so traffic should go elsewhere.
- a stale SLA sweep or no Genesys token → `"degraded"`, HTTP 200: the web process still serves the
  admin and still accepts (stores) Genesys events, which is exactly what must keep flowing while
  the cluster or Genesys is being fixed; taking every web process out would make things worse.
- otherwise `"ok"`, HTTP 200.

Error texts are exception class names with a short message, with every configured secret (and the
database and Redis passwords) masked; GenesysError texts are already scrubbed by the client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from audits.services import configured_secrets
from workitems.services.genesys_health import genesys_token_check
from workitems.services.sla import sla_last_sweep

OK, DEGRADED, FAIL = "ok", "degraded", "fail"
# A failing check in this set makes the process not ready (503); any other only degrades it.
CRITICAL = ("database", "broker")
REDIS_TIMEOUT_SECONDS = 2
ERROR_MAX = 300

Check = dict[str, Any]


def _secrets() -> list[str]:
    values = configured_secrets()
    for db in settings.DATABASES.values():
        values.append(str(db.get("PASSWORD") or ""))
    redis_url = settings.Q_CLUSTER.get("redis")
    if isinstance(redis_url, str):
        values.append(urlsplit(redis_url).password or "")
    return [v for v in values if v and len(v) >= 4]


def safe_error(exc: BaseException) -> str:
    """`ClassName: first line of the message`, short, with every known secret masked."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    for secret in _secrets():
        text = text.replace(secret, "[redacted]")
    return text[:ERROR_MAX]


def _timed(check: Callable[[], Check]) -> Check:
    started = time.monotonic()
    try:
        result = check()
    except Exception as exc:  # a readiness check reports, it never raises
        result = {"ok": False, "error": safe_error(exc)}
    result.setdefault("ok", True)
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def check_database() -> Check:
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "vendor": connection.vendor}


def check_broker() -> Check:
    conf = settings.Q_CLUSTER
    if conf.get("redis"):
        import redis

        url = conf["redis"]
        client = (
            redis.from_url(
                url,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            )
            if isinstance(url, str)
            else redis.Redis(
                **{
                    **url,
                    "socket_timeout": REDIS_TIMEOUT_SECONDS,
                    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                }
            )
        )
        try:
            client.ping()
        finally:
            client.close()
        return {"ok": True, "kind": "redis"}
    if conf.get("orm"):
        from django_q.models import OrmQ

        OrmQ.objects.using(conf["orm"]).exists()  # SELECT 1 … LIMIT 1
        return {"ok": True, "kind": "orm"}
    return {"ok": False, "error": "Q_CLUSTER names no broker this check knows (redis or orm)"}


def check_sla_sweep(*, now: datetime | None = None) -> Check:
    max_age = settings.HEALTH_SLA_SWEEP_MAX_AGE_SECONDS
    last = sla_last_sweep()
    if not last or not last.get("at"):
        return {"ok": False, "last_run": None, "age_seconds": None, "error": "no sweep has run"}
    at = datetime.fromisoformat(last["at"])
    age = max(((now or timezone.now()) - at).total_seconds(), 0.0)
    check: Check = {
        "ok": age <= max_age,
        "last_run": at.isoformat(),
        "age_seconds": round(age),
        "max_age_seconds": max_age,
    }
    if not check["ok"]:
        check["error"] = f"the last SLA sweep ran {round(age)}s ago (more than {max_age}s)"
    return check


def check_genesys_token() -> Check:
    return genesys_token_check(describe=safe_error)


def readiness() -> tuple[str, dict[str, Check]]:
    checks = {
        "database": _timed(check_database),
        "broker": _timed(check_broker),
        "sla_sweep": _timed(check_sla_sweep),
        "genesys_token": _timed(check_genesys_token),
    }
    if any(not checks[name]["ok"] for name in CRITICAL):
        return FAIL, checks
    if any(not check["ok"] for check in checks.values()):
        return DEGRADED, checks
    return OK, checks


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": OK})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    status, checks = readiness()
    return JsonResponse({"status": status, "checks": checks}, status=503 if status == FAIL else 200)
