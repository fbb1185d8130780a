"""The breach forecast: position by priority then age, the measured rate, capacity now, the
worktype's handling time, and the stored per-queue figures the sweep refreshes."""

from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from workitems.models import QueueForecast, StatusTransition
from workitems.services.breach_forecast import (
    Member,
    WaitingItem,
    breach_forecast_refresh,
    forecast_queue,
    handling_by_worktype,
)
from workitems.services.sla import sla_sweep

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
H, M = timedelta(hours=1), timedelta(minutes=1)
ON = Member(joined=True, on_queue=True)
OFF = Member(joined=True, on_queue=False)


def _item(pk, *, deadline, priority=0, age=H, worktype=1, skills=(), paused=False):
    return WaitingItem(
        pk=pk,
        priority=priority,
        created=NOW - age,
        deadline=deadline,
        worktype_id=worktype,
        paused=paused,
        skills=frozenset(skills),
    )


def test_items_are_served_by_priority_then_age_at_the_measured_rate():
    # 8 left in 4 h: 2 per hour, so position k starts k/2 h from now; 30 min handling.
    waiting = [
        _item(1, deadline=NOW + 4 * H, age=3 * H),  # oldest, normal priority: position 1
        _item(2, deadline=NOW + 40 * M, priority=5, age=M),  # urgent: position 0, done 12:30
        _item(3, deadline=NOW + 50 * M, age=2 * H),  # position 2: starts 13:00, breaches
        _item(4, deadline=NOW + 6 * H, age=M),  # position 3: starts 13:30, done 14:00
    ]
    outlook = forecast_queue(
        now=NOW, waiting=waiting, left_in_window=8, members=[ON, ON, OFF], handling={1: 30 * M}
    )
    by_pk = {f.pk: f for f in outlook.items}
    assert [by_pk[pk].position for pk in (2, 1, 3, 4)] == [0, 1, 2, 3]
    assert by_pk[3].start == NOW + H
    assert [pk for pk, f in by_pk.items() if f.breach_at] == [3]
    assert outlook.breaches == {"1h": 1, "4h": 1, "8h": 1}
    assert outlook.rate_per_hour == 2.0 and outlook.clear == 2 * H
    assert outlook.reason == (
        "4 open and waiting, 2.0 leaving per hour over the last 4 h, 2 of 3 members on queue"
    )


def test_nobody_on_queue_means_every_item_breaches_at_its_deadline():
    waiting = [_item(1, deadline=NOW + 30 * M), _item(2, deadline=NOW + 5 * H)]
    outlook = forecast_queue(
        now=NOW, waiting=waiting, left_in_window=40, members=[OFF], handling={}
    )
    assert outlook.rate_per_hour == 0 and outlook.clear is None
    assert outlook.breaches == {"1h": 1, "4h": 1, "8h": 2}
    assert "0 of 1 members on queue" in outlook.reason


def test_paused_and_already_breached_items_wait_but_are_no_forecast():
    waiting = [
        _item(1, deadline=NOW - M, paused=True, age=4 * H),
        _item(2, deadline=NOW - 2 * M, age=3 * H),  # past its deadline, not swept yet
        _item(3, deadline=NOW - 3 * M, age=2 * H),
        _item(4, deadline=NOW + 10 * M),
    ]
    waiting[2] = WaitingItem(**{**waiting[2].__dict__, "breached": True})
    outlook = forecast_queue(now=NOW, waiting=waiting, left_in_window=0, members=[], handling={})
    assert [(f.pk, f.position, f.breach_at) for f in outlook.items] == [
        (1, 0, None),
        (2, 1, None),
        (3, 2, None),
        (4, 3, NOW + 10 * M),
    ]


def test_without_measured_departures_the_capacity_stands_in():
    # Nothing left in 4 h, 3 on queue, 20 min handling: 9 per hour; the 15th starts in 1 h 33.
    outlook = forecast_queue(
        now=NOW,
        waiting=[_item(n, deadline=NOW + 2 * H) for n in range(15)],
        left_in_window=0,
        members=[ON, ON, ON],
        handling={1: 20 * M},
    )
    assert outlook.rate_per_hour == pytest.approx(9.0)
    assert outlook.breaches_total == 0
    assert "assumed 1 per member every 20 min" in outlook.reason


