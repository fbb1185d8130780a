"""OAuth clients and access tokens (docs/GENESYS.md §1): client credentials in, opaque bearer tokens out."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.utils.crypto import constant_time_compare

from simulator import clock
from simulator.errors import unauthorized
from simulator.models import SimToken


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def known_clients() -> dict[str, str]:
    """client id → secret: GENESYS_CLIENT_ID/SECRET plus SIMULATOR_CLIENTS.

    SIMULATOR_CLIENTS may be a dict, pairs, "id:secret" strings, or one comma-separated string.
    """
    clients: dict[str, str] = {}
    own_id = settings.GENESYS_CLIENT_ID
    own_secret = settings.GENESYS_CLIENT_SECRET
    if own_id and own_secret:
        clients[own_id] = own_secret
    extra = settings.SIMULATOR_CLIENTS or {}
    if isinstance(extra, str):
        extra = [part for part in extra.split(",") if part.strip()]
    if isinstance(extra, dict):
        pairs: Iterable = extra.items()
    else:
        pairs = (p.split(":", 1) if isinstance(p, str) else p for p in extra)
    for pair in pairs:
        client_id, secret = (str(x).strip() for x in pair)
        if client_id and secret:
            clients[client_id] = secret
    return clients


def client_matches(client_id: str, secret: str) -> bool:
    expected = known_clients().get(client_id)
    # Compare even for an unknown id so the timing does not tell which ids exist.
    return constant_time_compare(secret, expected or secrets.token_hex(16)) and expected is not None


def token_lifetime() -> int:
    return settings.SIMULATOR_TOKEN_SECONDS


def token_issue(*, client_id: str) -> tuple[str, int]:
    """A new access token for the client and its lifetime in seconds."""
    now = clock.now()
    lifetime = token_lifetime()
    token = secrets.token_urlsafe(32)
    SimToken.objects.create(
        token_hash=token_hash(token),
        client_id=client_id,
        issued_at=now,
        expires_at=now + timedelta(seconds=lifetime),
    )
    # Long-dead tokens are only clutter.
    SimToken.objects.filter(expires_at__lt=now - timedelta(days=2)).delete()
    return token, lifetime


def token_revoke(*, token: str) -> int:
    return SimToken.objects.filter(token_hash=token_hash(token)).delete()[0]


def authenticate(authorization: str) -> SimToken:
    """The live token named by an `Authorization: Bearer …` header, or a 401 ApiError."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise unauthorized()
    token = SimToken.objects.filter(
        token_hash=token_hash(value.strip()), expires_at__gt=clock.now()
    ).first()
    if token is None:
        raise unauthorized()
    return token
