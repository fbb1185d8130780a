"""Work items: create, get, patch, delete, terminate, query and bulk add jobs (docs/GENESYS.md §2).

Events for the changes are added by views/workitem_events.py, which wraps these handlers.
"""

from __future__ import annotations

from django.http import HttpRequest

from simulator import render, store
from simulator.bulkjobs import (
    bulk_add_job_create,
    bulk_add_job_delete,
    bulk_add_job_update,
    job_require,
    render_job,
    render_job_results,
)
from simulator.http import Reply, json_body, json_object
from simulator.query import QUERY_FIELDS, parse_query, run_query
from simulator.workitems import (
    QUERY_EXPANDS,
    QUERY_SORTS,
    Lookup,
    check_query_anchor,
    query_filter_name,
    render_workitem,
    workitem_create,
    workitem_delete,
    workitem_terminate,
    workitem_update,
    workitems_candidates,
)


def create(request: HttpRequest):
    return render_workitem(workitem_create(body=json_body(request)))


def get(request: HttpRequest, workitem_id: str):
    return render_workitem(store.require(render.WORKITEM, workitem_id, entity_name="Workitem"))


def patch(request: HttpRequest, workitem_id: str):
    return render_workitem(workitem_update(workitem_id=workitem_id, body=json_body(request)))


def delete(request: HttpRequest, workitem_id: str):
    workitem_delete(workitem_id=workitem_id)
    return Reply(None, status=204)


def terminate(request: HttpRequest, workitem_id: str):
    return render_workitem(workitem_terminate(workitem_id=workitem_id, body=json_body(request)))


def query(request: HttpRequest):
    body = json_object(request, allowed=QUERY_FIELDS)
    parsed = parse_query(
        body, filter_names=query_filter_name, sort_names=QUERY_SORTS, expands=QUERY_EXPANDS
    )
    check_query_anchor(parsed)
    lookup = Lookup()
    return run_query(
        workitems_candidates(parsed),
        parsed,
        self_uri="/api/v2/taskmanagement/workitems/query",
        render=lambda item: render_workitem(item, lookup),
    )


def create_bulk_job(request: HttpRequest):
    return render_job(bulk_add_job_create(body=json_body(request)))


def get_bulk_job(request: HttpRequest, job_id: str):
    return render_job(job_require(job_id))


def patch_bulk_job(request: HttpRequest, job_id: str):
    return render_job(bulk_add_job_update(job_id=job_id, body=json_body(request)))


def delete_bulk_job(request: HttpRequest, job_id: str):
    bulk_add_job_delete(job_id=job_id)
    return Reply(None, status=204)


def get_bulk_job_results(request: HttpRequest, job_id: str):
    return render_job_results(job_require(job_id))
