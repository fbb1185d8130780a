"""Custom fields against a worktype's DataSchema (docs/GENESYS.md §2, "Custom-field schemas").

Genesys schemas point each field at a core type ("#/definitions/text"); the definitions below
stand in for Genesys's core types (GET /workitems/schemas/coretypes) so the references resolve.
"""

from __future__ import annotations

from typing import Any

import jsonschema

from simulator.errors import detail

CORE_TYPES: dict[str, dict[str, Any]] = {
    "text": {"type": "string", "maxLength": 100},
    "longtext": {"type": "string", "maxLength": 1000},
    "url": {"type": "string", "maxLength": 200},
    "identifier": {"type": "string", "maxLength": 100},
    "enum": {"type": "string"},
    "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
    "datetime": {
        "type": "string",
        "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$",
    },
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "checkbox": {"type": "boolean"},
    "tag": {"type": "array", "items": {"type": "string"}},
}


def custom_field_problems(json_schema: dict[str, Any] | None, fields: Any) -> list[dict[str, str]]:
    """ErrorBody details for each problem; empty when the fields fit the schema.

    No custom fields at all is accepted: the schema's `required` applies once any are sent
    (Genesys's behaviour here is NOT CONFIRMED).
    """
    if not isinstance(fields, dict):
        return [detail("customFields", "invalid.type")]
    if not fields:
        return []
    if not json_schema:
        return [detail(f"customFields.{key}", "unrecognized.field") for key in sorted(fields)]
    schema = {**json_schema, "definitions": {**CORE_TYPES, **json_schema.get("definitions", {})}}
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    validator = validator_cls(schema)
    problems: list[dict[str, str]] = []
    for error in validator.iter_errors(fields):
        if error.validator == "additionalProperties" and not error.absolute_path:
            extra = set(fields) - set(schema.get("properties") or {})
            problems += [detail(f"customFields.{k}", "unrecognized.field") for k in sorted(extra)]
        elif error.validator == "required" and not error.absolute_path:
            missing = [r for r in schema.get("required") or [] if r not in fields]
            problems += [detail(f"customFields.{k}", "required") for k in missing]
        else:
            path = ".".join(str(p) for p in error.absolute_path)
            problems.append(detail(f"customFields.{path}" if path else "customFields"))
    unique: dict[tuple[str, str], dict[str, str]] = {}
    for problem in problems:
        unique.setdefault((problem["fieldName"], problem["errorCode"]), problem)
    return sorted(unique.values(), key=lambda d: d["fieldName"])
