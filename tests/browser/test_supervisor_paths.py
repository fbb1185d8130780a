"""The supervisor's main paths in a real browser, against the simulator: log in, import a CSV of
drafts, read a routability report, submit, see an item change status after a Genesys event, follow
a dashboard figure to its items, export the audit trail.

Screenshots of the key pages are written to artifacts/screenshots/ (see conftest.py).
"""

from __future__ import annotations

import csv
import io
import os
import re

import pytest

pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)
if not os.path.exists("/usr/bin/chromium"):
    pytest.skip(
        "/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True
    )

from django.core.management import call_command  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from simulator.demo import IDS  # noqa: E402
from simulator.lifecycle import lifecycle_advance  # noqa: E402
from workitems.models import LocalState, WorkItem  # noqa: E402
from workitems.services.csv_import import import_batch_confirm, import_batch_preview  # noqa: E402
from workitems.services.event_processor import events_drain  # noqa: E402
from workitems.services.submission import workitems_submit, workitems_submit_request  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Two drafts routable on Refunds, one on Weekend Overflow, where nobody is joined.
CSV = """external_ref,name,worktype,queue,priority,description,date_due,date_expires,skills,preferred_agents,custom_fields
CRM-1,Refund for order A-1,Refund request,Refunds,10,,,,Refunds,,"{""order_number_text"": ""A-001"", ""amount_number"": 20}"
CRM-2,Refund for order A-2,Refund request,Refunds,10,,,,Refunds,,"{""order_number_text"": ""A-002"", ""amount_number"": 30}"
CRM-3,Weekend refund,Refund request,Weekend Overflow,10,,,,,,"{""order_number_text"": ""A-003"", ""amount_number"": 5}"
"""


def status_id(key: str) -> str:
    return IDS[f"status:refund-request:{key}"]


def advance(item: WorkItem, key: str, sender) -> None:
    """Genesys moves the item; its event reaches the live server; the processor applies it."""
    event = lifecycle_advance(workitem_id=item.genesys_id, status_id=status_id(key), sender=sender)
    assert [d.status_code for d in event.deliveries] == [202], event.deliveries
    drained = events_drain()
    assert drained.counts["applied"] == 1, drained.line()


def refunds_in_genesys(user, sender) -> dict[str, WorkItem]:
    """The state the first test reaches in the browser, by the same services: the three drafts
    imported and checked, CRM-1 and CRM-2 submitted by `user`; CRM-1 then closed in Genesys."""
    call_command("genesys_sync")
    batch = import_batch_preview(file_name="drafts.csv", raw=CSV.encode(), user=user)
    import_batch_confirm(batch=batch, user=user)
    drafts = WorkItem.objects.filter(external_ref__in=["CRM-1", "CRM-2"])
    request = workitems_submit_request(
        items=drafts, actor=user.get_username(), override_routability=False, enqueue=False
    )
    summary = workitems_submit(item_ids=request.queued, actor=user.get_username())
    assert len(summary.submitted) == 2, summary.line()
    items = {i.external_ref: i for i in WorkItem.objects.all()}
    advance(items["CRM-1"], "investigating", sender)
    advance(items["CRM-1"], "refunded", sender)
    return {i.external_ref: i for i in WorkItem.objects.all()}


def result_refs(page) -> list[str]:
    """The external refs listed on a work item changelist page, in order."""
    return page.locator("#result_list tbody th.field-external_ref").all_inner_texts()


def result_row(page, ref: str):
    return page.locator("#result_list tbody tr").filter(
        has=page.get_by_role("link", name=ref, exact=True)
    )


def run_action(page, action: str) -> None:
    page.locator("select[name=action]").select_option(action)
    page.get_by_role("button", name="Go").click()


