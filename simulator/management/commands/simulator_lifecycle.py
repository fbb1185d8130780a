"""`manage.py simulator_lifecycle`: agents at work in the simulated org.

    manage.py simulator_lifecycle --once                 # every open item one step on, then exit
    manage.py simulator_lifecycle --forever --interval 5 # a step every 5 s until Ctrl-C (make run)
    manage.py simulator_lifecycle --item <id> [--status <id>]   # one item, on command

Each move emits a work-item event, POSTed to SIMULATOR_EVENT_TARGET_URL when an enabled simulator
trigger matches it (simulator/events.py).
"""

from __future__ import annotations

import random

from django.core.management.base import BaseCommand, CommandError

from portal.worker_loop import WorkerLoop
from simulator.events import event_target_url
from simulator.lifecycle import LifecycleError, lifecycle_advance, lifecycle_step


class Command(BaseCommand):
    help = "Move simulated work items through their statuses and deliver the events."

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="One step, then exit (the default).")
        mode.add_argument("--forever", action="store_true", help="A step every --interval seconds.")
        mode.add_argument("--item", help="Move this work item (its Genesys id) one step on.")
        parser.add_argument("--status", help="With --item: the status id to move it to.")
        parser.add_argument("--interval", type=float, default=5.0, help="Seconds between steps.")
        parser.add_argument(
            "--move-probability",
            type=float,
            default=0.5,
            help="Chance that an open item moves in a step (1 moves every item every step).",
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Seed the choices (repeatable runs)."
        )

    def handle(self, *args, **options):
        if options["status"] and not options["item"]:
            raise CommandError("--status needs --item.")
        if options["interval"] <= 0:
            raise CommandError("--interval must be positive.")
        if not 0 < options["move_probability"] <= 1:
            raise CommandError("--move-probability must be above 0 and at most 1.")
        rng = random.Random(options["seed"])
        if options["item"]:
            try:
                event = lifecycle_advance(
                    workitem_id=options["item"], status_id=options["status"], rng=None
                )
            except LifecycleError as exc:
                raise CommandError(str(exc)) from None
            if event is None:
                self.stdout.write("The work item is closed; nothing to do.")
            else:
                self._report([event])
            return
        if not options["forever"]:
            self._report(lifecycle_step(rng=rng, move_probability=1.0))
            return
        self.stdout.write(
            f"Moving work items every {options['interval']:g}s; events go to {event_target_url()} "
            "where a trigger matches. Ctrl-C stops."
        )

        def step() -> bool:
            self._report(lifecycle_step(rng=rng, move_probability=options["move_probability"]))
            return False  # one step per interval

        loop = WorkerLoop(name="simulator_lifecycle", interval=options["interval"])
        with loop.stopping_on_signals():
            loop.run(step)
        self.stdout.write("Stopped.")

    def _report(self, events) -> None:
        for event in events:
            body = event.body
            sent = ", ".join(
                f"{d.trigger_name}: {d.status_code or d.error}" for d in event.deliveries
            )
            self.stdout.write(
                f"{body.get('name')} ({body['id']}) → {body.get('statusCategory')} "
                f"[{body.get('dateModified')}] "
                + (f"sent ({sent})" if sent else "no trigger matched")
            )
