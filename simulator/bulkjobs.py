"""Bulk add jobs as Genesys documents them (docs/GENESYS.md §2 "Bulk create"; simulator/SOURCES.md).

- `POST /workitems/bulk/add/jobs` stores the job in state **Idle** and creates nothing: "This
  creates a bulk add job in Idle state. To execute the bulk add job you must update the state of
  the job to Queued".
- `PATCH …/{id}` with `{"state": "Queued"}` starts it; `{"state": "Terminated"}` ends it unrun.
  Both only while Idle ("A bulk add job can only be terminated when its state is Idle").
- `DELETE …/{id}` only while Idle ("can also be deleted if the job's state is Idle").
- A queued job runs once SIMULATOR_BULK_JOB_SECONDS have passed on the simulator clock (0: at
  once), when anything next reads jobs or work items; until then it reads Queued. Its items are
  created one by one; each entity that Genesys would refuse is an error in the results instead.
- `GET …/{id}/results` is a BulkJobAddResponse whose `entity` is a BulkJobAddWorkitemSummary
  {id, name, workbin, type, selfUri}: no status, no dates. Before the job has finished it holds no
  results (NOT CONFIRMED; the hardest answer for a client that maps results by position).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from simulator import clock, render, store
from simulator.errors import ApiError, bad_request, detail, not_found
from simulator.models import SimEntity

Json = dict[str, Any]

FINISHED = ("Succeeded", "Failed", "Cancelled", "Terminated")
UPDATE_STATES = ("Queued", "Terminated")  # BulkJobUpdate.state enum


def bulk_max_entities() -> int:
    return settings.SIMULATOR_BULK_MAX_ENTITIES


def _run_after() -> timedelta:
    return timedelta(seconds=settings.SIMULATOR_BULK_JOB_SECONDS)


def job_require(job_id: str) -> Json:
    job = store.get(render.BULK_JOB, job_id)
    if job is None:
        raise not_found("BulkJob", job_id)
    return job


def _save(job: Json) -> Json:
    store.put(render.BULK_JOB, job["id"], job)
    return job


def bulk_add_job_create(*, body: Any) -> Json:
    """An Idle job holding the BulkJobAddRequest's entities; nothing is created yet."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", detail("body"))
    unknown = sorted(set(body) - {"entities"})
    if unknown:
        raise bad_request(
            f"Unrecognized field(s): {', '.join(unknown)}.",
            *(detail(name, "unrecognized.field") for name in unknown),
        )
    entities = body.get("entities")
    if not isinstance(entities, list) or not entities:
        raise bad_request("entities must be a non-empty list.", detail("entities", "required"))
    most = bulk_max_entities()
    if len(entities) > most:
        raise bad_request(
            f"A bulk job takes at most {most} entities; got {len(entities)}.",
            detail("entities", "max.items.exceeded"),
        )
    stamp = clock.iso(clock.now())
    job = {
        "id": str(uuid.uuid4()),
        "action": "AddWorkitems",
        "state": "Idle",
        "totalCount": len(entities),
        "dateModified": stamp,
        "entities": entities,
    }
    return _save(job)


def bulk_add_job_update(*, job_id: str, body: Any) -> Json:
    """PATCH with a BulkJobUpdate: Idle → Queued (start) or Idle → Terminated."""
    job = job_require(job_id)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", detail("body"))
    unknown = sorted(set(body) - {"state"})
    if unknown:
        raise bad_request(
            f"Unrecognized field(s): {', '.join(unknown)}.",
            *(detail(name, "unrecognized.field") for name in unknown),
        )
    state = body.get("state")
    if state not in UPDATE_STATES:
        raise bad_request(
            f"state must be one of {', '.join(UPDATE_STATES)}.",
            detail("state", "required" if state is None else "invalid.value"),
        )
    if job["state"] != "Idle":
        # The status and code Genesys uses here are NOT CONFIRMED.
        raise bad_request(
            f"Bulk job {job_id} is {job['state']}: a bulk add job can only be queued or "
            "terminated while its state is Idle.",
            detail("state", "invalid.state"),
        )
    now = clock.now()
    job["state"] = state
    job["dateModified"] = clock.iso(now)
    if state == "Queued":
        job["dateQueued"] = clock.iso(now)
    else:
        job["dateFinished"] = clock.iso(now)
        job.pop("entities", None)
    return _save(job)


