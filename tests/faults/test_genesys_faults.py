"""Genesys faults against the simulator, through the real client, retry policy and pacing.

Every test drives the portal's own services (submission, routability, reference sync) with a
client whose sleeps advance a virtual clock shared with the simulator, so Retry-After and back-off
waits cost nothing. Each submission test asserts the outcome *and* that the simulator holds at most
one work item per externalTag: whatever fails, nothing is created twice.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from simulator import faults, store
from simulator.demo import IDS
from simulator.models import SimToken
from simulator.render import BULK_JOB as BULK_JOB_KIND
from simulator.render import WORKITEM
from simulator.transport import InProcessTransport
from workitems.genesys import GenesysError, get_client
from workitems.models import LocalState, Queue, SyncRun, Verdict, WorkItem, WorkType
from workitems.services.reference_sync import reference_sync
from workitems.services.routability import workitems_check_routability
from workitems.services.submission import (
    MAX_CREATE_ATTEMPTS,
    workitems_submit,
    workitems_submit_request,
)

pytestmark = pytest.mark.usefixtures("genesys_simulator")

CREATE = r"/taskmanagement/workitems$"
BULK = r"/taskmanagement/workitems/bulk/add/jobs$"
BULK_JOB = r"/taskmanagement/workitems/bulk/add/jobs/[^/]+$"
QUERY = r"/taskmanagement/workitems/query$"
# One look-up by externalTag reads two pages: the simulator's first page of every query is empty
# but carries `after` (as Genesys allows), and the second holds the answer.
LOOKUP = 2
TOKEN = r"/oauth/token$"


# --- Harness -----------------------------------------------------------------------------------


class VirtualTime:
    """Sleeps advance a virtual offset instead of waiting; the client's monotonic clock and the
    simulator's wall clock (rate windows, token expiry) both include it."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += max(0.0, seconds)

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def now(self):
        return timezone.now() + timedelta(seconds=self.offset)


@dataclass
class Wire:
    """Every request the client put on the (in-process) wire, retries included."""

    calls: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, outcome

    def count(self, method: str, path_regex: str, outcome: str | None = None) -> int:
        return sum(
            1
            for m, p, o in self.calls
            if m == method and re.search(path_regex, p) and (outcome is None or o == outcome)
        )


@pytest.fixture
def vtime(monkeypatch) -> VirtualTime:
    vt = VirtualTime()
    monkeypatch.setattr("simulator.clock.now", vt.now)
    return vt


@pytest.fixture
def wire(monkeypatch) -> Wire:
    recorded = Wire()
    real = InProcessTransport._send_once

    def send_once(self, request):
        entry = [(request.method or "GET").upper(), urlsplit(request.url or "").path, ""]
        try:
            response = real(self, request)
        except Exception as exc:
            entry[2] = type(exc).__name__
            raise
        else:
            entry[2] = str(response.status_code)
            return response
        finally:
            recorded.calls.append(tuple(entry))

    monkeypatch.setattr(InProcessTransport, "_send_once", send_once)
    return recorded


@pytest.fixture
def client(vtime):
    """The portal's client as get_client() builds it, with virtual sleeps."""
    return get_client(sleep=vtime.sleep, clock=vtime.monotonic)


@pytest.fixture(autouse=True)
def synced(genesys_simulator):
    cache.clear()
    call_command("genesys_sync")
    yield
    faults.clear()
    cache.clear()


def in_simulator() -> Counter:
    """externalTag -> how many work items the simulator holds with it."""
    return Counter(entity.get("externalTag") for entity in store.all_of(WORKITEM))


def claimed(n: int, prefix: str = "FLT") -> list[int]:
    """n drafts on the demo refund worktype, checked and claimed for submission (SUBMITTING)."""
    worktype = WorkType.objects.get(genesys_id=IDS["worktype:refund-request"])
    queue = Queue.objects.get(genesys_id=IDS["queue:refunds"])
    for i in range(1, n + 1):
        WorkItem.objects.create(
            external_ref=f"{prefix}-{i:03d}",
            name=f"Refund {prefix}-{i:03d}",
            worktype=worktype,
            queue=queue,
            custom_fields={"order_number_text": f"{prefix}-{i}", "amount_number": 10.5},
        )
    request = workitems_submit_request(
        items=WorkItem.objects.filter(external_ref__startswith=f"{prefix}-"),
        actor="supervisor",
        override_routability=True,
        enqueue=False,
    )
    assert len(request.queued) == n, request.refused
    return sorted(request.queued)  # in external_ref order


