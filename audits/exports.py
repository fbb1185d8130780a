"""Streaming exports: the audit trail (CSV or JSONL) and, through `csv_stream`, the SLA report.

Constant memory: rows are read 2,000 at a time (`iterator(chunk_size=2000)`) or as COPY data, and
leave as ~64 KB byte chunks. Nothing holds the whole result.

Formula injection (CSV): a spreadsheet evaluates a cell that starts with `=`, `+`, `-` or `@` as a
formula, and some strip a leading tab or carriage return first. Such text cells get a single quote
prefixed (OWASP's recommendation): spreadsheets then show the text as typed, and the original value
is recoverable by removing exactly one leading `'`. Only text cells are touched; ids and the
timestamps we format ourselves cannot start with those characters. JSONL is not neutralised: it is
for programs, not spreadsheets, and must round-trip exactly.

Two CSV engines produce the same bytes for the same rows (tests/audits/test_exports.py checks it):
- Python: `values_list(...).iterator()`, neutralised in Python, written with the csv module;
- PostgreSQL: `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)` through psycopg's `cursor.copy()`, with
  the neutralisation and formatting done in SQL — about ten times faster (benchmarks/export.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from django.db import connections, transaction
from django.db.models import CharField, Func, QuerySet, TextField
from django.db.models.functions import Cast

from audits.models import AuditEvent, Outcome
from audits.services import record

EXPORT_PERMISSION = "audits.export_auditevent"
CHUNK_ROWS = 2000
CHUNK_BYTES = 64 * 1024
DANGEROUS_LEADING = frozenset("=+-@\t\r")

AUDIT_COLUMNS = (
    "id",
    "occurred_at",
    "actor",
    "action",
    "outcome",
    "object_type",
    "object_id",
    "correlation_id",
    "context",
)
_AUDIT_TEXT_FIELDS = AUDIT_COLUMNS[2:8]

# --- cells, comment line, file name --------------------------------------------------------------


def neutralise(value: str) -> str:
    """Prefix `'` to text a spreadsheet would read as a formula; anything else unchanged."""
    return "'" + value if value[:1] in DANGEROUS_LEADING else value


def format_timestamp(value: datetime | None, *, microseconds: bool = True) -> str:
    """UTC, ISO 8601: `2024-05-02T12:00:00.25Z`. Fractional seconds as PostgreSQL prints them
    (trailing zeros dropped, none when zero), so the SQL twin `_UtcTimestamp` matches to the byte.
    """
    if value is None:
        return ""
    value = value.astimezone(UTC)
    text = f"{value:%Y-%m-%dT%H:%M:%S}"
    if microseconds and value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def describe_filters(filters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> str:
    """The filters as a query string (`action=x&actor=y`), or `none`.

    Percent-encoding keeps the comment line a single CSV cell: no comma, quote or line break can
    reach it from a filter value, so it cannot smuggle a formula into a second cell.
    """
    pairs = filters.items() if isinstance(filters, Mapping) else filters
    kept = [(str(k), str(v)) for k, v in pairs if v not in (None, "")]
    return urlencode(kept, safe=":+/", quote_via=quote) if kept else "none"


def comment_line(*, title: str, filters, generated_at: datetime) -> str:
    return (
        f"# {title}; filters: {describe_filters(filters)}; "
        f"generated {format_timestamp(generated_at, microseconds=False)}"
    )


def export_filename(*, prefix: str, filters, generated_at: datetime, extension: str) -> str:
    """`audit-action-x_actor-y-20240503T100000Z.csv`: only [A-Za-z0-9._-], at most ~150 chars."""
    pairs = filters.items() if isinstance(filters, Mapping) else filters
    parts = [
        re.sub(r"[^A-Za-z0-9._-]+", "-", f"{k}-{v}").strip("-")
        for k, v in pairs
        if v not in (None, "")
    ]
    described = "_".join(p for p in parts if p)[:120].strip("-_") or "all"
    stamp = generated_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}-{described}-{stamp}.{extension}"


# --- generic CSV streaming -----------------------------------------------------------------------


def _write(rows: Sequence[Sequence[Any]], terminator: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=terminator).writerows(rows)
    return buffer.getvalue()


def _csv_text(rows: Sequence[Sequence[Any]]) -> str:
    """CSV lines ending in `\\n`, quoted exactly as PostgreSQL's COPY quotes them.

    Python's writer only quotes a carriage return when it is part of the line terminator, COPY
    always does. The rare batch holding a `\\r` is rewritten row by row with a `\\r\\n` writer.
    """
    text = _write(rows, "\n")
    if "\r" not in text:
        return text
    lines = []
    for row in rows:
        line = _write([row], "\n")
        if "\r" in line:
            line = _write([row], "\r\n")[:-2] + "\n"
        lines.append(line)
    return "".join(lines)


def csv_stream(
    *,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    comment: str,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """Comment line, header, then the rows (already neutralised) as UTF-8 byte chunks."""
    yield (comment + "\n" + _csv_text([header])).encode()
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= chunk_rows:
            yield _csv_text(batch).encode()
            batch = []
    if batch:
        yield _csv_text(batch).encode()


# --- the audit trail ------------------------------------------------------------------------------


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


def _context_text():
    # The stored JSON as the database prints it (jsonb::text on PostgreSQL), never decoded here:
    # cheaper, and the same text the COPY path emits.
    return Cast("context", TextField())


def _audit_python_rows(queryset: QuerySet, chunk_size: int) -> Iterator[tuple]:
    values = queryset.values_list(
        "id",
        "occurred_at",
        "actor",
        "action",
        "outcome",
        "object_type",
        "object_id",
        "correlation_id",
        _context_text(),
    )
    n = neutralise
    for pk, at, actor, action, outcome, otype, oid, corr, ctx in values.iterator(chunk_size):
        yield (
            pk,
            format_timestamp(at),
            n(actor),
            n(action),
            n(outcome),
            n(otype),
            n(oid),
            n(corr),
            n(ctx),
        )


class _Neutralised(Func):
    """SQL twin of `neutralise` for a text column; '' becomes NULL, which COPY leaves unquoted as
    the csv module does ('' itself COPY would write as "").

    ascii() reads the first character without copying the string; most values start with a letter
    (code > 64, past every dangerous character), so they take the first branch.
    """

    output_field = TextField()

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        dangerous = ", ".join(str(ord(c)) for c in sorted(DANGEROUS_LEADING))
        return (
            f"CASE WHEN ascii({sql}) > 64 THEN {sql} "
            f"WHEN ascii({sql}) IN ({dangerous}) THEN '''' || {sql} "
            f"WHEN ascii({sql}) = 0 THEN NULL ELSE {sql} END",
            [*params] * 6,
        )


class _NeutralisedJson(Func):
    """SQL twin of `neutralise` for a jsonb column printed as text.

    jsonb prints an object, array, string, boolean or null starting with { [ " t f n, never a
    dangerous character; only a negative number starts with one (`-`). Testing the type first
    spares a second jsonb-to-text conversion on nearly every row.
    """

    output_field = TextField()

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"CASE WHEN jsonb_typeof({sql}) = 'number' AND left(({sql})::text, 1) = '-' "
            f"THEN '''' || ({sql})::text ELSE ({sql})::text END",
            [*params] * 4,
        )


class _UtcTimestamp(Func):
    """SQL twin of `format_timestamp`: the timestamp's own text output, ISO-shaped.

    With DateStyle ISO (PostgreSQL's default, and what psycopg expects) `timestamp::text` is
    `2024-05-02 12:00:00.25`, far cheaper than to_char(); with any other DateStyle, to_char().
    """

    output_field = CharField()

    def __init__(self, *expressions, iso_datestyle: bool = True, **extra):
        super().__init__(*expressions, **extra)
        self.iso_datestyle = iso_datestyle

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        utc = f"({sql} AT TIME ZONE 'UTC')"
        if self.iso_datestyle:
            return f"replace({utc}::text, ' ', 'T') || 'Z'", params
        return (
            f"""rtrim(rtrim(to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z'""",
            params,
        )


def audit_copy_sql(queryset: QuerySet, *, iso_datestyle: bool = True) -> tuple[str, tuple]:
    """`COPY (SELECT …) TO STDOUT WITH (FORMAT csv)` for the queryset's rows, neutralised in SQL."""
    columns = {
        "c_occurred_at": _UtcTimestamp("occurred_at", iso_datestyle=iso_datestyle),
        **{f"c_{name}": _Neutralised(name) for name in _AUDIT_TEXT_FIELDS},
        "c_context": _NeutralisedJson("context"),
    }
    values = queryset.annotate(**columns).values_list("id", *columns)
    sql, params = values.query.get_compiler(using=values.db).as_sql()
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", tuple(params)


def _audit_copy_chunks(queryset: QuerySet, chunk_bytes: int) -> Iterator[bytes]:
    connection = connections[queryset.db]
    # A client that goes away mid-export closes this generator; psycopg then cancels the COPY,
    # which aborts an enclosing transaction. Inside one, a savepoint confines that to the export.
    # (In autocommit, the usual case for a request, the cancelled COPY stands alone.)
    guard = transaction.atomic(using=queryset.db) if connection.in_atomic_block else nullcontext()
    with guard, connection.cursor() as cursor:
        cursor.execute("SHOW DateStyle")
        iso = cursor.fetchone()[0].upper().startswith("ISO")
        sql, params = audit_copy_sql(queryset, iso_datestyle=iso)
        # The raw psycopg cursor: Django's wrapper has no copy().
        with cursor.cursor.copy(sql, params) as copy:
            buffer = bytearray()
            for data in copy:
                buffer += data
                if len(buffer) >= chunk_bytes:
                    yield bytes(buffer)
                    buffer.clear()
            if buffer:
                yield bytes(buffer)


def copy_available(queryset: QuerySet) -> bool:
    return connections[queryset.db].vendor == "postgresql"


def audit_export_csv(
    *,
    queryset: QuerySet[AuditEvent],
    filters,
    generated_at: datetime,
    method: str = "auto",
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """The audit rows of `queryset` as CSV byte chunks: comment line, header, rows.

    method: "copy" (PostgreSQL only), "python", or "auto" (COPY where available).
    """
    if method == "auto":
        method = "copy" if copy_available(queryset) else "python"
    comment = comment_line(title="Audit export", filters=filters, generated_at=generated_at)
    if method == "python":
        yield from csv_stream(
            header=AUDIT_COLUMNS,
            rows=_audit_python_rows(queryset, chunk_rows),
            comment=comment,
            chunk_rows=chunk_rows,
        )
        return
    if method != "copy":
        raise ValueError(f"Unknown export method {method!r}.")
    yield (comment + "\n" + _csv_text([AUDIT_COLUMNS])).encode()
    yield from _audit_copy_chunks(queryset, CHUNK_BYTES)


def audit_export_jsonl(
    *, queryset: QuerySet[AuditEvent], filters, generated_at: datetime, chunk_rows: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """One JSON object per line; the first line is `{"comment": "# Audit export; filters: …"}`."""
    comment = comment_line(title="Audit export", filters=filters, generated_at=generated_at)
    yield (json.dumps({"comment": comment}, ensure_ascii=False) + "\n").encode()
    values = queryset.values_list(*AUDIT_COLUMNS[:-1], _context_text())
    dumps = json.dumps
    lines: list[str] = []
    for pk, at, actor, action, outcome, otype, oid, corr, ctx in values.iterator(chunk_rows):
        head = dumps(
            {
                "id": pk,
                "occurred_at": format_timestamp(at),
                "actor": actor,
                "action": action,
                "outcome": outcome,
                "object_type": otype,
                "object_id": oid,
                "correlation_id": corr,
            },
            ensure_ascii=False,
        )
        # Splice the stored JSON in as it is: no decode and re-encode per row.
        lines.append(f'{head[:-1]}, "context": {ctx}}}\n')
        if len(lines) >= chunk_rows:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


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
