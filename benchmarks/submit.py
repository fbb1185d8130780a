"""Submission and routability cost against the simulator enforcing 300 requests a minute.

    .venv/bin/python benchmarks/submit.py [--single 400] [--bulk 1000] [--check 1000]

Prints, in one run:
- Genesys API calls per item submitted one by one (goal ≤ 1.05) and in bulk jobs (goal ≤ 0.05;
  the floor is 0.04: a bulk add job is created Idle and must be PATCHed Queued, POST + PATCH
  per 50 items);
- the share of the per-token rate limit the single-mode run used (goal ≥ 0.95): requests sent
  divided by what 300 a minute allows over the run's duration;
- Genesys API calls to check 1,000 drafts on one queue (goal ≤ 5).

The simulator answers as Genesys is documented: jobs start Idle and run SIMULATOR_BULK_JOB_SECONDS
(2 s here) after they are started, and every query's first page is empty with `after`, later
pages one short (SIMULATOR_SHORT_PAGES).

Time is virtual: the simulator's clock, Django's clock, the client's pacer, its retry sleeps and
the submission's polling share one clock that a sleep moves forward, so minutes of paced traffic
take seconds here while both sides see the same elapsed time. The counts are exact, not timings,
so the machine's noise does not enter. The database is a throwaway SQLite file; nothing leaves
this process.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class VirtualClock:
    def __init__(self) -> None:
        self.seconds = 0.0
        self.origin = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.seconds += max(0.0, seconds)

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=self.seconds)


def setup(db_path: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings_test",
            "DATABASE_URL": f"sqlite:///{db_path}",
            "SIMULATOR_BASE_URL": "http://simulator.test/simulator",
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.SIMULATOR_RATE_LIMIT_PER_MINUTE = 300
    settings.GENESYS_RATE_LIMIT_PER_MINUTE = 300
    settings.SIMULATOR_SHORT_PAGES = True
    settings.SIMULATOR_BULK_JOB_SECONDS = 2.0
    settings.SUBMIT_JOB_POLL_SECONDS = 1.0
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)


class Counter:
    def __init__(self) -> None:
        self.api = 0
        self.token = 0
        self.throttled = 0
        self.by_method: dict[str, int] = {}

    def reset(self) -> None:
        self.api = self.token = self.throttled = 0
        self.by_method = {}


def make_client(clock: VirtualClock, counter: Counter):
    from simulator.transport import InProcessTransport, base_prefix
    from workitems.genesys import GenesysClient
    from workitems.genesys.config import ClientConfig
    from workitems.genesys.http import build_session

    config = ClientConfig.from_settings()
    session = build_session(config=config, sleep=clock.sleep)
    retry = session.get_adapter(config.api_base).max_retries

    class Counting(InProcessTransport):
        def send(self, request, *args, **kwargs):
            response = super().send(request, *args, **kwargs)
            if "/oauth/token" in (request.url or ""):
                counter.token += 1
            else:
                counter.api += 1
                counter.throttled += response.status_code == 429
                key = f"{request.method} {_endpoint(request.url or '')}"
                counter.by_method[key] = counter.by_method.get(key, 0) + 1
            return response

    session.mount(base_prefix(config.api_base), Counting(max_retries=retry))
    return GenesysClient(config=config, session=session, sleep=clock.sleep, clock=clock.monotonic)


def _endpoint(url: str) -> str:
    import re

    path = url.split("/api/v2/", 1)[-1].split("?")[0]
    return re.sub(r"/[0-9a-f-]{36}", "/{id}", path)


def drafts(n: int, prefix: str):
    from workitems.models import LocalState, Queue, Verdict, WorkItem, WorkType

    worktype = WorkType.objects.get(name="Refund request")
    queue = Queue.objects.get(name="Refunds")
    WorkItem.objects.bulk_create(
        WorkItem(
            external_ref=f"{prefix}-{i:05d}",
            name=f"Refund for order {prefix}-{i}",
            worktype=worktype,
            queue=queue,
            custom_fields={"order_number_text": f"A-{i:05d}", "amount_number": 10},
            local_state=LocalState.SUBMITTING,
            routability_verdict=Verdict.ROUTABLE,
        )
        for i in range(n)
    )
    return list(
        WorkItem.objects.filter(external_ref__startswith=f"{prefix}-").values_list("pk", flat=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=400, help="items submitted one by one")
    parser.add_argument("--bulk", type=int, default=1000, help="items submitted in bulk jobs")
    parser.add_argument("--check", type=int, default=1000, help="drafts checked on one queue")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        setup(str(Path(tmp) / "bench.sqlite3"))
        from unittest import mock

        from django.core.cache import cache

        import simulator.clock
        from simulator.demo import seed_demo_org
        from workitems.models import LocalState, WorkItem
        from workitems.services.reference_sync import reference_sync
        from workitems.services.routability import workitems_check_routability
        from workitems.services.submission import workitems_submit

        clock = VirtualClock()
        counter = Counter()
        with (
            mock.patch.object(simulator.clock, "now", clock.now),
            mock.patch("django.utils.timezone.now", clock.now),
            mock.patch("workitems.services.submission.time.sleep", clock.sleep),
        ):
            seed_demo_org()
            client = make_client(clock, counter)
            reference_sync(client=client, kinds=["workbins", "skills", "queues", "worktypes"])

            # Single mode, long enough to span several rate windows.
            ids = drafts(args.single, "single")
            counter.reset()
            start = clock.seconds
            summary = workitems_submit(item_ids=ids, actor="bench", client=client, mode="single")
            elapsed = clock.seconds - start
            single_calls, single_token, throttled = counter.api, counter.token, counter.throttled
            created = len(summary.submitted)
            allowed = 300 * elapsed / 60 if elapsed else float("inf")

            # Bulk mode.
            ids = drafts(args.bulk, "bulk")
            counter.reset()
            summary = workitems_submit(item_ids=ids, actor="bench", client=client, mode="bulk")
            bulk_calls, bulk_created = counter.api, len(summary.submitted)
            bulk_breakdown = dict(sorted(counter.by_method.items()))

            # Routability: many drafts on one queue, member snapshot not cached yet.
            ids = drafts(args.check, "check")
            WorkItem.objects.filter(pk__in=ids).update(
                local_state=LocalState.DRAFT, routability_verdict=""
            )
            cache.clear()
            counter.reset()
            workitems_check_routability(
                items=WorkItem.objects.filter(pk__in=ids), actor="bench", client=client
            )
            check_calls = counter.api + counter.token

    print(
        f"single mode: {created}/{args.single} created with {single_calls} API calls "
        f"(+{single_token} token) -> {single_calls / args.single:.3f} calls/item (goal <= 1.05)"
    )
    print(
        f"rate limit:  {single_calls} requests in {elapsed:.1f} virtual s, 300/min allows {allowed:.0f} "
        f"-> share used {single_calls / allowed:.3f} (goal >= 0.95); 429s seen: {throttled}"
    )
    print(
        f"bulk mode:   {bulk_created}/{args.bulk} created with {bulk_calls} API calls "
        f"-> {bulk_calls / args.bulk:.4f} calls/item (goal <= 0.05, floor 0.04)"
    )
    print("             " + ", ".join(f"{k}: {v}" for k, v in bulk_breakdown.items()))
    print(
        f"routability: {args.check} drafts on one queue checked with {check_calls} Genesys calls "
        f"(incl. token) (goal <= 5)"
    )


if __name__ == "__main__":
    main()
