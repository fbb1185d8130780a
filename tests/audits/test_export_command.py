"""manage.py export_audit: flags select the rows; csv, excel or jsonl; to stdout or a file with its
manifest beside it; audited."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from audits.exports import AUDIT_COLUMNS
from audits.models import AuditEvent

pytestmark = pytest.mark.django_db


def event(at: str, **kw) -> AuditEvent:
    kw.setdefault("actor", "system")
    kw.setdefault("action", "sla.breached")
    return AuditEvent.objects.create(occurred_at=datetime.fromisoformat(at), **kw)


@pytest.fixture
def events():
    return {
        "early": event("2024-05-01T09:00:00+00:00", actor="alice", action="workitem.submit"),
        "mid": event("2024-05-02T09:00:00+00:00", actor="bob", action="workitem.submit"),
        "late": event(
            "2024-05-03T09:00:00+00:00",
            actor="alice",
            action="sla.breached",
            context={"n": 1, "s": "=x"},
        ),
    }


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("export_audit", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def csv_ids(text: str) -> list[int]:
    header, *rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert header == list(AUDIT_COLUMNS)
    return [int(r[0]) for r in rows]


def test_csv_to_stdout_newest_first_header_on_row_one(events):
    text = run("--action", "workitem.submit", "--since", "2024-05-01")

    assert text.startswith("id,occurred_at,")
    assert csv_ids(text) == [events["mid"].pk, events["early"].pk]


def test_since_is_inclusive_and_until_exclusive(events):
    text = run("--since", "2024-05-02T09:00:00+00:00", "--until", "2024-05-03T09:00:00Z")
    assert csv_ids(text) == [events["mid"].pk]


def test_actor_flag_selects_one_actor(events):
    assert csv_ids(run("--actor", "alice")) == [events["late"].pk, events["early"].pk]


def test_jsonl_has_one_object_per_line_with_the_context_as_json(events):

    lines = run("--format", "jsonl", "--actor", "alice").splitlines()

    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == [events["late"].pk, events["early"].pk]
    assert rows[0]["context"] == {"n": 1, "s": "=x"}  # JSONL is for programs: not neutralised
    assert rows[0]["occurred_at"] == "2024-05-03T09:00:00.000Z"
    assert list(rows[0]) == list(AUDIT_COLUMNS)


def test_output_writes_a_file_and_its_manifest(events, tmp_path):
    import hashlib

    target = tmp_path / "audit.csv"
    assert run("--output", str(target)) == ""
    assert csv_ids(target.read_text()) == [
        e.pk for e in (events["late"], events["mid"], events["early"])
    ]
    manifest = json.loads((tmp_path / "audit.csv.manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    assert manifest["rows"] == 3 and manifest["file"] == "audit.csv"
    assert manifest["first_row"]["id"] == events["late"].pk
    assert manifest["last_row"]["id"] == events["early"].pk


def test_output_to_a_directory_names_the_file_after_its_filters(events, tmp_path):
    run("--output", str(tmp_path), "--action", "workitem.submit", "--format", "excel")
    [data, manifest] = sorted(tmp_path.iterdir())
    assert data.name.startswith("audit-Submitted-to-Genesys-") and data.name.endswith("-excel.csv")
    assert manifest.name == data.name + ".manifest.json"
    assert data.read_bytes().startswith(b"\xef\xbb\xbfid,")


def test_export_is_audited_as_system(events):
    run("--action", "workitem.submit")

    audit = AuditEvent.objects.get(action="audit.export")
    assert audit.actor == "system"
    assert audit.context["filters"] == {"action": "workitem.submit"}
    assert audit.context["format"] == "csv"
    assert audit.context["via"] == "command"
    assert "os_user" in audit.context


def test_the_export_does_not_contain_its_own_audit_record(events):
    assert len(csv_ids(run())) == 3


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--since", "last tuesday"], "--since"),
        (["--until", "2024-13-45"], "--until"),
        (["--since", "2024-05-02", "--until", "2024-05-01"], "--until"),
        (["--format", "xlsx"], "--format"),
    ],
)
def test_bad_flags_are_refused_naming_the_flag(args, named):
    with pytest.raises(CommandError, match=named):
        run(*args)
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_naive_datetimes_are_read_in_the_current_time_zone(events, settings):
    settings.TIME_ZONE = "Europe/Berlin"  # UTC+2 in May
    text = run("--since", "2024-05-02T11:00", "--until", "2024-05-02T11:00:01")
    assert csv_ids(text) == [events["mid"].pk]
    assert datetime(2024, 5, 2, 9, tzinfo=UTC) == events["mid"].occurred_at
