"""Writing to the downstream outbox. Sending lives in services/delivery.py.

Deliveries are written in the same transaction as the state change they report, so a change is
never committed without its delivery, and never delivered without being committed.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from workitems.genesys_wire import genesys_datetime
from workitems.models import Delivery, WorkItem


def delivery_payload(*, item: WorkItem, sequence: int, sla_breached: bool, timestamp) -> dict:
    return {
        "orderId": item.external_ref,
        "workItemId": item.genesys_id,
        "taskStatus": item.status.name if item.status_id else "",
        "statusCategory": item.status_category,
        "slaBreached": sla_breached,
        "sequence": sequence,
        "timestamp": genesys_datetime(timestamp),
    }


def delivery_build(
    *, item: WorkItem, sequence: int, kind: str, sla_breached: bool, now
) -> Delivery:
    """The unsaved Delivery row for the item's change number `sequence` (both writers use it:
    delivery_enqueue below, one at a time, and the event processor's batch, in bulk)."""
    return Delivery(
        workitem=item,
        sequence=sequence,
        kind=kind,
        payload=delivery_payload(
            item=item, sequence=sequence, sla_breached=sla_breached, timestamp=now
        ),
        webhook_id=f"msg_{uuid.uuid4().hex}",
        next_attempt_at=now,
    )


def delivery_enqueue(
    *, item: WorkItem, kind: str = "status", sla_breached: bool = False
) -> Delivery:
    """Append the item's next delivery. Call inside the transaction that changed the item."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("delivery_enqueue must run inside the state change's transaction")
    WorkItem.objects.filter(pk=item.pk).update(
        last_delivery_sequence=F("last_delivery_sequence") + 1
    )
    sequence = WorkItem.objects.values_list("last_delivery_sequence", flat=True).get(pk=item.pk)
    delivery = delivery_build(
        item=item, sequence=sequence, kind=kind, sla_breached=sla_breached, now=timezone.now()
    )
    delivery.save(force_insert=True)
    return delivery
