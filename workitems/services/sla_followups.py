"""The SLA sweep's follow-ups for newly breached items, written set-based: one INSERT … SELECT for
the downstream deliveries and one for the audit events, however many items breached.

Raw SQL because Django has no INSERT … SELECT; the two vendor differences (building JSON and a
random id) are the only branches. The rows written are the same as the ORM paths write
(services.outbox.delivery_payload and audits.services.record_many): tests compare them.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import connection

from audits.models import AuditEvent, Outcome
from workitems.models import Delivery, WorkItem, WorkItemStatus
from workitems.services.workitem_body import genesys_datetime

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


def breach_followups_insert(*, breached_at: datetime) -> tuple[int, int]:
    """For items the sweep marked at `breached_at` (and still open): bump each item's delivery
    sequence, then insert one delivery and one audit event per item. Returns (deliveries, audits).
    Runs inside the sweep's transaction."""
    vendor = _vendor()
    build, random_id = _JSON[vendor], _RANDOM_ID[vendor]
    items = WorkItem._meta.db_table
    statuses = WorkItemStatus._meta.db_table
    deliveries = Delivery._meta.db_table
    audits = AuditEvent._meta.db_table
    stamp = genesys_datetime(breached_at)
    # As the ORM would bind it (SQLite stores naive UTC text; PostgreSQL takes it as is).
    at = connection.ops.adapt_datetimefield_value(breached_at)
    scope = "w.sla_breached_at = %s AND w.date_closed IS NULL"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {items} SET last_delivery_sequence = last_delivery_sequence + 1 "
            "WHERE sla_breached_at = %s AND date_closed IS NULL",
            [at],
        )
        cursor.execute(
            f"""
            INSERT INTO {deliveries} (workitem_id, sequence, kind, payload, webhook_id, state,
                created_at, next_attempt_at, attempts, last_error)
            SELECT w.id, w.last_delivery_sequence, 'sla_breach',
                {build}('orderId', w.external_ref, 'workItemId', w.genesys_id,
                        'taskStatus', COALESCE(s.name, ''), 'statusCategory', w.status_category,
                        'slaBreached', {_TRUE[vendor]}, 'sequence', w.last_delivery_sequence,
                        'timestamp', %s),
                'msg_' || {random_id}, %s, %s, %s, 0, ''
            FROM {items} w LEFT JOIN {statuses} s ON s.id = w.status_id
            WHERE {scope}
            """,
            [stamp, Delivery.State.PENDING, at, at, at],
        )
        delivered = cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO {audits} (occurred_at, actor, action, object_type, object_id,
                correlation_id, outcome, context)
            SELECT %s, 'system', 'sla.breached', 'WorkItem', {_TEXT[vendor]}, w.external_ref, %s,
                {build}('deadline', {_deadline_text(vendor)})
            FROM {items} w
            WHERE {scope}
            """,
            [at, Outcome.INFO, at],
        )
        audited = cursor.rowcount
    # One summary line for the log shippers rather than one per item: the rows are in the table.
    logger.info(
        "sla.breached",
        extra={
            "audit": {
                "action": "sla.breached",
                "actor": "system",
                "count": audited,
                "occurred_at": breached_at.isoformat(),
            }
        },
    )
    return delivered, audited


def _deadline_text(vendor: str) -> str:
    """The deadline as genesys_datetime() writes it: yyyy-MM-ddTHH:mm:ss.mmmZ."""
    if vendor == "postgresql":
        return """to_char(w.sla_deadline AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
    # %% because the query has parameters: the driver (and Django's debug cursor, with DEBUG on)
    # formats it with %, which turns %% into %.
    return "strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', w.sla_deadline)"
