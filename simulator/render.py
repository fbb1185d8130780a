"""Stored (flat) entities → the JSON shapes Genesys returns (openapi-subset.json schemas)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from simulator import store
from simulator.models import SimEntity

# SimEntity kinds.
DIVISION = "division"
QUEUE = "queue"
QUEUE_MEMBER = "queue_member"
USER = "user"
SKILL = "skill"
WORKBIN = "workbin"
WORKTYPE = "worktype"
STATUS = "status"
SCHEMA = "schema"
WORKITEM = "workitem"
BULK_JOB = "bulk_job"

API = "/api/v2"
TM = f"{API}/taskmanagement"

Json = dict[str, Any]


def uri(kind: str, entity_id: str, parent_id: str | None = None) -> str:
    return {
        DIVISION: f"{API}/authorization/divisions/{entity_id}",
        QUEUE: f"{API}/routing/queues/{entity_id}",
        USER: f"{API}/users/{entity_id}",
        SKILL: f"{API}/routing/skills/{entity_id}",
        WORKBIN: f"{TM}/workbins/{entity_id}",
        WORKTYPE: f"{TM}/worktypes/{entity_id}",
        STATUS: f"{TM}/worktypes/{parent_id}/statuses/{entity_id}",
        SCHEMA: f"{TM}/workitems/schemas/{entity_id}",
        WORKITEM: f"{TM}/workitems/{entity_id}",
        BULK_JOB: f"{TM}/workitems/bulk/add/jobs/{entity_id}",
    }[kind]


def ref(
    kind: str, entity_id: str | None, *, name: str | None = None, parent_id: str | None = None
) -> Json | None:
    """{id, name, selfUri}, or None when there is no id. The name is looked up if not given."""
    if not entity_id:
        return None
    if name is None and kind not in (USER,):
        found = store.get(kind, entity_id)
        name = found.get("name") if found else None
    out: Json = {"id": entity_id}
    if name is not None:
        out["name"] = name
    out["selfUri"] = uri(kind, entity_id, parent_id)
    return out


def id_ref(kind: str, entity_id: str | None) -> Json | None:
    """{id, selfUri} (UserReference, RoutingSkillReference, LanguageReference)."""
    if not entity_id:
        return None
    if kind == "language":
        return {"id": entity_id, "selfUri": f"{API}/routing/languages/{entity_id}"}
    return {"id": entity_id, "selfUri": uri(kind, entity_id)}


def compact(data: Json) -> Json:
    """Genesys leaves out absent values rather than sending nulls."""
    return {k: v for k, v in data.items() if v is not None}


# --- Routing ----------------------------------------------------------------------------------


def member_counts(queue_ids: list[str]) -> dict[str, Counter]:
    counts: dict[str, Counter] = {qid: Counter() for qid in queue_ids}
    rows = SimEntity.objects.filter(
        kind=QUEUE_MEMBER, parent_id__in=[store.parse_id(q) for q in queue_ids]
    ).values_list("parent_id", "data")
    for parent_id, data in rows:
        counter = counts.setdefault(str(parent_id), Counter())
        counter["members"] += 1
        counter["users"] += data.get("memberBy", "user") == "user"
        counter["joined"] += bool(data.get("joined"))
    return counts


def queue(
    q: Json, *, counts: Counter | None = None, divisions: dict[str, Json] | None = None
) -> Json:
    if counts is None:
        counts = member_counts([q["id"]])[q["id"]]
    division_id = q.get("divisionId")
    division_name = (divisions or {}).get(division_id, {}).get("name") if divisions else None
    skip = {"divisionId"}
    return compact(
        {
            "id": q["id"],
            "name": q["name"],
            "division": ref(DIVISION, division_id, name=division_name),
            **{k: v for k, v in q.items() if k not in skip and k not in ("id", "name")},
            "memberCount": counts["members"],
            "userMemberCount": counts["users"],
            "joinedMemberCount": counts["joined"],
            "selfUri": uri(QUEUE, q["id"]),
        }
    )


def skill(s: Json) -> Json:
    return compact(
        {
            "id": s["id"],
            "name": s["name"],
            "dateModified": s.get("dateModified"),
            "state": s.get("state", "active"),
            "version": str(s.get("version", 1)),
            "selfUri": uri(SKILL, s["id"]),
        }
    )


def user_skills(u: Json, skills: dict[str, Json]) -> list[Json]:
    """UserRoutingSkill entries, sorted by skill name."""
    out = []
    for held in u.get("skills") or []:
        org_skill = skills.get(held["id"])
        if org_skill is None or org_skill.get("state") == "deleted":
            continue
        out.append(
            {
                "id": held["id"],
                "name": org_skill["name"],
                "proficiency": float(held.get("proficiency", 0)),
                "state": org_skill.get("state", "active"),
                "skillUri": uri(SKILL, held["id"]),
                "selfUri": f"{uri(USER, u['id'])}/routingskills/{held['id']}",
            }
        )
    return sorted(out, key=lambda s: s["name"].lower())


def routing_status(u: Json) -> Json:
    status = u.get("routingStatus") or {}
    return compact(
        {
            "userId": u["id"],
            "status": status.get("status", "OFF_QUEUE"),
            "startTime": status.get("startTime"),
        }
    )


def user(u: Json, *, divisions: dict[str, Json] | None = None) -> Json:
    division_id = u.get("divisionId")
    division_name = (divisions or {}).get(division_id, {}).get("name") if divisions else None
    return compact(
        {
            "id": u["id"],
            "name": u["name"],
            "division": ref(DIVISION, division_id, name=division_name),
            "email": u.get("email"),
            "title": u.get("title"),
            "department": u.get("department"),
            "state": u.get("state", "active"),
            "username": u.get("email"),
            "version": 1,
            "acdAutoAnswer": False,
            "selfUri": uri(USER, u["id"]),
        }
    )


# --- Task Management --------------------------------------------------------------------------


def workbin(w: Json) -> Json:
    return compact(
        {
            "id": w["id"],
            "name": w["name"],
            "division": ref(DIVISION, w.get("divisionId")),
            "description": w.get("description"),
            "dateCreated": w.get("dateCreated"),
            "dateModified": w.get("dateModified"),
            "modifiedBy": id_ref(USER, w.get("modifiedBy")),
            "selfUri": uri(WORKBIN, w["id"]),
        }
    )


def status(s: Json, *, names: dict[str, str], worktype: Json) -> Json:
    wt_id = s["worktypeId"]

    def status_ref(sid: str | None) -> Json | None:
        return ref(STATUS, sid, name=names.get(sid or "", ""), parent_id=wt_id) if sid else None

    return compact(
        {
            "id": s["id"],
            "name": s["name"],
            "category": s["category"],
            "destinationStatuses": [status_ref(d) for d in s.get("destinationStatusIds") or []],
            "description": s.get("description"),
            "defaultDestinationStatus": status_ref(s.get("defaultDestinationStatusId")),
            "statusTransitionDelaySeconds": s.get("statusTransitionDelaySeconds"),
            "statusTransitionTime": s.get("statusTransitionTime"),
            "worktype": ref(WORKTYPE, wt_id, name=worktype.get("name")),
            "autoTerminateWorkitem": s.get("autoTerminateWorkitem", False),
            "selfUri": uri(STATUS, s["id"], wt_id),
        }
    )


def statuses_of(worktype: Json) -> list[Json]:
    found = store.all_of(STATUS, parent=worktype["id"])
    names = {s["id"]: s["name"] for s in found}
    order = {"Open": 0, "InProgress": 1, "Waiting": 2, "Closed": 3}
    found.sort(key=lambda s: (order.get(s["category"], 9), s["name"].lower()))
    return [status(s, names=names, worktype=worktype) for s in found]


def data_schema(s: Json) -> Json:
    """DataSchema: one version of a custom-field schema, with its JSON schema."""
    return compact(
        {
            "id": s["id"],
            "name": s["name"],
            "version": s.get("version", 1),
            "appliesTo": s.get("appliesTo", ["WORKITEM"]),
            "enabled": s.get("enabled", True),
            "createdBy": id_ref(USER, s.get("createdBy")),
            "dateCreated": s.get("dateCreated"),
            "jsonSchema": s.get("jsonSchema"),
            "selfUri": uri(SCHEMA, s["id"]),
        }
    )


def schema_reference(schema_id: str, version: Any, *, name: str | None = None) -> Json:
    """WorkitemSchema {id, name, version, selfUri}: a reference, never the JSON schema itself."""
    return compact(
        {"id": schema_id, "name": name, "version": version, "selfUri": uri(SCHEMA, schema_id)}
    )


def worktype(wt: Json, *, expand_schema: bool = False) -> Json:
    """Worktype. Its `schema` is only a reference; `expands=schema` fills in the schema's name
    (the JSON schema comes from GET /workitems/schemas/{id}/versions/{version})."""
    status_list = statuses_of(wt)
    names = {s["id"]: s["name"] for s in status_list}
    schema = None
    if wt.get("schemaId"):
        stored = store.get(SCHEMA, wt["schemaId"]) or {}
        schema = schema_reference(
            wt["schemaId"],
            wt.get("schemaVersion") or stored.get("version", 1),
            name=stored.get("name") if expand_schema else None,
        )
    default_status = wt.get("defaultStatusId")
    return compact(
        {
            "id": wt["id"],
            "name": wt["name"],
            "division": ref(DIVISION, wt.get("divisionId")),
            "description": wt.get("description"),
            "dateCreated": wt.get("dateCreated"),
            "dateModified": wt.get("dateModified"),
            "defaultWorkbin": ref(WORKBIN, wt.get("defaultWorkbinId")),
            "defaultStatus": ref(
                STATUS, default_status, name=names.get(default_status or ""), parent_id=wt["id"]
            ),
            "statuses": status_list,
            "defaultDurationSeconds": wt.get("defaultDurationSeconds"),
            "defaultExpirationSeconds": wt.get("defaultExpirationSeconds"),
            "defaultDueDurationSeconds": wt.get("defaultDueDurationSeconds"),
            "defaultPriority": wt.get("defaultPriority"),
            "defaultLanguage": id_ref("language", wt.get("defaultLanguageId")),
            "defaultTtlSeconds": wt.get("defaultTtlSeconds"),
            "modifiedBy": id_ref(USER, wt.get("modifiedBy")),
            "defaultQueue": ref(QUEUE, wt.get("defaultQueueId")),
            "defaultSkills": [id_ref(SKILL, s) for s in wt.get("defaultSkillIds") or []],
            "assignmentEnabled": wt.get("assignmentEnabled", False),
            "schema": schema,
            "serviceLevelTarget": wt.get("serviceLevelTarget", 100),
            "ruleSettings": {"flowRulesEnabled": bool(wt.get("flowRulesEnabled", False))},
            "unassignedDivisionContactsEnabled": wt.get("unassignedDivisionContactsEnabled", True),
            "selfUri": uri(WORKTYPE, wt["id"]),
        }
    )
