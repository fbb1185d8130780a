"""Export manifests: what a file holds and how to prove it, and the check of a file against one.

Every export (admin or command, audit trail or SLA report) writes `<file>.manifest.json`:
filters, row count, first and last rows (id and chain hash), the file's SHA-256 and size, when
and by whom it was generated. The admin streams the file and keeps the manifest as an
ExportManifest row, completed when the last byte has gone out (downloadable from the admin); the
commands write it beside the file too.

`verify_audit --export FILE` (export_file_check) then proves, for an audit export:
1. the file is the one the manifest describes (SHA-256, size, row count, first and last rows);
2. each of its rows is a sealed row of the chain, with the chain hash it was exported with, and
   its cells are what that row renders to in the file's format today: an edit made to the file and
   to its manifest alike is caught here;
3. the chain itself is intact (verify_audit's walk).
SLA reports have no chain: only step 1 applies.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from audits.chain import ChainError, audit_seal, audit_verify
from audits.exports import audit_rows
from audits.models import AuditChainHead, AuditEvent, AuditVerification, ExportManifest
from portal.csv_stream import ExportFormat, Tally, cell, export_format, json_value, utc_millis

logger = logging.getLogger(__name__)
MANIFEST_SUFFIX = ".manifest.json"
CHECK_CHUNK = 2000
MAX_PROBLEMS = 50


class ManifestError(Exception):
    """The file or its manifest cannot be read (and why)."""


@dataclass
class ExportJob:
    """One export under way: its manifest row and what goes into the manifest."""

    kind: str
    fmt: ExportFormat
    filename: str
    header: Sequence[str]
    parameters: dict[str, str]
    described: dict[str, str]
    generated_at: datetime
    generated_by: str
    record: ExportManifest | None = None
    tally: Tally = field(default_factory=Tally)
    chain: dict[str, Any] | None = None

    def begin(self) -> ExportJob:
        if self.kind == ExportManifest.Kind.AUDIT:
            # Chain what is committed, so the rows exported carry their hashes. An export never
            # fails for want of sealing: unsealed rows leave with an empty chain_hash.
            try:
                audit_seal(wait=1.0)
            except ChainError as exc:
                logger.warning("audit export without sealing first: %s", exc)
            head = AuditChainHead.objects.filter(pk=1).first()
            self.chain = {
                "sealed_through_id": head.last_event_id if head else 0,
                "head_hash": head.last_hash if head else None,
            }
        self.record = ExportManifest.objects.create(
            kind=self.kind,
            export_format=self.fmt.key,
            filename=self.filename,
            generated_at=self.generated_at,
            generated_by=self.generated_by,
            manifest=self.manifest(sha256=None, size=None),
        )
        return self

    def _row(self, row: Sequence[Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        values = dict(zip(self.header, row, strict=False))
        pk = values.get("id")
        picked = {"id": int(pk) if isinstance(pk, str) and pk.isdigit() else pk}
        if "chain_hash" in values:
            picked["chain_hash"] = values["chain_hash"] or None
        return picked

    def manifest(self, *, sha256: str | None, size: int | None) -> dict[str, Any]:
        data = {
            "manifest_version": 1,
            "kind": self.kind,
            "file": self.filename,
            "format": self.fmt.key,
            "time_zone": settings.TIME_ZONE if self.fmt.key == "excel" else "UTC",
            "columns": list(self.header),
            "filters": {"parameters": self.parameters, "described": self.described},
            "rows": self.tally.rows if sha256 else None,
            "first_row": self._row(self.tally.first),
            "last_row": self._row(self.tally.last),
            "sha256": sha256,
            "bytes": size,
            "generated_at": utc_millis(self.generated_at),
            "generated_by": self.generated_by,
        }
        if self.chain is not None:
            data["chain"] = self.chain
        return data

    def stream(
        self, chunks: Iterator[bytes], on_complete: Callable[[dict], None] | None = None
    ) -> Iterator[bytes]:
        """Pass the chunks on, hashing them; when the last has gone, complete the manifest.

        A download cut short closes this generator before that: the manifest stays incomplete.
        """
        digest, size = hashlib.sha256(), 0
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            yield chunk
        manifest = self.manifest(sha256=digest.hexdigest(), size=size)
        ExportManifest.objects.filter(pk=self.record.pk).update(manifest=manifest, completed=True)
        self.record.manifest, self.record.completed = manifest, True
        if on_complete is not None:
            on_complete(manifest)


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()


def manifest_filename(filename: str) -> str:
    return filename + MANIFEST_SUFFIX


# --- checking a file against its manifest ---------------------------------------------------------


@dataclass
class FileReport:
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _file_sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _file_rows(path: Path, fmt: ExportFormat) -> Iterator[list[Any]]:
    """The data rows of an export, header checked and skipped."""
    encoding = "utf-8-sig" if fmt.key == "excel" else "utf-8"
    with path.open(encoding=encoding, newline="") as handle:
        if fmt.key == "jsonl":
            for number, line in enumerate(handle, 1):
                try:
                    yield list(json.loads(line).values())
                except (ValueError, AttributeError) as exc:
                    raise ManifestError(f"line {number} is not a JSON object: {exc}") from exc
            return
        reader = csv.reader(handle)
        next(reader, None)
        yield from reader


def _expected(rows: Sequence[tuple], fmt: ExportFormat) -> dict[int, list[Any]]:
    """What each row renders to in `fmt`, as the file's reader gives it back (text for csv)."""
    if fmt.key == "jsonl":
        return {r[0]: [json_value(v) for v in r] for r in rows}
    return {r[0]: [str(cell(v, fmt)) for v in r] for r in rows}


