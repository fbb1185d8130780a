from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from workitems.services.csv_import import (
    COLUMNS,
    REQUIRED_COLUMNS,
    ImportRefused,
    ImportReport,
    csv_decode,
    csv_import_validate,
    import_batch_confirm,
    import_batch_preview,
    rejected_rows_csv,
)
from workitems.text import count_noun

OUTCOME_TEXT = {"new": "new", "exists": "already imported, skipped", "error": "error"}


class Command(BaseCommand):
    help = (
        "Import draft work items from a CSV file (UTF-8, header row). Columns: "
        f"{', '.join(COLUMNS)}; required: {', '.join(REQUIRED_COLUMNS)}. The valid rows are "
        "imported and the rows with errors skipped (the command then exits non-zero); with "
        "--all-or-nothing, nothing is imported when any row has an error. Rows whose "
        "external_ref exists are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.csv", help="The CSV file to import.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and report only; save nothing."
        )
        parser.add_argument(
            "--all-or-nothing",
            action="store_true",
            help="Import nothing when any row has an error (the default imports the valid rows).",
        )
        parser.add_argument(
            "--rejected",
            metavar="REJECTED.csv",
            help="Write the rows with errors here, as typed, with an error column, to fix and "
            "import again.",
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="Record the items as created by this user (default: none; audited as 'system').",
        )

    def handle(self, *args, file, dry_run, all_or_nothing, rejected, user, **options):
        path = Path(file)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from None
        owner = None
        if user:
            try:
                owner = get_user_model().objects.get_by_natural_key(user)
            except get_user_model().DoesNotExist:
                raise CommandError(f"No user named {user}.") from None

        if dry_run:
            try:
                report = csv_import_validate(content=csv_decode(raw=raw))
            except ValueError as exc:
                report = ImportReport(file_errors=[str(exc)])
            self._print(report, verbosity=options["verbosity"])
            if not report.ok and (all_or_nothing or not report.importable):
                raise CommandError(self._failure(report))
            self.stdout.write(
                f"Dry run: {len(report.valid_rows())} would be created, "
                f"{report.count('exists')} skipped as already imported"
                + (
                    f", {count_noun(report.count('error'), 'row')} with errors skipped"
                    if report.count("error")
                    else ""
                )
                + ". Nothing was saved."
            )
            return

        batch = import_batch_preview(file_name=path.name, raw=raw, user=owner)
        try:
            report = import_batch_confirm(batch=batch, user=owner, valid_only=not all_or_nothing)
        except ImportRefused:
            report = ImportReport.from_dict(batch.report)
            self._print(report, verbosity=options["verbosity"])
            self._write_rejected(batch, rejected)
            raise CommandError(self._failure(report)) from None
        self._print(report, verbosity=options["verbosity"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {count_noun(batch.created_count, 'work item')} as drafts; "
                f"{report.count('exists')} skipped as already imported (import #{batch.pk})."
            )
        )
        if report.count("error"):
            self._write_rejected(batch, rejected)
            raise CommandError(
                f"{count_noun(report.count('error'), 'row')} with errors "
                f"{'was' if report.count('error') == 1 else 'were'} not imported "
                f"({count_noun(len(report.errors()), 'error')})."
            )

    def _write_rejected(self, batch, rejected: str | None) -> None:
        if not rejected or not ImportReport.from_dict(batch.report).count("error"):
            return
        Path(rejected).write_text(rejected_rows_csv(batch=batch), encoding="utf-8")
        self.stderr.write(f"The rows with errors were written to {rejected}.")

    def _print(self, report: ImportReport, *, verbosity: int) -> None:
        for message in report.file_errors:
            self.stderr.write(message)
        for row in report.rows:
            if verbosity >= 1:
                ref = f" {row.external_ref}" if row.external_ref else ""
                line = f"Row {row.row}{ref}: {OUTCOME_TEXT[row.outcome]}"
                self.stdout.write(self.style.ERROR(line) if row.errors else line)
            for message in row.errors:
                self.stderr.write(f"  {message}")
            for message in row.warnings:
                self.stderr.write(f"  warning: {message}")

    @staticmethod
    def _failure(report: ImportReport) -> str:
        return f"The file has {count_noun(len(report.errors()), 'error')}; nothing was imported."
