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
    """Just enough of Genesys's work-item API, as documented, with scripted faults.

    Bulk add jobs start Idle and run only when PATCHed Queued; results hold summaries. Query
    pages are short as Genesys allows: the first of each query is empty and carries `after`."""

    def __init__(self, faults: list[str] | None = None, job_faults: list[str] | None = None):
        self.items: dict[str, dict] = {}
        self.faults = list(faults or [])
        self.job_faults = list(job_faults or [])
        self.start_faults: list[str] = []
        self.calls: list[str] = []
        self.jobs: dict[str, dict] = {}
        self.reject_names: set[str] = set()
        self.search_lags = False  # created items not yet visible to queries
        self.never_finish = False
        self.delete_refused = False
        self.drop_results = 0  # results missing at the end of each job's listing

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

    def iter_workitem_pages(self, *, filters, page_size=200):
        by_name = {f["name"]: f for f in filters}
        type_id = by_name["typeId"]["values"][0]
        tags = set(by_name["externalTag"]["values"]) if "externalTag" in by_name else None
        visible = [] if self.search_lags else list(self.items.values())
        found = [
            i
            for i in visible
            if i["type"]["id"] == type_id and (tags is None or i["externalTag"] in tags)
        ]
        self.calls.append("query")
        yield {"entities": [], "after": "c0"}  # "not guaranteed to be filled": even empty
        size = page_size - 1
        for start in range(0, max(len(found), 1), size):
            self.calls.append("query")
            more = start + size < len(found)
            yield {"entities": found[start : start + size], **({"after": "c"} if more else {})}

    def create_bulk_add_job(self, *, entities):
        self.calls.append("bulk_create")
        fault = self._fault(self.job_faults)
        job_id = str(uuid.uuid4())
        job = {"id": job_id, "state": "Idle", "totalCount": len(entities)}
        job["dateModified"] = "2026-11-29T09:59:59.000Z"
        self.jobs[job_id] = {"job": job, "entities": entities, "results": []}
        if fault == "timeout_after":
            raise GenesysError(code="timeout", message="read timed out", outcome_unknown=True)
        return dict(job)

    def start_bulk_add_job(self, *, job_id):
        self.calls.append("bulk_start")
        fault = self._fault(self.start_faults)
        held = self.jobs[job_id]
        if fault == "403":
            raise GenesysError(
                status=403, code="missing.permissions", message="no",
                hint="The OAuth client's roles lack workitems:bulkAddJob:edit",
            )  # fmt: skip
        if fault == "timeout_before":
            raise GenesysError(code="timeout", message="read timed out", outcome_unknown=True)
        held["job"]["state"] = "Queued"
        if not self.never_finish:
            self._run(held)
        if fault == "timeout_after":
            raise GenesysError(code="timeout", message="read timed out", outcome_unknown=True)
        return {**held["job"], "state": "Queued"}

    def _run(self, held):
        results = []
        for body in held.pop("entities"):
            if body["name"] in self.reject_names:
                results.append(
                    {"error": {"code": "bad.request", "message": f"{body['name']} rejected"}}
                )
            else:
                item = self._store(body)
                summary = {"id": item["id"], "name": item["name"], "type": item["type"]}
                results.append({"entity": summary})
        failed = sum(1 for r in results if "error" in r)
        held["job"].update(
            state="Failed" if failed == len(results) else "Succeeded",
            successfulCount=len(results) - failed,
            failedCount=failed,
        )
        held["results"] = results[: len(results) - self.drop_results]

    def get_bulk_add_job(self, *, job_id):
        self.calls.append("bulk_get")
        return dict(self.jobs[job_id]["job"])

    def get_bulk_add_job_results(self, *, job_id):
        self.calls.append("bulk_results")
        return {"results": self.jobs[job_id]["results"]}

    def delete_bulk_add_job(self, *, job_id):
        self.calls.append("bulk_delete")
        if self.delete_refused:
            raise GenesysError(status=403, code="missing.permissions", message="no delete")
        assert self.jobs[job_id]["job"]["state"] == "Idle"
        del self.jobs[job_id]

    def terminate_bulk_add_job(self, *, job_id):
        self.calls.append("bulk_terminate")
        assert self.jobs[job_id]["job"]["state"] == "Idle"
        self.jobs[job_id]["job"]["state"] = "Terminated"
        return dict(self.jobs[job_id]["job"])

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
    # The look-up's first page is empty but carries `after`: the item is on the second.
    assert genesys.calls == ["create", "query", "query"]
    item.refresh_from_db()
    assert item.local_state == LocalState.SUBMITTED