def refs(*numbers: int, prefix: str = "FLT") -> dict[str, int]:
    return {f"{prefix}-{i:03d}": 1 for i in numbers}


def states() -> dict[str, str]:
    return dict(WorkItem.objects.values_list("external_ref", "local_state"))


# --- Token expiry ------------------------------------------------------------------------------


def test_tokens_expiring_mid_batch_are_renewed_and_no_item_is_created_twice(client, wire):
    ids = claimed(4)
    real_create = client.create_workitem

    def create_then_expire_every_token(**kwargs):
        created = real_create(**kwargs)
        # Genesys revoked or expired the token between two submissions.
        SimToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        return created

    client.create_workitem = create_then_expire_every_token

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="single")

    assert len(summary.submitted) == 4 and not summary.failed, summary.line()
    assert in_simulator() == refs(1, 2, 3, 4)
    # Items 2-4 each met a 401, got one fresh token and went through on the second try.
    assert wire.count("POST", CREATE, "401") == 3
    assert wire.count("POST", CREATE, "200") == 4
    # The first token came from the shared cache (the sync fetched it); one renewal per expiry.
    assert wire.count("POST", TOKEN) == 3


def test_a_token_endpoint_outage_during_renewal_is_retried_without_a_duplicate(client, wire):
    ids = claimed(2)
    workitems_submit(item_ids=ids[:1], actor="supervisor", client=client)
    SimToken.objects.all().delete()
    faults.inject(path_regex=TOKEN, method="POST", status=503, times=1)

    summary = workitems_submit(item_ids=ids[1:], actor="supervisor", client=client)

    # The renewal failed once; as with any 5xx the create's outcome counted as unknown, so the
    # item was looked up (with the next token) before it was sent again.
    assert summary.submitted == ids[1:], summary.line()
    assert in_simulator() == refs(1, 2)
    assert wire.count("POST", TOKEN, "503") == 1
    assert wire.count("POST", QUERY) == LOOKUP


# --- 403 and 404 -------------------------------------------------------------------------------


def test_403_on_create_fails_each_item_naming_the_permission_without_a_retry_storm(
    client, wire, vtime
):
    ids = claimed(3)
    faults.inject(path_regex=CREATE, method="POST", status=403, times=None)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="single")

    assert sorted(summary.failed) == sorted(ids) and not summary.submitted
    for item in WorkItem.objects.all():
        assert item.local_state == LocalState.FAILED
        assert "workitems:workitem:add" in item.last_error
        assert "grant it in a role" in item.last_error
        assert item.last_error_context_id
    assert wire.count("POST", CREATE) == 3  # one request per item, none retried
    assert wire.count("POST", QUERY) == 0  # a 403 is a known outcome: nothing to look up
    assert vtime.sleeps == []
    assert in_simulator() == {}


def test_403_on_a_reference_listing_fails_the_sync_naming_the_permission(client, wire):
    faults.inject(path_regex=r"/routing/skills$", method="GET", status=403, times=None)

    with pytest.raises(GenesysError) as caught:
        reference_sync(kinds=["skills"], client=client)

    assert caught.value.status == 403
    assert "routing:skill:view" in str(caught.value)
    run = SyncRun.objects.order_by("-pk").first()
    assert run.state == SyncRun.State.FAILED and "routing:skill:view" in run.error
    assert wire.count("GET", r"/routing/skills$") == 1


