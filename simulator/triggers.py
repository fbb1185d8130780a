"""Process Automation triggers (docs/GENESYS.md §4): validation, storage, matching and test mode.

Stored as SimEntity rows of kind "trigger", with the attributes of `Trigger` (openapi-subset.json).

Rules, from CreateTriggerRequest / UpdateTriggerRequest / MatchCriteria:
- required: name, topicName, target, enabled (PUT also `version`, which must be the current one);
- `topicName` must be a topic offered by GET /triggers/topics, `{id}` wildcard included, and
  cannot change on PUT;
- `target.type` is "Workflow" (the only value); `workflowTargetSettings.dataFormat` is Json or
  TopLevelPrimitives;
- `eventTTLSeconds` ≥ 10, `delayBySeconds` 60–900, never both;
- each criterion: a jsonPath, an operator from the enum, and `value` or `values`, not both;
- `description` at most 512 characters.

The simulator's own choices (NOT CONFIRMED against Genesys; marked where made): the error codes in
ErrorBody.details, 409 for a stale `version`, `target.id` having to be a UUID (the simulator has no
workflows, so any UUID counts as a published workflow), the type rules for Exists (boolean value)
and Size (integer value), and how a criterion treats a path that selects nothing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from simulator import jsonpath, store
from simulator.errors import ApiError, bad_request, detail, not_found

Json = dict[str, Any]

TRIGGER = "trigger"  # SimEntity kind
BASE_PATH = "/api/v2/processautomation/triggers"
WORKITEM_TOPIC = "v2.taskmanagement.workitems.{id}"
# Topics the simulator accepts for triggers (GET /triggers/topics). The work-item topic is the one
# the [DEV] example uses; the inbound-webhook topic is documented as trigger-consumable. Whether
# the queue- and user-scoped work-item topics are trigger-enabled is NOT CONFIRMED, so they are
# not offered.
TRIGGER_TOPICS = (
    WORKITEM_TOPIC,
    "v2.integrations.inbound.webhook.{id}.invocation",
)
OPERATORS = (
    "GreaterThanOrEqual", "LessThanOrEqual", "Equal", "NotEqual", "LessThan", "GreaterThan",
    "NotIn", "In", "Contains", "All", "Exists", "Size",
)  # fmt: skip
DATA_FORMATS = ("Json", "TopLevelPrimitives")
CREATE_FIELDS = frozenset(
    {
        "name",
        "topicName",
        "target",
        "enabled",
        "matchCriteria",
        "eventTTLSeconds",
        "delayBySeconds",
        "description",
    }
)
UPDATE_FIELDS = CREATE_FIELDS | {"version"}
REQUIRED = ("name", "topicName", "target", "enabled")
TARGET_FIELDS = frozenset({"type", "id", "workflowTargetSettings"})
CRITERION_FIELDS = frozenset({"jsonPath", "operator", "value", "values"})
DESCRIPTION_MAX = 512
TTL_MIN = 10
DELAY_MIN, DELAY_MAX = 60, 900

STEP_NAMES = {
    "schema": "Validate test event body against topic schema",
    "target": "Verify that trigger target is configured correctly",
    "jsonPath": "Check jsonPath match criteria",
}


# --- Validation -------------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.details: list[dict[str, str]] = []
        self.messages: list[str] = []

    def add(self, field: str, message: str, code: str = "invalid.value") -> None:
        self.details.append(detail(field, code))
        self.messages.append(f"{field}: {message}")

    def raise_any(self) -> None:
        if self.details:
            raise bad_request(" ".join(self.messages), *self.details)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_target(problems: _Problems, target: Any) -> Json | None:
    if not isinstance(target, dict):
        problems.add("target", "must be an object {type, id, workflowTargetSettings}.")
        return None
    for name in sorted(set(target) - TARGET_FIELDS):
        problems.add(f"target.{name}", "is not a field of TriggerTarget.", "unrecognized.field")
    if target.get("type") != "Workflow":
        problems.add(
            "target.type", "must be Workflow.", "invalid.value" if "type" in target else "required"
        )
    target_id = target.get("id")
    if target_id is None:
        problems.add("target.id", "is required.", "required")
    elif not isinstance(target_id, str) or store.parse_id(target_id) is None:
        # The simulator's rule: a workflow id is a UUID (there are no workflows to look up).
        problems.add("target.id", "must be the UUID of a published workflow.")
    out: Json = {"type": "Workflow", "id": target_id}
    settings = target.get("workflowTargetSettings")
    if settings is not None:
        if not isinstance(settings, dict) or set(settings) - {"dataFormat"}:
            problems.add("target.workflowTargetSettings", "must be {dataFormat}.")
        elif settings.get("dataFormat") is not None:
            if settings["dataFormat"] not in DATA_FORMATS:
                problems.add(
                    "target.workflowTargetSettings.dataFormat",
                    f"must be one of {', '.join(DATA_FORMATS)}.",
                )
            else:
                out["workflowTargetSettings"] = {"dataFormat": settings["dataFormat"]}
    return out


def _check_criteria(problems: _Problems, criteria: Any) -> list[Json]:
    if not isinstance(criteria, list):
        problems.add("matchCriteria", "must be a list of MatchCriteria.", "invalid.type")
        return []
    out: list[Json] = []
    for i, criterion in enumerate(criteria):
        where = f"matchCriteria[{i}]"
        if not isinstance(criterion, dict):
            problems.add(where, "must be an object {jsonPath, operator, value | values}.")
            continue
        for name in sorted(set(criterion) - CRITERION_FIELDS):
            problems.add(
                f"{where}.{name}", "is not a field of MatchCriteria.", "unrecognized.field"
            )
        path = criterion.get("jsonPath")
        if path is None:
            problems.add(f"{where}.jsonPath", "is required.", "required")
        else:
            try:
                jsonpath.parse(path)
            except jsonpath.JsonPathError as exc:
                problems.add(f"{where}.jsonPath", f"{exc}.")
        operator = criterion.get("operator")
        if operator not in OPERATORS:
            problems.add(
                f"{where}.operator",
                f"must be one of {', '.join(OPERATORS)}.",
                "required" if operator is None else "invalid.value",
            )
        has_value, has_values = "value" in criterion, "values" in criterion
        if has_value and has_values:
            problems.add(
                where, "Only one of value and values can be included.", "invalid.combination"
            )
        elif not has_value and not has_values:
            problems.add(where, "needs value or values.", "required")
        elif has_values and not isinstance(criterion["values"], list):
            problems.add(f"{where}.values", "must be a list.", "invalid.type")
        elif operator == "Exists" and not isinstance(criterion.get("value"), bool):
            problems.add(f"{where}.value", "Exists takes a boolean value.", "invalid.type")
        elif operator == "Size" and not _is_int(criterion.get("value")):
            problems.add(f"{where}.value", "Size takes an integer value.", "invalid.type")
        elif operator in ("In", "NotIn", "All") and not has_values:
            problems.add(f"{where}.values", f"{operator} takes a list of values.", "required")
        kept = {
            k: criterion[k] for k in ("jsonPath", "operator", "value", "values") if k in criterion
        }
        out.append(kept)
    return out


def trigger_validate(body: Any, *, allowed: frozenset[str] = CREATE_FIELDS) -> Json:
    """A Create/UpdateTriggerRequest body, checked: the trigger's attributes, or one 400 naming
    every field that is wrong."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", detail("body"))
    problems = _Problems()
    for name in sorted(set(body) - allowed):
        problems.add(name, "is not a field of this request.", "unrecognized.field")
    for name in (*REQUIRED, *(("version",) if "version" in allowed else ())):
        if body.get(name) is None:
            problems.add(name, "is required.", "required")
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.add("name", "must be a non-empty string.")
    topic = body.get("topicName")
    if topic is not None and topic not in TRIGGER_TOPICS:
        problems.add(
            "topicName",
            f"{topic!r} is not a trigger topic; valid topics are listed at {BASE_PATH}/topics "
            "(keep the {id} wildcard).",
        )
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        problems.add("enabled", "must be true or false.", "invalid.type")
    target = _check_target(problems, body["target"]) if body.get("target") is not None else None
    criteria = _check_criteria(problems, body.get("matchCriteria") or [])
    ttl, delay = body.get("eventTTLSeconds"), body.get("delayBySeconds")
    if ttl is not None and (not _is_int(ttl) or ttl < TTL_MIN):
        problems.add(
            "eventTTLSeconds", f"must be an integer of at least {TTL_MIN}.", "out.of.range"
        )
    if delay is not None and (not _is_int(delay) or not DELAY_MIN <= delay <= DELAY_MAX):
        problems.add(
            "delayBySeconds", f"must be an integer from {DELAY_MIN} to {DELAY_MAX}.", "out.of.range"
        )
    if ttl is not None and delay is not None:
        problems.add(
            "delayBySeconds",
            "Only one of eventTTLSeconds or delayBySeconds can be set.",
            "invalid.combination",
        )
    description = body.get("description")
    if description is not None and (
        not isinstance(description, str) or len(description) > DESCRIPTION_MAX
    ):
        problems.add(
            "description",
            f"must be a string of at most {DESCRIPTION_MAX} characters.",
            "invalid.length",
        )
    version = body.get("version")
    if "version" in allowed and version is not None and not _is_int(version):
        problems.add("version", "must be an integer.", "invalid.type")
    problems.raise_any()
    data: Json = {
        "name": name,
        "topicName": topic,
        "target": target,
        "enabled": enabled,
        "matchCriteria": criteria,
    }
    for field, value in (
        ("eventTTLSeconds", ttl),
        ("delayBySeconds", delay),
        ("description", description),
    ):
        if value is not None:
            data[field] = value
    return data


