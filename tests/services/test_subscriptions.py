"""Event subscriptions pushed to, switched, tested and deleted in Genesys (the simulator), through
the portal's real client: stored state, audit trail, and how Genesys errors reach the operator."""

from __future__ import annotations

import pytest

from audits.models import AuditEvent, Outcome
from simulator import faults, store
from simulator.triggers import TRIGGER, trigger_delete, trigger_update, workitem_event_problems
from workitems.models import EventSubscription
from workitems.services.subscriptions import (
    SAMPLE_EVENT,
    SubscriptionError,
    subscription_delete,
    subscription_push,
    subscription_request_body,
    subscription_set_enabled,
    subscription_test,
)

pytestmark = pytest.mark.usefixtures("genesys_simulator")

WORKFLOW = "b796bd10-b101-4a46-acc6-2705157d00e1"
EDITS = [{"jsonPath": "operation", "operator": "Equal", "value": "edit"}]


def subscription(**kw) -> EventSubscription:
    return EventSubscription.objects.create(
        **{
            "name": "Work item changes to the portal",
            "target_workflow_id": WORKFLOW,
            "match_criteria": EDITS,
            **kw,
        }
    )


def audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def in_genesys(sub: EventSubscription) -> dict:
    return store.get(TRIGGER, sub.genesys_id)


# --- Request body -----------------------------------------------------------------------------


def test_the_request_body_is_a_create_trigger_request_until_the_trigger_exists():
    sub = subscription(description="", event_ttl_seconds=None)
    assert subscription_request_body(sub) == {
        "name": "Work item changes to the portal",
        "topicName": "v2.taskmanagement.workitems.{id}",
        "target": {
            "type": "Workflow",
            "id": WORKFLOW,
            "workflowTargetSettings": {"dataFormat": "Json"},
        },
        "enabled": True,
        "matchCriteria": EDITS,
    }
    sub.genesys_id, sub.version, sub.delay_by_seconds, sub.description = "t-1", 3, 120, "Why"
    body = subscription_request_body(sub)
    assert body["version"] == 3 and body["delayBySeconds"] == 120 and body["description"] == "Why"
    assert "eventTTLSeconds" not in body


def test_the_sample_event_is_a_valid_work_item_event_body():
    assert workitem_event_problems(SAMPLE_EVENT) == []


# --- Push -------------------------------------------------------------------------------------


def test_a_first_push_creates_the_trigger_and_stores_its_id_and_version():
    sub = subscription_push(subscription=subscription(), actor="alice")
    sub.refresh_from_db()
    assert sub.genesys_id and sub.version == 1 and sub.synced_at and sub.last_error == ""
    trigger = in_genesys(sub)
    assert trigger["name"] == sub.name and trigger["matchCriteria"] == EDITS
    assert trigger["target"]["workflowTargetSettings"] == {"dataFormat": "Json"}
    (event,) = audits("subscription.push")
    assert event.actor == "alice" and event.outcome == Outcome.SUCCESS
    assert event.correlation_id == sub.genesys_id and event.context["created"] is True


def test_a_later_push_replaces_the_trigger_with_the_current_version():
    sub = subscription_push(subscription=subscription(), actor="alice")
    sub.match_criteria = [
        *EDITS,
        {"jsonPath": "statusCategory", "operator": "In", "values": ["Closed"]},
    ]
    sub.event_ttl_seconds = 30
    sub.save()
    subscription_push(subscription=sub, actor="alice")
    sub.refresh_from_db()
    assert sub.version == 2
    trigger = in_genesys(sub)
    assert len(trigger["matchCriteria"]) == 2 and trigger["eventTTLSeconds"] == 30
    assert audits("subscription.push")[-1].context == {
        "name": sub.name,
        "genesys_id": sub.genesys_id,
        "created": False,
        "version": 2,
        "previous_version": 1,
    }


