"""The supervisor dashboard's figures, from a few aggregate queries.

Definitions (docs/SLA.md), as implemented here and by the changelist filters in
`workitems.admin.sla_filters` (both build their WHERE clauses from the Q builders below, so every
number on the dashboard and the list it links to select exactly the same rows):

- **Open**: submitted to Genesys (`genesys_id` set) and not closed (`date_closed` empty).
- **Age**: now minus Genesys `date_created`. **Aging buckets**: 0–15 min, 15–30 min, 30–60 min,
  1–4 h, 4–24 h, > 24 h, over open items (an item Genesys has not yet dated is in no bucket).
- **Breached**: not closed by its SLA deadline: marked by the sweep (`sla_breached_at`), or open,
  unpaused and past its deadline (the sweep's own rule, so a sweep running late changes nothing
  here), or closed after its deadline.
- **At risk**: open, unpaused, not breached, less than 20 % of its threshold left before the
  deadline. **On track**: open, unpaused, not breached, at least 20 % left.
- **Breach rate** over a window: items whose breach was marked in the window ÷ items whose SLA was
  decided in the window (breached, or closed within SLA). It counts breaches of items still open.
- **Service level** over a window: items closed in the window by their deadline ("met") ÷ items
  closed in the window. It counts closed items only, so a queue can show a high breach rate (many
  open items breaching) beside a fair service level (what did close, mostly closed in time).
- Windows start on the hour (the last 24 h: this hour so far and the 23 before), because their
  figures come from the hourly rollup (services/rollup.py), not from the items.

Every query takes `now` so a caller (and a test) decides what "now" is.

Queries: open items (served by the partial index `workitem_open_by_queue`, whose predicate is
exactly "open"), windows (the hourly rollup's last 14 days: at most queues × worktypes × 336 rows
whatever the history), names, health.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta

from django.core.cache import cache
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    Q,
    Value,
    When,
)
from django.utils import timezone

from audits.models import AuditEvent
from workitems.models import (
    Delivery,
    InboundEvent,
    Queue,
    QueueForecast,
    WorkItem,
    WorkType,
)
from workitems.selectors.dashboard_windows import (
    CHART_DAYS,
    WINDOWS,
    chart_first_day,
    dashboard_window_counts,
    window_start,
)
from workitems.selectors.dashboard_windows import COUNTS as WINDOW_COUNTS
from workitems.services.breach_forecast import forecast_from_summary
from workitems.services.reconcile import HEALED as RECONCILE_HEALED
from workitems.services.rollup import SETTLED_WINDOWS_CACHE_KEY
from workitems.services.sla import AT_RISK_SHARE, LAST_SWEEP_CACHE_KEY, sla_last_sweep

# --- Definitions as Q objects (shared with the changelist filters) ------------------------------

# (key used in URLs, label, lower age bound, upper age bound). Bounds: lower ≤ age < upper.
AGE_BUCKETS: tuple[tuple[str, str, timedelta | None, timedelta | None], ...] = (
    ("0-15m", "0–15 min", None, timedelta(minutes=15)),
    ("15-30m", "15–30 min", timedelta(minutes=15), timedelta(minutes=30)),
    ("30-60m", "30–60 min", timedelta(minutes=30), timedelta(hours=1)),
    ("1-4h", "1–4 h", timedelta(hours=1), timedelta(hours=4)),
    ("4-24h", "4–24 h", timedelta(hours=4), timedelta(hours=24)),
    ("24h+", "> 24 h", timedelta(hours=24), None),
)
AGE_BUCKET_KEYS = tuple(key for key, *_ in AGE_BUCKETS)

WINDOW_LABELS = {"24h": "24 h", "7d": "7 days"}
WAITING_EVENT_AGE = timedelta(minutes=1)
SWEEP_STALE_AFTER = timedelta(minutes=5)
FAILURE_WINDOW = timedelta(hours=24)


def open_q() -> Q:
    """Open: in Genesys and not closed. Exactly the predicate of index workitem_open_by_queue."""
    return Q(genesys_id__isnull=False, date_closed__isnull=True)


def age_bucket_q(key: str, *, now: datetime) -> Q:
    """Open items whose age (now − date_created) is in the bucket `key`."""
    for bucket_key, _label, lower, upper in AGE_BUCKETS:
        if bucket_key == key:
            q = open_q() & Q(date_created__isnull=False)
            if lower is not None:
                q &= Q(date_created__lte=now - lower)
            if upper is not None:
                q &= Q(date_created__gt=now - upper)
            return q
    raise ValueError(f"unknown age bucket {key!r}")


def _risk_edge(now: datetime) -> ExpressionWrapper:
    """now + AT_RISK_SHARE × the item's threshold: a deadline before this has < 20 % left."""
    # The column is a PositiveIntegerField; SQLite's duration arithmetic only multiplies plain
    # integers, hence the first wrapper; the second tells the addition it adds a duration.
    threshold = ExpressionWrapper(F("sla_threshold_seconds"), output_field=IntegerField())
    share = ExpressionWrapper(
        threshold * Value(timedelta(seconds=AT_RISK_SHARE)), output_field=DurationField()
    )
    return ExpressionWrapper(
        Value(now, output_field=DateTimeField()) + share, output_field=DateTimeField()
    )


