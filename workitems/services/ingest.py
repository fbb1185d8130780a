"""Storing inbound Genesys events: normalise the envelope, derive the dedupe key, insert.

Everything the endpoint receives is stored, one row per event (an array's elements each get a row),
before the sender gets an answer: good events as `accepted` (the event processor drains them),
unsupported ones as `ignored`, bad input as `rejected` with the reason, and repeats as `duplicate`
rows without a dedupe key that point at the original in `error`. The stored rows are the queue,
so nothing else is enqueued per request.

The shapes understood and the values refused are workitems/genesys_events.py's (pure, shared with
event apply, which normalises the stored row again).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from workitems.genesys_events import (
    TOPIC_MAX,
    EventRejected,
    canonical_json,
    envelope_unwrap,
    event_dedupe_key,
    event_normalise,
)
from workitems.models import InboundEvent
from workitems.services.event_limits import future_skew

State = InboundEvent.State

# Headers worth keeping for tracing. Never Authorization or X-Ingest-Secret.


@dataclass
class StoredEvent:
    """What the sender is told about one element."""

    id: int | None
    state: str
    detail: str = ""
    original_id: int | None = None  # for duplicates: the event that was stored first

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.original_id or self.id, "state": self.state}
        if self.original_id:
            data["duplicate_record_id"] = self.id
        if self.detail:
            data["detail"] = self.detail
        return data


@dataclass
class IngestResult:
    events: list[StoredEvent] = field(default_factory=list)
    is_array: bool = False
    # A whole-body problem (malformed JSON, not an object or array, empty array).
    detail: str = ""

    @property
    def status_code(self) -> int:
        """400 if anything was rejected, 202 if anything new was accepted, else 200."""
        states = {e.state for e in self.events}
        if State.REJECTED in states:
            return 400
        if State.ACCEPTED in states:
            return 202
        return 200

    def as_dict(self) -> dict[str, Any]:
        if self.is_array:
            data: dict[str, Any] = {"events": [e.as_dict() for e in self.events]}
            if self.detail:
                data["detail"] = self.detail
            return data
        return self.events[0].as_dict()


# --- Storing ------------------------------------------------------------------------------------


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _clean(text: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL.
    return text.replace("\x00", "\ufffd")


_COLUMNS = (
    "received_at",
    "state",
    "body",
    "headers",
    "dedupe_key",
    "envelope",
    "topic_name",
    "operation",
    "workitem_genesys_id",
    "date_modified",
    "attempts",
    "error",
)


def _insert_ignoring_conflicts(rows: list[InboundEvent]) -> dict[str, int]:
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key, in one statement.

    Returns {dedupe_key: id} for the rows actually inserted; a key missing from it was already
    stored. (bulk_create(ignore_conflicts=True) cannot say which rows went in.)
    """
    fields = [InboundEvent._meta.get_field(name) for name in _COLUMNS]
    qn = connection.ops.quote_name
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params: list[Any] = []
    for row in rows:
        params.extend(
            f.get_db_prep_save(getattr(row, f.attname), connection=connection) for f in fields
        )
    sql = (
        f"INSERT INTO {qn(InboundEvent._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES {', '.join([placeholders] * len(rows))} "
        f"ON CONFLICT ({qn('dedupe_key')}) DO NOTHING "
        f"RETURNING {qn('id')}, {qn('dedupe_key')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {key: pk for pk, key in cursor.fetchall()}


def _store(rows: list[InboundEvent]) -> list[StoredEvent]:
    """Insert the rows: keyed ones ignoring conflicts, repeats as duplicate rows. In row order."""
    results: list[StoredEvent | None] = [None] * len(rows)
    keyed = [(i, r) for i, r in enumerate(rows) if r.dedupe_key]
    first_index: dict[str, int] = {}
    candidates: list[tuple[int, InboundEvent]] = []
    for i, row in keyed:
        if row.dedupe_key in first_index:
            continue  # the same event twice in one array: the first one is the candidate
        first_index[row.dedupe_key] = i
        candidates.append((i, row))
    inserted = _insert_ignoring_conflicts([r for _, r in candidates]) if candidates else {}
    for i, row in candidates:
        if row.dedupe_key in inserted:
            row.pk = inserted[row.dedupe_key]
            results[i] = StoredEvent(id=row.pk, state=row.state, detail=row.error)

    # Repeats: find the originals, then keep the repeat itself as a duplicate row.
    repeats = [(i, r) for i, r in keyed if results[i] is None]
    missing = {r.dedupe_key for _, r in repeats} - set(inserted)
    originals = dict(inserted)
    if missing:
        originals.update(
            InboundEvent.objects.filter(dedupe_key__in=missing).values_list("dedupe_key", "pk")
        )
    duplicates: list[tuple[int, InboundEvent, int | None]] = []
    for i, row in repeats:
        original = originals.get(row.dedupe_key)
        row.state = State.DUPLICATE
        row.error = f"Duplicate of event {original}." if original else "Duplicate."
        row.dedupe_key = None
        duplicates.append((i, row, original))

    # Rows without a key (rejected input) and duplicates: plain inserts.
    plain = [r for r in rows if not r.dedupe_key and r.pk is None]
    if plain:
        InboundEvent.objects.bulk_create(plain)
    for i, row, original in duplicates:
        results[i] = StoredEvent(
            id=row.pk, state=State.DUPLICATE, detail="already received", original_id=original
        )
    for i, row in enumerate(rows):
        if results[i] is None:
            results[i] = StoredEvent(id=row.pk, state=row.state, detail=row.error)
    return results  # type: ignore[return-value]


def _row_for(element: Any, raw: str, *, received_at: datetime, headers: dict) -> InboundEvent:
    row = InboundEvent(received_at=received_at, body=_clean(raw), headers=headers, attempts=0)
    try:
        event = event_normalise(element, now=timezone.now(), future_skew=future_skew())
    except EventRejected as exc:
        row.state = State.REJECTED
        row.error = str(exc)
        if isinstance(element, Mapping):
            envelope, topic, _ = envelope_unwrap(element)
            row.envelope, row.topic_name = envelope, _clean(topic[:TOPIC_MAX])
        return row
    row.envelope = event.envelope
    row.topic_name = _clean(event.topic_name)
    row.operation = _clean(event.operation)
    row.workitem_genesys_id = _clean(event.workitem_id)
    row.date_modified = event.date_modified
    row.dedupe_key = event_dedupe_key(event)
    if event.supported:
        row.state = State.ACCEPTED
    else:
        row.state = State.IGNORED
        row.error = event.ignore_reason
    return row


def _rejected(raw: str, detail: str, *, received_at, headers, is_array=False) -> IngestResult:
    row = InboundEvent(
        received_at=received_at,
        body=_clean(raw),
        headers=headers,
        state=State.REJECTED,
        error=detail,
        attempts=0,
    )
    row.save(force_insert=True)
    return IngestResult(
        events=[StoredEvent(id=row.pk, state=State.REJECTED, detail=detail)],
        is_array=is_array,
        detail=detail if is_array else "",
    )


def event_ingest(
    *, body: bytes, headers: dict[str, str], received_at: datetime | None = None
) -> IngestResult:
    """Store what the endpoint received and say, per event, what became of it.

    Database errors propagate (the view answers 503 so the sender retries); bad input never
    raises: it is stored as rejected and reported.
    """
    received_at = received_at or timezone.now()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raw = body.decode("utf-8", errors="replace")
        return _rejected(
            raw,
            f"malformed body: not UTF-8 ({exc.reason} at byte {exc.start})",
            received_at=received_at,
            headers=headers,
        )
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return _rejected(text, f"malformed JSON: {exc}", received_at=received_at, headers=headers)
    # A \ud800-style escape decodes to a lone surrogate, which no database column can hold.
    if "\\ud" in text.lower() and _has_lone_surrogate(parsed):
        return _rejected(
            text,
            "malformed JSON: an unpaired UTF-16 surrogate escape (\\uD800–\\uDFFF); send valid Unicode",
            received_at=received_at,
            headers=headers,
            is_array=isinstance(parsed, list),
        )
    if isinstance(parsed, list):
        if not parsed:
            return _rejected(
                text,
                "empty JSON array: no events",
                received_at=received_at,
                headers=headers,
                is_array=True,
            )
        rows = [
            _row_for(element, canonical_json(element), received_at=received_at, headers=headers)
            for element in parsed
        ]
        return IngestResult(events=_store(rows), is_array=True)
    if not isinstance(parsed, dict):
        return _rejected(
            text,
            f"expected a JSON object or array, got {type(parsed).__name__}",
            received_at=received_at,
            headers=headers,
        )
    row = _row_for(parsed, text, received_at=received_at, headers=headers)
    return IngestResult(events=_store([row]))
