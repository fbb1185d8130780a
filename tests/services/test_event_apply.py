"""Applying one stored event to a work item: find or adopt, newer-only, transition + delivery +
audit in the change's transaction."""

import json
from datetime import UTC, datetime
from unittest import mock

import pytest

from audits.models import AuditEvent
from tests import factories
from tests.api.support import (
    QUEUE_ID,
    STATUS_DONE,
    STATUS_OPEN,
    STATUS_WAITING,
    STATUS_WORKING,
    body,
    notification,
    reference,
)
from workitems.models import (
    Delivery,
    InboundEvent,
    LocalState,
    SlaPolicy,
    StatusTransition,
    WorkItem,
)
from workitems.services.event_apply import ApplyOutcome, EventApplyError, workitem_apply_event
from workitems.services.ingest import event_ingest

pytestmark = pytest.mark.django_db
State = InboundEvent.State


def stored(element) -> InboundEvent:
    result = event_ingest(body=json.dumps(element).encode(), headers={})
    return InboundEvent.objects.get(pk=result.events[0].id)


def apply(element) -> tuple[ApplyOutcome, InboundEvent]:
    event = stored(element)
    outcome = workitem_apply_event(event=event)
    event.refresh_from_db()
    return outcome, event


@pytest.fixture
def ref():
    return reference()


@pytest.fixture
def item(ref):
    """A work item we submitted, mirrored as Open."""
    return factories.workitem(
        worktype=ref.worktype,
        genesys_id="wi-1",
        local_state=LocalState.SUBMITTED,
        status=ref.open,
        status_category="Open",
        date_created=datetime(2026, 7, 1, 9, tzinfo=UTC),
        date_modified=datetime(2026, 7, 1, 9, tzinfo=UTC),
    )


def test_a_status_change_writes_transition_delivery_and_audit(item, ref):
    outcome, event = apply(
        notification(body("wi-1", status=STATUS_WORKING, modified="2026-07-01T10:00:00.000Z"))
    )
    assert outcome == ApplyOutcome.APPLIED
    assert (event.state, event.workitem_id) == (State.PROCESSED, item.pk)
    item.refresh_from_db()
    assert item.status == ref.working
    assert item.status_category == "InProgress"
    assert item.date_modified == datetime(2026, 7, 1, 10, tzinfo=UTC)
    assert item.date_status_changed == datetime(2026, 7, 1, 10, tzinfo=UTC)
    assert item.assignment_state == "Connected"
    assert item.queue == ref.queue
    transition = StatusTransition.objects.get()
    assert (transition.from_status_name, transition.from_category) == ("New", "Open")
    assert (transition.to_status_id, transition.to_status_name, transition.to_category) == (
        STATUS_WORKING,
        "Working",
        "InProgress",
    )
    assert transition.changed_at == item.date_modified
    assert transition.source_event == event
    delivery = Delivery.objects.get()
    assert delivery.kind == "status" and delivery.sequence == 1
    assert delivery.payload["taskStatus"] == "Working"
    audit = AuditEvent.objects.get(action="workitem.event.applied")
    assert audit.actor == "genesys"
    assert audit.context["transition_id"] == transition.pk
    assert audit.context["delivery_id"] == delivery.pk


def test_the_change_transition_and_delivery_commit_together_or_not_at_all(item):
    event = stored(notification(body("wi-1", status=STATUS_WORKING)))
    with mock.patch(
        "workitems.services.event_apply.delivery_enqueue", side_effect=RuntimeError("outbox down")
    ):
        with pytest.raises(RuntimeError):
            workitem_apply_event(event=event)
    item.refresh_from_db()
    assert item.status_category == "Open"
    assert not StatusTransition.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="workitem.event").exists()
    event.refresh_from_db()
    assert event.state == State.ACCEPTED


def test_an_event_without_a_status_change_writes_no_transition(item):
    outcome, _ = apply(notification(body("wi-1", status=STATUS_OPEN, assignmentState="Alerting")))
    assert outcome == ApplyOutcome.APPLIED
    item.refresh_from_db()
    assert item.assignment_state == "Alerting"
    assert not StatusTransition.objects.exists()
    assert not Delivery.objects.exists()


def test_an_older_or_equal_event_is_stale_and_changes_nothing(item):
    outcome, event = apply(
        notification(body("wi-1", status=STATUS_DONE, modified="2026-07-01T09:00:00.000Z"))
    )
    assert outcome == ApplyOutcome.STALE
    assert event.state == State.STALE
    item.refresh_from_db()
    assert item.status_category == "Open"
    assert not StatusTransition.objects.exists()
    assert AuditEvent.objects.get(action="workitem.event.stale").outcome == "info"


