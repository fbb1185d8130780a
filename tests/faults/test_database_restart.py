"""The database going away under ingest load: senders get 503 (with Retry-After), never a 500,
and every event the portal acknowledged is stored.

A real restart would disrupt everyone using the shared PostgreSQL server, so the restart is
simulated the way its clients experience it: every backend of *this* test's connections is
terminated (`pg_terminate_backend`, from a separate admin connection) again and again while the
requests run. Only our own backends are touched: this process's connections carry an
application_name of their own (libpq's PGAPPNAME), and the termination filters on it and on the
test database. Bounded: a few hundred requests, a few seconds.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from unittest import mock

import psycopg
import pytest
import requests
from django.core.handlers.wsgi import WSGIHandler
from django.db import InterfaceError, OperationalError, connection, connections

from workitems.models import InboundEvent

URL = "/api/genesys/events/"
SECRET = "fault-suite-ingest-secret-0001"
State = InboundEvent.State

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="terminating database backends under load needs PostgreSQL (set DATABASE_URL); "
    "SQLite has no server to lose",
)


@pytest.fixture(autouse=True)
def ingest_secret(settings):
    settings.INGEST_SECRETS = [SECRET]


def event(n: int, tag: str) -> bytes:
    return json.dumps(
        {
            "id": f"{tag}-{n:05d}",
            "operation": "edit",
            "statusId": "status-open",
            "dateModified": "2026-07-01T10:00:00.000Z",
        }
    ).encode()


@dataclass
class Answer:
    key: str  # the event's work-item id
    status: int
    body: dict
    retry_after: str | None


# --- The "restart" ---------------------------------------------------------------------------


class Terminator:
    """Terminates this process's backends on the test database, from its own admin connection."""

    def __init__(self, app_name: str) -> None:
        s = connection.settings_dict
        self.app_name = app_name
        self.admin = psycopg.connect(
            host=s["HOST"] or "127.0.0.1",
            port=s["PORT"] or 5432,
            user=s["USER"],
            password=s["PASSWORD"],
            dbname=s["NAME"],
            application_name=f"{app_name}-admin",
            autocommit=True,
        )
        self.terminated = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def backends(self) -> list[int]:
        return [
            pid
            for (pid,) in self.admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = %s AND pid <> pg_backend_pid()",
                [self.app_name],
            ).fetchall()
        ]

    def terminate_all(self) -> int:
        killed = self.admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s "
            "AND pid <> pg_backend_pid()",
            [self.app_name],
        ).fetchone()[0]
        self.terminated += killed
        return killed

    def start(self, seconds: float = 30.0) -> None:
        """Keep terminating until stop() or for `seconds`: the database is "restarting"."""
        deadline = time.monotonic() + seconds

        def loop():
            while not self._stop.is_set() and time.monotonic() < deadline:
                self.terminate_all()
                time.sleep(0.002)

        self._stop.clear()
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def close(self) -> None:
        self.stop()
        self.admin.close()


@pytest.fixture
def terminator(monkeypatch, request):
    app_name = f"faults-{os.getpid()}-{request.node.name[:20]}"
    # Every connection this process opens from now on carries the name (the main thread's
    # test connection, opened before, does not, so it is never terminated).
    monkeypatch.setenv("PGAPPNAME", app_name)
    t = Terminator(app_name)
    yield t
    t.close()


def assert_stored(answers: list[Answer]) -> None:
    """Every acknowledged event is in the table under the id we were given, and each event
    that was finally acknowledged is stored exactly once as accepted."""
    assert {a.status for a in answers} <= {200, 202, 503}, Counter(a.status for a in answers)
    for a in answers:
        if a.status == 503:
            assert a.retry_after and a.body.get("detail"), a
    acked = [a for a in answers if a.status in (200, 202)]
    stored = dict(InboundEvent.objects.values_list("pk", "workitem_genesys_id"))
    for a in acked:
        assert stored.get(a.body["id"]) == a.key, a
    accepted = Counter(
        InboundEvent.objects.filter(state=State.ACCEPTED).values_list(
            "workitem_genesys_id", flat=True
        )
    )
    keys = {a.key for a in acked}
    assert all(accepted[k] == 1 for k in keys), [k for k in keys if accepted[k] != 1]


# --- Real HTTP against live_server ---------------------------------------------------------------

