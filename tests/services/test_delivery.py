import base64
import hashlib
import hmac
import io
import json
import logging
import threading
import time
from datetime import timedelta
from email.utils import format_datetime
from unittest import mock

import pytest
import requests
import responses
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from audits.models import AuditEvent
from tests import factories
from workitems.models import Delivery, DeliveryAttempt
from workitems.services import delivery as delivery_service
from workitems.services.delivery import (
    backoff_seconds,
    deliveries_replay_request,
    deliveries_replay_window,
    deliveries_retry,
    deliveries_send_due,
    deliveries_skip,
    send_due_deliveries,
)
from workitems.services.outbox import delivery_enqueue
from workitems.tasks import replay_deliveries

URL = "https://fulfilment.test/hooks/workitems"
KEY = b"downstream-test-signing-key-0001"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OTHER_KEY = b"downstream-test-signing-key-0002"
OTHER_SECRET = "whsec_" + base64.b64encode(OTHER_KEY).decode()
BASE, CAP, MAX_ATTEMPTS = 10.0, 300.0, 3

State = Delivery.State

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("downstream_settings", "fresh_cache"),
]


@pytest.fixture
def downstream_settings():
    with override_settings(
        DOWNSTREAM_URL=URL,
        DOWNSTREAM_SIGNING_SECRET=SECRET,
        DOWNSTREAM_MAX_ATTEMPTS=MAX_ATTEMPTS,
        DOWNSTREAM_BACKOFF_BASE_SECONDS=BASE,
        DOWNSTREAM_BACKOFF_MAX_SECONDS=CAP,
        DOWNSTREAM_TIMEOUT_SECONDS=2.0,
    ):
        yield


@pytest.fixture
def fresh_cache():
    cache.clear()  # the receiver's pause lives there
    yield
    cache.clear()


@pytest.fixture
def downstream():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def enqueue(item, n: int = 1) -> list[Delivery]:
    with transaction.atomic():
        return [delivery_enqueue(item=item) for _ in range(n)]


def later(seconds: float = 1.0):
    return timezone.now() + timedelta(seconds=seconds)


def sent_sequences(rsps) -> list[tuple[str, int]]:
    return [
        (json.loads(c.request.body)["orderId"], json.loads(c.request.body)["sequence"])
        for c in rsps.calls
    ]


def test_a_2xx_marks_the_delivery_delivered_and_records_the_attempt(downstream):
    item = factories.workitem(genesys_id="gen-1")
    (d,) = enqueue(item)
    downstream.add(responses.POST, URL, status=204)

    counts = deliveries_send_due()

    assert (counts.claimed, counts.delivered) == (1, 1)
    d.refresh_from_db()
    assert d.state == State.DELIVERED
    assert d.delivered_at is not None
    assert (d.attempts, d.last_status_code, d.last_error) == (1, 204, "")
    attempt = DeliveryAttempt.objects.get(delivery=d)
    assert attempt.status_code == 204
    assert attempt.error == ""


class SenderKilled(BaseException):
    """The sender process dying (SIGKILL, OOM) while its POST is on the wire."""


def test_a_sender_dying_mid_post_leaves_an_attempt_with_an_unknown_outcome(downstream):
    """The POST used to leave with nothing on record: a crash after the receiver got it showed
    no attempt at all, and the resend looked like the first try."""
    item = factories.workitem(genesys_id="gen-1")
    (d,) = enqueue(item)
    received: list[str] = []

    def receiver_gets_it_then_the_sender_dies(request):
        received.append(request.headers["webhook-id"])
        raise SenderKilled

    downstream.add_callback(responses.POST, URL, callback=receiver_gets_it_then_the_sender_dies)
    with pytest.raises(SenderKilled):
        deliveries_send_due()

    attempt = DeliveryAttempt.objects.get(delivery=d)
    assert attempt.status_code is None
    assert attempt.error.startswith("outcome unknown")
    d.refresh_from_db()
    assert d.state == State.PENDING and d.attempts == 1

    # Once the dead sender's lease is over, the delivery goes again, with the same webhook-id
    # (the receiver drops the repeat); both tries are on record.
    downstream.replace(responses.POST, URL, status=204)
    deliveries_send_due(now=later(delivery_service.lease_seconds() + 1))
    d.refresh_from_db()
    assert d.state == State.DELIVERED
    assert [c.request.headers["webhook-id"] for c in downstream.calls[-1:]] == received
    outcomes = list(
        DeliveryAttempt.objects.filter(delivery=d)
        .order_by("attempted_at", "pk")
        .values_list("status_code", "error")
    )
    assert outcomes == [(None, delivery_service.OUTCOME_UNKNOWN), (204, "")]


