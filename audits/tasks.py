"""django-q2 entry points for the audit trail. Thin: each calls one service."""

from __future__ import annotations

from audits.chain import audit_seal
from audits.verification import audit_chain_check


def seal_audit_trail() -> str:
    return audit_seal().line()


def verify_audit_trail() -> str:
    _sealed, result, _run = audit_chain_check(actor="system")
    if result.ok:
        return f"audit chain intact: {result.checked} rows"
    return f"audit chain BROKEN: {result.problems[0].message}"
