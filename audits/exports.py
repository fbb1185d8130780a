"""The audit trail as an export file, in the formats of portal.csv_stream (csv, excel, jsonl).

Two engines write the audit trail's csv and excel files, byte for byte the same
(tests/audits/test_exports.py): Python (`values_list(...).iterator()` and portal.csv_stream) and,
on PostgreSQL, `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)` with labels, context keys,
neutralisation and time formatting done in SQL — several times faster (benchmarks/export.py).
Rows are read 2,000 at a time or as COPY data, and leave as byte chunks (~64 KB for COPY).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Func, QuerySet, TextField
from django.db.models.functions import Cast

from audits.labels import ACTION_LABELS
from audits.models import AuditEvent, ExportManifest, Outcome
from audits.services import record
from portal.csv_stream import (
    BOM,
    CHUNK_ROWS,
    DANGEROUS_LEADING,
    ExportFormat,
    ExportKind,
    Json,
    Tally,
    csv_bytes,
    neutralise,
    rows_stream,
)

EXPORT_PERMISSION = "audits.export_auditevent"
CHUNK_BYTES = 64 * 1024
CRLF = b"\r\n"


# --- the audit trail ------------------------------------------------------------------------------

# The context keys most rows carry, each a column of its own; the rest stays JSON in `context`.
CONTEXT_COLUMNS = {
    "verdict": "verdict",
    "genesys_id": "genesys_id",
    "context_id": "contextId",
    "error": "error",
}
STATUS_COLUMNS = {"status_from": "from", "status_to": "to"}

AUDIT_COLUMNS = (
    "id",
    "occurred_at",
    "actor",
    "action",
    "action_code",
    "outcome",
    "object_type",
    "object_id",
    "correlation_id",
    *CONTEXT_COLUMNS,
    *STATUS_COLUMNS,
    "context",
    "chain_hash",
)
AUDIT_EXPORT = ExportKind(
    prefix="audit", header=AUDIT_COLUMNS, manifest_kind=ExportManifest.Kind.AUDIT
)
_PLAIN_TEXT = ("actor", "outcome", "object_type", "object_id", "correlation_id")


def audit_export_queryset(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    actor: str | None = None,
) -> QuerySet[AuditEvent]:
    """The command's selection: `since <= occurred_at < until`, newest first (index order)."""
    qs = AuditEvent.objects.order_by("-occurred_at", "-id")
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    if action:
        qs = qs.filter(action=action)
    if actor:
        qs = qs.filter(actor=actor)
    return qs


def _status(context: dict, key: str) -> str | None:
    side = context.get(key)
    if not isinstance(side, dict):
        return None
    return side.get("status") or side.get("category") or None


def _text(value: Any) -> str | None:
    """A context value as its column shows it (as PostgreSQL's ->> would)."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def audit_row(row: tuple) -> tuple:
    """A values_list row (see _audit_values) as the export's typed values, in AUDIT_COLUMNS order."""
    pk, at, actor, action, outcome, otype, oid, corr, context_text, chain_hash = row
    context = json.loads(context_text) if context_text else {}
    if isinstance(context, dict):
        picked = {col: _text(context.get(key)) for col, key in CONTEXT_COLUMNS.items()}
        statuses = [_status(context, key) for key in STATUS_COLUMNS.values()]
        rest = {k: v for k, v in context.items() if k not in CONTEXT_COLUMNS.values()}
    else:
        picked, statuses, rest = dict.fromkeys(CONTEXT_COLUMNS), [None, None], context
    return (
        pk,
        at,
        actor,
        ACTION_LABELS.get(action) or action,
        action,
        outcome,
        otype,
        oid,
        corr,
        *picked.values(),
        *statuses,
        Json(rest),
        chain_hash,
    )


def _audit_values(queryset: QuerySet) -> QuerySet:
    return queryset.values_list(
        "id",
        "occurred_at",
        *("actor", "action", "outcome", "object_type", "object_id", "correlation_id"),
        # The stored JSON as the database prints it (jsonb::text), the same text COPY reads.
        Cast("context", TextField()),
        "seal__hash",
    )


def audit_rows(queryset: QuerySet, chunk_size: int = CHUNK_ROWS) -> Iterator[tuple]:
    for row in _audit_values(queryset).iterator(chunk_size):
        yield audit_row(row)


