"""JSON a person typed or uploaded, checked before the portal stores it.

Python's json module accepts what PostgreSQL's jsonb, Genesys and most JSON consumers refuse, so
such input once passed a form or a CSV preview and failed later with a 500:

- `NaN`, `Infinity`, `-Infinity`: not JSON at all (RFC 8259), though Python reads them;
- numbers out of range: `1e400` becomes an infinite float; integers beyond ±(2**53 - 1) do not
  survive a JavaScript (or double-based) consumer unchanged;
- NUL (`\\u0000`) in a string or a key: PostgreSQL's jsonb and text cannot hold it; unpaired
  surrogates (`\\ud800`) have no UTF-8 form at all;
- deep nesting: 5,000 levels exhaust Python's recursion while parsing; no real value nests more
  than a few levels, so more than MAX_DEPTH is refused.

Each check raises UnsafeJSON whose message is a predicate naming where the problem is
(`holds NaN at $.order.lines[2], …`), so a caller can say "Row 7, custom_fields: " or "This "
before it. Used by the CSV import, the admin's JSON form fields and the admin's trigger test page;
schema rules (which fields, which types) are the worktype's business, not this module's.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django import forms
from django.forms.fields import InvalidJSONInput, JSONString

MAX_DEPTH = 32  # objects and arrays inside one another, the outermost counting as 1
MAX_SAFE_INTEGER = 2**53 - 1  # the largest integer every JSON consumer holds exactly
_KEY_SHOWN = 40
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class UnsafeJSON(ValueError):
    """The message is a predicate: "is not valid JSON (…)", "holds NaN at $.a, …"."""


class _Refused:
    """What the parser hooks put where a refused number or constant was, for the walk to report
    with its path: "{what} at {path}{why}"."""

    def __init__(self, what: str, why: str):
        self.what, self.why = what, why


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_character(text: str) -> str | None:
    """A description of the first character in `text` that cannot be stored, or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "a NUL character (\\u0000)"
    return f"an unpaired surrogate (\\u{ord(found.group()):04x})"


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    shown = key if len(key) <= _KEY_SHOWN else key[:_KEY_SHOWN] + "…"
    if _IDENTIFIER.match(shown):
        return f"{parent}.{shown}"
    # ASCII escapes: the message itself must be storable whatever the key holds.
    return f"{parent}[{json.dumps(shown, ensure_ascii=True)}]"


def _at(path: str) -> str:
    return "" if path == "$" else f" at {path}"


NOT_JSON = ", which JSON does not allow; use a number or null"
TOO_BIG = f", beyond ±{MAX_SAFE_INTEGER:,} (use a string)"
TOO_FAR = ", which is out of range (beyond what a 64-bit float holds)"


def _number_problem(value: int | float, at: str) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"holds {value!r}{at}{NOT_JSON}"
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        return f"holds the integer {value}{at}{TOO_BIG}"
    return None


def json_value_check(value: Any) -> None:
    """Raise UnsafeJSON for the first thing in `value` (parsed JSON) that cannot be stored."""
    stack: list[tuple[Any, str, int]] = [(value, "$", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            if depth > MAX_DEPTH:
                raise UnsafeJSON(f"is nested more than {MAX_DEPTH} levels deep{_at(path)}")
            if isinstance(item, dict):
                children = []
                for key, child in item.items():
                    key = str(key)
                    child_path = _path(path, key)
                    if problem := unstorable_character(key):
                        raise UnsafeJSON(f"has {problem} in the key{_at(child_path)}")
                    children.append((child, child_path, depth))
            else:
                children = [(child, _path(path, i), depth) for i, child in enumerate(item)]
            stack.extend(reversed(children))  # report the first problem in document order
        elif isinstance(item, str):
            if problem := unstorable_character(item):
                raise UnsafeJSON(f"holds {problem}{_at(path)}; remove it")
        elif isinstance(item, _Refused):
            raise UnsafeJSON(f"holds {item.what}{_at(path)}{item.why}")
        elif isinstance(item, int | float):
            if problem := _number_problem(item, _at(path)):
                raise UnsafeJSON(problem)
        elif item is not None and not isinstance(item, bool):
            raise UnsafeJSON(f"holds a value of type {type(item).__name__}{_at(path)}, not JSON")


def _constant(name: str) -> _Refused:
    return _Refused(name, NOT_JSON)


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(f"the number {text[:40]}", TOO_FAR)


def _int(text: str) -> int | _Refused:
    # Measured before int() so a 5,000-digit number is refused, not a ValueError from Python's
    # integer-string limit.
    digits = text.lstrip("-")
    if len(digits) <= 16 and abs(int(text)) <= MAX_SAFE_INTEGER:
        return int(text)
    shown = text if len(text) <= 40 else f"{text[:20]}… ({len(digits)} digits)"
    return _Refused(f"the integer {shown}", TOO_BIG)


def json_loads_checked(text: str) -> Any:
    """Parse JSON typed or uploaded by a person; UnsafeJSON for anything that cannot be stored."""
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise UnsafeJSON(f"is not valid JSON ({exc.msg} at character {exc.pos + 1})") from None
    except RecursionError:
        raise UnsafeJSON(f"is nested more than {MAX_DEPTH} levels deep") from None
    json_value_check(value)
    return value


class SafeJSONFormField(forms.JSONField):
    """forms.JSONField that refuses, with a message saying what and where, whatever
    json_loads_checked refuses (instead of a 500 from the database, or from the recursion limit,
    on save or on showing the form again).

    `if_empty` (a callable) is what an empty box, or `null`, means: None by default, `dict` for a
    column that cannot be NULL (Django stores None as SQL NULL: a NOT NULL violation, a 500).
    """

    def __init__(self, *, if_empty=None, **kwargs):
        super().__init__(**kwargs)
        self.if_empty = if_empty

    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return self.if_empty() if self.if_empty else None
        try:
            if isinstance(value, list | dict | int | float | JSONString):
                json_value_check(value)
                return value
            converted = json_loads_checked(value)
        except UnsafeJSON as exc:
            raise forms.ValidationError(f"This {exc}.", code="invalid") from None
        if converted is None and self.if_empty:
            return self.if_empty()
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            return json_loads_checked(data)
        except UnsafeJSON:
            return InvalidJSONInput(data)
