"""The figures /metrics exposes, from the same cheap sources as the dashboard: the open items
(partial index), the sweep's cache entry (forecast, last run), and small grouped counts of events
and deliveries. Nothing here reads the history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Min, Q

from workitems.models import Delivery, InboundEvent, Queue
from workitems.selectors.dashboard import workitem_open_counts
from workitems.services.sla import sla_last_sweep


@dataclass
class QueueFigures:
    name: str
    open: int = 0
    breached_open: int = 0
    breaching_1h: int = 0
    forecast_1h: int = 0
    forecast_4h: int = 0
    forecast_8h: int = 0
    oldest_age_seconds: float = 0.0


@dataclass
class MetricsFigures:
    queues: dict[str, QueueFigures] = field(default_factory=dict)
    ingest_backlog: int = 0
    ingest_lag_seconds: float = 0.0
    events_failed: int = 0
    delivery_backlog: int = 0
    deliveries_failing: int = 0
    deliveries_dead: int = 0
    sweep_seconds: float | None = None
    sweep_last_run: float | None = None  # unix time


def metrics_figures(*, now: datetime) -> MetricsFigures:
    figures = MetricsFigures()
    by_pk: dict[int, QueueFigures] = {}

    def queue(pk: int | None) -> QueueFigures:
        key = pk or 0
        if key not in by_pk:
            by_pk[key] = QueueFigures(name="")
        return by_pk[key]

    for row in workitem_open_counts(now=now):
        q = queue(row["queue_id"])
        q.open += row["open"]
        q.breached_open += row["breached_open"]
        q.breaching_1h += row["breaching_1h"]
        if row["oldest_created"] is not None:
            q.oldest_age_seconds = max(
                q.oldest_age_seconds, (now - row["oldest_created"]).total_seconds()
            )
    sweep = sla_last_sweep() or {}
    for row in sweep.get("forecast") or []:
        q = queue(row["queue_key"])
        q.forecast_1h, q.forecast_4h, q.forecast_8h = (
            row["breaches_1h"],
            row["breaches_4h"],
            row["breaches_8h"],
        )
    names = dict(Queue.objects.filter(pk__in=[pk for pk in by_pk if pk]).values_list("pk", "name"))
    for pk, q in by_pk.items():
        q.name = names.get(pk, "(no queue set)" if not pk else f"queue {pk}")
        figures.queues[str(pk)] = q

    events = InboundEvent.objects.filter(
        state__in=[InboundEvent.State.ACCEPTED, InboundEvent.State.FAILED]
    ).aggregate(
        backlog=Count("pk", filter=Q(state=InboundEvent.State.ACCEPTED)),
        oldest=Min("received_at", filter=Q(state=InboundEvent.State.ACCEPTED)),
        failed=Count("pk", filter=Q(state=InboundEvent.State.FAILED)),
    )
    figures.ingest_backlog, figures.events_failed = events["backlog"], events["failed"]
    if events["oldest"] is not None:
        figures.ingest_lag_seconds = max((now - events["oldest"]).total_seconds(), 0.0)
    states = Delivery.State
    deliveries = Delivery.objects.filter(
        state__in=[states.PENDING, states.FAILING, states.DEAD]
    ).aggregate(
        pending=Count("pk", filter=Q(state=states.PENDING)),
        failing=Count("pk", filter=Q(state=states.FAILING)),
        dead=Count("pk", filter=Q(state=states.DEAD)),
    )
    figures.delivery_backlog = deliveries["pending"] + deliveries["failing"]
    figures.deliveries_failing, figures.deliveries_dead = deliveries["failing"], deliveries["dead"]
    if sweep.get("at"):
        figures.sweep_last_run = datetime.fromisoformat(sweep["at"]).timestamp()
        figures.sweep_seconds = sweep.get("seconds")
    return figures
