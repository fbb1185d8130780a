"""The one exception the Genesys client raises, built from Genesys's ErrorBody (docs/GENESYS.md §5).

Every error carries a hint an operator can act on without reading code. Secrets never reach the
text: callers pass the client secret and token as `secrets`, and bodies are scrubbed of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import requests
from django.utils import timezone
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError
from urllib3.util.retry import Retry

from workitems.genesys.permissions import addressed_object, required_permission

CREDENTIALS_HINT = (
    "Genesys did not accept the OAuth client: check GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET, "
    "and that GENESYS_REGION is the region of the org that owns the client."
)
# Retrying these cannot apply a change twice (urllib3's own list).
IDEMPOTENT_METHODS = Retry.DEFAULT_ALLOWED_METHODS
_PERMISSION = re.compile(r"\b[a-zA-Z]+:[a-zA-Z]+:[a-zA-Z]+\b")
_RETRY_IN_MESSAGE = re.compile(r"\[(\d+)\] seconds")


class GenesysError(Exception):
    def __init__(
        self,
        *,
        status: int | None = None,
        code: str = "",
        message: str = "",
        context_id: str = "",
        details: list[dict[str, Any]] | None = None,
        method: str = "",
        path: str = "",
        hint: str = "",
        outcome_unknown: bool = False,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.context_id = context_id
        self.details = details or []
        self.method = method
        self.path = path
        self.hint = hint
        # True when Genesys may have applied the request although we got no success answer:
        # the caller of a non-idempotent POST must look the item up before sending it again.
        self.outcome_unknown = outcome_unknown
        super().__init__(str(self))

    def __str__(self) -> str:
        head = " ".join(str(p) for p in ("Genesys", self.status, self.code) if p)
        where = ", ".join(
            p
            for p in (
                f"{self.method} {self.path}".strip(),
                self.context_id and f"contextId {self.context_id}",
            )
            if p
        )
        line = f"{head}: {self.message or 'no message'}"
        if where:
            line += f" ({where})"
        if self.hint:
            line += f". Hint: {self.hint}"
        return " ".join(line.split())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class RateLimited(GenesysError):
    """Genesys (or our own pacing) says wait longer than GENESYS_RETRY_AFTER_CEILING allows."""

    def __init__(
        self, *, retry_after: float | None = None, reset_at: datetime | None = None, **kwargs: Any
    ) -> None:
        self.retry_after = retry_after
        if reset_at is None and retry_after is not None:
            reset_at = timezone.now() + timedelta(seconds=retry_after)
        self.reset_at = reset_at
        super().__init__(**kwargs)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        # Real secrets and tokens are long; a short test value would mangle ordinary words.
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return text


def error_from_response(
    response: requests.Response,
    *,
    method: str,
    path: str,
    retried: int = 0,
    hint: str | None = None,
    secrets: Iterable[str] = (),
) -> GenesysError:
    """Turn a non-2xx answer into a GenesysError (RateLimited for 429) with an operator hint."""
    secrets = list(secrets)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        # A proxy's HTML page or a plain-text body: keep a short excerpt as the message.
        body = {"message": " ".join(response.text.split())[:200] or response.reason or ""}
    status = response.status_code
    fields = {
        "status": status,
        # RFC 6749 names (error, error_description) are what the token endpoint is likely to send.
        "code": redact(str(body.get("code") or body.get("error") or ""), secrets),
        "message": redact(
            str(body.get("message") or body.get("error_description") or response.reason or ""),
            secrets,
        ),
        "context_id": str(
            body.get("contextId") or response.headers.get("ININ-Correlation-Id") or ""
        ),
        "details": [
            json.loads(redact(json.dumps(d), secrets))
            for d in body.get("details") or []
            if isinstance(d, dict)
        ],
        "method": method,
        "path": path,
        "outcome_unknown": status >= 500 and status != 501,  # 501: never implemented, never applied
    }
    if status == 429:
        retry_after = _retry_after(response, fields["message"])
        return RateLimited(retry_after=retry_after, hint=hint or _rate_hint(retry_after), **fields)
    if hint is None:
        hint = _hint(status, body, fields, retried)
    return GenesysError(hint=hint, **fields)


def error_from_exception(
    exc: requests.RequestException, *, method: str, path: str, timeout: tuple[float, float]
) -> GenesysError:
    """Turn a transport failure into a GenesysError saying whether the request may have landed."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3 wraps it in MaxRetryError after retries
    if isinstance(exc, requests.ConnectTimeout) or isinstance(reason, ConnectTimeoutError):
        # Covers refused connections and DNS failures too: nothing was sent.
        hint, unknown = (
            f"Could not connect to Genesys within {timeout[0]}s: check GENESYS_REGION and the network.",
            False,
        )
    elif isinstance(exc, requests.ReadTimeout) or isinstance(reason, ReadTimeoutError):
        hint, unknown = f"Genesys sent no answer within {timeout[1]}s (GENESYS_READ_TIMEOUT)", True
    else:
        hint, unknown = "The connection dropped before Genesys answered", True
    if unknown and method.upper() not in IDEMPOTENT_METHODS:
        hint += "; the request may have been applied: look it up before sending it again"
    return GenesysError(
        message=type(reason if isinstance(reason, Exception) else exc).__name__,
        method=method,
        path=path,
        hint=hint.rstrip(".") + ".",
        outcome_unknown=unknown,
    )


