"""Work-item events, and their delivery the way a Genesys org wired to the portal delivers them.

Genesys has no outbound webhooks (docs/GENESYS.md §4). The portal's wiring is: a Process Automation
trigger on `v2.taskmanagement.workitems.{id}` → an Architect workflow → a Web Services data action
that POSTs to the portal's ingest endpoint. The simulator plays all three: for each change it
builds the event body (`WorkitemsEventsNotificationWorkitem`: flat ids), and for every enabled
trigger on the topic whose match criteria the body meets it POSTs once to
SIMULATOR_EVENT_TARGET_URL with the data action's credentials:

- `X-Ingest-Secret: INGEST_SECRETS[0]` (a User Defined credential), else Basic auth from
  INGEST_BASIC_AUTH[0] (the Basic Auth credential type);
- the body: with the trigger's dataFormat Json, the bare event body, because that is what the
  workflow's `jsonData` holds ([DEV] task-management-maestro reads `Flow.jsonData.name` and
  `Flow.jsonData.customFields.phone_text.value`) and what a data action built on it sends; with
  TopLevelPrimitives, the body's top-level primitive attributes only, as a workflow would have
  them as separate inputs. (The notification envelope is what WebSocket channels and EventBridge
  carry; `LifecycleEvent.envelope` keeps it for those.)

Not simulated: delayBySeconds (the POST goes at once), eventTTLSeconds (nothing is late), the data
action's own retries (a failed POST is reported, not retried).

The sender is a `requests.Session` (pass `sender=`, or set `SENDER` in tests); its answer or error
is reported per trigger in `LifecycleEvent.deliveries`.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings

from simulator import render, store, triggers
from simulator.schemas import json_schema_of

logger = logging.getLogger(__name__)

Json = dict[str, Any]

TIMEOUT_SECONDS = 10.0
USER_AGENT = "genesys-simulator-data-action/1"
TOPIC_PREFIX = "v2.taskmanagement.workitems."

# Tests may set this to a session with an in-process transport mounted; None: a real session.
SENDER: requests.Session | None = None

# REST attributes copied into the event body as they are (flat ids, dates as strings).
_COPIED = (
    "id", "name", "typeId", "description", "languageId", "priority", "dateCreated",
    "dateModified", "dateDue", "dateExpires", "dateAssignmentStateChanged", "durationSeconds",
    "ttl", "statusId", "statusCategory", "dateClosed", "workbinId", "reporterId", "assigneeId",
    "externalContactId", "externalTag", "modifiedBy", "assignmentState", "queueId", "skillIds",
    "scriptId", "preferredAgentIds", "divisionId", "utilizationLabelId",
)  # fmt: skip
# Fields whose change is reported in `changes` (as strings, like WorkitemsEventsNotificationDelta).
CHANGE_FIELDS = (
    "name", "description", "priority", "statusId", "statusCategory", "dateClosed", "queueId",
    "assigneeId", "assignmentState", "workbinId", "dateDue", "dateExpires", "externalTag",
)  # fmt: skip
# Custom-field core types → the event's dataType. `boolean$` is the SDK enum value verbatim.
_DATA_TYPES = {"integer": "integer", "number": "number", "checkbox": "boolean$"}


@dataclass
class Delivery:
    """One data-action POST: which trigger fired it and what the portal answered."""

    trigger_id: str
    trigger_name: str
    status_code: int | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class LifecycleEvent:
    """A change in the simulated org: the notification, and its deliveries (none if no trigger
    matched)."""

    envelope: Json
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def body(self) -> Json:
        return self.envelope["eventBody"]


def event_target_url() -> str:
    return settings.SIMULATOR_EVENT_TARGET_URL


def data_action_headers() -> dict[str, str]:
    """The headers the data action's credential produces."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    secrets = list(settings.INGEST_SECRETS)
    pairs = [p for p in settings.INGEST_BASIC_AUTH if ":" in p]
    if secrets:
        headers["X-Ingest-Secret"] = secrets[0]
    elif pairs:
        headers["Authorization"] = "Basic " + base64.b64encode(pairs[0].encode()).decode()
    return headers


def _schema_types(item: Json) -> dict[str, str]:
    """Custom-field key → core type name, from the item's schema."""
    json_schema = json_schema_of(item.get("schemaId"), item.get("schemaVersion"))
    properties = (json_schema or {}).get("properties") or {}
    types = {}
    for key, spec in properties.items():
        ref = ((spec.get("allOf") or [{}])[0]).get("$ref", "")
        types[key] = ref.rsplit("/", 1)[-1]
    return types


def _custom_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)  # numbers as written; tags as a JSON array in a string (NOT CONFIRMED)