# --- Create, read, update, delete ------------------------------------------------------------


def render_trigger(trigger: Json) -> Json:
    out: Json = {
        "id": trigger["id"],
        "name": trigger["name"],
        "topicName": trigger["topicName"],
        "target": trigger["target"],
        "version": trigger["version"],
        "enabled": trigger["enabled"],
        "matchCriteria": trigger.get("matchCriteria") or [],
    }
    for field in ("eventTTLSeconds", "delayBySeconds", "description"):
        if trigger.get(field) is not None:
            out[field] = trigger[field]
    out["selfUri"] = f"{BASE_PATH}/{trigger['id']}"
    return out


def trigger_require(trigger_id: str) -> Json:
    found = store.get(TRIGGER, trigger_id)
    if found is None:
        raise not_found("Trigger", trigger_id)
    return found


def trigger_create(*, body: Any) -> Json:
    data = trigger_validate(body)
    data["version"] = 1
    trigger_id = str(uuid.uuid4())
    store.put(TRIGGER, trigger_id, data)
    return {**data, "id": trigger_id}


def trigger_update(*, trigger_id: str, body: Any) -> Json:
    """PUT: the whole trigger is replaced; `version` must be the current one (409 otherwise)."""
    current = trigger_require(trigger_id)
    data = trigger_validate(body, allowed=UPDATE_FIELDS)
    if data["topicName"] != current["topicName"]:
        raise bad_request(
            f"topicName cannot be updated (it is {current['topicName']!r}); a new trigger must be "
            "created to use a new topicName.",
            detail("topicName", "immutable.field"),
        )
    if body["version"] != current["version"]:
        raise ApiError(
            409,
            "conflict",
            f"Trigger {trigger_id} is at version {current['version']}; the update was made "
            f"against version {body['version']}. Read the trigger again and resend.",
            entityId=trigger_id,
            entityName="Trigger",
        )
    data["version"] = current["version"] + 1
    store.put(TRIGGER, trigger_id, data)
    return {**data, "id": trigger_id}