# --- the audit trail in SQL (COPY) ----------------------------------------------------------------


class _Sql(Func):
    """A fixed SQL template over one column (`{}` is the column), with its own parameters."""

    output_field = TextField()

    def __init__(self, expression, template: str, params: Sequence[Any] = (), **extra):
        super().__init__(expression, **extra)
        self.sql_template, self.sql_params = template, list(params)

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        # The column's own parameters go wherever it appears, between the template's own.
        ordered: list[Any] = []
        own = iter(self.sql_params)
        for piece in re.split(r"(\{\}|%s)", self.sql_template):
            if piece == "{}":
                ordered += params
            elif piece == "%s":
                ordered.append(next(own))
        return "(" + self.sql_template.replace("{}", f"({sql})") + ")", ordered


def _neutralised(column: str) -> str:
    """SQL twin of `neutralise` for a column of the inner query; '' becomes NULL, which COPY
    leaves unquoted as the csv module does ('' itself COPY would write as "").

    ascii() reads the first character without copying the string; most values start with a letter
    (code > 64, past every dangerous character), so they take the first branch.
    """
    dangerous = ", ".join(str(ord(c)) for c in sorted(DANGEROUS_LEADING))
    return (
        f"CASE WHEN ascii({column}) > 64 THEN {column} "
        f"WHEN ascii({column}) IN ({dangerous}) THEN '''' || {column} "
        f"WHEN {column} = '' THEN NULL ELSE {column} END"
    )


def _time_sql(fmt: ExportFormat) -> tuple[str, list]:
    if fmt.key == "excel":
        return "to_char({} AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI:SS')", [settings.TIME_ZONE]
    return """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')""", []


# The inner query's columns, in order (renamed positionally for the outer query).
_INNER = (
    "id",
    "time",
    "actor",
    "label",
    "action",
    "outcome",
    "object_type",
    "object_id",
    "correlation_id",
    *CONTEXT_COLUMNS,
    *STATUS_COLUMNS,
    "rest",
    "chain_hash",
)


def audit_copy_sql(queryset: QuerySet, *, fmt: ExportFormat) -> tuple[str, tuple]:
    """`COPY (SELECT …) TO STDOUT WITH (FORMAT csv)` for the queryset's rows in AUDIT_COLUMNS
    order, formatted and neutralised in SQL exactly as audit_row() + cell() do in Python.

    Two levels: the inner query (the queryset: its filters, order and index) reads each value
    once — a context key, the JSON left over, the label, the time as text — and the outer one
    neutralises them. `OFFSET 0` keeps PostgreSQL from folding the two together, which would
    repeat each JSON lookup once per reference in the neutralising CASE; the outer query adds no
    join or sort, so rows leave in the inner query's order.
    """
    labels = json.dumps({code: neutralise(label) for code, label in ACTION_LABELS.items()})
    time_sql, time_params = _time_sql(fmt)
    drop = "'{" + ",".join(CONTEXT_COLUMNS.values()) + "}'::text[]"
    inner: dict[str, Any] = {
        "r_time": _Sql("occurred_at", time_sql, time_params),
        # A key lookup in a constant jsonb object: one binary search per row.
        "r_label": _Sql("action", "%s::jsonb ->> {}", [labels]),
        **{f"r_{col}": _Sql("context", "{} ->> %s", [key]) for col, key in CONTEXT_COLUMNS.items()},
        **{
            f"r_{col}": _Sql(
                "context",
                "COALESCE(NULLIF({} -> %s ->> 'status', ''), {} -> %s ->> 'category')",
                [key, key],
            )
            for col, key in STATUS_COLUMNS.items()
        },
        # Rebuilt only when it holds a key to drop (?| is an index-free key probe).
        "r_rest": _Sql(
            "context",
            f"CASE WHEN jsonb_typeof({{}}) = 'object' AND {{}} ?| {drop} "
            f"THEN {{}} - {drop} ELSE {{}} END",
        ),
        "r_chain_hash": F("seal__hash"),
    }
    plain = {"id", "actor", "action", "outcome", "object_type", "object_id", "correlation_id"}
    values = queryset.annotate(**inner).values_list(
        *(name if name in plain else f"r_{name}" for name in _INNER)
    )
    sql, params = values.query.get_compiler(using=values.db).as_sql()
    if " OFFSET " not in sql.upper():
        sql += " OFFSET 0"
    rest = "q.rest"
    outer = [
        "q.id",
        "q.time",
        _neutralised("q.actor"),
        f"COALESCE(q.label, {_neutralised('q.action')})",
        *(_neutralised(f"q.{name}") for name in ("action", *_PLAIN_TEXT[1:])),
        *(_neutralised(f"q.{col}") for col in (*CONTEXT_COLUMNS, *STATUS_COLUMNS)),
        # jsonb prints an object, array, string, boolean or null starting with { [ " t f n,
        # never a dangerous character; only a negative number starts with one (`-`).
        f"CASE WHEN jsonb_typeof({rest}) = 'number' AND left({rest}::text, 1) = '-' "
        f"THEN '''' || {rest}::text ELSE {rest}::text END",
        "q.chain_hash",
    ]
    select = f"SELECT {', '.join(outer)} FROM ({sql}) AS q({', '.join(_INNER)})"
    return f"COPY ({select}) TO STDOUT WITH (FORMAT csv)", tuple(params)


