"""Draining the inbound-event queue (the InboundEvent table itself).

A batch claims due rows — accepted, or failed and due for a retry — oldest `dateModified` first,
with `select_for_update(skip_locked=True)` on PostgreSQL so several workers never take the same
rows (SQLite serialises writers anyway). Each work item's events are applied in `dateModified`
order under the item's row lock; a failing event is pushed aside with its error and a back-off,
and the others carry on. The batch's writes go set-based, a statement per table
(services/event_batch.py).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from audits.models import Outcome
from audits.services import AuditEntry, record, record_many
from workitems.models import InboundEvent
from workitems.services.event_apply import ApplyBatch, EventApplyError, workitem_apply_event
from workitems.services.event_batch import BulkApplyBatch

logger = logging.getLogger(__name__)

State = InboundEvent.State
ERROR_MAX = 2000
# States an operator may replay. Duplicates point at their original; rejected input must be resent.
REPLAYABLE = (State.FAILED, State.PROCESSED, State.STALE, State.IGNORED)


def _backoff(attempts: int) -> timedelta:
    base = settings.EVENT_BACKOFF_BASE_SECONDS
    ceiling = settings.EVENT_BACKOFF_MAX_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), ceiling))


def events_due(*, now: datetime | None = None) -> QuerySet[InboundEvent]:
    """Accepted events, and failed ones due for a retry. Served by the partial index event_pending."""
    now = now or timezone.now()
    return InboundEvent.objects.filter(
        Q(state=State.ACCEPTED)
        | Q(
            state=State.FAILED,
            next_attempt_at__lte=now,
            attempts__lt=settings.EVENT_MAX_ATTEMPTS,
        )
    ).order_by("date_modified", "id")


def _fail(event: InboundEvent, exc: Exception, now: datetime) -> None:
    attempts = event.attempts + 1
    known = isinstance(exc, EventApplyError)
    error = str(exc) if known else f"{type(exc).__name__}: {exc}"
    retry = attempts < settings.EVENT_MAX_ATTEMPTS
    InboundEvent.objects.filter(pk=event.pk).update(
        state=State.FAILED,
        attempts=attempts,
        error=error[:ERROR_MAX],
        next_attempt_at=now + _backoff(attempts) if retry else None,
    )
    record(
        actor="genesys",
        action="workitem.event.failed",
        object_type="InboundEvent",
        object_id=str(event.pk),
        correlation_id=event.workitem_genesys_id,
        outcome=Outcome.FAILURE,
        context={
            "error": error[:500],
            "attempts": attempts,
            "will_retry": retry,
            "operation": event.operation,
        },
    )
    log = logger.warning if known else logger.exception
    log(
        "event failed",
        extra={"event_id": event.pk, "attempts": attempts, "will_retry": retry, "error": error},
        exc_info=None if known else exc,
    )


# Namespace of the per-item advisory locks: pg_try_advisory_xact_lock(namespace, hashtext(id)).
ITEM_LOCK_NAMESPACE = 0x57494556


def _claim(*, limit: int, now: datetime) -> list[InboundEvent]:
    """Lock and return up to `limit` due events, oldest dateModified first.

    On PostgreSQL the claim also takes a transaction-scoped advisory lock on each event's work
    item, in the same statement, and passes over items another processor holds: so two processors
    never work on one item at once (no waiting on its row lock, no double adoption), and the
    events a processor gets for an item are always that item's oldest due ones — a newer event
    cannot be applied by one processor while another still holds an older one. Rows locked by
    anyone else are skipped (skip_locked). SQLite has one writer at a time anyway.
    """
    claim = events_due(now=now).defer("headers")
    if connection.vendor == "postgresql":
        # CASE, so the lock is only tried for rows that are due (PostgreSQL may evaluate a plain
        # AND's operands in any order, and would lock items of not-yet-due failed events).
        claim = claim.alias(
            item_free=RawSQL(
                "CASE WHEN state = %s OR (state = %s AND next_attempt_at <= %s AND attempts < %s) "
                "THEN pg_try_advisory_xact_lock(%s, hashtext(workitem_genesys_id)) ELSE false END",
                [
                    State.ACCEPTED,
                    State.FAILED,
                    now,
                    settings.EVENT_MAX_ATTEMPTS,
                    ITEM_LOCK_NAMESPACE,
                ],
                output_field=BooleanField(),
            )
        ).filter(item_free=True)
    if connection.features.has_select_for_update_skip_locked:
        claim = claim.select_for_update(skip_locked=True)
    return _without_gaps(list(claim[:limit]), now=now)


def _order(date_modified: datetime | None, pk: int) -> tuple:
    """The claim's order (date_modified, id), NULLs last as PostgreSQL sorts them."""
    return (date_modified is None, date_modified, pk)


def _without_gaps(events: list[InboundEvent], *, now: datetime) -> list[InboundEvent]:
    """Leave out each item's claimed events that are newer than a due event of the item the
    claim did not get, so an item's events are applied oldest first, always.

    The claim can miss an older event while getting newer ones of the same item: a row someone
    else holds is skipped (skip_locked), and a scan that found the item's advisory lock taken at
    the older event finds it free at a newer one once the other processor has committed. What is
    left out stays due (locked by us until this transaction ends) for the next batch.
    """
    if not events or connection.vendor != "postgresql":
        return events  # SQLite has one writer: nothing is skipped
    last: dict[str, tuple] = {}
    for event in events:
        last[event.workitem_genesys_id] = _order(event.date_modified, event.pk)
    missed = (
        events_due(now=now)
        .filter(workitem_genesys_id__in=list(last))
        .exclude(pk__in=[event.pk for event in events])
        .values_list("workitem_genesys_id", "date_modified", "pk")
    )
    newest = events[-1].date_modified
    if newest is not None:
        # Rows beyond the claim's LIMIT are no older than its newest: read only the gaps.
        missed = missed.filter(date_modified__lte=newest)
    gap: dict[str, tuple] = {}
    for gid, date_modified, pk in missed:
        key = _order(date_modified, pk)
        if key < last[gid] and (gid not in gap or key < gap[gid]):
            gap[gid] = key
    if not gap:
        return events
    kept = [
        e
        for e in events
        if e.workitem_genesys_id not in gap
        or _order(e.date_modified, e.pk) < gap[e.workitem_genesys_id]
    ]
    logger.info(
        "events left for the next batch behind an older one",
        extra={"items": len(gap), "events": len(events) - len(kept)},
    )
    return kept


