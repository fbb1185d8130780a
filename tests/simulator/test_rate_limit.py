"""The per-token quota per clock minute: counted in the database, 429 past it."""

from __future__ import annotations

import pytest

from simulator.models import SimRateWindow

from .conftest import Api, fetch_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(settings, clock, session) -> Api:
    settings.SIMULATOR_RATE_LIMIT_PER_MINUTE = 3
    return Api(session, fetch_token(session).json()["access_token"])


def test_count_rises_with_each_request_and_reset_is_the_rest_of_the_minute(limited, clock):
    first = limited.get("/api/v2/routing/skills")
    clock.advance(5)
    second = limited.get("/api/v2/routing/skills")

    assert first.headers["inin-ratelimit-allowed"] == "3"
    assert first.headers["inin-ratelimit-count"] == "1"
    assert first.headers["inin-ratelimit-reset"] == "50"  # the clock starts 10 s into a minute
    assert second.headers["inin-ratelimit-count"] == "2"
    assert second.headers["inin-ratelimit-reset"] == "45"


def test_past_the_quota_is_a_429_with_retry_after(limited):
    for _ in range(3):
        assert limited.get("/api/v2/routing/skills").status_code == 200

    response = limited.get("/api/v2/routing/skills")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "50"
    assert response.headers["inin-ratelimit-count"] == "4"
    assert response.json() == {
        "message": "Rate limit exceeded the maximum. Retry the request in [50] seconds",
        "code": "too.many.requests.retry.after",
        "status": 429,
        "contextId": response.headers["inin-correlation-id"],
        "details": [],
        "errors": [],
    }


def test_a_new_minute_brings_a_new_allowance(limited, clock):
    for _ in range(4):
        limited.get("/api/v2/routing/skills")

    clock.advance(50)
    response = limited.get("/api/v2/routing/skills")

    assert response.status_code == 200
    assert response.headers["inin-ratelimit-count"] == "1"
    assert response.headers["inin-ratelimit-reset"] == "60"


def test_each_token_has_its_own_allowance(limited, session):
    for _ in range(4):
        limited.get("/api/v2/routing/skills")
    other = Api(session, fetch_token(session).json()["access_token"])

    assert other.get("/api/v2/routing/skills").status_code == 200


def test_counters_live_in_the_database(limited):
    limited.get("/api/v2/routing/skills")
    limited.get("/api/v2/routing/skills")

    assert SimRateWindow.objects.get().count == 2
