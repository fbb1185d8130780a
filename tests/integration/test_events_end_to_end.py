"""The whole event path, in process: a subscription pushed as a trigger to the simulator, a work item
submitted to it, the simulator moving the item and its "data action" POSTing each event to the
portal's ingest endpoint, the event processor applying them, and the outbox delivering the status
changes, signed, to the demo receiver."""

from __future__ import annotations

import pytest
import requests
from django.core.cache import cache
from django.core.management import call_command

from audits.models import AuditEvent
from simulator import events as simulator_events
from simulator import store
from simulator.demo import IDS
from simulator.lifecycle import lifecycle_advance
from simulator.transport import InProcessTransport
from simulator.triggers import TRIGGER
from workitems.api.receiver import received_deliveries
from workitems.models import (
    Delivery,
    EventSubscription,
    InboundEvent,
    LocalState,
    Queue,
    StatusTransition,
    WorkItem,
    WorkType,
)
from workitems.services.delivery import deliveries_send_due
from workitems.services.event_processor import events_drain
from workitems.services.submission import workitems_submit, workitems_submit_request
from workitems.services.subscriptions import subscription_push, subscription_set_enabled

pytestmark = pytest.mark.usefixtures("genesys_simulator")

PORTAL = "http://127.0.0.1:8000/"
WORKFLOW = "b796bd10-b101-4a46-acc6-2705157d00e1"


def status(key: str) -> str:
    return IDS[f"status:refund-request:{key}"]


@pytest.fixture
def portal_session(settings) -> requests.Session:
    """Requests to the portal's own host, served in process (ingest and the demo receiver)."""
    settings.SIMULATOR_EVENT_TARGET_URL = f"{PORTAL}api/genesys/events/"
    settings.DOWNSTREAM_URL = f"{PORTAL}demo-receiver/"
    session = requests.Session()
    session.mount(PORTAL, InProcessTransport(raise_exceptions=True))
    return session


@pytest.fixture
def wired(monkeypatch, portal_session):
    """The simulator's own events (the add on create) go to the portal in process too."""
    monkeypatch.setattr(simulator_events, "SENDER", portal_session)
    cache.clear()
    call_command("genesys_sync")
    yield portal_session
    cache.clear()


def submit_refund(django_capture_on_commit_callbacks) -> WorkItem:
    item = WorkItem.objects.create(
        external_ref="WEB-4711",
        name="Refund for order WEB-4711",
        worktype=WorkType.objects.get(genesys_id=IDS["worktype:refund-request"]),
        queue=Queue.objects.get(genesys_id=IDS["queue:refunds"]),
        custom_fields={"order_number_text": "WEB-4711", "amount_number": 49.5},
    )
    items = WorkItem.objects.filter(pk=item.pk)
    request = workitems_submit_request(
        items=items, actor="supervisor", override_routability=True, enqueue=False
    )
    assert request.queued == [item.pk]
    # The simulator sends its `add` event once its transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        summary = workitems_submit(item_ids=request.queued, actor="supervisor")
    assert summary.submitted == [item.pk], summary.line()
    item.refresh_from_db()
    assert item.local_state == LocalState.SUBMITTED and item.genesys_id
    return item


def send_all(session) -> list[Delivery]:
    """The outbox sends one delivery per item per run; run until nothing is due."""
    for _ in range(20):
        if deliveries_send_due(session=session).claimed == 0:
            break
    return list(Delivery.objects.order_by("sequence"))


