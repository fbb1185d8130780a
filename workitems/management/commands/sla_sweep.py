from django.core.management.base import BaseCommand

from workitems.services.sla import sla_sweep


class Command(BaseCommand):
    help = "Mark open, unpaused work items past their SLA deadline as breached (what the schedule runs)."

    def handle(self, *args, **options):
        result = sla_sweep()
        self.stdout.write(
            f"Marked {result.breached} work items as breached in {result.seconds:.3f}s; "
            f"wrote {result.breached} audit events and {result.breached} deliveries."
        )