def trigger_delete(*, trigger_id: str) -> None:
    trigger_require(trigger_id)
    store.delete(TRIGGER, trigger_id)


def triggers_all() -> list[Json]:
    return store.all_of(TRIGGER)


# --- Matching ---------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1, "5" is not 5 (no coercion; Genesys's rule NOT CONFIRMED).
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def _ordered(a: Any, b: Any, op: str) -> bool:
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (a, b))
    strings = isinstance(a, str) and isinstance(b, str)
    if not (numbers or strings):
        return False
    return {
        "GreaterThan": a > b,
        "GreaterThanOrEqual": a >= b,
        "LessThan": a < b,
        "LessThanOrEqual": a <= b,
    }[op]


def _contains(container: Any, wanted: Any) -> bool:
    if isinstance(container, str) and isinstance(wanted, str):
        return wanted in container
    if isinstance(container, list):
        return any(_same(x, wanted) for x in container)
    return False


def _value_matches(found: Any, operator: str, criterion: Json) -> bool:
    value, values = criterion.get("value"), criterion.get("values")
    options = values if isinstance(values, list) else [value]
    if operator == "Equal":
        return any(_same(found, v) for v in options)
    if operator == "NotEqual":
        return not any(_same(found, v) for v in options)
    if operator in ("GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"):
        return any(_ordered(found, v, operator) for v in options)
    if operator == "In":
        return any(_same(found, v) for v in options)
    if operator == "NotIn":
        return not any(_same(found, v) for v in options)
    if operator == "Contains":
        return any(_contains(found, v) for v in options)
    if operator == "All":
        return isinstance(found, list) and all(_contains(found, v) for v in options)
    if operator == "Size":
        return isinstance(found, list | str | dict) and any(
            _is_int(v) and len(found) == v for v in options
        )
    return False


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "\\'") + "'"
    return json.dumps(value)


