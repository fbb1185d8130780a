"""Sending the downstream outbox (the writer side is services/outbox.py).

One send, in three steps, so no HTTP call ever runs inside a database transaction:

1. **Claim** (a short transaction). Due rows — pending or failing, `next_attempt_at` ≤ now — are
   selected with `select_for_update(skip_locked=True, of=("self",))` on PostgreSQL (a
   compare-and-set on `next_attempt_at` elsewhere; SQLite serialises writers anyway). Claiming
   counts the attempt and pushes `next_attempt_at` forward by a lease, so no other worker picks
   the row up meanwhile. Just before its POST each row's lease is renewed with a compare-and-set:
   if a long batch outlived the lease and another worker took the row, this one leaves it alone.
   A worker that dies mid-send leaves the row to come due again when the lease ends; that lost
   try still counts, so a row that kills its worker cannot loop forever.
2. **Attempt, then POST.** In the short transaction that renews the row's lease just before its
   POST, a DeliveryAttempt is written with an unknown outcome; then the payload goes out,
   serialised once and signed over exactly those bytes (Standard Webhooks, services/signing.py).
   So a sender that dies mid-POST leaves an attempt on record saying the outcome is unknown (the
   receiver may have it), never a POST without a trace. `webhook-id` is the delivery's own id,
   the same on every retry, so the receiver can drop duplicates: delivery is at least once.
3. **Record** (a short transaction): the attempt's outcome, then the delivery's, guarded by the
   lease (if an operator changed the row meanwhile, the attempt is kept and the outcome dropped).
   2xx → delivered. 429, or 503 with Retry-After → due again when the receiver asked (capped at
   DOWNSTREAM_BACKOFF_MAX_SECONDS), and every sender pauses until then. Anything else →
   exponential back-off base·2^(attempts-1) with full jitter, capped. At DOWNSTREAM_MAX_ATTEMPTS
   attempts → dead, with an audit event `delivery.dead`.

**Order per work item.** Only an item's lowest undelivered sequence may go: a delivery whose
earlier sibling is not delivered waits, however due it is. *A dead delivery blocks the later ones
of its item* until an operator retries it (admin "Retry selected", or "Replay a time window"),
so order is never broken silently and no state change is lost: after an outage the operator
replays the window and every item's deliveries go out in order. The blocked rows are not tried
meanwhile, so they keep their attempts. An operator may instead skip a dead delivery for good
(`deliveries_skip`); skipped counts as done, so the later ones go. The rule has one owner,
workitems/selectors/delivery_order.py, which the admin's "waiting" filter uses too.

**Replay** of a time window resets the failing and dead deliveries created in it to pending with a
fresh attempt budget, except those superseded by a later delivery of the same item that was
delivered: the receiver already holds a newer state, and resending the old one would break order.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from audits.models import Outcome
from audits.services import AuditEntry, record, record_many
from workitems.models import Delivery, DeliveryAttempt
from workitems.selectors.delivery_order import delivery_earlier_undelivered
from workitems.services.signing import signing_keys_parse, webhook_headers

logger = logging.getLogger(__name__)

State = Delivery.State
DUE_STATES = (State.PENDING, State.FAILING)
RETRYABLE_STATES = (State.FAILING, State.DEAD)
EXCERPT_CHARS = 500
EXCERPT_READ_BYTES = 4096
MAX_REPLAY_WINDOW = timedelta(days=31)
PAUSE_CACHE_KEY = "delivery:downstream-paused-until"  # set on 429, read by every sender
SEND_LOOP_SECONDS = 50.0  # under the one-minute schedule, so runs do not pile up
USER_AGENT = "work-item-portal-webhooks/1"
# What an attempt says until its outcome is recorded; left as is if the sender died mid-POST.
OUTCOME_UNKNOWN = (
    "outcome unknown: no answer was recorded (the sender stopped during the request; the "
    "receiver may have it)"
)


def lease_seconds() -> float:
    """How long a claim holds a row: a POST's connect and read timeouts, plus a margin."""
    return 2 * settings.DOWNSTREAM_TIMEOUT_SECONDS + 30


