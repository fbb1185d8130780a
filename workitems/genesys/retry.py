"""urllib3 retry policy for Genesys: what may be retried, and how long we are willing to wait.

Retried: 429 for every method (Genesys did not process the request), 5xx except 501 and read errors
only for idempotent methods (a POST that got a 5xx may have created a work item), and connect
errors for every method (nothing was sent). A 429 whose Retry-After exceeds the ceiling is handed
back at once so the caller can raise RateLimited instead of holding a worker for hours.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from workitems.genesys.errors import IDEMPOTENT_METHODS

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class GenesysRetry(Retry):
    def __init__(
        self,
        *args: Any,
        retry_after_ceiling: float = 60,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after_ceiling = retry_after_ceiling
        self.sleep_function = sleep

    def new(self, **kw: Any) -> GenesysRetry:
        kw.setdefault("retry_after_ceiling", self.retry_after_ceiling)
        kw.setdefault("sleep", self.sleep_function)
        return super().new(**kw)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429:
            return bool(self.total)
        return super().is_retry(method, status_code, has_retry_after)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> GenesysRetry:
        if response is not None and response.status == 429:
            wait = self.get_retry_after(response)
            if wait is not None and wait > self.retry_after_ceiling:
                # With raise_on_status off, urllib3 returns the 429 itself to the caller.
                raise MaxRetryError(_pool, url, ResponseError("Retry-After above the ceiling"))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        wait = self.get_retry_after(response) if response is not None else None
        if not wait:
            wait = self.get_backoff_time()
        if wait > 0:
            self.sleep_function(wait)


def build_retry(
    *, max_retries: int, retry_after_ceiling: float, sleep: Callable[[float], None] = time.sleep
) -> GenesysRetry:
    return GenesysRetry(
        total=max_retries,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=IDEMPOTENT_METHODS,
        backoff_factor=0.5,
        backoff_jitter=0.25,
        backoff_max=retry_after_ceiling,
        respect_retry_after_header=True,
        raise_on_status=False,
        retry_after_ceiling=retry_after_ceiling,
        sleep=sleep,
    )
