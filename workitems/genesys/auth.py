"""OAuth client-credentials token, as Genesys's SDK and CLI fetch it (docs/GENESYS.md §1).

The token is shared through Django's cache so every process (web, workers) reuses one token until
shortly before it expires: Genesys counts requests per token and may limit token creation.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.core.cache import cache

from workitems.genesys.errors import (
    CREDENTIALS_HINT,
    GenesysError,
    error_from_exception,
    error_from_response,
)
from workitems.genesys.requestlog import log_request

TOKEN_PATH = "/oauth/token"
# Renew this long before expiry (or 10% of the lifetime if shorter), so no request carries a
# token that expires in flight.
RENEW_MARGIN_SECONDS = 300


@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float  # epoch seconds


def basic_credentials(client_id: str, client_secret: str) -> str:
    """What `Authorization: Basic …` carries for this client (base64 of id:secret)."""
    return base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()


class TokenProvider:
    def __init__(
        self,
        *,
        session: requests.Session,
        login_base: str,
        client_id: str,
        client_secret: str,
        timeout: tuple[float, float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._url = f"{login_base}{TOKEN_PATH}"
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._clock = clock
        # The key names the client, not the secret.
        digest = hashlib.sha256(f"{login_base}\n{client_id}".encode()).hexdigest()[:32]
        self.cache_key = f"genesys:token:{digest}"
        self._token: _Token | None = None

    def __repr__(self) -> str:
        return f"TokenProvider(url={self._url!r}, client_id={self._client_id!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in an error or log line."""
        return (self._client_secret, self._token.value if self._token else "")

    def get(self) -> str:
        now = self._clock()
        if self._token and now < self._token.renew_at:
            return self._token.value
        cached = cache.get(self.cache_key)
        if isinstance(cached, dict) and now < cached.get("renew_at", 0):
            self._token = _Token(cached["access_token"], cached["renew_at"])
            return self._token.value
        self._token = self._fetch(now)
        cache.set(
            self.cache_key,
            {"access_token": self._token.value, "renew_at": self._token.renew_at},
            timeout=max(1, int(self._token.renew_at - now)),
        )
        return self._token.value

    def invalidate(self) -> None:
        self._token = None
        cache.delete(self.cache_key)

    def _fetch(self, now: float) -> _Token:
        if not (self._client_id and self._client_secret):
            raise GenesysError(
                message="no OAuth client configured",
                method="POST",
                path=TOKEN_PATH,
                hint="Set GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET.",
            )
        started = time.monotonic()
        try:
            response = self._session.post(
                self._url,
                data={"grant_type": "client_credentials"},
                auth=(self._client_id, self._client_secret),
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            error = error_from_exception(exc, method="POST", path=TOKEN_PATH, timeout=self._timeout)
            log_request(
                method="POST", path=TOKEN_PATH, status=None, started=started, error=error.message
            )
            raise error from exc
        log_request(
            method="POST",
            path=TOKEN_PATH,
            status=response.status_code,
            started=started,
            correlation_id=response.headers.get("ININ-Correlation-Id", ""),
        )
        if response.status_code != 200:
            credentials = 400 <= response.status_code < 500 and response.status_code != 429
            raise error_from_response(
                response,
                method="POST",
                path=TOKEN_PATH,
                hint=CREDENTIALS_HINT if credentials else None,
                # The secret, and the Basic header carrying it, in case either is echoed back.
                secrets=(
                    self._client_secret,
                    basic_credentials(self._client_id, self._client_secret),
                ),
            )
        try:
            body = response.json()
            value = str(body["access_token"])
            # Genesys always sends expires_in; if not, assume its shortest lifetime (5 minutes).
            lifetime = float(body.get("expires_in") or 300)
        except (ValueError, KeyError, TypeError):
            raise GenesysError(
                status=response.status_code,
                message="the token endpoint answered without an access_token",
                method="POST",
                path=TOKEN_PATH,
                hint="Check GENESYS_REGION (or GENESYS_LOGIN_BASE_URL) points at a Genesys login host.",
            ) from None
        margin = min(RENEW_MARGIN_SECONDS, lifetime * 0.1)
        return _Token(value, now + lifetime - margin)
