"""Custom-field schemas: GET /taskmanagement/workitems/schemas[/{id}[/versions[/{version}]]].

Each answer is a DataSchema, or a DataSchemaListing {total, entities, selfUri} (openapi-subset).
"""

from __future__ import annotations

from django.http import HttpRequest

from simulator import render, store
from simulator.http import endpoint
from simulator.schemas import require_version, schema_versions

BASE = "/api/v2/taskmanagement/workitems/schemas"


def _listing(entities: list, self_uri: str) -> dict:
    return {"total": len(entities), "entities": entities, "selfUri": self_uri}


def list_schemas(request: HttpRequest):
    shown = [render.data_schema(schema_versions(s)[-1]) for s in store.all_of(render.SCHEMA)]
    return _listing(sorted(shown, key=lambda s: s["name"].lower()), BASE)


def get_schema(request: HttpRequest, schema_id: str):
    return render.data_schema(require_version(schema_id, None))


def list_versions(request: HttpRequest, schema_id: str):
    latest = require_version(schema_id, None)
    versions = schema_versions(store.get(render.SCHEMA, latest["id"]) or latest)
    return _listing(
        [render.data_schema(v) for v in reversed(versions)], f"{BASE}/{schema_id}/versions"
    )


def get_version(request: HttpRequest, schema_id: str, version_id: str):
    return render.data_schema(require_version(schema_id, version_id))


schemas = endpoint(get=list_schemas)
schema = endpoint(get=get_schema)
versions = endpoint(get=list_versions)
version = endpoint(get=get_version)
