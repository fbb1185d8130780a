"""Fixtures for the Genesys client tests: a realistic region, credentials and a mocked network.

Nothing here reaches a real host: `responses` answers requests, and the few wire tests use a
loopback server (see test_retry_wire.py).
"""

from __future__ import annotations

import pytest
import responses
from django.core.cache import cache

from workitems.genesys import get_client

API = "https://api.mypurecloud.ie"
LOGIN = "https://login.mypurecloud.ie"
TOKEN_URL = f"{LOGIN}/oauth/token"
CLIENT_ID = "3f1c7a52-client-id"
SECRET = "client-secret-Zx9Qv7Lm2Np4Rt6Wy8Ab0Cd1Ef3Gh5"
TOKEN = "bearer-token-Jk8Lm9Np0Qr1St2Uv3Wx4Yz5Ab6Cd7"


class FakeClock:
    """A clock whose sleep only moves time on, and remembers what was asked."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def genesys_settings(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "genesys-tests",
        }
    }
    settings.GENESYS_API_BASE = API
    settings.GENESYS_LOGIN_BASE = LOGIN
    settings.GENESYS_CLIENT_ID = CLIENT_ID
    settings.GENESYS_CLIENT_SECRET = SECRET
    settings.GENESYS_CONNECT_TIMEOUT = 5.0
    settings.GENESYS_READ_TIMEOUT = 30.0
    settings.GENESYS_MAX_RETRIES = 3
    settings.GENESYS_RETRY_AFTER_CEILING = 60
    settings.GENESYS_RATE_LIMIT_PER_MINUTE = 300
    cache.clear()
    yield settings
    cache.clear()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(clock):
    return get_client(sleep=clock.sleep, clock=clock, pacing=False)


@pytest.fixture
def mocked():
    """A mocked network with a working token endpoint already registered."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(
            TOKEN_URL, json={"access_token": TOKEN, "token_type": "bearer", "expires_in": 86400}
        )
        yield rsps


def api_calls(rsps: responses.RequestsMock) -> list:
    return [c for c in rsps.calls if c.request.url.startswith(API)]


def token_calls(rsps: responses.RequestsMock) -> list:
    return [c for c in rsps.calls if c.request.url.startswith(TOKEN_URL)]


def error_body(status: int, code: str, message: str, **extra) -> dict:
    return {
        "status": status,
        "code": code,
        "message": message,
        "contextId": "ctx-1234",
        "details": [],
        "errors": [],
        **extra,
    }
