"""Work items: create, get, patch, delete, terminate, query and bulk add jobs (API.md §2)."""

from __future__ import annotations

from django.http import HttpRequest

from simulator import render, store
from simulator.http import Reply, endpoint, json_body, json_object
from simulator.query import QUERY_FIELDS, parse_query, run_query
from simulator.workitems import (
    QUERY_EXPANDS,
    QUERY_SORTS,
    Lookup,
    bulk_add_job_create,
    check_query_anchor,
    job_require,
    query_filter_name,
    render_job,
    render_job_results,
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
    return render_job(bulk_add_job_create(body=json_body(request)), queued=True)


def get_bulk_job(request: HttpRequest, job_id: str):
    return render_job(job_require(job_id))


def get_bulk_job_results(request: HttpRequest, job_id: str):
    return render_job_results(job_require(job_id))


workitems = endpoint(post=create)
workitem = endpoint(get=get, patch=patch, delete=delete)
workitem_terminate_view = endpoint(post=terminate)
workitems_query = endpoint(post=query)
bulk_add_jobs = endpoint(post=create_bulk_job)
bulk_add_job = endpoint(get=get_bulk_job)
bulk_add_job_results = endpoint(get=get_bulk_job_results)