def _custom_fields(item: Json) -> Json:
    fields = item.get("customFields") or {}
    types = _schema_types(item) if fields else {}
    out = {}
    for key, value in fields.items():
        core = types.get(key)
        if core is None:  # no schema to ask: go by the JSON type
            core = {bool: "checkbox", int: "integer", float: "number"}.get(type(value), "text")
        out[key] = {"dataType": _DATA_TYPES.get(core, "string"), "value": _custom_value(value)}
    return out


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def changes_between(old: Json | None, new: Json) -> list[Json]:
    """WorkitemsEventsNotificationDelta entries for the fields that changed."""
    if old is None:
        return []
    changes = []
    for name in CHANGE_FIELDS:
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        delta: Json = {"op": "replace", "field": name}
        if before is None:
            delta["op"] = "add"
        elif after is None:
            delta["op"] = "remove"
        if before is not None:
            delta["oldValue"] = _as_text(before)
        if after is not None:
            delta["newValue"] = _as_text(after)
        changes.append(delta)
    return changes


def workitem_event_body(item: Json, *, operation: str, changes: list[Json] | None = None) -> Json:
    """The event body Genesys sends for a work item: WorkitemsEventsNotificationWorkitem, flat ids
    and string dates, absent values left out. (It has no dateStatusChanged: that is REST only.)"""
    body: Json = {name: item.get(name) for name in _COPIED}
    worktype = store.get(render.WORKTYPE, item.get("typeId"))
    workbin = store.get(render.WORKBIN, item.get("workbinId")) if item.get("workbinId") else None
    body["typeName"] = (worktype or {}).get("name")
    body["workbinName"] = (workbin or {}).get("name")
    body["operation"] = operation
    if changes:
        body["changes"] = changes
    custom = _custom_fields(item)
    if custom:
        body["customFields"] = custom
    return {k: v for k, v in body.items() if v is not None and v != []}


def notification(body: Json) -> Json:
    """The notification envelope around an event body."""
    return {
        "topicName": f"{TOPIC_PREFIX}{body['id']}",
        "version": "2",
        "eventBody": body,
        "metadata": {"CorrelationId": str(uuid.uuid4())},
    }


def _top_level_primitives(body: Json) -> Json:
    return {k: v for k, v in body.items() if isinstance(v, str | int | float | bool)}


def _sender(sender: requests.Session | None) -> requests.Session:
    global SENDER
    if sender is not None:
        return sender
    if SENDER is None:
        SENDER = requests.Session()
    return SENDER


def event_deliver(envelope: Json, *, sender: requests.Session | None = None) -> list[Delivery]:
    """POST the event once per enabled trigger it fires. Call outside any database transaction:
    the portal (another process, or this one in process) stores the event as it arrives."""
    body = envelope["eventBody"]
    fired = triggers.triggers_matching(topic_name=triggers.WORKITEM_TOPIC, event=body)
    if not fired:
        return []
    session = _sender(sender)
    url = event_target_url()
    headers = data_action_headers()
    if "X-Ingest-Secret" not in headers and "Authorization" not in headers:
        logger.warning("simulator data action: no INGEST_SECRETS or INGEST_BASIC_AUTH to send")
    deliveries = []
    for trigger in fired:
        data_format = ((trigger.get("target") or {}).get("workflowTargetSettings") or {}).get(
            "dataFormat", "TopLevelPrimitives"
        )
        payload = body if data_format == "Json" else _top_level_primitives(body)
        delivery = Delivery(trigger_id=trigger["id"], trigger_name=trigger["name"])
        try:
            response = session.post(
                url, data=json.dumps(payload), headers=headers, timeout=TIMEOUT_SECONDS
            )
        except requests.RequestException as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
        else:
            delivery.status_code = response.status_code
            if not delivery.ok:
                delivery.error = " ".join(response.text.split())[:300]
        if not delivery.ok:
            logger.warning(
                "simulator data action failed",
                extra={
                    "trigger_id": delivery.trigger_id,
                    "status": delivery.status_code,
                    "error": delivery.error,
                    "url": url,
                },
            )
        deliveries.append(delivery)
    return deliveries


def workitem_event_emit(
    item: Json,
    *,
    operation: str,
    before: Json | None = None,
    sender: requests.Session | None = None,
) -> LifecycleEvent:
    """Build the event for a change to `item` (from `before`) and deliver it where triggers say."""
    body = workitem_event_body(item, operation=operation, changes=changes_between(before, item))
    envelope = notification(body)
    return LifecycleEvent(envelope=envelope, deliveries=event_deliver(envelope, sender=sender))
