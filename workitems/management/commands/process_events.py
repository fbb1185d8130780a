from django.core.management.base import BaseCommand

from portal.worker_loop import WorkerLoop
from workitems.services.event_processor import events_drain, events_process_batch


class Command(BaseCommand):
    help = (
        "Apply stored Genesys events (the inbound-event queue). Drains what is due and exits, or "
        "with --forever keeps polling (what `make run` and the worker container run): database "
        "errors are retried with back-off, SIGTERM/SIGINT stop it after the current batch."
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

        def step() -> bool:
            counts = events_process_batch(limit=batch)
            if counts["claimed"]:
                self.stdout.write(", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
            return counts["claimed"] >= batch  # a full batch: more may be waiting

        loop = WorkerLoop(name="process_events", interval=interval)
        self.stdout.write(f"Processing events every {interval}s until stopped.")
        with loop.stopping_on_signals():
            loop.run(step)
        self.stdout.write("Stopped.")
