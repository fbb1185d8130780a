"""Which waiting items will breach, when, and why: per queue, recomputed by the SLA sweep.

The model, kept simple enough to state beside every figure:

- **Waiting**: open, unassigned, submitted items of the queue, served as Genesys serves them:
  higher priority first, then oldest first. An item's **position** is how many wait before it.
- **Service rate** (r): items that left the queue's waiting line (a transition out of an Open
  status) per hour over the last 4 h, from our own transitions. If none left but members are on
  queue, the capacity stands in: on-queue members × 1 item per typical handling time.
- **Capacity now**: joined members whose routing status is on queue (the member snapshot). None on
  queue means nothing starts: r is 0. An item whose skills no on-queue member holds never starts.
- **Handling time** (per worktype): the mean time from an item's last move to In progress to its
  close, over items closed in the last 24 h; 15 min when none closed.
- **Expected start** of the item at position k: now + k ÷ r. It is **forecast to breach** when its
  expected start plus its worktype's handling time falls after its SLA deadline (paused items are
  left out: their deadline moves; so are items already breached, which still wait ahead of
  others), at its deadline.
- **Time to clear**: waiting ÷ r.

`forecast_queue` is the model (pure, unit-tested); `breach_forecast_refresh` reads its inputs in
a few grouped queries and stores one QueueForecast row per queue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from workitems.models import (
    QueueForecast,
    QueueMember,
    StatusCategory,
    StatusTransition,
    WorkItem,
)

logger = logging.getLogger(__name__)

RATE_WINDOW = timedelta(hours=4)
HANDLING_WINDOW = timedelta(hours=24)
DEFAULT_HANDLING = timedelta(minutes=15)
HORIZONS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "8h": timedelta(hours=8)}
ITEMS_KEPT = 500
# "Not with an agent yet" after this long (services/wait_explain.py, the dashboard's list).
WAIT_EXPLAIN_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class WaitingItem:
    pk: int
    priority: int
    created: datetime
    deadline: datetime | None
    worktype_id: int
    paused: bool = False
    skills: frozenset[str] = frozenset()
    breached: bool = False  # already: it waits ahead of others, but is no forecast


@dataclass(frozen=True)
class Member:
    joined: bool
    on_queue: bool
    skills: frozenset[str] = frozenset()


@dataclass
class ItemForecast:
    pk: int
    position: int
    start: datetime | None  # None: never, at the current capacity
    breach_at: datetime | None  # the deadline, when forecast to breach


@dataclass
class QueueOutlook:
    waiting: int
    rate_per_hour: float
    rate_measured: bool
    members_joined: int
    members_on_queue: int
    clear: timedelta | None
    breaches: dict[str, int]
    breaches_total: int
    reason: str
    items: list[ItemForecast] = field(default_factory=list)


def _order(item: WaitingItem) -> tuple:
    return (-item.priority, item.created, item.pk)


def forecast_queue(
    *,
    now: datetime,
    waiting: Iterable[WaitingItem],
    left_in_window: int,
    members: Iterable[Member],
    handling: dict[int, timedelta],
) -> QueueOutlook:
    """The forecast for one queue from its inputs (see the module's docstring)."""
    items = sorted(waiting, key=_order)
    members = list(members)
    joined = [m for m in members if m.joined]
    on_queue = [m for m in joined if m.on_queue]
    measured = left_in_window / (RATE_WINDOW.total_seconds() / 3600)
    typical = (
        sum((handling.get(i.worktype_id, DEFAULT_HANDLING) for i in items), timedelta())
        / len(items)
        if items
        else DEFAULT_HANDLING
    )
    rate, rate_measured = measured, True
    if not on_queue:
        rate = 0.0
    elif measured == 0:
        rate, rate_measured = len(on_queue) * 3600 / typical.total_seconds(), False
    held = frozenset().union(*(m.skills for m in on_queue)) if on_queue else frozenset()
    forecasts: list[ItemForecast] = []
    breaches = dict.fromkeys(HORIZONS, 0)
    total = 0
    for position, item in enumerate(items):
        servable = rate > 0 and (not item.skills or any(item.skills <= m.skills for m in on_queue))
        start = now + timedelta(hours=position / rate) if servable else None
        breach_at = None
        already = item.breached or (item.deadline is not None and item.deadline <= now)
        if item.deadline is not None and not item.paused and not already:
            done = start + handling.get(item.worktype_id, DEFAULT_HANDLING) if start else None
            if done is None or done > item.deadline:
                breach_at = item.deadline
        if breach_at is not None:
            total += 1
            for key, ahead in HORIZONS.items():
                if breach_at <= now + ahead:
                    breaches[key] += 1
        forecasts.append(ItemForecast(item.pk, position, start, breach_at))
    clear = timedelta(hours=len(items) / rate) if rate > 0 else None
    reason = _reason(
        waiting=len(items),
        rate=rate,
        rate_measured=rate_measured,
        typical=typical,
        joined=len(joined),
        on_queue=len(on_queue),
        unskilled=sum(1 for i in items if i.skills and not i.skills <= held),
    )
    return QueueOutlook(
        waiting=len(items),
        rate_per_hour=rate,
        rate_measured=rate_measured,
        members_joined=len(joined),
        members_on_queue=len(on_queue),
        clear=clear,
        breaches=breaches,
        breaches_total=total,
        reason=reason,
        items=forecasts,
    )


def _reason(
    *,
    waiting: int,
    rate: float,
    rate_measured: bool,
    typical: timedelta,
    joined: int,
    on_queue: int,
    unskilled: int,
) -> str:
    parts = [f"{waiting} open and waiting"]
    if rate_measured:
        parts.append(f"{rate:.1f} leaving per hour over the last 4 h")
    elif rate > 0:
        minutes = typical.total_seconds() / 60
        parts.append(f"none left in the last 4 h: assumed 1 per member every {minutes:.0f} min")
    parts.append(f"{on_queue} of {joined} members on queue")
    if unskilled:
        parts.append(f"{unskilled} need skills no on-queue member holds")
    return ", ".join(parts)


# --- inputs from the database -------------------------------------------------------------------


def waiting_q() -> Q:
    """Open, submitted, unassigned, not in progress: waiting for an agent."""
    return Q(
        genesys_id__isnull=False,
        date_closed__isnull=True,
        assignee_id="",
    ) & ~Q(status_category__in=[StatusCategory.IN_PROGRESS, StatusCategory.CLOSED])


def handling_by_worktype(*, now: datetime) -> dict[int, timedelta]:
    """Mean In-progress-to-closed time per worktype, over closes in the last 24 h."""
    started = (
        StatusTransition.objects.filter(
            workitem=OuterRef("workitem"),
            to_category=StatusCategory.IN_PROGRESS,
            changed_at__lte=OuterRef("changed_at"),
        )
        .order_by("-changed_at")
        .values("changed_at")[:1]
    )
    rows = (
        StatusTransition.objects.filter(
            changed_at__gt=now - HANDLING_WINDOW,
            changed_at__lte=now,
            to_category=StatusCategory.CLOSED,
        )
        .annotate(started=Subquery(started))
        .filter(started__isnull=False)
        .annotate(
            took=ExpressionWrapper(F("changed_at") - F("started"), output_field=DurationField())
        )
        .values("workitem__worktype_id")
        .annotate(mean=Avg("took"))
        .order_by()
    )
    return {r["workitem__worktype_id"]: r["mean"] for r in rows if r["mean"]}


def left_by_queue(*, now: datetime) -> dict[int, int]:
    """Items that left each queue's waiting line (out of an Open status) in the last 4 h."""
    rows = (
        StatusTransition.objects.filter(
            changed_at__gt=now - RATE_WINDOW,
            changed_at__lte=now,
            from_category=StatusCategory.OPEN,
        )
        .exclude(to_category=StatusCategory.OPEN)
        .annotate(q=Coalesce(F("workitem__queue_id"), 0))
        .values("q")
        .annotate(n=Count("workitem_id", distinct=True))
        .order_by()
    )
    return {r["q"]: r["n"] for r in rows}


def _skill_ids(raw) -> frozenset[str]:
    return frozenset(str(s.get("id")) for s in raw or [] if isinstance(s, dict) and s.get("id"))


def breach_forecast_compute(*, now: datetime) -> dict[int, QueueOutlook]:
    """Every queue's outlook: five queries (waiting items, their skills, members, what left,
    handling times), whatever the number of queues."""
    waiting: dict[int, list[WaitingItem]] = {}
    rows = (
        WorkItem.objects.filter(waiting_q())
        .annotate(q=Coalesce(F("queue_id"), 0), prio=Coalesce(F("priority"), 0))
        .values_list(
            "pk",
            "q",
            "prio",
            "date_created",
            "sla_deadline",
            "worktype_id",
            "sla_paused_since",
            "sla_breached_at",
        )
        .order_by()
    )
    items = list(rows)
    skills: dict[int, set[str]] = {}
    through = WorkItem.skills.through
    pks = [r[0] for r in items]
    for start in range(0, len(pks), 5000):
        for item_id, gid in through.objects.filter(
            workitem_id__in=pks[start : start + 5000]
        ).values_list("workitem_id", "skill__genesys_id"):
            skills.setdefault(item_id, set()).add(gid)
    for pk, q, prio, created, deadline, worktype_id, paused_since, breached_at in items:
        waiting.setdefault(q, []).append(
            WaitingItem(
                pk=pk,
                priority=prio,
                created=created or now,
                deadline=deadline,
                worktype_id=worktype_id,
                paused=paused_since is not None,
                skills=frozenset(skills.get(pk, ())),
                breached=breached_at is not None,
            )
        )
    members: dict[int, list[Member]] = {}
    for m in QueueMember.objects.filter(active=True).only(
        "queue_id", "joined", "routing_status", "skills"
    ):
        members.setdefault(m.queue_id, []).append(
            Member(joined=m.joined, on_queue=m.on_queue, skills=_skill_ids(m.skills))
        )
    left = left_by_queue(now=now)
    handling = handling_by_worktype(now=now)
    return {
        q: forecast_queue(
            now=now,
            waiting=waiting.get(q, []),
            left_in_window=left.get(q, 0),
            members=members.get(q, []),
            handling=handling,
        )
        for q in set(waiting) | set(left)
    }


SUMMARY_FIELDS = (
    "queue_key",
    "waiting",
    "breaches_1h",
    "breaches_4h",
    "breaches_8h",
    "breaches_total",
    "rate_per_hour",
    "members_joined",
    "members_on_queue",
    "clear_seconds",
    "reason",
)


def forecast_summary(rows: Iterable[QueueForecast]) -> list[dict]:
    """The per-queue figures without the item lists: what the sweep's cache entry carries, so the
    dashboard reads them with the last sweep's time in one cache read."""
    return [{name: getattr(row, name) for name in SUMMARY_FIELDS} for row in rows]


def forecast_from_summary(summary: Iterable[dict], *, at: datetime) -> list[QueueForecast]:
    return [QueueForecast(computed_at=at, **row) for row in summary]


def breach_forecast_refresh(*, now: datetime | None = None) -> list[QueueForecast]:
    """Recompute and store every queue's forecast; returns the rows written."""
    now = now or timezone.now()
    outlooks = breach_forecast_compute(now=now)
    rows = []
    for q, o in outlooks.items():
        breaching = sorted(
            (f for f in o.items if f.breach_at is not None), key=lambda f: f.breach_at
        )[:ITEMS_KEPT]
        rows.append(
            QueueForecast(
                queue_key=q,
                computed_at=now,
                waiting=o.waiting,
                breaches_1h=o.breaches["1h"],
                breaches_4h=o.breaches["4h"],
                breaches_8h=o.breaches["8h"],
                breaches_total=o.breaches_total,
                rate_per_hour=round(o.rate_per_hour, 3),
                members_joined=o.members_joined,
                members_on_queue=o.members_on_queue,
                clear_seconds=int(o.clear.total_seconds()) if o.clear is not None else None,
                reason=o.reason[:500],
                items=[
                    {
                        "id": f.pk,
                        "position": f.position,
                        "deadline": f.breach_at.isoformat(),
                        "start": f.start.isoformat() if f.start else None,
                    }
                    for f in breaching
                ],
            )
        )
    with transaction.atomic():
        QueueForecast.objects.all().delete()
        QueueForecast.objects.bulk_create(rows)
    return rows


def waiting_long_q(*, now: datetime) -> Q:
    """Waiting for an agent (breach_forecast.waiting_q) for longer than WAIT_EXPLAIN_AFTER."""
    return waiting_q() & Q(date_created__lte=now - WAIT_EXPLAIN_AFTER)


def waiting_long_summary(*, now: datetime, limit: int = 20) -> list[dict]:
    """The longest-waiting items past the threshold, oldest first: the dashboard's list, made by
    the sweep and carried in its cache entry (so the dashboard spends no query on it)."""
    rows = (
        WorkItem.objects.filter(waiting_long_q(now=now))
        .values("pk", "external_ref", "name", "date_created", "queue__name", "assignment_state")
        .order_by("date_created", "pk")[:limit]
    )
    return [
        {
            "id": r["pk"],
            "ref": r["external_ref"],
            "name": r["name"],
            "since": r["date_created"].isoformat(),
            "queue": r["queue__name"] or "",
            "assignment_state": r["assignment_state"],
        }
        for r in rows
    ]
