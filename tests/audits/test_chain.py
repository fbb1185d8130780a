"""The audit chain: sealing links committed rows in id order; verification names tampering."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection

from audits.chain import GENESIS, audit_seal, audit_verify, canonical, link_hash, row_values
from audits.models import AuditChainHead, AuditEvent, AuditSeal, AuditVerification
from audits.services import AuditEntry, record, record_many

pytestmark = pytest.mark.django_db


@contextmanager
def tampering():
    """As the table owner would: the append-only trigger off for the statements inside."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audits_auditevent DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE audits_auditseal DISABLE TRIGGER USER")
        try:
            yield
        finally:
            cursor.execute("ALTER TABLE audits_auditevent ENABLE TRIGGER USER")
            cursor.execute("ALTER TABLE audits_auditseal ENABLE TRIGGER USER")


def raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def trail(n: int = 5) -> list[AuditEvent]:
    return [
        record(actor="alice", action="workitem.submit", object_id=str(i), context={"n": i})
        for i in range(n)
    ]


def test_sealing_links_every_row_in_id_order_from_the_genesis_hash():
    events = trail(3)
    result = audit_seal()
    assert result.sealed == 3
    seals = list(AuditSeal.objects.order_by("event_id"))
    assert [s.event_id for s in seals] == [e.pk for e in events]
    assert [s.position for s in seals] == [1, 2, 3]
    previous = GENESIS
    for seal, row in zip(seals, row_values().order_by("id"), strict=True):
        expected = hashlib.sha256((previous + canonical(row)).encode()).hexdigest()
        assert seal.hash == expected
        previous = seal.hash
    head = AuditChainHead.objects.get()
    assert (head.last_event_id, head.last_position, head.last_hash) == (events[-1].pk, 3, previous)


def test_canonical_form_is_one_unambiguous_json_array():
    [event] = trail(1)
    row = row_values().get(pk=event.pk)
    text = canonical(row)
    assert text.startswith(f'[{event.pk},"') and text.endswith("]")
    # Moving a character from one field to the next changes the text (no separator ambiguity).
    moved = (row[0], row[1], row[2] + "|", row[3][1:], *row[4:])
    assert canonical(moved) != text


def test_sealing_again_continues_the_chain_and_seals_nothing_twice():
    trail(2)
    audit_seal()
    assert audit_seal().sealed == 0
    record_many([AuditEntry(actor="system", action="sla.breached") for _ in range(4)])
    assert audit_seal().sealed == 4
    assert list(AuditSeal.objects.order_by("event_id").values_list("position", flat=True)) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    assert audit_verify().ok


def test_sealing_in_small_batches_gives_the_same_chain():
    trail(7)
    audit_seal(batch=3)
    first = list(AuditSeal.objects.order_by("event_id").values_list("hash", flat=True))
    previous = GENESIS
    for row in row_values().order_by("id"):
        previous = link_hash(previous, row)
    assert first[-1] == previous


def test_an_intact_chain_verifies():
    trail(5)
    audit_seal()
    result = audit_verify()
    assert result.ok and result.checked == 5 and result.unsealed == 0


def test_a_changed_row_is_named():
    events = trail(5)
    audit_seal()
    with tampering():
        raw("UPDATE audits_auditevent SET actor = 'mallory' WHERE id = %s", [events[2].pk])
    result = audit_verify()
    assert [(p.kind, p.event_id) for p in result.problems] == [("changed", events[2].pk)]
    assert f"Row {events[2].pk} was changed" in result.problems[0].message


def test_a_changed_context_is_named():
    events = trail(3)
    audit_seal()
    with tampering():
        AuditEvent.objects.filter(pk=events[0].pk).update(context={"n": 99})
    assert [(p.kind, p.event_id) for p in audit_verify().problems] == [("changed", events[0].pk)]


def test_a_removed_row_is_named_by_its_remaining_seal():
    events = trail(5)
    audit_seal()
    with tampering():
        raw("DELETE FROM audits_auditevent WHERE id = %s", [events[1].pk])
    problems = audit_verify().problems
    assert [(p.kind, p.event_id) for p in problems] == [("removed", events[1].pk)]


