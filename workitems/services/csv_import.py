"""CSV import of draft work items: a dry run with per-row results, then the import.

The flow follows django-import-export: `import_batch_preview` decodes and validates an upload and
keeps it server-side as an ImportBatch; `import_batch_confirm` validates it again (the database may
have changed since) and creates the new items in one transaction. By default only a file without
errors imports (all or nothing); with `valid_only` the valid rows import and the rows with errors
are skipped — exactly the rows the preview called valid, or nothing if that changed meanwhile.
`rejected_rows_csv` gives the skipped rows back as they were typed, with an `error` column, for
fixing and uploading again (the import ignores that column).

A row can also carry warnings that do not stop it: a due date already past ("will breach on
submit"), or sooner than the item's SLA allows; a preferred agent who is not in the row's queue.

File format (the upload page and `manage.py import_workitems --help` say the same):
- UTF-8 (a BOM is accepted), separated by commas; a file whose header row is separated by
  semicolons or tabs (Excel in some locales) is read with that separator instead.
- A header row naming the columns in any order. external_ref, name and worktype are required;
  the other columns may be left out. Unknown columns are an error naming them.
- Rows are numbered as a spreadsheet shows them: the header is row 1.
- Dates are ISO-8601 date-times with a UTC offset or Z. A date-time without one is an error, never
  read in the server's time zone: the spreadsheet's author and the server rarely share a time zone,
  and a silent shift of hours in a due date is worse than a clear message.
- A row whose external_ref is already in the database is skipped ("exists"), not an error, so a
  file can be imported again after a partial fix; the same external_ref twice in one file is an
  error on both rows.
- An `error` column (as in a file of rejected rows) is ignored. A cell a spreadsheet would read as
  a formula is written to that file behind a `'`, which the import takes off again.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from audits.models import Outcome
from audits.services import actor_for, record, record_many
from portal.csv_stream import DANGEROUS_LEADING, neutralise
from portal.json_safety import UnsafeJSON, json_loads_checked, unstorable_character
from workitems.models import ImportBatch, LocalState, Queue, QueueMember, Skill, WorkItem, WorkType
from workitems.models.workitem import (
    DESCRIPTION_MAX,
    MAX_DAYS_AHEAD,
    NAME_MAX,
    NAME_MIN,
    PRIORITY_MAX,
    PRIORITY_MIN,
)
from workitems.services.custom_fields import custom_fields_check
from workitems.services.item_audit import item_entry
from workitems.services.queue_members import MemberChoice, Resolved, queue_member_resolve
from workitems.services.sla import PolicyTerms, due_date_risk, sla_terms_table
from workitems.text import count_noun

COLUMNS = (
    "external_ref",
    "name",
    "worktype",
    "queue",
    "priority",
    "description",
    "date_due",
    "date_expires",
    "skills",
    "preferred_agents",
    "custom_fields",
)
REQUIRED_COLUMNS = ("external_ref", "name", "worktype")
ERROR_COLUMN = "error"  # in a file of rejected rows; ignored on import
IGNORED_COLUMNS = (ERROR_COLUMN,)
LIST_SEPARATOR = ";"  # Inside the skills and preferred_agents cells.
MAX_ROWS = 10_000  # Data rows per file; larger files are refused as a whole.
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # Enforced by the admin's upload form.
EXTERNAL_REF_MAX = WorkItem._meta.get_field("external_ref").max_length
UNSTORABLE_SHOWN = 20  # Cells with a NUL reported before "and N more".
KNOWN_NAMES_SHOWN = 10  # "known: …" lists at most this many names; beyond, "did you mean".
REF_CHUNK = 900  # external_ref values per IN query (SQLite's historic 999-parameter limit).
CREATE_BATCH = 500

_INTEGER = re.compile(r"^[+-]?\d+$")


class ImportRefused(Exception):
    """A confirmation that cannot go ahead; the message is meant for the person importing."""


# --- Report ----------------------------------------------------------------------------------


@dataclass
class RowResult:
    row: int
    external_ref: str
    outcome: str  # "new", "exists" or "error"
    errors: list[str] = field(default_factory=list)
    # What the row is imported with but a supervisor should know ("will breach on submit").
    warnings: list[str] = field(default_factory=list)
    # What the preview shows: the cells, with resolved names in place of ids.
    values: dict[str, Any] = field(default_factory=dict)
    # Model values for the import itself; never stored in the report.
    resolved: dict[str, Any] | None = field(default=None, repr=False, compare=False)


@dataclass
class ImportReport:
    file_errors: list[str] = field(default_factory=list)
    rows: list[RowResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.file_errors and not any(r.errors for r in self.rows)

    @property
    def importable(self) -> bool:
        """Something can be imported from it: no file-level error, and a row without errors."""
        return not self.file_errors and any(not r.errors for r in self.rows)

    def valid_rows(self) -> list[int]:
        """Numbers of the rows that would be created."""
        return [r.row for r in self.rows if r.outcome == "new" and not r.errors]

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {
            "rows": len(self.rows),
            "new": self.count("new"),
            "exists": self.count("exists"),
            "error": self.count("error"),
            "errors": len(self.errors()),
            "warned": sum(1 for r in self.rows if r.warnings),
        }

    def errors(self) -> list[str]:
        """Every problem, file-level first, each a sentence that names its row."""
        return [*self.file_errors, *(e for r in self.rows for e in r.errors)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "file_errors": list(self.file_errors),
            "rows": [{k: v for k, v in asdict(r).items() if k != "resolved"} for r in self.rows],
            "counts": self.counts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportReport:
        return cls(
            file_errors=list(data.get("file_errors", [])),
            rows=[
                RowResult(
                    row=r["row"],
                    external_ref=r.get("external_ref", ""),
                    outcome=r["outcome"],
                    errors=list(r.get("errors", [])),
                    warnings=list(r.get("warnings", [])),
                    values=dict(r.get("values", {})),
                )
                for r in data.get("rows", [])
            ],
        )


# --- Decoding and parsing --------------------------------------------------------------------


def csv_decode(*, raw: bytes) -> str:
    """The upload as text. UTF-8 only, with or without a BOM; anything else is a ValueError."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"The file is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line} is not "
            f'valid UTF-8). Save it as CSV UTF-8: in Excel, "Save As" → '
            f'"CSV UTF-8 (Comma delimited) (*.csv)".'
        ) from None


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _records(content: str) -> tuple[list[str], list[tuple[int, list[str]]], list[str]]:
    """Header, numbered non-blank data rows (header = row 1), and file-level errors."""
    content = content.removeprefix("\ufeff")
    if not content.strip():
        return [], [], ["The file is empty."]
    reader = csv.reader(
        io.StringIO(content, newline=""), delimiter=_delimiter(content.split("\n", 1)[0])
    )
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if not any(c.strip() for c in cells):
                continue  # Blank lines keep their number but are not rows.
            if not header:
                header = cells
                continue
            if len(rows) == MAX_ROWS:
                return (
                    header,
                    [],
                    [f"The file has more than {MAX_ROWS:,} rows; split it into smaller files."],
                )
            rows.append((number, cells))
    except csv.Error as exc:
        return header, [], [f"Row {number + 1}: the CSV cannot be read ({exc})."]
    return header, rows, []


