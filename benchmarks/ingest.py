#!/usr/bin/env python
"""Ingest benchmark: throughput against a same-run baseline, then correctness under load.

Run by hand (not a test; prints figures, asserts nothing). Needs PostgreSQL:

    DATABASE_URL=postgres://app:app@127.0.0.1:5432/app .venv/bin/python benchmarks/ingest.py

It creates a scratch database `bench_ingest_<pid>` next to DATABASE_URL's (the role needs
CREATEDB), migrates it, starts gunicorn (2 sync workers) on 127.0.0.1 serving the real endpoint
and a plain Django view inserting one row into the same table (benchmarks/bench_urls.py), and:

1. loads both alternately from this process (threads, one requests.Session each), bounded by a
   request count and a time limit; prints both throughputs, their ratio (goal >= 0.8) and p99s;
2. sends N events (default 20,000: 90% unique, 10% duplicates, shuffled, in all envelope shapes)
   from 20 concurrent senders, runs `manage.py process_events` (2 processes, as two workers would)
   until the queue is drained, and prints events lost (goal 0), the drain rate (every event the
   processors settled, including those the throughput phase left, over the drain time) against
   the acceptance rates measured in this run (goal >= 1.0x), and the work items whose final state
   is wrong (goal 0).

Everything stays on loopback, stops by itself, and drops the scratch database at the end.
Options: --requests, --seconds, --concurrency, --events, --senders, --processors, --keep-db,
--port (gunicorn's; a free one by default).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scratch_db import ScratchUnavailable, scratch_create, scratch_drop

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRET = "bench-ingest-secret-" + secrets.token_hex(8)
WORKTYPE = "bench-worktype"
QUEUE = "bench-queue"
STATUSES = {
    "bench-status-open": ("New", "Open"),
    "bench-status-working": ("Working", "InProgress"),
    "bench-status-waiting": ("On hold", "Waiting"),
    "bench-status-done": ("Done", "Closed"),
}
T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def say(text: str = "") -> None:
    print(text, flush=True)


# --- set-up -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def django_env(database_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GENESYS_", "INGEST_", "DJANGO_", "SIMULATOR_", "DOWNSTREAM_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "benchmarks.bench_settings",
            "DATABASE_URL": database_url,
            "SECRET_KEY": secrets.token_urlsafe(48),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "GENESYS_REGION": "eu_west_1",
            "GENESYS_CLIENT_ID": "bench",
            "GENESYS_CLIENT_SECRET": "bench-client-secret",
            "INGEST_SECRETS": SECRET,
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


SEED = f"""
from workitems.models import Queue, Workbin, WorkType, WorkItemStatus
queue = Queue.objects.create(genesys_id={QUEUE!r}, name="Bench queue")
bin_ = Workbin.objects.create(genesys_id="bench-workbin", name="Bench bin")
wt = WorkType.objects.create(genesys_id={WORKTYPE!r}, name="Bench", default_queue=queue,
                             default_workbin=bin_)
for gid, (name, category) in {STATUSES!r}.items():
    WorkItemStatus.objects.create(genesys_id=gid, worktype=wt, name=name, category=category)
