"""How Genesys writes a work item on the wire: its dates, and which local field each of its
fields maps to. Pure (no Django, no I/O), so ingest, event apply, reconcile, the outbox and
submission all read and write Genesys the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

# The priority range Genesys allows (WorkitemCreate, docs/GENESYS.md §2); models and event checks read it.
PRIORITY_MIN, PRIORITY_MAX = -25_000_000, 25_000_000

# ISO-8601 forms fromisoformat() refuses but Genesys-style senders use (e.g. a "+0200" offset).
_DATETIME_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"[T ](?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:[.,](?P<microsecond>\d{1,6})\d{0,6})?)?"
    r"\s*(?P<tzinfo>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        match = _DATETIME_RE.match(text)
        if not match:
            return None
    kw = match.groupdict()
    tz_text = kw.pop("tzinfo")
    kw["microsecond"] = kw["microsecond"] and kw["microsecond"].ljust(6, "0")
    tz = None
    try:
        if tz_text == "Z":
            tz = UTC
        elif tz_text:
            minutes = 60 * int(tz_text[1:3]) + (int(tz_text[-2:]) if len(tz_text) > 3 else 0)
            # A day or more is refused by timezone(): no usable date, like a 13th month.
            tz = timezone(timedelta(minutes=-minutes if tz_text[0] == "-" else minutes))
        return datetime(**{k: int(v) for k, v in kw.items() if v is not None}, tzinfo=tz)
    except ValueError:
        return None


def parse_genesys_datetime(value: Any) -> datetime | None:
    """Genesys sends dates as ISO-8601 strings; a value without an offset is UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    parsed = _parse_iso(value.strip())
    if parsed is None:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        # Stored in UTC: PostgreSQL takes offsets only up to ±15:59, and a value at the edge of
        # the calendar may not exist in UTC at all (then it is no usable date).
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def genesys_datetime(value: datetime) -> str:
    """ISO-8601 as Genesys writes it: yyyy-MM-ddTHH:mm:ss.mmmZ."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def genesys_ref(body: dict[str, Any], flat: str, nested: str) -> str:
    """A flat event id (`statusId`) or, for a REST Workitem snapshot, the nested ref (`status.id`)."""
    value = body.get(flat)
    if value is None and isinstance(body.get(nested), dict):
        value = body[nested].get("id")
    return str(value).strip() if value not in (None, "") else ""


@dataclass(frozen=True)
class GenesysWorkitemState:
    """A Genesys work item's state, named after our WorkItem fields. `None` for assignment_state
    and assignee_id means the body did not say (an event carries only what changed)."""

    genesys_id: str
    status_id: str  # Genesys ids; the caller resolves them to local rows
    queue_id: str
    status_category: str
    assignment_state: str | None
    assignee_id: str | None
    date_created: datetime | None
    date_modified: datetime | None
    date_status_changed: datetime | None
    date_closed: datetime | None
    date_due: datetime | None
    date_expires: datetime | None


def workitem_state_read(*, body: dict[str, Any], whole: bool) -> GenesysWorkitemState:
    """Map a work item as Genesys sends it — a flat event body or a REST `Workitem` — to our
    fields. `whole` is a REST snapshot: what it leaves out is empty (no assignee: unassigned)."""
    assignee: str | None = None
    if whole or "assigneeId" in body or "assignee" in body:
        # Present and empty: Genesys took the assignment away.
        assignee = genesys_ref(body, "assigneeId", "assignee")[:64]
    assignment: str | None = None
    if whole or "assignmentState" in body:
        assignment = str(body.get("assignmentState") or "")[:32]
    return GenesysWorkitemState(
        genesys_id=str(body.get("id") or ""),
        status_id=genesys_ref(body, "statusId", "status"),
        queue_id=genesys_ref(body, "queueId", "queue"),
        status_category=str(body.get("statusCategory") or "").strip(),
        assignment_state=assignment,
        assignee_id=assignee,
        date_created=parse_genesys_datetime(body.get("dateCreated")),
        date_modified=parse_genesys_datetime(body.get("dateModified")),
        date_status_changed=parse_genesys_datetime(body.get("dateStatusChanged")),
        date_closed=parse_genesys_datetime(body.get("dateClosed")),
        date_due=parse_genesys_datetime(body.get("dateDue")),
        date_expires=parse_genesys_datetime(body.get("dateExpires")),
    )
