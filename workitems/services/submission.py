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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from audits.models import Outcome
from audits.services import AuditEntry, record_many
from workitems.genesys import GenesysClient, GenesysError, RateLimited, get_client
from workitems.genesys.client import CURSOR_PAGE_SIZE
from workitems.genesys_wire import genesys_datetime, parse_genesys_datetime
from workitems.models import LocalState, Verdict, WorkItem
from workitems.services import send_claims
from workitems.services.genesys_state import genesys_state_fields
from workitems.services.item_audit import item_entry
from workitems.services.rollup import rollup_marks, rollup_note_change
from workitems.services.sla import SLA_FIELDS, workitem_sla_start
from workitems.services.workitem_body import workitem_create_body

logger = logging.getLogger(__name__)

BULK_JOB_SIZE = 50  # [DEV] "a maximum of 50 workitem entities" per bulk add job
BULK_THRESHOLD = 10  # Fewer items than this go one by one.
MAX_CREATE_ATTEMPTS = 3
MAX_POLL_ROUNDS = 100  # a bound on polling, whatever SUBMIT_JOB_MAX_WAIT_SECONDS says
# When Genesys gives no time of its own, our clock may run ahead of its clock by this much.
CLOCK_SKEW = timedelta(minutes=1)
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
                item_entry(item, actor=actor, action="workitem.submit.requested")
                for item in WorkItem.objects.filter(pk__in=result.queued).only(
                    "pk", "external_ref", "genesys_id"
                )
            ]
            + [
                item_entry(
                    item,
                    actor=actor,
                    action="workitem.submit.refused",
                    outcome=Outcome.REFUSED,
                    context={"reason": reason},
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
    held = send_claims.send_claims_take(item_ids=list(item_ids), owner=owner, offered=queued_claim)
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


def _adopt(
    run: _Run, item: WorkItem, workitem: dict[str, Any], *, found: bool, summary: bool = False
) -> None:
    """The item is in Genesys as `workitem["id"]`: record that, and what Genesys says of it.

    `summary`: `workitem` is a bulk job's BulkJobAddWorkitemSummary {id, name, workbin, type},
    which carries no status and no dates; only the Genesys id is taken from it (never empty
    status or dates over what the item holds), and the state and dates arrive with the item's
    events, a GET or reconciliation."""
    now = timezone.now()
    fields = {"genesys_id": workitem["id"]} if summary else genesys_state_fields(workitem=workitem)
    fields.update(
        local_state=LocalState.SUBMITTED,
        submitted_at=now,
        last_error="",
        last_error_context_id="",
        next_attempt_at=None,
        updated_at=now,
    )
    for name, value in fields.items():
        setattr(item, name, value)
    if not summary:
        workitem_sla_start(item=item)
        fields.update({name: getattr(item, name) for name in SLA_FIELDS})
    with transaction.atomic():
        # The rollup's "before" from the row itself: an event may have dated the item already.
        row = WorkItem.objects.select_for_update().get(pk=item.pk)
        rollup_before = rollup_marks(row)
        WorkItem.objects.filter(pk=item.pk).update(**fields)
        for name, value in fields.items():
            setattr(row, name, value)
        rollup_note_change(before=rollup_before, item=row)
    item.local_state = LocalState.SUBMITTED
    (run.summary.adopted if found else run.summary.submitted).append(item.pk)
    run.audit.append(
        item_entry(
            item,
            actor=run.actor,
            action="workitem.submit",
            outcome=Outcome.SUCCESS,
            context={
                "genesys_id": workitem["id"],
                "found_existing": found,
                "source": "bulk job results" if summary else "Genesys work item",
            },
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
        item_entry(
            item,
            actor=run.actor,
            action="workitem.submit",
            outcome=Outcome.FAILURE,
            context={"error": message, "contextId": context_id},
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
        item_entry(
            i,
            actor=run.actor,
            action="workitem.submit.parked",
            outcome=Outcome.INFO,
            context={"until": until.isoformat(), "contextId": exc.context_id},
        )
        for i in items
    )
    _schedule_resume(ids, run.actor, until)
    run.progress(f"{len(ids)} items parked until {until:%H:%M} UTC: {exc.message}")


def _defer(run: _Run, items: list[WorkItem], message: str) -> None:
    """Their outcome is not known yet: they stay SUBMITTING with create_attempted_at set, so the
    resume sweep looks each up by externalTag before it is ever sent again."""
    ids = [i.pk for i in items if i.local_state == LocalState.SUBMITTING]
    if not ids:
        return
    WorkItem.objects.filter(pk__in=ids, local_state=LocalState.SUBMITTING).update(
        last_error=message[:2000], updated_at=timezone.now()
    )
    run.audit.extend(
        item_entry(
            i,
            actor=run.actor,
            action="workitem.submit.deferred",
            outcome=Outcome.INFO,
            context={"reason": message},
        )
        for i in items
        if i.pk in ids
    )
    run.progress(f"{len(ids)} items left for a later look-up: {message}")


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


def _search(
    run: _Run, filters: list[dict[str, Any]], wanted: set[str], found: dict[str, dict[str, Any]]
) -> None:
    """Add to `found` the items the query returns whose externalTag is `wanted`, reading every
    page (short and empty ones too) until `after` is absent or all of `wanted` are found."""
    pages = run.client.iter_workitem_pages(filters=filters, page_size=CURSOR_PAGE_SIZE)
    while not wanted <= found.keys():
        run.summary.api_calls += 1
        page = next(pages, None)
        if page is None:
            run.summary.api_calls -= 1  # the listing had ended: no request was made
            return
        for wi in page.get("entities") or []:
            tag = wi.get("externalTag") or ""
            if tag in wanted:
                found.setdefault(tag, wi)


def _by_worktype(items: list[WorkItem]) -> dict[str, list[WorkItem]]:
    by_type: dict[str, list[WorkItem]] = {}
    for item in items:
        by_type.setdefault(item.worktype.genesys_id, []).append(item)
    return by_type


def _type_filter(type_id: str) -> dict[str, Any]:
    return {"name": "typeId", "type": "String", "operator": "EQ", "values": [type_id]}


def _lookup(run: _Run, items: list[WorkItem]) -> dict[str, dict[str, Any]]:
    """Find items in Genesys by externalTag: per worktype, one query per SUBMIT_LOOKUP_CHUNK
    refs (the most values an IN filter takes is not confirmed), each read to its last page."""
    found: dict[str, dict[str, Any]] = {}
    size = settings.SUBMIT_LOOKUP_CHUNK
    for type_id, of_type in _by_worktype(items).items():
        refs = [i.external_ref for i in of_type]
        for start in range(0, len(refs), size):
            chunk = refs[start : start + size]
            tag = {
                "name": "externalTag",
                "type": "String",
                "operator": "EQ" if len(chunk) == 1 else "IN",
                "values": chunk,
            }
            _search(run, [_type_filter(type_id), tag], set(chunk), found)
    return found


def _find_created_since(
    run: _Run, items: list[WorkItem], since: datetime
) -> dict[str, dict[str, Any]]:
    """Find what our bulk jobs created: per worktype, the items created since the first job,
    every page (about one request per 200 items, whatever the IN cap), matched by externalTag.
    Stops as soon as all are found; items others created meanwhile only cost pages."""
    found: dict[str, dict[str, Any]] = {}
    created = {
        "name": "dateCreated",
        "type": "String",
        "operator": "GTE",
        "values": [genesys_datetime(since)],
    }
    for type_id, of_type in _by_worktype(items).items():
        _search(run, [_type_filter(type_id), created], {i.external_ref for i in of_type}, found)
    return found


def _adopt_existing(run: _Run, items: list[WorkItem]) -> list[WorkItem]:
    """Adopt the items Genesys already has; return those it does not."""
    if not items:
        return []
    found = _lookup(run, items)
    missing = []
    for item in items:
        if item.external_ref in found:
            _adopt(run, item, found[item.external_ref], found=True)
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


@dataclass
class _Job:
    """A bulk add job we created and started, with the items it was given, in order."""

    id: str
    items: list[WorkItem]
    state: str = "Queued"


def _submit_bulk(run: _Run, items: list[WorkItem]) -> None:
    """Bulk add jobs of ≤ 50: each is created (Genesys makes it Idle) and then started (PATCH
    Queued), and the jobs are collected together (see _collect_jobs). The happy path costs
    POST + PATCH per 50 items, one poll, and about one look-up page per 200 items."""
    jobs: list[_Job] = []
    since: datetime | None = None
    waiting = list(items)
    while waiting:
        chunk, waiting = waiting[:BULK_JOB_SIZE], waiting[BULK_JOB_SIZE:]
        bodies = [workitem_create_body(item=i, bulk=True) for i in chunk]
        _mark_attempt(chunk)
        posted_at = timezone.now()
        try:
            job = _call(run, run.client.create_bulk_add_job, entities=bodies)
        except RateLimited:
            raise
        except GenesysError as exc:
            if not exc.outcome_unknown:
                for item in chunk:
                    _fail(run, item, f"{exc.message} {exc.hint}".strip(), exc.context_id or "")
                continue
            # The answer, and with it the job's id, was lost. Such a job is Idle and nobody can
            # start it, so it never runs: what the look-up does not find goes again.
            _lookup_delay()
            waiting += _retry_or_fail(run, _adopt_existing(run, chunk), exc)
            continue
        # Genesys's own clock, from the job it just made: the look-up window starts there.
        created = parse_genesys_datetime(job.get("dateModified")) or (posted_at - CLOCK_SKEW)
        since = min(since or created, created)
        if _start_job(run, job["id"], chunk):
            jobs.append(_Job(id=job["id"], items=chunk))
    if jobs:
        _collect_jobs(run, jobs, since=(since or timezone.now()) - timedelta(seconds=1))


def _retry_or_fail(run: _Run, items: list[WorkItem], exc: GenesysError) -> list[WorkItem]:
    """Items known to be absent from Genesys: those with attempts left go again."""
    again = []
    for item in items:
        if item.submit_attempts >= MAX_CREATE_ATTEMPTS:
            _fail(
                run,
                item,
                f"No answer from Genesys after {item.submit_attempts} attempts and not found "
                f"by externalTag: {exc}",
                exc.context_id or "",
            )
        else:
            again.append(item)
    return again


def _start_job(run: _Run, job_id: str, chunk: list[WorkItem]) -> bool:
    """PATCH the Idle job to Queued. True when it started, or may have (then the collection
    finds out). A job that did not start is deleted while Idle (or terminated), so it can never
    run behind our back, and its items are never sent again without a look-up."""
    try:
        _call(run, run.client.start_bulk_add_job, job_id=job_id)
        return True
    except RateLimited:
        raise  # the items are parked; an Idle job nobody starts never runs
    except GenesysError as exc:
        refusal = exc
    try:  # did it start after all (an answer lost after Genesys applied it)?
        state = _call(run, run.client.get_bulk_add_job, job_id=job_id).get("state")
    except RateLimited:
        raise
    except GenesysError:
        return True  # unknown: if it runs, the collection's look-up finds its items
    if state != "Idle":
        return True
    removed = _discard_job(run, job_id)
    what = f"Genesys did not start bulk job {job_id}: {refusal}"
    what += (
        "; the job was removed unrun, so none of its items was created"
        if removed
        else "; it could not be removed but stays Idle, which never runs"
    )
    if refusal.outcome_unknown:
        _defer(run, chunk, what + ". They will be looked up and sent again.")
    else:
        for item in chunk:
            _fail(run, item, what, refusal.context_id or "")
    return False


def _discard_job(run: _Run, job_id: str) -> bool:
    """DELETE the Idle job, or failing that PATCH it Terminated (both only work while Idle)."""
    for fn in (run.client.delete_bulk_add_job, run.client.terminate_bulk_add_job):
        try:
            _call(run, fn, job_id=job_id)
            return True
        except RateLimited:
            raise
        except GenesysError:
            continue
    return False


def _poll_delays() -> Iterator[float]:
    """Waits between polls: SUBMIT_JOB_POLL_SECONDS, doubling up to 10 s, until they add up to
    SUBMIT_JOB_MAX_WAIT_SECONDS. With no interval (tests) a few rounds, back to back."""
    delay = float(settings.SUBMIT_JOB_POLL_SECONDS)
    total, rounds = 0.0, 0
    while total <= settings.SUBMIT_JOB_MAX_WAIT_SECONDS and rounds < (
        MAX_POLL_ROUNDS if delay else 5
    ):
        yield delay
        total += delay
        rounds += 1
        delay = min(delay * 2, 10.0)


def _collect_jobs(run: _Run, jobs: list[_Job], *, since: datetime) -> None:
    """Map every started job's items to what Genesys created, within a bounded total wait.

    Each round, after a wait: one GET of the newest unfinished job (while it is still queued,
    nothing more is asked); then one look-up of every missing item by worktype and creation
    time; then, only for jobs still missing items, their state, and once finished their
    results (a summary per entity, in order). Whatever is still unknown at the end is left for
    the resume sweep, which looks it up before anything is sent again."""
    pending = list(jobs)
    for delay in _poll_delays():
        time.sleep(delay)
        newest = pending[-1]
        if newest.state not in JOB_DONE and not _refresh(run, newest):
            continue
        missing = [
            i for job in pending for i in job.items if i.local_state == LocalState.SUBMITTING
        ]
        try:
            found = _find_created_since(run, missing, since)
        except RateLimited:
            raise
        except GenesysError as exc:
            # How Genesys takes a dateCreated filter is not confirmed: if it refuses this one,
            # each finished job's results still map its items (one or two calls per job).
            logger.warning("bulk look-up by creation time failed (%s); using job results", exc)
            found = {}
        for item in missing:
            if item.external_ref in found:
                _adopt(run, item, found[item.external_ref], found=False)
        still: list[_Job] = []
        for job in pending:
            left = [i for i in job.items if i.local_state == LocalState.SUBMITTING]
            if not left:
                continue
            if job.state in JOB_DONE or _refresh(run, job):
                _map_job_results(run, job, left)
            else:
                still.append(job)
        pending = still
        if not pending:
            return
    for job in pending:
        _defer(
            run,
            job.items,
            f"Bulk job {job.id} was still {job.state} after "
            f"{settings.SUBMIT_JOB_MAX_WAIT_SECONDS:g} s (SUBMIT_JOB_MAX_WAIT_SECONDS)",
        )


def _refresh(run: _Run, job: _Job) -> bool:
    """Read the job's state; True once it has finished. An error leaves it as it was."""
    try:
        job.state = _call(run, run.client.get_bulk_add_job, job_id=job.id).get("state") or ""
    except RateLimited:
        raise
    except GenesysError as exc:
        logger.warning("bulk job %s: state not read (%s)", job.id, exc)
    return job.state in JOB_DONE


def _map_job_results(run: _Run, job: _Job, left: list[WorkItem]) -> None:
    """Per-item outcome of a finished job, for the items the look-up did not find. Results are
    in the order of the job's entities (BulkJobAddResponse); a summary maps to the Genesys id
    only, an error fails the item, and no usable result leaves it for a later look-up."""
    response = _call(run, run.client.get_bulk_add_job_results, job_id=job.id) or {}
    results = response.get("results") or []
    unknown = []
    for index, item in enumerate(job.items):
        if item not in left:
            continue
        result = results[index] if index < len(results) else {}
        entity, error = result.get("entity") or {}, result.get("error")
        if entity.get("id") and entity.get("name", item.name) == item.name:
            _adopt(run, item, entity, found=False, summary=True)
        elif error:
            _fail(run, item, error.get("message") or f"bulk job {job.id} refused it")
        else:
            unknown.append(item)
    if unknown:
        _defer(run, unknown, f"Bulk job {job.id} ended {job.state} without a result for them")


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
