"""A work item's story, newest first: what the portal did with it, what Genesys did with it, its
SLA clock and what was delivered downstream.

`workitem_timeline` merges four sources, each read once with a bound on the rows it reads, so the
item page costs the same few queries however long the item's history:

- audit events about the item (imported, created, edited, checked with the verdict, submit
  requested / refused, submitted, adopted, failed, parked, reconciled, Genesys updates without a
  status change such as an assignment);
- status transitions (each with the time to the second, the time spent in the status it entered
  and the assignee then);
- the item's SLA fields (clock started, breached) and, from the transitions, pauses and resumes;
- downstream deliveries with their outcome.

Audit rows a transition already tells (an event that changed the status) and the SLA sweep's
breach rows (the item's own `sla_breached_at` tells it) are not repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from audits.models import AuditEvent, Outcome
from workitems.models import Delivery, StatusCategory, StatusTransition, Verdict, WorkItem
from workitems.services.routability import check_label
from workitems.text import count_noun, duration_text, when_text

DEFAULT_LIMIT = 200  # rows read per source; the page says when older ones are left out

PORTAL, GENESYS, STATUS, SLA, DELIVERY = "portal", "genesys", "status", "sla", "delivery"


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # portal | genesys | status | sla | delivery
    title: str
    detail: str = ""
    actor: str = ""
    outcome: str = ""  # success | failure | refused | info | "" (neutral)
    # A status entry: how long the item stayed in the status it entered (so far, for the current).
    time_in_status: timedelta | None = None
    current: bool = False
    assignee: str = ""
    # What the entry is about, for the page to link where its viewer may go: ("delivery", pk)…
    ref: tuple[str, int] | None = None
    # Ties at the same instant: status before SLA (a pause follows the change that caused it).
    order: int = 0

    @property
    def when(self) -> str:
        return when_text(self.at)

    @property
    def time_in_status_text(self) -> str:
        if self.time_in_status is None:
            return ""
        text = duration_text(self.time_in_status)
        return f"{text} so far" if self.current else text


@dataclass
class Timeline:
    entries: list[TimelineEntry] = field(default_factory=list)
    # Some source had more rows than were read: older entries are missing.
    truncated: bool = False
    limit: int = DEFAULT_LIMIT


# --- portal actions (the audit trail) -----------------------------------------------------------

_VERDICT_LABELS = {v.value: v.label for v in Verdict}
_VERDICT_OUTCOMES = {
    Verdict.ROUTABLE: Outcome.SUCCESS,
    Verdict.WARNINGS: "warning",
    Verdict.NOT_ROUTABLE: Outcome.FAILURE,
}


def _names(checks: list[str] | None) -> str:
    return ", ".join(check_label(name) for name in checks or [])


def _checked(ctx: dict[str, Any]) -> tuple[str, str]:
    verdict = _VERDICT_LABELS.get(ctx.get("verdict", ""), ctx.get("verdict") or "no verdict")
    parts = []
    if ctx.get("failed"):
        parts.append(f"failed: {_names(ctx['failed'])}")
    if ctx.get("warned"):
        parts.append(f"warned: {_names(ctx['warned'])}")
    return f"Routability checked: {verdict}", "; ".join(parts)


def _created(ctx: dict[str, Any]) -> tuple[str, str]:
    if ctx.get("source") == "csv import":
        batch = ctx.get("import_batch")
        return "Imported from a CSV file", f"import #{batch}" if batch else ""
    return "Created in the portal", ""


def _edited(ctx: dict[str, Any]) -> tuple[str, str]:
    changed = ", ".join(ctx.get("labels") or ctx.get("fields") or [])
    detail = f"changed {changed}" if changed else ""
    if ctx.get("verdict_stale"):
        detail += "; the routability verdict is now stale and is checked again before submission"
    return "Edited", detail.lstrip("; ")


def _submitted(ctx: dict[str, Any], outcome: str) -> tuple[str, str]:
    if outcome == Outcome.FAILURE:
        return "Submission failed", str(ctx.get("error") or "")
    gid = ctx.get("genesys_id", "")
    if ctx.get("found_existing"):
        return "Adopted: found already in Genesys", f"as {gid} (looked up by external ref)"
    return "Submitted: created in Genesys", f"as {gid}" if gid else ""


def _genesys_update(ctx: dict[str, Any]) -> tuple[str, str] | None:
    assignee = ctx.get("assignee")
    if assignee:
        to = assignee.get("to") or ""
        return ("Assigned to " + to, "") if to else ("Unassigned", f"was {assignee.get('from')}")
    if ctx.get("transition_id"):
        return None  # the status entry tells it
    fields = [f for f in ctx.get("fields") or [] if f not in {"date_modified", "updated_at"}]
    if not fields:
        return None
    return "Updated in Genesys", ", ".join(f.replace("_", " ") for f in fields)


def _audit_entry(event: AuditEvent) -> list[TimelineEntry]:
    ctx, action = event.context or {}, event.action
    kind, text, outcome = PORTAL, None, event.outcome
    if action == "workitem.create":
        text = _created(ctx)
    elif action == "workitem.edit":
        text = _edited(ctx)
    elif action == "workitem.check_routability":
        text = _checked(ctx)
        outcome = _VERDICT_OUTCOMES.get(ctx.get("verdict", ""), outcome)
    elif action == "workitem.submit.requested":
        text = ("Submission requested", "queued for the background worker")
    elif action == "workitem.submit.refused":
        text = ("Submission refused", str(ctx.get("reason") or ""))
    elif action == "workitem.submit":
        text = _submitted(ctx, event.outcome)
    elif action == "workitem.submit.parked":
        text = ("Submission parked (Genesys rate limit)", f"until {ctx.get('until', '?')}")
    elif action == "workitem.submit.deferred":
        text = ("Submission outcome not known yet", str(ctx.get("reason") or ""))
    elif action in ("workitem.event.applied", "workitem.event.adopted"):
        kind = GENESYS
        text = _genesys_update(ctx)
        if action == "workitem.event.adopted":
            text = ("Adopted from Genesys (created there)", text[1] if text else "")
    elif action == "workitem.event.stale":
        kind, text = GENESYS, ("Genesys event skipped", "older than what the portal holds")
    elif action == "workitem.event.deleted":
        kind, text = GENESYS, ("Deleted in Genesys", "the portal keeps its record")
    elif action.startswith("workitem.reconcile."):
        kind = GENESYS
        what = action.rsplit(".", 1)[1]
        text = (f"Reconciliation: {what}", str(ctx.get("reason") or ctx.get("error") or ""))
    elif action == "sla.breached":
        return []  # the item's sla_breached_at tells it
    else:
        text = (action, "")
    if text is None:
        return []
    title, detail = text
    return [
        TimelineEntry(
            at=event.occurred_at,
            kind=kind,
            title=title,
            detail=detail,
            actor=event.actor,
            outcome=outcome,
        )
    ]


# --- Genesys status changes and the SLA clock ---------------------------------------------------


def _status_entries(
    item: WorkItem, transitions: list[StatusTransition], *, complete: bool, now: datetime
) -> list[TimelineEntry]:
    """Newest first in, newest first out. Each entry's time in status runs to the next change
    (for the current status: to now, or to the close)."""
    entries = []
    closed_at = item.date_closed
    following: datetime | None = None  # the next (newer) change
    for index, change in enumerate(transitions):
        current = index == 0
        end = following or (None if change.to_category == StatusCategory.CLOSED else now)
        name = change.to_status_name or change.to_status_id or change.to_category or "?"
        before = change.from_status_name or change.from_category or "—"
        entries.append(
            TimelineEntry(
                at=change.changed_at,
                kind=STATUS,
                title=f"Status {before} → {name}",
                detail=(
                    f"{change.to_category or 'unknown'} category"
                    + (", from reconciliation" if change.source == "reconcile" else "")
                ),
                actor="genesys",
                time_in_status=(end - change.changed_at) if end else None,
                current=current and end is not None and closed_at is None,
                assignee=change.assignee_name or change.assignee_id,
                ref=("event", change.source_event_id) if change.source_event_id else None,
                order=1,
            )
        )
        following = change.changed_at
    if complete and item.date_created:
        # The status Genesys created it in, until the first change.
        first = transitions[-1] if transitions else None
        initial = (
            (first.from_status_name or first.from_category)
            if first
            else (item.status.name if item.status_id else item.status_category)
        )
        end = first.changed_at if first else (None if item.date_closed else now)
        entries.append(
            TimelineEntry(
                at=item.date_created,
                kind=STATUS,
                title=f"Created in Genesys in status {initial or '?'}",
                actor="genesys",
                time_in_status=(end - item.date_created) if end else None,
                current=first is None and end is not None,
                order=1,
            )
        )
    return entries


def _sla_entries(item: WorkItem, transitions: list[StatusTransition]) -> list[TimelineEntry]:
    entries = []
    if item.date_created and item.sla_deadline:
        threshold = (
            duration_text(timedelta(seconds=item.sla_threshold_seconds), seconds=False)
            if item.sla_threshold_seconds
            else "the default threshold"
        )
        due = " or the due date, whichever is earlier" if item.date_due else ""
        entries.append(
            TimelineEntry(
                at=item.date_created,
                kind=SLA,
                title="SLA clock started",
                detail=f"deadline {when_text(item.sla_deadline)} (created + {threshold}{due}"
                f"{', moved by time paused' if item.sla_paused else ''})",
                actor="system",
                order=2,
            )
        )
    if item.sla_pause_in_waiting:
        paused_at: datetime | None = None
        for change in reversed(transitions):  # oldest first
            into = change.to_category == StatusCategory.WAITING
            out_of = change.from_category == StatusCategory.WAITING
            if into and not out_of:
                paused_at = change.changed_at
                entries.append(
                    TimelineEntry(
                        at=change.changed_at,
                        kind=SLA,
                        title="SLA clock paused",
                        detail=f"status {change.to_status_name or 'Waiting'} is in the Waiting "
                        "category",
                        actor="system",
                        order=2,
                    )
                )
            elif out_of and not into:
                paused = (
                    f" after {duration_text(change.changed_at - paused_at)} paused"
                    if (paused_at)
                    else ""
                )
                entries.append(
                    TimelineEntry(
                        at=change.changed_at,
                        kind=SLA,
                        title="SLA clock resumed",
                        detail=f"left the Waiting category{paused}; the deadline moves by the "
                        "time paused",
                        actor="system",
                        order=2,
                    )
                )
                paused_at = None
    if item.sla_breached_at:
        entries.append(
            TimelineEntry(
                at=item.sla_breached_at,
                kind=SLA,
                title="SLA breached",
                detail=f"not closed by its deadline {when_text(item.sla_deadline)}",
                actor="system",
                outcome=Outcome.FAILURE,
                order=2,
            )
        )
    return entries


# --- deliveries -----------------------------------------------------------------------------------

_DELIVERY_OUTCOMES = {
    Delivery.State.DELIVERED: Outcome.SUCCESS,
    Delivery.State.DEAD: Outcome.FAILURE,
    Delivery.State.FAILING: Outcome.FAILURE,
    Delivery.State.SKIPPED: Outcome.INFO,
    Delivery.State.PENDING: "",
}


def _delivery_entry(delivery: Delivery) -> TimelineEntry:
    payload = delivery.payload if isinstance(delivery.payload, dict) else {}
    what = (
        "SLA breach"
        if delivery.kind == "sla_breach"
        else f"status {payload.get('taskStatus') or payload.get('statusCategory') or '?'}"
    )
    tries = count_noun(delivery.attempts, "attempt")
    if delivery.state == Delivery.State.DELIVERED:
        outcome = f"delivered {when_text(delivery.delivered_at)} after {tries}"
        if delivery.last_status_code:
            outcome += f" (HTTP {delivery.last_status_code})"
    elif delivery.state == Delivery.State.PENDING:
        outcome = "waiting to be sent"
    elif delivery.state == Delivery.State.SKIPPED:
        outcome = "skipped by an operator"
    else:
        code = f"HTTP {delivery.last_status_code}" if delivery.last_status_code else ""
        error = "; ".join(p for p in (code, delivery.last_error[:200]) if p)
        outcome = f"{delivery.get_state_display().lower()} after {tries}" + (
            f": {error}" if error else ""
        )
    return TimelineEntry(
        at=delivery.created_at,
        kind=DELIVERY,
        title=f"Delivery #{delivery.sequence} downstream: {what}",
        detail=outcome,
        actor="system",
        outcome=_DELIVERY_OUTCOMES.get(delivery.state, ""),
        ref=("delivery", delivery.pk),
        order=3,
    )


# --- the selector ---------------------------------------------------------------------------------


def workitem_timeline(
    *, item: WorkItem, now: datetime | None = None, limit: int = DEFAULT_LIMIT
) -> Timeline:
    """The item's story, newest first. Three queries (audit events, transitions, deliveries;
    one for an item not in Genesys), each reading at most `limit` + 1 rows through an index on
    the item."""
    now = now or timezone.now()
    audits = list(
        AuditEvent.objects.filter(object_type="WorkItem", object_id=str(item.pk))
        .order_by("-occurred_at", "-id")
        .only("occurred_at", "actor", "action", "outcome", "context")[: limit + 1]
    )
    transitions: list[StatusTransition] = []
    deliveries: list[Delivery] = []
    # Status changes and deliveries come from Genesys: an item it has never known has none.
    if item.genesys_id:
        transitions = list(
            StatusTransition.objects.filter(workitem=item)
            .order_by("-changed_at", "-id")
            .only(
                "changed_at",
                "from_status_name",
                "from_category",
                "to_status_id",
                "to_status_name",
                "to_category",
                "assignee_id",
                "assignee_name",
                "source",
                "source_event_id",
            )[: limit + 1]
        )
        deliveries = list(
            Delivery.objects.filter(workitem=item)
            .order_by("-sequence")
            .only(
                "sequence",
                "kind",
                "payload",
                "state",
                "created_at",
                "attempts",
                "delivered_at",
                "last_status_code",
                "last_error",
            )[: limit + 1]
        )
    truncated = any(len(rows) > limit for rows in (audits, transitions, deliveries))
    audits, transitions, deliveries = audits[:limit], transitions[:limit], deliveries[:limit]
    complete = len(transitions) < limit
    entries = [entry for event in audits for entry in _audit_entry(event)]
    entries += _status_entries(item, transitions, complete=complete, now=now)
    entries += _sla_entries(item, transitions)
    entries += [_delivery_entry(d) for d in deliveries]
    entries.sort(key=lambda e: (e.at, e.order), reverse=True)
    return Timeline(entries=entries, truncated=truncated, limit=limit)
