"""django-q2 entry points. Thin: each calls one service."""

from __future__ import annotations

from workitems.services.delivery import send_due_deliveries
from workitems.services.event_processor import process_events
from workitems.services.reconcile import reconcile_stale
from workitems.services.reference_sync import reference_sync
from workitems.services.sla import sla_sweep
from workitems.services.submission import submissions_resume, workitems_submit


def sync_reference_data(kinds: list[str] | None = None, actor: str = "system") -> dict:
    result = reference_sync(kinds=kinds, actor=actor)
    return {kind: vars(c) for kind, c in result.counts.items()}


def submit_workitems(item_ids: list[int], actor: str = "system", queued_claim: str = "") -> str:
    return workitems_submit(item_ids=item_ids, actor=actor, queued_claim=queued_claim).line()


def resume_submissions() -> str:
    summary = submissions_resume()
    return summary.line() if summary else "nothing to resume"


def run_sla_sweep() -> str:
    result = sla_sweep()
    return f"{result.breached} breached in {result.seconds:.3f}s"


def send_deliveries() -> str:
    return send_due_deliveries()


def drain_events() -> str:
    return process_events()


def reconcile_stale_items() -> str:
    return reconcile_stale().line()