def test_404_on_a_queues_members_makes_the_item_not_routable_saying_the_queue_is_gone(client, wire):
    worktype = WorkType.objects.get(genesys_id=IDS["worktype:refund-request"])
    queue = Queue.objects.get(genesys_id=IDS["queue:refunds"])
    item = WorkItem.objects.create(
        external_ref="FLT-404",
        name="Refund FLT-404",
        worktype=worktype,
        queue=queue,
        custom_fields={"order_number_text": "FLT-404", "amount_number": 10.5},
    )
    cache.clear()  # forget the sync's member refresh, so the check asks Genesys
    faults.inject(path_regex=r"/routing/queues/[^/]+/members$", method="GET", status=404)

    reports = workitems_check_routability(items=[item], actor="supervisor", client=client)

    report = reports[item.pk]
    assert report.verdict == Verdict.NOT_ROUTABLE
    check = report.check("queue")
    assert check.result == "fail"
    assert f"Queue {queue.name} does not exist in Genesys" in check.message
    assert "404" in check.message
    assert wire.count("GET", r"/members$") == 1  # a 404 is not retried
    item.refresh_from_db()
    assert item.routability_verdict == Verdict.NOT_ROUTABLE


# --- 429: bursts, the per-token quota, a daily cap ---------------------------------------------


def test_a_burst_of_429s_with_short_retry_after_is_waited_out_and_succeeds(client, wire, vtime):
    ids = claimed(2)
    faults.inject(path_regex=CREATE, method="POST", status=429, retry_after=2, times=3)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="single")

    assert sorted(summary.submitted) == sorted(ids), summary.line()
    assert in_simulator() == refs(1, 2)
    assert wire.count("POST", CREATE, "429") == 3
    assert wire.count("POST", CREATE, "200") == 2
    assert vtime.sleeps.count(2) >= 3  # each Retry-After honoured (virtually)
    assert wire.count("POST", QUERY) == 0  # a 429 was never processed: nothing to look up


def test_429s_outlasting_the_retries_park_the_items_instead_of_hammering(client, wire):
    ids = claimed(3)
    faults.inject(path_regex=CREATE, method="POST", status=429, retry_after=5, times=None)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="single")

    assert sorted(summary.parked) == sorted(ids), summary.line()
    assert wire.count("POST", CREATE) == 4  # the first try and GENESYS_MAX_RETRIES, then stop
    for item in WorkItem.objects.all():
        assert item.local_state == LocalState.SUBMITTING
        assert item.next_attempt_at and "parked until" in item.last_error
    assert in_simulator() == {}


def test_the_simulators_per_token_quota_is_paced_under_and_every_item_goes_once(
    client, wire, vtime, settings
):
    settings.SIMULATOR_RATE_LIMIT_PER_MINUTE = 4
    ids = claimed(7)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="single")

    assert sorted(summary.submitted) == sorted(ids), summary.line()
    assert in_simulator() == refs(*range(1, 8))
    # The quota forced waits for the next rate window: a minute or more of virtual time.
    assert vtime.offset >= 60
    assert wire.count("POST", CREATE, "429") <= 2  # the pacer reads Genesys's counters


def test_a_daily_cap_parks_every_item_with_a_message_and_sends_nothing_until_the_reset(
    client, wire, vtime
):
    ids = claimed(3)
    faults.inject(path_regex=CREATE, method="POST", status=429, retry_after=40000, times=None)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="single")

    assert sorted(summary.parked) == sorted(ids), summary.line()
    assert wire.count("POST", CREATE) == 1  # one request, no retries, no storm
    assert vtime.sleeps == []
    reset = timezone.now() + timedelta(seconds=40000)
    for item in WorkItem.objects.all():
        assert item.local_state == LocalState.SUBMITTING
        assert "parked until" in item.last_error and "rate limit" in item.last_error
        assert abs((item.next_attempt_at - reset).total_seconds()) < 60
    resume = Schedule.objects.get(func="workitems.tasks.submit_workitems")
    assert abs((resume.next_run - reset).total_seconds()) < 60

    # Running again before the reset (a retry, an impatient operator) sends nothing.
    again = workitems_submit(item_ids=ids, actor="supervisor", client=client)
    assert again.submitted == again.parked == [] and wire.count("POST", CREATE) == 1

    # After the reset the scheduled resume submits each item once.
    faults.clear()
    WorkItem.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    done = workitems_submit(item_ids=ids, actor="system", client=client)
    assert sorted(done.submitted) == sorted(ids), done.line()
    assert in_simulator() == refs(1, 2, 3)