"""


def manage(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    gunicorn = str(Path(PYTHON).with_name("gunicorn"))
    proc = subprocess.Popen(
        [
            gunicorn,
            "portal.wsgi:application",
            "--workers",
            "2",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    import requests

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {proc.stderr.read()[-2000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/baseline/", timeout=1).status_code == 405:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("gunicorn did not answer within 30 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- events -------------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def event_body(gid: str, status: str, modified: datetime, operation: str) -> dict:
    name, category = STATUSES[status]
    body = {
        "id": gid,
        "name": f"Bench item {gid}",
        "typeId": WORKTYPE,
        "statusId": status,
        "statusCategory": category,
        "operation": operation,
        "queueId": QUEUE,
        "assignmentState": "Connected",
        "dateCreated": iso(T0),
        "dateModified": iso(modified),
    }
    if category == "Closed":
        body["dateClosed"] = iso(modified)
    return body


def wrap(body: dict, shape: str) -> dict:
    envelope = {
        "topicName": f"v2.taskmanagement.workitems.{body['id']}",
        "version": "2",
        "eventBody": body,
        "metadata": {"CorrelationId": secrets.token_hex(8)},
    }
    if shape == "notification":
        return envelope
    if shape == "eventbridge":
        return {
            "version": "0",
            "detail-type": "v2.taskmanagement.workitems.{id}",
            "source": "aws.partner/genesys.com/cloud/bench/portal",
            "detail": envelope,
        }
    return body


# --- load ---------------------------------------------------------------------------------------


def run_load(
    url: str,
    bodies: list[bytes],
    headers: dict[str, str],
    *,
    concurrency: int,
    max_seconds: float,
    ok: tuple[int, ...],
) -> tuple[int, float, list[float], Counter]:
    import requests

    counter = itertools.count()
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + max_seconds

    def worker() -> None:
        session = requests.Session()
        mine: list[float] = []
        codes: Counter = Counter()
        while True:
            i = next(counter)
            if i >= len(bodies) or time.perf_counter() > deadline:
                break
            t = time.perf_counter()
            try:
                status = session.post(url, data=bodies[i], headers=headers, timeout=10).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            mine.append(time.perf_counter() - t)
            codes[status] += 1
        with lock:
            latencies.extend(mine)
            statuses.update(codes)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    done = sum(n for code, n in statuses.items() if code in ok)
    return done, elapsed, latencies, statuses


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def throughput(base: str, args) -> float:
    say(
        f"== 1. Throughput: {args.concurrency} client threads, up to {args.requests} requests or "
        f"{args.seconds:.0f} s per phase, phases alternated twice"
    )
    headers = {"Content-Type": "application/json", "X-Ingest-Secret": SECRET}
    results: dict[str, list] = {
        "baseline": [0, 0.0, [], Counter()],
        "ingest": [0, 0.0, [], Counter()],
    }
    targets = {"baseline": f"{base}/baseline/", "ingest": f"{base}/api/genesys/events/"}
    ok = {"baseline": (201,), "ingest": (202,)}
    # Warm both up (connections, imports, caches) before measuring.
    for kind in ("baseline", "ingest"):
        warm = [
            json.dumps(
                wrap(event_body(f"warm-{kind}-{i}", "bench-status-open", T0, "add"), "notification")
            ).encode()
            for i in range(200)
        ]
        run_load(
            targets[kind], warm, headers, concurrency=args.concurrency, max_seconds=10, ok=ok[kind]
        )
    for round_ in range(2):
        for kind in ("baseline", "ingest"):
            bodies = [
                json.dumps(
                    wrap(
                        event_body(
                            f"tp-{kind}-{round_}-{i}",
                            "bench-status-open",
                            T0 + timedelta(seconds=i),
                            "add",
                        ),
                        "notification",
                    )
                ).encode()
                for i in range(args.requests)
            ]
            done, elapsed, latencies, statuses = run_load(
                targets[kind],
                bodies,
                headers,
                concurrency=args.concurrency,
                max_seconds=args.seconds,
                ok=ok[kind],
            )
            result = results[kind]
            result[0] += done
            result[1] += elapsed
            result[2].extend(latencies)
            result[3].update(statuses)
    rates = {}
    for kind, (done, elapsed, latencies, statuses) in results.items():
        rates[kind] = done / elapsed if elapsed else 0.0
        say(
            f"{kind:9s}: {done} ok in {elapsed:.2f} s = {rates[kind]:.0f} req/s, "
            f"p99 {p99(latencies):.1f} ms, statuses {dict(statuses)}"
        )
    ratio = rates["ingest"] / rates["baseline"] if rates["baseline"] else float("nan")
    say(f"ratio ingest/baseline: {ratio:.2f} (goal >= 0.8)")
    return rates["ingest"]


def correctness(
    base: str, env: dict[str, str], scratch_url: str, args, accepted_rate: float | None
) -> None:
    say(
        f"\n== 2. Correctness: {args.events} events (10% duplicates, shuffled) from "
        f"{args.senders} senders, then {args.processors} processors drain"
    )
    rng = random.Random(20260701)
    per_item = 5
    unique_count = round(args.events * 0.9)
    items = max(1, unique_count // per_item)
    uniques: list[tuple[str, datetime, bytes]] = []
    expected: dict[str, tuple[str, datetime]] = {}
    shapes = ["notification", "eventbridge", "bare"]
    for n in range(items):
        gid = f"bench-item-{n:06d}"
        moment = T0 + timedelta(seconds=n)
        for step in range(per_item):
            moment += timedelta(milliseconds=rng.randint(1, 90_000))
            status = rng.choice(list(STATUSES))
            body = event_body(gid, status, moment, "add" if step == 0 else "edit")
            raw = json.dumps(wrap(body, rng.choice(shapes))).encode()
            uniques.append(
                (gid, moment.replace(microsecond=moment.microsecond // 1000 * 1000), raw)
            )
            expected[gid] = (status, uniques[-1][1])
    sends = [raw for _, _, raw in uniques]
    sends += [raw for _, _, raw in rng.choices(uniques, k=args.events - len(sends))]
    rng.shuffle(sends)

    import requests

    headers = {"Content-Type": "application/json", "X-Ingest-Secret": SECRET}
    url = f"{base}/api/genesys/events/"
    statuses: Counter = Counter()
    lock = threading.Lock()

    def send(raw: bytes, session: requests.Session) -> None:
        code: int | str = "none"
        for attempt in range(6):  # a sender retries 503s and connection errors, as Genesys would
            try:
                code = session.post(url, data=raw, headers=headers, timeout=15).status_code
            except requests.RequestException as exc:
                code = type(exc).__name__
            if code in (200, 202):
                break
            time.sleep(0.2 * (attempt + 1))
        with lock:
            statuses[code] += 1

    sessions = threading.local()

    def task(raw: bytes) -> None:
        if not hasattr(sessions, "s"):
            sessions.s = requests.Session()
        send(raw, sessions.s)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.senders) as pool:
        list(pool.map(task, sends, timeout=args.send_timeout))
    send_seconds = time.perf_counter() - started
    send_rate = len(sends) / send_seconds
    say(
        f"sent {len(sends)} ({len(uniques)} unique) in {send_seconds:.1f} s = "
        f"{send_rate:.0f} events/s; answers {dict(statuses)}"
    )

    # Everything due is drained: these events, and those the throughput phase stored.
    due = pending(scratch_url)
    started = time.perf_counter()
    deadline = started + args.drain_timeout
    rounds = 0
    while True:
        rounds += 1
        procs = [
            subprocess.Popen(
                [PYTHON, "manage.py", "process_events", "--batch", "500"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(args.processors)
        ]
        for proc in procs:
            try:
                proc.wait(timeout=max(1, deadline - time.perf_counter()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.returncode:
                say(f"processor exited {proc.returncode}: {proc.stderr.read()[-1000:]}")
        waiting = pending(scratch_url)
        if not waiting or time.perf_counter() > deadline:
            break
        time.sleep(1)  # failed events wait for their back-off
    drain_seconds = time.perf_counter() - started

    import psycopg

    with psycopg.connect(scratch_url.split("?")[0]) as conn:
        rows = conn.execute(
            "SELECT workitem_genesys_id, date_modified, state FROM workitems_inboundevent "
            "WHERE workitem_genesys_id LIKE %s",
            ["bench-item-%"],
        ).fetchall()
        states = Counter(state for _, _, state in rows)
        settled = {(gid, dm) for gid, dm, state in rows if state in ("processed", "stale")}
        lost = sum(1 for gid, dm, _ in uniques if (gid, dm) not in settled)
        held = {
            gid: (status, dm)
            for gid, status, dm in conn.execute(
                "SELECT w.genesys_id, s.genesys_id, w.date_modified FROM workitems_workitem w "
                "LEFT JOIN workitems_workitemstatus s ON s.id = w.status_id "
                "WHERE w.genesys_id LIKE %s",
                ["bench-item-%"],
            )
        }
        failures = conn.execute(
            "SELECT left(context->>'error', 120), count(*) FROM audits_auditevent "
            "WHERE action = 'workitem.event.failed' GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
        ).fetchall()
        transitions = conn.execute("SELECT count(*) FROM workitems_statustransition").fetchone()[0]
        deliveries = conn.execute("SELECT count(*) FROM workitems_delivery").fetchone()[0]
    wrong = sum(1 for gid, want in expected.items() if held.get(gid) != want)
    say(f"stored rows by state: {dict(states)}")
    say(f"transitions {transitions}, deliveries {deliveries}, items {len(held)} of {len(expected)}")
    say(f"failed attempts (retried): {sum(n for _, n in failures)} {failures or ''}")
    say(f"events lost: {lost} (goal 0)")
    drained = due - waiting
    drain_rate = drained / drain_seconds
    say(
        f"drain time: {drain_seconds:.1f} s for {drained} events ({len(uniques)} of this phase, "
        f"{due - len(uniques)} left by the throughput phase) = {drain_rate:.0f} events/s "
        f"({args.processors} processors, {rounds} round(s), {waiting} still waiting)"
    )
    # The rate the endpoint accepts, measured in this run: the throughput phase's (one event per
    # request, as Genesys sends them) and this phase's sending rate; the drain must keep up with both.
    rates = {"this phase's sending": send_rate}
    if accepted_rate:
        rates["throughput phase's ingest"] = accepted_rate
    for label, rate in rates.items():
        say(f"drain / {label} rate: {drain_rate / rate:.2f}x (goal >= 1.0)")
    say(f"items whose final state is wrong: {wrong} (goal 0)")


def pending(scratch_url: str) -> int:
    import psycopg

    with psycopg.connect(scratch_url.split("?")[0]) as conn:
        return conn.execute(
            "SELECT count(*) FROM workitems_inboundevent WHERE state IN ('accepted', 'failed') "
            "AND (state = 'accepted' OR attempts < 5)"
        ).fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="per phase (default 3000)")
    parser.add_argument("--seconds", type=float, default=15, help="cap per phase (default 15)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--events", type=int, default=20000, help="default 20000")
    parser.add_argument("--senders", type=int, default=20, help="default 20")
    parser.add_argument("--processors", type=int, default=2, help="default 2")
    parser.add_argument("--send-timeout", type=float, default=600)
    parser.add_argument("--drain-timeout", type=float, default=600)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--keep-db", action="store_true", help="keep the scratch database")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    try:
        scratch_name, scratch_url = scratch_create(url, "bench_ingest")
    except ScratchUnavailable as exc:
        say(f"benchmarks/ingest.py {exc}; nothing measured.")
        return 0
    scratch_url += "?conn_max_age=60"
    env = django_env(scratch_url)
    gunicorn = None
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "shell", "-c", SEED)
        port = args.port or free_port()
        gunicorn = start_gunicorn(env, port)
        base = f"http://127.0.0.1:{port}"
        say(
            f"gunicorn: 2 sync workers on {base}; PostgreSQL database {scratch_name}; {os.cpu_count()} CPUs"
        )
        accepted = None if args.skip_throughput else throughput(base, args)
        correctness(base, env, scratch_url, args, accepted)
    finally:
        if gunicorn is not None:
            stop(gunicorn)
        scratch_drop(url, scratch_name, keep=args.keep_db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