def test_a_5xx_before_genesys_created_the_item_looks_it_up_then_creates_it_once():
    [item] = claimed_items(1)
    genesys = FakeGenesys(faults=["503_before"])
    summary = submit([item], genesys)
    assert genesys.tags() == [item.external_ref]
    assert summary.submitted == [item.pk]
    assert genesys.calls == ["create", "query", "query", "create"]


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
    assert genesys.calls == ["query", "query"]
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


def test_many_items_go_in_bulk_jobs_each_created_then_started_and_mapped_back_by_one_look_up():
    items = claimed_items(120)
    genesys = FakeGenesys()

    summary = submit(items, genesys)

    # POST + PATCH per job of ≤ 50; one poll of the newest job; the look-up by worktype and
    # creation time reads an empty first page, then one page of (at most 199) items.
    assert genesys.calls == ["bulk_create", "bulk_start"] * 3 + ["bulk_get", "query", "query"]
    assert all(held["job"]["state"] == "Succeeded" for held in genesys.jobs.values())
    assert len(summary.submitted) == 120
    assert sorted(genesys.tags()) == sorted(i.external_ref for i in items)
    adopted = WorkItem.objects.filter(local_state=LocalState.SUBMITTED)
    assert adopted.count() == 120 and not adopted.filter(genesys_id=None).exists()
    assert adopted.filter(status_category="Open", date_created__isnull=False).count() == 120


def test_bulk_items_genesys_rejects_fail_with_its_message_and_the_rest_are_adopted():
    items = claimed_items(12)
    genesys = FakeGenesys()
    genesys.reject_names = {items[3].name}
    summary = submit(items, genesys)
    assert summary.failed == [items[3].pk]
    items[3].refresh_from_db()
    assert "rejected" in items[3].last_error
    assert len(summary.submitted) == 11


def test_a_summary_in_the_results_maps_the_genesys_id_only_and_writes_no_empty_state_or_dates():
    items = claimed_items(10)
    status = items[0].worktype.statuses.get(name="New")
    WorkItem.objects.filter(pk__in=[i.pk for i in items]).update(status=status)
    genesys = FakeGenesys()
    genesys.search_lags = True  # the look-up sees nothing yet: the job's results must serve

    summary = submit(items, genesys)

    assert "bulk_results" in genesys.calls
    assert len(summary.submitted) == 10
    for item in WorkItem.objects.filter(pk__in=[i.pk for i in items]):
        assert item.local_state == LocalState.SUBMITTED and item.genesys_id in genesys.items
        assert item.status == status  # kept, not emptied
        assert (item.status_category, item.date_created, item.sla_deadline) == ("", None, None)
    assert {e.context["source"] for e in AuditEvent.objects.filter(action="workitem.submit")} == {
        "bulk job results"
    }


def test_if_genesys_refuses_the_look_up_by_creation_time_the_job_results_map_the_items():
    items = claimed_items(10)
    genesys = FakeGenesys()
    original = genesys.iter_workitem_pages

    def refusing(*, filters, page_size=200):
        if any(f["name"] == "dateCreated" for f in filters):
            raise GenesysError(status=400, code="bad.request", message="bad filter")
        return original(filters=filters, page_size=page_size)

    genesys.iter_workitem_pages = refusing

    summary = submit(items, genesys)

    assert len(summary.submitted) == 10 and "bulk_results" in genesys.calls
    assert len(genesys.items) == 10


def test_an_item_with_no_result_in_a_finished_job_is_left_to_be_looked_up_not_failed():
    items = claimed_items(10)
    genesys = FakeGenesys()
    genesys.search_lags = True
    genesys.drop_results = 1

    summary = submit(items, genesys)

    last = WorkItem.objects.get(pk=items[-1].pk)
    assert summary.pending == [last.pk] and len(summary.submitted) == 9
    assert last.local_state == LocalState.SUBMITTING and last.create_attempted_at
    assert "without a result" in last.last_error


def test_a_bulk_job_still_queued_is_polled_until_done():
    items = claimed_items(10)
    genesys = FakeGenesys()
    genesys.never_finish = True
    original = genesys.get_bulk_add_job

    def finishing(*, job_id):
        held = genesys.jobs[job_id]
        if genesys.calls.count("bulk_get") >= 2 and "entities" in held:
            genesys._run(held)
        return original(job_id=job_id)

    genesys.get_bulk_add_job = finishing
    submit(items, genesys)

    assert genesys.calls.count("bulk_get") == 3  # Queued, Queued, Succeeded
    assert genesys.calls.count("query") == 2  # looked up once, when the job had finished
    assert WorkItem.objects.filter(local_state=LocalState.SUBMITTED).count() == 10


