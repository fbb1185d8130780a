"""PostgreSQL restarted under the long-running workers: `deliver_outbox --forever`,
`process_events --forever` and the django-q2 cluster each carry on by themselves once the server
is back — no one restarts them — and what they did is exact: every delivery delivered, each POST
of it accounted for by an attempt on record; every event applied once; every task run once.

The server restarted is a private one (tests/faults/private_postgres.py): initdb into a temporary
directory, a free port on 127.0.0.1, stopped and removed at the end. The shared server is never
touched. The workers are real processes (`manage.py …`) on it; the test seeds their work through a
subprocess (tests/faults/pg_restart_work.py) and counts the results over SQL. Bounded: each test
gives up after DEADLINE_SECONDS.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from tests.faults.pg_restart_work import EVENTS_PER_ITEM
from tests.faults.private_postgres import PrivatePostgres, unavailable

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 120
OUTAGE_SECONDS = 2.0
SIGNING_SECRET = "whsec_cmVzdGFydC10ZXN0LXNpZ25pbmcta2V5LTAwMDE="
WHY_NOT = unavailable()

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(bool(WHY_NOT), reason=f"needs a private PostgreSQL server: {WHY_NOT}"),
]


# --- the server, the work, the counting ------------------------------------------------------


def _env(pg: PrivatePostgres, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CACHE_URL", "DEBUG")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": pg.url,
        "PGAPPNAME": "restart-test",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _manage(pg: PrivatePostgres, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=_env(pg), capture_output=True,
        text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def seed(pg: PrivatePostgres, what: str, n: int, prefix: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.faults.pg_restart_work", what, str(n), prefix],
        cwd=ROOT, env=_env(pg), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def pg():
    server = PrivatePostgres.start()
    try:
        _manage(server, "migrate", "-v0")
        _manage(server, "createcachetable")
        yield server
    finally:
        server.stop()


def sql(pg: PrivatePostgres, query: str, params=()) -> list[tuple]:
    with psycopg.connect(
        host="127.0.0.1", port=pg.port, user="postgres", dbname="portal", connect_timeout=5
    ) as conn:
        return conn.execute(query, params).fetchall()


def scalar(pg: PrivatePostgres, query: str, params=()):
    return sql(pg, query, params)[0][0]


class Worker:
    """One `manage.py` command, its own process group, its output in a file."""

    def __init__(self, pg: PrivatePostgres, args: list[str], log: Path, **env: str) -> None:
        self.log_path = log
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=_env(pg, **env),
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM, as a process manager stops it; its exit code."""
        try:
            if self.alive():
                self.process.send_signal(signal.SIGTERM)
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group this test started
            self.process.wait(timeout=5)
            return -9
        finally:
            self._log.close()


def wait_until(condition, *, what: str, worker: Worker) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            if condition():
                return
        except psycopg.OperationalError:
            pass  # the server is restarting
        assert worker.alive(), f"{what}: the worker exited\n{worker.log()[-4000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{worker.log()[-4000:]}"
        time.sleep(0.25)


# --- deliver_outbox ----------------------------------------------------------------------------


class Receiver:
    """A downstream receiver on 127.0.0.1 that takes a moment per POST: (webhook-id, orderId,
    sequence) of every POST, in arrival order."""

    def __init__(self, delay: float) -> None:
        self.calls: list[tuple[str, str, int]] = []
        lock = threading.Lock()
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    calls.append((self.headers["webhook-id"], body["orderId"], body["sequence"]))
                time.sleep(delay)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_deliver_outbox_carries_on_by_itself_after_a_restart_and_every_post_is_on_record(
    pg, tmp_path
):
    items = 40
    seed(pg, "deliveries", items, "OUT")
    receiver = Receiver(delay=0.03)
    worker = Worker(
        pg,
        ["deliver_outbox", "--forever", "--interval", "0.2", "--limit", "5"],
        tmp_path / "deliver_outbox.log",
        DOWNSTREAM_URL=receiver.url,
        DOWNSTREAM_SIGNING_SECRET=SIGNING_SECRET,
        DOWNSTREAM_TIMEOUT_SECONDS="1",  # a claim's lease is 2 × this + 30 s
    )
    try:
        wait_until(lambda: len(receiver.calls) >= 10, what="the first deliveries", worker=worker)
        pg.restart(outage_seconds=OUTAGE_SECONDS)
        delivered = "SELECT count(*) FROM workitems_delivery WHERE state = 'delivered'"
        wait_until(lambda: scalar(pg, delivered) == 2 * items, what="every delivery", worker=worker)
        assert worker.alive()
    finally:
        code = worker.stop()
        receiver.close()
    assert code == 0, worker.log()[-3000:]
    log = worker.log()
    assert "database error; retrying" in log and "worker: recovered" in log  # it felt the restart

    rows = sql(
        pg,
        "SELECT d.webhook_id, d.state, count(a.id) FROM workitems_delivery d "
        "LEFT JOIN workitems_deliveryattempt a ON a.delivery_id = d.id "
        "GROUP BY d.webhook_id, d.state",
    )
    attempts = {webhook_id: n for webhook_id, _, n in rows}
    assert len(rows) == 2 * items and {state for _, state, _ in rows} == {"delivered"}
    posted = Counter(webhook_id for webhook_id, _, _ in receiver.calls)
    assert set(posted) == set(attempts)  # every delivery reached the receiver
    # At least once — and every POST is accounted for by an attempt on record.
    unrecorded = {w: (n, attempts[w]) for w, n in posted.items() if n > attempts[w]}
    assert not unrecorded, f"POSTs with no attempt on record: {unrecorded}"
    # In order per item: each item's sequence 1 reached the receiver before its sequence 2.
    first_seen: dict[tuple[str, int], int] = {}
    for index, (_, order_id, sequence) in enumerate(receiver.calls):
        first_seen.setdefault((order_id, sequence), index)
    for i in range(items):
        ref = f"OUT-{i:04d}"
        assert first_seen[(ref, 1)] < first_seen[(ref, 2)], ref


