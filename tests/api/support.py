"""Shared by the ingest, lifecycle and processor tests: reference data matching the JSON fixtures
under tests/fixtures/events/, and builders for event bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workitems.models import Queue, StatusCategory, Workbin, WorkItemStatus, WorkType

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "events"

WORKTYPE_ID = "00000000-0000-0000-0000-000000000001"
QUEUE_ID = "00000000-0000-0000-0000-000000000002"
STATUS_OPEN = "00000000-0000-0000-0000-000000000003"
STATUS_WORKING = "00000000-0000-0000-0000-000000000004"
STATUS_DONE = "00000000-0000-0000-0000-000000000005"
STATUS_WAITING = "00000000-0000-0000-0000-000000000006"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def fixture(name: str) -> Any:
    return json.loads(fixture_text(name))


@dataclass
class Reference:
    worktype: WorkType
    queue: Queue
    open: WorkItemStatus
    working: WorkItemStatus
    waiting: WorkItemStatus
    done: WorkItemStatus


def reference() -> Reference:
    """The worktype, queue and statuses the fixtures name."""
    queue = Queue.objects.create(genesys_id=QUEUE_ID, name="Refunds queue")
    workbin = Workbin.objects.create(genesys_id="wb-" + WORKTYPE_ID, name="Refunds bin")
    worktype = WorkType.objects.create(
        genesys_id=WORKTYPE_ID, name="Refunds", default_queue=queue, default_workbin=workbin
    )

    def status(gid: str, name: str, category: str) -> WorkItemStatus:
        return WorkItemStatus.objects.create(
            genesys_id=gid, worktype=worktype, name=name, category=category
        )

    ref = Reference(
        worktype=worktype,
        queue=queue,
        open=status(STATUS_OPEN, "New", StatusCategory.OPEN),
        working=status(STATUS_WORKING, "Working", StatusCategory.IN_PROGRESS),
        waiting=status(STATUS_WAITING, "On hold", StatusCategory.WAITING),
        done=status(STATUS_DONE, "Done", StatusCategory.CLOSED),
    )
    worktype.default_status = ref.open
    worktype.save(update_fields=["default_status"])
    return ref


CATEGORY = {
    STATUS_OPEN: "Open",
    STATUS_WORKING: "InProgress",
    STATUS_WAITING: "Waiting",
    STATUS_DONE: "Closed",
}


def body(
    workitem_id: str,
    *,
    status: str = STATUS_OPEN,
    modified: str = "2026-07-01T10:00:00.000Z",
    operation: str = "edit",
    **extra: Any,
) -> dict[str, Any]:
    """A flat work-item event body (docs/GENESYS.md §4) with strings for dates, as Genesys sends them."""
    data = {
        "id": workitem_id,
        "name": f"Work item {workitem_id[-4:]}",
        "typeId": WORKTYPE_ID,
        "statusId": status,
        "statusCategory": CATEGORY.get(status, "Open"),
        "operation": operation,
        "queueId": QUEUE_ID,
        "assignmentState": "Connected",
        "dateCreated": "2026-07-01T09:00:00.000Z",
        "dateModified": modified,
    }
    if status == STATUS_DONE:
        data["dateClosed"] = modified
    data.update(extra)
    return data


def notification(event_body: dict[str, Any]) -> dict[str, Any]:
    return {
        "topicName": f"v2.taskmanagement.workitems.{event_body['id']}",
        "version": "2",
        "eventBody": event_body,
        "metadata": {"CorrelationId": "corr-" + event_body["dateModified"]},
    }
