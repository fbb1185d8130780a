"""The SLA sweep's writes, set-based: mark the breaches, and for each newly breached item one
downstream delivery and one audit event, however many items breached; and add the breaches to the
hourly rollup (services/rollup.py), one row per queue and worktype.

On PostgreSQL it is one statement: the UPDATE that marks the items (and bumps each one's delivery
sequence) RETURNs them to two INSERTs in the same WITH, so the breached rows are read once, from
the partial index, and never looked for again. SQLite has no data-modifying WITH: there the UPDATE
is followed by one INSERT … SELECT each, which find the rows by their exact breach time.

Raw SQL because Django has neither; the vendor differences (building JSON, a random id, the
deadline's text) are the only branches. The rows written are the same as the ORM paths write
(services.outbox.delivery_payload and audits.services.record_many): tests compare them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import connection

from audits.models import AuditEvent, Outcome
from workitems.genesys_wire import genesys_datetime
from workitems.models import Delivery, HourlyRollup, WorkItem, WorkItemStatus
from workitems.services.rollup import hour_of

logger = logging.getLogger("audit")

_JSON = {
    "postgresql": "jsonb_build_object",
    "sqlite": "json_object",
}
_RANDOM_ID = {
    "postgresql": "replace(gen_random_uuid()::text, '-', '')",
    "sqlite": "lower(hex(randomblob(16)))",
}
_TRUE = {"postgresql": "true", "sqlite": "json('true')"}
_TEXT = {"postgresql": "w.id::text", "sqlite": "CAST(w.id AS TEXT)"}


def _vendor() -> str:
    if connection.vendor not in _JSON:
        raise NotImplementedError(f"SLA follow-ups have no SQL for {connection.vendor}")
    return connection.vendor


_DUE = (
    "sla_breached_at IS NULL AND date_closed IS NULL AND sla_paused_since IS NULL "
    "AND sla_deadline IS NOT NULL AND sla_deadline <= %s"
)


def breaches_mark(*, now: datetime) -> int:
    """Mark open, unpaused items past their deadline as breached at `now`, and write each one's
    delivery and audit event. Returns how many items breached. Runs inside the sweep's
    transaction; the condition is that of the partial index workitem_sla_open_due."""
    vendor = _vendor()
    build, random_id = _JSON[vendor], _RANDOM_ID[vendor]
    items = WorkItem._meta.db_table
    statuses = WorkItemStatus._meta.db_table
    deliveries = Delivery._meta.db_table
    audits = AuditEvent._meta.db_table
    stamp = genesys_datetime(now)
    # As the ORM would bind it (SQLite stores naive UTC text; PostgreSQL takes it as is).
    at = connection.ops.adapt_datetimefield_value(now)
    delivery_columns = (
        "workitem_id, sequence, kind, payload, webhook_id, state, created_at, next_attempt_at, "
        "attempts, last_error"
    )
    delivery_values = f"""w.id, w.last_delivery_sequence, 'sla_breach',
        {build}('orderId', w.external_ref, 'workItemId', w.genesys_id,
                'taskStatus', COALESCE(s.name, ''), 'statusCategory', w.status_category,
                'slaBreached', {_TRUE[vendor]}, 'sequence', w.last_delivery_sequence,
                'timestamp', %s),
        'msg_' || {random_id}, %s, %s, %s, 0, ''"""
    delivery_params = [stamp, Delivery.State.PENDING, at, at]
    audit_columns = (
        "occurred_at, actor, action, object_type, object_id, correlation_id, outcome, context"
    )
    audit_values = f"""%s, 'system', 'sla.breached', 'WorkItem', {_TEXT[vendor]}, w.external_ref,
        %s, {build}('deadline', {_deadline_text(vendor)})"""
    audit_params = [at, Outcome.INFO]
    rollup = HourlyRollup._meta.db_table
    rollup_insert = (
        f"INSERT INTO {rollup} (queue_key, worktype_id, hour, opened, closed, breached, "
        "closed_within_sla) SELECT COALESCE(w.queue_id, 0), w.worktype_id, %s, 0, 0, count(*), 0"
    )
    rollup_conflict = (
        "GROUP BY COALESCE(w.queue_id, 0), w.worktype_id "
        f"ON CONFLICT (queue_key, worktype_id, hour) DO UPDATE SET "
        f"breached = {rollup}.breached + excluded.breached"
    )
    hour = connection.ops.adapt_datetimefield_value(hour_of(now))
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            cursor.execute(
                f"""
                WITH w AS (
                    UPDATE {items}
                    SET sla_breached_at = %s, last_delivery_sequence = last_delivery_sequence + 1
                    WHERE {_DUE}
                    RETURNING id, external_ref, genesys_id, status_id, status_category,
                        sla_deadline, last_delivery_sequence, queue_id, worktype_id
                ), rolled AS (
                    {rollup_insert} FROM w {rollup_conflict}
                    RETURNING 1
                ), delivered AS (
                    INSERT INTO {deliveries} ({delivery_columns})
                    SELECT {delivery_values}
                    FROM w LEFT JOIN {statuses} s ON s.id = w.status_id
                    RETURNING 1
                ), audited AS (
                    INSERT INTO {audits} ({audit_columns})
                    SELECT {audit_values} FROM w
                    RETURNING 1
                )
                SELECT (SELECT count(*) FROM w), (SELECT count(*) FROM delivered),
                    (SELECT count(*) FROM audited), (SELECT count(*) FROM rolled)
                """,
                [at, at, hour, *delivery_params, *audit_params],
            )
            breached, delivered, audited, _rolled = cursor.fetchone()
        else:
            cursor.execute(
                f"UPDATE {items} SET sla_breached_at = %s, "
                f"last_delivery_sequence = last_delivery_sequence + 1 WHERE {_DUE}",
                [at, at],
            )
            breached = cursor.rowcount
            scope = "w.sla_breached_at = %s AND w.date_closed IS NULL"
            if breached:
                cursor.execute(
                    f"INSERT INTO {deliveries} ({delivery_columns}) SELECT {delivery_values} "
                    f"FROM {items} w LEFT JOIN {statuses} s ON s.id = w.status_id WHERE {scope}",
                    [*delivery_params, at],
                )
                delivered = cursor.rowcount
                cursor.execute(
                    f"INSERT INTO {audits} ({audit_columns}) SELECT {audit_values} "
                    f"FROM {items} w WHERE {scope}",
                    [*audit_params, at],
                )
                audited = cursor.rowcount
                cursor.execute(
                    f"{rollup_insert} FROM {items} w WHERE {scope} {rollup_conflict}",
                    [hour, at],
                )
            else:
                delivered = audited = 0
    if audited:
        # One summary line for the log shippers rather than one per item: the rows are in the
        # table.
        logger.info(
            "sla.breached",
            extra={
                "audit": {
                    "action": "sla.breached",
                    "actor": "system",
                    "count": audited,
                    "deliveries": delivered,
                    "occurred_at": now.isoformat(),
                }
            },
        )
    return breached


def _deadline_text(vendor: str) -> str:
    """The deadline as genesys_datetime() writes it: yyyy-MM-ddTHH:mm:ss.mmmZ."""
    if vendor == "postgresql":
        return """to_char(w.sla_deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
    # %% because the query has parameters: the driver (and Django's debug cursor, with DEBUG on)
    # formats it with %, which turns %% into %.
    return "strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', w.sla_deadline)"