def breached_q(*, now: datetime) -> Q:
    """Breached (open or closed): not closed by its deadline."""
    return (
        Q(sla_breached_at__isnull=False)
        | Q(date_closed__isnull=True, sla_paused_since__isnull=True, sla_deadline__lte=now)
        | Q(date_closed__gt=F("sla_deadline"))
    )


def breached_open_q(*, now: datetime) -> Q:
    return open_q() & breached_q(now=now)


def _unbreached_running_q(*, now: datetime) -> Q:
    """Open, unpaused, not breached yet: the clock runs and the deadline is still ahead."""
    return open_q() & Q(
        sla_paused_since__isnull=True,
        sla_breached_at__isnull=True,
        sla_deadline__gt=now,
        sla_threshold_seconds__isnull=False,
    )


def at_risk_q(*, now: datetime) -> Q:
    """Open, unpaused, not breached, less than 20 % of its threshold left."""
    return _unbreached_running_q(now=now) & Q(sla_deadline__lt=_risk_edge(now))


def on_track_q(*, now: datetime) -> Q:
    """Open, unpaused, not breached, at least 20 % of its threshold left."""
    return _unbreached_running_q(now=now) & Q(sla_deadline__gte=_risk_edge(now))


def paused_q() -> Q:
    """Open with the SLA clock stopped (a Waiting status under a pausing policy)."""
    return open_q() & Q(sla_paused_since__isnull=False)


def met_q() -> Q:
    """Closed by its deadline (an item closed with no SLA deadline had nothing to miss)."""
    return Q(date_closed__isnull=False, sla_breached_at__isnull=True) & (
        Q(sla_deadline__isnull=True) | Q(date_closed__lte=F("sla_deadline"))
    )


# "Breaching in the next …": list filter keys and how far ahead each looks.
AHEAD: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
}
AHEAD_LABELS = {"15m": "next 15 min", "1h": "next 60 min", "4h": "next 4 h"}


def deadline_ahead_q(key: str, *, now: datetime) -> Q:
    """Open, unpaused, not breached, deadline in (now, now + ahead]: will breach by then unless
    closed or paused. Served by the partial index workitem_sla_open_due."""
    return open_q() & Q(
        sla_paused_since__isnull=True,
        sla_breached_at__isnull=True,
        sla_deadline__gt=now,
        sla_deadline__lte=now + AHEAD[key],
    )


def due_window_q(window: str, *, now: datetime) -> Q:
    """Items whose SLA deadline fell in the window (now − window, now]."""
    return Q(sla_deadline__gt=now - WINDOWS[window], sla_deadline__lte=now)


def closed_window_q(window: str, *, now: datetime) -> Q:
    """Items closed in the window [window start, now]: service level's denominator."""
    return Q(date_closed__gte=window_start(window, now=now), date_closed__lte=now)


