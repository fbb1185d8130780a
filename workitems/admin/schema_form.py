"""Typed form inputs for a worktype's custom fields, built from its stored `schema_fields`.

Each field of the schema becomes one input of the right kind (text, long text, number, whole
number, yes/no, date, date-time, choice, list), titled as in Genesys, with the schema's limits
as HTML hints and its default as the placeholder. The inputs only turn text into JSON values:
whether the values are right is decided by `services.custom_fields.custom_fields_check` (the one
owner of that rule), whose sentences name each field by its title and are shown beside it.
A value that cannot be read as its type (a number typed as "lots") is passed on as text, so that
the check says what is wrong in its own words.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.utils import timezone

from portal.json_safety import UnsafeJSON, json_loads_checked

PREFIX = "cf__"
LIST_SEPARATOR = ";"
_EMPTY = object()


class SchemaField(forms.CharField):
    """Marked required (label, HTML attribute) without Django refusing an empty value itself:
    the schema check reports a missing required field, by its title."""

    def __init__(self, *, core_type: str, key: str, **kwargs):
        self.core_type, self.key = core_type, key
        super().__init__(**kwargs)

    def validate(self, value):
        if value in self.empty_values:
            return
        super().validate(value)


def form_name(key: str) -> str:
    return PREFIX + key


def _hint(core: str, constraints: dict[str, Any]) -> str:
    low, high = constraints.get("minimum"), constraints.get("maximum")
    low_len, high_len = constraints.get("minLength"), constraints.get("maxLength")
    parts = []
    if core in ("integer", "number"):
        if low is not None and high is not None:
            parts.append(f"{low} to {high}")
        elif low is not None:
            parts.append(f"at least {low}")
        elif high is not None:
            parts.append(f"at most {high}")
    if low_len and high_len:
        parts.append(f"{low_len} to {high_len} characters")
    elif high_len:
        parts.append(f"at most {high_len} characters")
    if core == "tag":
        parts.append(f"items separated by {LIST_SEPARATOR}")
    if core == "datetime":
        parts.append(f"in {timezone.get_current_timezone_name()}, stored in UTC")
    return "; ".join(parts)


def _widget(core: str, constraints: dict[str, Any], placeholder: str) -> forms.Widget:
    attrs: dict[str, Any] = {"placeholder": placeholder} if placeholder else {}
    if "maxLength" in constraints:
        attrs["maxlength"] = constraints["maxLength"]
    if core in ("integer", "number"):
        attrs["step"] = "1" if core == "integer" else "any"
        for limit, attr in (("minimum", "min"), ("maximum", "max")):
            if limit in constraints:
                attrs[attr] = constraints[limit]
        return forms.NumberInput(attrs=attrs)
    if core == "checkbox":
        default = constraints.get("default")
        empty = (
            "— not set —"
            if default is None
            else f"— not set (default: {'yes' if default else 'no'}) —"
        )
        return forms.Select(choices=[("", empty), ("true", "Yes"), ("false", "No")])
    if core == "enum" or "enum" in constraints:
        empty = f"— not set (default: {placeholder}) —" if placeholder else "— not set —"
        choices = [("", empty)] + [(str(v), str(v)) for v in constraints.get("enum") or []]
        return forms.Select(choices=choices)
    if core == "date":
        return forms.DateInput(attrs={**attrs, "type": "date"})
    if core == "datetime":
        return forms.DateTimeInput(attrs={**attrs, "type": "datetime-local", "step": "1"})
    if core == "longtext":
        return forms.Textarea(attrs={**attrs, "rows": 3, "cols": 60})
    if core == "url":
        return forms.URLInput(attrs=attrs)
    if core in ("text", "identifier", "tag"):
        return forms.TextInput(attrs={**attrs, "size": 40})
    return forms.Textarea(attrs={**attrs, "rows": 2, "cols": 60})  # any other type: JSON


def schema_form_fields(schema_fields: list[dict[str, Any]]) -> dict[str, SchemaField]:
    """One form field per custom field of the schema, in the schema's order."""
    fields = {}
    for spec in schema_fields:
        key = str(spec.get("key") or "")
        if not key:
            continue
        core = str(spec.get("core_type") or "")
        constraints = spec.get("constraints") or {}
        default = constraints.get("default")
        placeholder = "" if default is None else display_value(core, default)
        title = spec.get("title") or key
        hint = _hint(core, constraints)
        description = spec.get("description") or ""
        fields[form_name(key)] = SchemaField(
            core_type=core,
            key=key,
            label=title,
            required=bool(spec.get("required")),
            strip=True,
            help_text=" — ".join(p for p in (description, hint, f"key {key}") if p),
            widget=_widget(core, constraints, placeholder),
        )
    return fields


def display_value(core: str, value: Any) -> str:
    """A stored JSON value as its input shows it."""
    if value is None:
        return ""
    if core == "checkbox" and isinstance(value, bool):
        return "true" if value else "false"
    if core == "tag" and isinstance(value, list):
        return f"{LIST_SEPARATOR} ".join(str(v) for v in value)
    if core == "datetime" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if timezone.is_aware(moment):
            return timezone.localtime(moment).replace(tzinfo=None).isoformat(timespec="seconds")
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _number(text: str, *, whole: bool) -> Any:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        return text
    if isinstance(value, float):
        if not math.isfinite(value):
            return text
        if value.is_integer() and not any(c in text for c in ".eE"):
            return int(value)
    return value


def _datetime(text: str) -> Any:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def json_value(core: str, text: str) -> Any:
    """What an input's text means as the JSON value Genesys takes; `_EMPTY` for no value. Text
    that does not read as the field's type is returned as it is, for the check to name."""
    text = (text or "").strip()
    if not text:
        return _EMPTY
    if core == "integer":
        return _number(text, whole=True)
    if core == "number":
        return _number(text, whole=False)
    if core == "checkbox":
        return {"true": True, "false": False}.get(text.lower(), text)
    if core == "tag":
        return [t.strip() for t in text.split(LIST_SEPARATOR) if t.strip()]
    if core == "datetime":
        return _datetime(text)
    if core in ("text", "longtext", "url", "identifier", "enum", "date"):
        return text
    try:
        return json_loads_checked(text)
    except UnsafeJSON:
        return text


def custom_fields_from(cleaned: dict[str, Any], fields: dict[str, SchemaField]) -> dict[str, Any]:
    """The custom_fields object the typed inputs say; empty inputs are left out (Genesys applies
    the schema's default)."""
    values = {}
    for name, field in fields.items():
        value = json_value(field.core_type, cleaned.get(name) or "")
        if value is not _EMPTY:
            values[field.key] = value
    return values
