"""Work items moving through their worktype's statuses, as agents would move them, with events.

    lifecycle_step()                              # every open item one step on (the demo loop)
    lifecycle_advance(workitem_id=…)              # one item one step on, on command
    lifecycle_advance(workitem_id=…, status_id=…) # …to a chosen status

A move follows the current status's destinationStatusIds (an empty list: any other status of the
worktype). The path an item takes: Open → InProgress → (sometimes Waiting → InProgress) → Closed.
Each move sets statusId, statusCategory, dateStatusChanged, dateModified (strictly increasing per
item, so no two events of an item share one), dateClosed on Closed (cleared when reopened),
assignmentState (Connected while in progress, with an assignee from the queue's joined members;
Parked while waiting; Disconnected once closed), then emits an `edit` event (events.py) that goes
to the portal if an enabled trigger matches it.

Deterministic: pass `rng` (a random.Random) and `now`; otherwise simulator.clock and an unseeded
Random. Each item's change commits before its event is sent, so the receiving portal — in this
process or another — never waits on the simulator's transaction.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import requests
from django.db import transaction

from simulator import clock, render, store
from simulator.events import LifecycleEvent, workitem_event_emit
from simulator.models import SimEntity

Json = dict[str, Any]

WAIT_PROBABILITY = 0.3
# The categories an item goes to next, in order of preference, from each category.
_NEXT = {
    "Open": ("InProgress", "Waiting", "Closed"),
    "InProgress": ("Closed", "Waiting", "InProgress"),
    "Waiting": ("InProgress", "Closed"),
    "Unknown": ("Open", "InProgress", "Closed"),
}
_ASSIGNMENT = {"InProgress": "Connected", "Waiting": "Parked", "Closed": "Disconnected"}


class LifecycleError(ValueError):
    """The requested move is not possible (unknown item or status, or not a destination)."""


def _parse(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def _stamp_after(previous: str | None, now: datetime) -> str:
    """`now` as a Genesys date, at least one millisecond after `previous` (same format, so the
    strings compare as the moments do)."""
    stamp = clock.iso(now)
    last = _parse(previous)
    if last is not None and stamp <= previous:
        stamp = clock.iso(last + timedelta(milliseconds=1))
    return stamp


def _statuses(worktype_id: str) -> dict[str, Json]:
    return {s["id"]: s for s in store.all_of(render.STATUS, parent=worktype_id)}


def destinations(item: Json, statuses: dict[str, Json] | None = None) -> list[Json]:
    """The statuses the item may move to now, in the worktype's listed order."""
    statuses = statuses if statuses is not None else _statuses(item["typeId"])
    current = statuses.get(item.get("statusId") or "")
    allowed = (current or {}).get("destinationStatusIds") or []
    if allowed:
        return [statuses[s] for s in allowed if s in statuses]
    return [s for sid, s in statuses.items() if sid != item.get("statusId")]


def next_status(
    item: Json, *, rng: random.Random | None = None, wait_probability: float = WAIT_PROBABILITY
) -> Json | None:
    """Where the item goes next: None once closed (or with nowhere to go).

    Without `rng` the first listed destination of the preferred category is taken and Waiting is
    skipped: the plain path Open → InProgress → Closed."""
    category = item.get("statusCategory") or "Unknown"
    if category == "Closed":
        return None
    options = destinations(item)
    by_category: dict[str, list[Json]] = {}
    for status in options:
        by_category.setdefault(status["category"], []).append(status)
    preferred = list(_NEXT.get(category, _NEXT["Unknown"]))
    if category == "InProgress" and "Waiting" in by_category:
        takes_a_wait = rng is not None and rng.random() < wait_probability
        preferred.remove("Waiting")
        preferred.insert(0 if takes_a_wait else 1, "Waiting")
    for wanted in preferred:
        candidates = by_category.get(wanted)
        if candidates:
            return rng.choice(candidates) if rng is not None else candidates[0]
    return None


def _assignee(item: Json, rng: random.Random | None) -> str | None:
    if item.get("assigneeId") or not item.get("queueId"):
        return item.get("assigneeId")
    members = [
        m["userId"]
        for m in store.all_of(render.QUEUE_MEMBER, parent=item["queueId"])
        if m.get("joined")
    ]
    if not members:
        return None
    return rng.choice(members) if rng is not None else members[0]


