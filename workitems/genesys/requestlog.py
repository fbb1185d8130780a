"""One structured log line per Genesys request. Paths only: no host, query, token or secret."""

from __future__ import annotations

import logging
import time

logger = logging.getLogger("workitems.genesys")


def log_request(
    *,
    method: str,
    path: str,
    status: int | None,
    started: float,
    correlation_id: str = "",
    error: str = "",
) -> None:
    """`started` is a time.monotonic() reading; `error` names a failure that got no status."""
    duration_ms = round((time.monotonic() - started) * 1000)
    logger.log(
        logging.INFO if status is not None and status < 400 else logging.WARNING,
        "genesys %s %s %s in %d ms",
        method,
        path,
        status if status is not None else error,
        duration_ms,
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "correlation_id": correlation_id,
        },
    )
