"""The portal against a simulator that answers as Genesys is documented (docs/GENESYS.md §2): bulk jobs
that start Idle, query pages that are short or empty yet carry `after`, worktypes that hold only
a reference to their custom-field schema. The three promises of issue 9, end to end."""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from simulator import faults, store
from simulator.demo import IDS
from simulator.render import BULK_JOB, WORKITEM
from simulator.transport import InProcessTransport
from workitems.genesys import get_client
from workitems.models import LocalState, Queue, Verdict, WorkItem, WorkType
from workitems.services.routability import workitems_check_routability
from workitems.services.submission import workitems_submit

pytestmark = pytest.mark.usefixtures("genesys_simulator")

REFUND = IDS["worktype:refund-request"]


class VirtualTime:
    """The portal's waits move a clock the simulator shares, instead of waiting."""

    def __init__(self) -> None:
        self.offset = 0.0

    def sleep(self, seconds: float) -> None:
        self.offset += max(0.0, seconds)

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def now(self):
        return timezone.now() + timedelta(seconds=self.offset)


@pytest.fixture
def vtime(monkeypatch) -> VirtualTime:
    vt = VirtualTime()
    monkeypatch.setattr("simulator.clock.now", vt.now)
    monkeypatch.setattr("workitems.services.submission.time.sleep", vt.sleep)
    return vt


@pytest.fixture
def wire(monkeypatch) -> Counter:
    """(method, path with ids as {id}) -> requests put on the wire."""
    seen: Counter = Counter()
    real = InProcessTransport._send_once

    def send_once(self, request):
        path = urlsplit(request.url or "").path
        seen[(request.method, re.sub(r"/[0-9a-f-]{36}", "/{id}", path))] += 1
        return real(self, request)

    monkeypatch.setattr(InProcessTransport, "_send_once", send_once)
    return seen


@pytest.fixture
def client(vtime):
    return get_client(sleep=vtime.sleep, clock=vtime.monotonic, pacing=False)


@pytest.fixture(autouse=True)
def synced(genesys_simulator):
    cache.clear()
    call_command("genesys_sync")


def claimed(n: int, **fields) -> list[int]:
    worktype = WorkType.objects.get(genesys_id=REFUND)
    queue = Queue.objects.get(genesys_id=IDS["queue:refunds"])
    WorkItem.objects.bulk_create(
        WorkItem(
            external_ref=f"DOC-{i:05d}",
            name=f"Refund DOC-{i:05d}",
            worktype=worktype,
            queue=queue,
            custom_fields={"order_number_text": f"DOC-{i}", "amount_number": 10.5},
            local_state=LocalState.SUBMITTING,
            routability_verdict=Verdict.ROUTABLE,
            **fields,
        )
        for i in range(n)
    )
    return list(WorkItem.objects.order_by("pk").values_list("pk", flat=True))


def created_per_tag() -> Counter:
    return Counter(entity.get("externalTag") for entity in store.all_of(WORKITEM))


JOBS = "/simulator/api/v2/taskmanagement/workitems/bulk/add/jobs"


def test_a_bulk_submit_of_1000_items_creates_each_once_with_its_genesys_id_and_patches_every_job(
    client, wire
):
    ids = claimed(1000)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="bulk")

    assert len(summary.submitted) == 1000, summary.line()
    assert set(created_per_tag().values()) == {1} and len(created_per_tag()) == 1000
    jobs = store.all_of(BULK_JOB)
    assert len(jobs) == 20 and {j["state"] for j in jobs} == {"Succeeded"}  # none left Idle
    assert wire[("POST", JOBS)] == 20 and wire[("PATCH", f"{JOBS}/{{id}}")] == 20
    held = dict(WorkItem.objects.values_list("external_ref", "genesys_id"))
    in_genesys = {e["externalTag"]: e["id"] for e in store.all_of(WORKITEM)}
    assert held == in_genesys
    assert summary.api_calls / 1000 <= 0.05


def test_a_bulk_job_that_takes_its_time_is_polled_until_done_within_the_bounded_wait(
    client, wire, vtime, settings
):
    settings.SIMULATOR_BULK_JOB_SECONDS = 5
    settings.SUBMIT_JOB_POLL_SECONDS = 1
    ids = claimed(60)

    summary = workitems_submit(item_ids=ids, actor="supervisor", client=client, mode="bulk")

    assert len(summary.submitted) == 60, summary.line()
    # Polls at 1 s and 3 s find the newest job queued; at 7 s it has run.
    assert wire[("GET", f"{JOBS}/{{id}}")] == 3
    assert set(created_per_tag().values()) == {1}


def test_a_create_whose_answer_is_lost_with_the_first_query_page_empty_is_adopted_not_resent(
    client, wire
):
    [pk] = claimed(1)
    faults.inject(
        path_regex=r"/taskmanagement/workitems$",
        method="POST",
        kind="timeout",
        after_processing=True,
    )

    summary = workitems_submit(item_ids=[pk], actor="supervisor", client=client, mode="single")

    assert summary.adopted == [pk], summary.line()
    assert wire[("POST", "/simulator/api/v2/taskmanagement/workitems")] == 1  # never re-sent
    # The look-up's first page was empty but carried `after`; the item was on the next page.
    assert wire[("POST", "/simulator/api/v2/taskmanagement/workitems/query")] == 2
    assert created_per_tag() == Counter({"DOC-00000": 1})
    item = WorkItem.objects.get()
    assert item.local_state == LocalState.SUBMITTED and item.genesys_id


def test_an_item_whose_custom_field_breaks_the_schema_is_not_routable_naming_the_fields_title():
    worktype = WorkType.objects.get(genesys_id=REFUND)
    # The sync fetched the schema version the worktype references, with its titles.
    assert worktype.json_schema["properties"]["amount_number"]["title"] == "Amount"
    assert worktype.schema_name == "Refund request fields"
    item = WorkItem.objects.create(
        external_ref="DOC-LOTS",
        name="Refund for order A-17",
        worktype=worktype,
        custom_fields={"order_number_text": "A-17", "amount_number": "lots"},
    )

    report = workitems_check_routability(items=[item], actor="supervisor")[item.pk]

    assert report.verdict == Verdict.NOT_ROUTABLE
    fields = report.check("fields")
    assert fields.result == "fail"
    assert "Amount (amount_number) must be a number." in fields.message
