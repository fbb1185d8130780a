"""manage.py export_sla: the SLA report per work item as CSV, streamed, itself audited."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audits.exports import comment_line, csv_stream, export_record
from audits.management.commands.export_audit import os_user, parse_flag_moment, write_chunks
from workitems.selectors.sla_report import SLA_COLUMNS, sla_report_queryset, sla_report_rows


class Command(BaseCommand):
    help = (
        "Export the SLA report (one row per work item created in Genesys) as CSV, oldest first: "
        + ", ".join(SLA_COLUMNS)
        + ". Age is closed (or now) minus created. The export is recorded as an audit event."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO date or datetime; date_created >= since.")
        parser.add_argument("--until", help="ISO date or datetime; date_created < until.")
        parser.add_argument("--queue", help="Queue name or Genesys id (the effective queue).")
        parser.add_argument("--worktype", help="Worktype name or Genesys id.")
        parser.add_argument("--open-only", action="store_true", help="Only items not closed.")
        parser.add_argument("--output", help="File to write (default: standard output).")

    def handle(self, *args, **options):
        since = parse_flag_moment("--since", options["since"])
        until = parse_flag_moment("--until", options["until"])
        if since and until and until <= since:
            raise CommandError("--until must be later than --since.")
        filters = {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "queue": options["queue"],
            "worktype": options["worktype"],
            "open_only": "yes" if options["open_only"] else None,
        }
        generated_at = timezone.now()
        export_record(
            actor="system",
            action="sla.export",
            object_type="WorkItem",
            filters=filters,
            export_format="csv",
            via="command",
            os_user=os_user(),
            output=options["output"] or "stdout",
        )
        queryset = sla_report_queryset(
            since=since,
            until=until,
            queue=options["queue"],
            worktype=options["worktype"],
            open_only=options["open_only"],
        )
        chunks = csv_stream(
            header=SLA_COLUMNS,
            rows=sla_report_rows(queryset=queryset, now=generated_at),
            comment=comment_line(title="SLA report", filters=filters, generated_at=generated_at),
        )
        write_chunks(self, chunks, options["output"])
        if options["output"]:
            self.stderr.write(f"Wrote {options['output']}")
