"""Credentials for the Genesys ingest endpoint: a shared secret header and/or HTTP Basic.

These are the credential types a Genesys Web Services data action supports (docs/GENESYS.md §4). Several
secrets and Basic pairs may be valid at once, so either can be rotated without downtime: add the
new one, switch the sender, remove the old one. Every configured value is compared, in constant
time, whatever matched earlier.
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils.crypto import constant_time_compare
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Ingest-Secret"
SECRET_META = "HTTP_X_INGEST_SECRET"
REALM = "genesys-events"


@dataclass(frozen=True)
class IngestPrincipal:
    """Who posted: which configured credential matched (its position, never its value)."""

    credential: str
    is_authenticated: bool = True
    is_anonymous: bool = False

    def __str__(self) -> str:
        return f"genesys ({self.credential})"


def _basic_credentials(header: str) -> str | None:
    """The decoded "user:password" of a Basic Authorization header; None if it is not Basic."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from None
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        text = decoded.decode("latin-1")
    if ":" not in text:
        raise exceptions.AuthenticationFailed("Malformed Basic credentials.")
    return text


def _matches(presented: str, configured: list[str], label: str) -> str:
    """Compare against every configured value (no early exit); the label of the one matching."""
    matched = ""
    for position, value in enumerate(configured, start=1):
        if constant_time_compare(presented, value):
            matched = f"{label} #{position}"
    return matched


class IngestAuthentication(BaseAuthentication):
    """Missing credentials: 401 (with WWW-Authenticate); wrong ones: 401. Nothing configured:
    every request is refused (and `manage.py check` warns)."""

    def authenticate(self, request):
        meta = request._request.META
        secret = meta.get(SECRET_META)
        authorization = meta.get("HTTP_AUTHORIZATION", "")
        basic = _basic_credentials(authorization) if authorization else None
        if secret is None and basic is None:
            return None  # -> NotAuthenticated, 401
        secrets = list(settings.INGEST_SECRETS)
        pairs = [p for p in settings.INGEST_BASIC_AUTH if ":" in p]
        if not secrets and not pairs:
            logger.warning("ingest refused: no credentials configured")
            raise exceptions.AuthenticationFailed(
                "The ingest endpoint has no credentials configured and refuses every request."
            )
        matched_secret = _matches(secret, secrets, "secret") if secret is not None else ""
        matched_basic = _matches(basic, pairs, "basic") if basic is not None else ""
        matched = matched_secret or matched_basic
        if not matched:
            logger.warning(
                "ingest refused: wrong credentials",
                extra={"secret_header": secret is not None, "basic": basic is not None},
            )
            raise exceptions.AuthenticationFailed("Invalid ingest credentials.")
        return IngestPrincipal(matched), None

    def authenticate_header(self, request):
        # A challenge makes DRF answer 401, not 403. Basic when it is configured (or nothing is).
        if settings.INGEST_SECRETS and not settings.INGEST_BASIC_AUTH:
            return f'{SECRET_HEADER} realm="{REALM}"'
        return f'Basic realm="{REALM}", charset="UTF-8"'
