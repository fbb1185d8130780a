"""Applying a stored Genesys work-item event to our mirror of the item.

Rules:
- The item is found by its Genesys id; failing that, an item we submitted whose external ref is the
  event's `externalTag` and whose Genesys id we have not recorded yet (the `add` event can overtake
  the submission's answer); failing that, an item created elsewhere in Genesys is adopted as a new
  local mirror (external ref = `externalTag`, or `genesys-<id>`).
- An event is applied only if its `dateModified` is newer than the item's; otherwise it is stale
  and changes nothing. Events are full snapshots, so skipping an older one loses nothing.
- A status change writes a StatusTransition and a Delivery in the same transaction as the change.
- `delete`/`purge` are recorded (audit) and change nothing: the local item keeps its history, and
  a later event for the same id (should one come) is applied as usual.
- Every outcome writes one audit event (actor "genesys").

workitem_apply_event runs in a transaction (a savepoint when called inside one) and holds the
item's row lock until that transaction ends. The rules live here once; how the changes are written
is the batch's business (ApplyBatch: row by row; services/event_batch.py: set-based per batch).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from audits.models import Outcome
from audits.services import AuditEntry, record_many
from workitems.genesys_events import (
    DELETE_OPERATIONS,
    EventRejected,
    NormalisedEvent,
    event_normalise,
)
from workitems.genesys_wire import genesys_ref, parse_genesys_datetime, workitem_state_read
from workitems.models import (
    Delivery,
    InboundEvent,
    LocalState,
    Queue,
    StatusCategory,
    StatusTransition,
    WorkItem,
    WorkItemStatus,
    WorkType,
)
from workitems.services.event_limits import future_skew
from workitems.services.genesys_state import member_name
from workitems.services.outbox import delivery_enqueue
from workitems.services.rollup import Marks, RollupDelta, rollup_apply, rollup_marks
from workitems.services.rows_update import rows_update
from workitems.services.sla import (
    SLA_FIELDS,
    PolicyTerms,
    sla_terms,
    workitem_sla_on_status,
    workitem_sla_start,
)

ACTOR = "genesys"
CATEGORIES = set(StatusCategory.values)


class ApplyOutcome(enum.StrEnum):
    APPLIED = "applied"
    ADOPTED = "adopted"
    STALE = "stale"
    IGNORED = "ignored"
    DELETED = "deleted"
    REJECTED = "rejected"


class EventApplyError(Exception):
    """The event cannot be applied yet (e.g. an unknown worktype); it fails and is retried."""


class ApplyBatch:
    """What a run of events shares, and how their changes are written.

    This one writes row by row through the ORM, at once (the per-event path: single events,
    reconciliation, and the event processor's fallback when a batch statement fails); only the
    audit events and the events' own state wait for `flush()`. services/event_batch.py's
    BulkApplyBatch applies the same rules (everything below calls these methods) but keeps the
    writes and sends them set-based at `flush()`. `flush()` must run in the same transaction as
    the changes, which the event processor and workitem_apply_event ensure.
    """

    def __init__(self) -> None:
        self._statuses: dict[str, WorkItemStatus | None] = {}
        self._statuses_by_pk: dict[int, WorkItemStatus] = {}
        self._queues: dict[str, int | None] = {}
        self._worktypes: dict[str, WorkType | None] = {}
        self._member_names: dict[str, str] = {}
        self._terms: dict[tuple[int, int | None], PolicyTerms] = {}
        self.audit: list[_PendingAudit] = []
        self.events: list[InboundEvent] = []
        # Items already locked and loaded in this transaction, and the status each was last moved
        # to (by Genesys id), so an item's next event in the batch needs neither query again.
        self.items: dict[str, WorkItem] = {}
        self.last_status: dict[str, tuple[str, str]] = {}
        # Each changed item's rollup marks before and after, summed into one upsert at flush.
        self.rollup_changes: list[tuple[Marks, Marks]] = []

    # --- reference data, looked up once per batch --------------------------------------------

    def status(self, genesys_id: str) -> WorkItemStatus | None:
        if genesys_id not in self._statuses:
            found = WorkItemStatus.objects.filter(genesys_id=genesys_id).first()
            self._statuses[genesys_id] = found
            if found is not None:
                self._statuses_by_pk[found.pk] = found
        return self._statuses[genesys_id]

    def status_by_pk(self, pk: int | None) -> WorkItemStatus | None:
        if pk is None:
            return None
        if pk not in self._statuses_by_pk:
            found = WorkItemStatus.objects.get(pk=pk)
            self._statuses_by_pk[pk] = found
            self._statuses[found.genesys_id] = found
        return self._statuses_by_pk[pk]

    def queue_pk(self, genesys_id: str) -> int | None:
        if genesys_id not in self._queues:
            self._queues[genesys_id] = (
                Queue.objects.filter(genesys_id=genesys_id).values_list("pk", flat=True).first()
            )
        return self._queues[genesys_id]

    def worktype(self, genesys_id: str) -> WorkType | None:
        if genesys_id not in self._worktypes:
            self._worktypes[genesys_id] = WorkType.objects.filter(genesys_id=genesys_id).first()
        return self._worktypes[genesys_id]

    def member_name(self, user_id: str) -> str:
        """The name our queue-member mirror knows a Genesys user by ("" if none)."""
        if user_id not in self._member_names:
            self._member_names[user_id] = member_name(user_id=user_id)
        return self._member_names[user_id]

    def sla_terms(self, *, worktype_id: int, queue_id: int | None) -> PolicyTerms:
        key = (worktype_id, queue_id)
        if key not in self._terms:
            self._terms[key] = sla_terms(worktype_id=worktype_id, queue_id=queue_id)
        return self._terms[key]

    # --- reads and writes (overridden by the bulk batch) --------------------------------------

    def normalise(self, event: InboundEvent) -> NormalisedEvent:
        return event_normalise(_load(event.body), now=timezone.now(), future_skew=future_skew())

    def find_item(self, event: NormalisedEvent) -> tuple[WorkItem | None, str]:
        """The locked item and how it was found ("genesys_id" or "external_tag")."""
        if event.workitem_id in self.items:
            return self.items[event.workitem_id], "genesys_id"
        item = WorkItem.objects.select_for_update().filter(genesys_id=event.workitem_id).first()
        if item is not None:
            return item, "genesys_id"
        tag = str(event.body.get("externalTag") or "").strip()
        if tag:
            item = (
                WorkItem.objects.select_for_update()
                .filter(external_ref=tag, genesys_id__isnull=True)
                .first()
            )
            if item is not None:
                return item, "external_tag"
        return None, ""

    def external_ref_taken(self, ref: str) -> bool:
        return WorkItem.objects.filter(external_ref=ref).exists()

    def recorded_status(self, item: WorkItem) -> tuple[str, str] | None:
        """(Genesys id, name) of the status the item's latest transition moved it to, if any."""
        return (
            item.transitions.order_by("-changed_at", "-id")
            .values_list("to_status_id", "to_status_name")
            .first()
        )

    def item_insert(self, item: WorkItem) -> None:
        item.save(force_insert=True)

    def item_save(self, item: WorkItem, fields: set[str]) -> None:
        item.save(update_fields=sorted(fields))

    def transition_add(self, transition: StatusTransition) -> None:
        transition.save(force_insert=True)

    def delivery_add(self, item: WorkItem, *, kind: str, sla_breached: bool) -> Delivery:
        return delivery_enqueue(item=item, kind=kind, sla_breached=sla_breached)

    def ref(self, obj: Model) -> Any:
        """What an audit context holds for a row written in this batch: its id (here it has one
        already; the bulk batch resolves it at flush)."""
        return obj.pk

    def rollup_note(self, before: Marks, after: Marks) -> None:
        if before != after:
            self.rollup_changes.append((before, after))

    @contextmanager
    def event_scope(self, genesys_id: str) -> Iterator[None]:
        """One event's changes, undone whole if it fails: a savepoint here."""
        noted = len(self.rollup_changes)
        try:
            with transaction.atomic():
                yield
        except BaseException:
            self.forget(genesys_id)
            del self.rollup_changes[noted:]
            raise

    def forget(self, genesys_id: str) -> None:
        """After a failed event: its savepoint was rolled back, so the cached item may be wrong."""
        self.items.pop(genesys_id, None)
        self.last_status.pop(genesys_id, None)

    def flush(self) -> None:
        if self.rollup_changes:
            delta = RollupDelta()
            for before, after in self.rollup_changes:
                delta.change(before, after)
            rollup_apply(delta)
            self.rollup_changes = []
        rows_update(InboundEvent, self.events, FINISH_FIELDS)
        if self.audit:
            record_many(pending.entry(self.resolve) for pending in self.audit)
        self.events, self.audit = [], []

    def resolve(self, value: Any) -> Any:
        return value


@dataclass
class _PendingAudit:
    """An audit event written at flush, when every row it names has its id."""

    action: str
    event: InboundEvent
    item: WorkItem | None
    normalised: NormalisedEvent | None
    outcome: str
    context: dict[str, Any]

    def entry(self, resolve: Callable[[Any], Any]) -> AuditEntry:
        event, item, normalised = self.event, self.item, self.normalised
        return AuditEntry(
            actor=ACTOR,
            action=self.action,
            object_type="WorkItem" if item else "InboundEvent",
            object_id=str(item.pk if item else event.pk),
            correlation_id=(item.external_ref if item else "") or event.workitem_genesys_id,
            outcome=self.outcome,
            context={
                "event_id": event.pk,
                "genesys_id": event.workitem_genesys_id,
                "operation": event.operation,
                "date_modified": normalised.date_modified_raw if normalised else "",
                **{key: resolve(value) for key, value in self.context.items()},
            },
        )


def _load(body: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise EventRejected(f"malformed JSON: {exc}") from None


def _adopt(event: NormalisedEvent, batch: ApplyBatch) -> WorkItem:
    """A new local mirror of an item created elsewhere in Genesys."""
    body = event.body
    type_id = genesys_ref(body, "typeId", "type")
    worktype = batch.worktype(type_id) if type_id else None
    if worktype is None:
        raise EventApplyError(
            f"Cannot adopt work item {event.workitem_id}: its worktype "
            f"{type_id or '(none in the event)'} is not known locally. Run `manage.py genesys_sync` "
            "(or the admin's refresh) to load worktypes; the event is retried."
        )
    tag = str(body.get("externalTag") or "").strip()
    external_ref = tag or f"genesys-{event.workitem_id}"
    if tag and batch.external_ref_taken(tag):
        # The tag belongs to another item (already linked to a different Genesys id).
        external_ref = f"genesys-{event.workitem_id}"
    name = str(body.get("name") or "").strip() or f"Genesys work item {event.workitem_id}"
    item = WorkItem(
        external_ref=external_ref[:200],
        name=name[:256],
        worktype=worktype,
        genesys_id=event.workitem_id,
        local_state=LocalState.SUBMITTED,
        description=str(body.get("description") or "")[:512],
        priority=_int(body.get("priority")),
        date_due=parse_genesys_datetime(body.get("dateDue")),
        date_expires=parse_genesys_datetime(body.get("dateExpires")),
    )
    batch.item_insert(item)
    return item


def _audit(
    batch: ApplyBatch,
    action: str,
    *,
    event: InboundEvent,
    item: WorkItem | None,
    normalised: NormalisedEvent | None,
    outcome: str = Outcome.SUCCESS,
    context: dict[str, Any] | None = None,
) -> None:
    batch.audit.append(_PendingAudit(action, event, item, normalised, outcome, context or {}))


FINISH_FIELDS = ["state", "workitem", "processed_at", "error", "next_attempt_at"]


def _finish(
    batch: ApplyBatch, event: InboundEvent, state: str, item: WorkItem | None, error: str = ""
) -> None:
    event.state = state
    event.workitem = item
    event.processed_at = timezone.now()
    event.error = error
    event.next_attempt_at = None
    batch.events.append(event)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def workitem_apply_state(
    item: WorkItem,
    event: NormalisedEvent,
    *,
    source_event: InboundEvent | None,
    batch: ApplyBatch,
    source: str = "event",
) -> dict[str, Any]:
    """Copy the event's state onto the (locked) item, save it, and on a status change write the
    transition and the delivery. Returns the audit context. Used by events and by reconciliation
    (`source="reconcile"`), so both change an item the same way."""
    state = workitem_state_read(body=event.body, whole=False)
    at: datetime = event.date_modified  # type: ignore[assignment]
    context: dict[str, Any] = {}
    rollup_before = rollup_marks(item)
    old_status = batch.status_by_pk(item.status_id)
    old_category = item.status_category
    # The status we last recorded: the latest transition's (it may be one unknown locally, which
    # the status FK cannot hold), else the FK's.
    key = event.workitem_id
    if key in batch.last_status:
        prev_gid, prev_name = batch.last_status[key]
    else:
        last = batch.recorded_status(item)
        prev_gid, prev_name = last or (
            (old_status.genesys_id, old_status.name) if old_status else ("", "")
        )
    batch.last_status[key] = (prev_gid, prev_name)

    new_status_gid = state.status_id
    category = state.status_category
    new_status, new_name, new_category = old_status, prev_name, old_category
    if new_status_gid:
        found = batch.status(new_status_gid)
        if found is not None:
            new_status, new_name = found, found.name
            new_category = category if category in CATEGORIES else found.category
        else:
            # Unknown locally (reference data not synced yet): keep the FK, mirror the category.
            context["unknown_status_id"] = new_status_gid
            new_name = ""
            if category in CATEGORIES:
                new_category = category
    elif category in CATEGORIES:
        new_category = category
    status_changed = (bool(new_status_gid) and new_status_gid != prev_gid) or (
        new_category != old_category
    )

    fields = {"date_modified", "updated_at"}
    item.date_modified = at
    if new_status != old_status:
        fields.add("status")
    item.status = new_status  # also primes the cache the delivery payload reads
    if new_category != old_category:
        item.status_category = new_category
        fields.add("status_category")
    if state.assignment_state is not None:
        item.assignment_state = state.assignment_state
        fields.add("assignment_state")
    if state.assignee_id is not None:
        assignee = state.assignee_id
        if assignee != item.assignee_id:
            name = batch.member_name(assignee) if assignee else ""
            context["assignee"] = {
                "from": item.assignee_name or item.assignee_id,
                "to": name or assignee,
                "to_id": assignee,
            }
            item.assignee_id, item.assignee_name = assignee, name
            fields.update({"assignee_id", "assignee_name"})
    queue_gid = state.queue_id
    if queue_gid:
        queue_pk = batch.queue_pk(queue_gid)
        if queue_pk is None:
            context["unknown_queue_id"] = queue_gid
        elif queue_pk != item.queue_id:
            item.queue_id = queue_pk
            fields.add("queue")
    if item.date_created is None:
        created = state.date_created
        if created is not None:
            item.date_created = created
            fields.add("date_created")
            workitem_sla_start(item=item, terms_for=batch.sla_terms)
            fields.update(SLA_FIELDS)
    if status_changed:
        item.date_status_changed = state.date_status_changed or at
        fields.add("date_status_changed")
    if new_category == StatusCategory.CLOSED:
        if item.date_closed is None or status_changed:
            item.date_closed = state.date_closed or at
            fields.add("date_closed")
    elif item.date_closed is not None and new_category:
        item.date_closed = None  # reopened
        fields.add("date_closed")
    if new_category != old_category:
        workitem_sla_on_status(
            item=item,
            old_category=old_category,
            new_category=new_category,
            at=at,
            terms_for=batch.sla_terms,
        )
        fields.update(SLA_FIELDS)
    batch.item_save(item, fields)
    batch.rollup_note(rollup_before, rollup_marks(item))

    if status_changed:
        transition = StatusTransition(
            workitem=item,
            from_status_id=prev_gid,
            from_status_name=prev_name,
            from_category=old_category,
            to_status_id=new_status_gid or prev_gid,
            to_status_name=new_name,
            to_category=new_category,
            changed_at=at,
            assignee_id=item.assignee_id,
            assignee_name=item.assignee_name,
            source_event=source_event,
            source=source,
        )
        batch.transition_add(transition)
        batch.last_status[key] = (transition.to_status_id, new_name)
        delivery = batch.delivery_add(
            item, kind="status", sla_breached=item.sla_breached_at is not None
        )
        context.update(
            {
                "transition_id": batch.ref(transition),
                "delivery_id": batch.ref(delivery),
                "from": {"status_id": prev_gid, "status": prev_name, "category": old_category},
                "to": {
                    "status_id": transition.to_status_id,
                    "status": new_name,
                    "category": new_category,
                },
            }
        )
    context["fields"] = sorted(fields - {"updated_at"} - set(SLA_FIELDS))
    return context


def workitem_apply_event(*, event: InboundEvent, batch: ApplyBatch | None = None) -> ApplyOutcome:
    """Apply one stored event (accepted or failed) to its work item and mark it.

    Raises EventApplyError (or anything unexpected) for the caller to record as a failure; nothing
    is changed then. With a `batch` (the event processor's), the audit event and the event's own
    row are written when the caller flushes the batch, in the same transaction; without one, here.
    """
    if batch is not None:
        # The caller's batch.event_scope() undoes a failure: a savepoint, or (bulk) in memory.
        # No atomic() here: one left by an exception would doom the caller's whole transaction.
        return _apply(event, batch)
    batch = ApplyBatch()
    with transaction.atomic():
        outcome = _apply(event, batch)
        batch.flush()
    return outcome


def _apply(event: InboundEvent, batch: ApplyBatch) -> ApplyOutcome:
    try:
        normalised = batch.normalise(event)
    except EventRejected as exc:
        _finish(batch, event, InboundEvent.State.REJECTED, None, str(exc))
        return ApplyOutcome.REJECTED
    if not normalised.supported:
        _finish(batch, event, InboundEvent.State.IGNORED, None, normalised.ignore_reason)
        _audit(
            batch,
            "workitem.event.ignored",
            event=event,
            item=None,
            normalised=normalised,
            outcome=Outcome.INFO,
            context={"reason": normalised.ignore_reason},
        )
        return ApplyOutcome.IGNORED

    item, found_by = batch.find_item(normalised)
    if normalised.operation in DELETE_OPERATIONS:
        _finish(batch, event, InboundEvent.State.PROCESSED, item)
        _audit(
            batch,
            "workitem.event.deleted",
            event=event,
            item=item,
            normalised=normalised,
            outcome=Outcome.INFO,
            context={"note": "deleted in Genesys; the local item is kept unchanged"},
        )
        return ApplyOutcome.DELETED

    adopted = False
    if item is None:
        item = _adopt(normalised, batch)
        adopted = True
    elif item.date_modified is not None and normalised.date_modified <= item.date_modified:
        _finish(batch, event, InboundEvent.State.STALE, item)
        _audit(
            batch,
            "workitem.event.stale",
            event=event,
            item=item,
            normalised=normalised,
            outcome=Outcome.INFO,
            context={"held_date_modified": item.date_modified.isoformat()},
        )
        batch.items[normalised.workitem_id] = item
        return ApplyOutcome.STALE

    if found_by == "external_tag":
        item.genesys_id = normalised.workitem_id
        item.local_state = LocalState.SUBMITTED
        batch.item_save(item, {"genesys_id", "local_state", "updated_at"})
    context = workitem_apply_state(item, normalised, source_event=event, batch=batch)
    if found_by == "external_tag":
        context["linked_by_external_tag"] = True
    batch.items[normalised.workitem_id] = item
    _finish(batch, event, InboundEvent.State.PROCESSED, item)
    _audit(
        batch,
        "workitem.event.adopted" if adopted else "workitem.event.applied",
        event=event,
        item=item,
        normalised=normalised,
        context=context,
    )
    return ApplyOutcome.ADOPTED if adopted else ApplyOutcome.APPLIED