def test_closing_sets_date_closed_and_reopening_clears_it(item):
    apply(
        notification(
            body(
                "wi-1",
                status=STATUS_DONE,
                modified="2026-07-01T11:00:00.000Z",
                dateClosed="2026-07-01T10:59:00.000Z",
            )
        )
    )
    item.refresh_from_db()
    assert item.date_closed == datetime(2026, 7, 1, 10, 59, tzinfo=UTC)
    apply(notification(body("wi-1", status=STATUS_WORKING, modified="2026-07-01T12:00:00.000Z")))
    item.refresh_from_db()
    assert item.date_closed is None
    assert item.transitions.count() == 2


def test_closing_without_date_closed_uses_date_modified(item):
    data = body("wi-1", status=STATUS_DONE, modified="2026-07-01T11:00:00.000Z")
    del data["dateClosed"]
    apply(notification(data))
    item.refresh_from_db()
    assert item.date_closed == datetime(2026, 7, 1, 11, tzinfo=UTC)


def test_an_unknown_status_keeps_the_fk_stores_the_category_and_says_so(item, ref):
    outcome, _ = apply(
        notification(body("wi-1", status="status-not-synced", statusCategory="Waiting"))
    )
    assert outcome == ApplyOutcome.APPLIED
    item.refresh_from_db()
    assert item.status == ref.open
    assert item.status_category == "Waiting"
    transition = StatusTransition.objects.get()
    assert transition.to_status_id == "status-not-synced"
    audit = AuditEvent.objects.get(action="workitem.event.applied")
    assert audit.context["unknown_status_id"] == "status-not-synced"
    # The same unknown status again is not a second transition.
    apply(
        notification(
            body(
                "wi-1",
                status="status-not-synced",
                statusCategory="Waiting",
                modified="2026-07-01T10:30:00.000Z",
                assignmentState="Held",
            )
        )
    )
    assert StatusTransition.objects.count() == 1


def test_date_created_is_filled_when_empty_and_starts_the_sla(ref):
    item = factories.workitem(
        worktype=ref.worktype, genesys_id="wi-2", local_state=LocalState.SUBMITTED
    )
    apply(notification(body("wi-2", status=STATUS_OPEN)))
    item.refresh_from_db()
    assert item.date_created == datetime(2026, 7, 1, 9, tzinfo=UTC)
    assert item.sla_deadline is not None


def test_waiting_pauses_the_sla_when_the_policy_says_so(item, ref):
    SlaPolicy.objects.create(worktype=ref.worktype, threshold_seconds=3600, pause_in_waiting=True)
    apply(notification(body("wi-1", status=STATUS_WAITING, modified="2026-07-01T09:10:00Z")))
    item.refresh_from_db()
    assert item.sla_pause_in_waiting is True
    assert item.sla_paused_since == datetime(2026, 7, 1, 9, 10, tzinfo=UTC)


def test_an_item_created_elsewhere_is_adopted_with_its_external_tag(ref):
    outcome, event = apply(
        notification(body("wi-new", status=STATUS_OPEN, operation="add", externalTag="crm-99"))
    )
    assert outcome == ApplyOutcome.ADOPTED
    item = WorkItem.objects.get(genesys_id="wi-new")
    assert item.external_ref == "crm-99"
    assert item.local_state == LocalState.SUBMITTED
    assert item.worktype == ref.worktype
    assert item.queue.genesys_id == QUEUE_ID
    assert event.workitem == item
    assert AuditEvent.objects.get(action="workitem.event.adopted").object_id == str(item.pk)
    assert item.transitions.count() == 1
    assert item.deliveries.count() == 1


def test_an_item_without_external_tag_is_adopted_as_genesys_id(ref):
    outcome, _ = apply(body("wi-anon", operation="add"))
    assert outcome == ApplyOutcome.ADOPTED
    assert WorkItem.objects.get(genesys_id="wi-anon").external_ref == "genesys-wi-anon"


def test_an_add_event_overtaking_our_submission_links_the_item_by_external_tag(ref):
    ours = factories.workitem(worktype=ref.worktype, local_state=LocalState.SUBMITTING)
    outcome, _ = apply(
        notification(body("wi-ours", operation="add", externalTag=ours.external_ref))
    )
    assert outcome == ApplyOutcome.APPLIED
    ours.refresh_from_db()
    assert ours.genesys_id == "wi-ours"
    assert ours.local_state == LocalState.SUBMITTED
    assert WorkItem.objects.count() == 1


def test_an_external_tag_already_taken_falls_back_to_the_genesys_id(ref):
    factories.workitem(worktype=ref.worktype, external_ref="taken", genesys_id="other")
    apply(body("wi-t", operation="add", externalTag="taken"))
    assert WorkItem.objects.get(genesys_id="wi-t").external_ref == "genesys-wi-t"


