"""manage.py export_audit: the audit trail as csv, excel or jsonl, streamed, with a manifest,
itself audited."""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audits.exports import (
    AUDIT_COLUMNS,
    EXPORT_FORMATS,
    audit_export_chunks,
    audit_export_queryset,
    export_filename,
    export_format,
    export_record,
)
from audits.labels import action_label
from audits.manifest import ExportJob, manifest_bytes, manifest_filename
from audits.models import ExportManifest
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


class Command(BaseCommand):
    help = (
        "Export the audit trail, newest first, as csv (UTC, RFC 4180), excel (byte-order mark, "
        "local times) or jsonl, with a manifest (<file>.manifest.json). Text cells are "
        "formula-neutralised. The export is itself recorded as an audit event."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO date or datetime; occurred_at >= since.")
        parser.add_argument(
            "--until", help="ISO date or datetime; occurred_at < until (exclusive)."
        )
        parser.add_argument("--action", help="Exact action code, e.g. workitem.submit.")
        parser.add_argument("--actor", help="Exact actor: a username, genesys or system.")
        parser.add_argument("--format", choices=list(EXPORT_FORMATS), default="csv")
        parser.add_argument(
            "--output",
            help="File to write, or a directory to write it in under a name that states the "
            "filters (default: standard output).",
        )

    def handle(self, *args, **options):
        since = parse_flag_moment("--since", options["since"])
        until = parse_flag_moment("--until", options["until"])
        if since and until and until <= since:
            raise CommandError("--until must be later than --since.")
        filters = {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "action": options["action"],
            "actor": options["actor"],
        }
        described = {
            "since": f"from {since:%Y-%m-%d}" if since else None,
            "until": f"before {until:%Y-%m-%d}" if until else None,
            "action": action_label(options["action"]) if options["action"] else None,
            "actor": options["actor"],
        }
        described = {k: v for k, v in described.items() if v}
        queryset = audit_export_queryset(
            since=since, until=until, action=options["action"], actor=options["actor"]
        )
        fmt = export_format(options["format"])
        generated_at = timezone.now()
        filename = export_filename(
            prefix="audit", described=described.values(), generated_at=generated_at, fmt=fmt
        )
        audit = export_record(
            actor="system",
            filters=filters,
            export_format=fmt.key,
            via="command",
            os_user=os_user(),
            output=options["output"] or "stdout",
        )
        # The export holds what existed when it was asked for, not its own record.
        queryset = queryset.exclude(pk=audit.pk)
        job = ExportJob(
            kind=ExportManifest.Kind.AUDIT,
            fmt=fmt,
            filename=filename,
            header=AUDIT_COLUMNS,
            parameters={k: v for k, v in filters.items() if v},
            described=described,
            generated_at=generated_at,
            generated_by=f"{os_user() or 'unknown'} (manage.py export_audit)",
        )
        run_export(
            self,
            job,
            audit_export_chunks(queryset=queryset, fmt=fmt, tally=job.tally),
            options["output"],
        )
