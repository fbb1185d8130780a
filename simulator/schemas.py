"""Custom-field schemas (DataSchema) and their versions (docs/GENESYS.md §2, "Custom-field schemas").

A schema entity holds its latest version's attributes (`version`, `jsonSchema`, `dateCreated`…)
and, under `history`, the earlier versions it replaced. A worktype points at one schema id and
version; a work item inherits both when it is created.
"""

from __future__ import annotations

from typing import Any

from simulator import render, store
from simulator.errors import not_found

Json = dict[str, Any]


def schema_versions(schema: Json) -> list[Json]:
    """Every version of a stored schema, oldest first, each with the schema's id and name."""
    latest = {k: v for k, v in schema.items() if k != "history"}
    earlier = [
        {**latest, **{k: v for k, v in old.items() if k != "history"}}
        for old in schema.get("history") or []
    ]
    return sorted([*earlier, latest], key=lambda s: s.get("version", 1))


def schema_version(schema_id: Any, version: Any) -> Json | None:
    """One version of a schema (None for an unknown id or version). `version` None: the latest."""
    schema = store.get(render.SCHEMA, schema_id)
    if schema is None:
        return None
    if version is None:
        return schema_versions(schema)[-1]
    try:
        wanted = int(version)
    except (TypeError, ValueError):
        return None
    return next((v for v in schema_versions(schema) if v.get("version", 1) == wanted), None)


def json_schema_of(schema_id: Any, version: Any) -> Json | None:
    """The JSON schema that applies to items of a worktype pinned to `schema_id`/`version`."""
    found = schema_version(schema_id, version) if schema_id else None
    return (found or {}).get("jsonSchema")


def require_version(schema_id: str, version: Any) -> Json:
    found = schema_version(schema_id, version)
    if found is None:
        if store.get(render.SCHEMA, schema_id) is None:
            raise not_found("Schema", schema_id)
        raise not_found("Schema version", f"{schema_id} version {version}")
    return found
