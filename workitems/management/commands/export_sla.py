"""manage.py export_sla: the SLA report per work item, streamed in csv, excel or jsonl, with a
manifest, itself audited."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audits.exports import (
    EXPORT_FORMATS,
    export_filename,
    export_format,
    export_record,
    rows_stream,
)
from audits.management.commands.export_audit import os_user, parse_flag_moment, run_export
from audits.manifest import ExportJob
from audits.models import ExportManifest
from workitems.selectors.sla_report import SLA_COLUMNS, sla_report_queryset, sla_report_rows


class Command(BaseCommand):
    help = (
        "Export the SLA report (one row per work item created in Genesys), oldest first, as csv, "
        "excel or jsonl, with a manifest (<file>.manifest.json): "
        + ", ".join(SLA_COLUMNS)
        + ". The export is recorded as an audit event."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", help="ISO date or datetime; date_created >= since.")
        parser.add_argument("--until", help="ISO date or datetime; date_created < until.")
        parser.add_argument("--queue", help="Queue name or Genesys id (the effective queue).")
        parser.add_argument("--worktype", help="Worktype name or Genesys id.")
        parser.add_argument("--open-only", action="store_true", help="Only items not closed.")
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
            "queue": options["queue"],
            "worktype": options["worktype"],
            "open_only": "yes" if options["open_only"] else None,
        }
        described = {
            "queue": options["queue"],
            "worktype": options["worktype"],
            "open": "open only" if options["open_only"] else None,
            "since": f"from {since:%Y-%m-%d}" if since else None,
            "until": f"before {until:%Y-%m-%d}" if until else None,
        }
        described = {k: v for k, v in described.items() if v}
        fmt = export_format(options["format"])
        generated_at = timezone.now()
        export_record(
            actor="system",
            action="sla.export",
            object_type="WorkItem",
            filters=filters,
            export_format=fmt.key,
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
        job = ExportJob(
            kind=ExportManifest.Kind.SLA,
            fmt=fmt,
            filename=export_filename(
                prefix="sla", described=described.values(), generated_at=generated_at, fmt=fmt
            ),
            header=SLA_COLUMNS,
            parameters={k: v for k, v in filters.items() if v},
            described=described,
            generated_at=generated_at,
            generated_by=f"{os_user() or 'unknown'} (manage.py export_sla)",
        )
        rows = sla_report_rows(queryset=queryset, now=generated_at)
        chunks = rows_stream(header=SLA_COLUMNS, rows=rows, fmt=fmt, tally=job.tally)
        run_export(self, job, chunks, options["output"])
