"""Sending one Genesys API request: pooled session, retries, token, pacing, logging, errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from workitems.genesys.auth import TokenProvider
from workitems.genesys.config import ClientConfig
from workitems.genesys.errors import (
    IDEMPOTENT_METHODS,
    GenesysError,
    error_from_exception,
    error_from_response,
)
from workitems.genesys.pacing import Pacer
from workitems.genesys.requestlog import log_request
from workitems.genesys.retry import RETRY_STATUSES, build_retry


def build_session(
    *, config: ClientConfig, sleep: Callable[[float], None] = time.sleep
) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(
        max_retries=build_retry(
            max_retries=config.max_retries,
            retry_after_ceiling=config.retry_after_ceiling,
            sleep=sleep,
        )
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"Accept": "application/json", "User-Agent": "work-item-portal"})
    return session


class Transport:
    def __init__(
        self,
        *,
        config: ClientConfig,
        session: requests.Session,
        tokens: TokenProvider,
        pacer: Pacer | None,
    ) -> None:
        self._config = config
        self._session = session
        self._tokens = tokens
        self._pacer = pacer

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """Send one request and return its decoded JSON (None for an empty body).

        `path` starts with /api/v2. A str body is sent as already-encoded JSON.
        """
        response = self._send(method, path, params, body)
        if response.status_code == 401:
            # Revoked or expired early: one fresh token, one more try; a second 401 is real.
            self._tokens.invalidate()
            response = self._send(method, path, params, body)
        if response.status_code >= 400:
            raise error_from_response(
                response,
                method=method,
                path=path,
                retried=self._retries_spent(method, response.status_code),
                secrets=self._tokens.secrets,
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise GenesysError(
                status=response.status_code,
                message="the answer is not JSON",
                method=method,
                path=path,
                hint="Check GENESYS_REGION (or GENESYS_API_BASE_URL) points at a Genesys API host.",
            ) from None

    def _send(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> requests.Response:
        if self._pacer:
            self._pacer.wait()
        headers = {"Authorization": f"Bearer {self._tokens.get()}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = body if isinstance(body, str) else json.dumps(body)
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                f"{self._config.api_base}{path}",
                params=params,
                data=data,
                headers=headers,
                timeout=self._config.timeout,
            )
        except requests.RequestException as exc:
            error = error_from_exception(
                exc, method=method, path=path, timeout=self._config.timeout
            )
            log_request(method=method, path=path, status=None, started=started, error=error.message)
            raise error from exc
        log_request(
            method=method,
            path=path,
            status=response.status_code,
            started=started,
            correlation_id=response.headers.get("ININ-Correlation-Id", ""),
        )
        if self._pacer:
            self._pacer.observe(response.headers)
        return response

    def _retries_spent(self, method: str, status: int) -> int:
        # A retryable status that still comes back means urllib3 spent every retry on it.
        retryable = status == 429 or method.upper() in IDEMPOTENT_METHODS
        return self._config.max_retries if status in RETRY_STATUSES and retryable else 0
