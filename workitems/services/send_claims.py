"""One sender per work item, ever: a lease on each item, taken atomically before it is sent.

The claim is three columns on WorkItem: who holds it (`send_claimed_by`, an owner string unique
to one submission run), since when, and until when (`send_claim_expires_at`). Only whoever holds
an unexpired claim may send the item, so no two runs, workers, clusters, retries or resumes send
the same item.

- **Take** (`send_claims_take`): one short transaction that locks the claimable rows — submitting,
  not parked, and unclaimed, expired, or offered to this run — with `SKIP LOCKED` on PostgreSQL
  (a row another claimer is taking right now is left to it; SQLite has one writer at a time), and
  writes the owner and the lease. Of two runs racing for an item exactly one gets it; the other
  leaves it alone.
- **Hold** (`send_claims_hold`): before each create request the run re-asserts its claim in the
  same UPDATE that records the attempt (`create_attempted_at`), renewing the lease. If the claim is
  no longer its own — the run stalled past the lease and another sender took the item — nothing
  is sent: `ClaimLost`.
- **Renew** (`send_claims_renew`): a heartbeat while the run waits on Genesys (pacing, bulk jobs).
- **Release** (`send_claims_release`): at the end of a run every claim it holds is cleared, so items
  still submitting (an unknown outcome, a park) are free for the resume — which looks an item up
  only once its last create attempt is RESUME_SETTLE (5 minutes) old, so that Genesys's search
  can show an item whose create answer was lost.

No lock is held across an HTTP call: the lease keeps other senders away. A run that dies leaves
its claims to expire; the resume then takes those items, and because `create_attempted_at` is
set it looks each one up in Genesys by externalTag before sending it again.

**Queued claims.** A supervisor's request puts its items in SUBMITTING and claims them for the
django-q2 task it enqueues (`queued_claim`). The task takes them over; the resume leaves them
alone until that claim expires (the task never ran).

The lease (SUBMIT_CLAIM_SECONDS, default 600) must outlast the longest a live run can go without
renewing: one create request with its 429 waits and timeouts. `lease_too_short()` says when it
does not; `manage.py check` reports it.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from workitems.models import LocalState, WorkItem

OWNER_MAX = WorkItem._meta.get_field("send_claimed_by").max_length
# How long the resume leaves an item whose create request went unanswered before looking it up.
RESUME_SETTLE = timedelta(minutes=5)


class ClaimLost(Exception):
    """The run no longer holds an item's send claim: it must not send it."""


def lease() -> timedelta:
    return timedelta(seconds=settings.SUBMIT_CLAIM_SECONDS)


def lease_too_short() -> str:
    """Why the configured lease could expire under a live run, or ""."""
    one_request = settings.GENESYS_CONNECT_TIMEOUT + settings.GENESYS_READ_TIMEOUT
    worst = (settings.GENESYS_MAX_RETRIES + 1) * (
        one_request + settings.GENESYS_RETRY_AFTER_CEILING
    )
    worst += 60  # pacing under the per-token limit waits at most for the next minute
    if lease().total_seconds() > worst:
        return ""
    return (
        f"SUBMIT_CLAIM_SECONDS ({lease().total_seconds():g}) is not above the longest one create "
        f"request can take ({worst:g} s with GENESYS_MAX_RETRIES, the timeouts and "
        "GENESYS_RETRY_AFTER_CEILING): a live submission could lose its claim to the resume"
    )


def new_owner(actor: str, *, queued: bool = False) -> str:
    """A claim owner: unique, and readable on the item page ("being sent by …")."""
    token = secrets.token_hex(4)
    if queued:
        text = f"submission queued by {actor} [{token}]"
    else:
        text = f"{actor}'s submission on {socket.gethostname()} pid {os.getpid()} [{token}]"
    if len(text) > OWNER_MAX:
        text = text[: OWNER_MAX - 12] + f"… [{token}]"
    return text


def _claimable(now: datetime, offered: str) -> Q:
    free = Q(send_claim_expires_at__isnull=True) | Q(send_claim_expires_at__lte=now)
    if offered:
        free |= Q(send_claimed_by=offered)
    parked = Q(next_attempt_at__gt=now)
    return Q(local_state=LocalState.SUBMITTING) & free & ~parked


