"""Slow clients cannot stall the web tier: gunicorn as the image runs it (gunicorn.conf.py's
threaded workers, two processes, production settings), two connections trickling one byte every
2 s — one its headers, one its body — and meanwhile ordinary ingest POSTs are answered at once.
With gunicorn's sync workers the same two clients held both workers: a normal POST waited 34 s.

Also here, through the real server: a chunked ingest body is read whole.

Loopback only and bounded: the trickling stops when the test ends (at most TRICKLE_SECONDS).
No timing assertion: the proof is an ordering one — every ordinary POST is answered while both
slow requests are still unfinished (and the client's timeout only keeps a stalled run bounded).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "slow-clients-ingest-secret-0001"
TRICKLE_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.test_settings import PRODUCTION

    tmp = tmp_path_factory.mktemp("slow-clients")
    database = tmp / "portal.sqlite3"
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        **PRODUCTION,
        "DATABASE_URL": f"sqlite:///{database}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "INGEST_SECRETS": SECRET,
        "WEB_CONCURRENCY": "2",
    }
    for command in (["migrate", "-v0"], ["createcachetable"]):
        done = subprocess.run(
            [sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    port = _free_port()
    log_path = tmp / "gunicorn.log"
    log = log_path.open("w")
    # As the image's CMD: no worker options on the command line; gunicorn.conf.py (read from
    # the working directory) sets them.
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "portal.wsgi:application", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "gunicorn did not start:\n" + log_path.read_text()
        time.sleep(0.2)
    yield {"url": url, "port": port, "database": database, "log": log_path}
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait(timeout=5)
    log.close()


def event(n: int) -> dict:
    return {
        "id": f"slow-{n:04d}",
        "operation": "edit",
        "statusId": "status-open",
        "dateModified": "2026-07-01T10:00:00.000Z",
    }


def ingest(url: str, n: int, timeout: float = 10) -> int:
    response = requests.post(
        f"{url}/api/genesys/events/",
        data=json.dumps(event(n)),
        headers={"Content-Type": "application/json", "X-Ingest-Secret": SECRET},
        timeout=timeout,
    )
    return response.status_code


class Trickler(threading.Thread):
    """Sends `head`, then `tail` one byte every `every` seconds, until stopped."""

    def __init__(self, port: int, head: bytes, tail: bytes, every: float = 2.0):
        super().__init__(daemon=True)
        self.port, self.head, self.tail, self.every = port, head, tail, every
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(self.head)
            deadline = time.monotonic() + TRICKLE_SECONDS
            for byte in self.tail:
                if self.stop.wait(self.every) or time.monotonic() > deadline:
                    return
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    return  # the server gave up on us: fine
                self.sent += 1


def test_two_slow_clients_do_not_stall_ingest(server):
    port, url = server["port"], server["url"]
    body = json.dumps(event(9999)).encode()
    request_line = (
        "POST /api/genesys/events/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"X-Ingest-Secret: {SECRET}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    slow = [
        Trickler(port, b"P", request_line[1:] + body),  # headers, a byte at a time
        Trickler(port, request_line, body),  # headers at once, then the body a byte at a time
    ]
    for client in slow:
        client.start()
    try:
        time.sleep(3)  # both are connected and have sent their first bytes
        answers = [ingest(url, n) for n in range(5)]
        # Answered while both slow requests are still unfinished: they held no worker.
        assert all(client.is_alive() for client in slow)
        assert all(client.sent < len(client.tail) for client in slow)
    finally:
        for client in slow:
            client.stop.set()
        for client in slow:
            client.join(timeout=10)
    assert answers == [202] * 5


def test_a_chunked_event_through_gunicorn_is_read_whole(server):
    payload = json.dumps(event(1234)).encode()
    connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=10)
    try:
        connection.request(
            "POST",
            "/api/genesys/events/",
            body=iter([payload[:10], payload[10:]]),  # an iterable: sent chunked
            headers={"Content-Type": "application/json", "X-Ingest-Secret": SECRET},
            encode_chunked=True,
        )
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 202, answer
    with sqlite3.connect(server["database"]) as db:
        (stored,) = db.execute(
            "SELECT body FROM workitems_inboundevent WHERE id = ?", [answer["id"]]
        ).fetchone()
    assert json.loads(stored) == event(1234)