def test_a_trigger_changed_in_genesys_is_not_overwritten_until_pushed_again():
    sub = subscription_push(subscription=subscription(), actor="alice")
    theirs = {**in_genesys(sub), "version": 1, "name": "Renamed in Genesys"}
    theirs.pop("id")
    trigger_update(trigger_id=sub.genesys_id, body=theirs)

    with pytest.raises(SubscriptionError, match="changed in Genesys .version 2 there"):
        subscription_push(subscription=sub, actor="alice")
    sub.refresh_from_db()
    assert in_genesys(sub)["name"] == "Renamed in Genesys"
    assert "409" in sub.last_error and "contextId" in sub.last_error
    failure = audits("subscription.push")[-1]
    assert failure.outcome == Outcome.FAILURE and failure.correlation_id  # the contextId
    assert failure.context["version_here"] == 1 and failure.context["version_in_genesys"] == 2

    subscription_push(subscription=sub, actor="alice")  # deliberate: the portal's settings win
    sub.refresh_from_db()
    assert in_genesys(sub)["name"] == sub.name and sub.version == 3 and sub.last_error == ""


def test_a_genesys_validation_error_is_stored_audited_and_raised_with_the_field():
    sub = subscription(target_workflow_id="architect-workflow-7")  # not a UUID: Genesys says no
    with pytest.raises(SubscriptionError, match="target.id") as raised:
        subscription_push(subscription=sub, actor="alice")
    assert str(raised.value).startswith('Genesys refused to create the trigger for "Work item')
    sub.refresh_from_db()
    assert sub.genesys_id is None
    assert sub.last_error.startswith("400 bad.request: target.id: must be the UUID")
    assert "contextId" in sub.last_error
    (failure,) = audits("subscription.push")
    assert failure.outcome == Outcome.FAILURE
    assert failure.context["details"] == [{"errorCode": "invalid.value", "fieldName": "target.id"}]
    assert failure.correlation_id == failure.context["context_id"] != ""
    assert store.count(TRIGGER) == 0


def test_what_genesys_would_refuse_is_refused_before_any_call():
    sub = subscription(
        delay_by_seconds=30,
        match_criteria=[{"jsonPath": "operation", "operator": "Matches", "value": "x"}],
    )
    with pytest.raises(SubscriptionError, match="60 to 900 seconds.*operator must be one of"):
        subscription_push(subscription=sub, actor="alice")
    assert store.count(TRIGGER) == 0
    (refused,) = audits("subscription.push")
    assert refused.outcome == Outcome.REFUSED and len(refused.context["problems"]) == 2


def test_a_create_whose_answer_was_lost_adopts_the_trigger_instead_of_making_a_second():
    faults.inject(
        path_regex=r"/processautomation/triggers$",
        method="POST",
        kind="timeout",
        after_processing=True,
    )
    sub = subscription_push(subscription=subscription(), actor="alice")
    assert store.count(TRIGGER) == 1
    assert sub.genesys_id == store.all_of(TRIGGER)[0]["id"] and sub.version == 1


# --- Enable / disable -------------------------------------------------------------------------


def test_disabling_and_enabling_update_the_trigger_in_genesys():
    sub = subscription_push(subscription=subscription(), actor="alice")
    subscription_set_enabled(subscription=sub, enabled=False, actor="bob")
    sub.refresh_from_db()
    assert sub.enabled is False and sub.version == 2 and in_genesys(sub)["enabled"] is False
    subscription_set_enabled(subscription=sub, enabled=True, actor="bob")
    assert in_genesys(sub)["enabled"] is True and in_genesys(sub)["version"] == 3
    assert [
        e.context["was"] for e in audits("subscription.disable") + audits("subscription.enable")
    ] == [True, False]


def test_switching_a_subscription_not_yet_in_genesys_only_changes_it_here():
    sub = subscription()
    subscription_set_enabled(subscription=sub, enabled=False, actor="bob")
    sub.refresh_from_db()
    assert sub.enabled is False and store.count(TRIGGER) == 0
    assert audits("subscription.disable")[0].context["in_genesys"] is False


