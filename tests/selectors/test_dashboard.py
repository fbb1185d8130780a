"""The dashboard's figures on a fixture whose every number is known, and the changelist filters
that its links use: each filter selects exactly the items its figure counts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.test import RequestFactory

from tests import factories
from workitems.admin.sla_filters import (
    AgeBucketFilter,
    BreachedWindowFilter,
    ClosedWindowFilter,
    DeadlineAheadFilter,
    DueWindowFilter,
    OpenFilter,
    SlaStateFilter,
)
from workitems.models import WorkItem
from workitems.selectors.dashboard import (
    CHART_DAYS,
    health_figures,
    workitem_dashboard,
)
from workitems.services.rollup import rollup_rebuild

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
H, M, D = timedelta(hours=1), timedelta(minutes=1), timedelta(days=1)


def _item(q, wt, *, created, deadline=None, closed=None, breached_at=None, paused_since=None, **kw):
    return factories.workitem(
        queue=q,
        worktype=wt,
        genesys_id=factories.gid(),
        local_state="submitted",
        date_created=created,
        date_closed=closed,
        sla_threshold_seconds=3600,
        sla_deadline=deadline if deadline is not None else created + H,
        sla_breached_at=breached_at,
        sla_paused_since=paused_since,
        **kw,
    )


def build_fixture(now):
    """Items with known times relative to `now`; the comments give what each one counts as."""
    qa, qb = factories.queue("Alpha"), factories.queue("Bravo")
    w1 = factories.worktype(name="Claims", default_queue=qa)
    w2 = factories.worktype(name="Disputes", default_queue=qb)
    items = {
        # Queue Alpha, worktype Claims: open.
        "fresh": _item(qa, w1, created=now - 5 * M),  # 0-15m, on track (55 min of 60 left)
        "young": _item(qa, w1, created=now - 20 * M),  # 15-30m, on track (40 min left)
        "risky": _item(qa, w1, created=now - 50 * M),  # 30-60m, at risk (10 min < 12 min left)
        "late": _item(qa, w1, created=now - 2 * H, breached_at=now - H),  # 1-4h, breached, due 24h
        # 24h+; past its deadline but not swept yet: breached all the same; due in 7 d, not 24 h.
        "unswept": _item(qa, w1, created=now - 30 * H),
        # 1-4h; paused: past its projected deadline but its clock is stopped, so not breached.
        "paused": _item(qa, w1, created=now - 3 * H, paused_since=now - 150 * M),
        # Closed.
        "met": _item(qa, w1, created=now - 4 * H, deadline=now - 150 * M, closed=now - 3 * H),
        "missed": _item(qa, w1, created=now - 10 * H, closed=now - 8 * H, breached_at=now - 9 * H),
        "met_3d": _item(qa, w1, created=now - 3 * D, closed=now - 3 * D + 30 * M),
        "old": _item(qa, w1, created=now - 20 * D, closed=now - 20 * D + 2 * H),
        # Queue Bravo, worktype Disputes.
        "bravo": _item(qb, w2, created=now - 10 * H, breached_at=now - 9 * H),  # 4-24h, breached
        # No queue set (the worktype's default applies): Claims.
        "noqueue": _item(None, w1, created=now - M),  # 0-15m, on track
        # A draft is nowhere.
        "draft": factories.workitem(queue=qa, worktype=w1),
    }
    # The items were written directly, not by the writers that keep the rollup.
    rollup_rebuild()
    return {"qa": qa, "qb": qb, "w1": w1, "w2": w2, "items": items}


@pytest.mark.django_db
def test_every_figure_of_a_known_fixture():
    fx = build_fixture(NOW)
    data = workitem_dashboard(now=NOW)

    queues = {row.name: row for row in data.by_queue}
    assert list(queues) == ["Alpha", "Bravo", "No queue set (worktype default)"]
    a = queues["Alpha"].figures
    assert queues["Alpha"].pk == fx["qa"].pk
    assert a.open == 6
    assert a.buckets == {"0-15m": 1, "15-30m": 1, "30-60m": 1, "1-4h": 2, "4-24h": 0, "24h+": 1}
    assert a.oldest_age(now=NOW) == 30 * H
    assert a.at_risk == 1
    assert a.breached_open == 2
    assert a.paused == 1
    # Windows read the rollup: breaches as marked (unswept is not yet), closes.
    # Decided in 24 h: breached late, missed; met. In 7 d: plus met_3d.
    assert (a.breached_24h, a.decided_24h) == (2, 3)
    assert a.breach_rate("24h") == pytest.approx(2 / 3)
    assert (a.breached_7d, a.decided_7d) == (2, 4)
    # Closed in 24 h: met, missed; in 7 d: plus met_3d.
    assert (a.met_24h, a.closed_24h) == (1, 2)
    assert (a.met_7d, a.closed_7d) == (2, 3)
    assert a.service_level("7d") == pytest.approx(2 / 3)

    b = queues["Bravo"].figures
    assert b.open == 1
    assert b.buckets == {"0-15m": 0, "15-30m": 0, "30-60m": 0, "1-4h": 0, "4-24h": 1, "24h+": 0}
    assert b.oldest_age(now=NOW) == 10 * H
    assert (b.at_risk, b.breached_open) == (0, 1)
    assert (b.breached_24h, b.decided_24h, b.breached_7d, b.decided_7d) == (1, 1, 1, 1)
    assert (b.closed_24h, b.closed_7d) == (0, 0)
    assert b.service_level("24h") is None  # nothing closed: "—"

    n = queues["No queue set (worktype default)"]
    assert n.pk is None
    assert n.figures.open == 1 and n.figures.buckets["0-15m"] == 1
    assert n.figures.oldest_age(now=NOW) == M
    assert n.figures.breach_rate("24h") is None

    worktypes = {row.name: row.figures for row in data.by_worktype}
    assert list(worktypes) == ["Claims", "Disputes"]
    assert worktypes["Claims"].open == 7
    assert worktypes["Claims"].buckets["0-15m"] == 2
    assert worktypes["Disputes"].open == 1

    t = data.total.figures
    assert t.open == 8
    assert t.buckets == {"0-15m": 2, "15-30m": 1, "30-60m": 1, "1-4h": 2, "4-24h": 1, "24h+": 1}
    assert t.oldest_age(now=NOW) == 30 * H
    assert (t.at_risk, t.breached_open, t.paused) == (1, 3, 1)
    assert (t.breached_24h, t.decided_24h, t.breached_7d, t.decided_7d) == (3, 4, 3, 5)
    assert (t.met_24h, t.closed_24h, t.met_7d, t.closed_7d) == (1, 2, 2, 3)

    # Daily breach rate: breached ÷ decided per day, 14 days ending today.
    assert len(data.days) == CHART_DAYS
    assert data.days[-1].day == NOW.date()
    assert data.days[0].day == (NOW - 13 * D).date()
    by_day = {d.day: (d.breached, d.due) for d in data.days if d.due}
    assert by_day == {
        NOW.date(): (3, 4),  # breached late, missed, bravo; met
        (NOW - 3 * D).date(): (0, 1),  # met_3d
    }


@pytest.mark.django_db
def test_chart_days_are_local_days():
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    q = factories.queue()
    wt = factories.worktype(default_queue=q)
    # 03:30 UTC on 20 Nov is 22:30 on 19 Nov in New York: the bar of the 19th.
    # Deadline 03:30 UTC; closed late at 04:00 UTC (23:00 in New York), breached then.
    _item(q, wt, created=NOW - 9.5 * H, closed=NOW - 8 * H, breached_at=NOW - 8 * H)
    rollup_rebuild()
    with timezone.override(ZoneInfo("America/New_York")):
        data = workitem_dashboard(now=NOW)
    assert data.days[-1].day.isoformat() == "2026-11-20"
    assert data.days[-1].start.utcoffset() == -5 * H
    assert data.days[-1].start.hour == 0
    by_day = {d.day.isoformat(): (d.breached, d.due) for d in data.days if d.due}
    assert by_day == {"2026-11-19": (1, 1)}


@pytest.mark.django_db
def test_empty_database_has_no_rows_and_no_rates():
    data = workitem_dashboard(now=NOW)
    assert data.by_queue == [] and data.by_worktype == []
    assert data.total.figures.open == 0
    assert data.total.figures.oldest_age(now=NOW) is None
    assert data.total.figures.breach_rate("24h") is None
    assert data.total.figures.service_level("7d") is None
    assert all(d.rate is None for d in data.days)


@pytest.mark.django_db
def test_at_risk_boundary_is_twenty_percent_of_the_threshold():
    q = factories.queue()
    wt = factories.worktype(default_queue=q)
    # Threshold 1 h: 20 % is 12 min.
    _item(q, wt, created=NOW - 48 * M - timedelta(seconds=1))  # 11:59 left: at risk
    _item(q, wt, created=NOW - 48 * M + timedelta(seconds=1))  # 12:01 left: on track
    _item(q, wt, created=NOW - 90 * M, paused_since=NOW - 70 * M)  # paused: neither
    data = workitem_dashboard(now=NOW)
    assert data.total.figures.at_risk == 1


@pytest.mark.django_db
def test_health_counts():
    from django_q.models import Failure, Success

    from workitems.models import Delivery, InboundEvent

    def event(state, received_at):
        return InboundEvent.objects.create(state=state, received_at=received_at, body="{}")

    event("failed", NOW - H)
    event("failed", NOW - 2 * H)
    event("accepted", NOW - 2 * M)  # waiting over a minute
    event("accepted", NOW - timedelta(seconds=10))  # just arrived
    event("processed", NOW - H)
    item = factories.workitem()
    for seq, state in enumerate(["failing", "dead", "dead", "pending", "delivered"], start=1):
        Delivery.objects.create(
            workitem=item,
            sequence=seq,
            payload={},
            webhook_id=f"msg_{seq}",
            state=state,
            next_attempt_at=NOW,
        )
    task = {"func": "x", "started": NOW - 2 * H, "name": "t"}
    Failure.objects.create(id="f1", stopped=NOW - H, success=False, **task)
    Failure.objects.create(id="f2", stopped=NOW - 2 * D, success=False, **task)
    Success.objects.create(id="s1", stopped=NOW - H, success=True, **task)

    h = health_figures(now=NOW)
    assert (h.events_failed, h.events_waiting) == (2, 1)
    assert (h.deliveries_failing, h.deliveries_dead) == (1, 2)
    assert h.task_failures == 1
    assert h.sweep_at is None and h.sweep_stale


@pytest.mark.django_db
def test_health_reads_the_last_sweep(settings):
    from django.core.cache import cache

    from workitems.services.sla import LAST_SWEEP_CACHE_KEY

    cache.set(
        LAST_SWEEP_CACHE_KEY, {"at": (NOW - 2 * M).isoformat(), "seconds": 0.25, "breached": 3}
    )
    try:
        h = health_figures(now=NOW)
        assert h.sweep_at == NOW - 2 * M and h.sweep_seconds == 0.25 and h.sweep_breached == 3
        assert not h.sweep_stale
        assert health_figures(now=NOW + 4 * M).sweep_stale  # six minutes old
    finally:
        cache.delete(LAST_SWEEP_CACHE_KEY)


# --- The filters, applied directly ------------------------------------------------------------


def _filtered(filter_class, value):
    request = RequestFactory().get("/", {filter_class.parameter_name: value})
    params = {filter_class.parameter_name: [value]}
    f = filter_class(request, params, WorkItem, admin.site._registry.get(WorkItem))
    return set(f.queryset(request, WorkItem.objects.all()).values_list("external_ref", flat=True))


@pytest.mark.django_db
def test_filters_select_the_items_their_figures_count():
    from django.utils import timezone

    # The filters use the real clock, so the fixture is built around it.
    fx = build_fixture(timezone.now())
    ref = {name: item.external_ref for name, item in fx["items"].items()}

    def refs(*names):
        return {ref[n] for n in names}

    open_items = refs("fresh", "young", "risky", "late", "unswept", "paused", "bravo", "noqueue")
    assert _filtered(OpenFilter, "yes") == open_items
    assert _filtered(OpenFilter, "no") == set(ref.values()) - open_items
    assert _filtered(AgeBucketFilter, "0-15m") == refs("fresh", "noqueue")
    assert _filtered(AgeBucketFilter, "15-30m") == refs("young")
    assert _filtered(AgeBucketFilter, "30-60m") == refs("risky")
    assert _filtered(AgeBucketFilter, "1-4h") == refs("late", "paused")
    assert _filtered(AgeBucketFilter, "4-24h") == refs("bravo")
    assert _filtered(AgeBucketFilter, "24h+") == refs("unswept")
    assert _filtered(SlaStateFilter, "at_risk") == refs("risky")
    assert _filtered(SlaStateFilter, "on_track") == refs("fresh", "young", "noqueue")
    assert _filtered(SlaStateFilter, "paused") == refs("paused")
    assert _filtered(SlaStateFilter, "breached_open") == refs("late", "unswept", "bravo")
    assert _filtered(SlaStateFilter, "breached") == refs(
        "late", "unswept", "bravo", "missed", "old"
    )
    assert _filtered(SlaStateFilter, "met") == refs("met", "met_3d")
    assert _filtered(DueWindowFilter, "24h") == refs("late", "paused", "met", "missed", "bravo")
    assert _filtered(DueWindowFilter, "7d") == refs(
        "late", "paused", "met", "missed", "bravo", "unswept", "met_3d"
    )
    assert _filtered(ClosedWindowFilter, "24h") == refs("met", "missed")
    assert _filtered(ClosedWindowFilter, "7d") == refs("met", "missed", "met_3d")
    assert _filtered(BreachedWindowFilter, "24h") == refs("late", "missed", "bravo")
    assert _filtered(DeadlineAheadFilter, "15m") == refs("risky")
    assert _filtered(DeadlineAheadFilter, "1h") == refs("fresh", "young", "risky", "noqueue")
    assert _filtered(DeadlineAheadFilter, "4h") == refs("fresh", "young", "risky", "noqueue")
    # An unknown value filters nothing.
    assert _filtered(SlaStateFilter, "bogus") == set(ref.values())
