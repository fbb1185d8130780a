"""manage.py export_audit: the audit trail as CSV or JSONL, streamed, itself audited."""

from __future__ import annotations

import getpass
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audits.exports import (
    audit_export_csv,
    audit_export_jsonl,
    audit_export_queryset,
    export_record,
)
from audits.filters import parse_moment


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


def write_chunks(command: BaseCommand, chunks, output: str | None) -> None:
    """Bytes to a file, or to stdout chunk by chunk: constant memory either way."""
    if output:
        try:
            with open(output, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
        except OSError as exc:
            raise CommandError(f"--output: cannot write {output!r}: {exc}") from exc
        return
    for chunk in chunks:
        command.stdout.write(chunk.decode(), ending="")
    command.stdout.flush()


class Command(BaseCommand):
    help = (
        "Export the audit trail, newest first, as CSV (formula-neutralised, first line a comment "
        "stating the filters) or JSONL. The export is itself recorded as an audit event."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO date or datetime; occurred_at >= since.")
        parser.add_argument(
            "--until", help="ISO date or datetime; occurred_at < until (exclusive)."
        )
        parser.add_argument("--action", help="Exact action, e.g. workitem.submit.")
        parser.add_argument("--actor", help="Exact actor: a username, genesys or system.")
        parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
        parser.add_argument("--output", help="File to write (default: standard output).")

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
        queryset = audit_export_queryset(
            since=since, until=until, action=options["action"], actor=options["actor"]
        )
        export_format = options["format"]
        generated_at = timezone.now()
        audit = export_record(
            actor="system",
            filters=filters,
            export_format=export_format,
            via="command",
            os_user=os_user(),
            output=options["output"] or "stdout",
        )
        build = audit_export_csv if export_format == "csv" else audit_export_jsonl
        # The export holds what existed when it was asked for, not its own record.
        queryset = queryset.exclude(pk=audit.pk)
        chunks = build(queryset=queryset, filters=filters, generated_at=generated_at)
        write_chunks(self, chunks, options["output"])
        if options["output"]:
            self.stderr.write(f"Wrote {options['output']}")
