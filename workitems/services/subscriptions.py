"""Event subscriptions: the portal's Process Automation triggers in Genesys (docs/GENESYS.md §4).

An EventSubscription is the portal's copy of one trigger. `subscription_push` creates it in
Genesys (no genesys_id yet) or replaces it with PUT, sending the `version` the portal last saw:
if someone changed the trigger in Genesys meanwhile, Genesys answers 409, nothing is overwritten,
and the portal records the version Genesys now holds, so a second, deliberate push overwrites it.

Every verb is audited (`subscription.push`, `.enable`, `.disable`, `.delete`, `.test`); a
Genesys error is stored in `last_error` with its message and contextId, audited as a failure and
raised as a SubscriptionError whose text an operator can act on. No database transaction is held
across a Genesys call: each call runs first, then its outcome is saved in one short write.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from audits.models import Outcome
from audits.services import record
from workitems.genesys import GenesysClient, GenesysError, get_client
from workitems.models import EventSubscription

logger = logging.getLogger(__name__)

Json = dict[str, Any]

MATCH_OPERATORS = (
    "GreaterThanOrEqual", "LessThanOrEqual", "Equal", "NotEqual", "LessThan", "GreaterThan",
    "NotIn", "In", "Contains", "All", "Exists", "Size",
)  # fmt: skip
CRITERION_FIELDS = frozenset({"jsonPath", "operator", "value", "values"})
SYNC_FIELDS = ["genesys_id", "version", "synced_at", "last_error"]

# A realistic `v2.taskmanagement.workitems.{id}` event body (WorkitemsEventsNotificationWorkitem:
# flat ids, string dates, custom fields as {dataType, value-as-string}), for the Test action.
# Built from the SDK schema: no verbatim Genesys sample exists (docs/GENESYS.md §4).
SAMPLE_EVENT: Json = {
    "id": "0f6c3a52-7d1e-4c39-9b3e-2a5d8e41c9f0",
    "name": "Refund for order WEB-4711",
    "typeId": "5b8d3e0a-2f4c-4a6b-9c1d-7e8f9a0b1c2d",
    "typeName": "Refund request",
    "description": "Customer returned the parcel; refund the full amount.",
    "priority": 10,
    "dateCreated": "2026-03-02T09:30:10.000Z",
    "dateModified": "2026-03-02T09:42:37.512Z",
    "dateDue": "2026-03-04T09:30:10.000Z",
    "statusId": "9a1c2b3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d",
    "statusCategory": "InProgress",
    "workbinId": "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
    "workbinName": "Refunds workbin",
    "queueId": "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b",
    "assigneeId": "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a",
    "assignmentState": "Connected",
    "dateAssignmentStateChanged": "2026-03-02T09:42:37.512Z",
    "externalTag": "WEB-4711",
    "operation": "edit",
    "changes": [
        {
            "op": "replace",
            "field": "statusId",
            "oldValue": "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b",
            "newValue": "9a1c2b3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d",
        },
        {"op": "replace", "field": "statusCategory", "oldValue": "Open", "newValue": "InProgress"},
    ],
    "customFields": {
        "order_number_text": {"dataType": "string", "value": "WEB-4711"},
        "amount_number": {"dataType": "number", "value": "49.5"},
    },
}


class SubscriptionError(Exception):
    """A verb failed; the text says what happened in Genesys and what to do."""


# --- Request body ------------------------------------------------------------------------------


def subscription_request_body(subscription: EventSubscription) -> Json:
    """CreateTriggerRequest from the model; UpdateTriggerRequest (with `version`) once it is in
    Genesys. Unset optional fields are left out."""
    body: Json = {
        "name": subscription.name,
        "topicName": subscription.topic_name,
        "target": {
            "type": "Workflow",
            "id": subscription.target_workflow_id,
            "workflowTargetSettings": {"dataFormat": subscription.data_format},
        },
        "enabled": subscription.enabled,
        "matchCriteria": list(subscription.match_criteria or []),
    }
    if subscription.description:
        body["description"] = subscription.description
    if subscription.event_ttl_seconds is not None:
        body["eventTTLSeconds"] = subscription.event_ttl_seconds
    if subscription.delay_by_seconds is not None:
        body["delayBySeconds"] = subscription.delay_by_seconds
    if subscription.genesys_id:
        body["version"] = subscription.version
    return body


def match_criteria_problems(criteria: Any) -> list[str]:
    """What Genesys would refuse in a matchCriteria list (MatchCriteria), one sentence each."""
    if not isinstance(criteria, list):
        return ["Match criteria must be a JSON list of {jsonPath, operator, value | values}."]
    problems = []
    for n, criterion in enumerate(criteria, start=1):
        where = f"Criterion {n}"
        if not isinstance(criterion, dict):
            problems.append(f"{where} must be an object {{jsonPath, operator, value | values}}.")
            continue
        unknown = sorted(set(criterion) - CRITERION_FIELDS)
        if unknown:
            problems.append(f"{where} has unknown field(s): {', '.join(unknown)}.")
        path = criterion.get("jsonPath")
        if not isinstance(path, str) or not path.strip():
            problems.append(f"{where} needs a jsonPath (e.g. operation, customFields.x.value).")
        if criterion.get("operator") not in MATCH_OPERATORS:
            problems.append(f"{where}: operator must be one of {', '.join(MATCH_OPERATORS)}.")
        has_value, has_values = "value" in criterion, "values" in criterion
        if has_value and has_values:
            problems.append(f"{where}: give value or values, not both.")
        elif not (has_value or has_values):
            problems.append(f"{where} needs a value or values.")
        elif has_values and not isinstance(criterion["values"], list):
            problems.append(f"{where}: values must be a list.")
    return problems


def _local_problems(subscription: EventSubscription) -> list[str]:
    try:
        subscription.clean()
    except ValidationError as exc:
        problems = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
    else:
        problems = []
    if not subscription.target_workflow_id:
        problems.append("target_workflow_id: the id of the Architect workflow is required.")
    return problems + match_criteria_problems(subscription.match_criteria)


# --- Shared outcome handling -------------------------------------------------------------------


def _error_text(exc: GenesysError) -> str:
    text = exc.message or "no message"
    if exc.status:
        text = f"{exc.status} {exc.code}: {text}".strip()
    if exc.context_id:
        text += f" (contextId {exc.context_id})"
    if exc.hint:
        text += f" {exc.hint}"
    return text


def _audit(
    subscription: EventSubscription,
    action: str,
    actor: str,
    *,
    outcome: str = Outcome.SUCCESS,
    correlation_id: str = "",
    object_id: str | int | None = None,
    context: Json | None = None,
) -> None:
    record(
        actor=actor,
        action=action,
        object_type="EventSubscription",
        object_id=str(object_id if object_id is not None else subscription.pk),
        correlation_id=correlation_id or subscription.genesys_id or "",
        outcome=outcome,
        context={
            "name": subscription.name,
            "genesys_id": subscription.genesys_id,
            **(context or {}),
        },
    )


def _failed(
    subscription: EventSubscription,
    action: str,
    actor: str,
    exc: GenesysError,
    *,
    doing: str,
    context: Json | None = None,
    note: str = "",
) -> SubscriptionError:
    """Store and audit a Genesys error; the exception to raise."""
    error = _error_text(exc) + (f" {note}" if note else "")
    subscription.last_error = error
    EventSubscription.objects.filter(pk=subscription.pk).update(last_error=error[:4000])
    _audit(
        subscription,
        action,
        actor,
        outcome=Outcome.FAILURE,
        correlation_id=exc.context_id,
        context={
            "status": exc.status,
            "code": exc.code,
            "message": exc.message,
            "context_id": exc.context_id,
            "details": exc.details,
            **(context or {}),
        },
    )
    logger.warning(
        "subscription %s failed", action, extra={"subscription": subscription.pk, "error": error}
    )
    return SubscriptionError(f'Genesys refused to {doing} "{subscription.name}": {error}')


def _synced(subscription: EventSubscription, trigger: Json, *, extra: list[str] = ()) -> None:
    subscription.genesys_id = str(trigger["id"])
    subscription.version = trigger.get("version")
    subscription.synced_at = timezone.now()
    subscription.last_error = ""
    subscription.save(update_fields=[*SYNC_FIELDS, *extra])


def _find_created(client: GenesysClient, subscription: EventSubscription) -> Json | None:
    """After a create whose answer was lost: the trigger it made, if exactly one is recognisable
    (same name, topic and workflow). One page of 200 per topic is read."""
    try:
        listing = client.list_triggers_page(topic_name=subscription.topic_name, page_size=200)
    except GenesysError:
        return None
    found = [
        t
        for t in (listing or {}).get("entities") or []
        if t.get("name") == subscription.name
        and (t.get("target") or {}).get("id") == subscription.target_workflow_id
    ]
    return found[0] if len(found) == 1 else None


def _conflict_note(client: GenesysClient, subscription: EventSubscription) -> tuple[str, Json]:
    """On a 409: read the version Genesys holds and remember it, so a second push overwrites."""
    mine = subscription.version
    try:
        current = client.get_trigger(trigger_id=subscription.genesys_id)
    except GenesysError:
        return "Someone changed the trigger in Genesys; check it there.", {"version_here": mine}
    theirs = current.get("version")
    subscription.version = theirs
    EventSubscription.objects.filter(pk=subscription.pk).update(version=theirs)
    note = (
        f"The trigger was changed in Genesys (version {theirs} there; the portal last pushed "
        f"version {mine}). Review it in Genesys; push again to overwrite it with the portal's "
        "settings."
    )
    return note, {"version_here": mine, "version_in_genesys": theirs}


def _send(
    subscription: EventSubscription, client: GenesysClient, *, action: str, actor: str, doing: str
) -> Json:
    """Create or PUT the trigger; a GenesysError is stored, audited and raised as
    SubscriptionError."""
    body = subscription_request_body(subscription)
    try:
        if not subscription.genesys_id:
            try:
                return client.create_trigger(body=body)
            except GenesysError as exc:
                if not exc.outcome_unknown:
                    raise
                # The create may have landed: adopt it rather than make a second trigger.
                found = _find_created(client, subscription)
                if found is None:
                    raise
                logger.info("adopted the trigger a lost create made", extra={"id": found["id"]})
                return found
        return client.update_trigger(trigger_id=subscription.genesys_id, body=body)
    except GenesysError as exc:
        note, context = "", {"request": body}
        if exc.status == 409 and subscription.genesys_id:
            note, more = _conflict_note(client, subscription)
            context.update(more)
        elif exc.status == 404 and subscription.genesys_id:
            note = (
                "The trigger no longer exists in Genesys: delete this subscription here and "
                "create it again."
            )
        elif exc.outcome_unknown and not subscription.genesys_id:
            note = "The trigger may have been created: look for it in Genesys before pushing again."
        raise _failed(
            subscription, action, actor, exc, doing=doing, context=context, note=note
        ) from exc


# --- Verbs -------------------------------------------------------------------------------------


def subscription_push(
    *, subscription: EventSubscription, actor: str, client: GenesysClient | None = None
) -> EventSubscription:
    """Create the trigger in Genesys, or replace it (PUT with the version last seen)."""
    problems = _local_problems(subscription)
    if problems:
        _audit(
            subscription,
            "subscription.push",
            actor,
            outcome=Outcome.REFUSED,
            context={"problems": problems},
        )
        raise SubscriptionError(
            f'"{subscription.name}" was not sent to Genesys: ' + " ".join(problems)
        )
    creating = not subscription.genesys_id
    previous_version = subscription.version
    try:
        client = client or get_client()
    except GenesysError as exc:
        raise _failed(subscription, "subscription.push", actor, exc, doing="reach") from exc
    trigger = _send(
        subscription,
        client,
        action="subscription.push",
        actor=actor,
        doing="create the trigger for" if creating else "update the trigger for",
    )
    _synced(subscription, trigger)
    _audit(
        subscription,
        "subscription.push",
        actor,
        context={
            "created": creating,
            "version": subscription.version,
            "previous_version": previous_version,
        },
    )
    return subscription


def subscription_set_enabled(
    *,
    subscription: EventSubscription,
    enabled: bool,
    actor: str,
    client: GenesysClient | None = None,
) -> EventSubscription:
    """Switch the trigger on or off, in Genesys too once it is there. On failure the local flag
    keeps its old value, which is still what Genesys has."""
    action = "subscription.enable" if enabled else "subscription.disable"
    previous = subscription.enabled
    if not subscription.genesys_id:
        subscription.enabled = enabled
        subscription.save(update_fields=["enabled"])
        _audit(subscription, action, actor, context={"in_genesys": False, "was": previous})
        return subscription
    try:
        client = client or get_client()
    except GenesysError as exc:
        raise _failed(subscription, action, actor, exc, doing="reach") from exc
    subscription.enabled = enabled
    try:
        trigger = _send(
            subscription,
            client,
            action=action,
            actor=actor,
            doing="enable" if enabled else "disable",
        )
    except SubscriptionError:
        subscription.enabled = previous
        raise
    _synced(subscription, trigger, extra=["enabled"])
    _audit(
        subscription,
        action,
        actor,
        context={"in_genesys": True, "was": previous, "version": subscription.version},
    )
    return subscription


def subscription_delete(
    *, subscription: EventSubscription, actor: str, client: GenesysClient | None = None
) -> str:
    """Delete the trigger in Genesys, then the subscription here. A 404 from Genesys means it is
    already gone there: the local copy is deleted all the same. Returns what happened."""
    genesys_id = subscription.genesys_id
    already_gone = False
    if genesys_id:
        try:
            client = client or get_client()
            client.delete_trigger(trigger_id=genesys_id)
        except GenesysError as exc:
            if exc.status != 404:
                raise _failed(
                    subscription, "subscription.delete", actor, exc, doing="delete the trigger for"
                ) from exc
            already_gone = True
    pk = subscription.pk
    subscription.delete()
    _audit(
        subscription,
        "subscription.delete",
        actor,
        object_id=pk,
        correlation_id=genesys_id or "",
        context={"genesys_id": genesys_id, "already_gone_in_genesys": already_gone},
    )
    if not genesys_id:
        return f'Deleted "{subscription.name}" (it was never created in Genesys).'
    if already_gone:
        return (
            f'Deleted "{subscription.name}" here; Genesys had no trigger {genesys_id} any more '
            "(already deleted there)."
        )
    return f'Deleted trigger {genesys_id} in Genesys and "{subscription.name}" here.'


def subscription_test(
    *,
    subscription: EventSubscription,
    event: Json,
    actor: str,
    client: GenesysClient | None = None,
) -> Json:
    """Ask Genesys whether `event` (an event body) would fire the trigger (POST …/test).
    The TestModeResults are stored in last_test_result and returned."""
    if not subscription.genesys_id:
        raise SubscriptionError(
            f'"{subscription.name}" is not in Genesys yet: create it there first, then test it.'
        )
    if not isinstance(event, dict):
        raise SubscriptionError("The test event must be a JSON object (an event body).")
    try:
        client = client or get_client()
        result = client.test_trigger(trigger_id=subscription.genesys_id, event=event)
    except GenesysError as exc:
        raise _failed(subscription, "subscription.test", actor, exc, doing="test") from exc
    subscription.last_test_result = result
    subscription.save(update_fields=["last_test_result"])
    _audit(
        subscription,
        "subscription.test",
        actor,
        context={
            "trigger_matches": (result or {}).get("triggerMatches"),
            "steps": {
                key: (result or {}).get(key, {}).get("matches")
                for key in ("schemaValidation", "targetValidation", "jsonPathValidation")
            },
        },
    )
    return result