@dataclass
class SendCounts:
    claimed: int = 0
    delivered: int = 0
    failing: int = 0
    dead: int = 0
    released: int = 0  # claimed, then handed back unsent because the receiver asked us to wait
    lost: int = 0  # claimed, but changed by an operator or re-claimed after our lease ran out
    disabled: bool = False  # no DOWNSTREAM_URL (or no usable secret): nothing was claimed
    paused_until: datetime | None = None

    def add(self, other: SendCounts) -> None:
        for name in ("claimed", "delivered", "failing", "dead", "released", "lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.disabled = self.disabled or other.disabled
        self.paused_until = other.paused_until or self.paused_until

    def line(self) -> str:
        if self.disabled:
            return "downstream delivery is not configured; nothing sent"
        text = (
            f"{self.claimed} claimed: {self.delivered} delivered, {self.failing} failing, "
            f"{self.dead} dead, {self.released} handed back"
        )
        if self.lost:
            text += f", {self.lost} taken over by another worker or an operator"
        if self.paused_until:
            text += f"; receiver asked us to wait until {self.paused_until.isoformat()}"
        return text


# --- Configuration -------------------------------------------------------------------------------

_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        logger.warning(message)


def _configured() -> bool:
    """Whether delivery can run as configured; says why not once per process."""
    if not settings.DOWNSTREAM_URL:
        _warn_once("url", "DOWNSTREAM_URL is not set: deliveries stay queued and are not sent.")
        return False
    try:
        keys = signing_keys_parse(settings.DOWNSTREAM_SIGNING_SECRET)
    except ValueError as exc:
        _warn_once("secret", f"DOWNSTREAM_SIGNING_SECRET is malformed ({exc}); nothing is sent.")
        return False
    if not keys:
        _warn_once(
            "secret", "DOWNSTREAM_SIGNING_SECRET is not set; unsigned deliveries are not sent."
        )
        return False
    return True


_session: requests.Session | None = None


def _default_session() -> requests.Session:
    """One pooled session per process: keep-alive to the receiver across sends."""
    global _session
    if _session is None:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.mount("https://", requests.adapters.HTTPAdapter(pool_maxsize=10))
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=10))
        _session = session
    return _session


# --- Claim ---------------------------------------------------------------------------------------


def _due(now: datetime):
    # The state and next_attempt_at terms match the partial index `delivery_due`.
    return (
        Delivery.objects.filter(state__in=DUE_STATES, next_attempt_at__lte=now)
        .filter(~delivery_earlier_undelivered())
        .order_by("next_attempt_at", "id")
    )


def _claim(*, now: datetime, limit: int, lease_until: datetime) -> list[Delivery]:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            rows = list(_due(now).select_for_update(skip_locked=True, of=("self",))[:limit])
            Delivery.objects.filter(pk__in=[d.pk for d in rows]).update(
                next_attempt_at=lease_until, attempts=F("attempts") + 1
            )
        else:
            rows = []
            for d in list(_due(now)[:limit]):
                won = Delivery.objects.filter(
                    pk=d.pk, state=d.state, next_attempt_at=d.next_attempt_at
                ).update(next_attempt_at=lease_until, attempts=F("attempts") + 1)
                if won:
                    rows.append(d)
    for d in rows:
        d.attempts += 1
        d.next_attempt_at = lease_until
    return rows


# --- Send ----------------------------------------------------------------------------------------