def test_a_job_that_never_finishes_is_waited_for_a_bounded_time_then_left_to_be_looked_up():
    items = claimed_items(10)
    genesys = FakeGenesys()
    genesys.never_finish = True

    summary = submit(items, genesys)

    assert genesys.calls.count("bulk_get") == 5 and "query" not in genesys.calls
    assert summary.pending == [i.pk for i in items]
    left = WorkItem.objects.filter(pk__in=summary.pending)
    assert all(i.local_state == LocalState.SUBMITTING for i in left)
    assert all("still Queued" in i.last_error for i in left)
    assert genesys.items == {}


def test_a_job_genesys_refuses_to_start_is_deleted_unrun_and_its_items_fail_saying_why():
    items = claimed_items(10)
    genesys = FakeGenesys()
    genesys.start_faults = ["403"]

    summary = submit(items, genesys)

    assert genesys.calls == ["bulk_create", "bulk_start", "bulk_get", "bulk_delete"]
    assert genesys.jobs == {} and genesys.items == {}
    assert sorted(summary.failed) == sorted(i.pk for i in items)
    error = WorkItem.objects.get(pk=items[0].pk).last_error
    assert "did not start bulk job" in error and "removed unrun" in error
    assert "workitems:bulkAddJob:edit" in error


def test_an_idle_job_that_cannot_be_deleted_is_terminated_instead():
    items = claimed_items(10)
    genesys = FakeGenesys()
    genesys.start_faults = ["403"]
    genesys.delete_refused = True

    submit(items, genesys)

    assert genesys.calls[-2:] == ["bulk_delete", "bulk_terminate"]
    assert [h["job"]["state"] for h in genesys.jobs.values()] == ["Terminated"]
    assert genesys.items == {}


def test_a_start_whose_answer_was_lost_before_it_applied_removes_the_job_and_defers_its_items():
    items = claimed_items(10)
    genesys = FakeGenesys()
    genesys.start_faults = ["timeout_before"]

    summary = submit(items, genesys)

    assert genesys.calls == ["bulk_create", "bulk_start", "bulk_get", "bulk_delete"]
    assert summary.pending == [i.pk for i in items] and genesys.items == {}
    left = WorkItem.objects.filter(pk__in=summary.pending)
    assert all(i.local_state == LocalState.SUBMITTING and i.create_attempted_at for i in left)
    # The next run (the resume sweep) looks them up first, then sends them once.
    second = submit(items, genesys)
    assert len(second.submitted) == 10 and len(genesys.items) == 10
    assert genesys.calls[4:6] == ["query", "query"]


def test_a_start_whose_answer_was_lost_after_it_applied_is_collected_as_usual():
    items = claimed_items(10)
    genesys = FakeGenesys()
    genesys.start_faults = ["timeout_after"]

    summary = submit(items, genesys)

    assert "bulk_delete" not in genesys.calls
    assert len(summary.submitted) == 10 and len(genesys.items) == 10


def test_a_lost_job_creation_answer_is_looked_up_then_sent_again_once_never_twice():
    items = claimed_items(10)
    genesys = FakeGenesys(job_faults=["timeout_after"])

    summary = submit(items, genesys)

    # The lost job stays Idle (nobody can start it), so nothing of it exists: look up, resend.
    assert genesys.calls[:5] == ["bulk_create", "query", "query", "bulk_create", "bulk_start"]
    assert [h["job"]["state"] for h in genesys.jobs.values()] == ["Idle", "Succeeded"]
    assert sorted(genesys.tags()) == sorted(i.external_ref for i in items)
    assert len(summary.submitted) == 10


def test_a_job_creation_that_keeps_getting_lost_fails_after_three_attempts():
    items = claimed_items(10)
    genesys = FakeGenesys(job_faults=["timeout_after"] * 5)

    summary = submit(items, genesys)

    assert genesys.calls.count("bulk_create") == 3 and genesys.items == {}
    assert sorted(summary.failed) == sorted(i.pk for i in items)
    assert "after 3 attempts and not found" in WorkItem.objects.get(pk=items[0].pk).last_error


def test_the_look_up_chunk_is_a_setting(settings):
    settings.SUBMIT_LOOKUP_CHUNK = 3
    items = claimed_items(7)
    WorkItem.objects.filter(pk__in=[i.pk for i in items]).update(
        create_attempted_at=datetime(2026, 11, 29, tzinfo=UTC)
    )
    genesys = FakeGenesys()
    seen = []
    original = genesys.iter_workitem_pages

    def recording(*, filters, page_size=200):
        seen.append(next(f for f in filters if f["name"] == "externalTag")["values"])
        return original(filters=filters, page_size=page_size)

    genesys.iter_workitem_pages = recording
    WorkItem.objects.filter(pk__in=[i.pk for i in items]).update(preferred_agent_ids=["a"])

    submit(items, genesys)

    assert [len(v) for v in seen] == [3, 3, 1]


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
