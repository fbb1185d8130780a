"""manage.py verify_audit: seal what is committed, walk the audit chain, name the first problem.

With --export FILE: check an exported file against its manifest and against the chain instead.
Exit status 0 when intact, 1 when a problem was found.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from audits.chain import ChainError
from audits.verification import audit_chain_check
from portal.export_command import os_user, parse_flag_moment


class Command(BaseCommand):
    help = (
        "Seal the audit rows committed since the last sealing, then walk the hash chain and name "
        "the first row that was changed, removed or inserted out of order. With --export FILE, "
        "check an export against FILE.manifest.json and the chain."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", help="ISO date or datetime: walk from the first row at or after it."
        )
        parser.add_argument("--export", metavar="FILE", help="An exported file to check.")
        parser.add_argument(
            "--manifest", metavar="FILE", help="Its manifest (default: FILE.manifest.json)."
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=10.0,
            help="Seconds to wait for in-flight writers before sealing (default 10).",
        )

    def handle(self, *args, **options):
        if options["export"]:
            return self._export(options)
        since = parse_flag_moment("--since", options["since"])
        try:
            sealed, result, _run = audit_chain_check(
                actor=f"command:{os_user() or 'unknown'}", since=since, wait=options["wait"]
            )
        except ChainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Sealing: {sealed.line()}.")
        if sealed.waiting_fences:
            self.stdout.write(
                f"{result.unsealed} newer rows are not sealed yet: transactions that may still "
                "write below them are running."
            )
        if result.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Audit chain intact: {result.checked} sealed rows checked, ending at row "
                    f"{result.last_event_id} ({result.last_hash})."
                )
            )
            return
        self.stdout.write(self.style.ERROR(f"Audit chain BROKEN: {result.problems[0].message}"))
        for problem in result.problems[1:]:
            self.stdout.write(f"  also: {problem.message}")
        if result.more_problems:
            self.stdout.write(f"  … and {result.more_problems} more.")
        sys.exit(1)

    def _export(self, options):
        from audits.manifest import ManifestError, export_file_check

        try:
            report = export_file_check(
                path=options["export"],
                manifest_path=options["manifest"],
                actor=f"command:{os_user() or 'unknown'}",
            )
        except ManifestError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines:
            self.stdout.write(line)
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"{options['export']}: matches its manifest."))
            return
        self.stdout.write(self.style.ERROR(f"{options['export']}: {report.problems[0]}"))
        for problem in report.problems[1:]:
            self.stdout.write(f"  also: {problem}")
        sys.exit(1)
