"""Reconciliation: heal lost events by asking Genesys for items we have not heard about for a while.

Candidates: submitted items with a Genesys id that are not closed here, whose last known change —
the later of their `date_modified` (else `submitted_at`, else `created_at`) and the newest event
received for their Genesys id (processed or not) — is older than `older_than` (default
RECONCILE_AFTER_MINUTES, 30); and every frozen item (a `date_modified` too far in the future, see
below), whose last change is then its submission. They are taken oldest first, at most `limit`
per run.

The admin action "Refresh from Genesys" (`workitems_refresh_from_genesys`) applies the same rules
to the items an operator selects, at once.

For each: `GET /taskmanagement/workitems/{id}`, with no transaction open. Then:
- Genesys's `dateModified` newer than ours — or ours further in the future than
  EVENT_FUTURE_SKEW_SECONDS allows (an item frozen by an event from the future, which would make
  every real event look stale): Genesys's own state and `dateModified` win. The Workitem is applied through event apply's own
  `workitem_apply_state` (what an event goes through: status, category, queue, assignment, dates, SLA, a
  StatusTransition — here with source "reconcile" — and a Delivery on a status change), in one
  transaction under the item's row lock, re-checking `date_modified` there, since an event may have
  arrived while we were asking. Audited as `workitem.reconcile.healed` with from/to: *healed*.
- otherwise: *unchanged*, nothing written.
- 404: the item is gone in Genesys (deleted, or no longer visible to the OAuth client — the two
  look the same). Audited as `workitem.reconcile.gone`; nothing else changes, as for a `delete`
  event: the local item keeps its state and history, and stays open here. So that it is not
  fetched (and audited) on every run, it is skipped for GONE_RECHECK (cache marker per item), then
  asked about again — a 404 caused by permissions or a division move can heal itself.
- `RateLimited` (a wait beyond GENESYS_RETRY_AFTER_CEILING; shorter waits the client sleeps
  through): the run stops there, the rest is left for the next run.
- Genesys unreachable or refusing our credentials (no status, 401): the run stops, as every
  further call would fail the same way.
- Any other error: that item is *failed* (audited `workitem.reconcile.failed`), the run carries on.

Not asking again too soon: there is no "reconciled at" column, so each run remembers where it got
to (a cursor in the shared cache: last change and pk of the last item it examined, one cursor per
`older_than`). The next run carries on after it; once it has been through every stale item, it
starts again from the oldest only when the pass began at least `older_than` ago. So an unchanged
item is fetched about once per `older_than`, however many items are stale, and a run never scans
more than `limit` rows. Losing the cache only means starting again from the oldest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, DateTimeField, F, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from audits.models import Outcome
from audits.services import record_entry
from workitems.genesys import GenesysClient, GenesysError, RateLimited, get_client
from workitems.genesys_events import NormalisedEvent, too_far_ahead
from workitems.genesys_wire import parse_genesys_datetime
from workitems.models import InboundEvent, LocalState, WorkItem
from workitems.services.event_apply import ApplyBatch, workitem_apply_state
from workitems.services.event_limits import future_skew
from workitems.services.item_audit import item_entry

logger = logging.getLogger(__name__)

ACTOR = "system"
SOURCE = "reconcile"
HEALED = "workitem.reconcile.healed"
GONE = "workitem.reconcile.gone"
FAILED = "workitem.reconcile.failed"
GONE_RECHECK = timedelta(hours=24)
CURSOR_KEY = "reconcile:cursor:{seconds}"
GONE_KEY = "reconcile:gone:{pk}"


@dataclass
class ReconcileResult:
    checked: int = 0  # items examined this run: healed + unchanged + gone + failed
    healed: int = 0  # Genesys held a newer state; applied
    unchanged: int = 0
    gone: int = 0  # 404 in Genesys
    failed: int = 0
    rate_limited: bool = False  # stopped early on a rate limit; the rest waits for the next run
    retry_after: float | None = None
    stopped: str = ""  # why the run stopped early, if it did

    def line(self) -> str:
        text = (
            f"{self.checked} checked: {self.healed} healed, {self.unchanged} unchanged, "
            f"{self.gone} gone in Genesys, {self.failed} failed"
        )
        if self.stopped:
            text += f"; stopped early: {self.stopped}"
        return text


@dataclass(frozen=True)
class _Candidate:
    pk: int
    genesys_id: str
    external_ref: str
    last_change: datetime


def default_older_than() -> timedelta:
    return timedelta(minutes=settings.RECONCILE_AFTER_MINUTES)


def frozen_watermark(*, now: datetime) -> Q:
    """Items whose `date_modified` is further in the future than an event may be (the ingest's
    own rule, genesys_events.too_far_ahead): no real event can ever be newer."""
    return Q(date_modified__gt=now + future_skew())


def stale_workitems(*, cutoff: datetime, now: datetime | None = None) -> QuerySet[WorkItem]:
    """Open submitted items whose last known change is before `cutoff`, and frozen ones, oldest
    change first, annotated with `last_change`."""
    now = now or timezone.now()
    newest_event = (
        InboundEvent.objects.filter(workitem_genesys_id=OuterRef("genesys_id"))
        .order_by("-received_at")
        .values("received_at")[:1]
    )
    frozen = frozen_watermark(now=now)
    submitted = Coalesce("submitted_at", "created_at")
    known = Coalesce("date_modified", "submitted_at", "created_at")
    return (
        WorkItem.objects.filter(
            local_state=LocalState.SUBMITTED, genesys_id__isnull=False, date_closed__isnull=True
        )
        .annotate(last_event_at=Subquery(newest_event))
        .annotate(
            last_change=Case(
                # A frozen item's watermark and its (stale) events say nothing: its submission.
                When(frozen, then=submitted),
                # Coalesce inside Greatest: SQLite's MAX() is NULL if any argument is.
                default=Greatest(known, Coalesce(F("last_event_at"), known)),
                output_field=DateTimeField(),
            )
        )
        .filter(Q(last_change__lt=cutoff) | frozen)
        .order_by("last_change", "pk")
    )


@dataclass
class _Pass:
    """Where the last run got to (see the module docstring), and this run's share of it."""

    key: str
    started: datetime  # when the pass the cursor belongs to began
    wrap_index: int | None = None  # candidates from here on begin a new pass

    def save(self, last_index: int | None, candidates: list[_Candidate], now: datetime) -> None:
        if last_index is None:
            return  # nothing examined: the stored cursor stays as it was
        started = self.started
        if self.wrap_index is not None and last_index >= self.wrap_index:
            started = now
        last = candidates[last_index]
        cache.set(
            self.key,
            {"at": last.last_change.isoformat(), "pk": last.pk, "started": started.isoformat()},
            timeout=None,
        )


