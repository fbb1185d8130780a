"""What the export commands (export_audit, export_sla) share: the same --since/--until, --format
and --output, and one run — the export recorded as an audit event, then the file streamed to
standard output or to a file with its manifest (`<file>.manifest.json`) beside it.

A command subclasses ExportCommand and keeps only what is its own: its filters, the words that
describe them, and the rows.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audits.exports import export_record
from audits.manifest import ExportJob, manifest_bytes, manifest_filename
from audits.models import AuditEvent
from portal.csv_stream import (
    EXPORT_FORMATS,
    ExportFormat,
    ExportKind,
    Tally,
    export_filename,
    export_format,
)
from portal.date_range_filter import parse_moment


def parse_flag_moment(flag: str, value: str | None) -> datetime | None:
    """An ISO date or datetime for `flag`, or a CommandError naming the flag."""
    if value is None:
        return None
    try:
        moment = parse_moment(value)
    except ValueError:
        moment = None
    if moment is None:
        raise CommandError(
            f"{flag}: {value!r} is not an ISO date (2024-05-01) or datetime (2024-05-01T08:00+02:00)."
        )
    return moment


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return ""


def output_path(output: str | None, filename: str) -> Path | None:
    """--output FILE, or --output DIR/ (the file named after its filters inside), or stdout."""
    if not output:
        return None
    path = Path(output)
    return path / filename if path.is_dir() else path


def write_chunks(command: BaseCommand, chunks, path: Path | None) -> None:
    """Bytes to a file, or to stdout chunk by chunk: constant memory either way."""
    if path is not None:
        try:
            with path.open("wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
        except OSError as exc:
            raise CommandError(f"--output: cannot write {str(path)!r}: {exc}") from exc
        return
    for chunk in chunks:
        command.stdout.write(chunk.decode(), ending="")
    command.stdout.flush()


def run_export(command: BaseCommand, job: ExportJob, chunks, output: str | None) -> None:
    """Write the file and, beside it, `<file>.manifest.json` (also kept for the admin)."""
    path = output_path(output, job.filename)

    def write_manifest(manifest: dict) -> None:
        if path is not None:
            manifest_path = path.with_name(manifest_filename(path.name))
            manifest_path.write_bytes(manifest_bytes(manifest))

    if path is not None:
        job.filename = path.name
    job.begin()
    write_chunks(command, job.stream(chunks, on_complete=write_manifest), path)
    if path is not None:
        command.stderr.write(f"Wrote {path} and {manifest_filename(path.name)}")
    else:
        command.stderr.write(
            f"Manifest: in the admin under Exports (#{job.record.pk}); use --output FILE to "
            "write it beside the file."
        )


@dataclass(frozen=True)
class Window:
    """--since (inclusive) and --until (exclusive), as read; either may be open."""

    since: datetime | None
    until: datetime | None

    @property
    def filters(self) -> dict[str, str | None]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }

    @property
    def described(self) -> dict[str, str | None]:
        return {
            "since": f"from {self.since:%Y-%m-%d}" if self.since else None,
            "until": f"before {self.until:%Y-%m-%d}" if self.until else None,
        }


class ExportCommand(BaseCommand):
    """An export command: its `export` (kind), `time_field`, and the three hooks below."""

    export: ExportKind
    time_field = ""  # the column --since/--until bound, named in --help

    def add_filter_arguments(self, parser) -> None:
        """The command's own filters."""

    def selection(self, options, window: Window) -> tuple[dict[str, Any], dict[str, Any]]:
        """The filters (recorded and in the manifest) and their words (in the file's name), the
        window's among them; empty ones are dropped."""
        raise NotImplementedError

    def chunks(
        self,
        options,
        window: Window,
        *,
        fmt: ExportFormat,
        tally: Tally,
        recorded: AuditEvent,
        generated_at: datetime,
    ) -> Iterator[bytes]:
        """The file's bytes: header, then rows. `recorded` is this export's own audit event."""
        raise NotImplementedError

    def add_arguments(self, parser):
        column = self.time_field
        parser.add_argument("--since", help=f"ISO date or datetime; {column} >= since.")
        parser.add_argument("--until", help=f"ISO date or datetime; {column} < until (exclusive).")
        self.add_filter_arguments(parser)
        parser.add_argument("--format", choices=list(EXPORT_FORMATS), default="csv")
        parser.add_argument(
            "--output",
            help="File to write, or a directory to write it in under a name that states the "
            "filters (default: standard output).",
        )

    def handle(self, *args, **options):
        window = Window(
            since=parse_flag_moment("--since", options["since"]),
            until=parse_flag_moment("--until", options["until"]),
        )
        if window.since and window.until and window.until <= window.since:
            raise CommandError("--until must be later than --since.")
        filters, described = self.selection(options, window)
        described = {k: v for k, v in described.items() if v}
        fmt = export_format(options["format"])
        generated_at = timezone.now()
        user = os_user()
        recorded = export_record(
            actor="system",
            filters=filters,
            export_format=fmt.key,
            via="command",
            os_user=user,
            output=options["output"] or "stdout",
            **self.export.recorded_as,
        )
        job = ExportJob(
            kind=self.export.manifest_kind,
            fmt=fmt,
            filename=export_filename(
                prefix=self.export.prefix,
                described=described.values(),
                generated_at=generated_at,
                fmt=fmt,
            ),
            header=self.export.header,
            parameters={k: v for k, v in filters.items() if v},
            described=described,
            generated_at=generated_at,
            generated_by=f"{user or 'unknown'} (manage.py {self.command_name})",
        )
        chunks = self.chunks(
            options,
            window,
            fmt=fmt,
            tally=job.tally,
            recorded=recorded,
            generated_at=generated_at,
        )
        run_export(self, job, chunks, options["output"])

    @property
    def command_name(self) -> str:
        # Django names a command after its module.
        return self.__module__.rsplit(".", 1)[-1]
