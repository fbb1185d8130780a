"""One sender per item, ever, on PostgreSQL: submission runs racing for the same 50 items — two
runs of the same queued task, two runs with no claim between them, and a run while the periodic
resume fires again and again — create each item in Genesys exactly once, counted in the simulator.

Each sender runs in its own thread with its own database connection, through the real client and
the in-process simulator, each request slowed a little so the runs overlap throughout.
Bounded: 50 items, a few seconds.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from simulator import store
from simulator.demo import IDS
from simulator.render import WORKITEM
from simulator.transport import InProcessTransport
from workitems.models import LocalState, Queue, WorkItem, WorkType
from workitems.services.submission import (
    submissions_resume,
    workitems_submit,
    workitems_submit_request,
)

ITEMS = 50
LATENCY_SECONDS = 0.01  # per request: the runs overlap for their whole length

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="racing senders on their own connections need PostgreSQL (set DATABASE_URL)",
    ),
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("genesys_simulator"),
]


@pytest.fixture(autouse=True)
def slow_genesys(monkeypatch):
    real = InProcessTransport._send_once

    def send_once(self, request):
        time.sleep(LATENCY_SECONDS)
        return real(self, request)

    monkeypatch.setattr(InProcessTransport, "_send_once", send_once)


@pytest.fixture
def requested():
    """50 drafts, submitted by a supervisor: SUBMITTING, held for the task the request queued."""
    call_command("genesys_sync")
    worktype = WorkType.objects.get(genesys_id=IDS["worktype:refund-request"])
    queue = Queue.objects.get(genesys_id=IDS["queue:refunds"])
    WorkItem.objects.bulk_create(
        WorkItem(
            external_ref=f"RACE-{i:03d}",
            name=f"Refund RACE-{i:03d}",
            worktype=worktype,
            queue=queue,
            custom_fields={"order_number_text": f"RACE-{i}", "amount_number": 10.5},
        )
        for i in range(ITEMS)
    )
    from unittest import mock

    with mock.patch("django_q.tasks.async_task"):
        request = workitems_submit_request(
            items=WorkItem.objects.all(), actor="supervisor", override_routability=True
        )
    assert len(request.queued) == ITEMS, request.refused
    # Imported an hour ago: the old resume took anything SUBMITTING not updated for 5 minutes.
    WorkItem.objects.update(updated_at=timezone.now() - timedelta(hours=1))
    return request


def race(*senders) -> list:
    """Run the senders at once, each in its own thread and connection; their results."""
    start = threading.Barrier(len(senders))
    results: list = [None] * len(senders)
    errors: list[BaseException] = []

    def run(index, sender):
        try:
            start.wait(timeout=10)
            results[index] = sender()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "a sender did not finish"
    return results


def created_in_genesys() -> Counter:
    return Counter(entity.get("externalTag") for entity in store.all_of(WORKITEM))


def assert_each_created_once() -> None:
    counts = created_in_genesys()
    assert len(counts) == ITEMS
    twice = {tag: n for tag, n in counts.items() if n != 1}
    assert not twice, f"created more than once: {twice}"
    assert set(WorkItem.objects.values_list("local_state", flat=True)) == {LocalState.SUBMITTED}
    assert not WorkItem.objects.exclude(send_claimed_by="").exists()  # all released


@pytest.mark.parametrize("mode", ["single", "bulk"])
def test_the_same_queued_task_run_twice_at_once_creates_each_item_once(requested, mode):
    """django-q2 handing one task out twice, or two clusters: both runs carry the same claim."""
    ids = requested.queued

    def run():
        return workitems_submit(
            item_ids=ids, actor="supervisor", queued_claim=requested.claim, mode=mode
        )

    first, second = race(run, run)
    assert len(first.submitted) + len(second.submitted) == ITEMS
    assert_each_created_once()


def test_two_runs_for_the_same_unclaimed_items_create_each_item_once(requested):
    """Items free to take (their queued claim expired): two runs race for every one of them."""
    WorkItem.objects.update(send_claim_expires_at=timezone.now())
    ids = requested.queued

    def run():
        return workitems_submit(item_ids=ids, actor="worker", mode="single")

    first, second = race(run, run)
    assert len(first.submitted) + len(second.submitted) == ITEMS
    assert first.elsewhere or second.elsewhere  # each item went to one run; the other left it
    assert_each_created_once()


def test_a_run_while_the_resume_fires_again_and_again_creates_each_item_once(requested):
    ids = requested.queued
    done = threading.Event()

    def run():
        try:
            return workitems_submit(
                item_ids=ids, actor="supervisor", queued_claim=requested.claim, mode="single"
            )
        finally:
            done.set()

    def resume_repeatedly():
        resumed = []
        while not done.is_set():
            summary = submissions_resume()
            resumed.extend(summary.submitted if summary else [])
            time.sleep(0.02)
        return resumed

    summary, resumed = race(run, resume_repeatedly)
    assert len(summary.submitted) + len(resumed) == ITEMS
    assert resumed == []  # every item was held by the run the whole time
    assert_each_created_once()
