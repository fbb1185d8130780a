"""The downstream system down for a while and back, against a real HTTP receiver on 127.0.0.1.

The receiver is a tiny `http.server` in a thread that verifies each Standard Webhooks signature
and records webhook-id, payload and what it answered. The sender runs `deliveries_send_due` in a
bounded loop with a virtual `now` that jumps forward, so back-off and Retry-After elapse without
waiting. Whatever the outage, every delivery must arrive exactly once with a 2xx, each item's in
sequence order (never a later one before an earlier one was acknowledged), every try recorded.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from tests import factories
from workitems.models import Delivery, DeliveryAttempt, WorkItem
from workitems.services.delivery import deliveries_replay_window, deliveries_send_due
from workitems.services.outbox import delivery_enqueue
from workitems.services.signing import SignatureError, webhook_verify

SECRET = "whsec_" + base64.b64encode(b"fault-suite-downstream-key-0001").decode()
STEP = timedelta(seconds=61)  # one loop turn of virtual time: past the 60 s back-off cap
MAX_TURNS = 80

State = Delivery.State
pytestmark = [pytest.mark.django_db]

# A policy says what the receiver answers: (status, headers), or None to drop the connection.
Answer = tuple[int, dict[str, str]] | None


@dataclass
class Received:
    index: int
    at: datetime  # the sender's virtual time when it was received
    webhook_id: str
    order_id: str
    sequence: int
    signed: bool
    status: int | None  # None: the connection was dropped


@dataclass
class Receiver:
    policy: Callable[[Received], Answer]
    now: datetime = field(default_factory=timezone.now)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handle(self, headers, body: bytes) -> Answer:
        try:
            webhook_verify(headers=headers, body=body, secrets=SECRET)
            signed = True
        except SignatureError:
            signed = False
        payload = json.loads(body)
        with self.lock:
            entry = Received(
                index=len(self.received),
                at=self.now,
                webhook_id=headers.get("webhook-id", ""),
                order_id=payload["orderId"],
                sequence=payload["sequence"],
                signed=signed,
                status=None,
            )
            answer = self.policy(entry) if signed else (401, {})
            entry.status = answer[0] if answer else None
            self.received.append(entry)
        return answer

    def acknowledged(self) -> list[Received]:
        return [r for r in self.received if r.status is not None and 200 <= r.status < 300]


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real receiver would

        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = receiver.handle({k.lower(): v for k, v in self.headers.items()}, body)
            if answer is None:
                self.close_connection = True  # hang up without a word
                return
            status, headers = answer
            text = b"" if status == 204 else b'{"error": "unavailable"}'
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):  # keep the test output quiet
            pass

    return Handler


@pytest.fixture
def serve(settings):
    """serve(policy) -> a running Receiver; DOWNSTREAM_URL points at it."""
    servers: list[ThreadingHTTPServer] = []

    def start(policy: Callable[[Received], Answer]) -> Receiver:
        receiver = Receiver(policy=policy)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(receiver))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/workitems"
        settings.DOWNSTREAM_URL = receiver.url
        return receiver

    settings.DOWNSTREAM_SIGNING_SECRET = SECRET
    settings.DOWNSTREAM_MAX_ATTEMPTS = 8
    settings.DOWNSTREAM_BACKOFF_BASE_SECONDS = 5.0
    settings.DOWNSTREAM_BACKOFF_MAX_SECONDS = 60.0
    settings.DOWNSTREAM_TIMEOUT_SECONDS = 2.0
    cache.clear()  # the receiver's pause lives there
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    cache.clear()


@pytest.fixture
def session():
    with requests.Session() as s:
        s.trust_env = False  # loopback only: never through a proxy from the environment
        yield s


def outbox(items: int, per_item: int) -> list[WorkItem]:
    """`items` work items with `per_item` deliveries each, enqueued interleaved."""
    created = [factories.workitem(genesys_id=f"gen-fault-{i}") for i in range(items)]
    for _ in range(per_item):
        for item in created:
            with transaction.atomic():
                delivery_enqueue(item=item)
    return created


def run_until_delivered(receiver: Receiver, session, *, step: timedelta = STEP) -> int:
    """Send what is due, move virtual time on, repeat until nothing is left or a delivery is
    dead (bounded)."""
    now = timezone.now()
    for turn in range(MAX_TURNS):
        receiver.now = now
        deliveries_send_due(limit=100, session=session, now=now)
        if not Delivery.objects.exclude(state=State.DELIVERED).exists():
            return turn + 1
        if Delivery.objects.filter(state=State.DEAD).exists():
            return turn + 1
        now += step
    raise AssertionError(f"not delivered after {MAX_TURNS} turns: {receiver.received[-5:]}")


def assert_exactly_once_in_order(receiver: Receiver, items: list[WorkItem], per_item: int):
    acked = receiver.acknowledged()
    ids = [r.webhook_id for r in acked]
    assert len(ids) == len(set(ids)) == len(items) * per_item  # each acknowledged exactly once
    assert set(ids) == set(Delivery.objects.values_list("webhook_id", flat=True))
    assert all(r.signed for r in receiver.received)
    for item in items:
        mine = [r for r in receiver.received if r.order_id == item.external_ref]
        # Never ahead: each try is for the lowest sequence not yet acknowledged.
        delivered = 0
        for r in mine:
            assert r.sequence == delivered + 1, (
                item.external_ref,
                [(x.sequence, x.status) for x in mine],
            )
            if r.status is not None and 200 <= r.status < 300:
                delivered += 1
        assert delivered == per_item
    assert Delivery.objects.exclude(state=State.DELIVERED).count() == 0


def assert_every_try_recorded(receiver: Receiver):
    for d in Delivery.objects.all():
        tries = [r for r in receiver.received if r.webhook_id == d.webhook_id]
        logged = list(DeliveryAttempt.objects.filter(delivery=d).order_by("attempted_at", "id"))
        assert d.attempts == len(logged) == len(tries), d.webhook_id
        assert [a.status_code for a in logged] == [r.status for r in tries]
        assert d.last_status_code == tries[-1].status


def test_503s_for_five_minutes_then_back_every_delivery_arrives_once_in_order(serve, session):
    outage_ends = timezone.now() + timedelta(minutes=5)
    receiver = serve(lambda r: (503, {}) if r.at < outage_ends else (204, {}))
    items = outbox(items=5, per_item=3)

    turns = run_until_delivered(receiver, session)

    assert any(r.status == 503 for r in receiver.received)
    assert_exactly_once_in_order(receiver, items, per_item=3)
    assert_every_try_recorded(receiver)
    failed_tries = DeliveryAttempt.objects.filter(status_code=503)
    assert failed_tries.exists() and all(a.error == "HTTP 503" for a in failed_tries)
    assert turns < MAX_TURNS


def test_a_receiver_hanging_up_without_answering_is_retried_until_it_is_back(serve, session):
    receiver = serve(lambda r: None if r.index < 12 else (200, {}))
    items = outbox(items=4, per_item=3)

    run_until_delivered(receiver, session)

    assert sum(r.status is None for r in receiver.received) == 12
    assert_exactly_once_in_order(receiver, items, per_item=3)
    assert_every_try_recorded(receiver)
    dropped = DeliveryAttempt.objects.filter(status_code__isnull=True)
    assert dropped.count() == 12
    assert all("ConnectionError" in a.error for a in dropped)


@pytest.mark.parametrize("status", [429, 503])
def test_a_throttling_receiver_is_obeyed_and_everything_arrives_once_in_order(
    serve, session, status
):
    # The first three requests are told to come back in 45 s (under the 60 s back-off cap,
    # DOWNSTREAM_BACKOFF_MAX_SECONDS, which bounds any Retry-After).
    receiver = serve(lambda r: (status, {"Retry-After": "45"}) if r.index < 3 else (204, {}))
    items = outbox(items=4, per_item=2)

    run_until_delivered(receiver, session, step=timedelta(seconds=10))

    assert_exactly_once_in_order(receiver, items, per_item=2)
    assert_every_try_recorded(receiver)  # deliveries handed back untried keep their attempts
    throttled = [r for r in receiver.received if r.status == status]
    assert len(throttled) == 3
    for answer in throttled:
        # Nobody sent anything while the receiver had asked us to wait.
        wait_ends = answer.at + timedelta(seconds=45)
        assert [r for r in receiver.received if answer.at < r.at < wait_ends] == []


def test_an_outage_longer_than_the_attempt_budget_dead_letters_then_a_replay_delivers_in_order(
    serve, session, settings
):
    settings.DOWNSTREAM_MAX_ATTEMPTS = 3
    receiver = serve(lambda r: (503, {}))
    before = timezone.now() - timedelta(seconds=1)
    items = outbox(items=3, per_item=3)

    run_until_delivered(receiver, session)  # stops once the first deliveries are dead

    now = timezone.now() + 10 * STEP
    for _ in range(5):  # the dead ones block their items: nothing more goes out
        receiver.now = now
        deliveries_send_due(session=session, now=now)
        now += STEP
    dead = Delivery.objects.filter(state=State.DEAD)
    assert set(dead.values_list("sequence", flat=True)) == {1}
    assert dead.count() == 3 and all(d.attempts == 3 for d in dead)
    assert {r.sequence for r in receiver.received} == {1}  # later ones never jumped the queue

    # The receiver is back; the operator replays the outage window.
    receiver.policy = lambda r: (204, {})
    result = deliveries_replay_window(start=before, end=timezone.now(), actor="operator")
    assert result.reset == 3
    run_until_delivered(receiver, session)

    assert_exactly_once_in_order(receiver, items, per_item=3)
