"""Draining the event queue: per item in dateModified order, failures pushed aside and retried,
replay."""

import itertools
import json
import random
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from audits.models import AuditEvent
from tests.api.support import (
    STATUS_DONE,
    STATUS_OPEN,
    STATUS_WAITING,
    STATUS_WORKING,
    body,
    notification,
    reference,
)
from workitems.models import InboundEvent, StatusTransition, WorkItem, WorkType
from workitems.services import event_apply
from workitems.services.event_batch import BulkApplyBatch
from workitems.services.event_processor import (
    ITEM_LOCK_NAMESPACE,
    events_drain,
    events_due,
    events_process_batch,
    events_replay,
    process_events,
)
from workitems.services.ingest import event_ingest

pytestmark = pytest.mark.django_db
State = InboundEvent.State
FLOW = [STATUS_OPEN, STATUS_WORKING, STATUS_WAITING, STATUS_WORKING, STATUS_DONE]


def ingest(*elements) -> list[int]:
    result = event_ingest(body=json.dumps(list(elements)).encode(), headers={})
    return [e.id for e in result.events]


def minute(n: int) -> str:
    return f"2026-07-01T10:{n:02d}:00.000Z"


def test_a_batch_applies_each_items_events_in_date_modified_order():
    reference()
    events = [
        notification(
            body(
                f"wi-{i}",
                status=status,
                modified=minute(step),
                operation="add" if step == 0 else "edit",
            )
        )
        for i in range(3)
        for step, status in enumerate(FLOW)
    ]
    random.Random(7).shuffle(events)
    ingest(*events)
    counts = events_process_batch()
    assert counts["claimed"] == 15
    assert counts["adopted"] == 3 and counts["applied"] == 12
    for i in range(3):
        item = WorkItem.objects.get(genesys_id=f"wi-{i}")
        assert item.status.genesys_id == STATUS_DONE
        assert item.date_closed is not None
        names = list(
            item.transitions.order_by("changed_at").values_list("to_status_name", flat=True)
        )
        assert names == ["New", "Working", "On hold", "Working", "Done"]
        sequences = item.deliveries.order_by("sequence").values_list("sequence", flat=True)
        assert list(sequences) == [1, 2, 3, 4, 5]
    assert not events_due().exists()


def test_events_arriving_after_newer_ones_were_applied_are_stale():
    reference()
    ingest(notification(body("wi-s", status=STATUS_DONE, modified=minute(9), operation="add")))
    events_drain()
    ingest(notification(body("wi-s", status=STATUS_WORKING, modified=minute(5))))
    counts = events_drain().counts
    assert counts["stale"] == 1
    assert WorkItem.objects.get(genesys_id="wi-s").status.genesys_id == STATUS_DONE


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "per-event"])
def test_one_failing_event_does_not_block_the_others(batched):
    reference()
    ids = ingest(
        notification(body("wi-ok", status=STATUS_WORKING, modified=minute(1), operation="add")),
        notification(body("wi-bad", modified=minute(2), operation="add", typeId="not-synced")),
        notification(body("wi-ok", status=STATUS_DONE, modified=minute(3))),
    )
    now = timezone.now()
    counts = events_process_batch(now=now, batched=batched)
    assert counts["failed"] == 1 and counts["adopted"] == 1 and counts["applied"] == 1
    failed = InboundEvent.objects.get(pk=ids[1])
    assert failed.state == State.FAILED
    assert failed.attempts == 1
    assert "not-synced" in failed.error and "genesys_sync" in failed.error
    assert failed.next_attempt_at > now
    assert WorkItem.objects.get(genesys_id="wi-ok").status.genesys_id == STATUS_DONE
    assert AuditEvent.objects.get(action="workitem.event.failed").outcome == "failure"


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "per-event"])
def test_an_unexpected_error_rolls_back_only_that_event(batched):
    reference()
    ids = ingest(
        notification(body("wi-a", modified=minute(1), operation="add")),
        notification(body("wi-b", modified=minute(2), operation="add")),
    )
    real = event_apply.workitem_apply_state

    def boom(item, event, **kw):
        if event.workitem_id == "wi-a":
            raise ValueError("surprise")
        return real(item, event, **kw)

    with mock.patch.object(event_apply, "workitem_apply_state", side_effect=boom):
        counts = events_process_batch(batched=batched)
    assert counts["failed"] == 1
    assert not WorkItem.objects.filter(genesys_id="wi-a").exists()  # the adoption was undone
    assert WorkItem.objects.filter(genesys_id="wi-b").exists()
    assert InboundEvent.objects.get(pk=ids[0]).error == "ValueError: surprise"


def test_a_failed_event_is_retried_with_back_off_and_then_replayable():
    ref = reference()
    (event_id,) = ingest(body("wi-late", modified=minute(1), operation="add", typeId="wt-later"))
    now = timezone.now()
    events_process_batch(now=now)
    event = InboundEvent.objects.get(pk=event_id)
    first_wait = event.next_attempt_at - now
    # Not due before its back-off has passed.
    assert events_process_batch(now=now + timedelta(seconds=1))["claimed"] == 0
    events_process_batch(now=event.next_attempt_at)
    event.refresh_from_db()
    assert event.attempts == 2
    assert (event.next_attempt_at - now) > first_wait
    # Run out of attempts: it stays failed, no longer due.
    with override_settings(EVENT_MAX_ATTEMPTS=3):
        events_process_batch(now=event.next_attempt_at)
        event.refresh_from_db()
        assert event.attempts == 3 and event.next_attempt_at is None
        assert events_process_batch(now=now + timedelta(days=1))["claimed"] == 0
    # The worktype arrives (genesys_sync); an operator replays; it is applied.
    WorkType.objects.create(genesys_id="wt-later", name="Later", default_queue=ref.queue)
    result = events_replay(events=InboundEvent.objects.filter(pk=event_id), actor="alice")
    assert result.replayed == [event_id]
    event.refresh_from_db()
    assert (event.state, event.attempts, event.error) == (State.ACCEPTED, 0, "")
    assert events_drain().counts["adopted"] == 1
    assert WorkItem.objects.get(genesys_id="wi-late").worktype.genesys_id == "wt-later"
    assert AuditEvent.objects.filter(action="inboundevent.replayed", actor="alice").count() == 1


