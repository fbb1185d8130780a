"""The hourly rollup (models/rollup.py): kept by every writer that changes what it counts, and
recomputable from the items.

What an item counts for ("marks"): opened in the hour of its Genesys dateCreated; closed in the
hour of its dateClosed, and closed within SLA there too when it closed unbreached by its deadline
(selectors/dashboard.met_q); breached in the hour its breach was marked (sla_breached_at). All
keyed by the item's queue (0: none set) and worktype, hours in UTC.

Writers note each item's marks before and after their change and send the difference as one
additive upsert (`rollup_apply`): the event processor per batch (event_apply.workitem_apply_state
notes, the batch's flush writes), submission per item, and the SLA sweep inside its own statement
(services/sla_followups.py). Anything else that changes those fields (a data fix in the shell)
leaves the rollup to `manage.py rebuild_rollup`, which recomputes it from the items.

The dashboard's windows read the hours before the current one from a summary the SLA sweep keeps
in the cache (`settled_windows_refresh`, selectors/dashboard_windows.py); a change to such an hour
drops the summary, so the next page sums the rollup itself until the next sweep.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce, TruncHour
from django.utils import timezone

from workitems.models import HourlyRollup, WorkItem

COUNTERS = ("opened", "closed", "breached", "closed_within_sla")
Key = tuple[int, int, datetime]  # (queue key, worktype id, UTC hour)
Marks = tuple[tuple[Key, str], ...]
CHUNK = 500
SETTLED_WINDOWS_CACHE_KEY = "dashboard:settled-windows"


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def rollup_marks(item: WorkItem) -> Marks:
    """The (bucket, counter) pairs `item` adds one to, as it stands now."""
    queue, worktype = item.queue_id or 0, item.worktype_id
    marks: list[tuple[Key, str]] = []
    if item.date_created is not None:
        marks.append(((queue, worktype, hour_of(item.date_created)), "opened"))
    if item.date_closed is not None:
        key = (queue, worktype, hour_of(item.date_closed))
        marks.append((key, "closed"))
        if item.sla_breached_at is None and (
            item.sla_deadline is None or item.date_closed <= item.sla_deadline
        ):
            marks.append((key, "closed_within_sla"))
    if item.sla_breached_at is not None:
        marks.append(((queue, worktype, hour_of(item.sla_breached_at)), "breached"))
    return tuple(marks)


class RollupDelta:
    """Counter changes per bucket, summed over many items' before/after marks."""

    def __init__(self) -> None:
        self.rows: dict[Key, dict[str, int]] = {}

    def change(self, before: Marks, after: Marks) -> None:
        if before == after:
            return
        for key, counter in before:
            self._add(key, counter, -1)
        for key, counter in after:
            self._add(key, counter, 1)

    def _add(self, key: Key, counter: str, n: int) -> None:
        row = self.rows.setdefault(key, dict.fromkeys(COUNTERS, 0))
        row[counter] += n

    def nonzero(self) -> list[tuple[Key, dict[str, int]]]:
        return [(k, r) for k, r in self.rows.items() if any(r.values())]


def rollup_apply(delta: RollupDelta) -> int:
    """Add `delta` to the rollup: one INSERT … ON CONFLICT DO UPDATE (per 500 buckets)."""
    rows = delta.nonzero()
    if not rows:
        return 0
    current = hour_of(timezone.now())
    if any(hour < current for (_q, _wt, hour), _counts in rows):
        transaction.on_commit(settled_windows_forget)
    table = connection.ops.quote_name(HourlyRollup._meta.db_table)
    columns = "queue_key, worktype_id, hour, " + ", ".join(COUNTERS)
    update = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTERS)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            params: list[Any] = []
            for (queue, worktype, hour), counts in chunk:
                params += [queue, worktype, connection.ops.adapt_datetimefield_value(hour)]
                params += [counts[c] for c in COUNTERS]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {values} "
                f"ON CONFLICT (queue_key, worktype_id, hour) DO UPDATE SET {update}",
                params,
            )
    return len(rows)


def rollup_note_change(*, before: Marks, item: WorkItem) -> None:
    """For a single-item writer outside a batch: write the item's change at once."""
    delta = RollupDelta()
    delta.change(before, rollup_marks(item))
    rollup_apply(delta)


def _grouped(scope: Q, at: str, counters: dict[str, Any]) -> Iterable[dict]:
    return (
        WorkItem.objects.filter(scope)
        .annotate(q=Coalesce(F("queue_id"), 0), h=TruncHour(at, tzinfo=UTC))
        .values("q", "worktype_id", "h")
        .annotate(**counters)
        .order_by()
    )


def rollup_recompute() -> dict[Key, dict[str, int]]:
    """The rollup as the items say it should be: three grouped queries."""
    from workitems.selectors.dashboard import met_q

    result: dict[Key, dict[str, int]] = {}
    queries = (
        _grouped(Q(date_created__isnull=False), "date_created", {"opened": Count("pk")}),
        _grouped(
            Q(date_closed__isnull=False),
            "date_closed",
            {"closed": Count("pk"), "closed_within_sla": Count("pk", filter=met_q())},
        ),
        _grouped(Q(sla_breached_at__isnull=False), "sla_breached_at", {"breached": Count("pk")}),
    )
    for query in queries:
        for row in query:
            key = (row["q"], row["worktype_id"], hour_of(row["h"]))
            counts = result.setdefault(key, dict.fromkeys(COUNTERS, 0))
            for counter in COUNTERS:
                counts[counter] += row.get(counter, 0)
    return result


def rollup_stored() -> dict[Key, dict[str, int]]:
    """The rollup table's rows (all-zero rows left out: they count nothing)."""
    stored = {}
    for row in HourlyRollup.objects.values("queue_key", "worktype_id", "hour", *COUNTERS):
        counts = {c: row[c] for c in COUNTERS}
        if any(counts.values()):
            stored[(row["queue_key"], row["worktype_id"], hour_of(row["hour"]))] = counts
    return stored


def rollup_rebuild() -> int:
    """Replace the rollup with a recompute from the items; returns the rows written.

    On PostgreSQL the table is locked first (EXCLUSIVE: reads go on, writers wait), and the lock
    waits for every writer holding it, whose item changes are then committed and seen by the
    recompute; a writer arriving later adds its change to the rebuilt rows."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {HourlyRollup._meta.db_table} IN EXCLUSIVE MODE")
        HourlyRollup.objects.all().delete()
        rows = [
            HourlyRollup(queue_key=q, worktype_id=wt, hour=h, **counts)
            for (q, wt, h), counts in rollup_recompute().items()
        ]
        HourlyRollup.objects.bulk_create(rows, batch_size=1000)
        transaction.on_commit(settled_windows_forget)
    return len(rows)


def settled_windows_refresh(*, now: datetime) -> None:
    """Sum the rollup's settled hours for the dashboard's windows and keep the sum in the cache
    (called by the SLA sweep, once a minute)."""
    from workitems.selectors.dashboard_windows import settled_summary, window_counts

    counts = window_counts(now=now, hours="settled")
    cache.set(SETTLED_WINDOWS_CACHE_KEY, settled_summary(counts, now=now), timeout=None)


def settled_windows_forget() -> None:
    cache.delete(SETTLED_WINDOWS_CACHE_KEY)