def test_the_request_is_the_payload_signed_as_standard_webhooks(downstream):
    item = factories.workitem(genesys_id="gen-1")
    (d,) = enqueue(item)
    downstream.add(responses.POST, URL, status=200)

    deliveries_send_due()

    request = downstream.calls[0].request
    body = request.body
    assert request.headers["content-type"] == "application/json"
    assert json.loads(body) == d.payload
    assert set(json.loads(body)) == {
        "orderId",
        "workItemId",
        "taskStatus",
        "statusCategory",
        "slaBreached",
        "sequence",
        "timestamp",
    }
    assert json.loads(body)["orderId"] == item.external_ref
    assert request.headers["webhook-id"] == d.webhook_id
    timestamp = request.headers["webhook-timestamp"]
    assert abs(int(timestamp) - time.time()) < 5
    digest = hmac.new(KEY, f"{d.webhook_id}.{timestamp}.".encode() + body, hashlib.sha256)
    assert (
        request.headers["webhook-signature"] == "v1," + base64.b64encode(digest.digest()).decode()
    )


def test_during_a_rotation_every_secret_signs(downstream):
    (d,) = enqueue(factories.workitem())
    downstream.add(responses.POST, URL, status=200)

    with override_settings(DOWNSTREAM_SIGNING_SECRET=f"{SECRET},{OTHER_SECRET}"):
        deliveries_send_due()

    request = downstream.calls[0].request
    ts, body = request.headers["webhook-timestamp"], request.body
    signatures = request.headers["webhook-signature"].split(" ")
    assert signatures == [
        "v1,"
        + base64.b64encode(
            hmac.new(key, f"{d.webhook_id}.{ts}.".encode() + body, hashlib.sha256).digest()
        ).decode()
        for key in (KEY, OTHER_KEY)
    ]


def test_a_500_leaves_it_failing_with_bounded_jittered_backoff_and_an_attempt_row(downstream):
    (d,) = enqueue(factories.workitem())
    downstream.add(responses.POST, URL, status=500, body="upstream exploded")
    now = later()

    counts = deliveries_send_due(now=now)

    assert counts.failing == 1
    d.refresh_from_db()
    assert d.state == State.FAILING
    assert (d.attempts, d.last_status_code) == (1, 500)
    assert now <= d.next_attempt_at <= now + timedelta(seconds=BASE)
    attempt = DeliveryAttempt.objects.get(delivery=d)
    assert (attempt.status_code, attempt.response_excerpt, attempt.error) == (
        500,
        "upstream exploded",
        "HTTP 500",
    )

    second = d.next_attempt_at + timedelta(seconds=1)
    deliveries_send_due(now=second)
    d.refresh_from_db()
    assert d.attempts == 2
    assert second <= d.next_attempt_at <= second + timedelta(seconds=2 * BASE)
    assert DeliveryAttempt.objects.filter(delivery=d).count() == 2


@pytest.mark.parametrize("attempts", [1, 2, 3, 5, 8, 20])
def test_backoff_is_full_jitter_under_the_exponential_ceiling_and_the_cap(attempts):
    ceiling = min(CAP, BASE * 2 ** (attempts - 1))
    delays = [backoff_seconds(attempts) for _ in range(200)]
    assert all(0 <= d <= ceiling for d in delays)
    assert max(delays) > ceiling / 2  # jitter spreads across the range, not a fixed delay


def test_the_response_excerpt_is_at_most_500_characters(downstream):
    (d,) = enqueue(factories.workitem())
    downstream.add(responses.POST, URL, status=400, body="é" * 5000)

    deliveries_send_due()

    excerpt = DeliveryAttempt.objects.get(delivery=d).response_excerpt
    assert 0 < len(excerpt) <= 500


