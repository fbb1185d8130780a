"""How the audit trail names a work item: one spelling of its object type, its id, and the
correlation id an analyst searches by (the external ref, else the Genesys id)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from audits.models import Outcome
from audits.services import AuditEntry


class ItemLike(Protocol):
    pk: int
    external_ref: str
    genesys_id: str | None


def item_entry(
    item: ItemLike,
    *,
    actor: str,
    action: str,
    outcome: str = Outcome.SUCCESS,
    context: Mapping[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(
        actor=actor,
        action=action,
        object_type="WorkItem",
        object_id=str(item.pk),
        correlation_id=item.external_ref or item.genesys_id or "",
        outcome=outcome,
        context=context or {},
    )
