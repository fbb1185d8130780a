"""The client-credentials token: request shape, reuse, renewal, sharing and failures."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.core.cache import cache

from tests.genesys.conftest import (
    API,
    CLIENT_ID,
    LOGIN,
    SECRET,
    TOKEN,
    TOKEN_URL,
    FakeClock,
    api_calls,
    token_calls,
)
from workitems.genesys import GenesysError, get_client
from workitems.genesys.auth import TokenProvider

QUEUE_URL = f"{API}/api/v2/routing/queues/q1"


def provider(clock: FakeClock) -> TokenProvider:
    return TokenProvider(
        session=requests.Session(),
        login_base=LOGIN,
        client_id=CLIENT_ID,
        client_secret=SECRET,
        timeout=(5.0, 30.0),
        clock=clock,
    )


def test_token_request_is_basic_auth_with_only_the_grant_type_in_the_body(client, mocked):
    mocked.get(QUEUE_URL, json={"id": "q1"})

    client.get_queue(queue_id="q1")

    request = token_calls(mocked)[0].request
    expected = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.body == "grant_type=client_credentials"
    assert parse_qs(request.body) == {"grant_type": ["client_credentials"]}


def test_api_requests_carry_the_bearer_token(client, mocked):
    mocked.get(QUEUE_URL, json={"id": "q1"})

    client.get_queue(queue_id="q1")

    assert api_calls(mocked)[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_one_token_serves_many_requests(client, mocked):
    mocked.get(QUEUE_URL, json={"id": "q1"})

    for _ in range(5):
        client.get_queue(queue_id="q1")

    assert len(token_calls(mocked)) == 1
    assert len(api_calls(mocked)) == 5


def test_token_is_shared_through_the_cache_between_clients(mocked):
    mocked.get(QUEUE_URL, json={"id": "q1"})

    get_client(pacing=False).get_queue(queue_id="q1")
    get_client(pacing=False).get_queue(queue_id="q1")

    assert len(token_calls(mocked)) == 1


def test_token_is_kept_in_process_without_reading_the_cache_again(client, mocked):
    mocked.get(QUEUE_URL, json={"id": "q1"})
    client.get_queue(queue_id="q1")
    cache.clear()

    client.get_queue(queue_id="q1")

    assert len(token_calls(mocked)) == 1


def test_cache_key_names_neither_the_secret_nor_the_client_in_clear(clock):
    key = provider(clock).cache_key

    assert SECRET not in key
    assert CLIENT_ID not in key


@pytest.mark.parametrize(
    ("expires_in", "renews_after"),
    [
        (86400, 86400 - 300),  # long-lived: renew 5 minutes early
        (600, 540),  # short-lived: renew 10% early
    ],
)
def test_token_is_renewed_shortly_before_it_expires(clock, expires_in, renews_after):
    tokens = provider(clock)
    with responses.RequestsMock() as rsps:
        rsps.post(TOKEN_URL, json={"access_token": "first-token-000000", "expires_in": expires_in})
        rsps.post(TOKEN_URL, json={"access_token": "second-token-00000", "expires_in": expires_in})
        start = clock.now

        assert tokens.get() == "first-token-000000"
        clock.now = start + renews_after - 1
        assert tokens.get() == "first-token-000000"
        clock.now = start + renews_after
        assert tokens.get() == "second-token-00000"

        assert len(rsps.calls) == 2


def test_cached_token_past_its_renewal_time_is_not_used(clock):
    with responses.RequestsMock() as rsps:
        rsps.post(TOKEN_URL, json={"access_token": "first-token-000000", "expires_in": 3600})
        rsps.post(TOKEN_URL, json={"access_token": "second-token-00000", "expires_in": 3600})
        provider(clock).get()
        clock.now += 3600

        assert provider(clock).get() == "second-token-00000"


def test_invalidate_drops_the_token_in_process_and_in_the_cache(clock):
    tokens = provider(clock)
    with responses.RequestsMock() as rsps:
        rsps.post(TOKEN_URL, json={"access_token": "first-token-000000", "expires_in": 3600})
        rsps.post(TOKEN_URL, json={"access_token": "second-token-00000", "expires_in": 3600})
        tokens.get()

        tokens.invalidate()

        assert cache.get(tokens.cache_key) is None
        assert tokens.get() == "second-token-00000"


@pytest.mark.parametrize("status", [400, 401, 403])
def test_token_refusal_is_an_error_pointing_at_credentials_and_region(client, status):
    with responses.RequestsMock() as rsps:
        rsps.post(
            TOKEN_URL,
            status=status,
            json={"error": "invalid_client", "error_description": "client authentication failed"},
        )
        with pytest.raises(GenesysError) as caught:
            client.get_queue(queue_id="q1")

    error = caught.value
    assert error.status == status
    assert error.code == "invalid_client"
    assert "GENESYS_CLIENT_ID" in error.hint
    assert "GENESYS_CLIENT_SECRET" in error.hint
    assert "GENESYS_REGION" in error.hint
    assert error.path == "/oauth/token"


def test_token_answer_without_access_token_is_an_error(client):
    with responses.RequestsMock() as rsps:
        rsps.post(TOKEN_URL, body="<html>login page</html>", content_type="text/html")
        with pytest.raises(GenesysError, match="access_token"):
            client.get_queue(queue_id="q1")


def test_missing_credentials_fail_before_any_request(settings, mocked):
    settings.GENESYS_CLIENT_SECRET = ""

    with pytest.raises(GenesysError) as caught:
        get_client(pacing=False).get_queue(queue_id="q1")

    assert "GENESYS_CLIENT_SECRET" in caught.value.hint
    assert len(mocked.calls) == 0
