"""The SLA report: one row per work item that Genesys has created (date_created is set).

Columns (SLA_COLUMNS), definitions as shown in the admin (docs/SLA.md):
- queue: the item's queue, else its worktype's default queue; status and priority likewise fall
  back to the worktype's defaults;
- created: Genesys' dateCreated; due: the item's dateDue; sla_threshold_minutes: the policy's;
- sla_deadline: the earlier of due and created + threshold, moved later by the time paused
  (for an item paused right now, by the pause so far too);
- paused_minutes: time the SLA clock stood still, including a pause still running;
- breached: once the sweep or the close has marked the breach; breached_at: when;
- minutes_late: closed after the deadline, or open past it (else empty);
- minutes_left: open and not past the deadline (else empty);
- minutes_to_close: closed items only, closed minus created;
- age_minutes: open items only, now minus created;
- assignee: the Genesys user it is assigned to, by name where a queue-member sync has seen them.
Durations are minutes with one decimal. Times are formatted by the export format.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from audits.models import ExportManifest
from portal.csv_stream import ExportKind
from workitems.models import QueueMember, WorkItem

SLA_COLUMNS = (
    "id",
    "external_ref",
    "name",
    "genesys_id",
    "worktype",
    "queue",
    "status",
    "status_category",
    "priority",
    "created",
    "due",
    "sla_threshold_minutes",
    "sla_deadline",
    "paused_minutes",
    "closed",
    "breached",
    "breached_at",
    "minutes_late",
    "minutes_left",
    "minutes_to_close",
    "age_minutes",
    "assignee",
)
SLA_EXPORT = ExportKind(
    prefix="sla",
    header=SLA_COLUMNS,
    manifest_kind=ExportManifest.Kind.SLA,
    recorded_as={"action": "sla.export", "object_type": "WorkItem"},
)


def _named(prefix: str, value: str) -> Q:
    """A queue or worktype by name or Genesys id."""
    return Q(**{f"{prefix}__name": value}) | Q(**{f"{prefix}__genesys_id": value})


def sla_report_queryset(
    *,
    base: QuerySet[WorkItem] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    queue: str | None = None,
    worktype: str | None = None,
    open_only: bool = False,
) -> QuerySet:
    """The report's rows as a values_list queryset; `base` carries e.g. the changelist's filters.

    since <= date_created < until; queue matches the effective queue (own, else the worktype's
    default) by name or Genesys id; worktype by name or Genesys id.
    """
    qs = WorkItem.objects.all() if base is None else base
    qs = qs.filter(date_created__isnull=False)
    if base is None:
        qs = qs.order_by("date_created", "id")
    if since is not None:
        qs = qs.filter(date_created__gte=since)
    if until is not None:
        qs = qs.filter(date_created__lt=until)
    if queue:
        qs = qs.filter(
            _named("queue", queue)
            | (Q(queue__isnull=True) & _named("worktype__default_queue", queue))
        )
    if worktype:
        qs = qs.filter(_named("worktype", worktype))
    if open_only:
        qs = qs.filter(date_closed__isnull=True)
    assignee = QueueMember.objects.filter(user_id=OuterRef("assignee_id")).values("name")[:1]
    return qs.values_list(
        "id",
        "external_ref",
        "name",
        "genesys_id",
        "worktype__name",
        Coalesce("queue__name", "worktype__default_queue__name"),
        Coalesce("status__name", "worktype__default_status__name"),
        "status_category",
        Coalesce("priority", "worktype__default_priority"),
        "date_created",
        "date_due",
        "sla_threshold_seconds",
        "sla_deadline",
        "sla_paused",
        "sla_paused_since",
        "date_closed",
        "sla_breached_at",
        "assignee_id",
        Subquery(assignee),
    )


def _minutes(delta: timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds() / 60, 1)


def sla_report_rows(
    *, queryset: QuerySet, now: datetime | None = None, chunk_size: int = 2000
) -> Iterator[tuple]:
    """Typed rows for SLA_COLUMNS (the export format formats and neutralises them)."""
    now = now or timezone.now()
    for (
        pk,
        external_ref,
        name,
        genesys_id,
        worktype,
        queue,
        status,
        category,
        priority,
        created,
        due,
        threshold,
        deadline,
        paused,
        paused_since,
        closed,
        breached_at,
        assignee_id,
        assignee_name,
    ) in queryset.iterator(chunk_size=chunk_size):
        paused = paused or timedelta(0)
        if paused_since is not None and closed is None:
            running = max(now - paused_since, timedelta(0))
            paused += running
            deadline = deadline + running if deadline else deadline
        end = closed or now
        late = end - deadline if deadline and end > deadline else None
        left = deadline - now if deadline and closed is None and now <= deadline else None
        yield (
            pk,
            external_ref,
            name,
            genesys_id or "",
            worktype or "",
            queue or "",
            status or "",
            category,
            priority,
            created,
            due,
            round(threshold / 60, 1) if threshold is not None else None,
            deadline,
            _minutes(paused),
            closed,
            breached_at is not None,
            breached_at,
            _minutes(late),
            _minutes(left),
            _minutes(closed - created) if closed else None,
            _minutes(now - created) if closed is None else None,
            assignee_name or assignee_id or "",
        )
