"""The supervisor's daily path, in a real browser against the simulator, as a non-superuser with
the supervisor's permissions: import a file with good and bad rows → import only the good ones →
download the rejected rows → fix one item in the form built from its worktype → its stale
verdict is checked again → submit it from its page → its timeline tells each step, a Genesys
status change to the second and the time in each status.

Screenshots of each page go to artifacts/screenshots/ (see conftest.py).
"""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import timedelta

import pytest

pytest.importorskip(
    "playwright.sync_api", reason="Playwright is not installed (pip install playwright)"
)
if not os.path.exists("/usr/bin/chromium"):
    pytest.skip(
        "/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True
    )

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from tests.browser.test_supervisor_paths import (  # noqa: E402
    advance,
    result_refs,
    result_row,
    run_action,
)
from workitems.models import LocalState, QueueMember, WorkItem  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WHEN = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+")  # to the second


def mixed_csv() -> str:
    """Three good rows (UX-2 on Weekend Overflow, where nobody is joined; UX-5 already past due)
    and two bad ones (a misspelt worktype, a name too short)."""
    past = (timezone.now() - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = '"{""order_number_text"": ""U-00%d"", ""amount_number"": %d}"'
    return "\n".join(
        [
            "external_ref,name,worktype,queue,priority,date_due,custom_fields",
            f"UX-1,Refund for order U-1,Refund request,Refunds,10,,{fields % (1, 20)}",
            f"UX-2,Weekend refund U-2,Refund request,Weekend Overflow,10,,{fields % (2, 5)}",
            f"UX-3,Refund for order U-3,Refund reqest,Refunds,10,,{fields % (3, 7)}",
            f"UX-4,ab,Refund request,Refunds,10,,{fields % (4, 7)}",
            f"UX-5,Late refund U-5,Refund request,Refunds,10,{past},{fields % (5, 9)}",
        ]
    )


def pick(page, field: str, search: str, option: str) -> None:
    """Choose in one of the form's select2 pickers: open it, type, click the option."""
    page.locator(f".field-{field} .select2-selection").click()
    box = page.locator(".select2-container--open .select2-search__field")
    box.fill(search)
    page.locator(".select2-results__option", has_text=option).first.click()


def test_import_fix_check_submit_and_read_the_items_story(
    page, log_in, supervisor, subscribed, queued_tasks, shot
):
    call_command("genesys_sync")  # the reference data a worker would have synced by now
    log_in(supervisor)
    expect(page.locator("#user-tools")).to_contain_text("Supervisor dashboard")

    # --- Import: a file with good and bad rows ---------------------------------------------------
    page.locator("tr.model-workitem").get_by_role("link", name="Work items").click()
    page.get_by_role("link", name="Import CSV").click()
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "mixed.csv", "mimeType": "text/csv", "buffer": mixed_csv().encode()}]
    )
    page.get_by_role("button", name="Upload and preview").click()
    rows = page.locator("table.import-rows tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.locator("td.import-outcome")).to_have_text(["New", "New", "Error", "Error", "New"])
    expect(rows.nth(4)).to_contain_text("will breach on submit")
    import_valid = page.get_by_role(
        "button", name="Import the 3 valid rows, skip the 2 with errors"
    )
    expect(import_valid).to_be_visible()
    expect(page.get_by_role("link", name="Fix and upload again")).to_be_visible()
    shot(page, "11-import-preview-good-and-bad-rows")

    page.get_by_role("link", name="Show errors only").click()
    expect(rows).to_have_count(2)
    expect(rows.locator("td").nth(2)).to_have_text("UX-3")
    shot(page, "12-import-errors-only")

    # --- The rejected rows, to fix and upload again ------------------------------------------------
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download the 2 rejected rows")).click()
    download = download_info.value
    assert download.suggested_filename == "mixed-rejected.csv"
    rejected = list(csv.DictReader(io.StringIO(download.path().read_text(encoding="utf-8-sig"))))
    assert [r["external_ref"] for r in rejected] == ["UX-3", "UX-4"]
    assert 'no worktype named "Refund reqest"' in rejected[0]["error"]
    assert "Row 5, name: is 2 characters long" in rejected[1]["error"]

    # --- Import only the good rows ----------------------------------------------------------------
    page.get_by_role("link", name="Show all rows").click()
    import_valid.click()
    expect(page.locator("ul.messagelist")).to_contain_text(
        "Imported 3 work items from mixed.csv as drafts"
    )
    expect(page.locator("ul.messagelist")).to_contain_text("2 rows with errors skipped")
    assert sorted(result_refs(page)) == ["UX-1", "UX-2", "UX-5"]
    page.locator("#action-toggle").check()
    run_action(page, "check_routability")
    expect(page.locator("ul.messagelist")).to_contain_text("Checked 3 work items")
    expect(result_row(page, "UX-2").locator("td.field-state_display")).to_contain_text(
        "Not routable"
    )
    shot(page, "13-work-item-list")

    # --- Fix one item in the form built from its worktype -------------------------------------------
    page.get_by_role("link", name="UX-2", exact=True).click()
    expect(page.locator(".routability-verdict")).to_contain_text("Not routable")
    expect(page.locator("tr.routability-check-fail").first).to_have_attribute(
        "data-check", "joined_members"
    )
    shot(page, "14-item-not-routable")
    expect(page.get_by_label("Order number")).to_have_value("U-002")  # a typed input
    pick(page, "queue", "Refunds", "Refunds")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_label("VIP customer").select_option("true")
    pick(page, "preferred_agent_ids", "Ben", "Ben Hartley")
    shot(page, "15-item-schema-built-form")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".routability-verdict")).to_contain_text("Stale: Not routable")
    expect(page.locator("ul.messagelist")).to_contain_text("the last verdict no longer holds")
    item = WorkItem.objects.get(external_ref="UX-2")
    ben = QueueMember.objects.get(queue__name="Refunds", name="Ben Hartley")
    assert item.queue.name == "Refunds"
    assert item.preferred_agent_ids == [ben.user_id]  # picked by name, stored as the id
    assert item.custom_fields == {
        "order_number_text": "U-002",
        "amount_number": 5,
        "currency_enum": "EUR",
        "vip_checkbox": True,
    }
    shot(page, "16-item-verdict-stale")

    # --- Submit from the item page: the stale verdict is checked again first -----------------------
    page.get_by_role("button", name="Submit to Genesys").click()
    messages = page.locator("ul.messagelist")
    expect(messages).to_contain_text("Checked again before submission: Routable.")
    expect(messages).to_contain_text("Queued UX-2 for submission to Genesys.")
    assert queued_tasks.names() == ["workitems.tasks.submit_workitems"]
    queued_tasks.run()
    item.refresh_from_db()
    assert item.local_state == LocalState.SUBMITTED and item.genesys_id

    # --- Genesys moves it; the timeline tells the whole story --------------------------------------
    advance(item, "investigating", subscribed)
    page.reload()
    timeline = page.locator("#timeline")
    expect(timeline).to_be_visible()
    titles = timeline.locator("tbody tr td:nth-child(2)")
    for step in [
        "Status New → Investigating",
        "SLA clock started",
        "Created in Genesys in status New",
        "Submitted: created in Genesys",
        "Submission requested",
        "Routability checked: Routable",
        "Edited",
        "Routability checked: Not routable",
        "Imported from a CSV file",
    ]:
        expect(titles.filter(has_text=step).first).to_be_visible()
    change = timeline.locator("tr.timeline-status").first
    expect(change).to_contain_text("New → Investigating")
    assert WHEN.fullmatch(change.locator("td.timeline-when").inner_text().strip())
    expect(change.locator("td.timeline-duration")).to_have_text(re.compile(r"^\d+ s so far$"))
    created = timeline.locator("tr.timeline-status").nth(1)
    expect(created.locator("td.timeline-duration")).to_have_text(re.compile(r"^\d+ s$"))
    item.refresh_from_db()
    if item.assignee_name:  # the simulator assigns a joined member when work starts
        expect(change).to_contain_text(item.assignee_name)
    shot(page, "17-item-timeline")