def _unstorable_cells(header: list[str], rows: list[tuple[int, list[str]]]) -> list[str]:
    """Errors for cells holding what no database column can store (NUL): the whole file is refused
    before any cell is echoed into a message."""
    names = [h.strip().lower() for h in header]
    found = []
    for number, cells in [(1, header), *rows]:
        for i, text in enumerate(cells):
            if problem := unstorable_character(text):
                name = names[i] if i < len(names) and not unstorable_character(names[i]) else ""
                column = name if number > 1 and name else f"column {i + 1}"
                found.append(f"Row {number}, {column}: holds {problem}; remove it")
    if len(found) > UNSTORABLE_SHOWN:
        found[UNSTORABLE_SHOWN:] = [f"… and {len(found) - UNSTORABLE_SHOWN} more such cells."]
    return found


def _header_columns(header: list[str]) -> tuple[list[str], list[str]]:
    """Normalised column names and the header's errors."""
    names = [h.strip().lower() for h in header]
    while names and not names[-1]:
        names.pop()  # Trailing empty header cells: a spreadsheet artefact.
    if not set(names) & set(COLUMNS):
        return names, [
            f"Row 1: the first row must be the header naming the columns; expected "
            f"{', '.join(COLUMNS)} (external_ref, name and worktype are required)."
        ]
    errors = []
    unnamed = [str(i) for i, n in enumerate(names, start=1) if not n]
    if unnamed:
        errors.append(
            f"Row 1: column{'s' if len(unnamed) > 1 else ''} {', '.join(unnamed)} has no name."
        )
    twice = sorted({n for n in names if n and names.count(n) > 1})
    if twice:
        errors.append(f"Row 1: columns named more than once: {', '.join(twice)}.")
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        errors.append(f"Row 1: missing required columns: {', '.join(missing)}.")
    unknown = [
        n for n in dict.fromkeys(names) if n and n not in COLUMNS and n not in IGNORED_COLUMNS
    ]
    if unknown:
        errors.append(
            f"Row 1: unknown columns: {', '.join(unknown)} (the columns are: {', '.join(COLUMNS)})."
        )
    return names, errors


