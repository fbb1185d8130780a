"""Work for the restart tests, written into the private server's database by a subprocess
(`python -m tests.faults.pg_restart_work <what> <n> <prefix>` with DATABASE_URL pointing at it):
the test process itself stays on the suite's own database.

- `deliveries N PREFIX`: N work items with two status deliveries each, due now.
- `events N PREFIX`: N work items in Genesys, each with EVENTS_PER_ITEM accepted events moving it
  Open → InProgress → Waiting → InProgress → Closed, stored through the real ingest service.
- `tasks N PREFIX`: N django-q2 tasks, each writing one audit event `fault.task` PREFIX-i.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

EVENTS_PER_ITEM = 5
STATUS_CYCLE = ["open", "working", "waiting", "working", "done"]


def deliveries(n: int, prefix: str) -> None:
    from django.db import transaction

    from tests import factories
    from workitems.services.outbox import delivery_enqueue

    worktype = factories.worktype(default_queue=factories.queue())
    for i in range(n):
        item = factories.workitem(worktype=worktype, external_ref=f"{prefix}-{i:04d}")
        with transaction.atomic():
            delivery_enqueue(item=item)
            delivery_enqueue(item=item)


def events(n: int, prefix: str) -> None:
    from tests.api.support import (
        STATUS_DONE,
        STATUS_OPEN,
        STATUS_WAITING,
        STATUS_WORKING,
        WORKTYPE_ID,
        body,
        reference,
    )
    from workitems.models import WorkType
    from workitems.services.ingest import event_ingest

    if not WorkType.objects.filter(genesys_id=WORKTYPE_ID).exists():
        reference()
    ids = {"open": STATUS_OPEN, "working": STATUS_WORKING, "waiting": STATUS_WAITING,
           "done": STATUS_DONE}  # fmt: skip
    start = datetime(2026, 7, 1, 9, tzinfo=UTC)
    batch = []
    for i in range(n):
        for step, status in enumerate(STATUS_CYCLE):
            modified = start + timedelta(minutes=step)
            batch.append(
                body(
                    f"{prefix}-{i:04d}",
                    status=ids[status],
                    operation="add" if step == 0 else "edit",
                    modified=modified.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                )
            )
    for start_at in range(0, len(batch), 200):
        event_ingest(body=json.dumps(batch[start_at : start_at + 200]).encode(), headers={})


def tasks(n: int, prefix: str) -> None:
    from django_q.tasks import async_task

    for i in range(n):
        async_task(
            "audits.services.record",
            actor="system",
            action="fault.task",
            object_type="Task",
            object_id=f"{prefix}-{i:04d}",
        )


if __name__ == "__main__":
    import django

    django.setup()
    what, count, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    {"deliveries": deliveries, "events": events, "tasks": tasks}[what](count, prefix)