def _copy_rows(queryset: QuerySet, fmt: ExportFormat, tally: Tally) -> Iterator[bytes]:
    """COPY's rows as CRLF-terminated byte chunks. libpq hands COPY data over one row at a time
    (PQgetCopyData), each ending in COPY's `\\n`: that byte becomes RFC 4180's CRLF, and rows
    are counted and the first and last kept for the manifest without parsing them."""
    connection = connections[queryset.db]
    # A client that goes away mid-export closes this generator; psycopg then cancels the COPY,
    # which aborts an enclosing transaction. Inside one, a savepoint confines that to the export.
    # (In autocommit, the usual case for a request, the cancelled COPY stands alone.)
    guard = transaction.atomic(using=queryset.db) if connection.in_atomic_block else nullcontext()
    sql, params = audit_copy_sql(queryset, fmt=fmt)
    data = first = None
    count = 0
    with guard, connection.cursor() as cursor:
        # The raw psycopg cursor: Django's wrapper has no copy().
        with cursor.cursor.copy(sql, params) as copy:
            buffer = bytearray()
            for data in copy:
                if count == 0:
                    first = data
                count += 1
                buffer += memoryview(data)[:-1]
                buffer += CRLF
                if len(buffer) >= CHUNK_BYTES:
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)
    tally.rows = count
    tally.first = _parse_line(first) if first is not None else None
    tally.last = _parse_line(data) if data is not None else None


def _parse_line(line: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(bytes(line).decode(), newline="")))


def copy_available(queryset: QuerySet) -> bool:
    return connections[queryset.db].vendor == "postgresql"


def audit_export_chunks(
    *,
    queryset: QuerySet[AuditEvent],
    fmt: ExportFormat,
    tally: Tally,
    method: str = "auto",
) -> Iterator[bytes]:
    """The audit rows of `queryset` as byte chunks in `fmt`: header, then rows.

    method: "copy" (PostgreSQL only; csv and excel), "python", or "auto" (COPY where it can).
    """
    if method == "auto":
        method = "copy" if fmt.spreadsheet and copy_available(queryset) else "python"
    if method == "python":
        yield from rows_stream(
            header=AUDIT_COLUMNS, rows=audit_rows(queryset), fmt=fmt, tally=tally
        )
        return
    if method != "copy" or not fmt.spreadsheet:
        raise ValueError(f"Export method {method!r} cannot write {fmt.key}.")
    yield (BOM if fmt.key == "excel" else b"") + csv_bytes([AUDIT_COLUMNS])
    yield from _copy_rows(queryset, fmt, tally)


def export_record(
    *,
    actor: str,
    filters,
    export_format: str,
    via: str,
    action: str = "audit.export",
    object_type: str = "AuditEvent",
    outcome: str = Outcome.SUCCESS,
    **context: Any,
) -> AuditEvent:
    """An export is itself an audit event: who, which filters, which format, from where."""
    pairs = filters.items() if isinstance(filters, Mapping) else filters
    return record(
        actor=actor,
        action=action,
        object_type=object_type,
        outcome=outcome,
        context={
            "filters": {str(k): str(v) for k, v in pairs if v not in (None, "")},
            "format": export_format,
            "via": via,
            **context,
        },
    )
