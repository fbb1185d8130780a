import signal
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections

from workitems.services.event_processor import events_drain, events_process_batch


class Command(BaseCommand):
    help = (
        "Apply stored Genesys events (the inbound-event queue). Drains what is due and exits, or "
        "with --forever keeps polling (what `make run` and the worker container run)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--forever", action="store_true", help="Keep polling until SIGTERM or SIGINT."
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=0.5,
            help="Seconds to wait when the queue is empty (with --forever). Default 0.5.",
        )
        parser.add_argument(
            "--batch", type=int, default=500, help="Events claimed per transaction. Default 500."
        )

    def handle(self, *args, forever=False, interval=0.5, batch=500, **options):
        if batch < 1 or interval < 0:
            self.stderr.write("--batch must be at least 1 and --interval not negative.")
            return
        if not forever:
            result = events_drain(limit=batch)
            self.stdout.write(f"Processed {result.line()}.")
            return
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"Processing events every {interval}s until stopped.")
        while not stopping:
            close_old_connections()
            try:
                counts = events_process_batch(limit=batch)
            except DatabaseError as exc:
                # The database went away or a batch failed as a whole: wait, reconnect, carry on.
                self.stderr.write(f"Batch failed: {type(exc).__name__}: {exc}")
                close_old_connections()
                time.sleep(max(interval, 2.0))
                continue
            if counts["claimed"]:
                self.stdout.write(
                    ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), ending="\n"
                )
            if counts["claimed"] < batch:
                time.sleep(interval)
        self.stdout.write("Stopped.")