def test_a_connection_error_is_a_failed_attempt_with_the_error(downstream):
    (d,) = enqueue(factories.workitem())
    downstream.add(responses.POST, URL, body=requests.ConnectionError("refused"))

    deliveries_send_due()

    d.refresh_from_db()
    assert d.state == State.FAILING
    attempt = DeliveryAttempt.objects.get(delivery=d)
    assert attempt.status_code is None
    assert "refused" in attempt.error


def test_a_redirect_is_not_followed_and_counts_as_a_failure(downstream):
    (d,) = enqueue(factories.workitem())
    downstream.add(responses.POST, URL, status=301, headers={"Location": "https://elsewhere.test/"})

    deliveries_send_due()

    d.refresh_from_db()
    assert (d.state, d.last_status_code) == (State.FAILING, 301)
    assert len(downstream.calls) == 1


def test_429_retry_after_sets_the_next_attempt_and_pauses_every_sender(downstream):
    first, second = (enqueue(factories.workitem())[0] for _ in range(2))
    downstream.add(responses.POST, URL, status=429, headers={"Retry-After": "120"})
    now = later()

    counts = deliveries_send_due(now=now)

    assert (counts.claimed, counts.failing, counts.released) == (2, 1, 1)
    assert counts.paused_until == now + timedelta(seconds=120)
    assert len(downstream.calls) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.next_attempt_at == now + timedelta(seconds=120)
    # The other was handed back untried: due when the receiver said, its attempt not spent.
    assert (second.attempts, second.next_attempt_at) == (0, now + timedelta(seconds=120))
    assert not DeliveryAttempt.objects.filter(delivery=second).exists()

    paused = deliveries_send_due(now=now + timedelta(seconds=60))
    assert paused.claimed == 0 and paused.paused_until == now + timedelta(seconds=120)
    assert len(downstream.calls) == 1


def test_retry_after_as_an_http_date_is_honoured(downstream):
    (d,) = enqueue(factories.workitem())
    now = later().replace(microsecond=0)
    downstream.add(
        responses.POST,
        URL,
        status=503,
        headers={"Retry-After": format_datetime(now + timedelta(seconds=90), usegmt=True)},
    )

    deliveries_send_due(now=now)

    d.refresh_from_db()
    assert d.next_attempt_at == now + timedelta(seconds=90)


def test_retry_after_beyond_the_cap_is_capped(downstream):
    (d,) = enqueue(factories.workitem())
    downstream.add(responses.POST, URL, status=429, headers={"Retry-After": "86400"})
    now = later()

    deliveries_send_due(now=now)

    d.refresh_from_db()
    assert d.next_attempt_at == now + timedelta(seconds=CAP)


def test_503_without_retry_after_backs_off_like_any_failure(downstream):
    (d,) = enqueue(factories.workitem())
    downstream.add(responses.POST, URL, status=503)
    now = later()

    counts = deliveries_send_due(now=now)

    assert counts.paused_until is None
    d.refresh_from_db()
    assert now <= d.next_attempt_at <= now + timedelta(seconds=BASE)


def test_after_max_attempts_the_delivery_is_dead_and_audited(downstream):
    item = factories.workitem()
    (d,) = enqueue(item)
    downstream.add(responses.POST, URL, status=500)
    now = later()

    for _ in range(MAX_ATTEMPTS):
        now += timedelta(seconds=CAP + 1)
        deliveries_send_due(now=now)

    d.refresh_from_db()
    assert (d.state, d.attempts) == (State.DEAD, MAX_ATTEMPTS)
    assert DeliveryAttempt.objects.filter(delivery=d).count() == MAX_ATTEMPTS
    event = AuditEvent.objects.get(action="delivery.dead")
    assert (event.object_id, event.correlation_id, event.outcome) == (
        str(d.pk),
        item.external_ref,
        "failure",
    )
    assert event.context["attempts"] == MAX_ATTEMPTS

    deliveries_send_due(now=now + timedelta(days=1))
    assert len(downstream.calls) == MAX_ATTEMPTS  # dead stays dead