def test_a_failed_disable_keeps_the_flag_genesys_still_has():
    sub = subscription_push(subscription=subscription(), actor="alice")
    faults.inject(path_regex=r"/processautomation/triggers/", method="PUT", status=403)
    with pytest.raises(SubscriptionError, match="processautomation:trigger:edit"):
        subscription_set_enabled(subscription=sub, enabled=False, actor="bob")
    sub.refresh_from_db()
    assert sub.enabled is True and in_genesys(sub)["enabled"] is True
    assert sub.last_error.startswith("403")
    assert audits("subscription.disable")[0].outcome == Outcome.FAILURE


# --- Delete -----------------------------------------------------------------------------------


def test_delete_removes_the_trigger_in_genesys_then_the_subscription():
    sub = subscription_push(subscription=subscription(), actor="alice")
    trigger_id, pk = sub.genesys_id, sub.pk
    message = subscription_delete(subscription=sub, actor="alice")
    assert message == f'Deleted trigger {trigger_id} in Genesys and "{sub.name}" here.'
    assert store.count(TRIGGER) == 0 and not EventSubscription.objects.exists()
    (event,) = audits("subscription.delete")
    assert event.object_id == str(pk) and event.correlation_id == trigger_id
    assert event.context["already_gone_in_genesys"] is False


def test_a_trigger_already_gone_in_genesys_is_deleted_here_all_the_same():
    sub = subscription_push(subscription=subscription(), actor="alice")
    trigger_delete(trigger_id=sub.genesys_id)
    message = subscription_delete(subscription=sub, actor="alice")
    assert "already deleted there" in message
    assert not EventSubscription.objects.exists()
    assert audits("subscription.delete")[0].context["already_gone_in_genesys"] is True


def test_a_failed_delete_in_genesys_keeps_the_subscription():
    sub = subscription_push(subscription=subscription(), actor="alice")
    faults.inject(path_regex=r"/processautomation/triggers/", method="DELETE", status=403)
    with pytest.raises(SubscriptionError, match="delete the trigger"):
        subscription_delete(subscription=sub, actor="alice")
    sub.refresh_from_db()
    assert sub.last_error.startswith("403") and store.count(TRIGGER) == 1
    assert audits("subscription.delete")[0].outcome == Outcome.FAILURE


def test_a_subscription_never_pushed_is_deleted_without_calling_genesys():
    message = subscription_delete(subscription=subscription(), actor="alice")
    assert "never created in Genesys" in message


# --- Test -------------------------------------------------------------------------------------


def test_testing_stores_each_step_and_whether_the_trigger_matches():
    sub = subscription_push(subscription=subscription(), actor="alice")
    result = subscription_test(subscription=sub, event=SAMPLE_EVENT, actor="carol")
    assert result["triggerMatches"] is True
    assert [
        result[k]["step"] for k in ("schemaValidation", "targetValidation", "jsonPathValidation")
    ] == [1, 2, 3]
    sub.refresh_from_db()
    assert sub.last_test_result == result
    (event,) = audits("subscription.test")
    assert event.actor == "carol" and event.context["trigger_matches"] is True

    no_match = subscription_test(
        subscription=sub, event={**SAMPLE_EVENT, "operation": "add"}, actor="carol"
    )
    assert no_match["triggerMatches"] is False
    assert no_match["jsonPathValidation"]["details"][0]["match"] is False


def test_testing_needs_the_trigger_in_genesys_first():
    with pytest.raises(SubscriptionError, match="not in Genesys yet"):
        subscription_test(subscription=subscription(), event=SAMPLE_EVENT, actor="carol")


def test_a_test_against_a_trigger_deleted_in_genesys_says_so():
    sub = subscription_push(subscription=subscription(), actor="alice")
    trigger_delete(trigger_id=sub.genesys_id)
    with pytest.raises(SubscriptionError, match="404"):
        subscription_test(subscription=sub, event=SAMPLE_EVENT, actor="carol")
    assert audits("subscription.test")[0].outcome == Outcome.FAILURE
