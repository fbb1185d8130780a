"""Submit work items to Genesys, each exactly once.

Genesys offers no idempotency key, so exactly-once rests on two rules:
1. An item is claimed for submission with a compare-and-set on its local state, so two requests
   (two supervisors, two workers) never both send it.
2. `create_attempted_at` is committed before every create request. Whenever it is already set —
   a timeout, a 5xx, a worker that died mid-request — the item is first looked up in Genesys by
   `externalTag` (our unique external_ref) and adopted if found; only if it is absent is it sent
   again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from audits.models import Outcome
from audits.services import AuditEntry, record_many
from workitems.genesys import GenesysClient, GenesysError, RateLimited, get_client
from workitems.models import LocalState, Verdict, WorkItem
from workitems.services.genesys_state import genesys_state_fields
from workitems.services.sla import SLA_FIELDS, workitem_sla_start
from workitems.services.workitem_body import workitem_create_body

logger = logging.getLogger(__name__)

BULK_JOB_SIZE = 50  # Genesys's per-job maximum is not confirmed; 50 is the portal's cap.
BULK_THRESHOLD = 10  # Fewer items than this go one by one.
LOOKUP_CHUNK = 200  # externalTag values per IN query (pageSize ≤ 200).
MAX_CREATE_ATTEMPTS = 3
JOB_DONE = {"Succeeded", "Failed", "Cancelled", "Terminated"}
SUBMITTABLE = (LocalState.DRAFT, LocalState.CHECKED, LocalState.FAILED)


@dataclass
class SubmitRequest:
    """What a supervisor's "Submit" did: which items were queued and which refused, and why."""

    queued: list[int] = field(default_factory=list)
    refused: list[tuple[WorkItem, str]] = field(default_factory=list)


@dataclass
class SubmitSummary:
    submitted: list[int] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    parked: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    api_calls: int = 0

    def line(self) -> str:
        return (
            f"{len(self.submitted)} created, {len(self.adopted)} found already in Genesys, "
            f"{len(self.failed)} failed, {len(self.parked)} parked, "
            f"{len(self.pending)} awaiting a later look-up"
        )


# --- Request: claim and enqueue --------------------------------------------------------------


def workitems_submit_request(
    *, items: QuerySet[WorkItem], actor: str, override_routability: bool, enqueue: bool = True
) -> SubmitRequest:
    """Claim the eligible items (state SUBMITTING) and enqueue their submission.

    Items never checked are checked first. Refused, with the reason: items already submitted or
    in flight, and items whose verdict is "not routable" unless the actor may override it.
    """
    from workitems.services.routability import workitems_check_routability

    unchecked = items.filter(routability_verdict="", local_state__in=SUBMITTABLE)
    if unchecked.exists():
        workitems_check_routability(items=unchecked, actor=actor)
    result = SubmitRequest()
    eligible: list[int] = []
    for item in items.select_related(None).only(
        "pk", "external_ref", "local_state", "routability_verdict"
    ):
        if item.local_state not in SUBMITTABLE:
            result.refused.append((item, f"already {item.get_local_state_display().lower()}"))
        elif item.routability_verdict == Verdict.NOT_ROUTABLE and not override_routability:
            result.refused.append((item, "not routable (needs the override permission)"))
        else:
            eligible.append(item.pk)
    with transaction.atomic():
        claimed = WorkItem.objects.filter(pk__in=eligible, local_state__in=SUBMITTABLE)
        result.queued = list(claimed.values_list("pk", flat=True))
        claimed.update(
            local_state=LocalState.SUBMITTING,
            last_error="",
            last_error_context_id="",
            next_attempt_at=None,
        )
        record_many(
            [
                AuditEntry(actor, "workitem.submit.requested", "WorkItem", str(pk), ref)
                for pk, ref in WorkItem.objects.filter(pk__in=result.queued).values_list(
                    "pk", "external_ref"
                )
            ]
            + [
                AuditEntry(
                    actor,
                    "workitem.submit.refused",
                    "WorkItem",
                    str(item.pk),
                    item.external_ref,
                    Outcome.REFUSED,
                    {"reason": reason},
                )
                for item, reason in result.refused
            ]
        )
        if enqueue and result.queued:
            ids = list(result.queued)
            transaction.on_commit(lambda: _enqueue(ids, actor))
    return result