SENDERS = 4
EVENTS_PER_SENDER = 50
OUTAGE_SECONDS = 1.0
RETRY_PAUSE = 0.02
MAX_TRIES = 150  # a sender retries a 503 like Genesys's data action would: 3 s at most


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_ingest_over_http_answers_503_during_the_outage_and_loses_nothing(live_server, terminator):
    answers: list[Answer] = []
    lock = threading.Lock()
    sent = Counter()
    outage_starts = (EVENTS_PER_SENDER * SENDERS) // 4
    errors: list[BaseException] = []

    def sender(k: int) -> None:
        try:
            with requests.Session() as http:
                http.trust_env = False
                for n in range(EVENTS_PER_SENDER):
                    body, key = event(n, f"http{k}"), f"http{k}-{n:05d}"
                    for _try in range(MAX_TRIES):
                        r = http.post(
                            live_server.url + URL,
                            data=body,
                            headers={"Content-Type": "application/json", "X-Ingest-Secret": SECRET},
                            timeout=10,
                        )
                        answer = Answer(key, r.status_code, r.json(), r.headers.get("Retry-After"))
                        with lock:
                            answers.append(answer)
                        if r.status_code != 503:
                            break
                        time.sleep(RETRY_PAUSE)
                    with lock:
                        sent["done"] += 1
                        if sent["done"] == outage_starts:
                            terminator.start(seconds=OUTAGE_SECONDS)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    terminator.stop()

    assert errors == []
    assert terminator.terminated > 0
    statuses = Counter(a.status for a in answers)
    assert statuses[503] > 0, statuses  # the outage was felt
    assert_stored(answers)
    # Every event was acknowledged in the end (senders retried the 503s).
    assert {a.key for a in answers if a.status in (200, 202)} == {
        f"http{k}-{n:05d}" for k in range(SENDERS) for n in range(EVENTS_PER_SENDER)
    }


# --- Persistent connections (as gunicorn workers keep them) ----------------------------------


def wsgi_post(app: WSGIHandler, body: bytes) -> tuple[int, dict, dict]:
    """One request through Django's real WSGI handler, as a server thread would send it: the
    request_started/finished signals run, so old or broken connections are dealt with."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": URL,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_HOST": "localhost",
        "HTTP_X_INGEST_SECRET": SECRET,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    started: dict = {}

    def start_response(status, headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = dict(headers)

    response = app(environ, start_response)
    try:
        content = b"".join(response)
    finally:
        response.close()  # request_finished: Django's connection housekeeping
    return started["status"], started["headers"], json.loads(content or b"{}")


@pytest.mark.postgres
@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_persistent_connections_reconnect_after_a_restart_and_503_only_while_it_lasts(
    terminator,
):
    settings_dict = connections["default"].settings_dict
    assert settings_dict["CONN_MAX_AGE"] and settings_dict["CONN_HEALTH_CHECKS"]
    app = WSGIHandler()
    workers, per_phase = 3, 12
    phases = ["warm", "after-restart", "during-restart", "recovered"]
    barrier = threading.Barrier(workers + 1, timeout=30)
    answers: dict[str, list[Answer]] = {p: [] for p in phases}
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for phase in phases:
                barrier.wait()  # the main thread sets the scene for each phase
                for n in range(per_phase):
                    body, key = event(n, f"{phase}-w{k}"), f"{phase}-w{k}-{n:05d}"
                    status, headers, data = wsgi_post(app, body)
                    with lock:
                        answers[phase].append(Answer(key, status, data, headers.get("Retry-After")))
                barrier.wait()
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    try:
        # warm: each worker opens one connection and keeps it.
        barrier.wait()
        barrier.wait()
        kept = terminator.backends()
        assert len(kept) == workers, kept
        # A restart between requests: every kept connection dies while idle.
        assert terminator.terminate_all() == workers
        barrier.wait()
        barrier.wait()
        # A restart during requests.
        terminator.start()
        barrier.wait()
        barrier.wait()
        terminator.stop()
        # And back.
        barrier.wait()
        barrier.wait()
    finally:
        terminator.stop()
        for t in threads:
            t.join(timeout=30)

    assert errors == []
    assert {a.status for a in answers["warm"]} == {202}
    # CONN_HEALTH_CHECKS: a connection that died while idle is replaced, unnoticed by senders.
    assert {a.status for a in answers["after-restart"]} == {202}
    assert set(terminator.backends()).isdisjoint(kept)
    # While the database keeps going away: 202 or 503, never a 500.
    assert {a.status for a in answers["during-restart"]} <= {202, 503}
    # Once it is back, a worker whose connection broke mid-request serves again.
    assert {a.status for a in answers["recovered"]} == {202}
    assert_stored([a for phase in phases for a in answers[phase]])


# --- The store failing, without a server ----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error",
    [
        OperationalError("terminating connection due to administrator command"),
        OperationalError("connection to server at 127.0.0.1 failed: Connection refused"),
        InterfaceError("connection already closed"),
    ],
    ids=["terminated", "refused", "closed"],
)
def test_a_database_error_while_storing_is_503_with_retry_after_and_json(client, error):
    with mock.patch("workitems.api.views.event_ingest", side_effect=error):
        response = client.post(
            URL, data=event(1, "patched"), content_type="application/json",
            headers={"X-Ingest-Secret": SECRET},
        )  # fmt: skip

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response["Content-Type"].startswith("application/json")
    assert "retry later" in response.json()["detail"]
    assert not InboundEvent.objects.exists()
