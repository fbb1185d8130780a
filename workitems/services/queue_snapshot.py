"""Queue members and open-item counts for one routability-checking run.

Genesys has no "is this routable?" endpoint, so the check reads each queue's members (routing
status and skills) from Genesys. The cost must grow with the number of queues, not items: one
`MemberSnapshots` serves a whole run, loads each queue once, and refreshes a queue's members from
Genesys at most once per `settings.GENESYS_MEMBER_CACHE_SECONDS`. The time of the last refresh is
kept in Django's cache, so runs in other processes reuse it instead of calling Genesys again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from workitems.genesys import GenesysClient, GenesysError, get_client
from workitems.models import LocalState, Queue, QueueMember, StatusCategory, WorkItem
from workitems.services.reference_sync import queue_members_sync

logger = logging.getLogger(__name__)

# Local states in which an item is open in Genesys (unless its status category is Closed).
OPEN_LOCAL_STATES = (LocalState.SUBMITTING, LocalState.SUBMITTED)
# How long a refresh record outlives its freshness window, so a failed refresh can still say
# when the mirror was last refreshed.
_RECORD_TTL_SECONDS = 24 * 3600


def _cache_key(queue_pk: int) -> str:
    return f"routability:queue-members:{queue_pk}"


@dataclass(frozen=True)
class QueueSnapshot:
    """What a checking run knows about one queue."""

    queue: Queue
    present_in_genesys: bool
    # A Genesys error met while refreshing the members: the members below may be stale.
    error: str = ""
    members: list[QueueMember] = field(default_factory=list)
    open_items: int = 0
    # When the members were last refreshed from Genesys (None: never, as far as we know).
    refreshed_at: datetime | None = None

    @property
    def joined(self) -> list[QueueMember]:
        return [m for m in self.members if m.joined]

    @property
    def on_queue(self) -> list[QueueMember]:
        return [m for m in self.members if m.on_queue]


def queue_members_remember_refresh(*, queue: Queue, at: datetime, present: bool = True) -> None:
    """Record that `queue`'s members were refreshed from Genesys at `at` (e.g. by a full
    reference sync), so checking runs in any process treat them as fresh until the cache period
    has passed."""
    ttl = max(_RECORD_TTL_SECONDS, 2 * settings.GENESYS_MEMBER_CACHE_SECONDS)
    cache.set(_cache_key(queue.pk), {"at": at.isoformat(), "present": present}, timeout=ttl)


def open_items_by_queue(*, queue_pks: Iterable[int]) -> dict[int, int]:
    """Open work items per effective queue (the item's queue, else its worktype's default), in
    one aggregate query."""
    pks = list(queue_pks)
    if not pks:
        return {}
    rows = (
        WorkItem.objects.filter(local_state__in=OPEN_LOCAL_STATES)
        .exclude(status_category=StatusCategory.CLOSED)
        .annotate(effective_queue=Coalesce("queue_id", "worktype__default_queue_id"))
        .filter(effective_queue__in=pks)
        .values("effective_queue")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["effective_queue"]: row["n"] for row in rows}


def workitem_is_open(*, item: WorkItem) -> bool:
    """The same rule as `open_items_by_queue`, for one item in memory."""
    return item.local_state in OPEN_LOCAL_STATES and item.status_category != StatusCategory.CLOSED


class MemberSnapshots:
    """Per-run memo of queue snapshots. `get(queue)` loads on first use; `prefetch(queues)` loads
    many queues with one query for members and one for open-item counts."""

    def __init__(self, *, client: GenesysClient | None = None, now: datetime | None = None) -> None:
        # The client is only created when a refresh is due: a fully cached run needs no token.
        self._client = client
        self.now = now or timezone.now()
        self._snapshots: dict[int, QueueSnapshot] = {}

    def get(self, queue: Queue) -> QueueSnapshot:
        if queue.pk not in self._snapshots:
            self.prefetch([queue])
        return self._snapshots[queue.pk]

    def prefetch(self, queues: Iterable[Queue | None]) -> None:
        todo = {q.pk: q for q in queues if q is not None and q.pk not in self._snapshots}
        if not todo:
            return
        records = cache.get_many([_cache_key(pk) for pk in todo])
        outcomes: dict[int, dict[str, Any]] = {}
        for pk, queue in todo.items():
            record = records.get(_cache_key(pk))
            if self._fresh(record):
                outcomes[pk] = {**record, "error": ""}
            else:
                outcomes[pk] = self._refresh(queue, previous=record)

        members: dict[int, list[QueueMember]] = {pk: [] for pk in todo}
        for member in QueueMember.objects.filter(queue_id__in=list(todo), active=True).order_by(
            "name", "user_id"
        ):
            members[member.queue_id].append(member)
        open_counts = open_items_by_queue(queue_pks=todo)
        # Without a refresh record (e.g. the refresh failed), the mirror rows say how old they are.
        unknown = [pk for pk, o in outcomes.items() if o.get("at") is None]
        mirror_times: dict[int, datetime] = {}
        if unknown:
            rows = (
                QueueMember.objects.filter(queue_id__in=unknown)
                .values("queue_id")
                .annotate(at=Max("synced_at"))
                .order_by()
            )
            mirror_times = {row["queue_id"]: row["at"] for row in rows}
        for pk, queue in todo.items():
            outcome = outcomes[pk]
            present = outcome.get("present", True)
            at = outcome.get("at")
            self._snapshots[pk] = QueueSnapshot(
                queue=queue,
                present_in_genesys=present,
                error=outcome["error"],
                # A queue Genesys no longer has routes to nobody, whatever the mirror remembers.
                members=members[pk] if present else [],
                open_items=open_counts.get(pk, 0),
                refreshed_at=datetime.fromisoformat(at) if at else mirror_times.get(pk),
            )

    def _fresh(self, record: dict[str, Any] | None) -> bool:
        if not record or not record.get("at"):
            return False
        age = self.now - datetime.fromisoformat(record["at"])
        return age < timedelta(seconds=settings.GENESYS_MEMBER_CACHE_SECONDS)

    def _refresh(self, queue: Queue, *, previous: dict[str, Any] | None) -> dict[str, Any]:
        """Refresh one queue's members from Genesys; returns {at, present, error}."""
        try:
            if self._client is None:
                self._client = get_client()
            # No transaction around this: it reads Genesys first, then writes in its own short
            # one. Held across the call, a transaction blocks every other writer (on SQLite the
            # simulator, served from the same file, until "database is locked").
            queue_members_sync(client=self._client, queue=queue)
        except GenesysError as exc:
            if exc.status == 404:
                queue_members_remember_refresh(queue=queue, at=self.now, present=False)
                return {"at": self.now.isoformat(), "present": False, "error": ""}
            logger.warning(
                "queue member refresh failed",
                extra={"queue": queue.genesys_id, "error": str(exc)},
            )
            # Not remembered: the next run tries again. Keep the last good refresh time.
            return {
                "at": (previous or {}).get("at"),
                "present": True,
                "error": str(exc),
            }
        queue_members_remember_refresh(queue=queue, at=self.now)
        return {"at": self.now.isoformat(), "present": True, "error": ""}