def breached_window_q(window: str, *, now: datetime) -> Q:
    """Items whose breach was marked in the window [window start, now]: breach rate's numerator."""
    return Q(sla_breached_at__gte=window_start(window, now=now), sla_breached_at__lte=now)


# --- Figures ------------------------------------------------------------------------------------


@dataclass
class Figures:
    """The counts behind one dashboard row (a queue, a worktype, or everything)."""

    open: int = 0
    buckets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AGE_BUCKET_KEYS, 0))
    oldest_created: datetime | None = None
    at_risk: int = 0
    breaching_1h: int = 0  # open, unpaused, not breached, deadline within the hour
    breached_open: int = 0
    paused: int = 0
    breached_24h: int = 0
    breached_7d: int = 0
    closed_24h: int = 0
    met_24h: int = 0
    closed_7d: int = 0
    met_7d: int = 0

    def add(self, other: Figures) -> None:
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key in AGE_BUCKET_KEYS:
            self.buckets[key] += other.buckets[key]
        theirs = other.oldest_created
        if theirs is not None and (self.oldest_created is None or theirs < self.oldest_created):
            self.oldest_created = theirs

    def oldest_age(self, *, now: datetime) -> timedelta | None:
        return now - self.oldest_created if self.oldest_created else None

    def decided(self, window: str) -> int:
        """Breached, or closed within SLA, in the window: breach rate's denominator."""
        return getattr(self, f"breached_{window}") + getattr(self, f"met_{window}")

    @property
    def decided_24h(self) -> int:
        return self.decided("24h")

    @property
    def decided_7d(self) -> int:
        return self.decided("7d")

    def breach_rate(self, window: str) -> float | None:
        decided = self.decided(window)
        return getattr(self, f"breached_{window}") / decided if decided else None

    def service_level(self, window: str) -> float | None:
        closed = getattr(self, f"closed_{window}")
        return getattr(self, f"met_{window}") / closed if closed else None


_SUMMED = tuple(f.name for f in fields(Figures) if f.name not in ("buckets", "oldest_created"))
# What workitem_open_counts gives per group, besides the buckets.
_OPEN_FIGURES = ("open", "oldest_created", "at_risk", "breaching_1h", "breached_open", "paused")


@dataclass
class Row:
    """One table row: `pk` is None for "no queue set" (queue tables) and for the totals row."""

    pk: int | None
    name: str
    figures: Figures = field(default_factory=Figures)


@dataclass
class DayRate:
    day: date
    start: datetime  # local midnight
    end: datetime  # the next local midnight
    due: int = 0
    breached: int = 0

    @property
    def rate(self) -> float | None:
        return self.breached / self.due if self.due else None


@dataclass
class WorkItemDashboard:
    now: datetime
    by_queue: list[Row]
    by_worktype: list[Row]
    total: Row
    days: list[DayRate]
    # The sweep's breach forecast per queue (services/breach_forecast.py); key None: no queue.
    forecasts: dict[int | None, QueueForecast] = field(default_factory=dict)


_GROUP = ("queue_id", "worktype_id")


def names_by_id(*, queue_ids: Iterable[int], worktype_ids: Iterable[int]) -> dict:
    """{("queue", pk): name, ("worktype", pk): name} in one query. The item queries group by the
    ids alone: joining and carrying the names through 250,000 rows cost more than this query."""
    queues = (
        Queue.objects.filter(pk__in=list(queue_ids))
        .annotate(kind=Value("queue", output_field=CharField()))
        .values_list("kind", "pk", "name")
        .order_by()
    )
    worktypes = (
        WorkType.objects.filter(pk__in=list(worktype_ids))
        .annotate(kind=Value("worktype", output_field=CharField()))
        .values_list("kind", "pk", "name")
        .order_by()
    )
    return {(kind, pk): name for kind, pk, name in queues.union(worktypes, all=True)}