def _candidates(
    *, cutoff: datetime, older_than: timedelta, limit: int, now: datetime
) -> tuple[list[_Candidate], _Pass]:
    """This run's items: those after the cursor, then (once a pass is complete and began at least
    `older_than` ago) from the oldest again."""
    key = CURSOR_KEY.format(seconds=int(older_than.total_seconds()))
    fields = ("pk", "genesys_id", "external_ref", "last_change")
    stale = stale_workitems(cutoff=cutoff, now=now)
    try:
        state = cache.get(key) or {}
        at, after_pk = datetime.fromisoformat(state["at"]), int(state["pk"])
        started = datetime.fromisoformat(state["started"])
    except (KeyError, TypeError, ValueError):
        # No cursor (first run, or the cache was cleared): a new pass from the oldest.
        rows = list(stale.values_list(*fields)[:limit])
        return [_Candidate(*row) for row in rows], _Pass(key=key, started=now, wrap_index=0)
    rows = list(
        stale.filter(Q(last_change__gt=at) | Q(last_change=at, pk__gt=after_pk)).values_list(
            *fields
        )[:limit]
    )
    current = _Pass(key=key, started=started)
    if len(rows) < limit and now - started >= older_than:
        current.wrap_index = len(rows)
        seen = [row[0] for row in rows]
        rows += list(stale.exclude(pk__in=seen).values_list(*fields)[: limit - len(rows)])
    return [_Candidate(*row) for row in rows], current


def _snapshot(item: WorkItem) -> dict[str, Any]:
    status = item.status
    return {
        "status_id": status.genesys_id if status else "",
        "status": status.name if status else "",
        "category": item.status_category,
        "date_modified": item.date_modified.isoformat() if item.date_modified else None,
    }


def _normalised(candidate: _Candidate, workitem: dict[str, Any]) -> NormalisedEvent:
    """The REST Workitem as event apply sees an event: a full snapshot, no operation."""
    raw = str(workitem.get("dateModified") or "")
    return NormalisedEvent(
        envelope="reconcile",
        topic_name="",
        body=workitem,
        workitem_id=candidate.genesys_id,
        operation="",
        date_modified_raw=raw,
        date_modified=parse_genesys_datetime(raw),
    )


def _heal(candidate: _Candidate, event: NormalisedEvent, *, actor: str, now: datetime) -> bool:
    """Apply Genesys's state if it is newer, or if ours is frozen (from the future); False when
    ours is (by now) as new."""
    with transaction.atomic():
        item = (
            WorkItem.objects.select_for_update()
            .filter(pk=candidate.pk, genesys_id=candidate.genesys_id)
            .first()
        )
        if item is None:
            return False
        frozen = bool(too_far_ahead(item.date_modified, now=now, skew=future_skew()))
        if not frozen and (
            item.date_modified is not None and event.date_modified <= item.date_modified
        ):
            return False
        before = _snapshot(item)
        batch = ApplyBatch()
        context = workitem_apply_state(item, event, source_event=None, batch=batch, source=SOURCE)
        batch.flush()  # the item's change to the hourly rollup (services/rollup.py)
        context.setdefault("from", before)
        context.setdefault("to", _snapshot(item))
        if frozen:
            context["future_watermark_replaced"] = True
        record_entry(
            item_entry(
                item,
                actor=actor,
                action=HEALED,
                context={
                    "genesys_id": item.genesys_id,
                    "held_date_modified": before["date_modified"],
                    "genesys_date_modified": event.date_modified_raw,
                    **context,
                },
            )
        )
    return True


