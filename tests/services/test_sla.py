import os
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from audits.models import AuditEvent
from tests import factories
from workitems.models import Delivery, SlaPolicy, StatusCategory, WorkItem
from workitems.services.sla import (
    sla_deadline,
    sla_policy_apply,
    sla_sweep,
    sla_terms,
    workitem_sla_on_status,
    workitem_sla_start,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
seconds = st.integers(min_value=0, max_value=30 * 86400)


@given(threshold=seconds, due_offset=st.one_of(st.none(), seconds), paused=seconds)
def test_deadline_is_the_earlier_of_due_and_threshold_moved_by_the_pause(
    threshold, due_offset, paused
):
    due = T0 + timedelta(seconds=due_offset) if due_offset is not None else None
    deadline = sla_deadline(
        date_created=T0, date_due=due, threshold_seconds=threshold, paused=timedelta(seconds=paused)
    )
    candidates = [T0 + timedelta(seconds=threshold)] + ([due] if due else [])
    assert deadline == min(candidates) + timedelta(seconds=paused)
    assert deadline >= T0 + timedelta(seconds=paused)


@given(
    pauses=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=7200), st.integers(min_value=0, max_value=7200)
        ),
        max_size=6,
    )
)
def test_each_waiting_spell_moves_the_deadline_by_exactly_its_length(pauses):
    item = WorkItem(date_created=T0, sla_pause_in_waiting=True, sla_threshold_seconds=3600)
    item.sla_deadline = T0 + timedelta(hours=1)
    at, total = T0, timedelta(0)
    for gap, length in pauses:
        at += timedelta(seconds=gap)
        workitem_sla_on_status(item=item, old_category="Open", new_category="Waiting", at=at)
        at += timedelta(seconds=length)
        workitem_sla_on_status(item=item, old_category="Waiting", new_category="InProgress", at=at)
        total += timedelta(seconds=length)
    assert item.sla_paused == total
    assert item.sla_deadline == T0 + timedelta(hours=1) + total
    assert item.sla_paused_since is None


def test_waiting_does_not_pause_when_the_policy_says_so():
    item = WorkItem(
        date_created=T0, sla_pause_in_waiting=False, sla_deadline=T0 + timedelta(hours=1)
    )
    workitem_sla_on_status(item=item, old_category="Open", new_category="Waiting", at=T0)
    workitem_sla_on_status(
        item=item, old_category="Waiting", new_category="Open", at=T0 + timedelta(hours=5)
    )
    assert item.sla_deadline == T0 + timedelta(hours=1)


def test_closing_after_the_deadline_marks_the_breach_at_the_close():
    item = WorkItem(date_created=T0, sla_deadline=T0 + timedelta(hours=1))
    closed = T0 + timedelta(hours=2)
    workitem_sla_on_status(item=item, old_category="InProgress", new_category="Closed", at=closed)
    assert item.sla_breached_at == closed


def test_closing_in_time_is_not_a_breach():
    item = WorkItem(date_created=T0, sla_deadline=T0 + timedelta(hours=1))
    workitem_sla_on_status(
        item=item, old_category="InProgress", new_category="Closed", at=T0 + timedelta(minutes=59)
    )
    assert item.sla_breached_at is None


@pytest.mark.django_db
@override_settings(SLA_DEFAULT_SECONDS=1800)
def test_queue_policy_wins_over_worktype_policy_and_default_applies_without_either():
    q1, q2 = factories.queue(), factories.queue()
    wt = factories.worktype(default_queue=q1)
    assert sla_terms(worktype_id=wt.pk, queue_id=q1.pk).threshold_seconds == 1800
    SlaPolicy.objects.create(worktype=wt, threshold_seconds=600)
    SlaPolicy.objects.create(worktype=wt, queue=q2, threshold_seconds=60, pause_in_waiting=True)
    assert sla_terms(worktype_id=wt.pk, queue_id=q1.pk).threshold_seconds == 600
    terms = sla_terms(worktype_id=wt.pk, queue_id=q2.pk)
    assert (terms.threshold_seconds, terms.pause_in_waiting) == (60, True)


