"""Submission to Genesys: exactly once, whatever the network does."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django_q.models import Schedule

from audits.models import AuditEvent
from tests import factories
from workitems.genesys import GenesysError, RateLimited
from workitems.models import LocalState, Verdict, WorkItem
from workitems.services.submission import (
    workitems_submit,
    workitems_submit_request,
)

pytestmark = pytest.mark.django_db


class FakeGenesys:
    """Just enough of Genesys's work-item API, with scripted faults per create call."""

    def __init__(self, faults: list[str] | None = None, job_faults: list[str] | None = None):
        self.items: dict[str, dict] = {}
        self.faults = list(faults or [])
        self.job_faults = list(job_faults or [])
        self.calls: list[str] = []
        self.jobs: dict[str, dict] = {}
        self.reject_names: set[str] = set()

    def _store(self, body: dict) -> dict:
        wid = str(uuid.uuid4())
        item = {
            "id": wid,
            "name": body["name"],
            "type": {"id": body["typeId"]},
            "externalTag": body.get("externalTag"),
            "statusCategory": "Open",
            "dateCreated": "2026-11-29T10:00:00.000Z",
            "dateModified": "2026-11-29T10:00:00.000Z",
        }
        self.items[wid] = item
        return item

    def _fault(self, queue: list[str]) -> str:
        return queue.pop(0) if queue else "ok"

    def create_workitem(self, *, body):
        self.calls.append("create")
        fault = self._fault(self.faults)
        if fault == "timeout_after":
            self._store(body)
            raise GenesysError(
                status=None, code="timeout", message="read timed out", outcome_unknown=True
            )
        if fault == "503_before":
            raise GenesysError(
                status=503, code="service.unavailable", message="down", outcome_unknown=True
            )
        if fault == "400":
            raise GenesysError(
                status=400,
                code="bad.request",
                message="name too short",
                context_id="ctx-400",
                hint="Fix the field name.",
            )
        if fault == "daily_cap":
            raise RateLimited(
                status=429, code="too.many.requests.retry.after", message="cap", retry_after=40000
            )
        return self._store(body)

    def query_workitems(self, *, filters, page_size=200, after=None):
        self.calls.append("query")
        by_name = {f["name"]: f for f in filters}
        type_id = by_name["typeId"]["values"][0]
        tags = set(by_name["externalTag"]["values"])
        found = [
            i
            for i in self.items.values()
            if i["type"]["id"] == type_id and i["externalTag"] in tags
        ]
        return {"entities": found[:page_size], "count": len(found)}

    def create_bulk_add_job(self, *, entities):
        self.calls.append("bulk_create")
        fault = self._fault(self.job_faults)
        job_id = str(uuid.uuid4())
        if fault == "running":
            # Genesys works on the job after answering: nothing exists until it has run.
            job = {"id": job_id, "state": "Running", "totalCount": len(entities)}
            self.jobs[job_id] = {"job": job, "entities": entities}
            return job
        results = []
        for body in entities:
            if body["name"] in self.reject_names:
                results.append(
                    {"error": {"code": "bad.request", "message": f"{body['name']} rejected"}}
                )
            else:
                results.append({"entity": self._store(body)})
        failed = sum(1 for r in results if "error" in r)
        job = {
            "id": job_id,
            "state": "Succeeded",
            "totalCount": len(entities),
            "successfulCount": len(entities) - failed,
            "failedCount": failed,
        }
        self.jobs[job_id] = {"job": job, "results": results}
        if fault == "timeout_after":
            raise GenesysError(code="timeout", message="read timed out", outcome_unknown=True)
        return job

    def get_bulk_add_job(self, *, job_id):
        self.calls.append("bulk_get")
        held = self.jobs[job_id]
        if held["job"]["state"] == "Running":
            held["results"] = [{"entity": self._store(body)} for body in held.pop("entities")]
            held["job"] = {**held["job"], "state": "Succeeded", "failedCount": 0}
        return held["job"]

    def get_bulk_add_job_results(self, *, job_id):
        self.calls.append("bulk_results")
        return {"results": self.jobs[job_id]["results"]}

    def tags(self) -> list[str]:
        return [i["externalTag"] for i in self.items.values()]


_refs = itertools.count(1)