@dataclass
class _Response:
    status_code: int | None
    duration_ms: int
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def delivery_body(delivery: Delivery) -> bytes:
    """The exact bytes sent and signed."""
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """Retry-After as delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


def _post(session, *, url: str, delivery: Delivery, now: datetime) -> _Response:
    body = delivery_body(delivery)
    headers = {
        "content-type": "application/json",
        **webhook_headers(
            msg_id=delivery.webhook_id, body=body, secrets=settings.DOWNSTREAM_SIGNING_SECRET
        ),
    }
    started = time.monotonic()
    try:
        response = session.post(
            url,
            data=body,
            headers=headers,
            timeout=settings.DOWNSTREAM_TIMEOUT_SECONDS,
            allow_redirects=False,  # a redirect is a misconfigured URL, not a success
            stream=True,  # read only the excerpt we keep, whatever the receiver sends
        )
    except requests.RequestException as exc:
        duration = int((time.monotonic() - started) * 1000)
        return _Response(None, duration, error=f"{type(exc).__name__}: {exc}"[:EXCERPT_CHARS])
    try:
        chunk = next(response.iter_content(EXCERPT_READ_BYTES), b"")
    except requests.RequestException:
        chunk = b""
    finally:
        response.close()
    duration = int((time.monotonic() - started) * 1000)
    result = _Response(
        response.status_code,
        duration,
        excerpt=chunk.decode("utf-8", errors="replace")[:EXCERPT_CHARS],
    )
    if response.status_code == 429 or (
        response.status_code == 503 and "Retry-After" in response.headers
    ):
        result.retry_after = retry_after_seconds(response.headers.get("Retry-After"), now=now)
    if not result.ok:
        result.error = f"HTTP {response.status_code}"
    return result


def backoff_seconds(attempts: int) -> float:
    """Full jitter: uniform in [0, min(max, base·2^(attempts-1))]."""
    ceiling = min(
        settings.DOWNSTREAM_BACKOFF_MAX_SECONDS,
        settings.DOWNSTREAM_BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0),
    )
    return random.uniform(0, ceiling)


# --- Record --------------------------------------------------------------------------------------


def _record(
    delivery: Delivery,
    result: _Response,
    *,
    attempt: DeliveryAttempt,
    at: datetime,
    lease_until: datetime,
) -> str:
    """Store the attempt's and the delivery's outcome; returns the new state (or "lost" if the
    lease was)."""
    update: dict = {"last_status_code": result.status_code, "last_error": result.error}
    if result.ok:
        update |= {"state": State.DELIVERED, "delivered_at": at}
    elif delivery.attempts >= settings.DOWNSTREAM_MAX_ATTEMPTS:
        update |= {"state": State.DEAD}
    else:
        if result.retry_after is not None:
            delay = min(result.retry_after, settings.DOWNSTREAM_BACKOFF_MAX_SECONDS)
        else:
            delay = backoff_seconds(delivery.attempts)
        update |= {"state": State.FAILING, "next_attempt_at": at + timedelta(seconds=delay)}
    with transaction.atomic():
        DeliveryAttempt.objects.filter(pk=attempt.pk).update(
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            response_excerpt=result.excerpt,
            error=result.error[:EXCERPT_CHARS],
        )
        won = Delivery.objects.filter(
            pk=delivery.pk, state__in=DUE_STATES, next_attempt_at=lease_until
        ).update(**update)
        if not won:
            logger.warning(
                "Delivery %s changed while in flight; its outcome was not applied.", delivery.pk
            )
            return "lost"
        if update["state"] == State.DEAD:
            record(
                actor="system",
                action="delivery.dead",
                object_type="Delivery",
                object_id=str(delivery.pk),
                correlation_id=delivery.payload.get("orderId", ""),
                outcome=Outcome.FAILURE,
                context={
                    "webhook_id": delivery.webhook_id,
                    "sequence": delivery.sequence,
                    "attempts": delivery.attempts,
                    "last_status_code": result.status_code,
                    "last_error": result.error,
                },
            )
    for name, value in update.items():
        setattr(delivery, name, value)
    return update["state"]


# --- Public API ----------------------------------------------------------------------------------


def _paused_until(now: datetime) -> datetime | None:
    until = cache.get(PAUSE_CACHE_KEY)
    return until if until and until > now else None


def deliveries_send_due(
    *, limit: int = 100, session=None, now: datetime | None = None
) -> SendCounts:
    """Claim up to `limit` due deliveries (at most one per work item) and send them.

    `now` pins the clock (tests); otherwise each step reads the time when it happens.
    """
    counts = SendCounts()
    if not _configured():
        counts.disabled = True
        return counts
    clock: Callable[[], datetime] = (lambda: now) if now is not None else timezone.now
    started = clock()
    counts.paused_until = _paused_until(started)
    if counts.paused_until:
        return counts

    lease_until = started + timedelta(seconds=lease_seconds())
    claimed = _claim(now=started, limit=limit, lease_until=lease_until)
    counts.claimed = len(claimed)
    session = session or _default_session()
    for index, delivery in enumerate(claimed):
        at = clock()
        # Renew this row's lease just before its POST: a long batch may have outlived the claim's
        # lease, and then another worker may own the row; whoever holds the lease sends.
        renewed = at + timedelta(seconds=lease_seconds())
        attempt = _start_attempt(delivery, old=delivery.next_attempt_at, new=renewed, at=at)
        if attempt is None:
            counts.lost += 1
            continue
        result = _post(session, url=settings.DOWNSTREAM_URL, delivery=delivery, now=at)
        state = _record(delivery, result, attempt=attempt, at=at, lease_until=renewed)
        if state == State.DELIVERED:
            counts.delivered += 1
        elif state == State.DEAD:
            counts.dead += 1
        elif state == State.FAILING:
            counts.failing += 1
        else:
            counts.lost += 1
        if result.retry_after is not None and state == State.FAILING:
            # The receiver is throttling us: hand the rest back untried and pause every sender.
            counts.paused_until = delivery.next_attempt_at
            seconds = (counts.paused_until - at).total_seconds()
            cache.set(PAUSE_CACHE_KEY, counts.paused_until, timeout=max(int(seconds) + 1, 1))
            counts.released = _release(claimed[index + 1 :], lease_until, counts.paused_until)
            break
    if counts.claimed:
        logger.info("Outbox: %s", counts.line())
    return counts


def _start_attempt(
    delivery: Delivery, *, old: datetime, new: datetime, at: datetime
) -> DeliveryAttempt | None:
    """Renew the row's lease (compare-and-set) and, in the same transaction, put the attempt on
    record with an unknown outcome, before the POST leaves. None: the lease was lost."""
    with transaction.atomic():
        won = Delivery.objects.filter(
            pk=delivery.pk, state__in=DUE_STATES, next_attempt_at=old
        ).update(next_attempt_at=new)
        if not won:
            return None
        attempt = DeliveryAttempt.objects.create(
            delivery=delivery, attempted_at=at, error=OUTCOME_UNKNOWN
        )
    delivery.next_attempt_at = new
    return attempt


def _release(rows: list[Delivery], lease_until: datetime, when: datetime) -> int:
    if not rows:
        return 0
    return Delivery.objects.filter(
        pk__in=[d.pk for d in rows], state__in=DUE_STATES, next_attempt_at=lease_until
    ).update(next_attempt_at=when, attempts=F("attempts") - 1)


def send_due_deliveries(max_seconds: float = SEND_LOOP_SECONDS) -> str:
    """django-q2 entry point: send until nothing is due, the receiver asks us to wait, or time is up."""
    deadline = time.monotonic() + max_seconds
    total = SendCounts()
    while True:
        counts = deliveries_send_due()
        total.add(counts)
        if counts.claimed == 0 or counts.disabled or counts.paused_until:
            break
        if time.monotonic() >= deadline:
            break
    return total.line()


def deliveries_retry(*, ids: Iterable[int], actor: str) -> int:
    """Set the given failing or dead deliveries back to pending, due now, with a fresh attempt
    budget (their attempt log stays). Others among `ids` are left alone. Returns how many."""
    ids = list(ids)
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Delivery.objects.filter(pk__in=ids, state__in=RETRYABLE_STATES).values(
                "pk", "state", "sequence", "webhook_id", "workitem__external_ref"
            )
        )
        changed = Delivery.objects.filter(
            pk__in=[r["pk"] for r in rows], state__in=RETRYABLE_STATES
        ).update(state=State.PENDING, next_attempt_at=now, attempts=0)
        record_many(
            AuditEntry(
                actor=actor,
                action="delivery.retry",
                object_type="Delivery",
                object_id=str(r["pk"]),
                correlation_id=r["workitem__external_ref"],
                context={
                    "from_state": r["state"],
                    "sequence": r["sequence"],
                    "webhook_id": r["webhook_id"],
                },
            )
            for r in rows
        )
    return changed


@dataclass(frozen=True)
class ReplayResult:
    reset: int
    superseded: int

    def line(self) -> str:
        return (
            f"{self.reset} deliveries set to go again; {self.superseded} skipped because a later "
            "delivery of the same work item succeeded"
        )


def replay_window_problem(*, start: datetime, end: datetime) -> str | None:
    """Why a replay window is refused, or None."""
    if end <= start:
        return "The end must be after the start."
    if end - start > MAX_REPLAY_WINDOW:
        return f"A replay window may span at most {MAX_REPLAY_WINDOW.days} days."
    return None


def deliveries_skip(*, ids: Iterable[int], actor: str) -> int:
    """Give up on the given dead deliveries for good, so the later deliveries of their work
    items can go (a receiver that will never accept one must not block the item forever)."""
    ids = list(ids)
    with transaction.atomic():
        rows = list(
            Delivery.objects.filter(pk__in=ids, state=State.DEAD).values(
                "pk", "sequence", "webhook_id", "workitem__external_ref"
            )
        )
        changed = Delivery.objects.filter(pk__in=[r["pk"] for r in rows], state=State.DEAD).update(
            state=State.SKIPPED
        )
        record_many(
            AuditEntry(
                actor=actor,
                action="delivery.skip",
                object_type="Delivery",
                object_id=str(r["pk"]),
                correlation_id=r["workitem__external_ref"],
                context={"sequence": r["sequence"], "webhook_id": r["webhook_id"]},
            )
            for r in rows
        )
    return changed


def deliveries_replay_window(*, start: datetime, end: datetime, actor: str) -> ReplayResult:
    """Resend the failing and dead deliveries created in [start, end), except those superseded
    by a delivered later delivery of the same work item. Set-based: two statements."""
    problem = replay_window_problem(start=start, end=end)
    if problem:
        raise ValueError(problem)
    later_success = Delivery.objects.filter(
        workitem_id=OuterRef("workitem_id"),
        sequence__gt=OuterRef("sequence"),
        state=State.DELIVERED,
    )
    in_window = Delivery.objects.filter(
        created_at__gte=start, created_at__lt=end, state__in=RETRYABLE_STATES
    )
    with transaction.atomic():
        superseded = in_window.filter(Exists(later_success)).count()
        reset = in_window.filter(~Exists(later_success)).update(
            state=State.PENDING, next_attempt_at=timezone.now(), attempts=0
        )
        result = ReplayResult(reset=reset, superseded=superseded)
        record(
            actor=actor,
            action="delivery.replay",
            object_type="Delivery",
            context={
                "start": start.isoformat(),
                "end": end.isoformat(),
                "reset": reset,
                "superseded": superseded,
            },
        )
    return result


def deliveries_replay_request(*, start: datetime, end: datetime, actor: str) -> str:
    """Queue a replay of [start, end) as a background job once the caller's transaction commits,
    and record who asked (the replay itself records its counts). Returns the job's task name, as
    django-q2's admin lists it: the task id is not known until the job is queued."""
    from django_q.tasks import async_task

    problem = replay_window_problem(start=start, end=end)
    if problem:
        raise ValueError(problem)
    start_iso, end_iso = start.isoformat(), end.isoformat()
    task_name = f"replay-deliveries-{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}"
    with transaction.atomic():
        record(
            actor=actor,
            action="delivery.replay_requested",
            object_type="Delivery",
            context={"start": start_iso, "end": end_iso, "task_name": task_name},
        )
        transaction.on_commit(
            lambda: async_task(
                "workitems.tasks.replay_deliveries",
                start_iso,
                end_iso,
                actor,
                task_name=task_name,
            )
        )
    return task_name
