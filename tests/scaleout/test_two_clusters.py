"""Scale-out proof: two real django-q2 clusters (separate `manage.py qcluster` processes, two
workers each) share one ORM broker and one outbox on PostgreSQL, as clusters on two machines
would. Many delivery senders and SLA sweeps are queued at once and race each other; afterwards
every delivery reached the receiver exactly once and in order per work item, and every overdue
item was breached exactly once, with one audit event and one delivery.

The receiver is a loopback HTTP server in this process; each cluster posts to its own path, so the
receiver can tell that both took part. Bounded: the test gives up after DEADLINE_SECONDS.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audits.models import AuditEvent
from tests import factories
from workitems.models import Delivery, DeliveryAttempt, WorkItem
from workitems.services.outbox import delivery_enqueue

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 60
STATUS_ITEMS = 30  # items with status deliveries waiting to go out
DELIVERIES_PER_ITEM = 3
OVERDUE_ITEMS = 20  # past their SLA deadline: the sweeps breach them
OVERLAP = 10  # of the overdue items, this many also have status deliveries
NOT_DUE_ITEMS = 5  # deadline ahead: must not breach
SIGNING_SECRET = "whsec_c2NhbGUtb3V0LXRlc3Qtc2lnbmluZy1rZXk="

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="two clusters sharing an outbox need PostgreSQL (set DATABASE_URL)",
    ),
]


# --- the receiver -----------------------------------------------------------------------------------


class Receiver:
    """Records every POST: (path, webhook-id, orderId, sequence, kind) in arrival order."""

    def __init__(self):
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                payload = json.loads(body)
                with receiver.lock:
                    receiver.calls.append(
                        {
                            "path": self.path,
                            "webhook_id": self.headers.get("webhook-id"),
                            "order_id": payload["orderId"],
                            "sequence": payload["sequence"],
                            "sla_breached": payload["slaBreached"],
                        }
                    )
                time.sleep(0.005)  # a receiver that takes a moment widens the race windows
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


# --- the clusters -----------------------------------------------------------------------------------


def _database_url() -> str:
    """The test database (not the one DATABASE_URL names), for the cluster processes."""
    s = connection.settings_dict
    user = quote(s["USER"] or "", safe="")
    password = quote(s["PASSWORD"] or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Cluster:
    def __init__(self, name: str, *, receiver_url: str, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"qcluster-{name}.log"
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CACHE_URL", "DEBUG")}
        env.update(
            DJANGO_SETTINGS_MODULE="portal.settings_test",
            DATABASE_URL=_database_url(),
            # Each cluster posts to its own path so the receiver can tell them apart.
            DOWNSTREAM_URL=f"{receiver_url}/{name}/",
            DOWNSTREAM_SIGNING_SECRET=SIGNING_SECRET,
            DOWNSTREAM_TIMEOUT_SECONDS="10",
            Q_WORKERS="2",
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its workers below
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def running(self) -> bool:
        return "running" in self.log() and self.process.poll() is None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group this test started
                self.process.wait(timeout=5)
        self._log.close()


def _wait(condition, *, until: float, what: str, clusters) -> None:
    while not condition():
        if time.monotonic() > until:
            logs = "\n".join(f"--- {c.name}\n{c.log()[-3000:]}" for c in clusters)
            pytest.fail(f"timed out waiting for {what}\n{logs}")
        for c in clusters:
            if c.process.poll() is not None:
                pytest.fail(f"cluster {c.name} exited with {c.process.returncode}\n{c.log()}")
        time.sleep(0.2)


# --- the work -------------------------------------------------------------------------------------


def _build_work():
    now = timezone.now()
    worktype = factories.worktype(default_queue=factories.queue())
    status_items = [factories.workitem(worktype=worktype) for _ in range(STATUS_ITEMS)]
    for item in status_items:
        for _ in range(DELIVERIES_PER_ITEM):
            with transaction.atomic():
                delivery_enqueue(item=WorkItem.objects.get(pk=item.pk))
    # The first OVERLAP overdue items are status items: their breach delivery queues behind them.
    overdue = status_items[:OVERLAP] + [
        factories.workitem(worktype=worktype) for _ in range(OVERDUE_ITEMS - OVERLAP)
    ]
    WorkItem.objects.filter(pk__in=[i.pk for i in overdue]).update(
        sla_deadline=now - timedelta(hours=1)
    )
    not_due = [
        factories.workitem(worktype=worktype, sla_deadline=now + timedelta(hours=1))
        for _ in range(NOT_DUE_ITEMS)
    ]
    return status_items, overdue, not_due


def _enqueue(func: str, times: int, **kwargs) -> None:
    from django_q.tasks import async_task

    for _ in range(times):
        async_task(func, **kwargs)


def _sweep_counts() -> list[int]:
    """The breached count each finished sweep reported ("N breached in …")."""
    from django_q.models import Task

    results = Task.objects.filter(func="workitems.tasks.run_sla_sweep").values_list(
        "result", "success"
    )
    counts = []
    for result, success in results:
        assert success, result
        counts.append(int(re.match(r"(\d+) breached", result).group(1)))
    return counts


@pytest.mark.django_db(transaction=True)
def test_two_clusters_never_deliver_twice_and_never_double_count_a_breach(tmp_path):
    status_items, overdue, not_due = _build_work()
    started = time.monotonic()
    until = started + DEADLINE_SECONDS
    with Receiver() as receiver:
        clusters = [Cluster(n, receiver_url=receiver.url, log_dir=tmp_path) for n in ("a", "b")]
        try:
            for c in clusters:
                c.start()
            _wait(
                lambda: all(c.running() for c in clusters),
                until=until,
                what="both clusters to start",
                clusters=clusters,
            )
            # Everything at once: sweeps racing sweeps, senders racing senders across both
            # clusters' four workers. Small claims (limit=3) make the senders contend per row.
            _enqueue("workitems.tasks.run_sla_sweep", 6)
            _enqueue("workitems.services.delivery.deliveries_send_due", 12, limit=3)
            _enqueue("workitems.tasks.send_deliveries", 4)
            expected = STATUS_ITEMS * DELIVERIES_PER_ITEM + OVERDUE_ITEMS

            def all_delivered() -> bool:
                if Delivery.objects.count() < expected:
                    return False
                pending = Delivery.objects.exclude(state=Delivery.State.DELIVERED).exists()
                if pending and not _queued():
                    # Keep senders coming until the outbox is empty (the schedule's job).
                    _enqueue("workitems.services.delivery.deliveries_send_due", 4, limit=3)
                return not pending and len(_sweep_counts()) == 6

            _wait(all_delivered, until=until, what="every delivery", clusters=clusters)
        finally:
            for c in clusters:
                c.stop()

    # No delivery went out twice; each was tried once; the receiver got exactly the outbox.
    ids = Counter(call["webhook_id"] for call in receiver.calls)
    assert ids and max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]
    assert set(ids) == set(Delivery.objects.values_list("webhook_id", flat=True))
    assert Delivery.objects.count() == len(receiver.calls) == expected
    assert DeliveryAttempt.objects.count() == expected

    # In sequence order per work item, with the breach delivery after the status ones.
    by_item = defaultdict(list)
    for call in receiver.calls:
        by_item[call["order_id"]].append((call["sequence"], call["sla_breached"]))
    for item in status_items:
        sequences = [s for s, _ in by_item[item.external_ref]]
        breach = 1 if item in overdue[:OVERLAP] else 0
        assert sequences == list(range(1, DELIVERIES_PER_ITEM + breach + 1)), item.external_ref
    for item in overdue:
        assert by_item[item.external_ref][-1][1] is True

    # Both clusters delivered (the receiver saw both paths).
    assert {call["path"] for call in receiver.calls} == {"/a/", "/b/"}

    # No sweep double-counted: the six sweeps' counts add up to the overdue items, each breached
    # once, with exactly one sla.breached audit event and one sla_breach delivery.
    assert sum(_sweep_counts()) == OVERDUE_ITEMS
    assert set(
        WorkItem.objects.filter(sla_breached_at__isnull=False).values_list("pk", flat=True)
    ) == {i.pk for i in overdue}
    audits = Counter(
        AuditEvent.objects.filter(action="sla.breached").values_list("object_id", flat=True)
    )
    assert audits == Counter(str(i.pk) for i in overdue)
    breaches = Counter(
        Delivery.objects.filter(kind="sla_breach").values_list("workitem_id", flat=True)
    )
    assert breaches == Counter(i.pk for i in overdue)
    assert not WorkItem.objects.filter(
        pk__in=[i.pk for i in not_due], sla_breached_at__isnull=False
    ).exists()
    assert time.monotonic() - started < DEADLINE_SECONDS


def _queued() -> int:
    from django_q.models import OrmQ

    return OrmQ.objects.count()
