"""Task Management query bodies (WorktypeQueryRequest, WorkbinQueryRequest, WorkitemQueryPostRequest):
validation, filters over an entity's flat attributes, sorting and cursor paging."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulator.errors import bad_request, detail
from simulator.paging import cursor_listing, query_fingerprint

OPERATORS = ("EQ", "NEQ", "GT", "LT", "GTE", "LTE", "IN", "CONTAINS", "BETWEEN", "BEGINS_WITH")
TYPES = ("String", "Int")
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 25
# Stated for workitems/query ("A maximum of three filters are allowed"). The worktype and workbin
# requests say nothing; the simulator applies the same cap to them (NOT CONFIRMED).
MAX_FILTERS = 3
_COMPARE = {"GT": operator.gt, "GTE": operator.ge, "LT": operator.lt, "LTE": operator.le}
QUERY_FIELDS = frozenset(
    {"filters", "pageSize", "select", "attributes", "after", "expands", "sort"}
)


@dataclass(frozen=True)
class Filter:
    name: str
    type: str
    operator: str
    values: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "operator": self.operator,
            "values": list(self.values),
        }


@dataclass(frozen=True)
class Query:
    filters: tuple[Filter, ...]
    page_size: int
    after: str | None
    count_only: bool
    attributes: tuple[str, ...]
    expands: tuple[str, ...]
    sort_name: str | None
    ascending: bool

    @property
    def fingerprint(self) -> str:
        return query_fingerprint(
            {"f": [f.as_json() for f in self.filters], "s": [self.sort_name, self.ascending]}
        )


def parse_query(
    body: dict[str, Any],
    *,
    filter_names: Callable[[str], bool],
    sort_names: Sequence[str],
    expands: Sequence[str] = (),
    filters_required: bool = True,
) -> Query:
    """`filters_required=False` for worktypes and workbins: Genesys's own Terraform provider
    lists them with no `filters` at all (docs/GENESYS.md §2), so none (or none given) matches everything."""
    raw_filters = body.get("filters")
    if not filters_required and raw_filters in (None, []):
        filters: tuple[Filter, ...] = ()
    else:
        filters = _parse_filters(raw_filters, filter_names)
    page_size = body.get("pageSize", DEFAULT_PAGE_SIZE)
    if isinstance(page_size, bool) or not isinstance(page_size, int):
        raise bad_request("pageSize must be an integer.", detail("pageSize"))
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise bad_request(
            f"pageSize must be between 1 and {MAX_PAGE_SIZE}; got {page_size}.",
            detail("pageSize", "out.of.range"),
        )
    select = body.get("select")
    if select not in (None, "Count"):
        raise bad_request("select may only be 'Count'.", detail("select"))
    after = body.get("after")
    if after is not None and not isinstance(after, str):
        raise bad_request("after must be a string cursor.", detail("after"))
    attributes = body.get("attributes") or []
    if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
        raise bad_request("attributes must be a list of attribute names.", detail("attributes"))
    wanted = body.get("expands") or []
    wanted = [wanted] if isinstance(wanted, str) else wanted
    if not isinstance(wanted, list) or any(w not in expands for w in wanted):
        allowed = ", ".join(expands) or "nothing"
        raise bad_request(f"expands may only name: {allowed}.", detail("expands"))
    sort = body.get("sort")
    sort_name, ascending = None, True
    if sort is not None:
        if not isinstance(sort, dict) or sort.get("name") not in sort_names:
            raise bad_request(
                f"sort.name must be one of: {', '.join(sort_names)}.", detail("sort.name")
            )
        sort_name = sort["name"]
        ascending = sort.get("ascending", True) is not False
    return Query(
        filters=filters,
        page_size=page_size,
        after=after,
        count_only=select == "Count",
        attributes=tuple(attributes),
        expands=tuple(wanted),
        sort_name=sort_name,
        ascending=ascending,
    )


def _parse_filters(raw: Any, filter_names: Callable[[str], bool]) -> tuple[Filter, ...]:
    if raw is None:
        raise bad_request("filters is required.", detail("filters", "required"))
    if not isinstance(raw, list) or not raw:
        raise bad_request("filters must be a non-empty list.", detail("filters"))
    if len(raw) > MAX_FILTERS:
        raise bad_request(
            f"A maximum of {MAX_FILTERS} filters are allowed; got {len(raw)}.",
            detail("filters", "max.items.exceeded"),
        )
    parsed = []
    for i, item in enumerate(raw):
        where = f"filters[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be an object.", detail(where))
        unknown = sorted(set(item) - {"name", "type", "operator", "values"})
        if unknown:
            raise bad_request(
                f"Unrecognized field(s) in {where}: {', '.join(unknown)}.",
                *(detail(f"{where}.{u}", "unrecognized.field") for u in unknown),
            )
        for required in ("name", "type", "operator", "values"):
            if item.get(required) in (None, ""):
                raise bad_request(
                    f"{where}.{required} is required.", detail(f"{where}.{required}", "required")
                )
        name, kind, operator, values = item["name"], item["type"], item["operator"], item["values"]
        if not isinstance(name, str) or not filter_names(name):
            raise bad_request(f"{name!r} is not a valid filter name.", detail(f"{where}.name"))
        if kind not in TYPES:
            raise bad_request(f"{where}.type must be String or Int.", detail(f"{where}.type"))
        if operator not in OPERATORS:
            raise bad_request(
                f"{where}.operator must be one of {', '.join(OPERATORS)}.",
                detail(f"{where}.operator"),
            )
        if not isinstance(values, list) or not all(
            isinstance(v, str | int | float | bool) for v in values
        ):
            raise bad_request(
                f"{where}.values must be a list of values.", detail(f"{where}.values")
            )
        wanted = {"BETWEEN": 2}.get(operator, 1)
        if (operator == "IN" and not values) or (operator != "IN" and len(values) != wanted):
            many = "at least one value" if operator == "IN" else f"exactly {wanted} value(s)"
            raise bad_request(f"{operator} takes {many}.", detail(f"{where}.values"))
        texts = tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in values)
        if kind == "Int":
            try:
                [int(t) for t in texts]
            except ValueError:
                raise bad_request(
                    f"{where}.values must be integers for type Int.", detail(f"{where}.values")
                ) from None
        parsed.append(Filter(name=name, type=kind, operator=operator, values=texts))
    return tuple(parsed)


# --- Evaluation -------------------------------------------------------------------------------


def attribute(entity: dict[str, Any], name: str) -> Any:
    if name.startswith("customFields."):
        return (entity.get("customFields") or {}).get(name.split(".", 1)[1])
    return entity.get(name)


def _as_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _as_date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if "T" in text else None
    except ValueError:
        return None


def _ordered(kind: str, value: Any, other: str) -> tuple[Any, Any] | None:
    """The attribute and a filter value in comparable form, or None when they cannot compare."""
    if kind == "Int":
        try:
            return int(value), int(other)
        except (TypeError, ValueError):
            return None
    left, right = _as_text(value), other
    left_date, right_date = _as_date(left), _as_date(right)
    if left_date and right_date:
        return left_date, right_date
    return left, right


def filter_matches(entity: dict[str, Any], f: Filter) -> bool:
    value = attribute(entity, f.name)
    op = f.operator
    if value is None or value == "":
        return op == "NEQ"
    if isinstance(value, list):  # skillIds, preferredAgentIds, tag fields
        texts = [_as_text(v) for v in value]
        hit = any(v in texts for v in f.values)
        return not hit if op == "NEQ" else hit if op in ("EQ", "IN", "CONTAINS") else False
    if op in ("EQ", "NEQ", "IN"):
        pairs = [_ordered(f.type, value, v) for v in f.values]
        equal = any(p is not None and p[0] == p[1] for p in pairs)
        return not equal if op == "NEQ" else equal
    if op == "CONTAINS":
        return f.values[0].lower() in _as_text(value).lower()
    if op == "BEGINS_WITH":
        return _as_text(value).lower().startswith(f.values[0].lower())
    try:
        if op == "BETWEEN":
            low = _ordered(f.type, value, f.values[0])
            high = _ordered(f.type, value, f.values[1])
            return bool(low and high) and low[1] <= low[0] <= high[1]
        pair = _ordered(f.type, value, f.values[0])
        return pair is not None and _COMPARE[op](*pair)
    except TypeError:  # a date compared with a plain string
        return False


def run_query(
    items: list[dict[str, Any]],
    query: Query,
    *,
    self_uri: str,
    render: Callable[[dict[str, Any]], dict[str, Any]],
    default_sort: str = "dateCreated",
) -> dict[str, Any]:
    """Filter, sort and page `items` (flat entities); render only the page."""
    found = [e for e in items if all(filter_matches(e, f) for f in query.filters)]
    if query.count_only:
        return {"count": len(found), "selfUri": self_uri}
    sort_name = query.sort_name or default_sort
    present = [e for e in found if e.get(sort_name) is not None]
    missing = [e for e in found if e.get(sort_name) is None]
    present.sort(key=lambda e: (e[sort_name], e["id"]), reverse=not query.ascending)
    missing.sort(key=lambda e: e["id"])

    def shaped(entity: dict[str, Any]) -> dict[str, Any]:
        out = render(entity)
        if query.attributes:
            out = {k: v for k, v in out.items() if k in ("id", "selfUri", *query.attributes)}
        return out

    return cursor_listing(
        present + missing,
        page_size=query.page_size,
        after=query.after,
        fingerprint=query.fingerprint,
        self_uri=self_uri,
        render=shaped,
    )