def test_later_sequence_waits_while_the_earlier_one_is_failing_then_both_go_in_order(downstream):
    item = factories.workitem()
    first, second = enqueue(item, 2)
    failing = downstream.add(responses.POST, URL, status=500)
    now = later()

    deliveries_send_due(now=now)
    first.refresh_from_db()
    assert first.state == State.FAILING

    # Due, but held back: its earlier sibling is not delivered.
    assert deliveries_send_due(now=now).claimed == 0
    second.refresh_from_db()
    assert (second.state, second.attempts) == (State.PENDING, 0)

    downstream.remove(failing)
    downstream.add(responses.POST, URL, status=204)
    now = first.next_attempt_at + timedelta(seconds=1)
    assert deliveries_send_due(now=now).delivered == 1  # only seq 1 in this batch
    assert deliveries_send_due(now=now).delivered == 1
    assert sent_sequences(downstream) == [
        (item.external_ref, 1),
        (item.external_ref, 1),
        (item.external_ref, 2),
    ]


def test_one_batch_sends_at_most_one_delivery_per_item_but_many_items(downstream):
    a, b = factories.workitem(), factories.workitem()
    enqueue(a, 3)
    enqueue(b, 1)
    downstream.add(responses.POST, URL, status=200)

    counts = deliveries_send_due()

    assert counts.delivered == 2
    assert sorted(sent_sequences(downstream)) == sorted([(a.external_ref, 1), (b.external_ref, 1)])


def test_send_due_deliveries_drains_each_item_in_sequence_order(downstream):
    a, b = factories.workitem(), factories.workitem()
    enqueue(a, 3)
    enqueue(b, 2)
    downstream.add(responses.POST, URL, status=200)

    send_due_deliveries()

    sent = sent_sequences(downstream)
    assert [s for ref, s in sent if ref == a.external_ref] == [1, 2, 3]
    assert [s for ref, s in sent if ref == b.external_ref] == [1, 2]
    assert Delivery.objects.exclude(state=State.DELIVERED).count() == 0


def test_a_dead_delivery_blocks_later_ones_of_its_item_until_retried(downstream):
    item, other = factories.workitem(), factories.workitem()
    first, second = enqueue(item, 2)
    (unrelated,) = enqueue(other)
    Delivery.objects.filter(pk=first.pk).update(state=State.DEAD, attempts=MAX_ATTEMPTS)
    downstream.add(responses.POST, URL, status=200)

    send_due_deliveries()
    second.refresh_from_db()
    assert second.state == State.PENDING  # held back, attempts unspent
    assert sent_sequences(downstream) == [(other.external_ref, 1)]  # other items are unaffected

    deliveries_retry(ids=[first.pk], actor="supervisor")
    send_due_deliveries()

    assert sent_sequences(downstream)[1:] == [(item.external_ref, 1), (item.external_ref, 2)]


def test_skipping_a_dead_delivery_lets_the_later_ones_go_and_is_audited(downstream):
    item = factories.workitem()
    first, second = enqueue(item, 2)
    Delivery.objects.filter(pk=first.pk).update(state=State.DEAD, attempts=MAX_ATTEMPTS)
    downstream.add(responses.POST, URL, status=200)

    assert deliveries_skip(ids=[first.pk, second.pk], actor="supervisor") == 1
    send_due_deliveries()

    first.refresh_from_db()
    assert first.state == State.SKIPPED
    assert sent_sequences(downstream) == [(item.external_ref, 2)]
    assert AuditEvent.objects.filter(action="delivery.skip", object_id=str(first.pk)).count() == 1


def test_webhook_id_is_the_same_on_every_retry(downstream):
    (d,) = enqueue(factories.workitem())
    downstream.add(responses.POST, URL, status=500)
    now = later()
    for _ in range(3):
        deliveries_send_due(now=now)
        now += timedelta(seconds=CAP + 1)

    ids = {c.request.headers["webhook-id"] for c in downstream.calls}
    assert ids == {d.webhook_id}
    assert len(downstream.calls) == 3


def test_the_post_happens_outside_any_database_transaction(downstream):
    (d,) = enqueue(factories.workitem())
    depth_at_test = len(connection.atomic_blocks)
    seen = []

    def callback(request):
        seen.append(len(connection.atomic_blocks))
        return (204, {}, "")

    downstream.add_callback(responses.POST, URL, callback=callback)
    deliveries_send_due()

    assert seen == [depth_at_test]


