"""Map a Genesys `Workitem` (REST shape) onto our WorkItem's Genesys-state fields."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime

from workitems.models import Queue, QueueMember, WorkItemStatus


def _dt(value: str | None):
    return parse_datetime(value) if value else None


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
    status_gid = (workitem.get("status") or {}).get("id")
    status_pk = (
        WorkItemStatus.objects.filter(genesys_id=status_gid).values_list("pk", flat=True).first()
        if status_gid
        else None
    )
    fields = {
        "genesys_id": workitem["id"],
        "status_category": workitem.get("statusCategory") or "",
        "assignment_state": workitem.get("assignmentState") or "",
        "date_created": _dt(workitem.get("dateCreated")),
        "date_modified": _dt(workitem.get("dateModified")),
        "date_status_changed": _dt(workitem.get("dateStatusChanged")),
        "date_closed": _dt(workitem.get("dateClosed")),
    }
    # A REST snapshot is whole: no assignee there means unassigned.
    assignee = str((workitem.get("assignee") or {}).get("id") or "")[:64]
    fields["assignee_id"] = assignee
    fields["assignee_name"] = member_name(user_id=assignee)
    if status_pk:
        fields["status_id"] = status_pk
    queue_gid = (workitem.get("queue") or {}).get("id")
    queue_pk = (
        Queue.objects.filter(genesys_id=queue_gid).values_list("pk", flat=True).first()
        if queue_gid
        else None
    )
    if queue_pk:
        # The queue Genesys actually put it in (a default queue becomes explicit).
        fields["queue_id"] = queue_pk
    return fields