_SYMBOLS = {
    "Equal": "==",
    "NotEqual": "!=",
    "GreaterThan": ">",
    "GreaterThanOrEqual": ">=",
    "LessThan": "<",
    "LessThanOrEqual": "<=",
    "In": "in",
    "NotIn": "nin",
    "Contains": "contains",
    "All": "all",
    "Size": "size",
}


def _condition(criterion: Json) -> str:
    """A readable Goessner filter for the criterion (the format Genesys generates: NOT CONFIRMED)."""
    try:
        target = jsonpath.to_filter_path(criterion.get("jsonPath"))
    except jsonpath.JsonPathError:
        target = str(criterion.get("jsonPath"))
    operator = criterion.get("operator")
    if operator == "Exists":
        return f"$[?({'' if criterion.get('value') else '!'}{target})]"
    if "values" in criterion:
        operand = "[" + ", ".join(_literal(v) for v in criterion["values"] or []) + "]"
    else:
        operand = _literal(criterion.get("value"))
    return f"$[?({target} {_SYMBOLS.get(operator, operator)} {operand})]"


def criterion_test(criterion: Json, event: Any) -> Json:
    """MatchCriteriaTestResult for one criterion against one event body.

    A path that selects nothing matches only `Exists false`. With several selections (a
    wildcard), positive operators need one of them to match, NotEqual and NotIn all of them.
    """
    try:
        extraction = jsonpath.extract(event, criterion.get("jsonPath"))
    except jsonpath.JsonPathError:
        extraction = []
    operator = criterion.get("operator")
    if operator == "Exists":
        match = bool(extraction) == bool(criterion.get("value"))
    elif not extraction:
        match = False
    elif operator in ("NotEqual", "NotIn"):
        match = all(_value_matches(v, operator, criterion) for _, v in extraction)
    else:
        match = any(_value_matches(v, operator, criterion) for _, v in extraction)
    result: Json = {"jsonPath": criterion.get("jsonPath"), "operator": operator}
    for field in ("value", "values"):
        if field in criterion:
            result[field] = criterion[field]
    result["generatedJsonPathCondition"] = _condition(criterion)
    result["match"] = match
    result["jsonPathExtraction"] = [{"path": path, "value": value} for path, value in extraction]
    return result


def trigger_matches(trigger: Json, event: Any) -> bool:
    """Whether an event body fires the trigger: every criterion matches (none: every event)."""
    return all(criterion_test(c, event)["match"] for c in trigger.get("matchCriteria") or [])


def triggers_matching(*, topic_name: str, event: Json) -> list[Json]:
    """Enabled triggers on the topic (its `{id}` form) that this event body fires, oldest first."""
    return [
        t
        for t in triggers_all()
        if t.get("enabled") and t.get("topicName") == topic_name and trigger_matches(t, event)
    ]


# --- Test mode --------------------------------------------------------------------------------

# WorkitemsEventsNotificationWorkitem (openapi-subset.json): the types a work-item event may carry.
_STRING_FIELDS = frozenset(
    {
        "id", "name", "typeId", "description", "languageId", "dateCreated", "dateModified",
        "dateDue", "dateExpires", "dateAssignmentStateChanged", "statusId", "dateClosed",
        "workbinId", "reporterId", "assigneeId", "externalContactId", "externalTag", "wrapupId",
        "modifiedBy", "assignmentId", "queueId", "scriptId", "workbinName", "typeName",
        "divisionId", "utilizationLabelId", "caseId",
    }
)  # fmt: skip
_INTEGER_FIELDS = frozenset({"priority", "durationSeconds", "ttl", "alertTimeoutSeconds"})
_ARRAY_FIELDS = frozenset(
    {"changes", "propertyChanges", "sessions", "skillIds", "preferredAgentIds", "scoredAgents"}
)
_OBJECT_FIELDS = frozenset({"customFields", "wrapup"})
_ENUMS = {
    "statusCategory": ("Unknown", "Open", "InProgress", "Waiting", "Closed"),
    "operation": (
        "unknown", "add", "edit", "delete", "view", "upload", "download", "activate",
        "deactivate", "purge", "processed", "published", "assigned", "unassigned", "reset",
        "reassigned", "reassign", "archive", "unarchive", "reschedule",
    ),
    "assignmentState": (
        "Unknown", "Idle", "AcdStarted", "Alerting", "AlertTimeout", "Declined", "Connected",
        "Disconnected", "Parked", "Held", "AcdCancelled", "Terminated", "AcdExpired",
    ),
}  # fmt: skip
WORKITEM_EVENT_FIELDS = (
    _STRING_FIELDS | _INTEGER_FIELDS | _ARRAY_FIELDS | _OBJECT_FIELDS | set(_ENUMS)
)
CUSTOM_DATA_TYPES = ("unknown", "string", "number", "boolean$", "integer")


