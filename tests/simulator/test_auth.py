"""Every /api/v2 call needs a live bearer token; refusals are Genesys ErrorBody 401s."""

from __future__ import annotations

import pytest
from django.conf import settings

from .conftest import fetch_token

pytestmark = pytest.mark.django_db

QUEUES = f"{settings.SIMULATOR_BASE_URL}/api/v2/routing/queues"


def assert_bad_credentials(response):
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "bad.credentials"
    assert body["status"] == 401
    assert body["details"] == [] and body["errors"] == []
    assert body["contextId"] == response.headers["inin-correlation-id"]
    assert body["message"]


def test_no_token_is_a_401_error_body(session):
    assert_bad_credentials(session.get(QUEUES))


def test_unknown_token_is_a_401(session):
    assert_bad_credentials(session.get(QUEUES, headers={"Authorization": "Bearer made-up"}))


def test_basic_auth_is_not_a_bearer_token(session):
    assert_bad_credentials(session.get(QUEUES, auth=("portal-test-client", "x")))


def test_live_token_is_accepted(api):
    assert api.get("/api/v2/routing/queues").status_code == 200


def test_token_stops_working_when_it_expires(api, clock, settings):
    # The token fixture ran before the clock was patched: re-issue under the fake clock.
    settings.SIMULATOR_TOKEN_SECONDS = 600
    api.token = fetch_token(api.session).json()["access_token"]
    clock.advance(599)
    assert api.get("/api/v2/routing/queues").status_code == 200

    clock.advance(2)
    assert_bad_credentials(api.get("/api/v2/routing/queues"))


def test_every_answer_carries_correlation_and_rate_headers(api, session):
    for response in (api.get("/api/v2/routing/queues"), session.get(QUEUES)):
        assert response.headers["inin-correlation-id"]
        assert response.headers["inin-ratelimit-allowed"] == "300"
        assert int(response.headers["inin-ratelimit-reset"]) >= 1
        assert "inin-ratelimit-count" in response.headers


def test_unknown_api_path_is_a_not_found_error_body(api):
    response = api.get("/api/v2/conversations")

    assert response.status_code == 404
    assert response.json()["code"] == "not.found"


def test_wrong_method_is_a_405_naming_the_allowed_ones(api):
    response = api.post("/api/v2/routing/queues", {})

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
