"""Conformance: every request the portal's client sends and every answer the simulator gives
validates against the Genesys OpenAPI subset (simulator/openapi), with no unknown field.

The contract is the documentation, not our client: the `genesys_simulator` fixture checks every
exchange of every test that uses it; the tests here make sure each client call is exercised, and
that a non-conforming answer or request is caught.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from simulator import render
from simulator.demo import IDS
from simulator.openapi.contract import AMENDMENTS, SPEC_PATH, Contract, genesys_contract
from tests import factories
from workitems.genesys import GenesysClient, get_client
from workitems.genesys.permissions import ENDPOINTS
from workitems.models import Skill, WorkItem
from workitems.services.workitem_body import workitem_create_body

pytestmark = pytest.mark.usefixtures("genesys_simulator")

REFUND = IDS["worktype:refund-request"]
FIELDS = {"order_number_text": "WEB-4711", "amount_number": 10}
WORKFLOW = "b796bd10-b101-4a46-acc6-2705157d00e1"


@pytest.fixture
def client() -> GenesysClient:
    return get_client(pacing=False)


@pytest.fixture
def watch(genesys_simulator):
    return genesys_simulator


def test_every_client_call_and_every_answer_to_it_conforms(client, watch):
    calls = {
        "iter_queues": lambda: list(client.iter_queues()),
        "get_queue": lambda: client.get_queue(queue_id=IDS["queue:refunds"]),
        "iter_queue_members": lambda: list(
            client.iter_queue_members(queue_id=IDS["queue:refunds"], joined=True)
        ),
        "iter_skills": lambda: list(client.iter_skills()),
        "get_user_routing_skills": lambda: client.get_user_routing_skills(
            user_id=IDS["user:amara-okafor"]
        ),
        "iter_worktypes": lambda: list(client.iter_worktypes()),
        "get_worktype": lambda: client.get_worktype(worktype_id=REFUND),
        "list_worktype_statuses": lambda: client.list_worktype_statuses(worktype_id=REFUND),
        "get_workitem_schema_version": lambda: client.get_workitem_schema_version(
            schema_id=IDS["schema:refund-fields"], version=1
        ),
        "get_workitem_schema": lambda: client.get_workitem_schema(
            schema_id=IDS["schema:refund-fields"]
        ),
        "iter_workbins": lambda: list(client.iter_workbins()),
    }
    for call in calls.values():
        call()

    created = client.create_workitem(
        body={"name": "Refund 1", "typeId": REFUND, "externalTag": "c-1", "customFields": FIELDS}
    )
    client.get_workitem(workitem_id=created["id"])
    tag = {"name": "externalTag", "type": "String", "operator": "IN", "values": ["c-1", "c-2"]}
    filters = [{"name": "typeId", "type": "String", "operator": "EQ", "values": [REFUND]}, tag]
    assert [w["id"] for w in client.iter_workitems(filters=filters)] == [created["id"]]

    entity = {"name": "Refund 2", "typeId": REFUND, "externalTag": "c-2", "customFields": FIELDS}
    job = client.create_bulk_add_job(entities=[entity])
    client.start_bulk_add_job(job_id=job["id"])
    client.get_bulk_add_job(job_id=job["id"])
    client.get_bulk_add_job_results(job_id=job["id"])
    idle = client.create_bulk_add_job(entities=[entity])
    client.terminate_bulk_add_job(job_id=idle["id"])
    client.delete_bulk_add_job(job_id=client.create_bulk_add_job(entities=[entity])["id"])

    trigger = client.create_trigger(
        body={
            "name": "Work items to the portal",
            "topicName": "v2.taskmanagement.workitems.{id}",
            "target": {
                "type": "Workflow",
                "id": WORKFLOW,
                "workflowTargetSettings": {"dataFormat": "Json"},
            },
            "enabled": True,
            "matchCriteria": [{"jsonPath": "operation", "operator": "Equal", "value": "edit"}],
        }
    )
    listed = client.list_triggers_page(topic_name="v2.taskmanagement.workitems.{id}")
    assert trigger["id"] in [t["id"] for t in listed["entities"]]
    current = client.get_trigger(trigger_id=trigger["id"])
    body = {k: current[k] for k in ("name", "topicName", "target", "enabled", "version")}
    client.update_trigger(trigger_id=trigger["id"], body={**body, "enabled": False})
    client.test_trigger(trigger_id=trigger["id"], event={"id": created["id"], "operation": "edit"})
    client.delete_trigger(trigger_id=trigger["id"])

    assert watch.exchanges >= 30
    assert watch.problems == []


def test_full_create_bodies_the_portal_builds_are_documented_workitem_creates():
    queue = factories.queue(genesys_id=IDS["queue:refunds"])
    item = factories.workitem(
        worktype=factories.worktype(genesys_id=REFUND, default_queue=queue),
        queue=queue,
        description="Paid twice",
        priority=7,
        date_due=timezone.now() + timedelta(days=2),
        date_expires=timezone.now() + timedelta(days=3),
        language_id=IDS["skill:french"],
        preferred_agent_ids=[IDS["user:amara-okafor"]],
        custom_fields=FIELDS,
        skills=[Skill.objects.create(genesys_id=IDS["skill:refunds"], name="Refunds")],
    )
    item = WorkItem.objects.select_related("worktype", "queue").get(pk=item.pk)
    contract = genesys_contract()
    path = "/api/v2/taskmanagement/workitems"

    single = workitem_create_body(item=item)
    bulk = {"entities": [workitem_create_body(item=item, bulk=True)]}

    assert contract.request_problems(method="POST", path=path, body=single) == []
    assert contract.request_problems(method="POST", path=f"{path}/bulk/add/jobs", body=bulk) == []
    assert {"preferredAgentIds", "skillIds", "dateDue", "customFields"} <= set(single)


def test_an_answer_with_a_field_genesys_does_not_document_fails_the_contract(
    client, watch, monkeypatch
):
    real = render.workbin
    monkeypatch.setattr(render, "workbin", lambda w: {**real(w), "colour": "blue"})

    list(client.iter_workbins())

    found, watch.problems[:] = list(watch.problems), []  # caught; the fixture need not fail too
    assert found and all("'colour' was unexpected" in p for p in found)
    assert "POST /api/v2/taskmanagement/workbins/query → 200" in found[0]


def test_an_answer_missing_a_required_field_fails_the_contract(client, watch, monkeypatch):
    real = render.schema_reference
    monkeypatch.setattr(
        render,
        "schema_reference",
        lambda *a, **kw: {k: v for k, v in real(*a, **kw).items() if k != "version"},
    )

    client.get_worktype(worktype_id=REFUND)

    found, watch.problems[:] = list(watch.problems), []
    assert any("$.schema: 'version' is a required property" in p for p in found)


def test_a_request_the_documentation_does_not_allow_is_caught():
    contract = Contract()
    jobs = "/api/v2/taskmanagement/workitems/bulk/add/jobs/j1"

    assert contract.request_problems(method="PATCH", path=jobs, body={"state": "Running"})
    assert contract.request_problems(
        method="POST",
        path="/api/v2/taskmanagement/workitems",
        body={"name": "Refund", "typeId": REFUND, "workItemTypeId": REFUND},
    )
    assert contract.request_problems(
        method="GET", path="/api/v2/routing/queues/q1/members", query="expand=userSkills"
    )
    assert contract.request_problems(method="POST", path="/api/v2/webhooks", body={})
    assert contract.request_problems(method="PATCH", path=jobs, body={"state": "Queued"}) == []


def test_every_endpoint_the_client_names_a_permission_for_is_documented_with_that_permission():
    contract = genesys_contract()
    for method, template, permission in ENDPOINTS:
        operation = contract.operation(method, template.replace("{", "x").replace("}", ""))
        assert operation is not None, f"{method} {template}"
        if permission is None:
            assert "x-genesys-permissions" not in operation.spec, f"{method} {template}"
            continue
        documented = operation.spec["x-genesys-permissions"]["permissions"]
        assert permission in documented, f"{method} {template}: {permission} not in {documented}"


def test_the_contract_departs_from_the_subset_only_where_genesys_itself_does():
    raw = json.loads(SPEC_PATH.read_text())
    closed = Contract().document["components"]["schemas"]
    for schema, optional, source in AMENDMENTS:
        assert optional in raw["components"]["schemas"][schema]["required"]
        assert optional not in closed[schema].get("required", [])
        assert "terraform-provider-genesyscloud" in source