def test_an_item_needing_skills_nobody_on_queue_holds_never_starts():
    spanish = Member(joined=True, on_queue=True, skills=frozenset({"es"}))
    waiting = [_item(1, deadline=NOW + 8 * H, skills={"fr"}), _item(2, deadline=NOW + 8 * H)]
    outlook = forecast_queue(
        now=NOW, waiting=waiting, left_in_window=4, members=[spanish], handling={}
    )
    by_pk = {f.pk: f for f in outlook.items}
    assert by_pk[1].start is None and by_pk[1].breach_at == NOW + 8 * H
    assert by_pk[2].breach_at is None
    assert "1 need skills no on-queue member holds" in outlook.reason


@pytest.mark.django_db
def test_the_sweep_stores_each_queues_forecast_from_items_transitions_and_members():
    q = factories.queue("Claims")
    wt = factories.worktype(default_queue=q)
    factories.member(q, routing_status="IDLE")
    factories.member(q, routing_status="OFFLINE")
    # Four left the line in the last 4 h (1 per hour); each handled in 40 min.
    for n in range(4):
        done = factories.workitem(
            queue=q,
            worktype=wt,
            genesys_id=f"done-{n}",
            date_created=NOW - 5 * H,
            status_category="Closed",
            date_closed=NOW - (3 - n) * H,
        )
        StatusTransition.objects.create(
            workitem=done,
            from_category="Open",
            to_category="InProgress",
            changed_at=NOW - (3 - n) * H - 40 * M,
        )
        StatusTransition.objects.create(
            workitem=done,
            from_category="InProgress",
            to_category="Closed",
            changed_at=NOW - (3 - n) * H,
        )
    assert handling_by_worktype(now=NOW) == {wt.pk: 40 * M}
    for n, deadline in enumerate([NOW + 30 * M, NOW + 90 * M, NOW + 10 * H]):
        factories.workitem(
            queue=q,
            worktype=wt,
            genesys_id=f"wait-{n}",
            status_category="Open",
            date_created=NOW - H + n * M,
            sla_deadline=deadline,
        )
    assert len(breach_forecast_refresh(now=NOW)) == 1
    row = QueueForecast.objects.get(queue_key=q.pk)
    # Positions 0, 1, 2 start now, +1 h, +2 h; done +40 min, +100 min, +160 min.
    assert (row.waiting, row.breaches_1h, row.breaches_4h, row.breaches_8h) == (3, 1, 2, 2)
    assert row.rate_per_hour == 1.0 and row.clear_seconds == 3 * 3600
    assert row.reason == (
        "3 open and waiting, 1.0 leaving per hour over the last 4 h, 1 of 2 members on queue"
    )
    assert [i["deadline"] for i in row.items] == [
        (NOW + 30 * M).isoformat(),
        (NOW + 90 * M).isoformat(),
    ]
    # The sweep refreshes it.
    QueueForecast.objects.all().delete()
    sla_sweep(now=NOW)
    assert QueueForecast.objects.filter(queue_key=q.pk).exists()


@pytest.mark.django_db
def test_a_forecast_that_fails_never_stops_the_sweep_marking_breaches(monkeypatch):
    from workitems.models import WorkItem
    from workitems.services import sla

    q = factories.queue("Claims")
    late = factories.workitem(
        queue=q,
        worktype=factories.worktype(default_queue=q),
        genesys_id="late",
        status_category="Open",
        date_created=NOW - 2 * H,
        sla_deadline=NOW - M,
    )

    def broken(**kwargs):
        raise RuntimeError("forecast broke")

    monkeypatch.setattr(sla, "breach_forecast_refresh", broken)
    result = sla_sweep(now=NOW)

    assert result.breached == 1
    assert WorkItem.objects.get(pk=late.pk).sla_breached_at == NOW
    assert sla.sla_last_sweep()["forecast"] is None
