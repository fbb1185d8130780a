"""Audit rows are append-only in PostgreSQL itself: UPDATE and DELETE are refused by a trigger,
whatever sends them (the ORM, raw SQL), not only by the admin."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audits.models import AuditEvent
from audits.services import record

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the append-only trigger is PostgreSQL's"
    ),
]


@pytest.fixture
def event() -> AuditEvent:
    return record(actor="alice", action="workitem.submit", context={"n": 1})


def refused(statement) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        statement()
    return str(caught.value)


def test_orm_update_is_refused(event):
    message = refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(actor="mallory"))
    assert "append-only" in message and "UPDATE" in message
    assert AuditEvent.objects.get(pk=event.pk).actor == "alice"


def test_model_save_of_an_existing_row_is_refused(event):
    event.context = {"n": 2}
    refused(event.save)
    assert AuditEvent.objects.get(pk=event.pk).context == {"n": 1}


def test_orm_delete_is_refused(event):
    message = refused(lambda: AuditEvent.objects.filter(pk=event.pk).delete())
    assert "append-only" in message and "DELETE" in message
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_raw_sql_update_and_delete_are_refused(event):
    def raw(sql):
        with connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])

    refused(lambda: raw("UPDATE audits_auditevent SET outcome = 'failure' WHERE id = %s"))
    refused(lambda: raw("DELETE FROM audits_auditevent WHERE id = %s"))
    assert AuditEvent.objects.get(pk=event.pk).outcome == "success"


def test_inserts_still_work(event):
    record(actor="bob", action="workitem.submit")
    AuditEvent.objects.bulk_create(
        [AuditEvent(occurred_at=event.occurred_at, actor="c", action="x")]
    )
    assert AuditEvent.objects.count() == 3