def _enqueue(ids: list[int], actor: str) -> None:
    from django_q.tasks import async_task

    async_task("workitems.tasks.submit_workitems", ids, actor, task_name=f"submit-{len(ids)}-items")


# --- Submission: runs in django-q2 (or in the foreground with --wait) ------------------------


@dataclass
class _Run:
    client: GenesysClient
    actor: str
    summary: SubmitSummary
    progress: Callable[[str], None]
    audit: list[AuditEntry] = field(default_factory=list)


def workitems_submit(
    *,
    item_ids: Sequence[int],
    actor: str,
    client: GenesysClient | None = None,
    progress: Callable[[str], None] | None = None,
    mode: str = "auto",
) -> SubmitSummary:
    """Send the claimed (SUBMITTING) items to Genesys: one by one for few items, bulk jobs for many
    (`mode` "single" or "bulk" forces one way; items with preferred agents always go singly).

    Items not in SUBMITTING, or parked until later, are left alone, so running this twice for the
    same ids is harmless.
    """
    if mode not in ("auto", "single", "bulk"):
        raise ValueError(f"mode must be auto, single or bulk, not {mode!r}")
    run = _Run(
        client=client or get_client(),
        actor=actor,
        summary=SubmitSummary(),
        progress=progress or (lambda _msg: None),
    )
    now = timezone.now()
    items = list(
        WorkItem.objects.filter(pk__in=item_ids, local_state=LocalState.SUBMITTING)
        .exclude(next_attempt_at__gt=now)
        .select_related("worktype", "status", "workbin", "queue")
        .prefetch_related("skills")
        .order_by("pk")
    )
    try:
        # Anything that may already exist in Genesys is looked up before it is sent again.
        pending = _adopt_existing(run, [i for i in items if i.create_attempted_at])
        pending += [i for i in items if not i.create_attempted_at]
        pending.sort(key=lambda i: i.pk)
        single = [i for i in pending if i.preferred_agent_ids]  # bulk jobs cannot carry them
        rest = [i for i in pending if not i.preferred_agent_ids]
        if mode == "single" or (mode == "auto" and len(rest) < BULK_THRESHOLD):
            single, rest = single + rest, []
            single.sort(key=lambda i: i.pk)
        for item in single:
            _submit_one(run, item)
        if rest:
            _submit_bulk(run, rest)
    except RateLimited as exc:
        _park(run, [i for i in items if i.local_state == LocalState.SUBMITTING], exc)
    finally:
        record_many(run.audit)
    accounted = {
        *run.summary.submitted,
        *run.summary.adopted,
        *run.summary.failed,
        *run.summary.parked,
    }
    run.summary.pending = [i.pk for i in items if i.pk not in accounted]
    run.progress(run.summary.line())
    return run.summary


def _call(run: _Run, fn: Callable[..., Any], **kwargs) -> Any:
    run.summary.api_calls += 1
    return fn(**kwargs)


def _mark_attempt(items: Iterable[WorkItem]) -> None:
    """Committed before the request leaves: from now on, a retry must look the item up first."""
    now = timezone.now()
    ids = [i.pk for i in items]
    WorkItem.objects.filter(pk__in=ids).update(
        create_attempted_at=now, submit_attempts=F("submit_attempts") + 1, updated_at=now
    )
    for item in items:
        item.create_attempted_at = now
        item.submit_attempts += 1


def _adopt(run: _Run, item: WorkItem, workitem: dict[str, Any], *, found: bool) -> None:
    fields = genesys_state_fields(workitem=workitem)
    fields.update(
        local_state=LocalState.SUBMITTED,
        submitted_at=timezone.now(),
        last_error="",
        last_error_context_id="",
        next_attempt_at=None,
        updated_at=timezone.now(),
    )
    for name, value in fields.items():
        setattr(item, name, value)
    workitem_sla_start(item=item)
    fields.update({name: getattr(item, name) for name in SLA_FIELDS})
    WorkItem.objects.filter(pk=item.pk).update(**fields)
    item.local_state = LocalState.SUBMITTED
    (run.summary.adopted if found else run.summary.submitted).append(item.pk)
    run.audit.append(
        AuditEntry(
            run.actor,
            "workitem.submit",
            "WorkItem",
            str(item.pk),
            item.external_ref,
            Outcome.SUCCESS,
            {"genesys_id": workitem["id"], "found_existing": found},
        )
    )
    run.progress(
        f"{item.external_ref}: {'found in' if found else 'created in'} Genesys as {workitem['id']}"
    )


