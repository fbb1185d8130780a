"""Submit work items to Genesys, each exactly once.

Genesys offers no idempotency key, so exactly-once rests on three rules:
1. A request moves items to SUBMITTING with a compare-and-set on their local state, so two
   requests (two supervisors) never both queue them.
2. One sender per item: a run sends only the items whose send claim it holds (a lease taken
   atomically when the run starts, re-asserted before each create request; services/send_claims.py),
   so no two runs, workers, clusters or resumes send the same item.
3. `create_attempted_at` is committed before every create request. Whenever it is already set —
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
from workitems.services import send_claims
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
    # The send claim the queued items hold for the run that will send them.
    claim: str = ""


@dataclass
class SubmitSummary:
    submitted: list[int] = field(default_factory=list)
    adopted: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    parked: list[int] = field(default_factory=list)
    pending: list[int] = field(default_factory=list)
    # Asked for, but another sender holds them (or they were not submitting any more).
    elsewhere: list[int] = field(default_factory=list)
    claim_lost: str = ""
    api_calls: int = 0

    def line(self) -> str:
        text = (
            f"{len(self.submitted)} created, {len(self.adopted)} found already in Genesys, "
            f"{len(self.failed)} failed, {len(self.parked)} parked, "
            f"{len(self.pending)} awaiting a later look-up"
        )
        if self.elsewhere:
            text += f", {len(self.elsewhere)} left to another sender"
        if self.claim_lost:
            text += f"; stopped: {self.claim_lost}"
        return text


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
    # The items are held for the task enqueued below; the resume leaves them alone meanwhile.
    # Without a task (the caller sends them itself, at once), whoever claims first sends them.
    result.claim = send_claims.new_owner(actor, queued=True) if enqueue else ""
    with transaction.atomic():
        claimed = WorkItem.objects.filter(pk__in=eligible, local_state__in=SUBMITTABLE)
        result.queued = list(claimed.values_list("pk", flat=True))
        claimed.update(
            local_state=LocalState.SUBMITTING,
            last_error="",
            last_error_context_id="",
            next_attempt_at=None,
            **(send_claims.claim_fields(result.claim, timezone.now()) if enqueue else {}),
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
            ids, claim = list(result.queued), result.claim
            transaction.on_commit(lambda: _enqueue(ids, actor, claim))
    return result


def _enqueue(ids: list[int], actor: str, claim: str) -> None:
    from django_q.tasks import async_task

    async_task(
        "workitems.tasks.submit_workitems", ids, actor, claim, task_name=f"submit-{len(ids)}-items"
    )


# --- Submission: runs in django-q2 (or in the foreground with --wait) ------------------------


@dataclass
class _Run:
    client: GenesysClient
    actor: str
    summary: SubmitSummary
    progress: Callable[[str], None]
    audit: list[AuditEntry] = field(default_factory=list)
    heartbeat: send_claims.Heartbeat | None = None


def workitems_submit(
    *,
    item_ids: Sequence[int],
    actor: str,
    client: GenesysClient | None = None,
    progress: Callable[[str], None] | None = None,
    mode: str = "auto",
    queued_claim: str = "",
) -> SubmitSummary:
    """Send the SUBMITTING items to Genesys: one by one for few items, bulk jobs for many
    (`mode` "single" or "bulk" forces one way; items with preferred agents always go singly).

    First the run claims the items for itself (services/send_claims.py): those another sender
    holds, parked until later, or no longer submitting are left alone, so running this twice,
    at once or not, for the same ids sends each item once. `queued_claim`: the claim the request
    took for this run. The run's claims are released when it ends.
    """
    if mode not in ("auto", "single", "bulk"):
        raise ValueError(f"mode must be auto, single or bulk, not {mode!r}")
    owner = send_claims.new_owner(actor)
    run = _Run(
        client=client or get_client(),
        actor=actor,
        summary=SubmitSummary(),
        progress=progress or (lambda _msg: None),
        heartbeat=send_claims.Heartbeat(owner=owner),
    )
    held = send_claims.send_claims_take(
        item_ids=list(item_ids), owner=owner, offered=queued_claim
    )
    run.summary.elsewhere = sorted(set(item_ids) - set(held))
    items = list(
        WorkItem.objects.filter(pk__in=held, send_claimed_by=owner)
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
    except send_claims.ClaimLost as exc:
        # Another sender holds some items now: leave every item this run has not finished.
        run.summary.claim_lost = str(exc)
        logger.warning("submission stopped: %s", exc, extra={"owner": owner})
    finally:
        record_many(run.audit)
        send_claims.send_claims_release(owner=owner)
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
    if run.heartbeat is not None:
        run.heartbeat.beat()  # a long run (pacing, bulk jobs) keeps its claims
    return fn(**kwargs)


def _mark_attempt(items: Iterable[WorkItem]) -> None:
    """Committed before the request leaves: from now on, a retry must look the item up first.

    Only while this run still holds each item's send claim, checked and renewed in the same
    statement; otherwise ClaimLost, and nothing is sent."""
    items = list(items)
    now = timezone.now()
    send_claims.send_claims_hold(
        items=items,
        create_attempted_at=now,
        submit_attempts=F("submit_attempts") + 1,
        updated_at=now,
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
    """Pick up items left SUBMITTING that no one is sending — their sender's claim expired (a
    worker died), it was released (an unknown outcome, a park now over), or their queued task
    never ran — and finish them safely. Items a live claim holds are never taken."""
    ids = list(
        send_claims.items_free_to_resume().order_by("pk").values_list("pk", flat=True)[:1000]
    )
    return workitems_submit(item_ids=ids, actor=actor, client=client) if ids else None
