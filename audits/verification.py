"""verify_audit's services: seal, walk the chain, record the run (shown on the dashboard)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from audits.chain import SealResult, VerifyResult, audit_seal, audit_verify
from audits.models import AuditVerification


def audit_chain_check(
    *, actor: str, since: datetime | None = None, wait: float = 10.0
) -> tuple[SealResult, VerifyResult, AuditVerification]:
    """Seal what is committed, verify the chain, keep the outcome as an AuditVerification."""
    started = timezone.now()
    sealed = audit_seal(wait=wait)
    result = audit_verify(since=since)
    run = AuditVerification.objects.create(
        started_at=started,
        finished_at=timezone.now(),
        actor=actor,
        since=since,
        ok=result.ok,
        rows_checked=result.checked,
        rows_sealed=sealed.sealed,
        rows_unsealed=result.unsealed,
        first_problem=result.problems[0].message if result.problems else "",
        problems=[p.as_dict() for p in result.problems],
    )
    return sealed, result, run


def last_verification() -> AuditVerification | None:
    return AuditVerification.objects.filter(export_file="").order_by("-started_at", "-id").first()