def test_an_unknown_worktype_fails_with_a_clear_error(ref):
    event = stored(body("wi-odd", operation="add", typeId="unknown-type"))
    with pytest.raises(EventApplyError, match="genesys_sync"):
        workitem_apply_event(event=event)
    assert not WorkItem.objects.filter(genesys_id="wi-odd").exists()


def test_delete_is_recorded_and_changes_nothing(item):
    outcome, event = apply(
        notification(
            body("wi-1", status=STATUS_DONE, operation="delete", modified="2026-07-02T00:00:00Z")
        )
    )
    assert outcome == ApplyOutcome.DELETED
    assert event.state == State.PROCESSED
    item.refresh_from_db()
    assert item.status_category == "Open"
    assert AuditEvent.objects.filter(action="workitem.event.deleted").count() == 1


def test_a_delete_for_an_item_we_never_knew_adopts_nothing(ref):
    outcome, _ = apply(body("wi-gone", operation="purge"))
    assert outcome == ApplyOutcome.DELETED
    assert not WorkItem.objects.exists()


def test_a_rest_workitem_snapshot_with_nested_refs_is_understood(item, ref):
    snapshot = {
        "id": "wi-1",
        "name": "x",
        "type": {"id": ref.worktype.genesys_id},
        "status": {"id": STATUS_WORKING},
        "statusCategory": "InProgress",
        "queue": {"id": QUEUE_ID},
        "dateModified": "2026-07-01T10:00:00Z",
    }
    assert apply(snapshot)[0] == ApplyOutcome.APPLIED
    item.refresh_from_db()
    assert item.status == ref.working


def test_the_assignee_is_kept_by_name_on_the_item_and_on_the_status_change(item, ref):
    factories.member(ref.queue, name="Ben Hartley", user_id="user-ben")
    apply(
        notification(
            body(
                "wi-1",
                status=STATUS_WORKING,
                modified="2026-07-01T10:00:00.000Z",
                assigneeId="user-ben",
            )
        )
    )
    item.refresh_from_db()
    assert (item.assignee_id, item.assignee_name) == ("user-ben", "Ben Hartley")
    change = StatusTransition.objects.get(workitem=item)
    assert (change.assignee_id, change.assignee_name) == ("user-ben", "Ben Hartley")
    applied = AuditEvent.objects.get(action="workitem.event.applied")
    assert applied.context["assignee"] == {"from": "", "to": "Ben Hartley", "to_id": "user-ben"}

    # Genesys takes the assignment away: the event carries the key, empty.
    apply(notification(body("wi-1", modified="2026-07-01T11:00:00.000Z", assigneeId=None)))
    item.refresh_from_db()
    assert (item.assignee_id, item.assignee_name) == ("", "")


def test_an_event_without_the_assignee_leaves_it_alone(item, ref):
    WorkItem.objects.filter(pk=item.pk).update(assignee_id="user-x", assignee_name="X")
    apply(notification(body("wi-1", status=STATUS_WORKING, modified="2026-07-01T10:00:00.000Z")))
    item.refresh_from_db()
    assert (item.assignee_id, item.assignee_name) == ("user-x", "X")


def test_a_rest_snapshot_names_its_assignee_and_one_without_is_unassigned(ref):
    from workitems.services.genesys_state import genesys_state_fields

    factories.member(ref.queue, name="Ben Hartley", user_id="user-ben")

    assigned = genesys_state_fields(workitem={"id": "wi-9", "assignee": {"id": "user-ben"}})
    unassigned = genesys_state_fields(workitem={"id": "wi-9"})

    assert (assigned["assignee_id"], assigned["assignee_name"]) == ("user-ben", "Ben Hartley")
    assert (unassigned["assignee_id"], unassigned["assignee_name"]) == ("", "")


def test_a_rest_snapshot_and_the_same_state_as_an_event_give_the_item_the_same_fields(item, ref):
    """One mapping (genesys_wire.workitem_state_read) for submission's snapshot and event apply."""
    from workitems.services.genesys_state import genesys_state_fields

    modified = "2026-07-01T12:00:00+02:00"  # an offset: both must store it in UTC
    apply(notification(body("wi-1", status=STATUS_WORKING, modified=modified)))
    item.refresh_from_db()
    snapshot = genesys_state_fields(
        workitem={
            "id": "wi-1",
            "status": {"id": STATUS_WORKING},
            "queue": {"id": ref.queue.genesys_id},
            "statusCategory": "InProgress",
            "assignmentState": "Connected",
            "dateModified": modified,
        }
    )
    for name in ("status_id", "queue_id", "status_category", "assignment_state", "date_modified"):
        assert snapshot[name] == getattr(item, name), name
    assert snapshot["date_modified"].tzinfo is UTC  # the Genesys parser, not a bare ISO one
