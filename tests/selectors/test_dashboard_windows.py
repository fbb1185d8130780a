"""The dashboard's windows read the settled hours from the sweep's summary and the current hour
live; whatever path they take, they equal summing every hour of the rollup."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.utils import timezone

from tests import factories
from tests.selectors.test_dashboard import _item
from workitems.selectors.dashboard import dashboard_cache_entries, workitem_dashboard
from workitems.selectors.dashboard_windows import dashboard_window_counts, window_counts
from workitems.services.rollup import (
    SETTLED_WINDOWS_CACHE_KEY,
    RollupDelta,
    rollup_apply,
    rollup_rebuild,
    settled_windows_refresh,
)
from workitems.services.sla import sla_sweep

# Twenty minutes into the hour, so the current hour has rows of its own.
NOW = datetime(2026, 11, 20, 12, 20, tzinfo=UTC)
H, M, D = timedelta(hours=1), timedelta(minutes=1), timedelta(days=1)


@pytest.fixture
def history():
    """Closes and breaches in the current hour, earlier today, days ago and beyond the windows."""
    q = factories.queue("Alpha")
    wt = factories.worktype(name="Claims", default_queue=q)
    other = factories.worktype(name="Disputes", default_queue=q)
    for created, closed, breached in [
        (NOW - 30 * M, NOW - 5 * M, None),  # this hour: met
        (NOW - 3 * H, NOW - 10 * M, NOW - 2 * H),  # breached 2 h ago, closed this hour
        (NOW - 5 * H, NOW - 4 * H, None),  # earlier today: met
        (NOW - 3 * D, NOW - 3 * D + 30 * M, None),  # 3 days ago: met
        (NOW - 9 * D, NOW - 9 * D + 2 * H, NOW - 9 * D + H),  # 9 days ago: chart only
        (NOW - 20 * D, NOW - 20 * D + H, None),  # beyond the chart
    ]:
        _item(q, wt, created=created, closed=closed, breached_at=breached)
    _item(q, other, created=NOW - 2 * H, breached_at=NOW - H)  # open, breached an hour ago
    rollup_rebuild()
    cache.delete(SETTLED_WINDOWS_CACHE_KEY)


def _settled():
    return cache.get(SETTLED_WINDOWS_CACHE_KEY)


@pytest.mark.django_db
def test_the_settled_summary_plus_the_current_hour_equals_summing_every_hour(history):
    everything = window_counts(now=NOW)
    assert everything.groups and everything.days  # the fixture counts for something

    settled_windows_refresh(now=NOW - 10 * M)  # a sweep earlier in the same hour
    combined = dashboard_window_counts(now=NOW, settled=_settled())

    assert combined == everything
    # Not the same thing by accident: the summary alone lacks this hour's closes.
    assert window_counts(now=NOW, hours="settled") != everything


@pytest.mark.django_db
def test_a_summary_from_the_previous_hour_is_not_used(history):
    settled_windows_refresh(now=NOW - H)
    stale = _settled()
    # Something the summary could not know: a close in the hour it took as current.
    _item(
        factories.queue("Bravo"),
        factories.worktype(name="Other"),
        created=NOW - 2 * H,
        closed=NOW - 50 * M,
    )
    rollup_rebuild()

    assert dashboard_window_counts(now=NOW, settled=stale) == window_counts(now=NOW)


@pytest.mark.django_db
def test_a_summary_made_in_another_time_zone_is_not_used(history):
    settled_windows_refresh(now=NOW - 5 * M)  # days in UTC
    with timezone.override(ZoneInfo("America/New_York")):
        assert dashboard_window_counts(now=NOW, settled=_settled()) == window_counts(now=NOW)
        assert workitem_dashboard(now=NOW).days[-1].day.isoformat() == "2026-11-20"


@pytest.mark.django_db
def test_a_change_to_a_settled_hour_drops_the_summary(history, django_capture_on_commit_callbacks):
    settled_windows_refresh(now=timezone.now())
    assert _settled() is not None
    q = factories.queue("Charlie")
    wt = factories.worktype(name="Late")
    delta = RollupDelta()
    delta.change((), (((q.pk, wt.pk, timezone.now() - 3 * H), "closed"),))

    with django_capture_on_commit_callbacks(execute=True):
        rollup_apply(delta)

    assert _settled() is None


@pytest.mark.django_db
def test_a_change_to_the_current_hour_keeps_the_summary(
    history, django_capture_on_commit_callbacks
):
    settled_windows_refresh(now=timezone.now())
    q = factories.queue("Charlie")
    wt = factories.worktype(name="Late")
    delta = RollupDelta()
    delta.change((), (((q.pk, wt.pk, timezone.now()), "closed"),))

    with django_capture_on_commit_callbacks(execute=True):
        rollup_apply(delta)

    assert _settled() is not None


@pytest.mark.django_db
def test_the_sweep_keeps_the_summary_the_dashboard_reads(history):
    sla_sweep(now=NOW)
    sweep, settled = dashboard_cache_entries()
    assert sweep["at"] == NOW.isoformat()
    assert settled is not None

    with_summary = workitem_dashboard(now=NOW, sweep=sweep, settled=settled)
    without = workitem_dashboard(now=NOW, sweep=sweep, settled=None)

    def figures(data):
        return [(r.name, r.figures) for r in data.by_queue + data.by_worktype], [
            (d.day, d.breached, d.due) for d in data.days
        ]

    assert figures(with_summary) == figures(without)
    assert with_summary.total.figures.closed_7d == 4  # today ×3, 3 days ago
