from django.core.management.base import BaseCommand

from workitems.services.rollup import rollup_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the hourly rollup (opened, closed, breached, closed within SLA) from the items."
    )

    def handle(self, *args, **options):
        rows = rollup_rebuild()
        self.stdout.write(f"rollup rebuilt: {rows} rows")
