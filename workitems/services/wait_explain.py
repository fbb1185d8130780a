""" "Why is this item not with an agent yet?": for a submitted, open, unassigned item waiting longer
than breach_forecast.WAIT_EXPLAIN_AFTER, what the events say of its assignment, its place in its queue, the
queue's forecast, and the routability check re-run against the member mirror as it stands (never
calling Genesys: a page must not wait on it, and the sweep keeps the forecast's inputs current).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from workitems.models import QueueForecast, StatusCategory, StatusTransition, WorkItem
from workitems.services.breach_forecast import WAIT_EXPLAIN_AFTER, waiting_q
from workitems.services.queue_snapshot import MemberSnapshots
from workitems.services.routability import FAIL, WARN, check_label, workitem_routability


class MirrorSnapshots(MemberSnapshots):
    """Member snapshots from our mirror only: a refresh that is due is skipped, not made."""

    def _refresh(self, queue, *, previous):
        return {"at": (previous or {}).get("at"), "present": True, "error": ""}


@dataclass
class WaitExplanation:
    waiting_since: datetime
    waited: timedelta
    assignment_state: str
    last_event_at: datetime | None
    last_transition: str
    position: int  # items waiting ahead of it in its queue
    queue_waiting: int
    forecast_reason: str
    forecast_breach_at: str | None
    blockers: list[str] = field(default_factory=list)  # routability failures, in words
    warnings: list[str] = field(default_factory=list)


def workitem_wait_explain(*, item: WorkItem, now: datetime | None = None) -> WaitExplanation | None:
    """The explanation, or None when the item is not waiting (or not for long)."""
    now = now or timezone.now()
    # waiting_long_q, tested on the loaded item: a draft's page spends no query here.
    if (
        item.genesys_id is None
        or item.date_closed is not None
        or item.assignee_id
        or item.status_category in (StatusCategory.IN_PROGRESS, StatusCategory.CLOSED)
        or item.date_created is None
        or item.date_created > now - WAIT_EXPLAIN_AFTER
    ):
        return None
    queue_key = item.queue_id or 0
    in_queue = (
        WorkItem.objects.filter(waiting_q())
        .annotate(q=Coalesce("queue_id", 0), prio=Coalesce("priority", 0))
        .filter(q=queue_key)
    )
    priority = item.priority or 0
    ahead = in_queue.filter(
        Q(prio__gt=priority)
        | Q(prio=priority, date_created__lt=item.date_created)
        | Q(prio=priority, date_created=item.date_created, pk__lt=item.pk)
    ).count()
    forecast = QueueForecast.objects.filter(queue_key=queue_key).first()
    breach_at = None
    if forecast is not None:
        mine = [entry for entry in forecast.items if entry.get("id") == item.pk]
        breach_at = mine[0]["deadline"] if mine else None
    last = StatusTransition.objects.filter(workitem=item).order_by("-changed_at", "-id").first()
    report = workitem_routability(item=item, snapshots=MirrorSnapshots(now=now), now=now)
    return WaitExplanation(
        waiting_since=item.date_created,
        waited=now - item.date_created,
        assignment_state=item.assignment_state or "none reported",
        last_event_at=item.date_modified,
        last_transition=(
            f"{last.from_status_name or last.from_category or '—'} → "
            f"{last.to_status_name or last.to_category} at {last.changed_at:%Y-%m-%d %H:%M}"
            if last
            else "no status change recorded"
        ),
        position=ahead,
        queue_waiting=in_queue.count(),
        forecast_reason=forecast.reason if forecast else "no forecast yet (the SLA sweep makes it)",
        forecast_breach_at=breach_at,
        blockers=[f"{check_label(c.name)}: {c.message}" for c in report.checks if c.result == FAIL],
        warnings=[f"{check_label(c.name)}: {c.message}" for c in report.checks if c.result == WARN],
    )
