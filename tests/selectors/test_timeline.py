"""A work item's timeline: every source merged newest first, each read with a bounded query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from audits.models import AuditEvent, Outcome
from tests import factories
from workitems.models import Delivery, LocalState, StatusCategory, StatusTransition
from workitems.selectors.timeline import workitem_timeline

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 7, 1, 9, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def audit(item, action: str, when: datetime, outcome=Outcome.SUCCESS, actor="sam", **context):
    # Written at `when` (the table is append-only: a row's time is set as it is inserted).
    AuditEvent.objects.create(
        occurred_at=when,
        actor=actor,
        action=action,
        object_type="WorkItem",
        object_id=str(item.pk),
        correlation_id=item.external_ref,
        outcome=outcome,
        context=context,
    )


def change(item, before: tuple[str, str], after: tuple[str, str], when: datetime, **kw):
    return StatusTransition.objects.create(
        workitem=item,
        from_status_name=before[0],
        from_category=before[1],
        to_status_name=after[0],
        to_category=after[1],
        to_status_id=f"id-{after[0]}",
        changed_at=when,
        **kw,
    )


@pytest.fixture
def item():
    wt = factories.worktype(default_queue=factories.queue())
    return factories.workitem(
        worktype=wt,
        genesys_id="wi-1",
        local_state=LocalState.SUBMITTED,
        status=wt.statuses.get(name="Done"),
        status_category=StatusCategory.CLOSED,
        date_created=at(0),
        date_closed=at(95),
        sla_threshold_seconds=3600,
        sla_deadline=at(70),  # 60 min + 10 min paused
        sla_pause_in_waiting=True,
        sla_paused=timedelta(minutes=10),
        sla_breached_at=at(95),
    )


def test_the_story_runs_newest_first_across_every_source(item):
    audit(item, "workitem.create", at(-30), source="csv import", import_batch=7)
    audit(item, "workitem.check_routability", at(-20), verdict="not_routable", failed=["queue"])
    audit(item, "workitem.edit", at(-15), fields=["queue"], labels=["queue"], verdict_stale=True)
    audit(item, "workitem.check_routability", at(-10), verdict="routable", failed=[], warned=[])
    audit(item, "workitem.submit.requested", at(-5))
    audit(item, "workitem.submit", at(0), genesys_id="wi-1", found_existing=False)
    change(
        item,
        ("New", "Open"),
        ("Working", "InProgress"),
        at(12) + timedelta(seconds=7),
        assignee_name="Ben Hartley",
    )
    change(item, ("Working", "InProgress"), ("On hold", "Waiting"), at(40))
    change(item, ("On hold", "Waiting"), ("Working", "InProgress"), at(50))
    change(item, ("Working", "InProgress"), ("Done", "Closed"), at(95))
    Delivery.objects.create(
        workitem=item,
        sequence=1,
        payload={"taskStatus": "Working"},
        webhook_id="msg_1",
        next_attempt_at=at(13),
        state=Delivery.State.DELIVERED,
        attempts=1,
        delivered_at=at(13),
        last_status_code=200,
    )
    Delivery.objects.filter(sequence=1).update(created_at=at(12.2))

    entries = workitem_timeline(item=item, now=at(120)).entries

    titles = [e.title for e in entries]
    assert titles == [
        "SLA breached",
        "Status Working → Done",
        "SLA clock resumed",
        "Status On hold → Working",
        "SLA clock paused",
        "Status Working → On hold",
        "Delivery #1 downstream: status Working",
        "Status New → Working",
        "SLA clock started",
        "Created in Genesys in status New",
        "Submitted: created in Genesys",
        "Submission requested",
        "Routability checked: Routable",
        "Edited",
        "Routability checked: Not routable",
        "Imported from a CSV file",
    ]
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)


def test_a_status_change_shows_the_second_the_time_in_status_and_the_assignee(item):
    change(
        item,
        ("New", "Open"),
        ("Working", "InProgress"),
        at(12) + timedelta(seconds=7),
        assignee_name="Ben Hartley",
    )
    change(item, ("Working", "InProgress"), ("Done", "Closed"), at(95))

    entries = {e.title: e for e in workitem_timeline(item=item, now=at(120)).entries}

    working = entries["Status New → Working"]
    assert working.when == "2026-07-01 09:12:07 UTC"
    assert working.time_in_status == timedelta(minutes=82, seconds=53)
    assert working.time_in_status_text == "1 h 22 min"
    assert working.assignee == "Ben Hartley"
    created = entries["Created in Genesys in status New"]
    assert created.time_in_status_text == "12 min 07 s"
    assert entries["Status Working → Done"].time_in_status is None  # closed: no clock


def test_the_current_status_counts_its_time_so_far(item):
    type(item).objects.filter(pk=item.pk).update(date_closed=None, sla_breached_at=None)
    item.refresh_from_db()
    change(item, ("New", "Open"), ("Working", "InProgress"), at(10))

    [current] = [e for e in workitem_timeline(item=item, now=at(25)).entries if e.current]

    assert current.title == "Status New → Working"
    assert current.time_in_status_text == "15 min so far"


def test_a_failed_submission_and_a_dead_delivery_say_why(item):
    audit(item, "workitem.submit", at(0), outcome=Outcome.FAILURE, error="Bad queue (400)")
    Delivery.objects.create(
        workitem=item,
        sequence=1,
        kind="sla_breach",
        payload={},
        webhook_id="msg_2",
        next_attempt_at=at(1),
        state=Delivery.State.DEAD,
        attempts=8,
        last_status_code=503,
        last_error="Service Unavailable",
    )

    entries = {e.title: e for e in workitem_timeline(item=item, now=at(120)).entries}

    failed = entries["Submission failed"]
    assert (failed.detail, failed.outcome) == ("Bad queue (400)", "failure")
    dead = entries["Delivery #1 downstream: SLA breach"]
    assert dead.detail == "dead (gave up) after 8 attempts: HTTP 503; Service Unavailable"
    assert dead.outcome == "failure" and dead.ref == ("delivery", dead.ref[1])


def test_an_assignment_without_a_status_change_is_told_and_status_events_are_not_repeated(item):
    t = change(item, ("New", "Open"), ("Working", "InProgress"), at(5))
    audit(
        item,
        "workitem.event.applied",
        at(5),
        actor="genesys",
        transition_id=t.pk,
        fields=["status"],
    )
    audit(
        item,
        "workitem.event.applied",
        at(8),
        actor="genesys",
        assignee={"from": "", "to": "Ben Hartley", "to_id": "u-1"},
        fields=["assignee_id"],
    )
    audit(item, "sla.breached", at(95), actor="system")

    titles = [e.title for e in workitem_timeline(item=item, now=at(120)).entries]

    assert "Assigned to Ben Hartley" in titles
    assert titles.count("Status New → Working") == 1
    assert titles.count("SLA breached") == 1
    assert "Updated in Genesys" not in titles


def test_each_source_is_one_bounded_query_and_truncation_is_said(item, django_assert_num_queries):
    for i in range(5):
        change(item, ("A", "Open"), ("B", "InProgress"), at(i))
        audit(item, "workitem.submit.requested", at(i))

    with django_assert_num_queries(3):
        timeline = workitem_timeline(item=item, now=at(120), limit=3)

    assert timeline.truncated
    assert sum(1 for e in timeline.entries if e.title == "Status A → B") == 3


def test_an_item_genesys_never_had_costs_one_query(django_assert_num_queries):
    draft = factories.workitem()
    audit(draft, "workitem.create", at(0), source="form")
    with django_assert_num_queries(1):
        entries = workitem_timeline(item=draft, now=at(1)).entries
    assert [e.title for e in entries] == ["Created in the portal"]