def test_a_work_item_moved_in_genesys_is_mirrored_and_each_change_delivered_in_order(
    wired, django_capture_on_commit_callbacks
):
    subscription = EventSubscription.objects.create(
        name="Work item changes to the portal",
        target_workflow_id=WORKFLOW,
        match_criteria=[{"jsonPath": "operation", "operator": "In", "values": ["add", "edit"]}],
    )
    subscription_push(subscription=subscription, actor="ops")
    assert store.count(TRIGGER) == 1

    item = submit_refund(django_capture_on_commit_callbacks)
    add = InboundEvent.objects.get()
    assert add.operation == "add" and add.workitem_genesys_id == item.genesys_id

    path = [
        ("investigating", "InProgress"),
        ("awaiting-customer", "Waiting"),
        ("investigating", "InProgress"),
        ("refunded", "Closed"),
    ]
    for key, category in path:
        event = lifecycle_advance(workitem_id=item.genesys_id, status_id=status(key), sender=wired)
        assert event.body["statusCategory"] == category
        assert [d.status_code for d in event.deliveries] == [202]

    # The trigger's workflow gets the event body as jsonData and posts it as it is: every event
    # arrived bare, with no notification envelope around it.
    assert set(InboundEvent.objects.values_list("envelope", flat=True)) == {"bare"}
    drained = events_drain()
    assert drained.counts["applied"] == 4, drained.line()
    assert drained.counts["stale"] == 1  # the add event: the submission already recorded it

    item.refresh_from_db()
    assert item.status.name == "Refunded" and item.status_category == "Closed"
    assert item.date_closed is not None and item.assignment_state == "Disconnected"
    transitions = list(
        StatusTransition.objects.filter(workitem=item).values_list(
            "from_status_name", "to_status_name", "to_category"
        )
    )
    assert transitions == [
        ("New", "Investigating", "InProgress"),
        ("Investigating", "Awaiting customer", "Waiting"),
        ("Awaiting customer", "Investigating", "InProgress"),
        ("Investigating", "Refunded", "Closed"),
    ]

    deliveries = send_all(wired)
    assert [(d.sequence, d.state) for d in deliveries] == [(n, "delivered") for n in (1, 2, 3, 4)]
    # The receiver answers 204 only to a valid Standard Webhooks signature.
    assert all(d.last_status_code == 204 for d in deliveries)
    received = list(reversed(received_deliveries()))
    assert [r["payload"]["sequence"] for r in received] == [1, 2, 3, 4]
    assert [r["payload"]["taskStatus"] for r in received] == [
        "Investigating",
        "Awaiting customer",
        "Investigating",
        "Refunded",
    ]
    assert {r["payload"]["orderId"] for r in received} == {"WEB-4711"}
    assert [r["webhook_id"] for r in received] == [d.webhook_id for d in deliveries]
    assert not any(r["duplicate"] for r in received)

    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor"))
    assert ("subscription.push", "ops") in actions
    assert ("workitem.submit", "supervisor") in actions
    assert actions.count(("workitem.event.applied", "genesys")) == 4
    assert actions.count(("workitem.event.stale", "genesys")) == 1


def test_events_no_trigger_matches_never_reach_the_portal(
    wired, django_capture_on_commit_callbacks
):
    subscription = EventSubscription.objects.create(
        name="Closures only",
        target_workflow_id=WORKFLOW,
        match_criteria=[{"jsonPath": "statusCategory", "operator": "Equal", "value": "Closed"}],
    )
    subscription_push(subscription=subscription, actor="ops")
    item = submit_refund(django_capture_on_commit_callbacks)
    assert not InboundEvent.objects.exists()  # the add event is Open: not sent

    lifecycle_advance(workitem_id=item.genesys_id, sender=wired)  # → Investigating: not sent
    closing = lifecycle_advance(workitem_id=item.genesys_id, sender=wired)  # → Refunded: sent
    assert [d.status_code for d in closing.deliveries] == [202]
    assert list(InboundEvent.objects.values_list("operation", flat=True)) == ["edit"]

    events_drain()
    item.refresh_from_db()
    assert item.status_category == "Closed"
    # The portal saw one change: Open straight to Closed.
    assert list(StatusTransition.objects.values_list("from_category", "to_category")) == [
        ("Open", "Closed")
    ]


def test_a_disabled_subscription_stops_the_events(wired, django_capture_on_commit_callbacks):
    subscription = EventSubscription.objects.create(
        name="Everything", target_workflow_id=WORKFLOW, match_criteria=[]
    )
    subscription_push(subscription=subscription, actor="ops")
    subscription_set_enabled(subscription=subscription, enabled=False, actor="ops")
    item = submit_refund(django_capture_on_commit_callbacks)
    event = lifecycle_advance(workitem_id=item.genesys_id, sender=wired)
    assert event.deliveries == [] and not InboundEvent.objects.exists()