def workitem_event_problems(event: Any) -> list[str]:
    """Why an event body does not fit WorkitemsEventsNotificationWorkitem (empty: it fits).

    Fields outside the schema count as problems, so an envelope passed where the event body is
    expected (topicName, eventBody…) is caught (Genesys's exact rule NOT CONFIRMED)."""
    if not isinstance(event, dict):
        return ["The event body must be a JSON object."]
    problems = []
    for name in sorted(set(event) - WORKITEM_EVENT_FIELDS):
        hint = " (pass the envelope's eventBody, not the envelope)" if name == "eventBody" else ""
        problems.append(f"{name} is not a field of WorkitemsEventsNotificationWorkitem{hint}.")
    for name, value in event.items():
        if value is None:
            continue
        if name in _STRING_FIELDS and not isinstance(value, str):
            problems.append(f"{name} must be a string.")
        elif name in _INTEGER_FIELDS and not _is_int(value):
            problems.append(f"{name} must be an integer.")
        elif name in _ARRAY_FIELDS and not isinstance(value, list):
            problems.append(f"{name} must be an array.")
        elif name in _OBJECT_FIELDS and not isinstance(value, dict):
            problems.append(f"{name} must be an object.")
        elif name in _ENUMS and value not in _ENUMS[name]:
            problems.append(f"{name} must be one of {', '.join(_ENUMS[name])}.")
    custom = event.get("customFields")
    for key, field in custom.items() if isinstance(custom, dict) else []:
        if not isinstance(field, dict) or set(field) - {"dataType", "value"}:
            problems.append(f"customFields.{key} must be {{dataType, value}}.")
        elif field.get("dataType") not in (None, *CUSTOM_DATA_TYPES):
            problems.append(
                f"customFields.{key}.dataType must be one of {', '.join(CUSTOM_DATA_TYPES)}."
            )
        elif field.get("value") is not None and not isinstance(field["value"], str):
            problems.append(f"customFields.{key}.value must be a string.")
    return problems


def _target_problems(trigger: Json) -> list[str]:
    target = trigger.get("target") or {}
    problems = []
    if target.get("type") != "Workflow":
        problems.append("The target type must be Workflow.")
    if store.parse_id(target.get("id")) is None:
        problems.append(f"Workflow {target.get('id')!r} was not found.")
    return problems


@dataclass(frozen=True)
class EventProbe:
    event: Any
    problem: str = ""


def event_probe_parse(raw: bytes) -> EventProbe:
    """The test body: the event JSON, or a JSON string holding it (the spec types it a string)."""
    try:
        parsed = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        return EventProbe(None, "The event body is not valid JSON.")
    if isinstance(parsed, str):
        try:
            parsed = json.loads(parsed)
        except ValueError:
            return EventProbe(None, "The event body is a string that does not hold JSON.")
    return EventProbe(parsed)


def trigger_test(trigger: Json, test: EventProbe) -> Json:
    """TestModeResults: each step's outcome; triggerMatches when all three pass."""
    schema_details = [test.problem] if test.problem else []
    if trigger["topicName"] == WORKITEM_TOPIC and not test.problem:
        schema_details = workitem_event_problems(test.event)
    elif not test.problem and not isinstance(test.event, dict):
        schema_details = ["The event body must be a JSON object."]
    target_details = _target_problems(trigger)
    criteria = [criterion_test(c, test.event) for c in trigger.get("matchCriteria") or []]
    schema_ok, target_ok = not schema_details, not target_details
    path_ok = all(c["match"] for c in criteria)
    return {
        "schemaValidation": {
            "name": STEP_NAMES["schema"],
            "step": 1,
            "matches": schema_ok,
            "details": schema_details,
        },
        "targetValidation": {
            "name": STEP_NAMES["target"],
            "step": 2,
            "matches": target_ok,
            "details": target_details,
        },
        "jsonPathValidation": {
            "name": STEP_NAMES["jsonPath"],
            "step": 3,
            "matches": path_ok,
            "details": criteria,
        },
        "triggerMatches": schema_ok and target_ok and path_ok,
    }
