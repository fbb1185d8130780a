"""The work-item endpoints of views/workitems.py, plus the event each change makes in Genesys.

POST /workitems and the items a bulk add job creates emit `add`, PATCH and terminate `edit`,
DELETE `delete` (see events.py: delivered only where an enabled trigger matches). The event is
sent once the request's transaction has committed, as Genesys's own events follow the change; a
failure to deliver is logged and never changes the API answer.

A queued bulk job runs in the background in Genesys; here it runs when its time has come and
anything next reads jobs or work items (bulkjobs.py), so those views run due jobs first.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from simulator import render, store
from simulator.bulkjobs import bulk_jobs_run_due
from simulator.events import workitem_event_emit
from simulator.http import endpoint
from simulator.views import workitems as api

Json = dict[str, Any]


def _emit_after_commit(item: Json, *, operation: str, before: Json | None = None) -> None:
    transaction.on_commit(
        lambda: workitem_event_emit(item, operation=operation, before=before), robust=True
    )


def create(request: HttpRequest):
    answer = api.create(request)
    item = store.get(render.WORKITEM, answer["id"])
    if item is not None:
        _emit_after_commit(item, operation="add")
    return answer


def _differs(before: Json, after: Json) -> bool:
    ignored = {"dateModified"}
    return {k: v for k, v in before.items() if k not in ignored} != {
        k: v for k, v in after.items() if k not in ignored
    }


def _changed(handler, operation: str):
    def run(request: HttpRequest, workitem_id: str):
        before = store.get(render.WORKITEM, workitem_id)
        answer = handler(request, workitem_id)
        after = store.get(render.WORKITEM, workitem_id)
        # A PATCH that changes nothing still stamps dateModified; that is no event.
        if before is not None and after is not None and _differs(before, after):
            _emit_after_commit(after, operation=operation, before=before)
        return answer

    return run


def delete(request: HttpRequest, workitem_id: str):
    before = store.get(render.WORKITEM, workitem_id)
    answer = api.delete(request, workitem_id)
    if before is not None:
        _emit_after_commit(before, operation="delete")
    return answer


def _after_due_jobs(handler):
    """Run the bulk jobs whose time has come (each item they create emits `add`), then answer."""

    def run(request: HttpRequest, **kwargs):
        for item in bulk_jobs_run_due():
            _emit_after_commit(item, operation="add")
        return handler(request, **kwargs)

    return run


workitems = endpoint(post=create)
workitem = endpoint(get=api.get, patch=_changed(api.patch, "edit"), delete=delete)
workitem_terminate_view = endpoint(post=_changed(api.terminate, "edit"))
workitems_query = endpoint(post=_after_due_jobs(api.query))
bulk_add_jobs = endpoint(post=api.create_bulk_job)
bulk_add_job = endpoint(
    get=_after_due_jobs(api.get_bulk_job),
    patch=_after_due_jobs(api.patch_bulk_job),
    delete=api.delete_bulk_job,
)
bulk_add_job_results = endpoint(get=_after_due_jobs(api.get_bulk_job_results))
