"""Reading and writing simulated Genesys objects (SimEntity rows) as plain dicts with an "id"."""

from __future__ import annotations

import uuid
from typing import Any

from simulator import clock
from simulator.errors import not_found
from simulator.models import SimEntity

Entity = dict[str, Any]


def parse_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def _entity(row: SimEntity) -> Entity:
    return {**row.data, "id": str(row.entity_id)}


def get(kind: str, entity_id: Any) -> Entity | None:
    ident = parse_id(entity_id)
    if ident is None:
        return None
    row = SimEntity.objects.filter(kind=kind, entity_id=ident).first()
    return _entity(row) if row else None


def require(kind: str, entity_id: Any, *, entity_name: str) -> Entity:
    """The entity, or a Genesys 404."""
    found = get(kind, entity_id)
    if found is None:
        raise not_found(entity_name, str(entity_id))
    return found


def many(kind: str, ids: list[Any]) -> dict[str, Entity]:
    idents = [i for i in (parse_id(x) for x in ids) if i]
    rows = SimEntity.objects.filter(kind=kind, entity_id__in=idents)
    return {str(r.entity_id): _entity(r) for r in rows}


def all_of(kind: str, *, parent: Any = None, external_tag: str | None = None) -> list[Entity]:
    rows = SimEntity.objects.filter(kind=kind)
    if parent is not None:
        rows = rows.filter(parent_id=parse_id(parent))
    if external_tag is not None:
        rows = rows.filter(external_tag=external_tag)
    return [_entity(r) for r in rows.order_by("pk")]


def count(kind: str) -> int:
    return SimEntity.objects.filter(kind=kind).count()


def put(
    kind: str,
    entity_id: Any,
    data: dict[str, Any],
    *,
    parent: Any = None,
    external_tag: str = "",
) -> str:
    """Create or replace an entity's data: "created", "updated" or "unchanged" (no write)."""
    ident = parse_id(entity_id)
    if ident is None:
        raise ValueError(f"not a UUID: {entity_id!r}")
    data = {k: v for k, v in data.items() if k != "id"}
    parent_id = parse_id(parent) if parent is not None else None
    tag = (external_tag or "")[:256]
    row = SimEntity.objects.filter(kind=kind, entity_id=ident).first()
    now = clock.now()
    if row is None:
        SimEntity.objects.create(
            kind=kind,
            entity_id=ident,
            parent_id=parent_id,
            external_tag=tag,
            data=data,
            created_at=now,
            updated_at=now,
        )
        return "created"
    if row.data == data and row.parent_id == parent_id and row.external_tag == tag:
        return "unchanged"
    SimEntity.objects.filter(pk=row.pk).update(
        data=data, parent_id=parent_id, external_tag=tag, updated_at=now
    )
    return "updated"


def delete(kind: str, entity_id: Any) -> bool:
    ident = parse_id(entity_id)
    return bool(ident and SimEntity.objects.filter(kind=kind, entity_id=ident).delete()[0])
