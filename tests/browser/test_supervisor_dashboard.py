"""The dashboard's ten-second test in a real browser at 1280×720: the queue table is above the
fold, and a queue's "breaching in the next 60 min" count opens exactly those items.

The screenshot is written to artifacts/screenshots/dashboard-1280x720.png (the viewport only: what
a supervisor sees without scrolling).
"""

from __future__ import annotations

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

from django.utils import timezone  # noqa: E402
from playwright.sync_api import expect  # noqa: E402

from tests import factories  # noqa: E402
from tests.browser.conftest import SCREENSHOTS  # noqa: E402
from workitems.services.sla import sla_sweep  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _items(now):
    claims, other = factories.queue("Claims"), factories.queue("Billing")
    wt = factories.worktype(default_queue=claims)
    factories.member(claims, routing_status="IDLE")

    def item(ref, q, minutes, **kw):
        return factories.workitem(
            queue=q,
            worktype=wt,
            external_ref=ref,
            genesys_id=f"g-{ref}",
            local_state="submitted",
            status_category="Open",
            date_created=now - timedelta(minutes=90),
            sla_deadline=now + timedelta(minutes=minutes),
            **kw,
        )

    # Claims: three due within the hour, one later, one paused (its clock stopped), one breached.
    for ref, minutes in (("DUE-10", 10), ("DUE-30", 30), ("DUE-55", 55)):
        item(ref, claims, minutes)
    item("LATER-90", claims, 90)
    item("PAUSED-20", claims, 20, sla_paused_since=now - timedelta(minutes=5))
    item("LATE", claims, -5)
    item("BILL-15", other, 15)  # another queue's
    return {"DUE-10", "DUE-30", "DUE-55"}


def test_the_60_minute_count_opens_exactly_those_items_and_the_table_is_above_the_fold(
    page, log_in, supervisor
):
    now = timezone.now()
    expected = _items(now)
    sla_sweep(now=now)  # breaches LATE, computes the forecast
    page.set_viewport_size({"width": 1280, "height": 720})
    log_in(supervisor)
    page.goto("/admin/dashboard/")
    expect(page).to_have_title(re.compile("Supervisor dashboard"))

    table = page.locator("section[aria-labelledby=by-queue] table")
    box = table.bounding_box()
    assert box is not None and box["y"] < 720 / 2, box  # starts in the top half of the screen
    claims = table.locator("tbody tr").filter(
        has=page.get_by_role("rowheader", name="Claims", exact=True)
    )
    # Claims first: it has forecast breaches (one member, three due within the hour).
    expect(table.locator("tbody tr").first).to_contain_text("Claims")
    count = claims.locator("td[data-col=breaching_1h]").get_by_role("link")
    expect(count).to_have_text("3")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard-1280x720.png"))

    count.click()
    expect(page.locator("#changelist")).to_be_visible()
    assert "deadline_in=1h" in page.url
    refs = page.locator("#result_list tbody th.field-external_ref").all_inner_texts()
    assert set(refs) == expected and len(refs) == 3
