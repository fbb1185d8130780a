"""django-q2 entry points for the audit trail. Thin: each calls one service."""

from __future__ import annotations

from audits.chain import audit_seal


def seal_audit_trail() -> str:
    return audit_seal().line()
