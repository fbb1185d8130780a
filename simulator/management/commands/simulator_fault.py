"""`manage.py simulator_fault add|list|clear`: make the simulator fail on purpose (faults.py)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from simulator import faults


class Command(BaseCommand):
    help = "Add, list or clear simulator faults."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="Add a fault.")
        add.add_argument("--path", default=".*", help="Regex searched in the request path.")
        add.add_argument("--method", default="", help="HTTP method; blank for any.")
        add.add_argument("--kind", default="status", choices=faults.KINDS)
        add.add_argument("--status", type=int, default=503)
        add.add_argument("--times", type=int, default=1, help="Uses; 0 for until cleared.")
        add.add_argument("--retry-after", type=int, default=None)
        add.add_argument(
            "--after-processing",
            action="store_true",
            help="Apply the request, then fail (an unknown outcome).",
        )
        add.add_argument("--note", default="")
        sub.add_parser("list", help="List active faults.")
        clear = sub.add_parser("clear", help="Remove one fault (--id) or all.")
        clear.add_argument("--id", type=int, default=None)

    def handle(self, *args, action: str, **options):
        if action == "add":
            try:
                fault = faults.inject(
                    path_regex=options["path"],
                    method=options["method"],
                    kind=options["kind"],
                    status=options["status"],
                    times=options["times"] or None,
                    after_processing=options["after_processing"],
                    retry_after=options["retry_after"],
                    note=options["note"],
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(f"Added fault {fault.pk}: {fault}")
        elif action == "list":
            active = faults.active()
            for fault in active:
                when = "after processing" if fault.after_processing else "before processing"
                self.stdout.write(f"{fault.pk}: {fault} [{when}, {fault.hits} hit(s)]")
            if not active:
                self.stdout.write("No active faults.")
        else:
            removed = faults.clear(fault_id=options["id"])
            self.stdout.write(f"Removed {removed} fault(s).")
