"""Endpoint wrappers send what Genesys expects and hand back its JSON unchanged."""

from __future__ import annotations

import json
import re
from pathlib import Path

from responses import matchers

from tests.genesys.conftest import API, api_calls

TRIGGERS = f"{API}/api/v2/processautomation/triggers"


def test_worktype_statuses_are_the_listing_entities(client, mocked):
    statuses = [{"id": "st1", "name": "Open", "category": "Open"}]
    mocked.get(
        f"{API}/api/v2/taskmanagement/worktypes/wt1/statuses",
        json={"total": 1, "entities": statuses, "selfUri": "/x"},
    )

    assert client.list_worktype_statuses(worktype_id="wt1") == statuses


def test_create_workitem_posts_the_body_as_json(client, mocked):
    body = {"name": "Refund 4711", "typeId": "wt1", "externalTag": "crm-4711"}
    mocked.post(
        f"{API}/api/v2/taskmanagement/workitems",
        json={"id": "wi1", **body},
        match=[matchers.json_params_matcher(body)],
    )

    assert client.create_workitem(body=body)["id"] == "wi1"


def test_bulk_add_job_is_created_started_read_and_its_results_fetched(client, mocked):
    jobs = f"{API}/api/v2/taskmanagement/workitems/bulk/add/jobs"
    mocked.post(
        jobs,
        json={"id": "job1", "state": "Idle"},
        match=[matchers.json_params_matcher({"entities": [{"name": "abc"}]})],
    )
    mocked.patch(
        f"{jobs}/job1",
        json={"id": "job1", "state": "Queued"},
        match=[matchers.json_params_matcher({"state": "Queued"})],
    )
    mocked.get(f"{jobs}/job1", json={"id": "job1", "state": "Succeeded"})
    mocked.get(f"{jobs}/job1/results", json={"results": [], "errorCount": 0})

    assert client.create_bulk_add_job(entities=[{"name": "abc"}])["state"] == "Idle"
    assert client.start_bulk_add_job(job_id="job1")["state"] == "Queued"
    assert client.get_bulk_add_job(job_id="job1")["state"] == "Succeeded"
    assert client.get_bulk_add_job_results(job_id="job1")["errorCount"] == 0


def test_an_idle_bulk_job_can_be_terminated_or_deleted(client, mocked):
    jobs = f"{API}/api/v2/taskmanagement/workitems/bulk/add/jobs"
    mocked.patch(
        f"{jobs}/job1",
        json={"id": "job1", "state": "Terminated"},
        match=[matchers.json_params_matcher({"state": "Terminated"})],
    )
    mocked.delete(f"{jobs}/job2", status=204)

    assert client.terminate_bulk_add_job(job_id="job1")["state"] == "Terminated"
    assert client.delete_bulk_add_job(job_id="job2") is None


def test_a_schema_version_is_fetched_by_id_and_version(client, mocked):
    url = f"{API}/api/v2/taskmanagement/workitems/schemas/sc1/versions/3"
    mocked.get(url, json={"id": "sc1", "version": 3, "jsonSchema": {"type": "object"}})

    assert client.get_workitem_schema_version(schema_id="sc1", version=3)["version"] == 3


def test_trigger_lifecycle_uses_post_get_put_delete(client, mocked):
    mocked.post(TRIGGERS, json={"id": "t1", "version": 1})
    mocked.get(f"{TRIGGERS}/t1", json={"id": "t1", "version": 1})
    mocked.put(f"{TRIGGERS}/t1", json={"id": "t1", "version": 2})
    mocked.delete(f"{TRIGGERS}/t1", status=204)

    assert client.create_trigger(body={"name": "wi events"})["id"] == "t1"
    assert client.get_trigger(trigger_id="t1")["version"] == 1
    assert client.update_trigger(trigger_id="t1", body={"version": 1})["version"] == 2
    assert client.delete_trigger(trigger_id="t1") is None
    assert [c.request.method for c in api_calls(mocked)] == ["POST", "GET", "PUT", "DELETE"]


def test_a_topic_s_triggers_are_listed_one_page_with_the_topic_as_a_query_parameter(client, mocked):
    topic = "v2.taskmanagement.workitems.{id}"
    mocked.get(
        TRIGGERS,
        json={"entities": [{"id": "t1", "topicName": topic}], "after": "c2"},
        match=[matchers.query_param_matcher({"topicName": topic, "pageSize": "200"})],
    )

    page = client.list_triggers_page(topic_name=topic)

    assert [t["id"] for t in page["entities"]] == ["t1"] and page["after"] == "c2"
    assert len(api_calls(mocked)) == 1  # one page: the caller decides whether to look further


def test_no_code_outside_the_client_calls_a_genesys_path_itself():
    # Every Genesys endpoint is a client method, so its path, verb and permission hint live in
    # one place; a service calling client.request(path=...) would bypass that.
    root = Path(__file__).resolve().parents[2]
    raw = re.compile(r"\.request\(|[\"']/api/v2/")
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for package in ("workitems", "portal", "audits")
        for path in sorted((root / package).rglob("*.py"))
        if "genesys" not in path.relative_to(root / package).parts[:1]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if raw.search(line)
    ]
    assert offenders == []


def test_test_trigger_sends_the_event_as_a_json_string_as_the_sdk_does(client, mocked):
    # The body is typed `string` (eventBody); the SDK JSON-encodes it, so the wire holds a
    # JSON string whose text is the event.
    event = {"id": "wi1", "operation": "edit", "statusCategory": "Closed"}
    mocked.post(f"{TRIGGERS}/t1/test", json={"triggerMatches": True})

    assert client.test_trigger(trigger_id="t1", event=event) == {"triggerMatches": True}
    sent = json.loads(api_calls(mocked)[0].request.body)
    assert isinstance(sent, str) and json.loads(sent) == event


def test_test_trigger_sends_event_json_text_as_that_text(client, mocked):
    mocked.post(f"{TRIGGERS}/t1/test", json={"triggerMatches": False})

    client.test_trigger(trigger_id="t1", event='{"id": "wi1"}')

    assert json.loads(api_calls(mocked)[0].request.body) == '{"id": "wi1"}'


def test_ids_cannot_change_which_endpoint_is_called(client, mocked):
    mocked.get(f"{API}/api/v2/taskmanagement/workitems/..%2Fworktypes%2Fx", json={"id": "odd"})

    client.get_workitem(workitem_id="../worktypes/x")

    assert (
        api_calls(mocked)[0].request.path_url
        == "/api/v2/taskmanagement/workitems/..%2Fworktypes%2Fx"
    )
