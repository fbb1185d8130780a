"""Task Management reference data: worktypes, their statuses, workbins (docs/GENESYS.md §2)."""

from __future__ import annotations

from django.http import HttpRequest

from simulator import render, store
from simulator.errors import not_found
from simulator.http import endpoint, json_object, list_param
from simulator.query import QUERY_FIELDS, parse_query, run_query

# Valid filter names, from the request schemas' descriptions in openapi-subset.json.
WORKTYPE_FILTERS = frozenset(
    {
        "divisionId", "id", "name", "description", "defaultWorkbinId", "defaultDurationSeconds",
        "defaultExpirationSeconds", "defaultDueDurationSeconds", "defaultPriority",
        "defaultLanguageId", "defaultTtlSeconds", "assignmentEnabled", "defaultQueueId",
        "schemaId", "schemaVersion", "dateCreated", "dateModified", "modifiedBy",
    }
)  # fmt: skip
WORKBIN_FILTERS = frozenset(
    {"id", "name", "description", "divisionId", "dateCreated", "dateModified", "modifiedBy"}
)
SORT_NAMES = ("dateModified", "name")
WORKTYPE_EXPANDS = (
    "defaultQueue",
    "defaultSkills",
    "defaultLanguage",
    "schema",
    "flow",
    "defaultScript",
)


def query_worktypes(request: HttpRequest):
    body = json_object(request, allowed=QUERY_FIELDS)
    query = parse_query(
        body,
        filter_names=WORKTYPE_FILTERS.__contains__,
        sort_names=SORT_NAMES,
        expands=("schema",),
        filters_required=False,
    )
    expand_schema = "schema" in query.expands
    return run_query(
        store.all_of(render.WORKTYPE),
        query,
        self_uri="/api/v2/taskmanagement/worktypes/query",
        render=lambda wt: render.worktype(wt, expand_schema=expand_schema),
        default_sort="name",
    )


def query_workbins(request: HttpRequest):
    body = json_object(request, allowed=QUERY_FIELDS - {"expands"})
    query = parse_query(
        body,
        filter_names=WORKBIN_FILTERS.__contains__,
        sort_names=SORT_NAMES,
        filters_required=False,
    )
    return run_query(
        store.all_of(render.WORKBIN),
        query,
        self_uri="/api/v2/taskmanagement/workbins/query",
        render=render.workbin,
        default_sort="name",
    )


def get_worktype(request: HttpRequest, worktype_id: str):
    wt = store.require(render.WORKTYPE, worktype_id, entity_name="Worktype")
    return render.worktype(wt, expand_schema="schema" in list_param(request, "expands"))


def list_statuses(request: HttpRequest, worktype_id: str):
    wt = store.require(render.WORKTYPE, worktype_id, entity_name="Worktype")
    entities = render.statuses_of(wt)
    return {
        "total": len(entities),
        "entities": entities,
        "selfUri": f"/api/v2/taskmanagement/worktypes/{worktype_id}/statuses",
    }


def get_status(request: HttpRequest, worktype_id: str, status_id: str):
    wt = store.require(render.WORKTYPE, worktype_id, entity_name="Worktype")
    for shown in render.statuses_of(wt):
        if shown["id"] == status_id:
            return shown
    raise not_found("Status", status_id)


def get_workbin(request: HttpRequest, workbin_id: str):
    return render.workbin(store.require(render.WORKBIN, workbin_id, entity_name="Workbin"))


worktypes_query = endpoint(post=query_worktypes)
workbins_query = endpoint(post=query_workbins)
worktype = endpoint(get=get_worktype)
statuses = endpoint(get=list_statuses)
status = endpoint(get=get_status)
workbin = endpoint(get=get_workbin)
