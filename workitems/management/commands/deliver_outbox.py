"""Send due downstream deliveries from the foreground: once, or `--forever` as a worker."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from portal.worker_loop import WorkerLoop
from workitems.services.delivery import deliveries_send_due


class Command(BaseCommand):
    help = (
        "Send due downstream deliveries until none is due (what the schedule runs). "
        "With --forever, keep polling every --interval seconds until SIGTERM/SIGINT (which stop "
        "it after the current batch); database errors are retried with back-off."
    )

    def add_arguments(self, parser):
        parser.add_argument("--forever", action="store_true", help="Keep running as a worker.")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="Seconds between polls with --forever."
        )
        parser.add_argument("--limit", type=int, default=100, help="Deliveries claimed per batch.")

    def handle(self, *args, forever: bool, interval: float, limit: int, **options):
        if not forever:
            while self._batch(limit):
                pass
            return
        loop = WorkerLoop(name="deliver_outbox", interval=interval)
        with loop.stopping_on_signals():
            loop.run(lambda: self._batch(limit))
        self.stdout.write("Stopped.")

    def _batch(self, limit: int) -> bool:
        """One batch; True when more may be due right now."""
        counts = deliveries_send_due(limit=limit)
        if counts.claimed or counts.disabled or counts.paused_until:
            self.stdout.write(counts.line())
        return bool(counts.claimed) and not counts.disabled and not counts.paused_until
