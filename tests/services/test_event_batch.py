"""The event processor's batched path writes exactly the rows the per-event ORM path writes, in one
statement per table per batch on PostgreSQL."""

import json
import random
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

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
from workitems.models import (
    Delivery,
    InboundEvent,
    LocalState,
    SlaPolicy,
    StatusTransition,
    WorkItem,
)
from workitems.services import event_apply, event_processor
from workitems.services.event_batch import BulkApplyBatch
from workitems.services.event_processor import events_process_batch
from workitems.services.ingest import event_ingest

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
T9 = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)


def at(minute: int, second: int = 0) -> str:
    return f"2026-07-01T10:{minute:02d}:{second:02d}.000Z"


def _scenario(ref) -> None:
    """Every path through the rules: adoption (plain, by a taken tag, after a delete), linking by
    externalTag, stale and deleted events, unknown status and queue, a Waiting pause, a breach at
    the close, a reopen, an item with earlier transitions and deliveries, failures before and
    between an item's good events, rejected and ignored bodies."""
    held = WorkItem.objects.create(
        external_ref="ext-held",
        name="Held item",
        worktype=ref.worktype,
        queue=ref.queue,
        status=ref.open,
        genesys_id="wi-held",
        status_category="Open",
        local_state=LocalState.SUBMITTED,
        date_created=T9,
        date_modified=datetime(2026, 7, 1, 10, 0, tzinfo=UTC),
        sla_threshold_seconds=1800,
        sla_pause_in_waiting=True,
        sla_deadline=T9 + timedelta(seconds=1800),
        last_delivery_sequence=2,
    )
    StatusTransition.objects.create(
        workitem=held,
        to_status_id="status-no-longer-synced",
        to_status_name="Legacy",
        to_category="Open",
        changed_at=T9,
    )
    WorkItem.objects.create(
        external_ref="ext-tagged",
        name="Submitted, answer not seen",
        worktype=ref.worktype,
        local_state=LocalState.SUBMITTING,
    )
    WorkItem.objects.create(
        external_ref="ext-tagged2",
        name="Submitted, answer not seen either",
        worktype=ref.worktype,
        local_state=LocalState.SUBMITTING,
    )
    WorkItem.objects.create(
        external_ref="taken-tag", name="Other", worktype=ref.worktype, genesys_id="wi-other"
    )
    events = [
        # The held item: earlier transitions and deliveries, a pause, a breach at the close.
        body("wi-held", status=STATUS_WORKING, modified=at(1)),
        body("wi-held", status=STATUS_OPEN, modified="2026-07-01T09:59:00.000Z"),  # stale
        body("wi-held", status=STATUS_WAITING, modified=at(2)),
        body("wi-held", status=STATUS_WORKING, modified=at(20), queueId="queue-not-synced"),
        body("wi-held", status="status-not-synced", modified=at(30), statusCategory="InProgress"),
        body("wi-held", status=STATUS_DONE, modified=at(40)),
        body("wi-held", status=STATUS_WORKING, modified=at(50)),  # reopened
        body("wi-held", status=STATUS_WORKING, modified=at(51), assigneeId="agent-1"),
        # Linked by its externalTag, then closed; the other's first link fails (FAULTS), and
        # its next event links it.
        body("wi-tagged2", modified=at(5), operation="add", externalTag="ext-tagged2"),
        body("wi-tagged2", status=STATUS_DONE, modified=at(6)),
        body("wi-tagged", modified=at(5), operation="add", externalTag="ext-tagged"),
        body("wi-tagged", status=STATUS_DONE, modified=at(6), externalTag="ext-tagged"),
        # Two new ids with one tag: the first takes it.
        body("wi-twin1", modified=at(7), operation="add", externalTag="twin-tag"),
        body("wi-twin2", modified=at(7), operation="add", externalTag="twin-tag"),
        # Adopted, deleted, edited again; adopted under a tag another item holds.
        body("wi-new", modified=at(1), operation="add", dateDue="2026-07-01T09:10:00.000Z"),
        body("wi-new", status=STATUS_WORKING, modified=at(3)),
        body("wi-new", modified=at(4), operation="delete"),
        body("wi-new", status=STATUS_WAITING, modified=at(5)),
        body("wi-new2", modified=at(2), operation="add", externalTag="taken-tag", priority=7),
        # Deleted before we ever saw it, then added.
        body("wi-late", modified=at(1), operation="delete"),
        body("wi-late", modified=at(2), operation="add"),
        # Fails (worktype not synced), then a good event for the same id adopts it.
        body("wi-bad", modified=at(1), operation="add", typeId="not-synced"),
        body("wi-bad", status=STATUS_WORKING, modified=at(2), operation="add"),
        # Adopted under a fresh tag, failing half-way (FAULTS); the next event takes the tag.
        body("wi-fresh", modified=at(1), operation="add", externalTag="fresh-tag"),
        body("wi-fresh", modified=at(2), operation="add", externalTag="fresh-tag"),
        # Fails, and stays failed.
        body("wi-worse", modified=at(1), operation="add", typeId="not-synced"),
    ]
    random.Random(16).shuffle(events)
    event_ingest(body=json.dumps([notification(e) for e in events]).encode(), headers={})
    # Stored as due, then found unusable when applied (as a replayed event can be).
    InboundEvent.objects.create(
        received_at=NOW, state="accepted", body="{not json", workitem_genesys_id="wi-x"
    )
    InboundEvent.objects.create(
        received_at=NOW,
        state="accepted",
        body=json.dumps(body("wi-y", operation="frobnicate")),
        workitem_genesys_id="wi-y",
    )