def test_a_row_removed_with_its_seal_is_named_by_the_gap_in_positions():
    events = trail(5)
    audit_seal()
    with tampering():
        raw("DELETE FROM audits_auditevent WHERE id = %s", [events[1].pk])
        raw("DELETE FROM audits_auditseal WHERE event_id = %s", [events[1].pk])
    problems = audit_verify().problems
    assert [(p.kind, p.event_id) for p in problems] == [("removed", events[2].pk)]
    assert "1 row removed just before" in problems[0].message


def test_rows_removed_from_the_end_are_named_by_the_chain_head():
    events = trail(4)
    audit_seal()
    with tampering():
        raw("DELETE FROM audits_auditevent WHERE id >= %s", [events[2].pk])
        raw("DELETE FROM audits_auditseal WHERE event_id >= %s", [events[2].pk])
    problems = audit_verify().problems
    assert [p.kind for p in problems] == ["removed"]
    assert "last 2 sealed rows were removed" in problems[0].message


def test_a_row_inserted_below_the_chain_end_is_named():
    events = trail(3)
    gap = events[1].pk
    with tampering():
        raw("DELETE FROM audits_auditevent WHERE id = %s", [gap])  # an id never committed
    audit_seal()
    AuditEvent.objects.create(
        pk=gap, occurred_at=events[1].occurred_at, actor="mallory", action="workitem.submit"
    )
    problems = audit_verify().problems
    assert [(p.kind, p.event_id) for p in problems] == [("inserted", gap)]
    assert "inserted out of order" in problems[0].message


def test_a_backdated_row_at_the_end_is_named_as_inserted_out_of_order():
    events = trail(3)
    audit_seal()
    forged = AuditEvent.objects.create(
        occurred_at=events[0].occurred_at - timedelta(days=2), actor="mallory", action="x"
    )
    assert audit_seal().sealed == 1
    problems = audit_verify().problems
    assert [(p.kind, p.event_id) for p in problems] == [("inserted", forged.pk)]


def test_verifying_since_a_time_walks_from_there_and_still_catches_changes():
    events = trail(6)
    audit_seal()
    with tampering():
        raw("UPDATE audits_auditevent SET outcome = 'failure' WHERE id = %s", [events[4].pk])
    since = AuditEvent.objects.get(pk=events[3].pk).occurred_at
    result = audit_verify(since=since)
    assert [(p.kind, p.event_id) for p in result.problems] == [("changed", events[4].pk)]
    assert result.checked <= 3


def test_verify_audit_command_seals_first_and_records_the_run(capsys):
    trail(3)
    call_command("verify_audit", "--wait", "5")
    out = capsys.readouterr().out
    assert "sealed 3 rows" in out and "Audit chain intact: 3 sealed rows" in out
    run = AuditVerification.objects.get()
    assert run.ok and run.rows_checked == 3 and run.rows_sealed == 3


def test_verify_audit_command_names_the_first_problem_and_exits_1(capsys):
    events = trail(3)
    audit_seal()
    with tampering():
        raw("UPDATE audits_auditevent SET action = 'x' WHERE id = %s", [events[1].pk])
    with pytest.raises(SystemExit) as exited:
        call_command("verify_audit", "--wait", "5")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert f"Audit chain BROKEN: Row {events[1].pk} was changed" in out
    run = AuditVerification.objects.get()
    assert not run.ok and run.first_problem.startswith(f"Row {events[1].pk} was changed")


def test_the_sla_sweeps_sql_writer_is_sealed_like_the_others():
    from django.utils import timezone

    from tests.factories import workitem
    from workitems.services.sla import sla_sweep

    trail(1)
    workitem(
        genesys_id="wi-late",
        date_created=timezone.now() - timedelta(hours=2),
        sla_deadline=timezone.now() - timedelta(hours=1),
    )
    assert sla_sweep().breached == 1  # one statement on PostgreSQL: UPDATE feeding the INSERTs
    record(actor="system", action="after the sweep")
    assert audit_seal().sealed == 3
    assert audit_verify().ok
    assert AuditEvent.objects.filter(action="sla.breached").count() == 1
