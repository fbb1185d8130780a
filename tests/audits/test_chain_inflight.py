"""Sealing never passes a row whose transaction may still commit (PostgreSQL, two connections)."""

from __future__ import annotations

import pytest
from django.db import connection

from audits.chain import audit_seal, audit_verify
from audits.models import AuditSeal
from audits.services import record

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers: PostgreSQL"),
]

INSERT = (
    "INSERT INTO audits_auditevent (occurred_at, actor, action, object_type, object_id, "
    "correlation_id, outcome, context) VALUES (now(), 'other', 'x', '', '', '', 'info', '{}') "
    "RETURNING id"
)


@pytest.fixture
def other():
    """A second connection to the test database, as another web process would hold."""
    import psycopg

    s = connection.settings_dict
    conn = psycopg.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"], host=s["HOST"], port=s["PORT"]
    )
    yield conn
    conn.rollback()
    conn.close()


def sealed_ids() -> list[int]:
    return list(AuditSeal.objects.order_by("event_id").values_list("event_id", flat=True))


def test_a_row_still_in_flight_holds_sealing_below_it(other):
    first = record(actor="a", action="x")
    with other.cursor() as cursor:
        cursor.execute(INSERT)  # drawn, not committed
        in_flight = cursor.fetchone()[0]
    later = record(actor="b", action="x")  # committed after it, higher id
    assert first.pk < in_flight < later.pk

    # Not even `first`: until the writer ends, nothing says which ids below the fence it holds.
    result = audit_seal(wait=0.3)
    assert sealed_ids() == []
    assert result.waiting_fences == 1

    other.commit()
    audit_seal(wait=5)
    assert sealed_ids() == [first.pk, in_flight, later.pk]
    assert audit_verify().ok


def test_a_rolled_back_writer_leaves_a_gap_the_chain_passes(other):
    first = record(actor="a", action="x")
    with other.cursor() as cursor:
        cursor.execute(INSERT)
        lost = cursor.fetchone()[0]
    later = record(actor="b", action="x")
    audit_seal(wait=0.2)
    other.rollback()
    audit_seal(wait=5)
    assert sealed_ids() == [first.pk, later.pk] and lost not in sealed_ids()
    assert audit_verify().ok


def test_a_transaction_that_has_not_written_does_not_hold_sealing(other):
    with other.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audits_auditevent")  # a long reader, no xid
    events = [record(actor="a", action="x") for _ in range(3)]
    assert audit_seal(wait=5).sealed == 3
    assert sealed_ids() == [e.pk for e in events]


def test_a_held_fence_is_kept_and_cleared_by_a_later_run(other):
    with other.cursor() as cursor:
        cursor.execute(INSERT)
    audit_seal(wait=0.1)
    assert sealed_ids() == []
    other.commit()
    later = record(actor="b", action="x")
    audit_seal(wait=5)
    assert sealed_ids()[-1] == later.pk and len(sealed_ids()) == 2


def test_sealing_refuses_without_the_trigger_that_orders_xids_before_ids():
    from audits.chain import ChainError

    record(actor="a", action="x")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audits_auditevent DISABLE TRIGGER audits_auditevent_assign_xid")
    try:
        with pytest.raises(ChainError, match="assign_xid is missing or disabled"):
            audit_seal(wait=0.1)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE audits_auditevent ENABLE TRIGGER audits_auditevent_assign_xid"
            )
    assert sealed_ids() == []
