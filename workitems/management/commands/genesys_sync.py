from django.core.management.base import BaseCommand, CommandError

from workitems.genesys import GenesysError
from workitems.services.reference_sync import KINDS, parse_kinds, reference_sync


class Command(BaseCommand):
    help = "Refresh queues, skills, workbins, worktypes (with statuses) and queue members from Genesys."

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            default="",
            help=f"Comma-separated kinds to sync, from: {', '.join(KINDS)}. Default: all.",
        )

    def handle(self, *args, only: str, verbosity: int, **options):
        try:
            kinds = parse_kinds(only)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        try:
            result = reference_sync(kinds=kinds, actor="system", progress=self.stdout.write)
        except GenesysError as exc:
            raise CommandError(f"Sync failed: {exc}") from None
        total = sum(c.seen for c in result.counts.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Synced {total} objects; {result.changed} changed (sync run {result.run.pk})."
            )
        )