def claimed_items(n: int, **kw) -> list[WorkItem]:
    q = factories.queue()
    wt = factories.worktype(default_queue=q)
    return [
        factories.workitem(
            worktype=wt,
            queue=q,
            external_ref=f"crm-{next(_refs)}",
            local_state=LocalState.SUBMITTING,
            routability_verdict=Verdict.ROUTABLE,
            **kw,
        )
        for _ in range(n)
    ]


def submit(items, genesys):
    return workitems_submit(item_ids=[i.pk for i in items], actor="alice", client=genesys)


def test_single_items_are_created_once_and_adopted_with_their_genesys_state():
    items = claimed_items(3)
    genesys = FakeGenesys()
    summary = submit(items, genesys)
    assert len(summary.submitted) == 3
    assert sorted(genesys.tags()) == sorted(i.external_ref for i in items)
    for item in items:
        item.refresh_from_db()
        assert item.local_state == LocalState.SUBMITTED
        assert item.genesys_id in genesys.items
        assert item.date_created == datetime(2026, 11, 29, 10, tzinfo=UTC)
        assert item.sla_deadline == item.date_created + timedelta(seconds=3600)
    assert AuditEvent.objects.filter(action="workitem.submit", outcome="success").count() == 3
    assert summary.api_calls == 3


def test_a_timeout_after_genesys_created_the_item_adopts_it_instead_of_creating_again():
    [item] = claimed_items(1)
    genesys = FakeGenesys(faults=["timeout_after"])
    summary = submit([item], genesys)
    assert genesys.tags() == [item.external_ref]
    assert summary.adopted == [item.pk]
    assert genesys.calls == ["create", "query"]
    item.refresh_from_db()
    assert item.local_state == LocalState.SUBMITTED


def test_a_5xx_before_genesys_created_the_item_looks_it_up_then_creates_it_once():
    [item] = claimed_items(1)
    genesys = FakeGenesys(faults=["503_before"])
    summary = submit([item], genesys)
    assert genesys.tags() == [item.external_ref]
    assert summary.submitted == [item.pk]
    assert genesys.calls == ["create", "query", "create"]


def test_repeated_unknown_outcomes_give_up_with_a_clear_error_and_no_duplicate():
    [item] = claimed_items(1)
    genesys = FakeGenesys(faults=["503_before"] * 5)
    submit([item], genesys)
    item.refresh_from_db()
    assert genesys.tags() == []
    assert item.local_state == LocalState.FAILED
    assert "not found by externalTag" in item.last_error
    assert item.submit_attempts == 3


def test_a_definite_rejection_fails_the_item_with_the_genesys_message_and_context_id():
    [item] = claimed_items(1)
    summary = submit([item], FakeGenesys(faults=["400"]))
    item.refresh_from_db()
    assert summary.failed == [item.pk]
    assert item.local_state == LocalState.FAILED
    assert "name too short" in item.last_error and "Fix the field name." in item.last_error
    assert item.last_error_context_id == "ctx-400"
    assert (
        AuditEvent.objects.get(action="workitem.submit", outcome="failure").context["contextId"]
        == "ctx-400"
    )


def test_an_item_whose_earlier_attempt_may_have_arrived_is_looked_up_before_any_create():
    [item] = claimed_items(1)
    genesys = FakeGenesys()
    genesys._store(
        {"name": item.name, "typeId": item.worktype.genesys_id, "externalTag": item.external_ref}
    )
    WorkItem.objects.filter(pk=item.pk).update(
        create_attempted_at=datetime(2026, 11, 29, tzinfo=UTC)
    )
    summary = submit([item], genesys)
    assert genesys.calls == ["query"]
    assert summary.adopted == [item.pk]
    assert len(genesys.items) == 1


def test_running_the_submission_twice_for_the_same_items_creates_nothing_more():
    items = claimed_items(2)
    genesys = FakeGenesys()
    submit(items, genesys)
    second = submit(items, genesys)
    assert len(genesys.items) == 2
    assert second.submitted == [] and second.api_calls == 0


def test_a_daily_cap_parks_the_remaining_items_until_the_reset_and_schedules_the_resume():
    items = claimed_items(3)
    genesys = FakeGenesys(faults=["ok", "daily_cap"])
    summary = submit(items, genesys)
    assert len(summary.submitted) == 1
    assert len(summary.parked) == 2
    parked = WorkItem.objects.filter(pk__in=summary.parked)
    assert all(i.local_state == LocalState.SUBMITTING and i.next_attempt_at for i in parked)
    assert all("parked until" in i.last_error for i in parked)
    schedule = Schedule.objects.get(func="workitems.tasks.submit_workitems")
    assert schedule.schedule_type == Schedule.ONCE
    # Until the reset the parked items are left alone.
    again = submit(items, genesys)
    assert again.api_calls == 0


