"""Applying a claimed batch of events set-based: the event processor's fast path.

The rules are event_apply.py's, unchanged (the same `_apply` runs for every event, per item in
dateModified order); only where the changes go differs. BulkApplyBatch

- reads every work item the batch names in one locking query (`SELECT … FOR UPDATE`, in Genesys-id
  order), each with the status its latest transition recorded, and parses each body once;
- keeps every change in memory while the events are applied: adopted items, the changed fields of
  each item, transitions, deliveries (numbered from the item's locked `last_delivery_sequence`),
  the events' own state and the audit events;
- writes them at `flush()`, one statement each: INSERT the adopted items, UPDATE the changed items
  (UPDATE … FROM VALUES on PostgreSQL), INSERT the transitions, INSERT the deliveries, UPDATE the
  events, INSERT the audit events (audits.services.record_many), and add the batch's changes to
  the hourly rollup (services/rollup.py: one upsert, in ApplyBatch.flush).

A failing event (unknown worktype, an unexpected error in the rules) is undone in memory, as a
savepoint undoes it on the per-event path: `event_scope` notes the state of everything the event
may touch and puts it back. A statement that fails at flush (a constraint, a deadlock) fails the
whole batch; the event processor then rolls it back and applies the batch event by event, which
isolates the culprit. tests/services/test_event_batch.py proves both paths write the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, OuterRef, Q, Subquery
from django.utils import timezone

from workitems.genesys_events import EventRejected, NormalisedEvent
from workitems.models import Delivery, InboundEvent, StatusTransition, WorkItem
from workitems.services.event_apply import ApplyBatch
from workitems.services.outbox import delivery_build
from workitems.services.rows_update import rows_update


@dataclass(frozen=True)
class _Ref:
    """A row written at flush, named in an audit context before it has an id."""

    obj: Model


@dataclass
class _Mark:
    lengths: tuple[int, ...]
    item_states: list[tuple[WorkItem, dict[str, Any], dict[str, Any]]]
    dirty: dict[int, set[str]]
    items: dict[str, WorkItem]
    last_status: dict[str, tuple[str, str]]
    by_tag: dict[str, WorkItem]
    refs_taken: set[str]


@dataclass
class _Parsed:
    normalised: NormalisedEvent | None = None
    rejected: EventRejected | None = None
    tag: str = field(default="")


class BulkApplyBatch(ApplyBatch):
    def __init__(self, events: Sequence[InboundEvent]) -> None:
        super().__init__()
        self._parsed: dict[int, _Parsed] = {}
        self._by_gid: dict[str, WorkItem] = {}
        self._by_tag: dict[str, WorkItem] = {}
        self._refs_taken: set[str] = set()
        self._recorded: dict[int, tuple[str, str] | None] = {}
        self.new_items: list[WorkItem] = []
        self.dirty: dict[int, tuple[WorkItem, set[str]]] = {}  # id(item) -> (item, fields)
        self.transitions: list[StatusTransition] = []
        self.deliveries: list[Delivery] = []
        self._preload(events)

    # --- reads: once per batch ----------------------------------------------------------------

    def _preload(self, events: Sequence[InboundEvent]) -> None:
        gids: set[str] = set()
        tags: set[str] = set()
        for event in events:
            parsed = _Parsed()
            try:
                parsed.normalised = ApplyBatch.normalise(self, event)
            except EventRejected as exc:
                parsed.rejected = exc
            else:
                if parsed.normalised.supported:
                    gids.add(parsed.normalised.workitem_id)
                    parsed.tag = str(parsed.normalised.body.get("externalTag") or "").strip()
                    if parsed.tag:
                        tags.add(parsed.tag)
            self._parsed[event.pk] = parsed
        if not gids:
            return
        latest = StatusTransition.objects.filter(workitem=OuterRef("pk")).order_by(
            "-changed_at", "-id"
        )
        scope = Q(genesys_id__in=gids)
        if tags:
            scope |= Q(genesys_id__isnull=True, external_ref__in=tags)
        found = (
            WorkItem.objects.select_for_update()
            .filter(scope)
            .annotate(
                recorded_status_id=Subquery(latest.values("to_status_id")[:1]),
                recorded_status_name=Subquery(latest.values("to_status_name")[:1]),
            )
            # A fixed order, so that waits on row locks held by other writers (the SLA sweep,
            # the outbox) cannot form a cycle with another processor.
            .order_by("genesys_id", "external_ref")
        )
        for item in found:
            self._recorded[item.pk] = (
                None
                if item.recorded_status_id is None
                else (item.recorded_status_id, item.recorded_status_name)
            )
            if item.genesys_id is not None:
                self._by_gid[item.genesys_id] = item
            else:
                self._by_tag[item.external_ref] = item
        # Tags an adoption may not take: held by any item (linked to another id, or not).
        unmatched = {t for t in tags if t not in self._by_tag}
        if unmatched:
            self._refs_taken = set(
                WorkItem.objects.filter(external_ref__in=unmatched).values_list(
                    "external_ref", flat=True
                )
            )
        self._refs_taken.update(self._by_tag)

    def normalise(self, event: InboundEvent) -> NormalisedEvent:
        parsed = self._parsed.get(event.pk)
        if parsed is None:
            return ApplyBatch.normalise(self, event)
        if parsed.rejected is not None:
            raise parsed.rejected
        return parsed.normalised  # type: ignore[return-value]

    def find_item(self, event: NormalisedEvent) -> tuple[WorkItem | None, str]:
        gid = event.workitem_id
        if gid in self.items:
            return self.items[gid], "genesys_id"
        if gid in self._by_gid:
            return self._by_gid[gid], "genesys_id"
        tag = str(event.body.get("externalTag") or "").strip()
        if tag and tag in self._by_tag:
            # Linked now (the caller sets its Genesys id): no other id can find it by tag.
            item = self._by_tag.pop(tag)
            self._by_gid[gid] = item
            return item, "external_tag"
        return None, ""

    def external_ref_taken(self, ref: str) -> bool:
        return ref in self._refs_taken

    def recorded_status(self, item: WorkItem) -> tuple[str, str] | None:
        return self._recorded.get(item.pk) if item.pk is not None else None

    # --- writes: kept for flush ---------------------------------------------------------------

    def item_insert(self, item: WorkItem) -> None:
        self.new_items.append(item)
        self._refs_taken.add(item.external_ref)

    def item_save(self, item: WorkItem, fields: set[str]) -> None:
        if item.pk is None:
            return  # adopted in this batch: inserted whole at flush
        entry = self.dirty.setdefault(id(item), (item, set()))
        entry[1].update(fields)

    def transition_add(self, transition: StatusTransition) -> None:
        self.transitions.append(transition)

    def delivery_add(self, item: WorkItem, *, kind: str, sla_breached: bool) -> Delivery:
        # The item's row is locked and was read in this transaction: its counter is current.
        item.last_delivery_sequence += 1
        self.item_save(item, {"last_delivery_sequence"})
        delivery = delivery_build(
            item=item,
            sequence=item.last_delivery_sequence,
            kind=kind,
            sla_breached=sla_breached,
            now=timezone.now(),
        )
        self.deliveries.append(delivery)
        return delivery

    def ref(self, obj: Model) -> Any:
        return _Ref(obj)

    def resolve(self, value: Any) -> Any:
        return value.obj.pk if isinstance(value, _Ref) else value

    # --- one event's undo ---------------------------------------------------------------------

    @contextmanager
    def event_scope(self, genesys_id: str) -> Iterator[None]:
        mark = self._mark(genesys_id)
        try:
            yield
        except BaseException:
            self._restore(mark)
            raise

    def _touchable(self, genesys_id: str) -> list[WorkItem]:
        """The loaded items an event for `genesys_id` may change: its own, or one found by tag."""
        items = [self.items.get(genesys_id), self._by_gid.get(genesys_id)]
        items += self._by_tag.values()
        unique = {id(i): i for i in items if i is not None}
        return list(unique.values())

    def _mark(self, genesys_id: str) -> _Mark:
        touchable = self._touchable(genesys_id)
        return _Mark(
            lengths=self._lengths(),
            item_states=[(i, dict(i.__dict__), dict(i._state.fields_cache)) for i in touchable],
            dirty={id(i): set(self.dirty[id(i)][1]) for i in touchable if id(i) in self.dirty},
            items=dict(self.items),
            last_status=dict(self.last_status),
            by_tag=dict(self._by_tag),
            refs_taken=set(self._refs_taken),
        )

    def _lengths(self) -> tuple[int, ...]:
        return (
            len(self.audit),
            len(self.events),
            len(self.new_items),
            len(self.transitions),
            len(self.deliveries),
            len(self.rollup_changes),
        )

    def _restore(self, mark: _Mark) -> None:
        audit, events, new_items, transitions, deliveries, rollup = mark.lengths
        del self.rollup_changes[rollup:]
        del self.audit[audit:]
        del self.events[events:]
        del self.new_items[new_items:]
        del self.transitions[transitions:]
        del self.deliveries[deliveries:]
        for item, state, cache in mark.item_states:
            fields_cache = item._state.fields_cache
            item.__dict__.clear()
            item.__dict__.update(state)
            fields_cache.clear()
            fields_cache.update(cache)
            item._state.fields_cache = fields_cache
            if id(item) in mark.dirty:
                self.dirty[id(item)] = (item, mark.dirty[id(item)])
            else:
                self.dirty.pop(id(item), None)
        self.items = mark.items
        self.last_status = mark.last_status
        for gid in [g for g, i in self._by_gid.items() if i.genesys_id != g]:
            del self._by_gid[gid]  # linked by tag in the undone event
        self._by_tag = mark.by_tag
        self._refs_taken = mark.refs_taken

    # --- the statements -----------------------------------------------------------------------

    def flush(self) -> None:
        now = timezone.now()
        if self.new_items:
            WorkItem.objects.bulk_create(self.new_items)
        changed = [item for item, _ in self.dirty.values()]
        if changed:
            fields = set().union(*(f for _, f in self.dirty.values())) | {"updated_at"}
            for item in changed:
                item.updated_at = now
            rows_update(WorkItem, changed, sorted(fields))
        if self.transitions:
            StatusTransition.objects.bulk_create(self.transitions)
        if self.deliveries:
            Delivery.objects.bulk_create(self.deliveries)
        for event in self.events:
            event.workitem_id = event.workitem.pk if event.workitem is not None else None
        self.new_items, self.dirty, self.transitions, self.deliveries = [], {}, [], []
        super().flush()
