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
    worktype = factories.worktype(default_queue=billing, name="Refund")
    open_item = factories.workitem(
        worktype=worktype,
        external_ref="=open-1",  # a formula, to be neutralised
        genesys_id="g-open",
        date_created=NOW - 2 * H,
        sla_deadline=NOW - H,
        sla_paused=timedelta(minutes=30),
        sla_paused_since=NOW - timedelta(minutes=10),  # paused right now: 40 min in all
    )
    closed_item = factories.workitem(
        worktype=worktype,
        queue=claims,
        external_ref="closed-1",
        genesys_id="g-closed",
        date_created=NOW - 5 * H,
        sla_deadline=NOW - 3 * H,
        date_closed=NOW - H,
        sla_breached_at=NOW - H,
    )
    draft = factories.workitem(worktype=worktype, external_ref="draft-1")
    return {"open": open_item, "closed": closed_item, "draft": draft, "claims": claims}


def rows_by_ref(text: str) -> dict[str, dict[str, str]]:
    comment, rest = text.split("\n", 1)
    assert comment.startswith("# SLA report; filters: ")
    header, *rows = list(csv.reader(io.StringIO(rest)))
    assert header == list(SLA_COLUMNS)
    return {row[0]: dict(zip(SLA_COLUMNS, row, strict=True)) for row in rows}


# --- the report ---------------------------------------------------------------------------------


def test_report_rows_on_a_known_fixture(items):
    rows = {
        row[0]: dict(zip(SLA_COLUMNS, row, strict=True))
        for row in sla_report_rows(queryset=sla_report_queryset(), now=NOW)
    }

    assert set(rows) == {"'=open-1", "closed-1"}  # drafts have no SLA; formulas neutralised
    assert rows["'=open-1"] == {
        "external_ref": "'=open-1",
        "genesys_id": "g-open",
        "queue": "Billing",  # the worktype's default queue
        "worktype": "Refund",
        "created": "2024-05-10T10:00:00Z",
        "deadline": "2024-05-10T11:00:00Z",
        "closed": "",
        "paused_seconds": 2400,  # 30 min before, 10 min of the pause still running
        "breached": "no",
        "breached_at": "",
        "age_seconds": 7200,  # open: now minus created
    }
    assert rows["closed-1"] == {
        "external_ref": "closed-1",
        "genesys_id": "g-closed",
        "queue": "Claims",
        "worktype": "Refund",
        "created": "2024-05-10T07:00:00Z",
        "deadline": "2024-05-10T09:00:00Z",
        "closed": "2024-05-10T11:00:00Z",
        "paused_seconds": 0,
        "breached": "yes",
        "breached_at": "2024-05-10T11:00:00Z",
        "age_seconds": 14400,  # closed: closed minus created, whatever the time now
    }


def test_report_filters_by_effective_queue_worktype_creation_and_openness(items):
    def refs(**kw):
        return {row[0] for row in sla_report_rows(queryset=sla_report_queryset(**kw), now=NOW)}

    assert refs(queue="Billing") == {"'=open-1"}
    assert refs(queue=items["claims"].genesys_id) == {"closed-1"}
    assert refs(worktype="Refund") == {"'=open-1", "closed-1"}
    assert refs(worktype="Other") == set()
    assert refs(open_only=True) == {"'=open-1"}
    assert refs(since=NOW - 3 * H) == {"'=open-1"}
    assert refs(until=NOW - 3 * H) == {"closed-1"}


# --- the admin view -----------------------------------------------------------------------------


def user_with(*codenames: str) -> User:
    user = User.objects.create_user("sla-" + "-".join(codenames), password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def test_view_exports_what_the_changelist_filters_select(items, rf):
    request = rf.get(
        "/admin/workitems/workitem/sla-export/", {"queue__id__exact": items["claims"].pk}
    )
    request.user = user_with("view_workitem", "export_sla")

    response = sla_export_view(request)

    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    rows = rows_by_ref(text)
    assert list(rows) == ["closed-1"]
    assert rows["closed-1"]["age_seconds"] == "14400"
    assert text.startswith(f"# SLA report; filters: queue__id__exact={items['claims'].pk}; ")
    assert re.fullmatch(
        rf'attachment; filename="sla-queue__id__exact-{items["claims"].pk}-\d{{8}}T\d{{6}}Z\.csv"',
        response["Content-Disposition"],
    )


def test_view_unfiltered_exports_every_created_item(items, rf):
    request = rf.get("/")
    request.user = user_with("view_workitem", "export_sla")
    rows = rows_by_ref(b"".join(sla_export_view(request).streaming_content).decode())
    assert set(rows) == {"'=open-1", "closed-1"}


def test_view_export_is_audited(items, rf):
    request = rf.get("/", {"status_category__exact": "Closed"})
    request.user = user_with("view_workitem", "export_sla")
    sla_export_view(request)

    audit = AuditEvent.objects.get(action="sla.export")
    assert audit.actor == request.user.username
    assert audit.object_type == "WorkItem"
    assert audit.context == {
        "filters": {"status_category__exact": "Closed"},
        "format": "csv",
        "via": "admin",
    }


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
    assert list(rows_by_ref(text)) == ["'=open-1"]
    assert text.split("\n", 1)[0].startswith(
        "# SLA report; filters: queue=Billing&open_only=yes; generated "
    )


def test_command_filters_on_creation_time_and_writes_a_file(items, tmp_path):
    target = tmp_path / "sla.csv"
    run("--since", "2024-05-10T06:00Z", "--until", "2024-05-10T08:00Z", "--output", str(target))
    assert list(rows_by_ref(target.read_text())) == ["closed-1"]


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