def _fail(run: _Run, item: WorkItem, message: str, context_id: str = "") -> None:
    WorkItem.objects.filter(pk=item.pk).update(
        local_state=LocalState.FAILED, last_error=message[:2000], last_error_context_id=context_id
    )
    item.local_state = LocalState.FAILED
    run.summary.failed.append(item.pk)
    run.audit.append(
        AuditEntry(
            run.actor,
            "workitem.submit",
            "WorkItem",
            str(item.pk),
            item.external_ref,
            Outcome.FAILURE,
            {"error": message, "contextId": context_id},
        )
    )
    run.progress(f"{item.external_ref}: failed — {message}")


def _park(run: _Run, items: list[WorkItem], exc: RateLimited) -> None:
    """A daily cap: wait for the reset rather than hammer Genesys; say so on each item."""
    until = exc.reset_at or timezone.now() + timedelta(seconds=exc.retry_after or 3600)
    message = f"Genesys rate limit reached; parked until {until:%Y-%m-%d %H:%M} UTC ({exc.message})"
    ids = [i.pk for i in items]
    WorkItem.objects.filter(pk__in=ids, local_state=LocalState.SUBMITTING).update(
        next_attempt_at=until, last_error=message, last_error_context_id=exc.context_id or ""
    )
    run.summary.parked.extend(ids)
    run.audit.extend(
        AuditEntry(
            run.actor,
            "workitem.submit.parked",
            "WorkItem",
            str(i.pk),
            i.external_ref,
            Outcome.INFO,
            {"until": until.isoformat(), "contextId": exc.context_id},
        )
        for i in items
    )
    _schedule_resume(ids, run.actor, until)
    run.progress(f"{len(ids)} items parked until {until:%H:%M} UTC: {exc.message}")


def _schedule_resume(ids: list[int], actor: str, when) -> None:
    from django_q.models import Schedule

    Schedule.objects.create(
        name=f"resume-submission-{when:%Y%m%d%H%M%S}-{ids[0]}",
        func="workitems.tasks.submit_workitems",
        args=repr((ids, actor)),
        schedule_type=Schedule.ONCE,
        next_run=when,
        repeats=1,
    )


def _lookup(run: _Run, items: list[WorkItem]) -> dict[str, dict[str, Any]]:
    """Find items in Genesys by externalTag: one query per worktype and chunk of refs."""
    found: dict[str, dict[str, Any]] = {}
    by_type: dict[str, list[str]] = {}
    for item in items:
        by_type.setdefault(item.worktype.genesys_id, []).append(item.external_ref)
    for type_id, refs in by_type.items():
        for start in range(0, len(refs), LOOKUP_CHUNK):
            chunk = refs[start : start + LOOKUP_CHUNK]
            filters = [
                {"name": "typeId", "type": "String", "operator": "EQ", "values": [type_id]},
                {
                    "name": "externalTag",
                    "type": "String",
                    "operator": "EQ" if len(chunk) == 1 else "IN",
                    "values": chunk,
                },
            ]
            page = _call(run, run.client.query_workitems, filters=filters, page_size=LOOKUP_CHUNK)
            for wi in page.get("entities") or []:
                found.setdefault(wi.get("externalTag") or "", wi)
    return found


def _adopt_existing(run: _Run, items: list[WorkItem], *, ours: bool = False) -> list[WorkItem]:
    """Adopt the items Genesys already has; return those it does not.

    `ours`: they were just created by our own bulk job (counted as submitted, not as found)."""
    if not items:
        return []
    found = _lookup(run, items)
    missing = []
    for item in items:
        if item.external_ref in found:
            _adopt(run, item, found[item.external_ref], found=not ours)
        else:
            missing.append(item)
    return missing


def _lookup_delay() -> None:
    # Give Genesys's search a moment to see an item created by a request we lost the answer to.
    time.sleep(settings.SUBMIT_LOOKUP_DELAY_SECONDS)


