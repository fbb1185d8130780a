"""django-q2 entry points. Thin: each calls one service."""

from __future__ import annotations

from workitems.services.reference_sync import reference_sync


def sync_reference_data(kinds: list[str] | None = None, actor: str = "system") -> dict:
    result = reference_sync(kinds=kinds, actor=actor)
    return {kind: vars(c) for kind, c in result.counts.items()}