def claim_fields(owner: str, now: datetime) -> dict[str, Any]:
    """The columns a claim writes (also used by the request, in its own UPDATE)."""
    return {
        "send_claimed_by": owner,
        "send_claimed_at": now,
        "send_claim_expires_at": now + lease(),
        "updated_at": now,
    }


def send_claims_take(*, item_ids: list[int], owner: str, offered: str = "") -> list[int]:
    """Claim for `owner` the given items no one else holds; returns the ids claimed, in order."""
    now = timezone.now()
    with transaction.atomic():
        rows = WorkItem.objects.filter(_claimable(now, offered), pk__in=item_ids).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        ids = list(rows.values_list("pk", flat=True))
        if ids:
            WorkItem.objects.filter(pk__in=ids).update(**claim_fields(owner, now))
    return ids


def send_claims_hold(*, items: list[WorkItem], **changes: Any) -> None:
    """Renew the claims on `items` (all held by one owner, as loaded) and apply `changes` in the
    same statement. Raises ClaimLost, changing nothing, if any is no longer held."""
    if not items:
        return
    owners = {item.send_claimed_by for item in items}
    owner = owners.pop() if len(owners) == 1 else ""
    ids = [item.pk for item in items]
    now = timezone.now()
    with transaction.atomic():
        held = WorkItem.objects.filter(
            pk__in=ids, local_state=LocalState.SUBMITTING, send_claimed_by=owner
        ).exclude(send_claimed_by="")
        updated = held.update(send_claim_expires_at=now + lease(), **changes)
        if updated != len(ids):  # raising rolls the partial update back
            raise ClaimLost(
                f"{len(ids) - updated} of {len(ids)} items are no longer claimed by this run "
                "(another sender took them after its claim expired); they were not sent"
            )


def send_claims_renew(*, owner: str) -> int:
    """Extend every claim `owner` holds; returns how many it still holds."""
    now = timezone.now()
    return WorkItem.objects.filter(send_claimed_by=owner, local_state=LocalState.SUBMITTING).update(
        send_claim_expires_at=now + lease()
    )


def send_claims_release(*, owner: str) -> int:
    """Clear every claim `owner` holds (whatever the item's state now)."""
    return WorkItem.objects.filter(send_claimed_by=owner).update(
        send_claimed_by="", send_claimed_at=None, send_claim_expires_at=None
    )


def items_free_to_resume(*, now: datetime | None = None) -> QuerySet[WorkItem]:
    """Submitting items no live claim holds and not parked: what the resume may take — except
    those whose create was attempted less than RESUME_SETTLE ago (an answer lost moments ago):
    Genesys's search is given time to show the item before the resume looks it up."""
    now = now or timezone.now()
    settled = Q(create_attempted_at__isnull=True) | Q(create_attempted_at__lte=now - RESUME_SETTLE)
    return WorkItem.objects.filter(_claimable(now, "") & settled)


def _monotonic() -> float:
    return time.monotonic()


@dataclass
class Heartbeat:
    """Renews a run's claims at most every quarter lease, as the run makes its calls."""

    owner: str
    last: float = field(default_factory=lambda: _monotonic())

    def beat(self) -> None:
        if _monotonic() - self.last >= lease().total_seconds() / 4:
            send_claims_renew(owner=self.owner)
            self.last = _monotonic()


def send_claim_text(item: WorkItem, *, now: datetime | None = None) -> str:
    """What the item page says about who is sending it."""
    now = now or timezone.now()
    if item.local_state != LocalState.SUBMITTING:
        return "—"
    if not item.send_claimed_by or item.send_claim_expires_at is None:
        parked = item.next_attempt_at and item.next_attempt_at > now
        if parked:
            return f"parked until {_when(item.next_attempt_at)}; then the resume sends it"
        return "not claimed: the next resume (every 5 minutes) sends it"
    since = _when(item.send_claimed_at) if item.send_claimed_at else "?"
    if item.send_claim_expires_at <= now:
        return (
            f"claimed by {item.send_claimed_by} since {since}; the claim expired at "
            f"{_when(item.send_claim_expires_at)}, so the next resume takes it over (looking it "
            "up in Genesys first)"
        )
    return (
        f"being sent by {item.send_claimed_by} since {since} "
        f"(claim held until {_when(item.send_claim_expires_at)})"
    )


def _when(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")
