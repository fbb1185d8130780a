"""Resolve a Genesys `Workitem` (REST shape) to our WorkItem's Genesys-state fields: the mapping
itself is workitems/genesys_wire.py's `workitem_state_read`, which event apply uses too."""

from __future__ import annotations

from typing import Any

from workitems.genesys_wire import workitem_state_read
from workitems.models import Queue, QueueMember, WorkItemStatus


def member_name(*, user_id: str) -> str:
    """A Genesys user's name as a queue-member sync last saw it, or "" when no queue lists them."""
    if not user_id:
        return ""
    return (
        QueueMember.objects.filter(user_id=user_id)
        .order_by("-active", "-synced_at")
        .values_list("name", flat=True)
        .first()
        or ""
    )


def genesys_state_fields(*, workitem: dict[str, Any]) -> dict[str, Any]:
    """Our WorkItem's Genesys-state fields from a REST `Workitem` (a whole snapshot)."""
    state = workitem_state_read(body=workitem, whole=True)
    fields = {
        "genesys_id": workitem["id"],
        "status_category": state.status_category,
        "assignment_state": state.assignment_state,
        "date_created": state.date_created,
        "date_modified": state.date_modified,
        "date_status_changed": state.date_status_changed,
        "date_closed": state.date_closed,
        "assignee_id": state.assignee_id,
        "assignee_name": member_name(user_id=state.assignee_id or ""),
    }
    status_pk = (
        WorkItemStatus.objects.filter(genesys_id=state.status_id)
        .values_list("pk", flat=True)
        .first()
        if state.status_id
        else None
    )
    if status_pk:
        fields["status_id"] = status_pk
    queue_pk = (
        Queue.objects.filter(genesys_id=state.queue_id).values_list("pk", flat=True).first()
        if state.queue_id
        else None
    )
    if queue_pk:
        # The queue Genesys actually put it in (a default queue becomes explicit).
        fields["queue_id"] = queue_pk
    return fields
