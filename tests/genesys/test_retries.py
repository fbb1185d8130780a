"""Which failures are retried, which are not, and what the caller is told.

`responses` replays urllib3's Retry decisions (is_retry/increment) but never sleeps; the sleeps
themselves are proven against real urllib3 in test_retry_wire.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from tests.genesys.conftest import API, TOKEN_URL, api_calls, error_body, token_calls
from workitems.genesys import GenesysError, RateLimited

QUEUE_URL = f"{API}/api/v2/routing/queues/q1"
CREATE_URL = f"{API}/api/v2/taskmanagement/workitems"
WORKITEM = {"name": "Refund 4711", "typeId": "wt-1", "externalTag": "crm-4711"}


def too_many(retry_after: int) -> dict:
    return {
        "status": 429,
        "headers": {"Retry-After": str(retry_after)},
        "json": error_body(
            429,
            "too.many.requests.retry.after",
            f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds",
        ),
    }


def test_401_renews_the_token_and_retries_once(client, mocked):
    mocked.post(TOKEN_URL, json={"access_token": "renewed-token-0000000", "expires_in": 86400})
    mocked.get(QUEUE_URL, status=401, json=error_body(401, "bad.credentials", "Invalid login"))
    mocked.get(QUEUE_URL, json={"id": "q1"})

    assert client.get_queue(queue_id="q1") == {"id": "q1"}

    calls = api_calls(mocked)
    assert len(token_calls(mocked)) == 2
    assert len(calls) == 2
    assert calls[1].request.headers["Authorization"] == "Bearer renewed-token-0000000"


def test_second_401_raises_with_a_credentials_hint(client, mocked):
    mocked.get(QUEUE_URL, status=401, json=error_body(401, "bad.credentials", "Invalid login"))

    with pytest.raises(GenesysError) as caught:
        client.get_queue(queue_id="q1")

    assert caught.value.status == 401
    assert "GENESYS_CLIENT_ID" in caught.value.hint
    assert len(api_calls(mocked)) == 2
    assert len(token_calls(mocked)) == 2


def test_429_within_the_ceiling_is_retried(client, mocked):
    mocked.get(QUEUE_URL, **too_many(5))
    mocked.get(QUEUE_URL, json={"id": "q1"})

    assert client.get_queue(queue_id="q1") == {"id": "q1"}
    assert len(api_calls(mocked)) == 2


def test_429_on_create_is_retried_because_genesys_did_not_process_it(client, mocked):
    mocked.post(CREATE_URL, **too_many(5))
    mocked.post(CREATE_URL, json={"id": "wi-1"})

    assert client.create_workitem(body=WORKITEM) == {"id": "wi-1"}
    assert len(api_calls(mocked)) == 2


def test_daily_cap_429_raises_rate_limited_without_retrying(client, mocked, clock):
    mocked.post(CREATE_URL, **too_many(40000))
    before = timezone.now()

    with pytest.raises(RateLimited) as caught:
        client.create_workitem(body=WORKITEM)

    error = caught.value
    assert len(api_calls(mocked)) == 1
    assert clock.sleeps == []
    assert error.status == 429
    assert error.retry_after == 40000
    assert error.reset_at.tzinfo is not None
    assert (
        before + timedelta(seconds=40000)
        <= error.reset_at
        <= timezone.now() + timedelta(seconds=40000)
    )
    assert error.context_id == "ctx-1234"
    assert not error.outcome_unknown


def test_429_that_persists_past_the_retries_raises_rate_limited(client, mocked):
    mocked.get(QUEUE_URL, **too_many(2))

    with pytest.raises(RateLimited) as caught:
        client.get_queue(queue_id="q1")

    assert caught.value.retry_after == 2
    assert len(api_calls(mocked)) == 4  # the first try and GENESYS_MAX_RETRIES=3


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_on_get_is_retried_then_explained(client, mocked, status):
    mocked.get(QUEUE_URL, status=status, json=error_body(status, "server.error", "Oops"))

    with pytest.raises(GenesysError) as caught:
        client.get_queue(queue_id="q1")

    error = caught.value
    assert len(api_calls(mocked)) == 4
    assert error.status == status
    assert "Genesys had a server error, retried 3 times" in error.hint
    assert error.outcome_unknown


def test_5xx_on_get_then_success_returns_the_answer(client, mocked):
    mocked.get(QUEUE_URL, status=503, json=error_body(503, "server.error", "Busy"))
    mocked.get(QUEUE_URL, json={"id": "q1"})

    assert client.get_queue(queue_id="q1") == {"id": "q1"}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_create_is_not_retried_on_5xx_and_flags_the_outcome_unknown(client, mocked, status):
    mocked.post(CREATE_URL, status=status, json=error_body(status, "server.error", "Oops"))
    mocked.post(CREATE_URL, json={"id": "would-be-a-duplicate"})

    with pytest.raises(GenesysError) as caught:
        client.create_workitem(body=WORKITEM)

    error = caught.value
    assert len(api_calls(mocked)) == 1
    assert error.outcome_unknown
    assert "retried 0 times" in error.hint
    assert "look it up before sending it again" in error.hint


def test_bulk_add_job_is_not_retried_on_5xx(client, mocked):
    url = f"{API}/api/v2/taskmanagement/workitems/bulk/add/jobs"
    mocked.post(url, status=503, json=error_body(503, "server.error", "Busy"))

    with pytest.raises(GenesysError) as caught:
        client.create_bulk_add_job(entities=[WORKITEM])

    assert caught.value.outcome_unknown
    assert len(api_calls(mocked)) == 1


def test_501_is_not_retried(client, mocked):
    mocked.get(QUEUE_URL, status=501, json=error_body(501, "not.implemented", "Nope"))

    with pytest.raises(GenesysError) as caught:
        client.get_queue(queue_id="q1")

    assert len(api_calls(mocked)) == 1
    assert caught.value.status == 501
    assert "retried 0 times" in caught.value.hint


def test_read_timeout_on_create_is_outcome_unknown_with_the_wait_named(client, mocked):
    mocked.post(CREATE_URL, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(GenesysError) as caught:
        client.create_workitem(body=WORKITEM)

    error = caught.value
    assert error.status is None
    assert error.outcome_unknown
    assert "no answer within 30.0s" in error.hint
    assert "look it up" in error.hint
    assert len(api_calls(mocked)) == 1


def test_read_timeout_on_get_is_explained(client, mocked):
    mocked.get(QUEUE_URL, body=requests.ReadTimeout("read timed out"))

    with pytest.raises(GenesysError, match="no answer within 30.0s") as caught:
        client.get_queue(queue_id="q1")

    assert caught.value.outcome_unknown
    assert "look it up" not in caught.value.hint


def test_connect_timeout_means_nothing_was_sent(client, mocked):
    mocked.post(CREATE_URL, body=requests.ConnectTimeout("connect timed out"))

    with pytest.raises(GenesysError) as caught:
        client.create_workitem(body=WORKITEM)

    assert not caught.value.outcome_unknown
    assert "GENESYS_REGION" in caught.value.hint


def test_dropped_connection_on_create_is_outcome_unknown(client, mocked):
    mocked.post(CREATE_URL, body=requests.ConnectionError("Connection aborted."))

    with pytest.raises(GenesysError) as caught:
        client.create_workitem(body=WORKITEM)

    assert caught.value.outcome_unknown
    assert "dropped" in caught.value.hint