def events_process_batch(
    *, limit: int = 500, now: datetime | None = None, batched: bool = True
) -> Counter:
    """Claim up to `limit` due events and apply them. Counts by outcome, plus "claimed".

    Batched (the default), the batch's changes are written set-based (services/event_batch.py);
    if one of those statements fails, the batch is rolled back to its claim and applied again
    event by event, each in a savepoint, so only the event at fault fails. `batched=False` goes
    event by event from the start (the path the batched one is tested against).
    """
    now = now or timezone.now()
    with transaction.atomic():
        events = _claim(limit=limit, now=now)
        if batched and events:
            try:
                with transaction.atomic():  # a savepoint: the claim's locks outlive a failure
                    counts = _apply_all(events, BulkApplyBatch(events), now)
            except DatabaseError as exc:
                logger.warning(
                    "batch write failed; applying its events one by one",
                    extra={"events": len(events), "error": f"{type(exc).__name__}: {exc}"},
                )
                counts = _apply_all(events, ApplyBatch(), now)
        else:
            counts = _apply_all(events, ApplyBatch(), now)
        counts["claimed"] = len(events)
    if events:
        logger.info("events processed", extra={"counts": dict(counts)})
    return counts


def _apply_all(events: list[InboundEvent], batch: ApplyBatch, now: datetime) -> Counter:
    counts: Counter = Counter()
    # One work item's events together, in dateModified order (the claim's order is kept).
    by_item: dict[str, list[InboundEvent]] = {}
    for event in events:
        by_item.setdefault(event.workitem_genesys_id, []).append(event)
    # Items in a fixed order, so that waits on work-item row locks held by other writers
    # (the SLA sweep, the outbox) cannot form a cycle with another processor.
    for gid, item_events in sorted(by_item.items()):
        for event in item_events:
            try:
                with batch.event_scope(gid):  # a failure undoes only this event
                    outcome = workitem_apply_event(event=event, batch=batch)
            except Exception as exc:  # pushed aside with its error (see _fail)
                _fail(event, exc, now)
                counts["failed"] += 1
            else:
                counts[str(outcome)] += 1
    batch.flush()
    return counts


@dataclass
class DrainResult:
    counts: Counter
    batches: int
    seconds: float

    @property
    def processed(self) -> int:
        return sum(n for k, n in self.counts.items() if k != "claimed")

    def line(self) -> str:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()) if k != "claimed")
        return f"{self.processed} events in {self.batches} batches, {self.seconds:.2f}s" + (
            f" ({detail})" if detail else ""
        )


def events_drain(
    *, limit: int = 500, max_seconds: float | None = None, patience_seconds: float = 5.0
) -> DrainResult:
    """Process batches until nothing is due (or the time budget is spent).

    Due events this processor could not claim belong to items another processor is working on;
    they are waited for (briefly, then retried) rather than left behind, for up to
    `patience_seconds` without progress.
    """
    started = time.monotonic()
    total: Counter = Counter()
    batches = 0
    idle_since: float | None = None
    while True:
        counts = events_process_batch(limit=limit)
        batches += 1
        total.update(counts)
        now = time.monotonic()
        if max_seconds is not None and now - started >= max_seconds:
            break
        if counts["claimed"] >= limit:
            idle_since = None
            continue
        if not events_due().exists():
            break
        if counts["claimed"]:
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since >= patience_seconds:
            break
        time.sleep(0.05)  # another processor holds the rest: let it commit
    return DrainResult(counts=total, batches=batches, seconds=time.monotonic() - started)


def process_events() -> str:
    """django-q2 entry point (scheduled every minute): drain what is due, for at most 50 s so runs
    do not pile up behind each other."""
    return events_drain(max_seconds=50).line()


@dataclass
class ReplayResult:
    replayed: list[int]
    skipped: list[int]


def events_replay(*, events: QuerySet[InboundEvent], actor: str) -> ReplayResult:
    """Put events back in the queue: state accepted, attempts 0, error cleared. Audited.

    Replaying a processed event is safe: it comes back stale, since the item already holds its
    dateModified. Duplicates and rejected input are skipped.
    """
    with transaction.atomic():
        rows = list(events.values_list("pk", "state", "workitem_genesys_id"))
        replay = [(pk, gid) for pk, state, gid in rows if state in REPLAYABLE]
        skipped = [pk for pk, state, _ in rows if state not in REPLAYABLE]
        ids = [pk for pk, _ in replay]
        if ids:
            InboundEvent.objects.filter(pk__in=ids).update(
                state=State.ACCEPTED,
                attempts=0,
                error="",
                next_attempt_at=None,
                processed_at=None,
            )
            record_many(
                AuditEntry(
                    actor=actor,
                    action="inboundevent.replayed",
                    object_type="InboundEvent",
                    object_id=str(pk),
                    correlation_id=gid,
                    outcome=Outcome.SUCCESS,
                    context={},
                )
                for pk, gid in replay
            )
    return ReplayResult(replayed=ids, skipped=skipped)
