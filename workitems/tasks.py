"""django-q2 entry points. Thin: each calls one service."""

from __future__ import annotations

from datetime import datetime

from workitems.services.delivery import deliveries_replay_window, send_due_deliveries
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


def replay_deliveries(start_iso: str, end_iso: str, actor: str) -> str:
    """deliveries_replay_window, queued by deliveries_replay_request (ISO strings pickle)."""
    result = deliveries_replay_window(
        start=datetime.fromisoformat(start_iso), end=datetime.fromisoformat(end_iso), actor=actor
    )
    return result.line()