def workitem_open_counts(*, now: datetime) -> list[dict]:
    """Open-item figures per (queue, worktype): one aggregate query over the open items only."""
    aggregates = {
        "open": Count("pk"),
        "oldest_created": Min("date_created"),
        "at_risk": Count("pk", filter=at_risk_q(now=now)),
        "breaching_1h": Count("pk", filter=deadline_ahead_q("1h", now=now)),
        "breached_open": Count("pk", filter=breached_q(now=now)),
        "paused": Count("pk", filter=Q(sla_paused_since__isnull=False)),
    }
    for key in AGE_BUCKET_KEYS:
        aggregates[f"bucket:{key}"] = Count("pk", filter=age_bucket_q(key, now=now))
    return list(WorkItem.objects.filter(open_q()).values(*_GROUP).annotate(**aggregates).order_by())


def chart_days(*, now: datetime) -> list[DayRate]:
    """The last 14 local days, today last, each with its bounds: [start, next midnight), and
    today [start, now]."""
    first = chart_first_day(now)
    days = []
    for n in range(CHART_DAYS):
        start = first + timedelta(days=n)  # local wall-clock midnight, across a DST change too
        days.append(DayRate(day=start.date(), start=start, end=start + timedelta(days=1)))
    return days


def _figures_from(row: dict) -> Figures:
    figures = Figures(**{name: row[name] for name in _OPEN_FIGURES})
    figures.buckets = {key: row[f"bucket:{key}"] for key in AGE_BUCKET_KEYS}
    return figures


def _rows(groups: dict, names: dict) -> list[Row]:
    rows = [Row(pk=pk, name=names[pk], figures=figures) for pk, figures in groups.items()]
    # By name; "no queue set" last.
    return sorted(rows, key=lambda r: (r.pk is None, r.name.casefold(), r.pk or 0))


def _parse(at: str | None) -> datetime | None:
    return datetime.fromisoformat(at) if at else None


def dashboard_cache_entries() -> tuple[dict, dict | None]:
    """The last sweep's cache entry and the settled windows' entry, in one cache read."""
    entries = cache.get_many([LAST_SWEEP_CACHE_KEY, SETTLED_WINDOWS_CACHE_KEY])
    return entries.get(LAST_SWEEP_CACHE_KEY) or {}, entries.get(SETTLED_WINDOWS_CACHE_KEY)


def workitem_dashboard(
    *, now: datetime | None = None, sweep: dict | None = None, settled: dict | None = None
) -> WorkItemDashboard:
    """Per-queue, per-worktype and total figures plus the daily breach rates: three queries
    (open items, the rollup's windows, names). The forecast comes with the last sweep's cache
    entry (`sweep`) and the windows' settled hours with theirs (`settled`): the caller reads both
    once (dashboard_cache_entries) for this and health_figures; with neither given, this does.

    The rows of both queries are groups (queue × worktype), never items, so rolling them up
    here costs nothing that grows with the number of items.
    """
    now = now or timezone.now()
    if sweep is None:
        sweep, settled = dashboard_cache_entries()
    queues: dict[int | None, Figures] = {}
    worktypes: dict[int, Figures] = {}
    total = Figures()

    def place(queue_id: int | None, worktype_id: int, figures: Figures) -> None:
        queues.setdefault(queue_id, Figures()).add(figures)
        worktypes.setdefault(worktype_id, Figures()).add(figures)
        total.add(figures)

    for row in workitem_open_counts(now=now):
        place(row["queue_id"], row["worktype_id"], _figures_from(row))
    windows = dashboard_window_counts(now=now, settled=settled)
    for (queue_key, worktype_id), counts in windows.groups.items():
        figures = Figures(**dict(zip(WINDOW_COUNTS, counts, strict=True)))
        place(queue_key or None, worktype_id, figures)
    days = chart_days(now=now)
    for day in days:
        breached, met = windows.days.get(day.day.isoformat(), (0, 0))
        day.breached, day.due = breached, breached + met

    forecasts = {
        f.queue_key or None: f
        for f in forecast_from_summary(
            sweep.get("forecast") or [], at=_parse(sweep.get("at")) or now
        )
    }
    for pk in forecasts:
        queues.setdefault(pk, Figures())
    names = names_by_id(queue_ids=[pk for pk in queues if pk], worktype_ids=list(worktypes))
    names_q = {pk: names.get(("queue", pk), "No queue set (worktype default)") for pk in queues}
    names_wt = {pk: names.get(("worktype", pk), f"Worktype {pk}") for pk in worktypes}
    return WorkItemDashboard(
        now=now,
        by_queue=_rows(queues, names_q),
        by_worktype=_rows(worktypes, names_wt),
        total=Row(pk=None, name="All", figures=total),
        days=days,
        forecasts=forecasts,
    )