def test_an_in_flight_delivery_is_not_claimed_again(downstream):
    (d,) = enqueue(factories.workitem())
    nested = []

    def callback(request):
        # Another worker looking for work while this POST is in flight.
        nested.append(deliveries_send_due(session=_NoSession()).claimed)
        return (204, {}, "")

    downstream.add_callback(responses.POST, URL, callback=callback)
    deliveries_send_due()

    assert nested == [0]
    d.refresh_from_db()
    assert d.state == State.DELIVERED


def test_a_worker_dying_mid_send_leaves_the_delivery_to_come_due_after_its_lease(downstream):
    (d,) = enqueue(factories.workitem())

    def killed(request):
        raise KeyboardInterrupt  # the worker is stopped mid-POST

    downstream.add_callback(responses.POST, URL, callback=killed)
    now = later()

    with pytest.raises(KeyboardInterrupt):
        deliveries_send_due(now=now)
    d.refresh_from_db()
    assert d.state == State.PENDING and d.attempts == 1  # the lost try counts
    assert deliveries_send_due(now=now).claimed == 0  # leased

    downstream.reset()
    downstream.add(responses.POST, URL, status=204)
    after_lease = d.next_attempt_at + timedelta(seconds=1)
    assert deliveries_send_due(now=after_lease).delivered == 1


def test_without_a_downstream_url_nothing_is_sent_or_spent_and_it_says_so_once(downstream, caplog):
    (d,) = enqueue(factories.workitem())
    delivery_service._warned.clear()

    with override_settings(DOWNSTREAM_URL=""), caplog.at_level(logging.WARNING):
        first = deliveries_send_due()
        second = deliveries_send_due()

    assert first.disabled and second.disabled
    assert "not configured" in first.line()
    d.refresh_from_db()
    assert (d.state, d.attempts) == (State.PENDING, 0)
    assert len(downstream.calls) == 0
    assert [r.getMessage() for r in caplog.records].count(
        "DOWNSTREAM_URL is not set: deliveries stay queued and are not sent."
    ) == 1


def test_without_a_signing_secret_nothing_is_sent_unsigned(downstream):
    (d,) = enqueue(factories.workitem())
    with override_settings(DOWNSTREAM_SIGNING_SECRET=""):
        assert deliveries_send_due().disabled
    assert len(downstream.calls) == 0


def test_retry_selected_resets_failing_and_dead_ones_and_leaves_the_rest(downstream):
    item = factories.workitem()
    delivered, failing, dead = enqueue(item, 3)
    Delivery.objects.filter(pk=delivered.pk).update(state=State.DELIVERED, attempts=1)
    Delivery.objects.filter(pk=failing.pk).update(
        state=State.FAILING, attempts=2, next_attempt_at=later(3600)
    )
    Delivery.objects.filter(pk=dead.pk).update(state=State.DEAD, attempts=MAX_ATTEMPTS)

    before = timezone.now()
    retried = deliveries_retry(ids=[delivered.pk, failing.pk, dead.pk], actor="supervisor")

    assert retried == 2
    for d in (failing, dead):
        d.refresh_from_db()
        assert (d.state, d.attempts) == (State.PENDING, 0)
        assert before <= d.next_attempt_at <= timezone.now()
    delivered.refresh_from_db()
    assert delivered.state == State.DELIVERED
    events = AuditEvent.objects.filter(action="delivery.retry")
    assert sorted(e.object_id for e in events) == sorted([str(failing.pk), str(dead.pk)])
    assert {e.actor for e in events} == {"supervisor"}


