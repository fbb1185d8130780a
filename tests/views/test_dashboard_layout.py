"""The dashboard's layout for the ten-second test: queues by forecast breaches, severity relative
to the queue's size, the 60-minute column, oldest first, one health strip, refresh without an
inline script."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests import factories
from tests.selectors.test_dashboard import build_fixture
from workitems.views.dashboard import severity

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/dashboard/"


def _queue_names(html: str) -> list[str]:
    table = html[html.index('id="by-queue"') : html.index('id="health"')]
    return re.findall(r'<th scope="row"><a href="[^"]*">([^<]+)</a>', table)


def test_queues_are_sorted_by_forecast_breaches_then_breached_and_open(admin_client):
    now = timezone.now()
    calm, busy, staffed = factories.queue("A calm"), factories.queue("B busy"), factories.queue("C")
    wt = factories.worktype(default_queue=calm)
    factories.member(staffed, routing_status="IDLE")
    for q, n in ((calm, 1), (busy, 2)):
        for i in range(n):  # open and past the deadline: breached and open
            factories.workitem(
                queue=q,
                worktype=wt,
                genesys_id=f"{q.pk}-{i}",
                date_created=now - timedelta(hours=3),
                sla_deadline=now - timedelta(hours=1),
            )
    # C: nobody on queue would… but one member is on queue; an item due in 5 min at position 0
    # with 15 min handling is forecast to breach.
    factories.workitem(
        queue=staffed,
        worktype=wt,
        genesys_id="c-1",
        date_created=now - timedelta(minutes=50),
        sla_deadline=now + timedelta(minutes=5),
    )
    from workitems.services.sla import sla_sweep

    sla_sweep(now=now)
    html = admin_client.get(DASHBOARD).content.decode()
    assert _queue_names(html)[:3] == ["C", "B busy", "A calm"]
    assert "1 open and waiting" in html and "1 of 1 members on queue" in html


def test_severity_is_relative_to_the_queue_size():
    assert severity(0, 100) == ""
    assert severity(3, 300) == "sev1"
    assert severity(3, 30) == "sev2"
    assert severity(98, 100) == "sev3"


def test_the_oldest_link_opens_the_open_items_oldest_first(admin_client):
    build_fixture(timezone.now())
    html = admin_client.get(DASHBOARD).content.decode()
    href = re.search(r'<td class="num oldest" data-col="oldest">\s*<a href="([^"]+)"', html).group(
        1
    )
    response = admin_client.get(href.replace("&amp;", "&"))
    created = [item.date_created for item in response.context["cl"].result_list]
    assert len(created) > 1 and created == sorted(created)


def test_health_is_one_strip_after_the_queue_table_and_the_page_refreshes_from_a_file(
    admin_client,
):
    html = admin_client.get(DASHBOARD).content.decode()
    assert html.index('id="by-queue"') < html.index('class="health-strip"')
    assert html.count('class="health-strip"') == 1 and "health-item" not in html
    assert 'data-refresh-seconds="60"' in html
    assert re.search(r'<script src="[^"]*dashboard_refresh\.js" defer></script>', html)
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)
    assert inline == []
