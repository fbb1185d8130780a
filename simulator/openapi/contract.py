"""Is an HTTP exchange what Genesys documents? Checked against the OpenAPI subset.

For a request: the operation exists, every query parameter is declared (enum values respected) and
the body validates against the operation's request schema. For a response: the body validates
against the schema documented for its status (`ErrorBody` for errors).

**No unknown field.** The subset was generated from the SDK's models, which list every property
Genesys documents, so an object schema with `properties` is closed here (`additionalProperties:
false` unless the model itself says otherwise): a field the documentation does not have is a
problem. Schemas the subset does not expand ("not expanded in this subset", e.g. `User`) stay open.

The contract is the documentation, not our client: tests hold both the portal's requests and the
simulator's answers to it (tests/conftest.py, tests/simulator/test_conformance.py).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SPEC_PATH = Path(__file__).with_name("genesys-openapi-subset.json")
URN = "urn:genesys-openapi-subset"
API_PREFIX = "/api/v2/"
NO_BODY = object()  # an empty request or response body

_PARAM = re.compile(r"\{(\w+)\}")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(_DATE_TIME.match(value))


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


# Where Genesys's own code contradicts the SDK-generated subset, the contract follows Genesys
# (simulator/SOURCES.md): (schema, required property made optional, the source).
AMENDMENTS = (
    (
        "WorktypeQueryRequest",
        "filters",
        "terraform-provider-genesyscloud getAllTaskManagementWorktypeFn sends no filters",
    ),
    (
        "WorkbinQueryRequest",
        "filters",
        "terraform-provider-genesyscloud getAllTaskManagementWorkbinFn sends no filters",
    ),
)


def _closed(document: dict[str, Any]) -> dict[str, Any]:
    """A copy whose object schemas admit only their documented properties, with every $ref
    made absolute (so any schema in it can be checked on its own), and the AMENDMENTS applied."""
    document = copy.deepcopy(document)
    schemas = document.get("components", {}).get("schemas", {})
    for name, optional, _source in AMENDMENTS:
        schema = schemas.get(name, {})
        if optional in schema.get("required", []):
            schema["required"] = [r for r in schema["required"] if r != optional]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/"):
                node["$ref"] = f"{URN}{ref}"
            if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for key, value in node.items():
                if not key.startswith("x-"):
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document.get("components"))
    walk(document.get("paths"))
    return document


def _pattern(template: str) -> re.Pattern[str]:
    literal = _PARAM.split(template)[::2]  # split() puts the parameter names at odd places
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in literal) + "$")


class Contract:
    def __init__(self, document: dict[str, Any] | None = None) -> None:
        raw = document if document is not None else json.loads(SPEC_PATH.read_text())
        self.document = _closed(raw)
        resource = Resource.from_contents(self.document, default_specification=DRAFT7)
        self._registry = Registry().with_resource(URN, resource)
        routes = [
            (method.upper(), template, _pattern(template), spec)
            for template, methods in self.document["paths"].items()
            for method, spec in methods.items()
        ]
        # A literal segment beats a parameter: /workitems/query is not /workitems/{workitemId}.
        routes.sort(key=lambda r: -sum(1 for s in r[1].split("/") if s and "{" not in s))
        self._routes = routes
        self._validators: dict[str, Draft7Validator] = {}

    # --- look-up ---------------------------------------------------------------------------

    def operation(self, method: str, path: str) -> Operation | None:
        path = api_path(path)
        for m, template, pattern, spec in self._routes:
            if m == method.upper() and pattern.match(path):
                return Operation(method=m, template=template, spec=spec)
        return None

    def schema(self, name: str) -> dict[str, Any]:
        return {"$ref": f"{URN}#/components/schemas/{name}"}

    # --- checks ----------------------------------------------------------------------------

    def request_problems(
        self,
        *,
        method: str,
        path: str,
        query: str | Iterable[tuple[str, str]] = "",
        body: Any = NO_BODY,
    ) -> list[str]:
        op = self.operation(method, path)
        where = f"{method.upper()} {api_path(path)}"
        if op is None:
            return [f"{where}: no such operation in the Genesys API (OpenAPI subset)"]
        pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else list(query)
        problems = self._query_problems(op, pairs)
        request_body = op.spec.get("requestBody")
        if request_body is None:
            if body is not NO_BODY:
                problems.append("the operation takes no request body, but one was sent")
        elif body is NO_BODY:
            if request_body.get("required"):
                problems.append("the request body is required")
        else:
            schema = _json_schema(request_body)
            if schema is not None and schema.get("type") == "string":
                # The SDK JSON-encodes a string body: a JSON string holding the document.
                if not isinstance(body, str):
                    problems.append(
                        "the request body must be a JSON string (the SDK sends the text encoded)"
                    )
            elif schema is not None:
                problems += self._body_problems(schema, body)
        return [f"{where}: request {p}" for p in problems]

    def response_problems(
        self, *, method: str, path: str, status: int, body: Any = NO_BODY
    ) -> list[str]:
        op = self.operation(method, path)
        where = f"{method.upper()} {api_path(path)} → {status}"
        if op is None:
            if status < 400:
                return [f"{where}: no such operation in the Genesys API (OpenAPI subset)"]
            # An unknown path or method still gets Genesys's ErrorBody.
            op = Operation(
                method=method.upper(),
                template="",
                spec={
                    "responses": {
                        "default": {
                            "content": {"application/json": {"schema": self.schema("ErrorBody")}}
                        }
                    }
                },
            )
        responses = op.spec.get("responses") or {}
        documented = (
            responses.get(str(status))
            or responses.get(f"{status // 100}XX")
            or (None if 200 <= status < 300 else responses.get("default"))
        )
        if documented is None:
            return [f"{where}: status {status} is not documented for {op.name}"]
        schema = _json_schema(documented)
        if schema is None:
            return []
        if body is NO_BODY:
            return [f"{where}: a response body was expected"]
        return [f"{where}: response {p}" for p in self._body_problems(schema, body)]

    def exchange_problems(
        self, request: Any, response: Any, *, check_request: bool = True
    ) -> list[str]:
        """Both halves of one `requests` exchange to /api/v2 (anything else is not checked)."""
        parts = urlsplit(request.url or "")
        if API_PREFIX not in parts.path:
            return []
        problems: list[str] = []
        if check_request:
            problems += self.request_problems(
                method=request.method,
                path=parts.path,
                query=parts.query,
                body=_decode(request.body),
            )
        problems += self.response_problems(
            method=request.method,
            path=parts.path,
            status=response.status_code,
            body=_decode(response.content),
        )
        return problems

    # --- helpers ---------------------------------------------------------------------------

    def _validator(self, schema: dict[str, Any]) -> Draft7Validator:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            self._validators[key] = Draft7Validator(
                schema, registry=self._registry, format_checker=_FORMATS
            )
        return self._validators[key]

    def _body_problems(self, schema: dict[str, Any], body: Any) -> list[str]:
        if isinstance(body, _Undecodable):
            return [f"body is not JSON: {body.text[:80]!r}"]
        errors = sorted(self._validator(schema).iter_errors(body), key=lambda e: e.json_path)
        return [f"body {e.json_path}: {e.message}" for e in errors]

    def _query_problems(self, op: Operation, pairs: list[tuple[str, str]]) -> list[str]:
        declared = {
            p["name"]: p.get("schema") or {}
            for p in op.spec.get("parameters") or []
            if p.get("in") == "query"
        }
        problems = []
        for name, value in pairs:
            schema = declared.get(name)
            if schema is None:
                problems.append(f"query parameter {name!r} is not a parameter of {op.name}")
                continue
            if schema.get("type") == "array":
                values, schema = [v for v in value.split(",") if v], schema.get("items") or {}
            else:
                values = [value]
            for one in values:
                problem = _param_problem(schema, one)
                if problem:
                    problems.append(f"query parameter {name}={one!r}: {problem}")
        return problems


class _Undecodable:
    def __init__(self, text: str) -> None:
        self.text = text


def _decode(raw: bytes | str | None) -> Any:
    if raw in (None, b"", ""):
        return NO_BODY
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        return json.loads(text)
    except ValueError:
        return _Undecodable(text)


def _json_schema(holder: Mapping[str, Any]) -> dict[str, Any] | None:
    return ((holder.get("content") or {}).get("application/json") or {}).get("schema")


def _param_problem(schema: Mapping[str, Any], value: str) -> str:
    kind = schema.get("type")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return "must be an integer"
    if kind == "boolean" and value not in ("true", "false"):
        return "must be true or false"
    enum = schema.get("enum")
    if enum and kind != "boolean" and value not in enum:
        return f"is not one of the documented values ({', '.join(map(str, enum))})"
    return ""


def api_path(path: str) -> str:
    """/api/v2/… out of a full path (the simulator is mounted under /simulator)."""
    index = path.find(API_PREFIX)
    return path[index:] if index >= 0 else path


@cache
def genesys_contract() -> Contract:
    return Contract()