def test_replaying_a_processed_event_is_safe():
    reference()
    (event_id,) = ingest(notification(body("wi-r", status=STATUS_WORKING, operation="add")))
    events_drain()
    events_replay(events=InboundEvent.objects.all(), actor="alice")
    assert events_drain().counts["stale"] == 1
    assert InboundEvent.objects.get(pk=event_id).state == State.STALE
    assert StatusTransition.objects.count() == 1


def test_duplicates_and_rejected_events_are_not_replayed():
    element = notification(body("wi-d"))
    ingest(element, element, {"bad": True})
    result = events_replay(events=InboundEvent.objects.exclude(state=State.ACCEPTED), actor="alice")
    assert result.replayed == []
    assert len(result.skipped) == 2


def test_the_task_entry_point_and_the_command_drain_the_queue(capsys):
    reference()
    ingest(*(notification(body(f"wi-t{i}", operation="add")) for i in range(3)))
    assert process_events().startswith("3 events")
    ingest(notification(body("wi-t9", operation="add")))
    call_command("process_events")
    assert "1 events" in capsys.readouterr().out
    assert not events_due().exists()


def test_batches_are_bounded():
    reference()
    ingest(*(notification(body(f"wi-b{i}", operation="add")) for i in range(5)))
    assert events_process_batch(limit=2)["claimed"] == 2
    result = events_drain(limit=2)
    assert result.counts["claimed"] == 3 and result.batches == 2


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "per-event"])
def test_a_failed_event_does_not_leave_its_half_applied_item_for_the_next_one(batched):
    reference()
    ids = ingest(
        notification(body("wi-h", status=STATUS_OPEN, modified=minute(1), operation="add")),
        notification(body("wi-h", status=STATUS_WORKING, modified=minute(2))),
        notification(body("wi-h", status=STATUS_DONE, modified=minute(3))),
    )
    writer = BulkApplyBatch if batched else event_apply.ApplyBatch
    real = writer.delivery_add
    calls = itertools.count()

    def second_fails(self, item, **kw):
        if next(calls) == 1:
            raise RuntimeError("outbox hiccup")
        return real(self, item, **kw)

    with mock.patch.object(writer, "delivery_add", second_fails):
        counts = events_process_batch(batched=batched)
    assert counts["failed"] == 1
    item = WorkItem.objects.get(genesys_id="wi-h")
    assert item.status.genesys_id == STATUS_DONE
    # The Working change was rolled back whole: the timeline goes New -> Done.
    steps = list(
        item.transitions.order_by("changed_at").values_list("from_status_name", "to_status_name")
    )
    assert steps == [("", "New"), ("New", "Done")]
    assert list(item.deliveries.values_list("sequence", flat=True).order_by("sequence")) == [1, 2]
    assert InboundEvent.objects.get(pk=ids[1]).state == State.FAILED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_items_another_processor_is_on_are_passed_over_not_waited_for():
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    reference()
    ingest(
        notification(body("wi-x", operation="add", modified=minute(1))),
        notification(body("wi-y", operation="add", modified=minute(2))),
    )
    holding, release = threading.Event(), threading.Event()

    def other_processor():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
                    [ITEM_LOCK_NAMESPACE, "wi-x"],
                )
                assert cursor.fetchone()[0]
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_processor)
    thread.start()
    try:
        assert holding.wait(10)
        counts = events_process_batch()
    finally:
        release.set()
        thread.join(10)
    assert counts["claimed"] == 1 and counts["adopted"] == 1
    assert events_drain().counts["adopted"] == 1
    assert set(WorkItem.objects.values_list("genesys_id", flat=True)) == {"wi-x", "wi-y"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_items_newer_event_waits_while_an_older_one_is_out_of_reach():
    """The claim passes over a row someone else holds (skip_locked), and a processor's scan can
    reach an item's newer event after another processor committed and released the item but
    before this scan saw the older one: the newer must not be applied first (it would turn the
    older into a stale event, and its transition and delivery would be lost)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks skipped by the claim are PostgreSQL's")
    reference()
    ids = ingest(
        notification(body("wi-o", status=STATUS_OPEN, modified=minute(1), operation="add")),
        notification(body("wi-o", status=STATUS_WORKING, modified=minute(2))),
        notification(body("wi-o", status=STATUS_DONE, modified=minute(3))),
    )
    holding, release = threading.Event(), threading.Event()

    def hold_the_middle_event():
        try:
            with transaction.atomic():
                list(InboundEvent.objects.select_for_update().filter(pk=ids[1]))
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=hold_the_middle_event)
    thread.start()
    try:
        assert holding.wait(10)
        counts = events_process_batch()
    finally:
        release.set()
        thread.join(10)
    assert counts["adopted"] == 1 and counts["claimed"] == 1
    assert InboundEvent.objects.get(pk=ids[2]).state == State.ACCEPTED
    events_drain()
    assert set(InboundEvent.objects.values_list("state", flat=True)) == {State.PROCESSED}
    steps = list(
        StatusTransition.objects.order_by("changed_at").values_list("to_status_name", flat=True)
    )
    assert steps == ["New", "Working", "Done"]