def _check_rows(path: Path, fmt: ExportFormat, report: FileReport) -> tuple[int, int, int]:
    """Each file row against the database row of its id. Returns (rows, lowest id, highest id)."""
    count, low, high = 0, None, None
    batch: list[list[Any]] = []

    def problem(text: str) -> None:
        if len(report.problems) < MAX_PROBLEMS:
            report.problems.append(text)

    def flush() -> None:
        ids = []
        for values in batch:
            try:
                ids.append(int(values[0]))
            except (TypeError, ValueError, IndexError):
                problem(f"a row has no audit id in its first column: {values[:3]}")
        rendered = _expected(list(audit_rows(AuditEvent.objects.filter(pk__in=ids))), fmt)
        for pk, values in zip(ids, batch, strict=False):
            expected = rendered.get(pk)
            if expected is None:
                problem(f"row {pk} of the file is not in the audit trail (removed?)")
            elif not expected[-1]:
                problem(f"row {pk} of the file is not sealed in the chain")
            elif [str(v) if fmt.key != "jsonl" else v for v in values] != expected:
                problem(
                    f"row {pk} of the file differs from the audit trail (edited in the file, or "
                    "in the database)"
                )

    for values in _file_rows(path, fmt):
        count += 1
        pk = values[0] if values else None
        if isinstance(pk, int | str) and str(pk).isdigit():
            low = int(pk) if low is None else min(low, int(pk))
            high = int(pk) if high is None else max(high, int(pk))
        batch.append(values)
        if len(batch) >= CHECK_CHUNK:
            flush()
            batch = []
    if batch:
        flush()
    return count, low or 0, high or 0


def export_file_check(
    *, path: str, manifest_path: str | None = None, actor: str = "system"
) -> FileReport:
    file = Path(path)
    manifest_file = Path(manifest_path) if manifest_path else Path(path + MANIFEST_SUFFIX)
    if not file.is_file():
        raise ManifestError(f"{file}: no such file.")
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(f"{manifest_file}: no manifest (use --manifest to name it).") from exc
    except ValueError as exc:
        raise ManifestError(f"{manifest_file} is not JSON: {exc}") from exc
    try:
        fmt = export_format(manifest.get("format"))
    except ValueError as exc:
        raise ManifestError(f"{manifest_file}: {exc}") from exc
    report = FileReport()
    started = timezone.now()

    sha256, size = _file_sha256(file)
    if sha256 != manifest.get("sha256"):
        report.problems.append(
            f"its SHA-256 is {sha256}, the manifest says {manifest.get('sha256')}: the file was "
            "changed after it was exported"
        )
    if size != manifest.get("bytes"):
        report.problems.append(f"it has {size} bytes, the manifest says {manifest.get('bytes')}")
    report.lines.append(f"File: {size} bytes, SHA-256 {sha256}.")

    if manifest.get("kind") == ExportManifest.Kind.AUDIT:
        count, low, high = _check_rows(file, fmt, report)
        if count != manifest.get("rows"):
            report.problems.append(f"it has {count} rows, the manifest says {manifest.get('rows')}")
        report.lines.append(f"Rows: {count} (audit ids {low}–{high}) checked against the trail.")
        chain = audit_verify(from_id=low) if count else None
        if chain is not None and not chain.ok:
            report.problems.append(f"the audit chain is broken: {chain.problems[0].message}")
    else:
        count = sum(1 for _ in _file_rows(file, fmt))
        if count != manifest.get("rows"):
            report.problems.append(f"it has {count} rows, the manifest says {manifest.get('rows')}")
        report.lines.append(f"Rows: {count}.")

    AuditVerification.objects.create(
        started_at=started,
        finished_at=timezone.now(),
        actor=actor,
        ok=report.ok,
        rows_checked=count,
        first_problem=report.problems[0] if report.problems else "",
        problems=[{"message": p} for p in report.problems[:50]],
        export_file=str(file)[:300],
    )
    return report
