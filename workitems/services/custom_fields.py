"""Custom fields against the worktype's custom-field schema: the one owner of that rule.

Routability, the CSV import and the admin form all call `custom_fields_check`, so an item is
judged the same way wherever it is made. Problems name each field by its title and key, as a
supervisor sees it in Genesys: "Amount (amount_number) must be a number".

Where the schema comes from (docs/GENESYS.md §2): a worktype holds only a reference `{id, version}`; the
reference sync fetches `GET /workitems/schemas/{id}/versions/{version}` (a DataSchema) and stores
its `jsonSchema` on the worktype, with `schema_fields` (see `schema_fields`) for anything that
builds a form from it. A worktype with no schema accepts no custom fields.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import referencing.exceptions

# Genesys schemas point each field at a core type ("#/definitions/<core>"); when the stored schema
# does not carry those definitions, these stand in so the reference resolves and the basic type
# holds. The date formats are those of the official examples (docs/GENESYS.md §2: "2021-01-01",
# "2021-01-01T00:00:00.000Z").
CORE_TYPES: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "longtext": {"type": "string"},
    "url": {"type": "string"},
    "identifier": {"type": "string"},
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
_DEFINITION_REF = re.compile(r"^#/definitions/([^/]+)$")
# The JSON Schema keywords a form builder needs, copied from each property as they are.
CONSTRAINTS = (
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "items",
    "default",
)
_TYPE_WORDS = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
}
_FORMAT_EXAMPLES = {
    "date": "a date such as 2026-01-31",
    "datetime": "a date-time in UTC such as 2026-01-31T12:00:00.000Z",
}
FIELDS_SHOWN = 10  # "its fields are …" lists at most this many


@dataclass
class CustomFieldCheck:
    """`problems`: sentences, each a reason the fields break the schema. `unchecked`: why the
    fields could not be judged at all (no schema fetched yet, a schema that cannot be applied)."""

    problems: list[str] = field(default_factory=list)
    unchecked: str = ""
    # The same problems by the field key they are about (a form shows each beside its input);
    # problems about no one field (the fields are not an object) are under "".
    by_field: dict[str, list[str]] = field(default_factory=dict)

    def add(self, key: str, sentence: str) -> None:
        if sentence not in self.problems:
            self.problems.append(sentence)
            self.by_field.setdefault(key, []).append(sentence)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- the schema, as stored on the worktype ----------------------------------------------------


def _core_type(key: str, spec: Mapping[str, Any]) -> str:
    for part in spec.get("allOf") or []:
        ref = part.get("$ref") if isinstance(part, Mapping) else None
        if isinstance(ref, str) and (m := _DEFINITION_REF.match(ref)):
            return m.group(1)
    ref = spec.get("$ref")
    if isinstance(ref, str) and (m := _DEFINITION_REF.match(ref)):
        return m.group(1)
    suffix = key.rsplit("_", 1)[-1]
    return suffix if suffix in CORE_TYPES else str(spec.get("type") or "")


def schema_fields(json_schema: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The schema's fields in order, one dict each: key, title, description, core type,
    required, and the JSON Schema constraints (enum, minimum, maxLength…) under their own names.
    This is what the admin shows and what a form builder needs; the full schema stays in
    `WorkType.json_schema` for validation."""
    if not isinstance(json_schema, Mapping):
        return []
    properties = json_schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    required = set(json_schema.get("required") or [])
    fields = []
    for key, spec in properties.items():
        spec = spec if isinstance(spec, Mapping) else {}
        fields.append(
            {
                "key": key,
                "title": str(spec.get("title") or ""),
                "description": str(spec.get("description") or ""),
                "core_type": _core_type(key, spec),
                "required": key in required,
                "constraints": {c: spec[c] for c in CONSTRAINTS if c in spec},
            }
        )
    return fields


def field_label(json_schema: Mapping[str, Any] | None, key: str) -> str:
    """ "Amount (amount_number)", or the key alone when the schema gives no title."""
    properties = (json_schema or {}).get("properties") if isinstance(json_schema, Mapping) else None
    spec = properties.get(key) if isinstance(properties, Mapping) else None
    title = spec.get("title") if isinstance(spec, Mapping) else None
    return f"{title} ({key})" if title else key


# --- validation -------------------------------------------------------------------------------