def _retry_after(response: requests.Response, message: str) -> float | None:
    header = (response.headers.get("Retry-After") or "").strip()
    if header.isdigit():
        return float(header)
    found = _RETRY_IN_MESSAGE.search(message)
    return float(found.group(1)) if found else None


def _rate_hint(retry_after: float | None) -> str:
    if retry_after is None:
        return "Genesys rate limit reached; try again later."
    reset_at = timezone.now() + timedelta(seconds=retry_after)
    return (
        f"Genesys rate limit reached: retry after {retry_after:.0f}s "
        f"({reset_at:%Y-%m-%d %H:%M:%S} UTC); waits above GENESYS_RETRY_AFTER_CEILING are not slept."
    )


def _hint(status: int, body: dict[str, Any], fields: dict[str, Any], retried: int) -> str:
    method, path = fields["method"], fields["path"]
    if status == 400:
        named = _field_names(body)
        if named:
            return f"Genesys rejected the request: check field(s) {', '.join(named)}."
        return "Genesys rejected the request as malformed; the message says what is wrong."
    if status == 401:
        return CREDENTIALS_HINT
    if status == 403:
        found = _PERMISSION.search(fields["message"])
        permission = found.group(0) if found else required_permission(method=method, path=path)
        wanted = permission or f"the permission for {method} {path}"
        return (
            f"The OAuth client's roles lack {wanted} (or access to the object's division): "
            "grant it in a role on the client's role/division pairs."
        )
    if status == 404:
        entity = " ".join(str(body.get(k) or "") for k in ("entityName", "entityId")).strip()
        what = entity or addressed_object(path=path) or path
        return f"Genesys has no {what} visible to this OAuth client: check the id, its division and GENESYS_REGION."
    if status >= 500:
        hint = f"Genesys had a server error, retried {retried} times"
        if method.upper() not in IDEMPOTENT_METHODS and status != 501:
            hint += "; the request may have been applied: look it up before sending it again"
        return hint + "."
    return ""


def _field_names(body: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for error in [body, *(e for e in body.get("errors") or [] if isinstance(e, dict))]:
        for detail in error.get("details") or []:
            if isinstance(detail, dict) and detail.get("fieldName"):
                names.append(str(detail["fieldName"]))
        params = error.get("messageParams")
        if isinstance(params, dict):
            names.extend(f"{k}={v}" for k, v in params.items())
    return list(dict.fromkeys(names))
