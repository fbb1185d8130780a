"""Audit export from the admin: what the filters select, in three formats, neutralised, streamed,
audited, each with a manifest."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.http import StreamingHttpResponse
from django.urls import reverse

from audits.exports import AUDIT_COLUMNS, audit_export_chunks, audit_export_queryset
from audits.models import AuditEvent, ExportManifest, Outcome
from portal.csv_stream import EXPORT_FORMATS, Tally, export_filename, neutralise

pytestmark = pytest.mark.django_db
EXPORT = reverse("admin:audits_auditevent_export")
AT = datetime(2024, 5, 2, 12, 0, 0, 123456, tzinfo=UTC)
GENERATED = datetime(2024, 5, 3, 10, 0, tzinfo=UTC)
CSV = EXPORT_FORMATS["csv"]


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
    return b"".join(response.streaming_content).decode("utf-8")


def parse(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    return rows[0], rows[1:]


def column(rows: list[list[str]], name: str) -> list[str]:
    return [r[AUDIT_COLUMNS.index(name)] for r in rows]


# --- formula neutralisation ---------------------------------------------------------------------


@pytest.mark.parametrize("char", ["=", "+", "-", "@", "\t", "\r"])
def test_each_dangerous_leading_character_gets_a_quote_prefixed(char):
    assert neutralise(f"{char}HYPERLINK(1)") == f"'{char}HYPERLINK(1)"


@pytest.mark.parametrize(
    "value", ["", "alice", " =1+1", "1-2", "#note", "'already", "a=b", "\n=1", "ünïcode"]
)
def test_harmless_cells_are_left_alone(value):
    assert neutralise(value) == value


@pytest.mark.parametrize("fmt", ["csv", "excel"])
@pytest.mark.parametrize("char", ["=", "+", "-", "@", "\t", "\r"])
def test_exported_text_cells_are_neutralised(exporter, char, fmt):
    event(
        actor=f"{char}actor",
        action=f"{char}cmd|' /C calc'!A0",
        object_type=f"{char}T",
        object_id=f"{char}1",
        correlation_id=f"{char}corr",
        context={"error": f"{char}err", "verdict": f"{char}v", "x": 1} if char != "-" else -5,
    )

    _, [row] = parse(body(exporter.get(EXPORT, {"format": fmt})))
    values = dict(zip(AUDIT_COLUMNS, row, strict=True))

    for name in ("actor", "action", "action_code", "object_type", "object_id", "correlation_id"):
        assert values[name].startswith("'" + char), (name, values[name])
    if char == "-":
        assert values["context"] == "'-5"
    else:
        assert values["error"] == f"'{char}err" and values["verdict"] == f"'{char}v"


def test_jsonl_is_not_neutralised_it_round_trips(exporter):
    event(actor="=alice", context={"error": "=boom", "n": -1})
    [line] = body(exporter.get(EXPORT, {"format": "jsonl"})).splitlines()
    row = json.loads(line)
    assert row["actor"] == "=alice" and row["error"] == "=boom" and row["context"] == {"n": -1}


# --- readable columns ---------------------------------------------------------------------------


def test_header_is_row_one_and_each_row_reads_as_an_analyst_expects(exporter):
    event(
        action="workitem.submit",
        object_type="WorkItem",
        object_id="42",
        correlation_id="CRM-1",
        outcome=Outcome.FAILURE,
        context={"error": "Genesys said no", "contextId": "ctx-9", "attempt": 2},
    )
    event(
        action="workitem.event.applied",
        context={
            "genesys_id": "g-1",
            "from": {"status": "Open", "category": "Open"},
            "to": {"status": "", "category": "Closed"},
        },
    )
    event(action="workitem.check_routability", context={"verdict": "routable", "failed": 0})

    text = body(exporter.get(EXPORT))
    assert text.startswith("id,occurred_at,actor,action,action_code,")
    header, rows = parse(text)
    assert header == list(AUDIT_COLUMNS)
    by_code = {r[4]: dict(zip(header, r, strict=True)) for r in rows}
    submit = by_code["workitem.submit"]
    assert submit["action"] == "Submitted to Genesys"
    assert (submit["error"], submit["context_id"]) == ("Genesys said no", "ctx-9")
    assert json.loads(submit["context"]) == {"attempt": 2}
    applied = by_code["workitem.event.applied"]
    assert applied["action"] == "Event applied" and applied["genesys_id"] == "g-1"
    assert (applied["status_from"], applied["status_to"]) == ("Open", "Closed")
    assert by_code["workitem.check_routability"]["verdict"] == "routable"
    assert submit["occurred_at"] == "2024-05-02T12:00:00.123Z"


def test_csv_is_rfc_4180_crlf_utf8_without_a_byte_order_mark(exporter):
    event(actor="ünïcødé", correlation_id="two\nlines")
    raw = b"".join(exporter.get(EXPORT).streaming_content)
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == 2 and b',"two\nlines",' in raw
    assert "ünïcødé".encode() in raw


def test_excel_has_a_byte_order_mark_and_local_times_to_the_second(exporter, settings):
    settings.TIME_ZONE = "Europe/Paris"
    event(occurred_at=datetime(2024, 5, 2, 12, 0, 7, 999999, tzinfo=UTC), actor="Zoë")
    response = exporter.get(EXPORT, {"format": "excel"})
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbfid,occurred_at,")
    _, [row] = parse(raw.decode("utf-8"))
    assert column([row], "occurred_at") == ["2024-05-02 14:00:07"]
    assert column([row], "actor") == ["Zoë"]
    assert response["Content-Disposition"].endswith('-excel.csv"')


def test_times_keep_three_decimals_even_on_a_whole_second(exporter):
    event(occurred_at=AT.replace(microsecond=0))
    event(occurred_at=AT.replace(microsecond=7000))
    _, rows = parse(body(exporter.get(EXPORT)))
    assert sorted(column(rows, "occurred_at")) == [
        "2024-05-02T12:00:00.000Z",
        "2024-05-02T12:00:00.007Z",
    ]


# --- what is exported ------------------------------------------------------------------------------


def test_export_holds_every_row_the_filters_select_on_all_pages(exporter):
    AuditEvent.objects.bulk_create(
        [AuditEvent(occurred_at=AT, actor="alice", action="workitem.submit") for _ in range(150)]
        + [AuditEvent(occurred_at=AT, actor="bob", action="workitem.submit") for _ in range(5)]
        + [AuditEvent(occurred_at=AT, actor="alice", action="sla.breached") for _ in range(5)]
    )

    text = body(exporter.get(EXPORT, {"action": "workitem.submit", "actor": "alice", "p": "1"}))

    header, rows = parse(text)
    assert header == list(AUDIT_COLUMNS)
    assert len(rows) == 150  # more than one changelist page (100), and nothing else
    assert {(r[2], r[4]) for r in rows} == {("alice", "workitem.submit")}


def test_export_honours_search_and_an_inclusive_date_range(exporter):
    hit = event(correlation_id="CRM-1", occurred_at=datetime(2024, 5, 2, 23, 59, tzinfo=UTC))
    event(correlation_id="CRM-1", occurred_at=datetime(2024, 5, 3, 0, 0, tzinfo=UTC))
    event(correlation_id="CRM-2", occurred_at=datetime(2024, 5, 2, tzinfo=UTC))

    query = {"q": "CRM-1", "occurred_at__gte": "2024-05-02", "occurred_at__lte": "2024-05-02"}
    _, rows = parse(body(exporter.get(EXPORT, query)))
    assert [int(r[0]) for r in rows] == [hit.pk]


def test_export_is_newest_first_whatever_the_list_ordering(exporter):
    old = event(occurred_at=AT - timedelta(hours=1))
    new = event(occurred_at=AT)
    _, rows = parse(body(exporter.get(EXPORT, {"o": "1"})))
    assert [int(r[0]) for r in rows if r[4] == "sla.breached"] == [new.pk, old.pk]


def test_file_name_states_the_filters_in_words_and_the_time(exporter):
    event(action="workitem.submit", outcome=Outcome.FAILURE)
    query = {
        "action": "workitem.submit",
        "outcome__exact": "failure",
        "occurred_at__gte": "2024-05-02",
        "occurred_at__lte": "2024-05-02",
    }
    response = exporter.get(EXPORT, query)
    body(response)
    assert re.fullmatch(
        r'attachment; filename="audit-Submitted-to-Genesys_Failure_2024-05-02-\d{8}T\d{6}Z\.csv"',
        response["Content-Disposition"],
    ), response["Content-Disposition"]
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_unfiltered_export_says_so_in_its_name():
    assert (
        export_filename(prefix="audit", described=[], generated_at=GENERATED, fmt=CSV)
        == "audit-all-20240503T100000Z.csv"
    )


def test_filter_values_cannot_break_the_file_name():
    name = export_filename(
        prefix="audit",
        described=['x,=cmd|"a"\r\n=2', "../../etc/passwd"],
        generated_at=GENERATED,
        fmt=CSV,
    )
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name) and "/" not in name


def test_unknown_format_is_a_bad_request_naming_the_choices(exporter):
    response = exporter.get(EXPORT, {"format": "xlsx"})
    assert response.status_code == 400
    assert "csv, excel, jsonl" in response.content.decode()


def test_export_is_audited_with_its_filters_format_and_file(exporter):
    response = exporter.get(EXPORT, {"action": "workitem.submit", "format": "jsonl"})
    body(response)

    audit = AuditEvent.objects.get(action="audit.export")
    assert audit.actor == "staff-view_auditevent-export_auditevent"
    assert audit.outcome == Outcome.SUCCESS
    assert audit.context["filters"] == {"action": "workitem.submit"}
    assert audit.context["format"] == "jsonl" and audit.context["via"] == "admin"
    assert audit.context["file"] in response["Content-Disposition"]


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


# --- manifests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "excel", "jsonl"])
def test_each_export_has_a_manifest_with_the_files_hash_rows_and_ends(exporter, fmt):
    import hashlib

    first = event(occurred_at=AT - timedelta(minutes=1))
    last = event(occurred_at=AT)
    response = exporter.get(EXPORT, {"action": "sla.breached", "format": fmt})
    raw = b"".join(response.streaming_content)

    manifest_response = exporter.get(response["X-Export-Manifest"])
    assert manifest_response.status_code == 200
    filename = re.search(r'filename="([^"]+)"', response["Content-Disposition"])[1]
    assert manifest_response["Content-Disposition"] == (
        f'attachment; filename="{filename}.manifest.json"'
    )
    manifest = json.loads(manifest_response.content)
    assert manifest["sha256"] == hashlib.sha256(raw).hexdigest()
    assert manifest["bytes"] == len(raw) and manifest["rows"] == 2
    assert manifest["format"] == fmt and manifest["file"] == filename
    assert manifest["filters"]["parameters"] == {"action": "sla.breached"}
    assert manifest["filters"]["described"] == {"action": "SLA breached"}
    assert manifest["first_row"]["id"] == last.pk
    assert manifest["last_row"]["id"] == first.pk
    assert len(manifest["first_row"]["chain_hash"]) == 64  # sealed before the export
    assert manifest["generated_by"] == "staff-view_auditevent-export_auditevent"
    assert ExportManifest.objects.get().completed


def test_an_export_cut_short_has_no_manifest(exporter):
    from audits.manifest import ExportJob

    job = ExportJob(
        kind=ExportManifest.Kind.AUDIT,
        fmt=CSV,
        filename="audit-all-20240503T100000Z.csv",
        header=AUDIT_COLUMNS,
        parameters={},
        described={},
        generated_at=GENERATED,
        generated_by="staff",
    ).begin()
    stream = job.stream(iter([b"id\r\n", b"1\r\n"]))
    next(stream)
    stream.close()  # what the server does when the client goes away

    assert not ExportManifest.objects.get().completed
    url = reverse("admin:audits_exportmanifest_download", args=[job.record.pk])
    assert exporter.get(url).status_code == 409


def test_manifests_are_listed_for_exporters_of_that_kind_only(exporter, client):
    body(exporter.get(EXPORT))
    page = exporter.get(reverse("admin:audits_exportmanifest_changelist"))
    assert page.status_code == 200 and b".manifest.json" in page.content

    client.force_login(staff("view_auditevent"))
    assert client.get(reverse("admin:audits_exportmanifest_changelist")).status_code == 403
    pk = ExportManifest.objects.get().pk
    assert client.get(reverse("admin:audits_exportmanifest_download", args=[pk])).status_code in (
        403,
        404,
    )


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
    # Produced piece by piece: the first chunk is the header alone.
    first = next(content)
    assert first.decode().count("\n") == 1
    chunks = [first, *content]
    assert len(chunks) > 5
    assert max(len(c) for c in chunks) < 512 * 1024
    text = b"".join(chunks).decode()
    assert text.count("\r\n") == 20_000 + 1


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
]


MICROSECONDS = [0, 123456, 120000, 500000, 7, 999999, 100]


def export(method: str, fmt: str = "csv", queryset=None) -> tuple[bytes, Tally]:
    tally = Tally()
    data = b"".join(
        audit_export_chunks(
            queryset=queryset if queryset is not None else audit_export_queryset(),
            fmt=EXPORT_FORMATS[fmt],
            tally=tally,
            method=method,
        )
    )
    return data, tally


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
@pytest.mark.parametrize("fmt", ["csv", "excel"])
def test_copy_path_writes_the_same_bytes_as_the_python_path(fmt, settings):
    from audits.chain import audit_seal

    settings.TIME_ZONE = "America/New_York"
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
            context={
                "text": text,
                "n": [1, 2, -3],
                "z": None,
                "nested": {"b": True, "aa": "x"},
                "error": text,
                "verdict": text,
                "genesys_id": "g",
                "contextId": 7,
                "from": {"status": text, "category": "Open"},
                "to": {"category": "Closed"},
            },
        )
    for context in ([], "=just a string", -1, 3, True, {}, "", {"-": "="}, {"from": "x"}):
        event(context=context)
    event(action="workitem.submit")
    audit_seal()
    event(action="workitem.submit")  # one row not sealed yet

    python, python_tally = export("python", fmt)
    copy, copy_tally = export("copy", fmt)

    assert copy == python
    assert (copy_tally.rows, copy_tally.first, copy_tally.last) == (
        python_tally.rows,
        [str(c) for c in python_tally.first],
        [str(c) for c in python_tally.last],
    )
    assert b",'-1," in python
    assert python.count(b"'=1+1") >= 5  # text columns, neutralised in both
    assert b"Submitted to Genesys" in python


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
def test_copy_path_applies_the_querysets_filters():
    keep = event(action="keep", actor="alice")
    event(action="drop", actor="alice")
    queryset = audit_export_queryset(action="keep", actor="alice", since=AT - timedelta(1))
    data, tally = export("copy", queryset=queryset)
    _, rows = parse(data.decode())
    assert [int(r[0]) for r in rows] == [keep.pk] and tally.rows == 1


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY needs PostgreSQL")
def test_an_abandoned_copy_export_leaves_the_connection_usable():
    AuditEvent.objects.bulk_create(
        [AuditEvent(occurred_at=AT, actor="system", action="bulk") for _ in range(5000)]
    )
    chunks = audit_export_chunks(
        queryset=audit_export_queryset(), fmt=CSV, tally=Tally(), method="copy"
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
    chunks = audit_export_chunks(
        queryset=audit_export_queryset(), fmt=CSV, tally=Tally(), method="copy"
    )
    next(chunks), next(chunks)

    chunks.close()

    assert AuditEvent.objects.filter(action="bulk").count() == 5000
