"""Genesys work-item events as received: unwrapping the envelope, the values an event must not
carry, and the dedupe key. Pure (no Django, no I/O): ingest normalises an event on arrival, event
apply again when it processes the stored row, and both get the same answer.

Shapes understood (docs/GENESYS.md §4):
- notification envelope `{topicName, version, eventBody, metadata}`;
- EventBridge event `{detail-type, source, detail}` whose `detail` is an envelope or a bare body;
- a bare work-item event body (flat ids: id, statusId, typeId, queueId, dateModified, …).

Values refused, checked at ingest (so the sender gets a 400 with the reason and the event is
stored as rejected instead of acknowledged and then failing on every attempt) and again when a
stored event is applied (so one accepted before these rules is rejected rather than retried);
each failure names the field and what to fix:
- NUL (U+0000) in any text, keys included: PostgreSQL text and jsonb cannot store it.
- NaN, Infinity, -Infinity (and numbers such as 1e400, which parse as infinite): not JSON numbers,
  and no numeric column holds them.
- Numbers the portal stores, outside their column's range (NUMBER_RANGES).
- `dateModified` more than the future skew (EVENT_FUTURE_SKEW_SECONDS) ahead of our clock: it
  would freeze the item, since every later, real event would look stale.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from workitems.genesys_wire import PRIORITY_MAX, PRIORITY_MIN, parse_genesys_datetime

# Column sizes of InboundEvent (workitems/models/events.py reads them from here).
WORKITEM_ID_MAX = 64
TOPIC_MAX = 200
OPERATION_MAX = 30
# Event fields the portal stores in a numeric column, with the range Genesys allows for them.
NUMBER_RANGES = {"priority": (PRIORITY_MIN, PRIORITY_MAX)}
_MAX_PATH = 80


def _path(parent: str, key: Any) -> str:
    text = f"{parent}[{key}]" if isinstance(key, int) else (f"{parent}.{key}" if parent else key)
    return text if len(text) <= _MAX_PATH else "…" + text[-_MAX_PATH:]


def unstorable_value(value: Any, path: str = "") -> str:
    """Why some value inside `value` (a parsed JSON document) cannot be stored, or ""."""
    if isinstance(value, str):
        if "\x00" in value:
            return f"{path or 'a value'} contains a NUL character (\\u0000), which cannot be stored"
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        shown = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        return f"{path or 'a value'} is {shown}, not a finite number"
    if isinstance(value, Mapping):
        for key, item in value.items():
            key_text = str(key)
            if "\x00" in key_text:
                return (
                    f"a key in {path or 'the event'} contains a NUL character (\\u0000), "
                    "which cannot be stored"
                )
            problem = unstorable_value(item, _path(path, key_text))
            if problem:
                return problem
        return ""
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = unstorable_value(item, _path(path, index))
            if problem:
                return problem
    return ""


def out_of_range_field(body: Mapping[str, Any], where: str) -> str:
    """Why a stored numeric field of the event body is out of its range, or ""."""
    for name, (low, high) in NUMBER_RANGES.items():
        value = body.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue  # not a number: not stored as one (see event_apply._int)
        if value != int(value) or not low <= value <= high:
            return f"{where}.{name} {value!r} must be a whole number from {low} to {high}"
    return ""


def too_far_ahead(date_modified: datetime | None, *, now: datetime, skew: timedelta) -> str:
    """Why `date_modified` is refused as too far in the future (more than `skew` ahead of `now`),
    or ""."""
    if date_modified is None:
        return ""
    if date_modified <= now + skew:
        return ""
    return (
        f"dateModified {date_modified.isoformat()} is more than {_duration(skew)} ahead of the "
        f"portal's clock ({now.isoformat(timespec='seconds')}); applied, it would make every later "
        "event for the item look stale. Check the sender's clock (EVENT_FUTURE_SKEW_SECONDS sets "
        "the allowance)"
    )


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day" + ("s" if days != 1 else "")
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds} s"


# --- Normalisation ---

SUPPORTED_TOPIC_PREFIX = "v2.taskmanagement.workitems."
# Operations that change what we mirror, plus delete/purge (recorded, see event_apply.py). An empty
# operation is a state snapshot (a REST Workitem or a trigger without `operation`) and is applied.
APPLIED_OPERATIONS = frozenset(
    {
        "",
        "add",
        "edit",
        "assigned",
        "unassigned",
        "reassigned",
        "reassign",
        "reset",
        "archive",
        "unarchive",
        "reschedule",
        "activate",
        "deactivate",
        "processed",
        "published",
    }
)
DELETE_OPERATIONS = frozenset({"delete", "purge"})
SUPPORTED_OPERATIONS = APPLIED_OPERATIONS | DELETE_OPERATIONS


class EventRejected(ValueError):
    """Bad input: the sender gets a 400 saying why, the body is kept as `rejected`."""


@dataclass(frozen=True)
class NormalisedEvent:
    envelope: str  # notification, eventbridge or bare
    topic_name: str
    body: dict[str, Any]  # the flat work-item event body
    workitem_id: str
    operation: str
    date_modified_raw: str
    date_modified: datetime | None
    ignore_reason: str = ""  # set when the topic or operation is not one we act on

    @property
    def supported(self) -> bool:
        return not self.ignore_reason


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | int | float):
        return str(value)
    return ""


def envelope_unwrap(element: Mapping[str, Any]) -> tuple[str, str, Any]:
    """(envelope, topic, event body) of one received element."""
    if "detail-type" in element or ("detail" in element and "source" in element):
        detail = element.get("detail")
        detail_type = _text(element.get("detail-type"))
        if isinstance(detail, Mapping) and "eventBody" in detail:
            return "eventbridge", _text(detail.get("topicName")) or detail_type, detail["eventBody"]
        return "eventbridge", detail_type, detail
    if "eventBody" in element or "topicName" in element:
        return "notification", _text(element.get("topicName")), element.get("eventBody")
    return "bare", "", element


def event_normalise(element: Any, *, now: datetime, future_skew: timedelta) -> NormalisedEvent:
    """Unwrap one element to its work-item event body. Raises EventRejected for bad input,
    including values the database cannot hold (the limits above); `now` is the clock and
    `future_skew` the allowance (EVENT_FUTURE_SKEW_SECONDS) the future-skew rule reads."""
    if not isinstance(element, Mapping):
        raise EventRejected(
            f"expected a JSON object (an event or an envelope), got {type(element).__name__}"
        )
    problem = unstorable_value(element)
    if problem:
        raise EventRejected(problem)
    envelope, topic, body = envelope_unwrap(element)
    topic = topic[:TOPIC_MAX]
    if topic and not topic.startswith(SUPPORTED_TOPIC_PREFIX):
        # Well-formed but not ours (e.g. a channel heartbeat): recorded and ignored.
        body = body if isinstance(body, Mapping) else {}
        return NormalisedEvent(
            envelope=envelope,
            topic_name=topic,
            body=dict(body),
            workitem_id=_text(body.get("id"))[:WORKITEM_ID_MAX],
            operation=_text(body.get("operation"))[:OPERATION_MAX],
            date_modified_raw=_text(body.get("dateModified")),
            date_modified=parse_genesys_datetime(body.get("dateModified")),
            ignore_reason=f"topic {topic!r} is not a work-item topic",
        )
    where = {"notification": "eventBody", "eventbridge": "detail", "bare": "the body"}[envelope]
    if not isinstance(body, Mapping):
        raise EventRejected(f"{where} must be a JSON object")
    workitem_id = _text(body.get("id"))
    if not workitem_id:
        raise EventRejected(f"no work-item id: {where} has no 'id'")
    if len(workitem_id) > WORKITEM_ID_MAX:
        raise EventRejected(f"the work-item id is longer than {WORKITEM_ID_MAX} characters")
    operation = _text(body.get("operation")).lower()
    raw_modified = body.get("dateModified")
    if raw_modified is None and operation == "add":
        raw_modified = body.get("dateCreated")
    date_modified = parse_genesys_datetime(raw_modified)
    ignore_reason = ""
    if operation not in SUPPORTED_OPERATIONS:
        ignore_reason = f"operation {operation!r} is not applied"
    elif date_modified is None:
        if raw_modified is None:
            raise EventRejected(f"no dateModified in {where}: events are applied in its order")
        raise EventRejected(f"dateModified {str(raw_modified)[:40]!r} is not an ISO-8601 date-time")
    else:
        problem = out_of_range_field(body, where) or too_far_ahead(
            date_modified, now=now, skew=future_skew
        )
        if problem:
            raise EventRejected(problem)
    return NormalisedEvent(
        envelope=envelope,
        topic_name=topic,
        body=dict(body),
        workitem_id=workitem_id,
        operation=operation[:OPERATION_MAX],
        date_modified_raw=_text(raw_modified),
        date_modified=date_modified,
        ignore_reason=ignore_reason,
    )


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_dedupe_key(event: NormalisedEvent) -> str:
    """sha256 of work-item id, dateModified, operation and the event body.

    The body is the unwrapped event body, not the envelope, so the same event reaching us through
    two channels (a trigger's workflow and EventBridge) is still one event.
    """
    body_hash = hashlib.sha256(canonical_json(event.body).encode()).hexdigest()
    key = f"{event.workitem_id}|{event.date_modified_raw}|{event.operation}|{body_hash}"
    return hashlib.sha256(key.encode()).hexdigest()