# --- process_events ----------------------------------------------------------------------------


def test_process_events_carries_on_by_itself_after_a_restart_and_applies_each_event_once(
    pg, tmp_path
):
    before, after = 60, 20  # items: events stored before the restart, and while it recovers
    seed(pg, "events", before, "EVT")
    worker = Worker(
        pg,
        ["process_events", "--forever", "--interval", "0.2", "--batch", "20"],
        tmp_path / "process_events.log",
    )
    pending = (
        "SELECT count(*) FROM workitems_inboundevent WHERE workitem_genesys_id LIKE 'EVT-%%' "
        "AND state IN ('accepted', 'failed')"
    )
    try:
        processed = (
            "SELECT count(*) FROM workitems_inboundevent WHERE workitem_genesys_id LIKE 'EVT-%%' "
            "AND state = 'processed'"
        )
        wait_until(lambda: scalar(pg, processed) >= 40, what="the first events", worker=worker)
        pg.restart(outage_seconds=OUTAGE_SECONDS)
        seed(pg, "events", after, "EVT-LATE")
        wait_until(lambda: scalar(pg, pending) == 0, what="every event", worker=worker)
        assert worker.alive()
    finally:
        code = worker.stop()
    assert code == 0, worker.log()[-3000:]
    assert "database error; retrying" in worker.log()

    items = before + after
    events = items * EVENTS_PER_ITEM
    states = dict(
        sql(
            pg,
            "SELECT state, count(*) FROM workitems_inboundevent "
            "WHERE workitem_genesys_id LIKE 'EVT-%%' GROUP BY state",
        )
    )
    assert states == {"processed": events}
    # Each event's status change applied once: one transition and one delivery each.
    counts = sql(
        pg,
        "SELECT count(DISTINCT w.id), count(DISTINCT t.id), count(DISTINCT d.id) "
        "FROM workitems_workitem w "
        "LEFT JOIN workitems_statustransition t ON t.workitem_id = w.id "
        "LEFT JOIN workitems_delivery d ON d.workitem_id = w.id "
        "WHERE w.genesys_id LIKE 'EVT-%%'",
    )[0]
    assert counts == (items, events, events)
    applied = scalar(
        pg,
        "SELECT count(*) FROM audits_auditevent WHERE action IN "
        "('workitem.event.applied', 'workitem.event.adopted') "
        "AND context->>'genesys_id' LIKE 'EVT-%%'",
    )
    assert applied == events


# --- the django-q2 cluster ---------------------------------------------------------------------


def test_the_cluster_carries_on_by_itself_after_a_restart_and_runs_each_task_once(pg, tmp_path):
    """django-q2 closes broken connections before each task, and CONN_HEALTH_CHECKS replaces a
    dead idle one on first use; its pusher and monitor die on the outage and are reincarnated by
    its sentinel. (A result it could not save during the outage leaves that task unacknowledged:
    django-q2 runs it again after Q_TIMEOUT + 60 s. The portal's tasks are safe to run twice —
    claims, idempotent sweeps — which is why "once" is checked within the test's minute.)"""
    tasks = 10
    worker = Worker(pg, ["qcluster"], tmp_path / "qcluster.log", Q_WORKERS="2")
    done = "SELECT count(*) FROM audits_auditevent WHERE action = 'fault.task'"
    try:
        wait_until(lambda: "running" in worker.log(), what="the cluster to start", worker=worker)
        seed(pg, "tasks", tasks, "BEFORE")
        wait_until(lambda: scalar(pg, done) == tasks, what="the first tasks", worker=worker)
        pg.restart(outage_seconds=OUTAGE_SECONDS)
        seed(pg, "tasks", tasks, "AFTER")
        wait_until(lambda: scalar(pg, done) == 2 * tasks, what="the tasks after", worker=worker)
        assert worker.alive()
    finally:
        code = worker.stop()
    assert code == 0, worker.log()[-3000:]
    assert "Connection refused" in worker.log()  # it felt the restart
    ran = Counter(
        object_id
        for (object_id,) in sql(
            pg, "SELECT object_id FROM audits_auditevent WHERE action = 'fault.task'"
        )
    )
    assert len(ran) == 2 * tasks and set(ran.values()) == {1}
