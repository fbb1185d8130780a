"""The tamper-evident audit chain: sealing committed rows, and walking the chain to verify it.

Each audit row gets a seal (AuditSeal): position n and
    hash_n = SHA-256(hash_{n-1} || canonical(row))            hash_0 = 64 zeros
where canonical(row) is the JSON array [id, occurred_at (UTC ISO 8601, microseconds), actor, action,
object_type, object_id, correlation_id, outcome, context] with `context` as the database prints the
stored JSON (jsonb output on PostgreSQL, the stored text on SQLite): one unambiguous string per
row, the same every time it is read. Changing any column of a sealed row changes its hash.

Writers do not seal: record()/record_many() and the SQL writers (the SLA sweep's INSERT … SELECT)
insert as before, in one statement per batch, with nothing shared between them. The sealing step
(every minute, and first thing in verify_audit) chains rows in id order after the chain's end.

Why it never seals past a row that may still commit (PostgreSQL). Ids come from a sequence in the
order they are drawn, but rows become visible in commit order: row 11 may still be in flight when
row 12 is committed, and sealing 12 would leave 11 below the chain's end for ever. So the sealer
puts down a fence and seals only up to a fence every writer behind which has finished:
  1. L = max(id) visible now. Every id ≤ L was drawn before this moment (the sequence is monotonic;
     it must not cache values per session, which is checked).
  2. X = pg_snapshot_xmax(pg_current_snapshot()), taken after step 1: every transaction id
     assigned so far is < X. A statement-level BEFORE INSERT trigger (migration 0003) gives each
     inserting transaction its xid before any row's id is drawn, so every transaction holding an
     id ≤ L already had an xid < X.
  3. When no transaction of this database with an xid < X is still running (pg_stat_activity's
     backend_xid, and pg_prepared_xacts; our own excluded), each of those writers has committed
     or rolled back: every row with id ≤ L that will ever exist is visible now, and rows ≤ L are
     sealed.
The fence usually clears within milliseconds; the step polls for `wait` seconds, and a fence still
held (a long transaction) is kept in the chain head for the next run. Long read-only transactions
(a pg_dump) never take an xid and do not hold sealing up. Gaps in the ids (rolled-back inserts,
sequence increments lost to a crash) are harmless: the chain links rows, not numbers.

On SQLite one writer holds the database at a time, and an id is drawn under that lock, so every
row up to the largest committed id is final.

Verification walks seals and rows together in id order and names, per row: *changed* (the hash
recomputed from the row differs from its seal), *removed* (a seal without its row, a gap in the
positions, or fewer positions than the chain head records), *inserted out of order* (a row with no
seal below the chain's end, or a row whose time lies more than OUT_OF_ORDER_TOLERANCE before a row
sealed ahead of it: someone writing history after the fact).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from audits.models import AuditChainHead, AuditEvent, AuditSeal

logger = logging.getLogger("audit")

GENESIS = "0" * 64
SEAL_BATCH = 5000
CHUNK = 2000
MAX_FENCES = 5
POLL_SECONDS = 0.05
# Writers stamp occurred_at just before the INSERT that draws the id; a long record_many() or
# clocks apart between web servers put a few seconds between them, never minutes.
OUT_OF_ORDER_TOLERANCE = timedelta(minutes=5)
MAX_PROBLEMS = 50

ROW_FIELDS = (
    "id",
    "occurred_at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "correlation_id",
    "outcome",
)


class ChainError(Exception):
    """The chain cannot be sealed safely here (and why)."""


# --- the hash -------------------------------------------------------------------------------------


def canonical(row: tuple) -> str:
    """The row's canonical text: (id, occurred_at, actor, action, object_type, object_id,
    correlation_id, outcome, context text) as a compact JSON array."""
    pk, at, *texts = row
    return json.dumps(
        [pk, at.astimezone(UTC).isoformat(timespec="microseconds"), *texts],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def link_hash(previous: str, row: tuple) -> str:
    return hashlib.sha256((previous + canonical(row)).encode()).hexdigest()


def row_values(queryset=None):
    """values_list of the canonical columns, the context as the database prints it."""
    qs = AuditEvent.objects.all() if queryset is None else queryset
    return qs.values_list(*ROW_FIELDS, Cast("context", TextField()))


# --- sealing --------------------------------------------------------------------------------------


@dataclass
class SealResult:
    sealed: int = 0
    last_event_id: int = 0
    last_position: int = 0
    last_hash: str = GENESIS
    waiting_fences: int = 0  # fences still held by in-flight writers
    skipped: bool = False  # another sealer held the chain

    def line(self) -> str:
        if self.skipped:
            return "another sealer is running; nothing done"
        text = f"sealed {self.sealed} rows; chain ends at row {self.last_event_id} (#{self.last_position})"
        if self.waiting_fences:
            text += "; newer rows wait for transactions still running"
        return text


def _head(*, lock: bool, nowait: bool = False) -> AuditChainHead | None:
    AuditChainHead.objects.get_or_create(pk=1)
    if not lock:
        return AuditChainHead.objects.get(pk=1)
    rows = AuditChainHead.objects.select_for_update(skip_locked=nowait).filter(pk=1)
    return rows.first()


def _pg_check_sequence(cursor) -> None:
    cursor.execute(
        "SELECT s.cache_size FROM pg_sequences s WHERE format('%%I.%%I', s.schemaname, "
        "s.sequencename)::regclass = pg_get_serial_sequence(%s, 'id')::regclass",
        [AuditEvent._meta.db_table],
    )
    row = cursor.fetchone()
    if row and row[0] > 1:
        raise ChainError(
            f"The audit id sequence caches {row[0]} values per session, so ids are not drawn in "
            "order and the sealer cannot tell which rows are final. ALTER SEQUENCE … CACHE 1."
        )
    cursor.execute(
        "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audits_auditevent_assign_xid' "
        "AND tgrelid = %s::regclass",
        [AuditEvent._meta.db_table],
    )
    row = cursor.fetchone()
    if not row or row[0] == "D":
        raise ChainError(
            "The trigger audits_auditevent_assign_xid is missing or disabled: without it the "
            "sealer cannot wait for in-flight writers. Run `manage.py migrate audits`."
        )


def _pg_fence(cursor) -> list[int]:
    """[L, X]: the largest visible audit id, then the xid horizon after it (module docstring)."""
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {AuditEvent._meta.db_table}")
    top = cursor.fetchone()[0]
    cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
    return [top, cursor.fetchone()[0]]


# Running transactions of this database with an xid (pg_stat_activity shows every role's
# backend_xid), plus prepared ones; each 32-bit xid widened to 64 bits against the current xmax.
_RUNNING_BELOW = """
SELECT NOT EXISTS (
    SELECT 1
    FROM (
        SELECT backend_xid AS xid FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
            AND backend_xid IS NOT NULL
        UNION ALL
        SELECT transaction FROM pg_prepared_xacts WHERE database = current_database()
    ) AS running,
    (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x) AS now
    WHERE now.x - ((now.x - running.xid::text::bigint) %% 4294967296 + 4294967296) %% 4294967296
        < %s
)
"""


def _pg_cleared(cursor, xmax: int) -> bool:
    """No transaction of this database with an xid below `xmax` is still running (but ours).

    Only this database's transactions can insert audit rows, so others on the same cluster do
    not hold sealing up. pg_stat_activity is cached per transaction: clear that cache first.
    """
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute(_RUNNING_BELOW, [xmax])
    return cursor.fetchone()[0]


def _frontier(head: AuditChainHead, *, wait: float) -> tuple[int, list]:
    """The largest id below which every row is final, and the fences still waiting."""
    if connection.vendor != "postgresql":
        top = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        return top, []
    with connection.cursor() as cursor:
        _pg_check_sequence(cursor)
        fences = [list(f) for f in head.fences] + [_pg_fence(cursor)]
        deadline = time.monotonic() + wait
        while True:
            cleared = [f for f in fences if _pg_cleared(cursor, f[1])]
            if cleared and cleared[-1] is fences[-1] or time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
    frontier = max([head.last_event_id] + [f[0] for f in cleared])
    # A newer fence is never cleared before an older one is (its xids include theirs), so
    # dropping the oldest beyond MAX_FENCES only delays sealing, it cannot make it unsafe.
    waiting = [f for f in fences if f not in cleared and f[0] > frontier][-MAX_FENCES:]
    return frontier, waiting


def _write_seals(seals: list[tuple[int, int, str]]) -> None:
    if connection.vendor == "postgresql":
        columns = "(event_id, position, hash)"
        with connection.cursor() as cursor:
            sql = f"COPY {AuditSeal._meta.db_table} {columns} FROM STDIN"
            with cursor.cursor.copy(sql) as copy:
                for row in seals:
                    copy.write_row(row)
        return
    AuditSeal.objects.bulk_create(
        [AuditSeal(event_id=e, position=p, hash=h) for e, p, h in seals], batch_size=1000
    )


def audit_seal(*, wait: float = 2.0, batch: int = SEAL_BATCH) -> SealResult:
    """Chain every committed audit row after the chain's end, in id order, in batches.

    Safe to run anywhere, any number of times at once: sealers take turns on the chain head's row
    lock (a second one finding it held returns `skipped`). Writers never touch that row.
    """
    result = SealResult()
    with transaction.atomic():
        head = _head(lock=True, nowait=True)
        if head is None:
            result.skipped = True
            return result
        frontier, waiting = _frontier(head, wait=wait)
        head.fences = waiting
        head.save(update_fields=["fences"])
    result.waiting_fences = len(waiting)
    while True:
        with transaction.atomic():
            head = _head(lock=True, nowait=True)
            if head is None:
                result.skipped = True
                return result
            rows = list(
                row_values(
                    AuditEvent.objects.filter(id__gt=head.last_event_id, id__lte=frontier)
                ).order_by("id")[:batch]
            )
            if not rows:
                break
            previous, position = head.last_hash, head.last_position
            seals = []
            for row in rows:
                previous = link_hash(previous, row)
                position += 1
                seals.append((row[0], position, previous))
            _write_seals(seals)
            head.last_event_id, head.last_position, head.last_hash = rows[-1][0], position, previous
            head.sealed_at = timezone.now()
            head.save()
            result.sealed += len(rows)
    result.last_event_id, result.last_position, result.last_hash = (
        head.last_event_id,
        head.last_position,
        head.last_hash,
    )
    if result.sealed:
        # The chain head in the log too: a copy outside the database that a rewrite of the whole
        # chain cannot reach.
        logger.info(
            "audit.sealed",
            extra={
                "audit": {
                    "action": "audit.sealed",
                    "count": result.sealed,
                    "last_event_id": head.last_event_id,
                    "last_position": head.last_position,
                    "last_hash": head.last_hash,
                }
            },
        )
    return result


# --- verification ---------------------------------------------------------------------------------


@dataclass
class Problem:
    kind: str  # changed, removed, inserted
    event_id: int
    message: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "event_id": self.event_id, "message": self.message}


@dataclass
class VerifyResult:
    checked: int = 0
    unsealed: int = 0
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0
    last_event_id: int = 0
    last_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: str, event_id: int, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(kind, event_id, message))
        else:
            self.more_problems += 1


def _merged(start_id: int, end_id: int) -> Iterator[tuple[int, tuple | None, tuple | None]]:
    """(id, row or None, (position, hash) or None) in id order, rows and seals side by side.

    Seals only up to `end_id`, the chain's end read before either cursor opened: the two cursors
    see the table at slightly different moments, and a seal written between them for a row the
    first cannot see must not read as a row removed. Everything up to `end_id` was committed
    before then, so both see it alike.
    """
    rows = row_values(AuditEvent.objects.filter(id__gte=start_id)).order_by("id").iterator(CHUNK)
    seals = (
        AuditSeal.objects.filter(event_id__gte=start_id, event_id__lte=end_id)
        .order_by("event_id")
        .values_list("event_id", "position", "hash")
        .iterator(CHUNK)
    )
    row, seal = next(rows, None), next(seals, None)
    while row is not None or seal is not None:
        if seal is None or (row is not None and row[0] < seal[0]):
            yield row[0], row, None
            row = next(rows, None)
        elif row is None or seal[0] < row[0]:
            yield seal[0], None, seal[1:]
            seal = next(seals, None)
        else:
            yield row[0], row, seal[1:]
            row, seal = next(rows, None), next(seals, None)


def _start(since: datetime | None, from_id: int | None) -> tuple[int, int, str, datetime | None]:
    """Where the walk starts: (first id, position and hash before it, latest time before it)."""
    if since is None and not from_id:
        return 0, 0, GENESIS, None
    first = from_id or (
        AuditEvent.objects.filter(occurred_at__gte=since)
        .order_by("occurred_at", "id")
        .values_list("id", flat=True)
        .first()
    )
    if first is None:
        return 0, 0, GENESIS, None  # nothing since then: the walk checks the chain's end only
    before = (
        AuditSeal.objects.filter(event_id__lt=first)
        .order_by("-event_id")
        .values_list("position", "hash", "event__occurred_at")
        .first()
    )
    return (first, *before) if before else (first, 0, GENESIS, None)


def audit_verify(*, since: datetime | None = None, from_id: int | None = None) -> VerifyResult:
    """Walk the chain from row `from_id`, or the first row at or after `since`, or its start."""
    result = VerifyResult()
    head = _head(lock=False)
    start, position, previous, latest = _start(since, from_id)
    if since is not None and start == 0:
        start = head.last_event_id + 1
        position, previous = head.last_position, head.last_hash
    expected = position + 1
    for pk, row, seal in _merged(start, head.last_event_id):
        if pk > head.last_event_id:
            result.unsealed += 1  # after the chain's end: the next sealing's
            continue
        if seal is None:
            result.add(
                "inserted",
                pk,
                f"Row {pk} was inserted out of order: it has no seal, but the chain already "
                f"runs past it to row {head.last_event_id}.",
            )
            continue
        seal_position, seal_hash = seal
        result.checked += 1
        if row is None:
            result.add(
                "removed", pk, f"Row {pk} was removed: its seal (position {seal_position}) remains."
            )
        elif seal_position != expected:
            if seal_position > expected:
                missing = seal_position - expected
                result.add(
                    "removed",
                    pk,
                    f"{missing} row{'s' if missing > 1 else ''} removed just before row {pk}, "
                    f"seal and all (chain positions {expected}–{seal_position - 1} are missing).",
                )
            else:
                result.add(
                    "inserted",
                    pk,
                    f"Row {pk} carries chain position {seal_position}, expected {expected}: "
                    "a seal was forged or rows were moved.",
                )
        elif link_hash(previous, row) != seal_hash:
            result.add(
                "changed",
                pk,
                f"Row {pk} was changed after it was sealed: its content no longer matches its "
                "seal.",
            )
        elif latest is not None and row[1] < latest - OUT_OF_ORDER_TOLERANCE:
            result.add(
                "inserted",
                pk,
                f"Row {pk} was inserted out of order: it says it happened at "
                f"{row[1].astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, before rows sealed ahead of "
                f"it (up to {latest.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC).",
            )
        if row is not None and (latest is None or row[1] > latest):
            latest = row[1]
        previous, expected = seal_hash, seal_position + 1
        result.last_event_id, result.last_hash = pk, seal_hash
    if expected - 1 < head.last_position:
        missing = head.last_position - (expected - 1)
        result.add(
            "removed",
            head.last_event_id,
            f"The last {missing} sealed row{'s were' if missing > 1 else ' was'} removed: the "
            f"chain head records position {head.last_position} (row {head.last_event_id}), the "
            f"seals end at position {expected - 1}.",
        )
    return result


def seals_for(ids: list[int]) -> dict[int, str]:
    return dict(AuditSeal.objects.filter(event_id__in=ids).values_list("event_id", "hash"))
