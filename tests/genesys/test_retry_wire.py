"""The retry policy against real urllib3, over a loopback server.

`responses` emulates urllib3's retry decisions but skips its sleep and its connection handling, so
these tests prove the parts it cannot: the sleep asked for, and what really goes on the wire.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.genesys.conftest import FakeClock, error_body
from workitems.genesys import GenesysError, RateLimited, get_client


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/oauth/token":
            status, headers, body, delay = (
                200,
                {},
                {"access_token": "wire-token-0000000", "expires_in": 3600},
                0,
            )
        else:
            self.server.seen.append((self.command, self.path))
            status, headers, body, delay = self.server.script.pop(0)
        time.sleep(delay)
        payload = json.dumps(body).encode()
        try:
            self.send_response(status)
            for name, value in {**headers, "Content-Type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up waiting (timeout tests)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    script: list[tuple[int, dict, dict, float]]
    seen: list[tuple[str, str]]


@pytest.fixture
def server(settings) -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.script, srv.seen = [], []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    settings.GENESYS_API_BASE = settings.GENESYS_LOGIN_BASE = base
    yield srv
    srv.shutdown()
    srv.server_close()


def reply(status: int, *, headers: dict | None = None, delay: float = 0.0, **body) -> tuple:
    return (status, headers or {}, body or error_body(status, "some.code", "some message"), delay)


def test_429_sleeps_for_the_retry_after_genesys_asked_for(server, clock: FakeClock):
    server.script = [reply(429, headers={"Retry-After": "7"}), reply(200, id="wi-1")]

    created = get_client(sleep=clock.sleep, clock=clock, pacing=False).create_workitem(
        body={"name": "x"}
    )

    assert created == {"id": "wi-1"}
    assert clock.sleeps == [7]
    assert server.seen == [("POST", "/api/v2/taskmanagement/workitems")] * 2


def test_429_beyond_the_ceiling_is_not_slept_on(server, clock: FakeClock):
    server.script = [reply(429, headers={"Retry-After": "40000"})]

    with pytest.raises(RateLimited) as caught:
        get_client(sleep=clock.sleep, clock=clock, pacing=False).get_queue(queue_id="q1")

    assert clock.sleeps == []
    assert caught.value.retry_after == 40000
    assert len(server.seen) == 1


def test_get_5xx_is_retried_with_backoff_sleeps(server, clock: FakeClock):
    server.script = [reply(503)] * 4

    with pytest.raises(GenesysError, match="retried 3 times"):
        get_client(sleep=clock.sleep, clock=clock, pacing=False).get_queue(queue_id="q1")

    assert len(server.seen) == 4
    assert len(clock.sleeps) == 2  # urllib3 backs off from the second consecutive error on
    assert all(0 < s <= 60 for s in clock.sleeps)


def test_create_5xx_goes_on_the_wire_once(server, clock: FakeClock):
    server.script = [reply(500), reply(200, id="duplicate")]

    with pytest.raises(GenesysError) as caught:
        get_client(sleep=clock.sleep, clock=clock, pacing=False).create_workitem(body={"name": "x"})

    assert caught.value.outcome_unknown
    assert server.seen == [("POST", "/api/v2/taskmanagement/workitems")]


def test_create_read_timeout_goes_on_the_wire_once(server, settings, clock: FakeClock):
    settings.GENESYS_READ_TIMEOUT = 0.2
    server.script = [reply(200, id="late", delay=0.6), reply(200, id="duplicate")]

    with pytest.raises(GenesysError, match="no answer within 0.2s") as caught:
        get_client(sleep=clock.sleep, clock=clock, pacing=False).create_workitem(body={"name": "x"})

    assert caught.value.outcome_unknown
    assert len(server.seen) == 1