def bulk_add_job_delete(*, job_id: str) -> None:
    job = job_require(job_id)
    if job["state"] != "Idle":
        raise bad_request(
            f"Bulk job {job_id} is {job['state']}: a bulk add job can only be deleted while its "
            "state is Idle.",
            detail("bulkJobId", "invalid.state"),
        )
    store.delete(render.BULK_JOB, job_id)


def _run(job: Json, now: datetime) -> list[Json]:
    """Create the job's items; return them (for their `add` events)."""
    from simulator.workitems import COMMON_CREATE_FIELDS, workitem_create

    job["dateStarted"] = clock.iso(now)
    results: list[Json] = []
    created: list[Json] = []
    for entity in job.pop("entities", []):
        try:
            with transaction.atomic():
                item = workitem_create(body=entity, allowed=COMMON_CREATE_FIELDS)
        except ApiError as exc:
            results.append({"error": {"code": exc.code, "message": exc.message}})
            continue
        created.append(item)
        results.append({"entity": {"id": item["id"]}})
    failed = sum("error" in r for r in results)
    job.update(
        state="Failed" if failed == len(results) else "Succeeded",
        successfulCount=len(results) - failed,
        failedCount=failed,
        dateFinished=clock.iso(now),
        dateModified=clock.iso(now),
        results=results,
    )
    _save(job)
    return created


def bulk_jobs_run_due() -> list[Json]:
    """Run every queued job whose time has come; the work items they created."""
    now = clock.now()
    due_before = now - _run_after()
    created: list[Json] = []
    rows = SimEntity.objects.filter(kind=render.BULK_JOB, data__state="Queued").order_by("pk")
    for row in rows:
        job = {**row.data, "id": str(row.entity_id)}
        queued = datetime.fromisoformat(job["dateQueued"].replace("Z", "+00:00"))
        if queued <= due_before:
            created += _run(job, now)
    return created


def render_job(job: Json) -> Json:
    """BulkJob (openapi-subset): counts and dates only once the job has them."""
    return render.compact(
        {
            "id": job["id"],
            "state": job["state"],
            "action": job["action"],
            "totalCount": job["totalCount"],
            "successfulCount": job.get("successfulCount"),
            "failedCount": job.get("failedCount"),
            "dateStarted": job.get("dateStarted"),
            "dateFinished": job.get("dateFinished"),
            "dateModified": job["dateModified"],
            "selfUri": render.uri(render.BULK_JOB, job["id"]),
        }
    )


def render_job_results(job: Json) -> Json:
    """BulkJobAddResponse: one result per entity, in the order they were sent; each created item
    as a BulkJobAddWorkitemSummary (as the item is now: a deleted one keeps its id only)."""
    from simulator.workitems import Lookup

    lookup = Lookup()
    results = []
    for result in job.get("results") or []:
        if "error" in result:
            results.append({"error": result["error"]})
            continue
        item_id = result["entity"]["id"]
        item = lookup.get(render.WORKITEM, item_id) or {}
        results.append(
            {
                "entity": render.compact(
                    {
                        "id": item_id,
                        "name": item.get("name"),
                        "workbin": lookup.ref(render.WORKBIN, item.get("workbinId")),
                        "type": lookup.ref(render.WORKTYPE, item.get("typeId")),
                        "selfUri": render.uri(render.WORKITEM, item_id),
                    }
                )
            }
        )
    errors = [i for i, r in enumerate(results) if "error" in r]
    return {"results": results, "errorCount": len(errors), "errorIndexes": errors}
