"""`manage.py simulator_seed`: create or refresh the demo organisation in the simulator."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from simulator.demo import IDS, seed_demo_org


class Command(BaseCommand):
    help = "Create or refresh the simulator's demo organisation (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--ids", action="store_true", help="Also print every demo id.")

    def handle(self, *args, ids: bool = False, **options):
        summary = seed_demo_org()
        self.stdout.write("Simulator demo org:")
        for kind, counts in summary.items():
            total = sum(counts.values())
            parts = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()) if n)
            self.stdout.write(f"  {kind:<13} {total:>3}  ({parts})")
        changed = sum(c["created"] + c["updated"] for c in summary.values())
        self.stdout.write(
            self.style.SUCCESS(f"{changed} change(s).") if changed else "Nothing to change."
        )
        if ids:
            for key, value in IDS.items():
                self.stdout.write(f"  {key:<40} {value}")