@pytest.mark.django_db
def test_policy_change_recomputes_open_items_in_one_statement(django_assert_num_queries):
    q = factories.queue()
    wt = factories.worktype(default_queue=q)
    policy = SlaPolicy.objects.create(worktype=wt, threshold_seconds=3600)
    open_item = factories.workitem(
        worktype=wt, queue=q, genesys_id="g1", date_created=T0, sla_paused=timedelta(minutes=10)
    )
    due_soon = factories.workitem(
        worktype=wt, queue=q, genesys_id="g2", date_created=T0, date_due=T0 + timedelta(minutes=30)
    )
    closed = factories.workitem(
        worktype=wt,
        queue=q,
        genesys_id="g3",
        date_created=T0,
        date_closed=T0 + timedelta(minutes=5),
        sla_deadline=T0,
    )
    policy.threshold_seconds = 7200
    policy.save()
    with django_assert_num_queries(2):  # the UPDATE and the audit row
        changed = sla_policy_apply(policy=policy, actor="alice")
    assert changed == 2
    open_item.refresh_from_db()
    due_soon.refresh_from_db()
    closed.refresh_from_db()
    assert open_item.sla_deadline == T0 + timedelta(hours=2, minutes=10)
    assert due_soon.sla_deadline == T0 + timedelta(minutes=30)
    assert closed.sla_deadline == T0


@pytest.mark.django_db
def test_sla_start_uses_the_policy_for_the_items_queue():
    q = factories.queue()
    wt = factories.worktype(default_queue=q)
    SlaPolicy.objects.create(worktype=wt, queue=q, threshold_seconds=900, pause_in_waiting=True)
    item = factories.workitem(worktype=wt, queue=q, date_created=T0)
    workitem_sla_start(item=item)
    assert item.sla_deadline == T0 + timedelta(minutes=15)
    assert item.sla_pause_in_waiting is True


def _open_item(**kw):
    q = kw.pop("queue", None) or factories.queue()
    return factories.workitem(queue=q, genesys_id=factories.gid(), date_created=T0, **kw)


@pytest.mark.django_db
def test_sweep_marks_only_open_unpaused_items_past_their_deadline():
    now = T0 + timedelta(hours=2)
    late = _open_item(sla_deadline=T0 + timedelta(hours=1))
    not_yet = _open_item(sla_deadline=T0 + timedelta(hours=3))
    paused = _open_item(sla_deadline=T0 + timedelta(hours=1), sla_paused_since=T0)
    closed = _open_item(
        sla_deadline=T0 + timedelta(hours=1), date_closed=T0 + timedelta(minutes=30)
    )
    result = sla_sweep(now=now)
    assert result.breached == 1
    breached = set(
        WorkItem.objects.filter(sla_breached_at__isnull=False).values_list("pk", flat=True)
    )
    assert breached == {late.pk}
    assert {not_yet.pk, paused.pk, closed.pk}.isdisjoint(breached)
    delivery = Delivery.objects.get()
    assert (delivery.workitem_id, delivery.kind, delivery.payload["slaBreached"]) == (
        late.pk,
        "sla_breach",
        True,
    )
    assert AuditEvent.objects.filter(action="sla.breached", object_id=str(late.pk)).count() == 1


