"""A small Goessner JSONPath for trigger match criteria (MatchCriteria.jsonPath, docs/GENESYS.md §4).

Supported: an optional leading `$`, dotted names (`operation`, `customFields.x.value`), bracketed
names (`$['customFields']['x']`), array indexes (`skillIds[0]`, negative counts from the end) and
the `*` wildcard (`sessions[*].type`, `customFields.*.value`). Not supported, and refused as such:
recursive descent (`..`), filters (`[?(…)]`), slices and unions. Genesys evaluates full Goessner
paths; a criterion using those features must be tried against the real org.

`extract()` returns every match as (normalised path, value), the normalised path in Genesys's
`MatchTestResult.path` form: `$['things'][1]`.
"""

from __future__ import annotations

import re
from typing import Any

WILDCARD = object()
_NAME = re.compile(r"[^.\[\]\s]+")
_INDEX = re.compile(r"-?\d+")


class JsonPathError(ValueError):
    """The path is malformed, or uses a feature this evaluator does not have."""


def parse(path: Any) -> list[Any]:
    """The steps of `path`: str (a member name), int (an index) or WILDCARD."""
    if not isinstance(path, str) or not path.strip():
        raise JsonPathError("a JSON path must be a non-empty string")
    text = path.strip()
    steps: list[Any] = []
    i = 0
    if text.startswith("$"):
        i = 1
        if i == len(text):
            return steps  # "$": the whole document
    elif text[0] in ".[":
        if text[0] == ".":
            raise JsonPathError(f"{path!r} starts with a dot")
    else:
        text = "." + text  # a bare first name: "operation" is "$.operation"
    while i < len(text):
        char = text[i]
        if char == ".":
            if text.startswith("..", i):
                raise JsonPathError(f"recursive descent (..) in {path!r} is not supported")
            i += 1
            if i < len(text) and text[i] == "*":
                steps.append(WILDCARD)
                i += 1
                continue
            found = _NAME.match(text, i)
            if not found:
                raise JsonPathError(f"a member name is missing after '.' in {path!r}")
            steps.append(found.group(0))
            i = found.end()
        elif char == "[":
            end = _bracket_end(text, i, path)
            steps.append(_bracket(text[i + 1 : end].strip(), path))
            i = end + 1
        else:
            raise JsonPathError(f"unexpected {char!r} at position {i} in {path!r}")
    return steps


def _bracket_end(text: str, start: int, path: str) -> int:
    quote = ""
    for j in range(start + 1, len(text)):
        char = text[j]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "]":
            return j
    raise JsonPathError(f"an unclosed '[' in {path!r}")


def _bracket(inner: str, path: str) -> Any:
    if inner == "*":
        return WILDCARD
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        name = inner[1:-1]
        if not name:
            raise JsonPathError(f"an empty member name in {path!r}")
        return name
    if _INDEX.fullmatch(inner):
        return int(inner)
    if inner.startswith("?") or ":" in inner or "," in inner:
        raise JsonPathError(f"filters, slices and unions ([{inner}]) are not supported")
    raise JsonPathError(f"[{inner}] in {path!r} is neither a quoted name nor an index")


def _step_path(step: Any) -> str:
    if isinstance(step, int):
        return f"[{step}]"
    return "['" + str(step).replace("\\", "\\\\").replace("'", "\\'") + "']"


def extract(document: Any, path: str) -> list[tuple[str, Any]]:
    """Every (normalised path, value) `path` selects in `document`; empty when nothing matches."""
    found: list[tuple[str, Any]] = [("$", document)]
    for step in parse(path):
        following: list[tuple[str, Any]] = []
        for where, node in found:
            if step is WILDCARD:
                if isinstance(node, dict):
                    following += [(where + _step_path(k), v) for k, v in node.items()]
                elif isinstance(node, list):
                    following += [(where + _step_path(n), v) for n, v in enumerate(node)]
            elif isinstance(step, int):
                if isinstance(node, list) and -len(node) <= step < len(node):
                    index = step % len(node)
                    following.append((where + _step_path(index), node[index]))
            elif isinstance(node, dict) and step in node:
                following.append((where + _step_path(step), node[step]))
        found = following
    return found


def to_filter_path(path: str) -> str:
    """`operation` → `@.operation`, for the generated condition shown by the test endpoint."""
    out = "@"
    for step in parse(path):
        if step is WILDCARD:
            out += "[*]"
        elif isinstance(step, int) or not re.fullmatch(r"[A-Za-z_$][\w$]*", step):
            out += _step_path(step)
        else:
            out += f".{step}"
    return out
