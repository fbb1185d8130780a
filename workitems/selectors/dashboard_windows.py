"""The dashboard's windows (breach rate and service level over 24 h and 7 days) and its 14-day
chart, summed from the hourly rollup (services/rollup.py), never from the items.

Fourteen days of hours are up to queues × worktypes × 336 rollup rows (70,000 at 25 queues and 8
worktypes): summing them costs more than the rest of the page. Hours before the current one
("settled") rarely change, so the SLA sweep sums them once a minute into a cache entry
(services/rollup.settled_windows_refresh), and a writer that changes a settled hour drops it
(rollup_apply). A page then sums only the current hour's rows and adds the entry; with no entry
for this hour (the minute after the hour turns, a changed settled hour, no sweep yet) it sums all
fourteen days itself. A settled hour changed while the sweep sums (read before the change commits,
written after the drop) leaves the entry one sweep behind: the next sweep replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from django.db.models import BooleanField, Case, Q, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from workitems.models import HourlyRollup
from workitems.services.rollup import hour_of

WINDOWS: dict[str, timedelta] = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}
CHART_DAYS = 14
# Per (queue key, worktype): these counts, in this order.
COUNTS = tuple(f"{n}_{w}" for w in WINDOWS for n in ("breached", "closed", "met"))
Hours = Literal["all", "settled", "current"]


def window_start(window: str, *, now: datetime) -> datetime:
    """A window starts on the hour, so the rollup's hours cover it exactly: "last 24 h" is the
    current hour so far and the 23 before it."""
    return hour_of(now) - WINDOWS[window] + timedelta(hours=1)


def chart_first_day(now: datetime) -> datetime:
    """Local midnight thirteen days before today's: the chart's first day."""
    local = timezone.localtime(now)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=CHART_DAYS - 1)


@dataclass
class WindowCounts:
    # (queue key, worktype id) -> the COUNTS.
    groups: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    # Local date (ISO) -> [breached, closed within SLA].
    days: dict[str, list[int]] = field(default_factory=dict)

    def add(self, other: WindowCounts) -> None:
        for key, counts in other.groups.items():
            mine = self.groups.setdefault(key, [0] * len(COUNTS))
            for i, n in enumerate(counts):
                mine[i] += n
        for day, counts in other.days.items():
            mine = self.days.setdefault(day, [0, 0])
            mine[0] += counts[0]
            mine[1] += counts[1]


def window_counts(*, now: datetime, hours: Hours = "all") -> WindowCounts:
    """The rollup's sums for the windows and the chart as of `now`: over every hour they need
    ("all"), the hours before the current one ("settled"), or the current hour ("current").

    One query grouped by (queue, worktype, local day, in each window) with three plain sums:
    the database folds each hourly row once and returns at most groups × 16 rows."""
    first = min(hour_of(chart_first_day(now)), *(window_start(w, now=now) for w in WINDOWS))
    bounds = {
        "all": Q(hour__gte=first, hour__lte=now),
        "settled": Q(hour__gte=first, hour__lt=hour_of(now)),
        "current": Q(hour__gte=hour_of(now), hour__lte=now),
    }[hours]
    in_window = {
        f"in_{w}": Case(
            When(hour__gte=window_start(w, now=now), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
        for w in WINDOWS
    }
    parts = (
        HourlyRollup.objects.filter(bounds)
        .values(
            "queue_key",
            "worktype_id",
            day=TruncDate("hour", tzinfo=timezone.get_current_timezone()),
            **in_window,
        )
        .annotate(
            n_breached=Sum("breached"), n_closed=Sum("closed"), n_met=Sum("closed_within_sla")
        )
        .order_by()
    )
    first_day = chart_first_day(now).date()
    result = WindowCounts()
    for part in parts:
        counts = result.groups.setdefault((part["queue_key"], part["worktype_id"]), [0] * 6)
        for offset, window in ((0, "24h"), (3, "7d")):
            if part[f"in_{window}"]:
                counts[offset] += part["n_breached"]
                counts[offset + 1] += part["n_closed"]
                counts[offset + 2] += part["n_met"]
        if part["day"] >= first_day:
            day = result.days.setdefault(part["day"].isoformat(), [0, 0])
            day[0] += part["n_breached"]
            day[1] += part["n_met"]
    return result


def settled_stamp(now: datetime) -> str:
    """What a settled summary holds good for: the hour, and the zone and date its days are in."""
    zone = timezone.get_current_timezone_name()
    return f"{hour_of(now).isoformat()} {zone} {timezone.localdate(now).isoformat()}"


def settled_summary(counts: WindowCounts, *, now: datetime) -> dict:
    """The cache entry's form: plain lists, so any cache backend stores it."""
    return {
        "stamp": settled_stamp(now),
        "groups": [[q, wt, *c] for (q, wt), c in counts.groups.items()],
        "days": counts.days,
    }


def dashboard_window_counts(*, now: datetime, settled: dict | None) -> WindowCounts:
    """The windows as of `now`: the settled summary (when it holds good for this hour) plus the
    current hour, or else every hour summed here."""
    if not settled or settled.get("stamp") != settled_stamp(now):
        return window_counts(now=now)
    result = WindowCounts(
        groups={(q, wt): list(c) for q, wt, *c in settled["groups"]},
        days={day: list(c) for day, c in settled["days"].items()},
    )
    result.add(window_counts(now=now, hours="current"))
    return result