# --- Name resolution -------------------------------------------------------------------------


def _hint(token: str, names: Sequence[str]) -> str:
    if not names:
        return " (there are none; refresh reference data from Genesys)"
    if len(names) <= KNOWN_NAMES_SHOWN:
        return f" (known: {', '.join(names)})"
    by_fold = {n.casefold(): n for n in names}
    close = difflib.get_close_matches(token.casefold(), list(by_fold), n=3, cutoff=0.7)
    return f" (did you mean: {', '.join(by_fold[c] for c in close)}?)" if close else ""


class _Resolver:
    """Resolves a cell's name or id once per file (the same value repeats down a column)."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[Any, str | None]] = {}

    def resolve(self, token: str) -> tuple[Any, str | None]:
        """(what the token names, None) or (None, an error message)."""
        key = token.casefold()
        if key not in self._memo:
            self._memo[key] = self._resolve(token, key)
        return self._memo[key]

    def _resolve(self, token: str, key: str) -> tuple[Any, str | None]:
        raise NotImplementedError


class _Mirror(_Resolver):
    """Active and inactive rows of one reference table, matched by Genesys id or name."""

    def __init__(self, label: str, rows: Iterable[tuple[int, str, str, bool]]):
        self.label = label
        self.by_id: dict[str, tuple[int, str]] = {}
        self.by_name: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        self.inactive: set[str] = set()
        for pk, genesys_id, name, active in rows:
            if active:
                self.by_id[genesys_id.casefold()] = (pk, name)
                self.by_name[name.casefold()].append((pk, name, genesys_id))
            else:
                self.inactive.update((genesys_id.casefold(), name.casefold()))
        self.names = sorted({n for entries in self.by_name.values() for _, n, _ in entries})
        super().__init__()

    def _resolve(self, token: str, key: str):
        if key in self.by_id:
            return self.by_id[key], None
        matches = self.by_name.get(key, [])
        if len(matches) == 1:
            return matches[0][:2], None
        if matches:
            ids = ", ".join(gid for _, _, gid in matches)
            return None, (
                f'{len(matches)} {self.label}s are named "{token}" (Genesys ids {ids}); '
                f"use the Genesys id"
            )
        if key in self.inactive:
            return None, f'{self.label} "{token}" is inactive (no longer in Genesys)'
        return None, f'no {self.label} named "{token}"{_hint(token, self.names)}'


class _Agents:
    """Agents known through queue membership, resolved against the members of a row's queue
    (services.queue_members owns the rule); each (name, queue) once per file."""

    def __init__(self, rows: Iterable[tuple[str, str, int, str, str, bool]]):
        self.by_queue: dict[int, list[MemberChoice]] = defaultdict(list)
        self.everyone: list[MemberChoice] = []
        self.queues: dict[int, Queue] = {}
        for user_id, name, queue_pk, queue_name, routing_status, joined in rows:
            member = MemberChoice(user_id, name, queue_name, routing_status, joined)
            self.by_queue[queue_pk].append(member)
            self.everyone.append(member)
            self.queues.setdefault(queue_pk, Queue(pk=queue_pk, name=queue_name))
        self._memo: dict[tuple[str, int | None], Resolved] = {}

    def resolve(self, token: str, queue_pk: int | None, queue_name: str) -> Resolved:
        key = (token.casefold(), queue_pk)
        if key not in self._memo:
            members = self.by_queue.get(queue_pk, []) if queue_pk else []
            others = [m for m in self.everyone if m not in members]
            queue = self.queues.get(queue_pk) or (
                Queue(pk=queue_pk, name=queue_name) if queue_pk else None
            )
            self._memo[key] = queue_member_resolve(
                token=token, members=members, queue=queue, others=others
            )
        return self._memo[key]


@dataclass
class _Lookups:
    worktypes: _Mirror
    queues: _Mirror
    skills: _Mirror
    agents: _Agents | None
    existing_refs: set[str]
    # Worktype pk → (default queue pk, its name): the queue of a row that names none.
    default_queues: dict[int, tuple[int | None, str]]
    # SLA terms of a worktype and queue, for the due-date warnings.
    sla: Callable[[int, int | None], PolicyTerms]
    # Worktypes by pk with their custom-field schema, read only when custom fields are given.
    schemas: dict[int, WorkType]


def _mirror_rows(model) -> list[tuple[int, str, str, bool]]:
    return list(model.objects.values_list("pk", "genesys_id", "name", "active").order_by())


def _load_lookups(
    *,
    refs: list[str],
    need_queues: bool,
    need_skills: bool,
    need_agents: bool,
    need_schemas: bool = False,
    need_sla: bool = False,
):
    """Every table the file needs, each read once whatever the number of rows."""
    existing: set[str] = set()
    for start in range(0, len(refs), REF_CHUNK):
        chunk = refs[start : start + REF_CHUNK]
        existing.update(
            WorkItem.objects.filter(external_ref__in=chunk).values_list("external_ref", flat=True)
        )
    agents = None
    if need_agents:
        agents = _Agents(
            QueueMember.objects.filter(active=True, queue__active=True)
            .values_list("user_id", "name", "queue_id", "queue__name", "routing_status", "joined")
            .order_by()
        )
    # One query for the worktypes, with the default queue a row without a queue gets.
    worktype_rows = list(
        WorkType.objects.values_list(
            "pk", "genesys_id", "name", "active", "default_queue_id", "default_queue__name"
        ).order_by()
    )
    default_queues = {row[0]: (row[4], row[5] or "") for row in worktype_rows}
    return _Lookups(
        worktypes=_Mirror("worktype", [row[:4] for row in worktype_rows]),
        queues=_Mirror("queue", _mirror_rows(Queue) if need_queues else []),
        skills=_Mirror("skill", _mirror_rows(Skill) if need_skills else []),
        agents=agents,
        existing_refs=existing,
        default_queues=default_queues,
        sla=sla_terms_table() if need_sla else (lambda _wt, _q: PolicyTerms(0, False, None)),
        schemas=(
            WorkType.objects.only("pk", "name", "schema_id", "json_schema").in_bulk()
            if need_schemas
            else {}
        ),
    )


# --- Validation ------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """A cell's text, without the `'` a file of rejected rows puts before formula-like text."""
    text = text.strip()
    if text[:1] == "'" and text[1:2] in DANGEROUS_LEADING:
        return text[1:]
    return text


def _split_list(text: str) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in text.split(LIST_SEPARATOR) if t.strip()))


def _parse_datetime(text: str) -> tuple[datetime | None, str | None]:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None, f'"{text}" is not an ISO-8601 date-time (e.g. 2026-05-01T17:00:00Z)'
    if timezone.is_naive(value):
        return None, (
            f'"{text}" has no timezone; add one, e.g. "{value.isoformat()}Z" for UTC or '
            f'"{value.isoformat()}+02:00"'
        )
    return value, None


def _validate_row(
    *, number: int, cells: dict[str, str], lookups: _Lookups, now: datetime
) -> RowResult:
    ref = cells.get("external_ref", "")
    result = RowResult(row=number, external_ref=ref, outcome="new", values=dict(cells))
    errors = result.errors

    def error(column: str, message: str) -> None:
        errors.append(f"Row {number}, {column}: {message}")

    resolved: dict[str, Any] = {}
    if not ref:
        error("external_ref", "is required")
    elif len(ref) > EXTERNAL_REF_MAX:
        error("external_ref", f"is {len(ref)} characters long; the maximum is {EXTERNAL_REF_MAX}")
    resolved["external_ref"] = ref

    name = cells.get("name", "")
    if not name:
        error("name", "is required")
    elif not NAME_MIN <= len(name) <= NAME_MAX:
        error("name", f"is {len(name)} characters long; it must be {NAME_MIN} to {NAME_MAX}")
    resolved["name"] = name

    worktype = cells.get("worktype", "")
    if not worktype:
        error("worktype", "is required")
    else:
        found, problem = lookups.worktypes.resolve(worktype)
        if problem:
            error("worktype", problem)
        else:
            resolved["worktype_id"], result.values["worktype"] = found

    resolved["queue_id"] = None
    if queue := cells.get("queue", ""):
        found, problem = lookups.queues.resolve(queue)
        if problem:
            error("queue", problem)
        else:
            resolved["queue_id"], result.values["queue"] = found

    resolved["priority"] = None
    if priority := cells.get("priority", ""):
        if not _INTEGER.match(priority):
            error("priority", f'"{priority}" is not a whole number')
        elif not PRIORITY_MIN <= int(priority) <= PRIORITY_MAX:
            error("priority", f"{priority} is outside {PRIORITY_MIN:,} to {PRIORITY_MAX:,}")
        else:
            resolved["priority"] = int(priority)

    description = cells.get("description", "")
    if len(description) > DESCRIPTION_MAX:
        error(
            "description",
            f"is {len(description)} characters long; the maximum is {DESCRIPTION_MAX}",
        )
    resolved["description"] = description

    latest = now + timedelta(days=MAX_DAYS_AHEAD)
    for column in ("date_due", "date_expires"):
        resolved[column] = None
        if text := cells.get(column, ""):
            value, problem = _parse_datetime(text)
            if problem:
                error(column, problem)
            elif value > latest:
                error(column, f"{text} is more than {MAX_DAYS_AHEAD} days ahead")
            else:
                resolved[column] = value
    due, expires = resolved["date_due"], resolved["date_expires"]
    if due and expires and due > expires:
        error("date_due", f"{cells['date_due']} is after date_expires {cells['date_expires']}")

    skill_ids, skill_names = [], []
    for token in _split_list(cells.get("skills", "")):
        found, problem = lookups.skills.resolve(token)
        if problem:
            error("skills", problem)
        elif found[0] not in skill_ids:
            skill_ids.append(found[0])
            skill_names.append(found[1])
    resolved["skill_ids"] = skill_ids
    if skill_names and not any(e.startswith(f"Row {number}, skills:") for e in errors):
        result.values["skills"] = "; ".join(skill_names)

    queue_pk, queue_name = _row_queue(resolved, result, lookups)
    agent_ids, agent_names = [], []
    for token in _split_list(cells.get("preferred_agents", "")):
        found = lookups.agents.resolve(token, queue_pk, queue_name)
        if found.problem:
            error("preferred_agents", found.problem)
            continue
        if found.warning:
            result.warnings.append(f"Row {number}, preferred_agents: {found.warning}")
        if found.member.user_id not in agent_ids:
            agent_ids.append(found.member.user_id)
            agent_names.append(found.member.name)
    resolved["preferred_agent_ids"] = agent_ids
    if agent_names and not any(e.startswith(f"Row {number}, preferred_agents:") for e in errors):
        result.values["preferred_agents"] = "; ".join(agent_names)

    if resolved["date_due"] is not None and "worktype_id" in resolved:
        terms = lookups.sla(resolved["worktype_id"], resolved["queue_id"])
        if risk := due_date_risk(
            due=resolved["date_due"], now=now, threshold_seconds=terms.threshold_seconds
        ):
            result.warnings.append(f"Row {number}, date_due: {risk}")

    resolved["custom_fields"] = {}
    if text := cells.get("custom_fields", ""):
        try:
            value = json_loads_checked(text)
        except UnsafeJSON as exc:
            error("custom_fields", str(exc))
        else:
            if isinstance(value, dict):
                resolved["custom_fields"] = value
                if worktype := lookups.schemas.get(resolved.get("worktype_id")):
                    check = custom_fields_check(worktype=worktype, fields=value)
                    for problem in check.problems:
                        error("custom_fields", problem.rstrip("."))
            else:
                error("custom_fields", 'must be a JSON object, e.g. {"order_id_text": "A-17"}')

    if errors:
        result.outcome = "error"
    else:
        result.resolved = resolved
    return result


def _row_queue(
    resolved: dict[str, Any], result: RowResult, lookups: _Lookups
) -> tuple[int | None, str]:
    """The queue the row's item will be in: its own, else its worktype's default."""
    if resolved.get("queue_id"):
        return resolved["queue_id"], str(result.values.get("queue") or "")
    return lookups.default_queues.get(resolved.get("worktype_id"), (None, ""))


def csv_import_validate(*, content: str, now: datetime | None = None) -> ImportReport:
    """Validate a decoded file: file-level errors, or a result per data row. Saves nothing.

    The reference tables are read once for the whole file, so the number of queries does not grow
    with the number of rows (only the existing-ref look-up is chunked, per 900 rows).
    """
    now = now or timezone.now()
    header, records, file_errors = _records(content)
    if not file_errors and "\x00" in content:
        file_errors = _unstorable_cells(header, records)
    if file_errors:
        return ImportReport(file_errors=file_errors)
    columns, file_errors = _header_columns(header)
    if not file_errors and not records:
        file_errors = ["The file has a header row but no data rows."]
    if file_errors:
        return ImportReport(file_errors=file_errors)

    report = ImportReport()
    parsed: list[tuple[int, dict[str, str]]] = []
    for number, cells in records:
        extra = [c for c in cells[len(columns) :] if c.strip()]
        if extra:
            report.rows.append(
                RowResult(
                    row=number,
                    external_ref=cells[columns.index("external_ref")].strip()
                    if len(cells) > columns.index("external_ref")
                    else "",
                    outcome="error",
                    errors=[
                        f"Row {number}: has {len(cells)} cells but the header names "
                        f"{len(columns)} columns (a missing quote around a comma?)"
                    ],
                )
            )
            continue
        parsed.append(
            (
                number,
                {
                    col: _cell(cells[i]) if i < len(cells) else ""
                    for i, col in enumerate(columns)
                    if col not in IGNORED_COLUMNS
                },
            )
        )

    rows_of_ref: dict[str, list[int]] = defaultdict(list)
    for number, cells in parsed:
        if cells["external_ref"]:
            rows_of_ref[cells["external_ref"]].append(number)
    for result in report.rows:
        if result.external_ref:
            rows_of_ref[result.external_ref].append(result.row)

    def used(column: str) -> bool:
        return column in columns and any(cells[column] for _, cells in parsed)

    lookups = _load_lookups(
        refs=[ref for ref, rows in rows_of_ref.items() if len(rows) == 1],
        need_queues=used("queue"),
        need_skills=used("skills"),
        need_agents=used("preferred_agents"),
        need_schemas=used("custom_fields"),
        need_sla=used("date_due"),
    )
    for number, cells in parsed:
        ref = cells["external_ref"]
        others = [n for n in rows_of_ref.get(ref, []) if n != number]
        if others:
            rows = ", ".join(str(n) for n in sorted(others))
            report.rows.append(
                RowResult(
                    row=number,
                    external_ref=ref,
                    outcome="error",
                    errors=[
                        f'Row {number}, external_ref: "{ref}" also appears in '
                        f"row{'s' if len(others) > 1 else ''} {rows}"
                    ],
                    values=cells,
                )
            )
            # The row's other problems still count, so a fixed file has no surprises left.
            rest = _validate_row(number=number, cells=cells, lookups=lookups, now=now)
            report.rows[-1].errors.extend(rest.errors)
        elif ref in lookups.existing_refs:
            report.rows.append(
                RowResult(row=number, external_ref=ref, outcome="exists", values=cells)
            )
        else:
            report.rows.append(_validate_row(number=number, cells=cells, lookups=lookups, now=now))
    report.rows.sort(key=lambda r: r.row)
    return report


# --- Preview and import ----------------------------------------------------------------------


def _actor(user: AbstractBaseUser | AnonymousUser | None) -> str:
    return "system" if user is None else actor_for(user)


def _user_or_none(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def import_batch_preview(
    *, file_name: str, raw: bytes, user: AbstractBaseUser | None
) -> ImportBatch:
    """Decode and validate an upload; keep it as a batch (previewed, or rejected with errors)."""
    content = ""
    try:
        content = csv_decode(raw=raw)
    except ValueError as exc:
        report = ImportReport(file_errors=[str(exc)])
    else:
        report = csv_import_validate(content=content)
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            file_name=file_name[:255],
            # A file refused for holding NUL is kept as a record; the database cannot hold NUL.
            content=content.replace("\x00", "\ufffd"),
            uploaded_by=_user_or_none(user),
            state=ImportBatch.State.PREVIEWED if report.importable else ImportBatch.State.REJECTED,
            report=report.as_dict(),
        )
        record(
            actor=_actor(user),
            action="workitem.import.preview",
            object_type="ImportBatch",
            object_id=str(batch.pk),
            outcome=Outcome.INFO if report.importable else Outcome.REFUSED,
            context={"file_name": batch.file_name, **report.counts},
        )
    return batch


def _create_items(*, report: ImportReport, user: AbstractBaseUser | None) -> list[WorkItem]:
    """Bulk-create the report's new rows and their skills; no per-row save."""
    new = [r for r in report.rows if r.outcome == "new"]
    created_by = _user_or_none(user)
    items = [
        WorkItem(
            **{k: v for k, v in r.resolved.items() if k != "skill_ids"},
            local_state=LocalState.DRAFT,
            created_by=created_by,
        )
        for r in new
    ]
    WorkItem.objects.bulk_create(items, batch_size=CREATE_BATCH)
    if any(item.pk is None for item in items):  # A backend that cannot return ids.
        pks = dict(
            WorkItem.objects.filter(external_ref__in=[i.external_ref for i in items]).values_list(
                "external_ref", "pk"
            )
        )
        for item in items:
            item.pk = pks[item.external_ref]
    through = WorkItem.skills.through
    through.objects.bulk_create(
        [
            through(workitem_id=item.pk, skill_id=skill_id)
            for item, r in zip(items, new, strict=True)
            for skill_id in r.resolved["skill_ids"]
        ],
        batch_size=CREATE_BATCH,
    )
    return items


def _refusal(
    locked: ImportBatch, report: ImportReport, *, valid_only: bool, previous: ImportReport
) -> str:
    """Why this confirmation cannot go ahead ("" if it can), given the fresh report."""
    changed = "(the data changed since the preview)"
    errors = count_noun(len(report.errors()), "error")
    if not report.importable:
        return (
            f"{locked.file_name} no longer validates {changed}: {errors} and no valid row. "
            "Nothing was imported."
        )
    if not valid_only and not report.ok:
        if previous.ok:
            return (
                f"{locked.file_name} no longer validates {changed}: {errors}. Nothing was imported."
            )
        return (
            f"{locked.file_name} has {errors}, so nothing was imported. Import its valid rows "
            "and skip those with errors, or fix the file and upload it again."
        )
    if valid_only and report.valid_rows() != previous.valid_rows():
        return (
            f"{locked.file_name} validates differently now {changed}: "
            f"{count_noun(len(report.valid_rows()), 'row')} valid instead of "
            f"{len(previous.valid_rows())}. Nothing was imported; review the preview again."
        )
    return ""


def import_batch_confirm(
    *, batch: ImportBatch, user: AbstractBaseUser | None, valid_only: bool = False
) -> ImportReport:
    """Import a previewed batch in one transaction.

    `valid_only` False: every new row, or nothing when any row has an error. True: the rows the
    preview found valid, skipping those with errors — if the file still validates to exactly
    those rows; otherwise nothing, and the batch keeps the new report for another look.
    The file is validated again first, because reference data or work items may have changed
    since the preview. Raises ImportRefused (nothing imported) when it cannot go ahead.
    """
    actor = _actor(user)
    try:
        with transaction.atomic():
            locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
            if locked.state == ImportBatch.State.IMPORTED:
                raise ImportRefused(
                    f"{locked.file_name} was already imported "
                    f"({count_noun(locked.created_count, 'work item')} created); nothing was "
                    "imported again."
                )
            if locked.state == ImportBatch.State.REJECTED:
                raise ImportRefused(
                    f"{locked.file_name} has errors and no row that can be imported. Fix the "
                    "file and upload it again."
                )
            previous = ImportReport.from_dict(locked.report)
            report = csv_import_validate(content=locked.content)
            locked.report = report.as_dict()
            refusal = _refusal(locked, report, valid_only=valid_only, previous=previous)
            if not refusal:
                items = _create_items(report=report, user=user)
                locked.state = ImportBatch.State.IMPORTED
                locked.created_count = len(items)
                locked.imported_at = timezone.now()
                record_many(
                    item_entry(
                        item,
                        actor=actor,
                        action="workitem.create",
                        outcome=Outcome.SUCCESS,
                        context={"source": "csv import", "import_batch": locked.pk},
                    )
                    for item in items
                )
            elif not report.importable:
                locked.state = ImportBatch.State.REJECTED
            locked.save(update_fields=["report", "state", "created_count", "imported_at"])
            record(
                actor=actor,
                action="workitem.import",
                object_type="ImportBatch",
                object_id=str(locked.pk),
                outcome=Outcome.REFUSED if refusal else Outcome.SUCCESS,
                context={
                    "file_name": locked.file_name,
                    "created": locked.created_count,
                    "skipped_existing": report.count("exists"),
                    "skipped_errors": report.count("error") if not refusal else 0,
                    "mode": "valid rows only" if valid_only else "all or nothing",
                    **({"errors": len(report.errors())} if refusal else {}),
                },
            )
    except IntegrityError:
        # Someone created one of these refs between our check and our insert.
        raise ImportRefused(
            "Some of these external refs were created while the import ran; nothing was "
            "imported. Upload the file again to see which rows are new."
        ) from None
    for name in ("state", "report", "created_count", "imported_at"):
        setattr(batch, name, getattr(locked, name))
    if refusal:
        raise ImportRefused(refusal)
    return report


def rejected_rows_csv(*, batch: ImportBatch) -> str:
    """The rows of the batch that have errors, as they were typed (same columns, same order),
    with an `error` column saying what to fix, for uploading again once fixed. Cells a
    spreadsheet would run as a formula are written behind a `'` (the import takes it off)."""
    report = ImportReport.from_dict(batch.report)
    problems = {r.row: r.errors for r in report.rows if r.errors}
    header, records, _ = _records(batch.content)
    names = [h.strip().lower() for h in header]
    keep = [i for i, name in enumerate(names) if name != ERROR_COLUMN]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(header[i].strip()) for i in keep] + [ERROR_COLUMN])
    for number, cells in records:
        if number not in problems:
            continue
        row = [neutralise(cells[i]) if i < len(cells) else "" for i in keep]
        writer.writerow(row + [neutralise("; ".join(problems[number]))])
    return out.getvalue()