def test_replay_window_skips_deliveries_superseded_by_a_later_success():
    superseded_item, stuck_item, old_item, fine_item = (factories.workitem() for _ in range(4))
    superseded, newer = enqueue(superseded_item, 2)
    (stuck,) = enqueue(stuck_item)
    (old,) = enqueue(old_item)
    (delivered_in_window,) = enqueue(fine_item)
    Delivery.objects.filter(pk__in=[superseded.pk, stuck.pk, old.pk]).update(
        state=State.DEAD, attempts=MAX_ATTEMPTS
    )
    Delivery.objects.filter(pk__in=[newer.pk, delivered_in_window.pk]).update(state=State.DELIVERED)
    start = timezone.now() - timedelta(hours=1)
    Delivery.objects.filter(pk=old.pk).update(created_at=start - timedelta(minutes=1))

    result = deliveries_replay_window(start=start, end=later(60), actor="supervisor")

    assert (result.reset, result.superseded) == (1, 1)
    states = dict(Delivery.objects.values_list("pk", "state"))
    assert states[stuck.pk] == State.PENDING
    assert states[superseded.pk] == State.DEAD  # the receiver already holds a newer state
    assert states[old.pk] == State.DEAD  # outside the window
    assert states[delivered_in_window.pk] == State.DELIVERED
    stuck.refresh_from_db()
    assert stuck.attempts == 0
    event = AuditEvent.objects.get(action="delivery.replay")
    assert (event.context["reset"], event.context["superseded"]) == (1, 1)


def test_the_replay_task_takes_iso_strings_for_django_q():
    (d,) = enqueue(factories.workitem())
    Delivery.objects.filter(pk=d.pk).update(state=State.DEAD)
    start, end = timezone.now() - timedelta(hours=1), later(60)

    line = replay_deliveries(start.isoformat(), end.isoformat(), "supervisor")

    assert line.startswith("1 deliveries set to go again")
    d.refresh_from_db()
    assert d.state == State.PENDING


def test_a_replay_requested_in_a_transaction_that_rolls_back_is_neither_queued_nor_audited(
    django_capture_on_commit_callbacks,
):
    start = timezone.now() - timedelta(hours=1)

    class Abandoned(Exception):
        pass

    with (
        mock.patch("django_q.tasks.async_task") as async_task,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        with pytest.raises(Abandoned), transaction.atomic():
            deliveries_replay_request(start=start, end=later(60), actor="supervisor")
            raise Abandoned
        name = deliveries_replay_request(start=start, end=later(60), actor="supervisor")

    assert len(callbacks) == 1  # the committed request only
    (call,) = async_task.call_args_list
    assert call.args[0] == "workitems.tasks.replay_deliveries" and call.kwargs["task_name"] == name
    (audit,) = AuditEvent.objects.filter(action="delivery.replay_requested")
    assert audit.context["task_name"] == name


@pytest.mark.parametrize(
    ("start_offset", "end_offset"),
    [
        (timedelta(0), timedelta(0)),
        (timedelta(hours=1), timedelta(0)),
        (timedelta(0), timedelta(days=32)),
    ],
    ids=["empty", "backwards", "too-long"],
)
def test_replay_window_refuses_bad_windows(start_offset, end_offset):
    base = timezone.now()
    with pytest.raises(ValueError):
        deliveries_replay_window(start=base + start_offset, end=base + end_offset, actor="x")


class _NoSession:
    def post(self, *args, **kwargs):  # pragma: no cover - must not be reached
        raise AssertionError("nothing should have been claimed")


# --- Two workers on PostgreSQL ------------------------------------------------------------------


class _Response:
    def __init__(self, status_code: int = 204):
        self.status_code = status_code
        self.headers = {}

    def iter_content(self, size):
        yield b""

    def close(self):
        pass


class _RecordingSession:
    """A receiver shared by both workers: notes each POST's start and end."""

    def __init__(self, calls: list, lock: threading.Lock):
        self.calls, self.lock = calls, lock

    def post(self, url, *, data, headers, **kwargs):
        started = time.monotonic()
        time.sleep(0.005)  # widen the window in which a second worker could interfere
        payload = json.loads(data)
        with self.lock:
            self.calls.append(
                (
                    payload["orderId"],
                    payload["sequence"],
                    headers["webhook-id"],
                    started,
                    time.monotonic(),
                )
            )
        return _Response(204)


@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="skip_locked claiming needs PostgreSQL (set DATABASE_URL)",
)
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_postgresql_never_send_a_delivery_twice_and_keep_item_order():
    items = [factories.workitem() for _ in range(6)]
    for item in items:
        enqueue(item, 4)
    calls: list = []
    lock = threading.Lock()
    errors: list = []

    def worker():
        session = _RecordingSession(calls, lock)
        try:
            deadline = time.monotonic() + 30
            idle = 0
            while time.monotonic() < deadline and idle < 3:
                counts = deliveries_send_due(limit=3, session=session)
                idle = idle + 1 if counts.claimed == 0 else 0
                if counts.claimed == 0:
                    time.sleep(0.02)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert Delivery.objects.exclude(state=State.DELIVERED).count() == 0
    webhook_ids = [c[2] for c in calls]
    assert len(webhook_ids) == len(set(webhook_ids)) == 24  # each sent exactly once
    for item in items:
        mine = sorted((c for c in calls if c[0] == item.external_ref), key=lambda c: c[3])
        assert [c[1] for c in mine] == [1, 2, 3, 4]
        # and never overlapping: each starts after the previous one's POST ended
        assert all(b[3] >= a[4] for a, b in zip(mine, mine[1:], strict=False))


