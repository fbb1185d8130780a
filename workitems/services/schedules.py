"""The portal's django-q2 schedules, registered idempotently by name."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django_q.models import Schedule


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    minutes: int


def portal_schedules() -> list[ScheduleSpec]:
    return [
        ScheduleSpec(
            name="reference-data-sync",
            func="workitems.tasks.sync_reference_data",
            minutes=settings.GENESYS_SYNC_MINUTES,
        ),
        ScheduleSpec(name="sla-sweep", func="workitems.tasks.run_sla_sweep", minutes=1),
        # A safety net: `process_events --forever` drains continuously where it runs.
        ScheduleSpec(name="inbound-events", func="workitems.tasks.drain_events", minutes=1),
        ScheduleSpec(
            name="downstream-deliveries", func="workitems.tasks.send_deliveries", minutes=1
        ),
        # Chains the audit rows committed since the last run (audits.chain).
        ScheduleSpec(name="audit-seal", func="audits.tasks.seal_audit_trail", minutes=1),
        # The whole walk, daily; its result is the dashboard's "last verification".
        ScheduleSpec(name="audit-verify", func="audits.tasks.verify_audit_trail", minutes=1440),
        ScheduleSpec(name="reconcile", func="workitems.tasks.reconcile_stale_items", minutes=5),
        ScheduleSpec(
            name="submission-resume",
            func="workitems.tasks.resume_submissions",
            minutes=5,
        ),
    ]


def schedules_register() -> list[tuple[str, bool]]:
    """Create or update each schedule; returns (name, created) pairs. Safe to run repeatedly."""
    results = []
    for spec in portal_schedules():
        _, created = Schedule.objects.update_or_create(
            name=spec.name,
            defaults={
                "func": spec.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": spec.minutes,
                "repeats": -1,
            },
        )
        results.append((spec.name, created))
    return results