# --- Ingest and delivery health -----------------------------------------------------------------


@dataclass
class Health:
    now: datetime
    events_failed: int
    events_waiting: int  # accepted, not processed, received more than a minute ago
    events_waiting_before: datetime
    deliveries_failing: int
    deliveries_dead: int
    task_failures: int  # django-q2 failures in the last 24 h
    task_failures_since: datetime
    reconciled: int  # items healed by reconciliation in the last 24 h (a lost event repaired)
    sweep_at: datetime | None
    sweep_seconds: float | None
    sweep_breached: int | None

    @property
    def sweep_age(self) -> timedelta | None:
        return self.now - self.sweep_at if self.sweep_at else None

    @property
    def sweep_stale(self) -> bool:
        return self.sweep_at is None or self.now - self.sweep_at > SWEEP_STALE_AFTER


def health_counts(*, now: datetime) -> dict[str, int]:
    """Failed and waiting events, failing and dead deliveries, django-q2 failures and items healed
    by reconciliation in the last 24 h: one query (a UNION ALL of small grouped counts), each part
    on an index or a small table."""
    from django_q.models import Failure

    failed, accepted = InboundEvent.State.FAILED, InboundEvent.State.ACCEPTED
    failing, dead = Delivery.State.FAILING, Delivery.State.DEAD
    # Index event_state_time (state, received_at).
    events = (
        InboundEvent.objects.filter(
            Q(state=failed) | Q(state=accepted, received_at__lt=now - WAITING_EVENT_AGE)
        )
        .values(
            key=Case(
                When(state=failed, then=Value("events_failed")),
                default=Value("events_waiting"),
                output_field=CharField(),
            )
        )
        .annotate(n=Count("pk"))
        .order_by()
    )
    deliveries = (
        Delivery.objects.filter(state__in=[failing, dead])
        .values(
            key=Case(
                When(state=failing, then=Value("deliveries_failing")),
                default=Value("deliveries_dead"),
                output_field=CharField(),
            )
        )
        .annotate(n=Count("pk"))
        .order_by()
    )
    failures = (
        Failure.objects.filter(stopped__gte=now - FAILURE_WINDOW)
        .values(key=Value("task_failures", output_field=CharField()))
        .annotate(n=Count("pk"))
        .order_by()
    )
    # Index audit_action_time (action, occurred_at).
    healed = (
        AuditEvent.objects.filter(action=RECONCILE_HEALED, occurred_at__gte=now - FAILURE_WINDOW)
        .values(key=Value("reconciled", output_field=CharField()))
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = dict.fromkeys(
        [
            "events_failed",
            "events_waiting",
            "deliveries_failing",
            "deliveries_dead",
            "task_failures",
            "reconciled",
        ],
        0,
    )
    for row in events.union(deliveries, failures, healed, all=True):
        counts[row["key"]] += row["n"]
    return counts


def health_figures(*, now: datetime | None = None, sweep: dict | None = None) -> Health:
    """Ingest and delivery health: one count query and the last sweep (from the cache, unless
    the caller read it already)."""
    now = now or timezone.now()
    counts = health_counts(now=now)
    sweep = sweep if sweep is not None else (sla_last_sweep() or {})
    at = sweep.get("at")
    return Health(
        now=now,
        **counts,
        events_waiting_before=now - WAITING_EVENT_AGE,
        task_failures_since=now - FAILURE_WINDOW,
        sweep_at=datetime.fromisoformat(at) if at else None,
        sweep_seconds=sweep.get("seconds"),
        sweep_breached=sweep.get("breached"),
    )
