"""Send due downstream deliveries from the foreground: once, or `--forever` as a worker."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from workitems.services.delivery import deliveries_send_due


class Command(BaseCommand):
    help = (
        "Send due downstream deliveries until none is due (what the schedule runs). "
        "With --forever, keep polling every --interval seconds until interrupted."
    )

    def add_arguments(self, parser):
        parser.add_argument("--forever", action="store_true", help="Keep running as a worker.")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="Seconds between polls with --forever."
        )
        parser.add_argument("--limit", type=int, default=100, help="Deliveries claimed per batch.")

    def handle(self, *args, forever: bool, interval: float, limit: int, **options):
        try:
            while True:
                self._drain(limit)
                if not forever:
                    return
                time.sleep(interval)
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")

    def _drain(self, limit: int) -> None:
        while True:
            counts = deliveries_send_due(limit=limit)
            if counts.claimed or counts.disabled or counts.paused_until:
                self.stdout.write(counts.line())
            if counts.claimed == 0 or counts.disabled or counts.paused_until:
                return
