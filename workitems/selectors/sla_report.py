"""The SLA report: one row per work item that Genesys has created (date_created is set).

Columns (SLA_COLUMNS), definitions as in DESIGN.md:
- queue: the item's queue, else its worktype's default queue;
- created / deadline / closed / breached_at: UTC, ISO 8601;
- paused_seconds: time the SLA clock stood still, including a pause still running;
- breached: "yes" once the sweep or the close has marked the breach (sla_breached_at), else "no";
- age_seconds: (date_closed, or now for an open item) minus date_created.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from audits.exports import format_timestamp, neutralise
from workitems.models import WorkItem

SLA_COLUMNS = (
    "external_ref",
    "genesys_id",
    "queue",
    "worktype",
    "created",
    "deadline",
    "closed",
    "paused_seconds",
    "breached",
    "breached_at",
    "age_seconds",
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
    return qs.values_list(
        "external_ref",
        "genesys_id",
        Coalesce("queue__name", "worktype__default_queue__name"),
        "worktype__name",
        "date_created",
        "sla_deadline",
        "date_closed",
        "sla_paused",
        "sla_paused_since",
        "sla_breached_at",
    )


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def sla_report_rows(
    *, queryset: QuerySet, now: datetime | None = None, chunk_size: int = 2000
) -> Iterator[tuple]:
    """Rows for SLA_COLUMNS, text cells neutralised for spreadsheets, streamed in chunks."""
    now = now or timezone.now()
    n = neutralise
    for (
        external_ref,
        genesys_id,
        queue,
        worktype,
        created,
        deadline,
        closed,
        paused,
        paused_since,
        breached_at,
    ) in queryset.iterator(chunk_size=chunk_size):
        paused = paused or timedelta(0)
        if paused_since is not None and closed is None:
            paused += max(now - paused_since, timedelta(0))
        yield (
            n(external_ref),
            n(genesys_id or ""),
            n(queue or ""),
            n(worktype or ""),
            format_timestamp(created, microseconds=False),
            format_timestamp(deadline, microseconds=False),
            format_timestamp(closed, microseconds=False),
            _seconds(paused),
            "yes" if breached_at is not None else "no",
            format_timestamp(breached_at, microseconds=False),
            _seconds((closed or now) - created),
        )