@pytest.mark.django_db
def test_a_sweep_that_breaches_works_with_debug_query_logging_on():
    """DEBUG on (make run) formats every raw query with %: a literal % in raw SQL must be %%, or
    the sweep fails with "unsupported format character" only in development."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    late = _open_item(sla_deadline=T0)
    with CaptureQueriesContext(connection):  # Django's debug cursor, as with DEBUG on
        result = sla_sweep(now=T0 + timedelta(hours=1))
    assert result.breached == 1
    audit = AuditEvent.objects.get(action="sla.breached", object_id=str(late.pk))
    assert audit.context["deadline"] == "2026-11-01T09:00:00.000Z"


@pytest.mark.django_db
def test_sweep_is_idempotent():
    _open_item(sla_deadline=T0)
    now = T0 + timedelta(hours=1)
    assert sla_sweep(now=now).breached == 1
    assert sla_sweep(now=now + timedelta(minutes=1)).breached == 0
    assert Delivery.objects.count() == 1
    assert AuditEvent.objects.filter(action="sla.breached").count() == 1


@pytest.mark.django_db
def test_sweep_delivery_sequences_follow_earlier_deliveries_of_the_item():
    item = _open_item(sla_deadline=T0, last_delivery_sequence=4)
    sla_sweep(now=T0 + timedelta(minutes=1))
    assert Delivery.objects.get(workitem=item).sequence == 5
    item.refresh_from_db()
    assert item.last_delivery_sequence == 5


def test_status_category_values_match_genesys_spelling():
    assert StatusCategory.IN_PROGRESS == "InProgress"


@pytest.mark.django_db
@override_settings(SLA_DEFAULT_SECONDS=1800)
def test_deleting_a_queue_policy_falls_back_to_the_worktype_policy_then_the_default():
    from workitems.services.sla import sla_policy_delete

    q = factories.queue()
    wt = factories.worktype(default_queue=q)
    wide = SlaPolicy.objects.create(worktype=wt, threshold_seconds=600)
    specific = SlaPolicy.objects.create(worktype=wt, queue=q, threshold_seconds=60)
    item = factories.workitem(worktype=wt, queue=q, genesys_id="g1", date_created=T0)
    sla_policy_apply(policy=specific, actor="alice")
    item.refresh_from_db()
    assert item.sla_deadline == T0 + timedelta(seconds=60)
    sla_policy_delete(policy=specific, actor="alice")
    item.refresh_from_db()
    assert item.sla_deadline == T0 + timedelta(seconds=600)
    sla_policy_delete(policy=wide, actor="alice")
    item.refresh_from_db()
    assert item.sla_deadline == T0 + timedelta(seconds=1800)


@pytest.mark.django_db
def test_sweep_rows_written_in_sql_match_what_the_orm_paths_write():
    from workitems.genesys_wire import genesys_datetime
    from workitems.services.outbox import delivery_payload

    deadline = T0 + timedelta(minutes=7, microseconds=123000)
    item = _open_item(sla_deadline=deadline, status_category="InProgress", last_delivery_sequence=2)
    item.status = item.worktype.statuses.get(name="Working")
    item.save(update_fields=["status"])
    now = T0 + timedelta(hours=1)
    sla_sweep(now=now)
    item.refresh_from_db()
    delivery = Delivery.objects.get(workitem=item)
    assert delivery.payload == delivery_payload(
        item=item, sequence=3, sla_breached=True, timestamp=now
    )
    assert delivery.webhook_id.startswith("msg_") and len(delivery.webhook_id) == 36
    assert (delivery.state, delivery.next_attempt_at, delivery.attempts) == ("pending", now, 0)
    audit = AuditEvent.objects.get(action="sla.breached")
    assert (
        audit.actor,
        audit.object_type,
        audit.object_id,
        audit.correlation_id,
        audit.outcome,
    ) == (
        "system",
        "WorkItem",
        str(item.pk),
        item.external_ref,
        "info",
    )
    assert audit.context == {"deadline": genesys_datetime(deadline)}
    assert audit.occurred_at == now


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="row locking needs PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_breach_each_item_once_with_one_delivery_and_audit_each():
    import threading

    from django.db import connection

    items = [_open_item(sla_deadline=T0) for _ in range(200)]
    barrier = threading.Barrier(2)
    results = []

    def sweep(offset):
        try:
            barrier.wait()
            results.append(sla_sweep(now=T0 + timedelta(hours=1, microseconds=offset)).breached)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == len(items)
    assert Delivery.objects.count() == len(items)
    assert Delivery.objects.values("workitem").distinct().count() == len(items)
    assert AuditEvent.objects.filter(action="sla.breached").count() == len(items)
