"""The analyst's path in a real browser: an analyst (audit and SLA-export permissions only) filters
the audit trail to one day and one action, exports it in each format, and downloads each file's
manifest from *Past exports*. Each file is read back as analysts' tools read it — Python's csv
module and pandas with its defaults (header on row 1, dates parsed) — its SHA-256 is checked
against its manifest, and verify_audit checks it against the chain (and fails it once edited).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from datetime import datetime, time, timedelta

import pytest

pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)
pd = pytest.importorskip("pandas", reason="pandas is in the test extras (pip install '.[test]')")
if not os.path.exists("/usr/bin/chromium"):
    pytest.skip(
        "/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True
    )

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from audits.exports import AUDIT_COLUMNS  # noqa: E402
from audits.models import AuditEvent  # noqa: E402
from audits.services import record  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def trail(settings):
    """Yesterday's and today's events: submits (one failed, one by a non-ASCII actor), events
    applied, a routability check. The day and action filters must pick today's submits only."""
    settings.TIME_ZONE = "Europe/Paris"  # the excel format's local times
    today = timezone.localdate()
    yesterday = timezone.make_aware(datetime.combine(today - timedelta(days=1), time(12)))
    AuditEvent.objects.create(
        occurred_at=yesterday, actor="system", action="workitem.submit", object_type="WorkItem"
    )
    submits = [
        record(
            actor="Zoë Ångström",
            action="workitem.submit",
            object_type="WorkItem",
            object_id="1",
            correlation_id="CRM-1",
            context={"genesys_id": "g-1", "found_existing": False},
        ),
        record(
            actor="supervisor",
            action="workitem.submit",
            object_type="WorkItem",
            object_id="2",
            correlation_id="=HYPERLINK(1)",  # a formula, neutralised
            outcome="failure",
            context={"error": "Genesys said no, twice", "contextId": "ctx-9"},
        ),
    ]
    record(
        actor="genesys",
        action="workitem.event.applied",
        object_type="WorkItem",
        object_id="1",
        context={"from": {"status": "Open"}, "to": {"status": "Closed"}},
    )
    record(actor="alice", action="workitem.check_routability", context={"verdict": "routable"})
    return {"today": today, "submits": submits}


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_csv_rows(path, encoding: str) -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        assert header == list(AUDIT_COLUMNS)  # row 1 is the header
        return [dict(zip(header, row, strict=True)) for row in reader]


def test_analyst_exports_one_day_and_one_action_in_each_format(
    page, log_in, analyst, trail, shot, tmp_path
):
    today = trail["today"].isoformat()
    log_in(analyst)
    page.get_by_role("link", name="Audit events").first.click()
    expect(page.locator("#result_list")).to_be_visible()
    # One action, from the sidebar (by its label), then one day, both ends inclusive.
    page.locator("#changelist-filter").get_by_role("link", name="Submitted to Genesys").click()
    page.locator("#audit-from").fill(today)
    page.locator("#audit-to").fill(today)
    page.locator("#changelist-search").get_by_role("button", name="Search").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.locator("#result_list")).to_contain_text("Submitted to Genesys")
    shot(page, "analyst-01-audit-one-day-one-action")

    files = {}
    for fmt in ("csv", "excel", "jsonl"):
        page.locator("#audit-export-format").select_option(fmt)
        with page.expect_download() as info:
            page.locator("#audit-export-submit").click()
        download = info.value
        assert today.replace("-", "") in download.suggested_filename
        assert "Submitted-to-Genesys" in download.suggested_filename
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        files[fmt] = path

    # Each file's manifest, from the admin's list of past exports (newest first).
    page.locator("#audit-export-manifests").click()
    shot(page, "analyst-02-past-exports")
    links = page.locator("a.export-manifest-link")
    expect(links).to_have_count(3)
    manifests = {}
    for i in range(3):
        with page.expect_download() as info:
            links.nth(i).click()
        download = info.value
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        manifest = json.loads(path.read_text(encoding="utf-8"))
        assert download.suggested_filename == manifest["file"] + ".manifest.json"
        manifests[manifest["format"]] = manifest

    expected_ids = {e.pk for e in trail["submits"]}
    for fmt, path in files.items():
        manifest = manifests[fmt]
        assert manifest["file"] == path.name
        assert manifest["sha256"] == sha256(path), fmt
        assert manifest["rows"] == 2 and manifest["generated_by"] == "analyst"
        assert manifest["filters"]["described"]["action"] == "Submitted to Genesys"
        assert len(manifest["first_row"]["chain_hash"]) == 64

    # csv: Python's csv module and pandas' defaults.
    rows = read_csv_rows(files["csv"], "utf-8")
    assert {int(r["id"]) for r in rows} == expected_ids
    assert {r["action"] for r in rows} == {"Submitted to Genesys"}
    failed = next(r for r in rows if r["outcome"] == "failure")
    assert failed["error"] == "Genesys said no, twice" and failed["context_id"] == "ctx-9"
    assert failed["correlation_id"] == "'=HYPERLINK(1)"
    frame = pd.read_csv(files["csv"])
    assert list(frame.columns) == list(AUDIT_COLUMNS)
    parsed = pd.to_datetime(frame["occurred_at"])
    assert str(parsed.dt.tz) == "UTC"
    assert {d.isoformat() for d in parsed.dt.tz_convert("Europe/Paris").dt.date} == {today}
    frame = pd.read_csv(files["csv"], parse_dates=["occurred_at"])
    assert pd.api.types.is_datetime64_any_dtype(frame["occurred_at"])

    # excel: the byte-order mark, local times; the csv module with utf-8-sig, pandas as is.
    assert files["excel"].read_bytes().startswith(b"\xef\xbb\xbfid,")
    rows = read_csv_rows(files["excel"], "utf-8-sig")
    assert {r["actor"] for r in rows} == {"Zoë Ångström", "supervisor"}
    assert all(r["occurred_at"].startswith(today + " ") for r in rows)
    frame = pd.read_csv(files["excel"], parse_dates=["occurred_at"])
    assert list(frame.columns) == list(AUDIT_COLUMNS)
    assert pd.api.types.is_datetime64_any_dtype(frame["occurred_at"])
    assert {d.isoformat() for d in frame["occurred_at"].dt.date} == {today}
    assert "Zoë Ångström" in set(frame["actor"])

    # jsonl: one object per line; pandas parses occurred_at (an *_at column) by default.
    lines = files["jsonl"].read_text(encoding="utf-8").splitlines()
    assert [list(json.loads(line)) for line in lines] == [list(AUDIT_COLUMNS)] * 2
    frame = pd.read_json(files["jsonl"], lines=True)
    assert pd.api.types.is_datetime64_any_dtype(frame["occurred_at"])
    assert set(frame["id"]) == expected_ids

    # Each file against its manifest and the chain; then an edited one fails.
    for fmt, path in files.items():
        (tmp_path / (path.name + ".manifest.json")).write_text(json.dumps(manifests[fmt]))
        call_command("verify_audit", "--export", str(path), stdout=io.StringIO())
    edited = files["csv"]
    edited.write_bytes(edited.read_bytes().replace(b"twice", b"once!"))
    with pytest.raises(SystemExit) as exited:
        call_command("verify_audit", "--export", str(edited), stdout=io.StringIO())
    assert exited.value.code == 1
