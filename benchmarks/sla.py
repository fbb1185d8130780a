"""The SLA sweep at scale: the whole sweep against its bare UPDATE statement, same run.

    DATABASE_URL=postgres://app:app@127.0.0.1:5432/app .venv/bin/python benchmarks/sla.py \
        [--items 1000000] [--breached 100000] [--rounds 5]

Builds a throwaway PostgreSQL database, loads --items open work items of which --breached are past
their SLA deadline (INSERT … SELECT generate_series), then alternates, --rounds times (5 by
default; the figure is their median, so one slow round on a shared machine does not decide it):
- the bare UPDATE that marks the breaches, rolled back;
- the whole sweep (UPDATE, one delivery and one audit event per breached item), rolled back;
and prints both medians and their ratio (goal ≤ 3×), each round's ratio, and the rows the sweep
wrote. Drops the database at the end. Needs PostgreSQL; prints why and exits 0 otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from scratch_db import ScratchUnavailable, scratch_create, scratch_drop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--breached", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    try:
        name, scratch_url = scratch_create(url, "bench_sla")
    except ScratchUnavailable as exc:
        print(f"benchmarks/sla.py {exc}; nothing measured.")
        return
    try:
        run(scratch_url, args)
    finally:
        scratch_drop(url, name)


def run(url: str, args) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings_test",
            "DATABASE_URL": url,
            "LOG_LEVEL": "WARNING",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from audits.models import AuditEvent
    from workitems.models import Delivery, Queue, WorkItem, WorkType
    from workitems.services.sla import sla_sweep

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    queue = Queue.objects.create(genesys_id="bench-queue", name="Bench")
    worktype = WorkType.objects.create(
        genesys_id="bench-type", name="Bench type", default_queue=queue
    )
    now = timezone.now()
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {WorkItem._meta.db_table} (external_ref, name, worktype_id, queue_id, priority,
                description, preferred_agent_ids, language_id, custom_fields, genesys_id, status_category,
                assignment_state, date_created, local_state, last_error, last_error_context_id,
                submit_attempts, routability_verdict, created_at, updated_at, sla_threshold_seconds,
                sla_pause_in_waiting, sla_deadline, sla_paused, last_delivery_sequence,
                assignee_id, send_claimed_by)
            SELECT 'bench-' || g, 'Bench item ' || g, %s, %s, 0, '', '[]', '', '{{}}', 'g-' || g, 'Open',
                '', %s - interval '2 hours', 'submitted', '', '', 1, 'routable', %s, %s, 3600, false,
                CASE WHEN g <= %s THEN %s - interval '1 minute' ELSE %s + interval '1 hour' END,
                interval '0', 0, '', ''
            FROM generate_series(1, %s) AS g
            """,
            [worktype.pk, queue.pk, now, now, now, args.breached, now, now, args.items],
        )
        cursor.execute(f"ANALYZE {WorkItem._meta.db_table}")
    print(
        f"loaded {args.items:,} open items, {args.breached:,} past their deadline, "
        f"in {time.monotonic() - started:.1f}s"
    )

    bare, whole, written = [], [], None
    for _ in range(args.rounds):
        with transaction.atomic():
            t = time.monotonic()
            n = WorkItem.objects.filter(
                sla_breached_at__isnull=True,
                date_closed__isnull=True,
                sla_paused_since__isnull=True,
                sla_deadline__lte=now,
            ).update(sla_breached_at=now)
            bare.append(time.monotonic() - t)
            assert n == args.breached, n
            transaction.set_rollback(True)
        with transaction.atomic():
            t = time.monotonic()
            result = sla_sweep(now=now)
            whole.append(time.monotonic() - t)
            written = (
                result.breached,
                Delivery.objects.count(),
                AuditEvent.objects.filter(action="sla.breached").count(),
            )
            transaction.set_rollback(True)

    b, w = statistics.median(bare), statistics.median(whole)
    print(
        f"bare UPDATE:  median {b:.3f}s over {args.rounds} rounds ({', '.join(f'{x:.3f}' for x in bare)})"
    )
    print(
        f"whole sweep:  median {w:.3f}s over {args.rounds} rounds ({', '.join(f'{x:.3f}' for x in whole)})"
    )
    print(
        f"rows written: {written[0]:,} breached, {written[1]:,} deliveries, {written[2]:,} audit events"
    )
    rounds = ", ".join(f"{x / y:.2f}" for x, y in zip(whole, bare, strict=True))
    print(f"per round whole/bare: {rounds}")
    print(f"ratio whole/bare (medians of {args.rounds}): {w / b:.2f}x (goal <= 3x)")


if __name__ == "__main__":
    main()
