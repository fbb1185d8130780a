"""The per-item order of downstream deliveries: one rule for the sender and the admin."""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from workitems.models import Delivery

# Done for ordering: the receiver has it, or an operator gave up on it for good (admin "Skip").
DONE_STATES = (Delivery.State.DELIVERED, Delivery.State.SKIPPED)


def delivery_earlier_undelivered() -> Exists:
    """True for a delivery with an earlier one of its work item not yet done; such a delivery
    waits, however due it is. An expression for `filter()`; negate it with `~`."""
    return Exists(
        Delivery.objects.filter(
            workitem_id=OuterRef("workitem_id"), sequence__lt=OuterRef("sequence")
        ).exclude(state__in=DONE_STATES)
    )