def _submit_one(run: _Run, item: WorkItem) -> None:
    body = workitem_create_body(item=item)
    while True:
        _mark_attempt([item])
        try:
            created = _call(run, run.client.create_workitem, body=body)
        except RateLimited:
            raise
        except GenesysError as exc:
            if not exc.outcome_unknown:
                _fail(run, item, f"{exc.message} {exc.hint}".strip(), exc.context_id or "")
                return
            _lookup_delay()
            if not _adopt_existing(run, [item]):
                return
            if item.submit_attempts >= MAX_CREATE_ATTEMPTS:
                _fail(
                    run,
                    item,
                    f"No answer from Genesys after {item.submit_attempts} attempts and "
                    f"not found by externalTag: {exc}",
                    exc.context_id or "",
                )
                return
            continue
        _adopt(run, item, created, found=False)
        return


def _submit_bulk(run: _Run, items: list[WorkItem]) -> None:
    """Bulk-add jobs of ≤ 50, mapped back by externalTag: one query per 200 items finds what the
    jobs created. Only jobs holding items not found yet are polled, and their per-item results
    read once done, so the happy path costs one call per job plus one per 200 items."""
    posted: list[tuple[dict[str, Any], list[WorkItem]]] = []
    for start in range(0, len(items), BULK_JOB_SIZE):
        chunk = items[start : start + BULK_JOB_SIZE]
        bodies = [workitem_create_body(item=i, bulk=True) for i in chunk]
        _mark_attempt(chunk)
        try:
            job = _call(run, run.client.create_bulk_add_job, entities=bodies)
        except RateLimited:
            raise
        except GenesysError as exc:
            if not exc.outcome_unknown:
                for item in chunk:
                    _fail(run, item, f"{exc.message} {exc.hint}".strip(), exc.context_id or "")
                continue
            _lookup_delay()
            # Unknown: some, all or none may exist. Adopt what exists; the rest stay claimed
            # with create_attempted_at set, so the resume sweep looks them up again first.
            _adopt_existing(run, chunk)
            continue
        posted.append((job, chunk))
    _collect_jobs(run, posted)


def _collect_jobs(run: _Run, posted: list[tuple[dict[str, Any], list[WorkItem]]]) -> None:
    delay = settings.SUBMIT_JOB_POLL_SECONDS
    while posted:
        if any(job.get("state") not in JOB_DONE for job, _ in posted):
            time.sleep(delay)
            delay = min(delay * 2, 10) if delay else 0
        everything = [
            i for _, chunk in posted for i in chunk if i.local_state == LocalState.SUBMITTING
        ]
        missing = {i.pk for i in _adopt_existing(run, everything, ours=True)}
        still: list[tuple[dict[str, Any], list[WorkItem]]] = []
        for job, chunk in posted:
            if not any(i.pk in missing for i in chunk):
                continue
            if job.get("state") not in JOB_DONE:
                job = _call(run, run.client.get_bulk_add_job, job_id=job["id"])
            if job.get("state") in JOB_DONE:
                _map_job_results(run, job, chunk, missing=missing)
            else:
                still.append((job, chunk))
        posted = still


def _map_job_results(
    run: _Run, job: dict[str, Any], chunk: list[WorkItem], *, missing: set[int]
) -> None:
    """Per-item outcome of a finished job, for the items the externalTag look-up did not find.
    Results are in the order of the job's entities (BulkJobAddResponse)."""
    results = _call(run, run.client.get_bulk_add_job_results, job_id=job["id"]).get("results") or []
    for index, item in enumerate(chunk):
        if item.pk not in missing:
            continue
        result = results[index] if index < len(results) else {}
        entity, error = result.get("entity"), result.get("error")
        if entity and entity.get("id"):
            _adopt(run, item, entity, found=False)
        else:
            reason = (error or {}).get(
                "message"
            ) or f"bulk job {job['id']} ended {job.get('state')}"
            _fail(run, item, reason)


def submissions_resume(
    *, actor: str = "system", client: GenesysClient | None = None
) -> SubmitSummary | None:
    """Pick up items left SUBMITTING (a worker died, a park expired) and finish them safely."""
    cutoff = timezone.now() - timedelta(minutes=5)
    ids = list(
        WorkItem.objects.filter(local_state=LocalState.SUBMITTING, updated_at__lt=cutoff)
        .exclude(next_attempt_at__gt=timezone.now())
        .values_list("pk", flat=True)[:1000]
    )
    return workitems_submit(item_ids=ids, actor=actor, client=client) if ids else None