# --- 5xx on GETs -------------------------------------------------------------------------------


def test_a_transient_5xx_on_a_listing_is_retried_and_the_sync_succeeds(client, wire, vtime):
    faults.inject(path_regex=r"/routing/queues$", method="GET", status=503, times=2)

    result = reference_sync(kinds=["queues"], client=client)

    assert result.run.state == SyncRun.State.SUCCEEDED
    assert wire.count("GET", r"/routing/queues$", "503") == 2
    assert vtime.sleeps and sum(vtime.sleeps) < 10  # urllib3's back-off, slept virtually


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_persistent_5xx_on_a_get_is_retried_then_fails_with_a_clear_error(client, wire, status):
    faults.inject(path_regex=r"/routing/queues$", method="GET", status=status, times=None)

    with pytest.raises(GenesysError) as caught:
        reference_sync(kinds=["queues"], client=client)

    error = caught.value
    assert error.status == status
    assert "Genesys had a server error, retried 3 times" in str(error)
    assert error.context_id  # something to quote to Genesys support
    assert wire.count("GET", r"/routing/queues$") == 4
    run = SyncRun.objects.order_by("-pk").first()
    assert run.state == SyncRun.State.FAILED and "retried 3 times" in run.error


# --- Creates: 5xx, timeouts, resets before and after processing -------------------------------

# (kind, status, after_processing) -> whether Genesys created the item before the failure.
CREATE_FAULTS = [
    pytest.param("status", 500, False, id="500-before"),
    pytest.param("status", 503, False, id="503-before"),
    pytest.param("status", 502, True, id="502-after"),
    pytest.param("status", 504, True, id="504-after"),
    pytest.param("timeout", 503, False, id="timeout-before"),
    pytest.param("timeout", 503, True, id="timeout-after"),
    pytest.param("reset", 503, False, id="reset-before"),
    pytest.param("reset", 503, True, id="reset-after"),
]


@pytest.mark.parametrize(("kind", "status", "after"), CREATE_FAULTS)
def test_a_create_with_an_unknown_outcome_is_looked_up_and_never_duplicated(
    client, wire, kind, status, after
):
    ids = claimed(3)
    first = workitems_submit(item_ids=ids[:1], actor="supervisor", client=client)
    assert first.submitted == ids[:1]
    # The next create (the second item's) fails; the third goes through untouched.
    faults.inject(
        path_regex=CREATE, method="POST", kind=kind, status=status, after_processing=after
    )

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="single")

    assert set(states().values()) == {LocalState.SUBMITTED}, states()
    assert in_simulator() == refs(1, 2, 3)
    # The failed create was never retried blindly: the item was looked up by externalTag first.
    assert wire.count("POST", QUERY) == LOOKUP
    if after:
        assert summary.adopted == [ids[1]], summary.line()  # found in Genesys, adopted
        assert wire.count("POST", CREATE) == 3
    else:
        assert summary.adopted == [], summary.line()  # not found, so sent again
        assert wire.count("POST", CREATE) == 4
    assert sorted(summary.submitted + summary.adopted) == ids[1:] and not summary.failed


def test_a_connect_timeout_on_create_is_retried_at_once_because_nothing_was_sent(
    client, wire, vtime
):
    ids = claimed(1)
    faults.inject(path_regex=CREATE, method="POST", kind="connect_timeout", times=2)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client)

    assert summary.submitted == ids, summary.line()
    assert wire.count("POST", CREATE, "ConnectTimeoutError") == 2
    assert wire.count("POST", QUERY) == 0  # the outcome was known: never sent
    assert in_simulator() == refs(1)


