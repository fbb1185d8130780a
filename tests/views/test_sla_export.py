"""The SLA report: its columns and values, the admin's streaming export and manage.py export_sla."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse

from audits.models import AuditEvent, Outcome
from tests import factories
from workitems.selectors.sla_report import SLA_COLUMNS, sla_report_queryset, sla_report_rows
from workitems.views.sla_export import sla_export_view

pytestmark = pytest.mark.django_db
NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture
def items():
    billing, claims = factories.queue("Billing"), factories.queue("Claims")
    worktype = factories.worktype(default_queue=billing, name="Refund", default_priority=5)
    working = worktype.statuses.get(name="Working")
    factories.member(billing, name="Quinn Harper", user_id="user-q")
    open_item = factories.workitem(
        worktype=worktype,
        external_ref="=open-1",  # a formula, to be neutralised
        name="Refund order A-1",
        genesys_id="g-open",
        status=working,
        status_category="InProgress",
        assignee_id="user-q",
        date_created=NOW - 2 * H,
        date_due=NOW + 5 * H,
        sla_threshold_seconds=3600,
        sla_deadline=NOW - H,
        sla_paused=timedelta(minutes=30),
        sla_paused_since=NOW - timedelta(minutes=10),  # paused right now: 40 min in all
    )
    closed_item = factories.workitem(
        worktype=worktype,
        queue=claims,
        external_ref="closed-1",
        name="Refund order B-2",
        genesys_id="g-closed",
        priority=-3,
        status_category="Closed",
        assignee_id="user-unknown",
        date_created=NOW - 5 * H,
        sla_threshold_seconds=7200,
        sla_deadline=NOW - 3 * H,
        date_closed=NOW - H,
        sla_breached_at=NOW - H,
    )
    on_time = factories.workitem(
        worktype=worktype,
        external_ref="open-2",
        name="Refund order C-3",
        genesys_id="g-open-2",
        date_created=NOW - H,
        sla_threshold_seconds=7200,
        sla_deadline=NOW + H,
    )
    draft = factories.workitem(worktype=worktype, external_ref="draft-1")
    return {
        "open": open_item,
        "closed": closed_item,
        "on_time": on_time,
        "draft": draft,
        "claims": claims,
    }


def rows_by_ref(text: str) -> dict[str, dict[str, str]]:
    header, *rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert header == list(SLA_COLUMNS)
    return {row[1]: dict(zip(SLA_COLUMNS, row, strict=True)) for row in rows}


# --- the report ---------------------------------------------------------------------------------


def test_report_rows_on_a_known_fixture(items):
    rows = {
        row[1]: dict(zip(SLA_COLUMNS, row, strict=True))
        for row in sla_report_rows(queryset=sla_report_queryset(), now=NOW)
    }

    assert set(rows) == {"=open-1", "closed-1", "open-2"}  # drafts have no SLA
    assert rows["=open-1"] == {
        "id": items["open"].pk,
        "external_ref": "=open-1",
        "name": "Refund order A-1",
        "genesys_id": "g-open",
        "worktype": "Refund",
        "queue": "Billing",  # the worktype's default queue
        "status": "Working",
        "status_category": "InProgress",
        "priority": 5,  # the worktype's default
        "created": NOW - 2 * H,
        "due": NOW + 5 * H,
        "sla_threshold_minutes": 60.0,
        "sla_deadline": NOW - H + timedelta(minutes=10),  # moved by the running pause
        "paused_minutes": 40.0,  # 30 min before, 10 min of the pause still running
        "closed": None,
        "breached": False,
        "breached_at": None,
        "minutes_late": 50.0,  # open, past its (moved) deadline
        "minutes_left": None,
        "minutes_to_close": None,  # closed items only
        "age_minutes": 120.0,  # open: now minus created
        "assignee": "Quinn Harper",
    }
    assert rows["closed-1"] == {
        "id": items["closed"].pk,
        "external_ref": "closed-1",
        "name": "Refund order B-2",
        "genesys_id": "g-closed",
        "worktype": "Refund",
        "queue": "Claims",
        "status": "New",  # no status of its own: the worktype's default
        "status_category": "Closed",
        "priority": -3,
        "created": NOW - 5 * H,
        "due": None,
        "sla_threshold_minutes": 120.0,
        "sla_deadline": NOW - 3 * H,
        "paused_minutes": 0.0,
        "closed": NOW - H,
        "breached": True,
        "breached_at": NOW - H,
        "minutes_late": 120.0,  # closed two hours after its deadline
        "minutes_left": None,
        "minutes_to_close": 240.0,  # closed minus created, whatever the time now
        "age_minutes": None,  # open items only
        "assignee": "user-unknown",  # no queue member seen by that id: the id
    }
    assert (rows["open-2"]["minutes_left"], rows["open-2"]["minutes_late"]) == (60.0, None)
    assert rows["open-2"]["assignee"] == ""


def test_report_filters_by_effective_queue_worktype_creation_and_openness(items):
    def refs(**kw):
        return {row[1] for row in sla_report_rows(queryset=sla_report_queryset(**kw), now=NOW)}

    assert refs(queue="Billing") == {"=open-1", "open-2"}
    assert refs(queue=items["claims"].genesys_id) == {"closed-1"}
    assert refs(worktype="Refund") == {"=open-1", "closed-1", "open-2"}
    assert refs(worktype="Other") == set()
    assert refs(open_only=True) == {"=open-1", "open-2"}
    assert refs(since=NOW - 3 * H) == {"=open-1", "open-2"}
    assert refs(until=NOW - 3 * H) == {"closed-1"}


# --- the admin view -----------------------------------------------------------------------------


def user_with(*codenames: str) -> User:
    user = User.objects.create_user("sla-" + "-".join(codenames), password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def test_view_exports_what_the_changelist_filters_select_named_after_them(items, rf):
    request = rf.get(
        "/admin/workitems/workitem/sla-export/", {"queue__id__exact": items["claims"].pk}
    )
    request.user = user_with("view_workitem", "export_sla")

    response = sla_export_view(request)

    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    assert text.startswith("id,external_ref,name,")  # the header on row 1
    rows = rows_by_ref(text)
    assert list(rows) == ["closed-1"]
    assert rows["closed-1"]["minutes_to_close"] == "240.0"
    assert rows["closed-1"]["created"] == "2024-05-10T07:00:00.000Z"
    assert rows["closed-1"]["breached"] == "yes"
    assert re.fullmatch(
        r'attachment; filename="sla-Claims-\d{8}T\d{6}Z\.csv"', response["Content-Disposition"]
    ), response["Content-Disposition"]


def test_view_neutralises_formulas_and_writes_excel_with_local_times(items, rf, settings):
    settings.TIME_ZONE = "Europe/Paris"
    request = rf.get("/", {"format": "excel"})
    request.user = user_with("view_workitem", "export_sla")
    raw = b"".join(sla_export_view(request).streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = rows_by_ref(raw.decode())
    assert set(rows) == {"'=open-1", "closed-1", "open-2"}
    assert rows["closed-1"]["created"] == "2024-05-10 09:00:00"  # UTC+2


def test_view_filters_on_a_from_to_creation_range_inclusive(items, rf):
    user = user_with("view_workitem", "export_sla")
    request = rf.get("/", {"date_created__gte": "2024-05-10", "date_created__lte": "2024-05-10"})
    request.user = user
    response = sla_export_view(request)
    rows = rows_by_ref(b"".join(response.streaming_content).decode())
    assert set(rows) == {"'=open-1", "closed-1", "open-2"}
    assert "-2024-05-10-" in response["Content-Disposition"]

    request = rf.get("/", {"date_created__gte": "2024-05-11"})
    request.user = user
    assert rows_by_ref(b"".join(sla_export_view(request).streaming_content).decode()) == {}


def test_view_unfiltered_exports_every_created_item(items, rf):
    request = rf.get("/")
    request.user = user_with("view_workitem", "export_sla")
    rows = rows_by_ref(b"".join(sla_export_view(request).streaming_content).decode())
    assert set(rows) == {"'=open-1", "closed-1", "open-2"}


def test_view_export_is_audited_and_has_a_manifest(items, rf):
    from audits.models import ExportManifest

    request = rf.get("/", {"status_category__exact": "Closed", "format": "jsonl"})
    request.user = user_with("view_workitem", "export_sla")
    response = sla_export_view(request)
    lines = b"".join(response.streaming_content).decode().splitlines()

    audit = AuditEvent.objects.get(action="sla.export")
    assert audit.actor == request.user.username
    assert audit.object_type == "WorkItem"
    assert audit.context["filters"] == {"status_category__exact": "Closed"}
    assert (audit.context["format"], audit.context["via"]) == ("jsonl", "admin")
    manifest = ExportManifest.objects.get(kind="sla").manifest
    assert manifest["rows"] == len(lines) == 1
    assert manifest["first_row"] == {"id": items["closed"].pk}


@pytest.mark.parametrize("codenames", [("view_workitem",), ("export_sla",)])
def test_view_needs_view_and_export_permissions(items, rf, codenames):
    request = rf.get("/")
    request.user = user_with(*codenames)
    with pytest.raises(PermissionDenied):
        sla_export_view(request)
    assert AuditEvent.objects.get(action="sla.export").outcome == Outcome.REFUSED


def test_view_refuses_filters_the_changelist_refuses(items, rf):
    request = rf.get("/", {"no_such_field": "1"})
    request.user = user_with("view_workitem", "export_sla")
    assert sla_export_view(request).status_code == 400


# --- the command --------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("export_sla", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_command_exports_open_items_of_a_queue(items):
    text = run("--open-only", "--queue", "Billing")
    assert set(rows_by_ref(text)) == {"'=open-1", "open-2"}


def test_command_filters_on_creation_time_and_writes_a_file_with_a_manifest(items, tmp_path):
    import json

    target = tmp_path / "sla.csv"
    run("--since", "2024-05-10T06:00Z", "--until", "2024-05-10T08:00Z", "--output", str(target))
    assert list(rows_by_ref(target.read_text())) == ["closed-1"]
    manifest = json.loads((tmp_path / "sla.csv.manifest.json").read_text())
    assert manifest["kind"] == "sla" and manifest["rows"] == 1


def test_command_names_the_file_after_its_filters(items, tmp_path):
    run("--queue", "Billing", "--open-only", "--output", str(tmp_path), "--format", "jsonl")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[0].startswith("sla-Billing_open-only-") and names[0].endswith(".jsonl")
    assert names[1] == names[0] + ".manifest.json"


def test_command_is_audited(items):
    run("--worktype", "Refund")
    audit = AuditEvent.objects.get(action="sla.export")
    assert (audit.actor, audit.context["via"]) == ("system", "command")
    assert audit.context["filters"] == {"worktype": "Refund"}


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--since", "yesterday"], "--since"), (["--until", "05/10/2024"], "--until")],
)
def test_command_refuses_bad_dates_naming_the_flag(args, named):
    with pytest.raises(CommandError, match=named):
        run(*args)