def _rows() -> dict:
    """Every row the processor writes, with ids replaced by stable names (ids differ between
    runs on PostgreSQL, whose sequences ignore rollbacks)."""
    events = {
        pk: f"event#{n}"
        for n, pk in enumerate(InboundEvent.objects.order_by("id").values_list("pk", flat=True))
    }
    items = dict(WorkItem.objects.values_list("pk", "external_ref"))
    transitions = {
        pk: f"transition#{n}"
        for n, pk in enumerate(StatusTransition.objects.order_by("id").values_list("pk", flat=True))
    }
    deliveries = {
        pk: f"delivery#{n}"
        for n, pk in enumerate(Delivery.objects.order_by("id").values_list("pk", flat=True))
    }

    def plain(qs, *, drop=("id",), names=None):
        rows = []
        for row in qs.order_by("id").values():
            for key in drop:
                row.pop(key)
            for key, mapping in (names or {}).items():
                row[key] = mapping.get(row[key], row[key])
            rows.append(row)
        return rows

    item_rows = plain(WorkItem.objects.all())
    for row in item_rows:
        row["created_by_id"] = None
    audit_rows = plain(AuditEvent.objects.all())
    for row in audit_rows:
        mapping = items if row["object_type"] == "WorkItem" else events
        row["object_id"] = mapping.get(int(row["object_id"]), row["object_id"])
        context = row["context"]
        for key, mapping in (
            ("event_id", events),
            ("transition_id", transitions),
            ("delivery_id", deliveries),
        ):
            if key in context:
                context[key] = mapping[context[key]]
    delivery_rows = plain(
        Delivery.objects.all(), drop=("id", "webhook_id"), names={"workitem_id": items}
    )
    return {
        "items": sorted(item_rows, key=lambda r: r["external_ref"]),
        "transitions": plain(
            StatusTransition.objects.all(),
            names={"workitem_id": items, "source_event_id": events},
        ),
        "deliveries": delivery_rows,
        "events": plain(InboundEvent.objects.all(), names={"workitem_id": items}),
        "audits": audit_rows,
    }


# Events that fail half-way through the rules (after the item was changed in memory, before its
# transition and delivery), on either path alike.
FAULTS = {
    ("wi-fresh", datetime(2026, 7, 1, 10, 1, tzinfo=UTC)),
    ("wi-held", datetime(2026, 7, 1, 10, 20, tzinfo=UTC)),
    ("wi-tagged", datetime(2026, 7, 1, 10, 5, tzinfo=UTC)),
}


def _faulty(real):
    def sla_on_status(*, item, at, **kw):
        if (item.genesys_id, at) in FAULTS:
            raise RuntimeError("injected fault")
        return real(item=item, at=at, **kw)

    return sla_on_status


# Events that fail once their delivery is written, on either path alike.
DELIVERY_FAULTS = {("wi-new", datetime(2026, 7, 1, 10, 3, tzinfo=UTC))}


def _faulty_delivery(real):
    def delivery_add(self, item, **kw):
        delivery = real(self, item, **kw)
        if (item.genesys_id, item.date_modified) in DELIVERY_FAULTS:
            raise RuntimeError("injected fault after the delivery")
        return delivery

    return delivery_add