def _record(
    candidate: _Candidate, action: str, outcome: str, context: dict[str, Any], actor: str = ACTOR
) -> None:
    record_entry(
        item_entry(
            candidate,
            actor=actor,
            action=action,
            outcome=outcome,
            context={"genesys_id": candidate.genesys_id, **context},
        )
    )


def _examine(
    candidate: _Candidate, *, client: GenesysClient, result: ReconcileResult, actor: str, now
) -> bool:
    """Ask Genesys about one item, with no transaction open, and apply what changed. False when
    the run must stop: every further call would fail the same way (rate limit, no connection,
    credentials refused)."""
    try:
        workitem = client.get_workitem(workitem_id=candidate.genesys_id)
    except RateLimited as exc:
        result.rate_limited, result.retry_after = True, exc.retry_after
        result.stopped = str(exc)
        return False
    except GenesysError as exc:
        if exc.status is None or exc.status == 401:
            result.stopped = str(exc)  # every further call would fail alike
            return False
        result.checked += 1
        if exc.status == 404:
            result.gone += 1
            cache.set(
                GONE_KEY.format(pk=candidate.pk),
                now.isoformat(),
                timeout=int(GONE_RECHECK.total_seconds()),
            )
            _record(
                candidate,
                GONE,
                Outcome.INFO,
                {
                    "context_id": exc.context_id,
                    "note": "Genesys has no such work item (deleted, or not visible to the "
                    "OAuth client); the local item is kept unchanged and asked about again "
                    f"after {GONE_RECHECK}.",
                },
                actor,
            )
        else:
            result.failed += 1
            _record(candidate, FAILED, Outcome.FAILURE, {"error": str(exc)}, actor)
        return True
    result.checked += 1
    event = _normalised(candidate, workitem)
    if event.date_modified is None:
        result.failed += 1
        _record(
            candidate,
            FAILED,
            Outcome.FAILURE,
            {"error": "Genesys answered without a usable dateModified"},
            actor,
        )
        return True
    try:
        healed = _heal(candidate, event, actor=actor, now=now)
    except Exception as exc:  # a failing item must not stop the run
        logger.exception("reconcile failed for work item %s", candidate.pk)
        result.failed += 1
        _record(
            candidate, FAILED, Outcome.FAILURE, {"error": f"{type(exc).__name__}: {exc}"}, actor
        )
        return True
    if healed:
        result.healed += 1
    else:
        result.unchanged += 1
    return True


def reconcile_stale(
    *,
    older_than: timedelta | None = None,
    limit: int = 200,
    client: GenesysClient | None = None,
    now: datetime | None = None,
) -> ReconcileResult:
    """Fetch up to `limit` stale open items from Genesys, oldest first, and apply what changed.

    Call it outside a transaction: each item's change commits on its own, and no transaction is
    held while Genesys is asked."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    older_than = default_older_than() if older_than is None else older_than
    now = now or timezone.now()
    result = ReconcileResult()
    candidates, current = _candidates(
        cutoff=now - older_than, older_than=older_than, limit=limit, now=now
    )
    if not candidates:
        return result
    try:
        client = client or get_client()
    except GenesysError as exc:
        result.stopped = str(exc)
        return result
    gone_marks = cache.get_many([GONE_KEY.format(pk=c.pk) for c in candidates])
    last: int | None = None  # index of the last candidate examined
    for index, candidate in enumerate(candidates):
        if GONE_KEY.format(pk=candidate.pk) in gone_marks:
            last = index  # gone not long ago: asked again after GONE_RECHECK
            continue
        if not _examine(candidate, client=client, result=result, actor=ACTOR, now=now):
            break
        last = index
    current.save(last, candidates, now)
    logger.info(
        "reconcile run",
        extra={
            "checked": result.checked,
            "healed": result.healed,
            "unchanged": result.unchanged,
            "gone": result.gone,
            "failed": result.failed,
            "rate_limited": result.rate_limited,
        },
    )
    return result


def workitems_refresh_from_genesys(
    *, items: QuerySet[WorkItem], actor: str, client: GenesysClient | None = None
) -> ReconcileResult:
    """The admin's "Refresh from Genesys": fetch the selected items (those in Genesys) now and
    apply Genesys's state where it is newer than ours, or where ours is frozen by a dateModified
    from the future — then Genesys's own dateModified wins. Audited as the operator."""
    now = timezone.now()
    result = ReconcileResult()
    rows = items.filter(genesys_id__isnull=False).order_by("pk")
    candidates = [
        _Candidate(pk, gid, ref, now)
        for pk, gid, ref in rows.values_list("pk", "genesys_id", "external_ref")
    ]
    if not candidates:
        return result
    try:
        client = client or get_client()
    except GenesysError as exc:
        result.stopped = str(exc)
        return result
    for candidate in candidates:
        if not _examine(candidate, client=client, result=result, actor=actor, now=now):
            break
    return result