def _with_core_types(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with stand-in definitions for referenced core types it does not define."""
    refs: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and (m := _DEFINITION_REF.match(ref)):
                refs.add(m.group(1))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    definitions = schema.get("definitions") if isinstance(schema.get("definitions"), dict) else {}
    missing = {r for r in refs if r not in definitions and r in CORE_TYPES}
    if not missing:
        return schema
    schema = copy.deepcopy(schema)
    schema.setdefault("definitions", {})
    for name in missing:
        schema["definitions"][name] = CORE_TYPES[name]
    return schema


def _and_list(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _sentence(error: jsonschema.ValidationError, schema: Mapping[str, Any]) -> str:
    """One validation error as a sentence that names the field by title."""
    path = list(error.absolute_path)
    key = str(path[0])
    label = field_label(schema, key)
    if len(path) > 1 and isinstance(path[1], int):
        label += f" item {path[1] + 1}"
    spec = (schema.get("properties") or {}).get(key) or {}
    core = _core_type(key, spec if isinstance(spec, Mapping) else {})
    kind, value = error.validator, error.validator_value
    if kind == "type":
        wanted = value if isinstance(value, list) else [value]
        return f"{label} must be {' or '.join(_TYPE_WORDS.get(w, w) for w in wanted)}"
    if kind == "enum":
        return f"{label} must be one of {', '.join(str(v) for v in value)}"
    if kind in ("pattern", "format") and core in _FORMAT_EXAMPLES:
        return f"{label} must be {_FORMAT_EXAMPLES[core]}"
    if kind == "minimum":
        return f"{label} must be at least {value}"
    if kind == "maximum":
        return f"{label} must be at most {value}"
    if kind == "exclusiveMinimum":
        return f"{label} must be more than {value}"
    if kind == "exclusiveMaximum":
        return f"{label} must be less than {value}"
    if kind == "minLength":
        return f"{label} must be at least {value} characters long"
    if kind == "maxLength":
        return f"{label} must be at most {value} characters long"
    if kind == "minItems":
        return f"{label} must hold at least {value} items"
    if kind == "maxItems":
        return f"{label} must hold at most {value} items"
    if kind == "uniqueItems":
        return f"{label} must not repeat an item"
    return f"{label}: {error.message}"


def custom_fields_check(*, worktype: Any, fields: Any) -> CustomFieldCheck:
    """Judge `fields` (an item's custom fields) against `worktype`'s stored schema.

    `worktype` needs `name`, `schema_id` and `json_schema`. Every problem is reported, so one
    round of fixes is enough.
    """
    result = CustomFieldCheck()
    if fields in (None, ""):
        fields = {}
    if not isinstance(fields, Mapping):
        result.add(
            "",
            'Custom fields must be a JSON object of field key to value, e.g. {"amount_number": 12.5}.',
        )
        return result
    schema = worktype.json_schema
    if not worktype.schema_id:
        if fields:
            keys = _and_list(sorted(fields))
            result.add(
                "",
                f"Worktype {worktype.name} has no custom-field schema, so it accepts no custom "
                f"fields: remove {keys}.",
            )
        return result
    if not isinstance(schema, dict) or not schema:
        result.unchecked = (
            f"The custom-field schema of worktype {worktype.name} has not been fetched from "
            "Genesys yet (refresh reference data), so the custom fields were not validated."
        )
        return result
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    # The schema's own field order: PostgreSQL's jsonb does not keep an object's key order, so
    # the order comes from schema_fields (a list), stored beside the schema by the sync.
    stored = [f.get("key") for f in getattr(worktype, "schema_fields", None) or []]
    order = [k for k in stored if k in properties] or list(properties)
    order += [k for k in properties if k not in order]
    unknown = sorted(set(fields) - set(properties))
    if unknown:
        known = [field_label(schema, k) for k in order][:FIELDS_SHOWN]
        more = "…" if len(properties) > FIELDS_SHOWN else ""
        its = f"its fields are {', '.join(known)}{more}" if known else "it defines no fields"
        for key in unknown:
            result.add(key, f"{key} is not a custom field of worktype {worktype.name} ({its}).")
    full = _with_core_types(schema)
    validator_cls = jsonschema.validators.validator_for(full, default=jsonschema.Draft4Validator)
    try:
        validator_cls.check_schema(full)
        errors = list(validator_cls(full).iter_errors(dict(fields)))
    except (jsonschema.SchemaError, referencing.exceptions.Unresolvable) as exc:
        reason = exc.message if isinstance(exc, jsonschema.SchemaError) else str(exc)
        result.unchecked = (
            f"The custom-field schema of worktype {worktype.name} could not be applied "
            f"({reason}), so the custom fields were not validated."
        )
        return result
    for error in _ordered(errors, order):
        if not error.absolute_path:
            if error.validator == "required":
                required = set(schema.get("required") or [])
                missing = [k for k in order if k in required and k not in fields]
                missing += sorted(required - set(order) - set(fields))
                for k in missing:
                    result.add(k, f"{field_label(schema, k)} is required.")
            elif error.validator != "additionalProperties":  # reported above, by key
                result.add("", f"Custom fields: {error.message}.")
            continue
        result.add(str(error.absolute_path[0]), _sentence(error, schema) + ".")
    return result


def _ordered(
    errors: Iterable[jsonschema.ValidationError], keys: list[str]
) -> list[jsonschema.ValidationError]:
    """Errors in the schema's field order, then by message: stable and easy to read."""
    position = {k: i for i, k in enumerate(keys)}

    def sort_key(error: jsonschema.ValidationError) -> tuple:
        path = list(error.absolute_path)
        first = position.get(str(path[0]), len(keys)) if path else -1
        return (first, [str(p) for p in path], error.message)

    return sorted(errors, key=sort_key)
