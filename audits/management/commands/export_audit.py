"""manage.py export_audit: the audit trail as csv, excel or jsonl, streamed, with a manifest,
itself audited. The arguments and the run are portal.export_command's."""

from __future__ import annotations

from audits.exports import AUDIT_EXPORT, audit_export_chunks, audit_export_queryset
from audits.labels import action_label
from portal.export_command import ExportCommand


class Command(ExportCommand):
    help = (
        "Export the audit trail, newest first, as csv (UTC, RFC 4180), excel (byte-order mark, "
        "local times) or jsonl, with a manifest (<file>.manifest.json). Text cells are "
        "formula-neutralised. The export is itself recorded as an audit event."
    )
    export = AUDIT_EXPORT
    time_field = "occurred_at"

    def add_filter_arguments(self, parser):
        parser.add_argument("--action", help="Exact action code, e.g. workitem.submit.")
        parser.add_argument("--actor", help="Exact actor: a username, genesys or system.")

    def selection(self, options, window):
        action, actor = options["action"], options["actor"]
        filters = {**window.filters, "action": action, "actor": actor}
        described = {
            **window.described,
            "action": action_label(action) if action else None,
            "actor": actor,
        }
        return filters, described

    def chunks(self, options, window, *, fmt, tally, recorded, generated_at):
        queryset = audit_export_queryset(
            since=window.since,
            until=window.until,
            action=options["action"],
            actor=options["actor"],
        )
        # The export holds what existed when it was asked for, not its own record.
        queryset = queryset.exclude(pk=recorded.pk)
        return audit_export_chunks(queryset=queryset, fmt=fmt, tally=tally)
