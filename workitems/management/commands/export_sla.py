"""manage.py export_sla: the SLA report per work item, streamed in csv, excel or jsonl, with a
manifest, itself audited. The arguments and the run are portal.export_command's."""

from __future__ import annotations

from portal.csv_stream import rows_stream
from portal.export_command import ExportCommand
from workitems.selectors.sla_report import (
    SLA_COLUMNS,
    SLA_EXPORT,
    sla_report_queryset,
    sla_report_rows,
)


class Command(ExportCommand):
    help = (
        "Export the SLA report (one row per work item created in Genesys), oldest first, as csv, "
        "excel or jsonl, with a manifest (<file>.manifest.json): "
        + ", ".join(SLA_COLUMNS)
        + ". The export is recorded as an audit event."
    )
    export = SLA_EXPORT
    time_field = "date_created"

    def add_filter_arguments(self, parser):
        parser.add_argument("--queue", help="Queue name or Genesys id (the effective queue).")
        parser.add_argument("--worktype", help="Worktype name or Genesys id.")
        parser.add_argument("--open-only", action="store_true", help="Only items not closed.")

    def selection(self, options, window):
        filters = {
            **window.filters,
            "queue": options["queue"],
            "worktype": options["worktype"],
            "open_only": "yes" if options["open_only"] else None,
        }
        described = {
            "queue": options["queue"],
            "worktype": options["worktype"],
            "open": "open only" if options["open_only"] else None,
            **window.described,
        }
        return filters, described

    def chunks(self, options, window, *, fmt, tally, recorded, generated_at):
        queryset = sla_report_queryset(
            since=window.since,
            until=window.until,
            queue=options["queue"],
            worktype=options["worktype"],
            open_only=options["open_only"],
        )
        rows = sla_report_rows(queryset=queryset, now=generated_at)
        return rows_stream(header=SLA_COLUMNS, rows=rows, fmt=fmt, tally=tally)
