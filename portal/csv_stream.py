"""Streaming exports in three formats: typed rows in, byte chunks out. Shared by the audit trail
and the SLA report (and `neutralise` by the CSV import, which reads what these files hold).

Formats (EXPORT_FORMATS):
- `csv`: RFC 4180 (CRLF line ends, fields quoted only when needed), UTF-8, header on row 1,
  times in UTC as ISO 8601 to the millisecond (`2026-12-02T09:27:37.711Z`);
- `excel`: the same with a UTF-8 byte-order mark (Excel on Windows then reads non-ASCII names
  right) and times in the portal's TIME_ZONE as `YYYY-MM-DD HH:MM:SS`, which Excel reads as dates;
- `jsonl`: one JSON object per line with the same keys; times as in `csv`; numbers stay numbers.
Nothing but rows goes into a file: the filters and generation time are in its name
(`export_filename`) and its manifest.

Constant memory: rows are consumed as an iterator and leave CHUNK_ROWS at a time.

Formula injection (csv, excel): a spreadsheet evaluates a cell that starts with `=`, `+`, `-` or
`@` as a formula, and some strip a leading tab or carriage return first. Such text cells get a
single quote prefixed (OWASP's recommendation); the original is recovered by removing exactly one
leading `'`. Only text cells are touched: numbers, ids and the times we format cannot start with
those characters. JSONL is for programs, not spreadsheets, and round-trips values exactly.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

CHUNK_ROWS = 2000
DANGEROUS_LEADING = frozenset("=+-@\t\r")
BOM = "\ufeff".encode()


@dataclass(frozen=True)
class ExportFormat:
    key: str
    label: str
    extension: str
    content_type: str

    @property
    def spreadsheet(self) -> bool:
        return self.key != "jsonl"


@dataclass(frozen=True)
class ExportKind:
    """One kind of export (the audit trail, the SLA report), the same from the admin and the shell:
    its file name's first word, its header, its manifest's kind, and how the export is recorded
    (export_record's action and object type, where they are not the audit trail's own)."""

    prefix: str
    header: Sequence[str]
    manifest_kind: str
    recorded_as: Mapping[str, str] = field(default_factory=dict)


EXPORT_FORMATS: dict[str, ExportFormat] = {
    f.key: f
    for f in (
        ExportFormat("csv", "CSV (UTF-8, times in UTC)", "csv", "text/csv; charset=utf-8"),
        ExportFormat(
            "excel", "Excel CSV (byte-order mark, local times)", "csv", "text/csv; charset=utf-8"
        ),
        ExportFormat("jsonl", "JSON lines", "jsonl", "application/x-ndjson; charset=utf-8"),
    )
}


def export_format(key: str | None) -> ExportFormat:
    """The format for `key` (default csv); ValueError naming the choices otherwise."""
    try:
        return EXPORT_FORMATS[key or "csv"]
    except KeyError:
        raise ValueError(
            f"Unknown export format {key!r}: choose one of {', '.join(EXPORT_FORMATS)}."
        ) from None


# --- cells ----------------------------------------------------------------------------------------


def neutralise(value: str) -> str:
    """Prefix `'` to text a spreadsheet would read as a formula; anything else unchanged."""
    return "'" + value if value[:1] in DANGEROUS_LEADING else value


def utc_millis(value: datetime) -> str:
    """`2026-12-02T09:27:37.711Z`: UTC, always three decimals (truncated), so every row of a
    column has one shape and tools infer one date format for it."""
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"


def local_seconds(value: datetime) -> str:
    """`2026-12-02 10:27:37` in the portal's TIME_ZONE: what Excel reads as a date and time."""
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}"


@dataclass(frozen=True)
class Json:
    """A JSON value: text in a spreadsheet cell, the value itself in JSONL."""

    value: Any


def cell(value: Any, fmt: ExportFormat) -> Any:
    """One value as a csv/excel cell: times formatted, text neutralised, None empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, datetime):
        return local_seconds(value) if fmt.key == "excel" else utc_millis(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Json):
        return neutralise(json.dumps(value.value, ensure_ascii=False))
    return value


def json_value(value: Any) -> Any:
    if isinstance(value, Json):
        return value.value
    return utc_millis(value) if isinstance(value, datetime) else value


# --- file names -----------------------------------------------------------------------------------


def export_filename(
    *, prefix: str, described: Iterable[str], generated_at: datetime, fmt: ExportFormat
) -> str:
    """`audit-2026-12-02-Submitted-to-Genesys-20261202T101500Z.csv`: the filters' readable values
    and the generation time; only [A-Za-z0-9._-], at most ~150 characters."""
    parts = [re.sub(r"[^A-Za-z0-9._-]+", "-", str(v)).strip("-.") for v in described if v]
    middle = "_".join(p for p in parts if p)[:110].strip("-_.") or "all"
    stamp = generated_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "-excel" if fmt.key == "excel" else ""
    return f"{prefix}-{middle}-{stamp}{suffix}.{fmt.extension}"


# --- generic streams ------------------------------------------------------------------------------


@dataclass
class Tally:
    """What a stream wrote, for the manifest: row count and the first and last rows' cells."""

    rows: int = 0
    first: Sequence[Any] | None = None
    last: Sequence[Any] | None = None

    def see(self, row: Sequence[Any]) -> None:
        if self.rows == 0:
            self.first = row
        self.last = row
        self.rows += 1


def csv_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


def spreadsheet_stream(
    *,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fmt: ExportFormat,
    tally: Tally,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """Header, then the rows (typed values, formatted here), as csv/excel byte chunks."""
    yield (BOM if fmt.key == "excel" else b"") + csv_bytes([header])
    batch: list[list[Any]] = []
    for row in rows:
        cells = [cell(v, fmt) for v in row]
        tally.see(cells)
        batch.append(cells)
        if len(batch) >= chunk_rows:
            yield csv_bytes(batch)
            batch = []
    if batch:
        yield csv_bytes(batch)


def jsonl_stream(
    *,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    tally: Tally,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """One object per row, keys in header order."""
    dumps = json.dumps
    lines: list[str] = []
    for row in rows:
        values = [json_value(v) for v in row]
        tally.see(values)
        lines.append(dumps(dict(zip(header, values, strict=True)), ensure_ascii=False) + "\n")
        if len(lines) >= chunk_rows:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


def rows_stream(
    *, header: Sequence[str], rows: Iterable[Sequence[Any]], fmt: ExportFormat, tally: Tally
) -> Iterator[bytes]:
    if fmt.key == "jsonl":
        return jsonl_stream(header=header, rows=rows, tally=tally)
    return spreadsheet_stream(header=header, rows=rows, fmt=fmt, tally=tally)