def test_a_delivery_taken_over_by_another_worker_mid_batch_is_not_sent_by_this_one(downstream):
    first, second = (enqueue(factories.workitem())[0] for _ in range(2))

    def callback(request):
        # While the first POST is slow, the batch's lease on the second runs out and another
        # worker claims it (moving its lease).
        Delivery.objects.filter(pk=second.pk).update(next_attempt_at=later(600))
        return (204, {}, "")

    downstream.add_callback(responses.POST, URL, callback=callback)
    counts = deliveries_send_due(limit=2)

    assert (counts.claimed, counts.delivered, counts.lost) == (2, 1, 1)
    assert len(downstream.calls) == 1
    assert "taken over" in counts.line()
    second.refresh_from_db()
    assert second.state == State.PENDING
    assert not DeliveryAttempt.objects.filter(delivery=second).exists()


def test_deliver_outbox_command_sends_everything_due_and_reports(downstream):
    item = factories.workitem()
    enqueue(item, 2)
    downstream.add(responses.POST, URL, status=204)
    out = io.StringIO()

    call_command("deliver_outbox", stdout=out)

    assert sent_sequences(downstream) == [(item.external_ref, 1), (item.external_ref, 2)]
    assert "1 claimed: 1 delivered" in out.getvalue()


@pytest.fixture
def loop_inside_the_test_transaction(monkeypatch):
    """The worker loop closes stale connections before each batch; inside the test's transaction
    that would end it (Django's test client disconnects the same for requests)."""
    from portal import worker_loop

    monkeypatch.setattr(worker_loop, "close_old_connections", lambda: None)
    monkeypatch.setattr(worker_loop, "close_connections", lambda: None)


@pytest.mark.usefixtures("loop_inside_the_test_transaction")
def test_deliver_outbox_forever_polls_until_stopped(downstream, monkeypatch):
    from portal.worker_loop import WorkerLoop

    waits = []

    def wait(loop, seconds):
        waits.append(seconds)
        if len(waits) == 2:
            loop.stop()  # as SIGTERM would

    monkeypatch.setattr(WorkerLoop, "wait", wait)
    out = io.StringIO()

    call_command("deliver_outbox", "--forever", "--interval", "0.5", stdout=out)

    assert waits == [0.5, 0.5]
    assert "Stopped." in out.getvalue()


@pytest.mark.usefixtures("loop_inside_the_test_transaction")
def test_deliver_outbox_forever_outlives_a_database_error(downstream, monkeypatch):
    """It used to exit on the first database error (a PostgreSQL restart, SQLite's "database is
    locked"), and deliveries stopped until someone restarted it."""
    from django.db import OperationalError

    from portal.worker_loop import WorkerLoop

    item = factories.workitem()
    enqueue(item, 1)
    downstream.add(responses.POST, URL, status=204)
    real = deliveries_send_due
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real(**kwargs)

    monkeypatch.setattr("workitems.management.commands.deliver_outbox.deliveries_send_due", flaky)
    waits = []

    def wait(loop, seconds):
        waits.append(seconds)
        if len(waits) == 2:
            loop.stop()

    monkeypatch.setattr(WorkerLoop, "wait", wait)

    call_command("deliver_outbox", "--forever", "--interval", "0.5", stdout=io.StringIO())

    assert waits == [1.0, 0.5]  # backed off once, then polled as usual
    assert sent_sequences(downstream) == [(item.external_ref, 1)]
