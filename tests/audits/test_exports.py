"""Audit CSV export from the admin: what the filters select, neutralised, streamed, audited."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.http import StreamingHttpResponse
from django.urls import reverse

from audits.exports import (
    AUDIT_COLUMNS,
    audit_export_csv,
    audit_export_queryset,
    comment_line,
    describe_filters,
    export_filename,
    neutralise,
)
from audits.models import AuditEvent, Outcome

pytestmark = pytest.mark.django_db
EXPORT = reverse("admin:audits_auditevent_export")
AT = datetime(2024, 5, 2, 12, 0, 0, 123456, tzinfo=UTC)
GENERATED = datetime(2024, 5, 3, 10, 0, tzinfo=UTC)


def event(**kw) -> AuditEvent:
    kw.setdefault("occurred_at", AT)
    kw.setdefault("actor", "system")
    kw.setdefault("action", "sla.breached")
    return AuditEvent.objects.create(**kw)


def staff(*codenames: str) -> User:
    user = User.objects.create_user("staff-" + "-".join(codenames), password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def exporter(client):
    client.force_login(staff("view_auditevent", "export_auditevent"))
    return client


def body(response) -> str:
    assert response.status_code == 200, response
    return b"".join(response.streaming_content).decode()


def parse(text: str) -> tuple[str, list[str], list[list[str]]]:
    comment, rest = text.split("\n", 1)
    rows = list(csv.reader(io.StringIO(rest)))
    return comment, rows[0], rows[1:]


# --- formula neutralisation ---------------------------------------------------------------------


@pytest.mark.parametrize("char", ["=", "+", "-", "@", "\t", "\r"])
def test_each_dangerous_leading_character_gets_a_quote_prefixed(char):
    assert neutralise(f"{char}HYPERLINK(1)") == f"'{char}HYPERLINK(1)"


@pytest.mark.parametrize(
    "value", ["", "alice", " =1+1", "1-2", "#note", "'already", "a=b", "\n=1", "ünïcode"]
)
def test_harmless_cells_are_left_alone(value):
    assert neutralise(value) == value


@pytest.mark.parametrize("char", ["=", "+", "-", "@", "\t", "\r"])
def test_exported_text_cells_are_neutralised(exporter, char):
    event(
        actor=f"{char}actor",
        action=f"{char}cmd|' /C calc'!A0",
        object_type=f"{char}T",
        object_id=f"{char}1",
        correlation_id=f"{char}corr",
        context=[f"{char}x"] if char != "-" else -5,
    )

    _, _, [row] = parse(body(exporter.get(EXPORT)))
    values = dict(zip(AUDIT_COLUMNS, row, strict=True))

    for column in ("actor", "action", "object_type", "object_id", "correlation_id"):
        assert values[column].startswith("'" + char), (column, values[column])
    if char == "-":
        assert values["context"] == "'-5"


def test_harmless_values_are_exported_as_stored(exporter):
    event(actor="alice", action="workitem.submit", object_id="42", context={"a": "=not-leading"})
    _, _, [row] = parse(body(exporter.get(EXPORT)))
    values = dict(zip(AUDIT_COLUMNS, row, strict=True))
    assert (values["actor"], values["action"], values["object_id"]) == (
        "alice",
        "workitem.submit",
        "42",
    )
    assert values["occurred_at"] == "2024-05-02T12:00:00.123456Z"
    assert "=not-leading" in values["context"]


# --- what is exported ------------------------------------------------------------------------------


def test_export_holds_every_row_the_filters_select_on_all_pages(exporter):
    AuditEvent.objects.bulk_create(
        [AuditEvent(occurred_at=AT, actor="alice", action="workitem.submit") for _ in range(150)]
        + [AuditEvent(occurred_at=AT, actor="bob", action="workitem.submit") for _ in range(5)]
        + [AuditEvent(occurred_at=AT, actor="alice", action="sla.breached") for _ in range(5)]
    )

    text = body(exporter.get(EXPORT, {"action": "workitem.submit", "actor": "alice", "p": "1"}))

    _, header, rows = parse(text)
    assert header == list(AUDIT_COLUMNS)
    assert len(rows) == 150  # more than one changelist page (100), and nothing else
    assert {(r[2], r[3]) for r in rows} == {("alice", "workitem.submit")}


def test_export_honours_search_and_date_range(exporter):
    hit = event(correlation_id="CRM-1", occurred_at=datetime(2024, 5, 2, tzinfo=UTC))
    event(correlation_id="CRM-1", occurred_at=datetime(2024, 4, 2, tzinfo=UTC))
    event(correlation_id="CRM-2", occurred_at=datetime(2024, 5, 2, tzinfo=UTC))

    text = body(exporter.get(EXPORT, {"q": "CRM-1", "occurred_at__gte": "2024-05-01"}))

    _, _, rows = parse(text)
    assert [int(r[0]) for r in rows] == [hit.pk]


def test_export_is_newest_first_whatever_the_list_ordering(exporter):
    old = event(occurred_at=AT - timedelta(hours=1))
    new = event(occurred_at=AT)
    _, _, rows = parse(body(exporter.get(EXPORT, {"o": "1"})))
    assert [int(r[0]) for r in rows if r[3] == "sla.breached"] == [new.pk, old.pk]


def test_first_line_and_file_name_state_the_filters(exporter):
    event(action="workitem.submit", outcome=Outcome.FAILURE)

    response = exporter.get(EXPORT, {"action": "workitem.submit", "outcome__exact": "failure"})
    comment, _, _ = parse(body(response))

    assert re.fullmatch(
        r"# Audit export; filters: action=workitem.submit&outcome__exact=failure; "
        r"generated \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
        comment,
    )
    disposition = response["Content-Disposition"]
    assert re.fullmatch(
        r'attachment; filename="audit-action-workitem.submit_outcome__exact-failure-'
        r'\d{8}T\d{6}Z\.csv"',
        disposition,
    ), disposition
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_unfiltered_export_says_so():
    assert describe_filters({}) == "none"
    assert (
        export_filename(prefix="audit", filters={}, generated_at=GENERATED, extension="csv")
        == "audit-all-20240503T100000Z.csv"
    )


def test_filter_values_cannot_break_the_comment_line_or_the_file_name():
    filters = {"q": 'x,=cmd|"a"\r\n=2', "actor": "../../etc/passwd"}
    line = comment_line(title="Audit export", filters=filters, generated_at=GENERATED)
    assert not set(line) & set(',"\r\n')
    assert next(csv.reader([line])) == [line]  # one cell, starting with '#'
    name = export_filename(prefix="audit", filters=filters, generated_at=GENERATED, extension="csv")
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
    assert "/" not in name


def test_export_is_audited_with_its_filters_and_format(exporter):
    exporter.get(EXPORT, {"action": "workitem.submit"})

    audit = AuditEvent.objects.get(action="audit.export")
    assert audit.actor == "staff-view_auditevent-export_auditevent"
    assert audit.outcome == Outcome.SUCCESS
    assert audit.context == {
        "filters": {"action": "workitem.submit"},
        "format": "csv",
        "via": "admin",
    }


def test_export_without_the_permission_is_forbidden_and_recorded(client):
    client.force_login(staff("view_auditevent"))
    event()

    response = client.get(EXPORT, {"action": "sla.breached"})

    assert response.status_code == 403
    refused = AuditEvent.objects.get(action="audit.export")
    assert refused.outcome == Outcome.REFUSED


def test_export_needs_staff_login(client):
    response = client.get(EXPORT)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_export_with_bad_filters_is_a_bad_request(exporter):
    assert exporter.get(EXPORT, {"occurred_at__gte": "soon"}).status_code == 400
    assert exporter.get(EXPORT, {"no_such_field": "1"}).status_code == 400


# --- streaming -------------------------------------------------------------------------------------


def test_large_export_is_streamed_by_a_generator_in_chunks(exporter):
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(occurred_at=AT, actor="system", action="bulk", object_id=str(i))
            for i in range(20_000)
        ],
        batch_size=2000,
    )

    response = exporter.get(EXPORT, {"action": "bulk"})

    assert isinstance(response, StreamingHttpResponse)
    content = response.streaming_content
    assert isinstance(content, Iterator) and not isinstance(content, list | tuple)
    # Produced piece by piece: the first chunk is the comment and the header alone.
    first = next(content)
    assert first.decode().count("\n") == 2
    chunks = [first, *content]
    assert len(chunks) > 5
    assert max(len(c) for c in chunks) < 512 * 1024
    text = b"".join(chunks).decode()
    assert text.count("\n") == 20_000 + 2


# --- Python and COPY produce the same bytes ----------------------------------------------------


TRICKY = [
    "plain",
    "",
    "=1+1",
    "+33 1 23",
    "-negative",
    "@SUM(A1)",
    "\ttab",
    "\rcr",
    "inner\rreturn",
    "inner\r\ncrlf",
    "inner\nnewline",
    'quote " inside',
    "comma, inside",
    "ünïcødé ✓",
    " leading space",
    "\\.",
]


MICROSECONDS = [0, 123456, 120000, 500000, 7, 999999, 100]


def export(method: str) -> bytes:
    queryset = audit_export_queryset()
    return b"".join(
        audit_export_csv(queryset=queryset, filters={}, generated_at=GENERATED, method=method)
    )


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
@pytest.mark.parametrize("datestyle", ["ISO, MDY", "SQL, DMY"])
def test_copy_path_writes_the_same_bytes_as_the_python_path(datestyle):
    for i, text in enumerate(TRICKY):
        event(
            occurred_at=AT.replace(microsecond=MICROSECONDS[i % len(MICROSECONDS)])
            + timedelta(seconds=i),
            actor=text,
            action=text or "empty",
            object_type=text,
            object_id=text,
            correlation_id=text,
            outcome=Outcome.INFO,
            context={"text": text, "n": [1, 2.5, -3], "z": None, "nested": {"b": True, "aa": "x"}},
        )
    for context in ([], "=just a string", -1, -0.5, 3, True, {}, "", {"-": "="}):
        event(context=context)

    python = export("python")  # psycopg itself reads timestamps in DateStyle ISO only
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL DateStyle = %s", [datestyle])  # until the test's rollback
    copy = export("copy")

    assert copy == python
    assert b"2024-05-02T12:00:00Z," in python and b"2024-05-02T12:00:02.12Z," in python
    assert b",'-1\n" in python and b",'-0.5\n" in python
    assert python.count(b"'=1+1") == 5  # five text columns, neutralised in both


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
def test_copy_path_applies_the_querysets_filters():
    keep = event(action="keep", actor="alice")
    event(action="drop", actor="alice")
    queryset = audit_export_queryset(action="keep", actor="alice", since=AT - timedelta(1))
    text = b"".join(
        audit_export_csv(queryset=queryset, filters={}, generated_at=GENERATED, method="copy")
    ).decode()
    _, _, rows = parse(text)
    assert [int(r[0]) for r in rows] == [keep.pk]


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
def test_an_abandoned_copy_export_leaves_the_connection_usable():
    AuditEvent.objects.bulk_create(
        [AuditEvent(occurred_at=AT, actor="system", action="bulk") for _ in range(5000)]
    )
    chunks = audit_export_csv(
        queryset=audit_export_queryset(), filters={}, generated_at=GENERATED, method="copy"
    )
    next(chunks), next(chunks)  # the client reads a little, then goes away

    chunks.close()

    assert AuditEvent.objects.filter(action="bulk").count() == 5000


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_an_abandoned_copy_export_in_autocommit_leaves_the_connection_usable():
    AuditEvent.objects.bulk_create(
        [AuditEvent(occurred_at=AT, actor="system", action="bulk") for _ in range(5000)]
    )
    chunks = audit_export_csv(
        queryset=audit_export_queryset(), filters={}, generated_at=GENERATED, method="copy"
    )
    next(chunks), next(chunks)

    chunks.close()

    assert AuditEvent.objects.filter(action="bulk").count() == 5000
