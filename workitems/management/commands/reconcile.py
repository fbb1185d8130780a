from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from workitems.services.reconcile import default_older_than, reconcile_stale


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Fetch open work items without news for a while from Genesys, oldest first, and apply what "
        "changed there (heals lost events). What the schedule runs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=_non_negative_int,
            metavar="MINUTES",
            help=f"Items with no change for this long (default RECONCILE_AFTER_MINUTES, now "
            f"{int(default_older_than().total_seconds() // 60)}).",
        )
        parser.add_argument(
            "--limit", type=int, default=200, metavar="N", help="At most N items (default 200)."
        )

    def handle(self, *args, older_than, limit, **options):
        if limit < 1:
            raise CommandError("--limit must be at least 1.")
        result = reconcile_stale(
            older_than=None if older_than is None else timedelta(minutes=older_than), limit=limit
        )
        line = result.line()
        self.stdout.write(self.style.WARNING(line) if result.stopped else line)
