"""Fault injection: statuses, timeouts and resets, before or after the request takes effect."""

from __future__ import annotations

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from urllib3.util.retry import Retry

from simulator import faults
from simulator.models import SimFault, SimToken
from simulator.transport import simulator_session

from .conftest import Api, fetch_token

pytestmark = pytest.mark.django_db

SKILLS = "/api/v2/routing/skills"


def test_status_fault_answers_with_an_error_body_then_runs_out(api):
    faults.inject(path_regex=r"/routing/skills$", status=503, times=2)

    first, second, third = (api.get(SKILLS) for _ in range(3))

    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    body = first.json()
    assert body["status"] == 503 and body["code"] == "service.unavailable"
    assert body["contextId"] == first.headers["inin-correlation-id"]
    assert SimFault.objects.get().hits == 2


def test_fault_matches_path_and_method(api):
    faults.inject(path_regex=r"/worktypes/query$", method="POST", status=500, times=None)

    assert api.get(SKILLS).status_code == 200
    assert api.post("/api/v2/taskmanagement/worktypes/query", {"filters": []}).status_code == 500
    assert api.post("/api/v2/taskmanagement/worktypes/query", {"filters": []}).status_code == 500


def test_a_429_fault_carries_retry_after(api):
    faults.inject(path_regex="skills", status=429, retry_after=3600)

    response = api.get(SKILLS)

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3600"
    assert response.json()["message"].endswith("[3600] seconds")


def test_timeout_fault_raises_read_timeout_in_process(api):
    faults.inject(path_regex="skills", kind="timeout")

    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get(SKILLS)
    assert api.get(SKILLS).status_code == 200


def test_connect_timeout_fault_raises_connect_timeout(api):
    faults.inject(path_regex="skills", kind="connect_timeout")

    with pytest.raises(requests.exceptions.ConnectTimeout):
        api.get(SKILLS)


def test_reset_fault_raises_connection_error(api):
    faults.inject(path_regex="skills", kind="reset")

    with pytest.raises(requests.exceptions.ConnectionError):
        api.get(SKILLS)


def test_before_processing_the_request_has_no_effect(session):
    faults.inject(path_regex=r"/oauth/token$", status=503)

    assert fetch_token(session).status_code == 503
    assert SimToken.objects.count() == 0


def test_after_processing_the_request_takes_effect_but_the_caller_sees_the_fault(session):
    faults.inject(path_regex=r"/oauth/token$", status=502, after_processing=True)

    assert fetch_token(session).status_code == 502
    assert SimToken.objects.count() == 1  # a token was issued nobody received


def test_timeout_after_processing_is_the_unknown_outcome(session):
    faults.inject(path_regex=r"/oauth/token$", kind="timeout", after_processing=True)

    with pytest.raises(requests.exceptions.ReadTimeout):
        fetch_token(session)
    assert SimToken.objects.count() == 1


def test_oldest_matching_fault_goes_first(api):
    faults.inject(path_regex="skills", status=500)
    faults.inject(path_regex="skills", status=502)

    assert [api.get(SKILLS).status_code for _ in range(3)] == [500, 502, 200]


def test_clear_removes_faults(api):
    first = faults.inject(path_regex="skills", times=None)
    faults.inject(path_regex="queues", times=None)

    assert faults.clear(fault_id=first.pk) == 1
    assert api.get(SKILLS).status_code == 200
    assert faults.clear() == 1
    assert faults.active() == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "explode"},
        {"status": 200},
        {"times": 0},
        {"path_regex": "("},
        {"kind": "connect_timeout", "after_processing": True},
    ],
)
def test_inject_refuses_nonsense(kwargs):
    with pytest.raises(ValueError):
        faults.inject(**kwargs)


def test_management_command_adds_lists_and_clears(capsys):
    call_command(
        "simulator_fault",
        "add",
        "--path",
        "workitems$",
        "--method",
        "post",
        "--status",
        "504",
        "--times",
        "0",
        "--after-processing",
    )
    call_command("simulator_fault", "list")
    listed = capsys.readouterr().out

    fault = SimFault.objects.get()
    assert (fault.method, fault.status, fault.remaining, fault.after_processing) == (
        "POST",
        504,
        None,
        True,
    )
    assert "after processing" in listed
    call_command("simulator_fault", "clear")
    assert not SimFault.objects.exists()


def test_transport_retries_idempotent_requests_like_http_adapter(db):
    session = simulator_session(
        max_retries=Retry(total=3, status_forcelist=[503], backoff_factor=0)
    )
    api = Api(session, fetch_token(session).json()["access_token"])
    faults.inject(path_regex="skills", status=503, times=2)

    assert api.get(SKILLS).status_code == 200
    assert SimFault.objects.get().hits == 2


def test_transport_does_not_retry_a_post_that_timed_out(db):
    retry = Retry(total=3, status_forcelist=[503], backoff_factor=0)
    session = simulator_session(max_retries=retry)
    faults.inject(path_regex="oauth", kind="timeout", times=None)

    with pytest.raises(requests.exceptions.ReadTimeout):
        fetch_token(session)
    assert SimFault.objects.get().hits == 1


def test_transport_retries_a_connect_timeout_for_any_method(db):
    session = simulator_session(max_retries=Retry(total=3, connect=2, backoff_factor=0))
    faults.inject(path_regex="oauth", kind="connect_timeout", times=2)

    assert fetch_token(session).status_code == 200


def test_fault_over_real_http_times_out_after_the_configured_delay(client, settings):
    """Without the in-process transport, a timeout fault sleeps and then answers 504."""
    settings.SIMULATOR_TIMEOUT_SECONDS = 0
    faults.inject(path_regex="oauth", kind="timeout")

    response = client.post("/simulator/oauth/token", {"grant_type": "client_credentials"})

    assert response.status_code == 504
    assert response.json()["code"] == "gateway.timeout"


def test_reset_over_real_http_cuts_the_answer_short(client):
    faults.inject(path_regex="oauth", kind="reset")

    response = client.post("/simulator/oauth/token", {"grant_type": "client_credentials"})

    assert response.streaming
    assert int(response["Content-Length"]) > 100
    with pytest.raises(ConnectionAbortedError):
        b"".join(response.streaming_content)


def test_base_url_setting_is_where_the_session_mounts(db):
    session = simulator_session()

    assert any(prefix == "http://simulator.test/" for prefix in session.adapters)
    assert settings.SIMULATOR_BASE_URL.startswith("http://simulator.test/")