def _run(ref, *, batched: bool) -> tuple[dict, object]:
    with transaction.atomic():
        _scenario(ref)
        writer = BulkApplyBatch if batched else event_apply.ApplyBatch
        with (
            mock.patch.object(
                event_apply, "workitem_sla_on_status", _faulty(event_apply.workitem_sla_on_status)
            ),
            mock.patch.object(writer, "delivery_add", _faulty_delivery(writer.delivery_add)),
            mock.patch.object(event_processor.logger, "warning") as warned,
        ):
            counts = events_process_batch(now=NOW, batched=batched)
        messages = [call.args[0] for call in warned.call_args_list]
        assert not any("one by one" in m for m in messages), "the batch fell back"
        rows = _rows()
        webhook_ids = list(Delivery.objects.values_list("webhook_id", flat=True))
        transaction.set_rollback(True)
    assert all(w.startswith("msg_") and len(w) == 36 for w in webhook_ids)
    return rows, counts


def test_the_batched_path_writes_the_same_rows_as_the_per_event_path():
    ref = reference()
    SlaPolicy.objects.create(worktype=ref.worktype, threshold_seconds=1800, pause_in_waiting=True)
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        per_event, per_event_counts = _run(ref, batched=False)
        batched, batched_counts = _run(ref, batched=True)
    assert batched_counts == per_event_counts
    assert per_event_counts["failed"] == 6 and per_event_counts["stale"] >= 1
    assert per_event_counts["adopted"] == 7 and per_event_counts["deleted"] == 2
    assert per_event_counts["rejected"] == 1 and per_event_counts["ignored"] == 1
    for table in per_event:
        assert batched[table] == per_event[table], table
    # The scenario reaches what it means to: a link, a breach, a pause, a taken tag.
    items = {row["external_ref"]: row for row in batched["items"]}
    assert items["ext-tagged2"]["genesys_id"] == "wi-tagged2"
    assert items["ext-tagged"]["genesys_id"] == "wi-tagged"
    assert items["fresh-tag"]["genesys_id"] == "wi-fresh"
    assert items["twin-tag"]["genesys_id"] == "wi-twin1" and "genesys-wi-twin2" in items
    assert items["ext-held"]["sla_breached_at"] is not None
    assert items["ext-held"]["last_delivery_sequence"] > 2
    assert "genesys-wi-new2" in items


@pytest.mark.postgres
def test_a_batch_writes_each_table_in_one_statement():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's bulk writes split at its 999-parameter limit")
    reference()
    bodies = []
    for n in range(120):
        gid = f"wi-{n:03d}"
        bodies += [
            body(gid, modified=at(1), operation="add"),
            body(gid, status=STATUS_WORKING, modified=at(2)),
            body(gid, status=STATUS_DONE, modified=at(3)),
        ]
    event_ingest(body=json.dumps([notification(b) for b in bodies]).encode(), headers={})
    with CaptureQueriesContext(connection) as ctx:
        counts = events_process_batch(limit=500)
    assert counts["adopted"] == 120 and counts["applied"] == 240
    sql = [q["sql"] for q in ctx.captured_queries]

    def count(prefix: str) -> int:
        return sum(1 for s in sql if s.startswith(prefix))

    assert count('INSERT INTO "workitems_workitem"') == 1
    assert count('UPDATE "workitems_workitem"') == 0  # adopted items are inserted whole
    assert count('INSERT INTO "workitems_statustransition"') == 1
    assert count('INSERT INTO "workitems_delivery"') == 1
    assert count('UPDATE "workitems_inboundevent"') == 1
    assert count('INSERT INTO "audits_auditevent"') == 1
    assert len(sql) <= 20, sql  # a fixed number, however many events
    assert StatusTransition.objects.count() == 360 and Delivery.objects.count() == 360


@pytest.mark.postgres
def test_items_already_held_are_updated_in_one_statement():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's bulk writes split at its 999-parameter limit")
    ref = reference()
    for n in range(50):
        WorkItem.objects.create(
            external_ref=f"ext-{n}",
            name="Held",
            worktype=ref.worktype,
            genesys_id=f"wi-{n:03d}",
            status=ref.open,
            status_category="Open",
            local_state=LocalState.SUBMITTED,
        )
    bodies = [body(f"wi-{n:03d}", status=STATUS_WORKING, modified=at(2)) for n in range(50)]
    event_ingest(body=json.dumps([notification(b) for b in bodies]).encode(), headers={})
    with CaptureQueriesContext(connection) as ctx:
        assert events_process_batch()["applied"] == 50
    updates = [
        q["sql"] for q in ctx.captured_queries if q["sql"].startswith('UPDATE "workitems_workitem"')
    ]
    assert len(updates) == 1
    assert WorkItem.objects.filter(status=ref.working, last_delivery_sequence=1).count() == 50