def test_supervisor_imports_checks_submits_and_sees_an_item_move_in_genesys(
    page, log_in, supervisor, subscribed, queued_tasks, shot
):
    log_in(supervisor, screenshot="01-login")
    expect(page.locator("#user-tools")).to_contain_text("Sam")

    # Import: upload → dry-run preview listing every row → confirm → the new drafts.
    call_command("genesys_sync")  # the reference data a worker would have synced by now
    page.locator("tr.model-workitem").get_by_role("link", name="Work items").click()
    page.get_by_role("link", name="Import CSV").click()
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "drafts.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
    )
    page.get_by_role("button", name="Upload and preview").click()
    rows = page.locator("table.import-rows tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.locator("td.import-outcome")).to_have_text(["New", "New", "New"])
    expect(page.get_by_text("Dry run: nothing has been saved yet.")).to_be_visible()
    assert not WorkItem.objects.exists()
    shot(page, "02-import-preview")
    page.get_by_role("button", name="Confirm import").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Imported 3 work items")
    assert sorted(result_refs(page)) == ["CRM-1", "CRM-2", "CRM-3"]

    # Routability: all three checked; the Weekend item's report says why it cannot be routed.
    page.locator("#action-toggle").check()
    run_action(page, "check_routability")
    expect(page.locator("ul.messagelist")).to_contain_text("Checked 3 work items")
    page.get_by_role("link", name="CRM-3", exact=True).click()
    verdict = page.locator(".routability-verdict")
    expect(verdict).to_contain_text("Not routable")
    failed = page.locator("tr.routability-check-fail")
    expect(failed.first).to_have_attribute("data-check", "joined_members")
    expect(page.locator("tr[data-check=joined_members]")).to_contain_text(
        "Weekend Overflow has no joined members"
    )
    shot(page, "03-routability-report")

    # Submit the two routable ones: confirmation page, then the (recorded) task runs.
    page.locator(".breadcrumbs a[href$='/workitems/workitem/']").click()
    for ref in ("CRM-1", "CRM-2"):
        result_row(page, ref).locator("input.action-select").check()
    run_action(page, "submit_to_genesys")
    confirm = page.locator("table.confirm-table tbody tr")
    expect(confirm).to_have_count(2)
    expect(confirm.locator("td.verdict")).to_have_text(["Routable", "Routable"])
    shot(page, "04-submit-confirmation")
    page.get_by_role("button", name="Yes, submit to Genesys").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Queued 2 work items")
    assert queued_tasks.names() == ["workitems.tasks.submit_workitems"]
    queued_tasks.run()
    page.reload()
    submitted = WorkItem.objects.filter(local_state=LocalState.SUBMITTED).order_by("external_ref")
    assert [i.external_ref for i in submitted] == ["CRM-1", "CRM-2"]
    for item in submitted:
        expect(result_row(page, item.external_ref).locator("td.field-state_display")).to_have_text(
            "Submitted"
        )
    expect(result_row(page, "CRM-3").locator("td.field-state_display")).not_to_contain_text(
        "Submitted"
    )

    # Genesys moves CRM-1 (an agent starts on it); the event arrives; its page shows the change.
    item = submitted[0]
    page.get_by_role("link", name="CRM-1", exact=True).click()
    expect(page.locator(".field-status_category .readonly")).to_have_text("Open")
    advance(item, "investigating", subscribed)
    page.reload()
    expect(page.locator(".field-status .readonly")).to_contain_text("Investigating")
    expect(page.locator(".field-status_category .readonly")).to_have_text("In progress")
    timeline = page.locator("#timeline")
    expect(timeline.locator("tr.timeline-status")).to_have_count(2)  # created in New, then moved
    expect(timeline.locator("tr.timeline-status").first).to_contain_text("New → Investigating")
    shot(page, "05-item-after-status-change")


def test_a_dashboard_figure_opens_exactly_the_items_it_counts(
    page, log_in, supervisor, subscribed, shot
):
    refunds_in_genesys(supervisor, subscribed)  # CRM-2 open on Refunds; CRM-1 closed
    log_in(supervisor)
    page.get_by_role("link", name="Supervisor dashboard").first.click()
    expect(page).to_have_title(re.compile("Supervisor dashboard"))
    per_queue = page.locator("section[aria-labelledby=by-queue]")
    refunds = per_queue.locator("tbody tr").filter(
        has=page.get_by_role("rowheader", name="Refunds", exact=True)
    )
    open_figure = refunds.locator("td[data-col=open]").get_by_role("link")
    expect(open_figure).to_have_text("1")
    shot(page, "06-dashboard")
    open_figure.click()
    expect(page.locator("#changelist")).to_be_visible()
    assert "open=yes" in page.url
    assert result_refs(page) == ["CRM-2"]


def test_audit_export_downloads_the_filtered_trail_with_the_submit_events(
    page, log_in, supervisor, subscribed, shot
):
    items = refunds_in_genesys(supervisor, subscribed)
    log_in(supervisor)
    page.get_by_role("link", name="Audit events").first.click()
    expect(page.locator("#result_list")).to_be_visible()
    page.get_by_label("Actor").fill("supervisor")
    page.locator("#changelist-search").get_by_role("button", name="Search").click()
    expect(page.get_by_label("Actor")).to_have_value("supervisor")
    shot(page, "07-audit-events")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export").click()
    download = download_info.value
    assert download.suggested_filename.startswith("audit-supervisor-")
    text = download.path().read_text(encoding="utf-8")
    assert text.startswith("id,occurred_at,")  # the header on row 1
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows and {r["actor"] for r in rows} == {"supervisor"}
    submits = {r["object_id"] for r in rows if r["action_code"] == "workitem.submit"}
    assert submits == {str(items["CRM-1"].pk), str(items["CRM-2"].pk)}
