"""Work items: validation as Genesys does it (docs/GENESYS.md §2), create, update, terminate, query.

Entities are stored flat, named as in WorkitemCreate and the event body (typeId, statusId,
workbinId, queueId, assigneeId…), so query filters apply to them directly.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from simulator import clock, render, store
from simulator.customfields import custom_field_problems
from simulator.errors import bad_request, detail
from simulator.models import SimEntity
from simulator.query import Query
from simulator.schemas import json_schema_of

Json = dict[str, Any]

MAX_AHEAD = timedelta(days=365)
MAX_PRIORITY = 25_000_000
MAX_SCORED_AGENTS = 20
EXTERNAL_TAG_MAX = 256  # NOT CONFIRMED: the spec states no limit; the simulator's column holds 256

CREATE_FIELDS = frozenset(
    {
        "name", "priority", "dateDue", "dateExpires", "durationSeconds", "ttl", "statusId",
        "workbinId", "autoStatusTransition", "description", "typeId", "customFields", "queueId",
        "assigneeId", "languageId", "externalContactId", "externalTag", "skillIds", "scriptId",
        "wrapupCode", "utilizationLabelId", "scoredAgents", "preferredAgentIds",
    }
)  # fmt: skip
# WorkitemCommonCreate (bulk jobs): no wrapupCode, utilizationLabelId, scoredAgents, preferredAgentIds.
COMMON_CREATE_FIELDS = CREATE_FIELDS - {
    "wrapupCode",
    "utilizationLabelId",
    "scoredAgents",
    "preferredAgentIds",
}
UPDATE_FIELDS = frozenset(
    {
        "name", "priority", "dateDue", "dateExpires", "durationSeconds", "ttl", "statusId",
        "workbinId", "autoStatusTransition", "description", "dateClosed", "assignmentState",
        "assignmentOperation", "customFields", "queueId", "assigneeId", "scoredAgents",
        "externalContactId", "externalTag", "skillIds", "languageId", "utilizationLabelId",
        "preferredAgentIds", "scriptId",
    }
)  # fmt: skip
# What a PATCH may clear by sending null.
NULLABLE_FIELDS = frozenset(
    {
        "description", "dateDue", "dateExpires", "durationSeconds", "ttl", "queueId",
        "assigneeId", "externalContactId", "externalTag", "skillIds", "languageId",
        "utilizationLabelId", "preferredAgentIds", "scriptId", "scoredAgents", "dateClosed",
    }
)  # fmt: skip
ASSIGNMENT_STATES = (
    "Unknown", "AcdStarted", "Alerting", "AlertTimeout", "AcdCancelled", "Terminated", "Idle",
    "Declined", "Connected", "Disconnected", "Parked", "Held", "AcdExpired",
)  # fmt: skip
# WorkitemQueryPostRequest's valid filter names ('durationInSeconds' is the spec's spelling).
QUERY_FILTERS = frozenset(
    {
        "workbinId", "typeId", "assigneeId", "id", "name", "description", "languageId",
        "priority", "dateCreated", "dateModified", "dateDue", "dateExpires",
        "durationInSeconds", "ttl", "statusId", "statusCategory", "dateClosed",
        "externalContactId", "reporterId", "queueId", "externalTag", "modifiedBy",
        "assignmentState", "divisionId",
    }
)  # fmt: skip
QUERY_ANCHORS = ("workbinId", "assigneeId", "queueId", "typeId")
QUERY_SORTS = ("dateDue", "priority")
QUERY_EXPANDS = ("type", "workbin", "status", "queue", "assignee")


def query_filter_name(name: str) -> bool:
    return name in QUERY_FILTERS or (name.startswith("customFields.") and len(name) > 13)


# --- Field checks -----------------------------------------------------------------------------


class _Check:
    """Collects every problem in a body, then raises one 400 naming all the fields."""

    def __init__(self) -> None:
        self.details: list[dict[str, str]] = []
        self.messages: list[str] = []

    def fail(self, field: str, message: str, code: str = "invalid.value") -> None:
        self.details.append(detail(field, code))
        self.messages.append(f"{field}: {message}")

    def done(self) -> None:
        if self.details:
            raise bad_request(" ".join(self.messages), *self.details)

    def string(
        self, body: Json, field: str, *, low: int = 0, high: int | None = None
    ) -> str | None:
        value = body.get(field)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(field, "must be a string.", "invalid.type")
            return None
        if len(value) < low or (high is not None and len(value) > high):
            span = f"between {low} and {high}" if low else f"at most {high}"
            self.fail(field, f"length must be {span} characters.", "invalid.length")
            return None
        return value

    def uuid(self, body: Json, field: str) -> str | None:
        value = body.get(field)
        if value is None:
            return None
        parsed = store.parse_id(value) if isinstance(value, str) else None
        if parsed is None:
            self.fail(field, "must be a valid UUID.")
            return None
        return str(parsed)

    def uuids(self, body: Json, field: str, *, most: int | None = None) -> list[str] | None:
        value = body.get(field)
        if value is None:
            return None
        if not isinstance(value, list):
            self.fail(field, "must be a list of UUIDs.", "invalid.type")
            return None
        if most is not None and len(value) > most:
            self.fail(field, f"may hold at most {most} entries.", "max.items.exceeded")
            return None
        parsed = [store.parse_id(v) if isinstance(v, str) else None for v in value]
        if any(p is None for p in parsed):
            self.fail(field, "must contain valid UUIDs.")
            return None
        return list(dict.fromkeys(str(p) for p in parsed))

    def integer(self, body: Json, field: str, *, low: int, high: int) -> int | None:
        value = body.get(field)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, "must be an integer.", "invalid.type")
            return None
        if not low <= value <= high:
            self.fail(field, f"must be between {low} and {high}.", "out.of.range")
            return None
        return value

    def boolean(self, body: Json, field: str) -> bool | None:
        value = body.get(field)
        if value is not None and not isinstance(value, bool):
            self.fail(field, "must be true or false.", "invalid.type")
            return None
        return value

    def date(self, body: Json, field: str, *, now: datetime, cap: bool = True) -> str | None:
        value = body.get(field)
        if value is None:
            return None
        moment = _parse_date(value)
        if moment is None:
            self.fail(field, "must be an ISO-8601 date-time such as 2026-01-31T12:00:00.000Z.")
            return None
        if cap and moment > now + MAX_AHEAD:
            self.fail(
                field, "can not be greater than 365 days from the current time.", "out.of.range"
            )
            return None
        return clock.iso(moment)

    def exists(self, kind: str, field: str, entity_id: str | None, label: str) -> Json | None:
        if entity_id is None:
            return None
        found = store.get(kind, entity_id)
        if found is None:
            self.fail(field, f"{label} {entity_id} does not exist.", "entity.not.found")
        return found


def _parse_date(value: Any) -> datetime | None:
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _unknown_fields(body: Any, allowed: frozenset[str]) -> None:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", detail("body"))
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request(
            f"Unrecognized field(s): {', '.join(unknown)}.",
            *(detail(name, "unrecognized.field") for name in unknown),
        )


def _common_fields(check: _Check, body: Json, *, now: datetime) -> Json:
    """The optional fields WorkitemCreate and WorkitemUpdate share, checked; absent ones left out."""
    out: Json = {}
    values = {
        "description": check.string(body, "description", high=512),
        "priority": check.integer(body, "priority", low=-MAX_PRIORITY, high=MAX_PRIORITY),
        "dateDue": check.date(body, "dateDue", now=now),
        "dateExpires": check.date(body, "dateExpires", now=now),
        "durationSeconds": check.integer(
            body, "durationSeconds", low=0, high=int(MAX_AHEAD.total_seconds())
        ),
        "autoStatusTransition": check.boolean(body, "autoStatusTransition"),
        "externalTag": check.string(body, "externalTag", high=EXTERNAL_TAG_MAX),
        "languageId": check.uuid(body, "languageId"),
        "externalContactId": check.uuid(body, "externalContactId"),
        "scriptId": check.uuid(body, "scriptId"),
        "utilizationLabelId": check.uuid(body, "utilizationLabelId"),
        "wrapupCode": check.uuid(body, "wrapupCode"),
        "preferredAgentIds": check.uuids(body, "preferredAgentIds"),
    }
    ttl = body.get("ttl")
    if ttl is not None:
        latest = int((now + MAX_AHEAD).timestamp())
        values["ttl"] = check.integer(body, "ttl", low=0, high=latest)
    queue_id = check.uuid(body, "queueId")
    check.exists(render.QUEUE, "queueId", queue_id, "Queue")
    values["queueId"] = queue_id
    assignee_id = check.uuid(body, "assigneeId")
    check.exists(render.USER, "assigneeId", assignee_id, "User")
    values["assigneeId"] = assignee_id
    workbin_id = check.uuid(body, "workbinId")
    check.exists(render.WORKBIN, "workbinId", workbin_id, "Workbin")
    values["workbinId"] = workbin_id
    skill_ids = check.uuids(body, "skillIds")
    if skill_ids:
        known = store.many(render.SKILL, skill_ids)
        for missing in [s for s in skill_ids if s not in known]:
            check.fail("skillIds", f"Skill {missing} does not exist.", "entity.not.found")
    values["skillIds"] = skill_ids
    scored = body.get("scoredAgents")
    if scored is not None:
        values["scoredAgents"] = _scored_agents(check, scored)
    for field, value in values.items():
        if value is not None and field in body:
            out[field] = value
    return out


def _scored_agents(check: _Check, scored: Any) -> list[Json] | None:
    if not isinstance(scored, list) or len(scored) > MAX_SCORED_AGENTS:
        check.fail("scoredAgents", f"must be a list of at most {MAX_SCORED_AGENTS} agents.")
        return None
    out = []
    for i, agent in enumerate(scored):
        where = f"scoredAgents[{i}]"
        if not isinstance(agent, dict) or set(agent) - {"id", "score"}:
            check.fail(where, "must be {id, score}.")
            continue
        agent_id = check.uuid(agent, "id")
        score = agent.get("score")
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
            check.fail(f"{where}.score", "must be an integer from 0 to 100.", "out.of.range")
            continue
        if agent_id:
            out.append({"id": agent_id, "score": score})
    return out


def _status_of(worktype_id: str, status_id: str) -> Json | None:
    found = store.get(render.STATUS, status_id)
    return found if found and found.get("worktypeId") == worktype_id else None


def _schema_of(entity: Json) -> Json | None:
    """The JSON schema a worktype (or an item, which inherits its worktype's) is pinned to."""
    return json_schema_of(entity.get("schemaId"), entity.get("schemaVersion"))


# --- Create -----------------------------------------------------------------------------------


def workitem_create(*, body: Any, allowed: frozenset[str] = CREATE_FIELDS) -> Json:
    """Validate a WorkitemCreate (or WorkitemCommonCreate) body and store the new item."""
    _unknown_fields(body, allowed)
    now = clock.now()
    check = _Check()
    name = check.string(body, "name", low=3, high=256)
    if "name" not in body:
        check.fail("name", "is required.", "required")
    type_id = check.uuid(body, "typeId")
    if "typeId" not in body:
        check.fail("typeId", "is required.", "required")
    worktype = check.exists(render.WORKTYPE, "typeId", type_id, "Worktype")
    fields = _common_fields(check, body, now=now)
    status = None
    status_id = check.uuid(body, "statusId")
    if worktype and status_id:
        status = _status_of(worktype["id"], status_id)
        if status is None:
            check.fail("statusId", "The status does not belong to the worktype.", "invalid.status")
    custom = body.get("customFields")
    if worktype and custom is not None:
        for problem in custom_field_problems(_schema_of(worktype), custom):
            check.details.append(problem)
            check.messages.append(f"{problem['fieldName']}: {problem['errorCode']}.")
    check.done()
    assert worktype is not None and name is not None

    if status is None and worktype.get("defaultStatusId"):
        status = store.get(render.STATUS, worktype["defaultStatusId"])
    stamp = clock.iso(now)

    def later(seconds: int | None) -> str | None:
        return clock.iso(now + timedelta(seconds=seconds)) if seconds else None

    ttl_seconds = worktype.get("defaultTtlSeconds")
    data: Json = {
        "name": name,
        "typeId": worktype["id"],
        "divisionId": worktype.get("divisionId"),
        "description": None,
        "priority": worktype.get("defaultPriority") or 0,
        "dateCreated": stamp,
        "dateModified": stamp,
        "dateDue": later(worktype.get("defaultDueDurationSeconds")),
        "dateExpires": later(worktype.get("defaultExpirationSeconds")),
        "durationSeconds": worktype.get("defaultDurationSeconds"),
        "ttl": int(now.timestamp()) + ttl_seconds if ttl_seconds else None,
        "statusId": status["id"] if status else None,
        "statusCategory": status["category"] if status else "Unknown",
        "dateStatusChanged": stamp,
        "dateClosed": stamp if status and status["category"] == "Closed" else None,
        "workbinId": worktype.get("defaultWorkbinId"),
        "queueId": worktype.get("defaultQueueId"),
        "assigneeId": None,
        "languageId": worktype.get("defaultLanguageId"),
        "skillIds": list(worktype.get("defaultSkillIds") or []),
        "scriptId": worktype.get("defaultScriptId"),
        "assignmentState": "Unknown",
        "dateAssignmentStateChanged": stamp,
        "autoStatusTransition": True,
        "schemaId": worktype.get("schemaId"),
        "schemaVersion": worktype.get("schemaVersion"),
        "customFields": custom or {},
        "externalTag": None,
        **fields,
    }
    item_id = str(uuid.uuid4())
    store.put(
        render.WORKITEM,
        item_id,
        data,
        parent=worktype["id"],
        external_tag=data.get("externalTag") or "",
    )
    return {**data, "id": item_id}


# --- Update, terminate, delete ----------------------------------------------------------------


def workitem_update(*, workitem_id: str, body: Any) -> Json:
    """PATCH with a WorkitemUpdate body: only the fields sent change; customFields are upserted."""
    item = store.require(render.WORKITEM, workitem_id, entity_name="Workitem")
    _unknown_fields(body, UPDATE_FIELDS)
    now = clock.now()
    check = _Check()
    changes = _common_fields(check, body, now=now)
    if "name" in body:
        name = check.string(body, "name", low=3, high=256)
        if name is None and body["name"] is None:
            check.fail("name", "can not be removed.", "required")
        elif name is not None:
            changes["name"] = name
    status_id = check.uuid(body, "statusId")
    status = None
    if status_id:
        status = _status_of(item["typeId"], status_id)
        current = store.get(render.STATUS, item.get("statusId"))
        allowed = (current or {}).get("destinationStatusIds") or []
        if status is None:
            check.fail("statusId", "The status does not belong to the worktype.", "invalid.status")
        elif allowed and status_id != item.get("statusId") and status_id not in allowed:
            check.fail(
                "statusId", "The current status can not transition to it.", "invalid.transition"
            )
    if "dateClosed" in body:
        changes["dateClosed"] = check.date(body, "dateClosed", now=now, cap=False)
    state = body.get("assignmentState")
    if state is not None and state not in ASSIGNMENT_STATES:
        check.fail("assignmentState", f"must be one of {', '.join(ASSIGNMENT_STATES)}.")
    operation = body.get("assignmentOperation")
    if operation == "AgentAssignmentAlerting" and not body.get("assigneeId"):
        check.fail("assigneeId", "is required with AgentAssignmentAlerting.", "required")
    elif operation == "QueueAssignmentAlerting" and not body.get("queueId"):
        check.fail("queueId", "is required with QueueAssignmentAlerting.", "required")
    elif operation not in (None, "AgentAssignmentAlerting", "QueueAssignmentAlerting"):
        check.fail("assignmentOperation", "is not a known operation.")
    custom = item.get("customFields") or {}
    if "customFields" in body:
        sent = body["customFields"]
        if not isinstance(sent, dict):
            check.fail("customFields", "must be an object.", "invalid.type")
        else:
            custom = {} if not sent else {**custom, **sent}
            custom = {k: v for k, v in custom.items() if v is not None}
            for problem in custom_field_problems(_schema_of(item), custom):
                check.details.append(problem)
                check.messages.append(f"{problem['fieldName']}: {problem['errorCode']}.")
    check.done()

    # Fields sent as null are cleared (name excepted, above).
    for field in body:
        if body[field] is None and field in NULLABLE_FIELDS:
            changes[field] = None
    stamp = clock.iso(now)
    if status and status["id"] != item.get("statusId"):
        changes["statusId"] = status["id"]
        changes["statusCategory"] = status["category"]
        changes["dateStatusChanged"] = stamp
        if status["category"] == "Closed":
            changes.setdefault("dateClosed", stamp)
        elif "dateClosed" not in body:
            changes["dateClosed"] = None
    if operation == "AgentAssignmentAlerting":
        state = "Alerting"
    elif operation == "QueueAssignmentAlerting":
        state = "AcdStarted"
    if state is not None and state != item.get("assignmentState"):
        changes["assignmentState"] = state
        changes["dateAssignmentStateChanged"] = stamp
    if "customFields" in body:
        changes["customFields"] = custom
    return _save(item, changes, stamp)


def _save(item: Json, changes: Json, stamp: str) -> Json:
    data = {k: v for k, v in item.items() if k != "id"}
    data.update(changes)
    data["dateModified"] = stamp
    store.put(
        render.WORKITEM,
        item["id"],
        data,
        parent=data["typeId"],
        external_tag=data.get("externalTag") or "",
    )
    return {**data, "id": item["id"]}


def workitem_terminate(*, workitem_id: str, body: Any) -> Json:
    """POST …/terminate {statusId}: the status must be in the Closed category."""
    item = store.require(render.WORKITEM, workitem_id, entity_name="Workitem")
    _unknown_fields(body, frozenset({"statusId"}))
    check = _Check()
    status_id = check.uuid(body, "statusId")
    status = _status_of(item["typeId"], status_id) if status_id else None
    if status is None or status["category"] != "Closed":
        check.fail("statusId", "must be a Closed status of the worktype.", "invalid.status")
    check.done()
    stamp = clock.iso(clock.now())
    changes = {
        "statusId": status["id"],
        "statusCategory": "Closed",
        "dateStatusChanged": stamp,
        "dateClosed": stamp,
        "assignmentState": "Terminated",
        "dateAssignmentStateChanged": stamp,
    }
    return _save(item, changes, stamp)


def workitem_delete(*, workitem_id: str) -> None:
    store.require(render.WORKITEM, workitem_id, entity_name="Workitem")
    store.delete(render.WORKITEM, workitem_id)


# --- Query ------------------------------------------------------------------------------------


def check_query_anchor(query: Query) -> None:
    """Genesys: "requires at least one EQ filter on the workbinId, assigneeId, queueId or typeId
    attributes"."""
    if not any(f.operator == "EQ" and f.name in QUERY_ANCHORS for f in query.filters):
        raise bad_request(
            "The query requires at least one EQ filter on the workbinId, assigneeId, queueId "
            "or typeId attributes.",
            detail("filters", "missing.required.filter"),
        )


def workitems_candidates(query: Query) -> list[Json]:
    """The items the query can match, narrowed in SQL by its EQ and externalTag filters."""
    rows = SimEntity.objects.filter(kind=render.WORKITEM)
    for f in query.filters:
        if f.operator == "EQ" and f.name in (*QUERY_ANCHORS, "statusId", "statusCategory"):
            rows = rows.filter(**{f"data__{f.name}": f.values[0]})
        elif f.name == "externalTag" and f.operator in ("EQ", "IN"):
            rows = rows.filter(external_tag__in=list(f.values))
    items = [{**row.data, "id": str(row.entity_id)} for row in rows.order_by("pk")]
    for item in items:  # the spec's filter name for durationSeconds
        item["durationInSeconds"] = item.get("durationSeconds")
    return items


# --- Rendering --------------------------------------------------------------------------------


class Lookup:
    """Memoised reads for rendering many items: each referenced object is read once."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], Json | None] = {}

    def get(self, kind: str, entity_id: str | None) -> Json | None:
        if not entity_id:
            return None
        key = (kind, entity_id)
        if key not in self._seen:
            self._seen[key] = store.get(kind, entity_id)
        return self._seen[key]

    def ref(self, kind: str, entity_id: str | None, *, parent_id: str | None = None) -> Json | None:
        found = self.get(kind, entity_id)
        if not entity_id:
            return None
        return render.compact(
            {
                "id": entity_id,
                "name": (found or {}).get("name"),
                "selfUri": render.uri(kind, entity_id, parent_id),
            }
        )


def render_workitem(item: Json, lookup: Lookup | None = None) -> Json:
    lookup = lookup or Lookup()
    schema = lookup.get(render.SCHEMA, item.get("schemaId"))
    return render.compact(
        {
            "id": item["id"],
            "name": item["name"],
            "division": lookup.ref(render.DIVISION, item.get("divisionId")),
            "type": lookup.ref(render.WORKTYPE, item["typeId"]),
            "description": item.get("description"),
            "language": render.id_ref("language", item.get("languageId")),
            "utilizationLabel": _plain_ref(item.get("utilizationLabelId"), "/api/v2/routing/utilization/labels"),
            "priority": item.get("priority"),
            "dateCreated": item.get("dateCreated"),
            "dateModified": item.get("dateModified"),
            "dateDue": item.get("dateDue"),
            "dateExpires": item.get("dateExpires"),
            "durationSeconds": item.get("durationSeconds"),
            "ttl": item.get("ttl"),
            "status": lookup.ref(render.STATUS, item.get("statusId"), parent_id=item["typeId"]),
            "statusCategory": item.get("statusCategory"),
            "dateStatusChanged": item.get("dateStatusChanged"),
            "dateClosed": item.get("dateClosed"),
            "workbin": lookup.ref(render.WORKBIN, item.get("workbinId")),
            "assignee": lookup.ref(render.USER, item.get("assigneeId")),
            "externalContact": _plain_ref(item.get("externalContactId"), "/api/v2/externalcontacts/contacts"),
            "externalTag": item.get("externalTag"),
            "modifiedBy": render.id_ref(render.USER, item.get("modifiedBy")),
            "queue": lookup.ref(render.QUEUE, item.get("queueId")),
            "assignmentState": item.get("assignmentState"),
            "dateAssignmentStateChanged": item.get("dateAssignmentStateChanged"),
            "skills": [render.id_ref(render.SKILL, s) for s in item.get("skillIds") or []],
            "preferredAgents": [render.id_ref(render.USER, a) for a in item.get("preferredAgentIds") or []],
            "autoStatusTransition": item.get("autoStatusTransition", True),
            "schema": render.compact(
                {
                    "id": item["schemaId"],
                    "name": (schema or {}).get("name"),
                    "version": item.get("schemaVersion"),
                    "selfUri": render.uri(render.SCHEMA, item["schemaId"]),
                }
            )
            if item.get("schemaId")
            else None,
            "customFields": item.get("customFields") or {},
            "scoredAgents": [
                {"agent": render.id_ref(render.USER, a["id"]), "score": a["score"]}
                for a in item.get("scoredAgents") or []
            ],
            "script": _plain_ref(item.get("scriptId"), "/api/v2/scripts"),
            "selfUri": render.uri(render.WORKITEM, item["id"]),
        }
    )  # fmt: skip


def _plain_ref(entity_id: str | None, base: str) -> Json | None:
    return {"id": entity_id, "selfUri": f"{base}/{entity_id}"} if entity_id else None