def _moved(item: Json, status: Json, *, now: datetime, rng: random.Random | None) -> Json:
    stamp = _stamp_after(item.get("dateModified"), now)
    category = status["category"]
    moved = {**item, "statusId": status["id"], "statusCategory": category}
    moved["dateModified"] = stamp
    moved["dateStatusChanged"] = stamp
    moved["dateClosed"] = stamp if category == "Closed" else None
    state = _ASSIGNMENT.get(category, item.get("assignmentState"))
    if category == "InProgress":
        moved["assigneeId"] = _assignee(item, rng)
    if state != item.get("assignmentState"):
        moved["assignmentState"] = state
        moved["dateAssignmentStateChanged"] = stamp
    return moved


def _save(item: Json) -> None:
    data = {k: v for k, v in item.items() if k != "id"}
    store.put(
        render.WORKITEM,
        item["id"],
        data,
        parent=data["typeId"],
        external_tag=data.get("externalTag") or "",
    )


def _move(
    item_id: str,
    choose,
    *,
    now: datetime | None,
    rng: random.Random | None,
    sender: requests.Session | None,
) -> LifecycleEvent | None:
    with transaction.atomic():
        # The row lock keeps a concurrent PATCH from interleaving with this read-modify-write.
        row = SimEntity.objects.select_for_update().filter(
            kind=render.WORKITEM, entity_id=store.parse_id(item_id)
        )
        if not row.exists():
            raise LifecycleError(f"Work item {item_id} does not exist in the simulator.")
        item = store.get(render.WORKITEM, item_id)
        status = choose(item)
        if status is None:
            return None
        moved = _moved(item, status, now=now or clock.now(), rng=rng)
        _save(moved)
    # Committed: now the data action may run (the portal stores the event as it arrives).
    return workitem_event_emit(moved, operation="edit", before=item, sender=sender)


def lifecycle_advance(
    *,
    workitem_id: str,
    status_id: str | None = None,
    now: datetime | None = None,
    rng: random.Random | None = None,
    sender: requests.Session | None = None,
) -> LifecycleEvent | None:
    """Move one item one step on (or to `status_id`, which must be one of its destinations).

    Returns the event, or None when a closed item has nowhere to go (no `status_id`)."""

    def choose(item: Json) -> Json | None:
        if status_id is None:
            return next_status(item, rng=rng)
        allowed = {s["id"]: s for s in destinations(item)}
        if status_id not in allowed:
            statuses = _statuses(item["typeId"])
            if status_id not in statuses:
                raise LifecycleError(
                    f"Status {status_id} is not a status of worktype {item['typeId']}."
                )
            names = ", ".join(s["name"] for s in allowed.values()) or "none"
            current = statuses.get(item.get("statusId") or "", {}).get("name", "?")
            raise LifecycleError(
                f"A work item in {current} cannot move to {statuses[status_id]['name']}; "
                f"its destinations are: {names}."
            )
        return allowed[status_id]

    return _move(workitem_id, choose, now=now, rng=rng, sender=sender)


def lifecycle_step(
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
    sender: requests.Session | None = None,
    move_probability: float = 1.0,
    wait_probability: float = WAIT_PROBABILITY,
    limit: int | None = None,
) -> list[LifecycleEvent]:
    """Move every work item that is not closed one step on (each with `move_probability`), oldest
    item first. Returns the events, in the order they were emitted."""
    rng = rng or random.Random()
    open_ids = [
        str(entity_id)
        for entity_id in SimEntity.objects.filter(kind=render.WORKITEM)
        .exclude(data__statusCategory="Closed")
        .order_by("pk")
        .values_list("entity_id", flat=True)[:limit]
    ]
    events = []
    for item_id in open_ids:
        if move_probability < 1.0 and rng.random() >= move_probability:
            continue
        try:
            event = _move(
                item_id,
                lambda item: next_status(item, rng=rng, wait_probability=wait_probability),
                now=now,
                rng=rng,
                sender=sender,
            )
        except LifecycleError:
            continue  # deleted meanwhile
        if event is not None:
            events.append(event)
    return events