def test_a_create_that_keeps_failing_before_processing_fails_after_three_tries_saying_why(
    client, wire
):
    ids = claimed(1)
    faults.inject(path_regex=CREATE, method="POST", status=503, times=None)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client)

    assert summary.failed == ids
    item = WorkItem.objects.get()
    assert item.local_state == LocalState.FAILED
    assert f"No answer from Genesys after {MAX_CREATE_ATTEMPTS} attempts" in item.last_error
    assert "not found by externalTag" in item.last_error
    assert wire.count("POST", CREATE) == MAX_CREATE_ATTEMPTS
    assert wire.count("POST", QUERY) == LOOKUP * MAX_CREATE_ATTEMPTS  # before every resend
    assert in_simulator() == {}


def test_a_create_that_keeps_timing_out_after_processing_is_adopted_once(client, wire):
    ids = claimed(2)
    faults.inject(
        path_regex=CREATE, method="POST", kind="timeout", after_processing=True, times=None
    )

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="single")

    assert sorted(summary.adopted) == sorted(ids), summary.line()
    assert wire.count("POST", CREATE) == 2  # one per item: the look-up found each
    assert in_simulator() == refs(1, 2)


def test_a_lost_answer_whose_look_up_also_fails_stays_claimed_and_the_retry_adopts_it(client, wire):
    ids = claimed(1)
    faults.inject(path_regex=CREATE, method="POST", kind="reset", after_processing=True)
    faults.inject(path_regex=QUERY, method="POST", status=503, times=1)

    # The look-up is a POST: a 5xx on it is not retried, and the error ends the run (the
    # django-q2 task fails and is retried).
    with pytest.raises(GenesysError):
        workitems_submit(item_ids=ids, actor="supervisor", client=client)
    item = WorkItem.objects.get()
    assert item.local_state == LocalState.SUBMITTING and item.create_attempted_at
    assert in_simulator() == refs(1)

    retry = workitems_submit(item_ids=ids, actor="system", client=client)

    assert retry.adopted == ids, retry.line()
    assert wire.count("POST", CREATE) == 1  # never sent a second time
    assert in_simulator() == refs(1)


@pytest.mark.parametrize("kind", ["reset", "timeout"])
def test_a_bulk_job_whose_creation_answer_is_lost_is_looked_up_then_sent_again_once(
    client, wire, kind
):
    ids = claimed(12)
    faults.inject(path_regex=BULK, method="POST", kind=kind, after_processing=True)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="bulk")

    # The lost job exists but stays Idle: its id was lost with the answer, so nobody starts
    # it and it never runs. The look-up finds nothing; the items go in a new job, once.
    assert sorted(summary.submitted) == sorted(ids), summary.line()
    assert wire.count("POST", BULK) == 2 and wire.count("PATCH", BULK_JOB) == 1
    assert sorted(job["state"] for job in store.all_of(BULK_JOB_KIND)) == ["Idle", "Succeeded"]
    assert in_simulator() == refs(*range(1, 13))
    assert set(states().values()) == {LocalState.SUBMITTED}


@pytest.mark.parametrize("kind", ["reset", "timeout"])
def test_a_bulk_job_whose_start_answer_is_lost_after_it_applied_is_collected_once(
    client, wire, kind
):
    ids = claimed(12)
    faults.inject(path_regex=BULK_JOB, method="PATCH", kind=kind, after_processing=True)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="bulk")

    assert sorted(summary.submitted) == sorted(ids), summary.line()
    assert wire.count("PATCH", BULK_JOB) == 1 and wire.count("DELETE", BULK_JOB) == 0
    assert in_simulator() == refs(*range(1, 13))


def test_a_bulk_job_whose_start_fails_before_it_applied_is_deleted_and_its_items_wait(client, wire):
    ids = claimed(12)
    faults.inject(path_regex=BULK_JOB, method="PATCH", status=503, times=1)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="bulk")

    assert sorted(summary.pending) == sorted(ids), summary.line()
    assert wire.count("DELETE", BULK_JOB, "204") == 1 and store.all_of(BULK_JOB_KIND) == []
    assert in_simulator() == {}
    # The resume sweep looks them up (nothing there), then sends them once.
    again = workitems_submit(item_ids=ids, actor="system", client=client, mode="bulk")
    assert sorted(again.submitted) == sorted(ids), again.line()
    assert in_simulator() == refs(*range(1, 13))