def test_many_items_go_in_bulk_jobs_of_at_most_fifty_mapped_back_with_one_query_per_200():
    items = claimed_items(120)
    genesys = FakeGenesys()
    summary = submit(items, genesys)
    assert genesys.calls == ["bulk_create"] * 3 + ["query"]
    assert len(summary.submitted) == 120
    assert len(genesys.items) == 120
    assert WorkItem.objects.filter(local_state=LocalState.SUBMITTED).count() == 120
    assert summary.api_calls / 120 <= 0.05


def test_bulk_items_genesys_rejects_fail_with_its_message_and_the_rest_are_adopted():
    items = claimed_items(12)
    genesys = FakeGenesys()
    genesys.reject_names = {items[3].name}
    summary = submit(items, genesys)
    assert summary.failed == [items[3].pk]
    items[3].refresh_from_db()
    assert "rejected" in items[3].last_error
    assert len(summary.submitted) == 11


def test_a_bulk_job_still_running_is_polled_until_done():
    items = claimed_items(10)
    genesys = FakeGenesys(job_faults=["running"])
    submit(items, genesys)
    assert "bulk_get" in genesys.calls
    assert WorkItem.objects.filter(local_state=LocalState.SUBMITTED).count() == 10


def test_a_bulk_job_with_unknown_outcome_adopts_what_exists_and_creates_no_duplicate():
    items = claimed_items(10)
    genesys = FakeGenesys(job_faults=["timeout_after"])
    summary = submit(items, genesys)
    assert len(genesys.items) == 10
    assert len(summary.adopted) == 10
    assert genesys.calls.count("bulk_create") == 1


def test_items_with_preferred_agents_go_one_by_one_because_bulk_jobs_cannot_carry_them():
    items = claimed_items(12)
    WorkItem.objects.filter(pk=items[0].pk).update(preferred_agent_ids=["agent-1"])
    genesys = FakeGenesys()
    submit(items, genesys)
    assert genesys.calls.count("create") == 1
    assert genesys.calls.count("bulk_create") == 1


def test_request_claims_each_item_once_even_when_asked_twice(django_capture_on_commit_callbacks):
    items = claimed_items(2)
    WorkItem.objects.filter(pk__in=[i.pk for i in items]).update(local_state=LocalState.CHECKED)
    qs = WorkItem.objects.filter(pk__in=[i.pk for i in items])
    with django_capture_on_commit_callbacks() as callbacks:
        first = workitems_submit_request(
            items=qs, actor="alice", override_routability=False, enqueue=False
        )
        second = workitems_submit_request(
            items=qs, actor="bob", override_routability=False, enqueue=False
        )
    assert sorted(first.queued) == sorted(i.pk for i in items)
    assert second.queued == []
    assert {why for _, why in second.refused} == {"already submitting"}
    assert callbacks == []


def test_not_routable_items_are_refused_without_the_override_and_queued_with_it():
    [item] = claimed_items(1)
    WorkItem.objects.filter(pk=item.pk).update(
        local_state=LocalState.CHECKED, routability_verdict=Verdict.NOT_ROUTABLE
    )
    qs = WorkItem.objects.filter(pk=item.pk)
    refused = workitems_submit_request(
        items=qs, actor="alice", override_routability=False, enqueue=False
    )
    assert refused.queued == [] and "not routable" in refused.refused[0][1]
    assert AuditEvent.objects.filter(action="workitem.submit.refused").count() == 1
    allowed = workitems_submit_request(
        items=qs, actor="boss", override_routability=True, enqueue=False
    )
    assert allowed.queued == [item.pk]


def test_request_enqueues_the_submission_only_after_commit(
    django_capture_on_commit_callbacks, monkeypatch
):
    [item] = claimed_items(1)
    WorkItem.objects.filter(pk=item.pk).update(local_state=LocalState.CHECKED)
    sent = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: sent.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        request = workitems_submit_request(
            items=WorkItem.objects.filter(pk=item.pk), actor="alice", override_routability=False
        )
    # The task is handed the send claim the request took for it.
    assert sent == [("workitems.tasks.submit_workitems", [item.pk], "alice", request.claim)]
    assert request.claim.startswith("submission queued by alice")
