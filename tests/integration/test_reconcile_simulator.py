"""A lost event healed by reconciliation, against the simulator: an item submitted, then moved in
Genesys with no event reaching the portal; reconciliation fetches it and applies the change as an
event would have been applied."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from audits.models import AuditEvent
from simulator import faults
from simulator.demo import IDS
from simulator.lifecycle import lifecycle_advance
from simulator.workitems import workitem_delete
from workitems.models import (
    Delivery,
    InboundEvent,
    LocalState,
    Queue,
    StatusTransition,
    WorkItem,
    WorkType,
)
from workitems.selectors.dashboard import health_counts
from workitems.services.reconcile import reconcile_stale
from workitems.services.submission import workitems_submit, workitems_submit_request

pytestmark = pytest.mark.usefixtures("genesys_simulator")


def status(key: str) -> str:
    return IDS[f"status:refund-request:{key}"]


@pytest.fixture(autouse=True)
def synced(genesys_simulator):
    cache.clear()
    call_command("genesys_sync")
    yield
    cache.clear()


def submit(ref: str) -> WorkItem:
    item = WorkItem.objects.create(
        external_ref=ref,
        name=f"Refund for order {ref}",
        worktype=WorkType.objects.get(genesys_id=IDS["worktype:refund-request"]),
        queue=Queue.objects.get(genesys_id=IDS["queue:refunds"]),
        custom_fields={"order_number_text": ref, "amount_number": 49.5},
    )
    request = workitems_submit_request(
        items=WorkItem.objects.filter(pk=item.pk),
        actor="supervisor",
        override_routability=True,
        enqueue=False,
    )
    summary = workitems_submit(item_ids=request.queued, actor="supervisor")
    assert summary.submitted == [item.pk], summary.line()
    item.refresh_from_db()
    assert item.local_state == LocalState.SUBMITTED and item.genesys_id
    return item


def test_a_status_change_whose_event_was_lost_is_healed_by_reconciliation():
    item = submit("WEB-5001")
    assert item.status.name == "New" and item.status_category == "Open"

    # Moved in Genesys; no trigger exists, so no event reaches the portal.
    lifecycle_advance(workitem_id=item.genesys_id, status_id=status("investigating"))
    assert not InboundEvent.objects.exists()

    result = reconcile_stale(older_than=timedelta(0))

    assert (result.checked, result.healed, result.failed) == (1, 1, 0), result.line()
    item.refresh_from_db()
    assert item.status.name == "Investigating" and item.status_category == "InProgress"
    assert item.assignment_state == "Connected"
    transition = StatusTransition.objects.get(workitem=item)
    assert transition.source == "reconcile"
    assert (transition.from_status_name, transition.to_status_name) == ("New", "Investigating")
    delivery = Delivery.objects.get(workitem=item)
    assert delivery.payload["taskStatus"] == "Investigating"
    assert delivery.payload["orderId"] == "WEB-5001"
    audit = AuditEvent.objects.get(action="workitem.reconcile.healed")
    assert audit.correlation_id == "WEB-5001"
    assert audit.context["from"]["status"] == "New"
    assert audit.context["to"]["status"] == "Investigating"
    assert health_counts(now=timezone.now())["reconciled"] == 1

    # Healed: the next pass finds Genesys and the portal agree.
    again = reconcile_stale(older_than=timedelta(0), now=timezone.now() + timedelta(seconds=1))
    assert (again.checked, again.healed, again.unchanged) == (1, 0, 1)
    assert StatusTransition.objects.count() == 1


def test_an_item_closed_in_genesys_is_closed_here_and_no_longer_reconciled():
    item = submit("WEB-5002")
    lifecycle_advance(workitem_id=item.genesys_id, status_id=status("investigating"))
    lifecycle_advance(workitem_id=item.genesys_id, status_id=status("refunded"))

    assert reconcile_stale(older_than=timedelta(0)).healed == 1

    item.refresh_from_db()
    assert item.status_category == "Closed" and item.date_closed is not None
    # One transition for the change the portal saw: New straight to Refunded.
    assert list(StatusTransition.objects.values_list("from_category", "to_category", "source")) == [
        ("Open", "Closed", "reconcile")
    ]
    later = reconcile_stale(older_than=timedelta(0), now=timezone.now() + timedelta(hours=1))
    assert later.checked == 0


def test_an_item_deleted_in_genesys_is_recorded_as_gone_and_left_as_it_was():
    item = submit("WEB-5003")
    workitem_delete(workitem_id=item.genesys_id)

    result = reconcile_stale(older_than=timedelta(0))

    assert (result.checked, result.gone) == (1, 1)
    item.refresh_from_db()
    assert item.status.name == "New" and item.date_closed is None
    gone = AuditEvent.objects.get(action="workitem.reconcile.gone")
    assert gone.object_id == str(item.pk) and gone.outcome == "info"


def test_a_long_rate_limit_from_genesys_stops_the_run_without_touching_the_items():
    first, second = submit("WEB-5004"), submit("WEB-5005")
    for item in (first, second):
        lifecycle_advance(workitem_id=item.genesys_id, status_id=status("investigating"))
    faults.inject(
        path_regex=r"/taskmanagement/workitems/[^/]+$",
        method="GET",
        status=429,
        retry_after=3600,
        times=None,
    )

    result = reconcile_stale(older_than=timedelta(0))

    assert result.rate_limited and result.checked == 0
    assert not StatusTransition.objects.exists()
    faults.clear()
    assert reconcile_stale(older_than=timedelta(0)).healed == 2
