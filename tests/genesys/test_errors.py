"""What a GenesysError tells the operator, and what it must never tell anyone."""

from __future__ import annotations

import logging

import pytest
import responses

from tests.genesys.conftest import API, SECRET, TOKEN, TOKEN_URL, error_body
from workitems.genesys import GenesysError, get_client

JOBS_URL = f"{API}/api/v2/taskmanagement/workitems/bulk/add/jobs"
WORKITEM_URL = f"{API}/api/v2/taskmanagement/workitems"


def raised(call) -> GenesysError:
    with pytest.raises(GenesysError) as caught:
        call()
    return caught.value


def test_error_body_fields_are_parsed(client, mocked):
    details = [{"errorCode": "invalid.value", "fieldName": "typeId", "entityId": "wt-1"}]
    mocked.get(
        f"{WORKITEM_URL}/wi-1",
        status=400,
        json=error_body(400, "bad.request", "The request could not be understood", details=details),
    )

    error = raised(lambda: client.get_workitem(workitem_id="wi-1"))

    assert error.status == 400
    assert error.code == "bad.request"
    assert error.message == "The request could not be understood"
    assert error.context_id == "ctx-1234"
    assert error.details == details
    assert error.method == "GET"
    assert error.path == "/api/v2/taskmanagement/workitems/wi-1"
    assert not error.outcome_unknown


def test_context_id_falls_back_to_the_correlation_header(client, mocked):
    body = error_body(404, "not.found", "Not found")
    del body["contextId"]
    mocked.get(
        f"{WORKITEM_URL}/wi-1", status=404, json=body, headers={"ININ-Correlation-Id": "corr-77"}
    )

    assert raised(lambda: client.get_workitem(workitem_id="wi-1")).context_id == "corr-77"


def test_str_is_one_line_with_status_code_message_context_and_hint(client, mocked):
    mocked.get(
        f"{WORKITEM_URL}/wi-1",
        status=404,
        json=error_body(404, "not.found", "The requested operation failed\nwith status 404"),
    )

    text = str(raised(lambda: client.get_workitem(workitem_id="wi-1")))

    assert "\n" not in text
    for part in (
        "404",
        "not.found",
        "with status 404",
        "ctx-1234",
        "Hint: Genesys has no workitem wi-1",
    ):
        assert part in text


def test_400_hint_names_the_fields_genesys_rejected(client, mocked):
    details = [{"errorCode": "too.long", "fieldName": "name"}, {"fieldName": "dateDue"}]
    mocked.post(
        WORKITEM_URL, status=400, json=error_body(400, "bad.request", "Invalid", details=details)
    )

    error = raised(lambda: client.create_workitem(body={"name": "x"}))

    assert "name" in error.hint
    assert "dateDue" in error.hint
    assert not error.outcome_unknown


def test_400_hint_uses_message_params_when_there_are_no_details(client, mocked):
    body = error_body(400, "bad.request", "Invalid", messageParams={"field": "priority"})
    mocked.post(WORKITEM_URL, status=400, json=body)

    assert "priority" in raised(lambda: client.create_workitem(body={"name": "x"})).hint


def test_401_hint_points_at_client_id_secret_and_region(client, mocked):
    mocked.get(f"{WORKITEM_URL}/wi-1", status=401, json=error_body(401, "bad.credentials", "No"))

    hint = raised(lambda: client.get_workitem(workitem_id="wi-1")).hint

    assert "GENESYS_CLIENT_ID" in hint
    assert "GENESYS_CLIENT_SECRET" in hint
    assert "GENESYS_REGION" in hint


def test_403_hint_names_the_permission_from_the_message(client, mocked):
    message = "Unable to perform the requested action. You are missing the following permission 'workitems:workitem:add' in the provided division(s)."
    mocked.post(
        WORKITEM_URL, status=403, json=error_body(403, "missing.division.permission", message)
    )

    assert "workitems:workitem:add" in raised(lambda: client.create_workitem(body={})).hint


@pytest.mark.parametrize(
    ("call", "method", "url", "permission"),
    [
        (lambda c: c.create_workitem(body={}), "POST", WORKITEM_URL, "workitems:workitem:add"),
        (
            lambda c: c.list_worktype_statuses(worktype_id="wt-1"),
            "GET",
            f"{API}/api/v2/taskmanagement/worktypes/wt-1/statuses",
            "workitems:status:view",
        ),
        (
            lambda c: c.get_queue(queue_id="q1"),
            "GET",
            f"{API}/api/v2/routing/queues/q1",
            "routing:queue:view",
        ),
        (
            lambda c: c.create_bulk_add_job(entities=[{}]),
            "POST",
            f"{JOBS_URL}",
            "workitems:bulkAddJob:add",
        ),
        (
            lambda c: c.start_bulk_add_job(job_id="j1"),
            "PATCH",
            f"{JOBS_URL}/j1",
            "workitems:bulkAddJob:edit",
        ),
        (
            lambda c: c.get_bulk_add_job(job_id="j1"),
            "GET",
            f"{JOBS_URL}/j1",
            "workitems:bulkAddJob:view",
        ),
        (
            lambda c: c.get_bulk_add_job_results(job_id="j1"),
            "GET",
            f"{JOBS_URL}/j1/results",
            "workitems:bulkAddJobResults:view",
        ),
        (
            lambda c: c.delete_bulk_add_job(job_id="j1"),
            "DELETE",
            f"{JOBS_URL}/j1",
            "workitems:bulkAddJob:delete",
        ),
        (
            lambda c: c.get_workitem_schema_version(schema_id="sc1", version=3),
            "GET",
            f"{API}/api/v2/taskmanagement/workitems/schemas/sc1/versions/3",
            "workitems:workitemSchema:view",
        ),
    ],
)
def test_403_hint_names_the_permission_the_endpoint_needs(
    client, mocked, call, method, url, permission
):
    mocked.add(
        method, url, status=403, json=error_body(403, "not.authorized", "You are not authorized")
    )

    assert permission in raised(lambda: call(client)).hint


def test_404_hint_names_the_object(client, mocked):
    mocked.get(
        f"{API}/api/v2/taskmanagement/worktypes/wt-9",
        status=404,
        json=error_body(404, "not.found", "Not found"),
    )

    assert "worktype wt-9" in raised(lambda: client.get_worktype(worktype_id="wt-9")).hint


def test_404_hint_prefers_the_entity_genesys_names(client, mocked):
    body = error_body(404, "not.found", "Not found", entityName="status", entityId="st-3")
    mocked.post(WORKITEM_URL, status=404, json=body)

    assert "status st-3" in raised(lambda: client.create_workitem(body={})).hint


def test_non_json_error_body_is_tolerated(client, mocked):
    mocked.get(
        f"{WORKITEM_URL}/wi-1",
        status=502,
        body="<html><body>Bad gateway</body></html>",
        content_type="text/html",
    )

    error = raised(lambda: client.get_workitem(workitem_id="wi-1"))

    assert error.status == 502
    assert "Bad gateway" in error.message
    assert error.outcome_unknown


def test_missing_region_is_an_error_saying_to_set_genesys_region(settings):
    settings.GENESYS_API_BASE = ""

    with pytest.raises(GenesysError) as caught:
        get_client()

    assert "GENESYS_REGION" in str(caught.value)


def test_secret_and_token_never_appear_in_errors_or_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock() as rsps:
        # A token endpoint that echoes what it was given, to prove we scrub it.
        rsps.post(
            TOKEN_URL,
            status=401,
            json={"error": "invalid_client", "error_description": f"bad {SECRET}"},
        )
        token_error = raised(lambda: client.get_queue(queue_id="q1"))
    with responses.RequestsMock() as rsps:
        rsps.post(TOKEN_URL, json={"access_token": TOKEN, "expires_in": 86400})
        rsps.get(
            f"{WORKITEM_URL}/wi-1",
            status=403,
            json=error_body(403, "denied", f"token {TOKEN} denied"),
        )
        api_error = raised(lambda: client.get_workitem(workitem_id="wi-1"))

    for error in (token_error, api_error):
        for text in (
            str(error),
            repr(error),
            error.message,
            error.hint,
            error.code,
            *map(str, error.args),
        ):
            assert SECRET not in text
            assert TOKEN not in text
    logged = caplog.text + " ".join(str(vars(r)) for r in caplog.records)
    assert SECRET not in logged
    assert TOKEN not in logged
    assert repr(client.tokens).count(SECRET) == 0


def test_each_request_is_logged_as_one_structured_line(client, mocked, caplog):
    caplog.set_level(logging.INFO, logger="workitems.genesys")
    mocked.get(
        f"{API}/api/v2/routing/queues",
        json={"entities": [], "pageCount": 1},
        headers={"ININ-Correlation-Id": "corr-1"},
    )

    list(client.iter_queues())

    record = [r for r in caplog.records if r.path == "/api/v2/routing/queues"][0]
    assert (record.method, record.status, record.correlation_id) == ("GET", 200, "corr-1")
    assert isinstance(record.duration_ms, int)
    assert "pageNumber" not in record.getMessage()
