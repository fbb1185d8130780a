"""The supervisor dashboard page: access, admin chrome, a bounded number of queries, and every
number linking to a changelist that lists exactly that many items."""

import itertools
import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from django.utils import timezone

from tests import factories
from tests.selectors.test_dashboard import build_fixture
from workitems.admin.sla_filters import DASHBOARD_FILTERS
from workitems.models import Delivery, InboundEvent, WorkItem
from workitems.views.svg_charts import Bar, bar_chart_svg

DASHBOARD = "/admin/dashboard/"
MAX_QUERIES = 10


# --- A stand-in admin site for link checks ------------------------------------------------------
# The project's WorkItemAdmin registers these filters itself; this site lets the links be followed
# whether or not that has happened yet. Used through @pytest.mark.urls(__name__).


class LinkCheckWorkItemAdmin(admin.ModelAdmin):
    list_filter = ("queue", "worktype", *DASHBOARD_FILTERS)
    search_fields = ("=external_ref",)  # other admins may autocomplete work items
    list_per_page = 10


link_check_site = admin.AdminSite(name="admin")
for _model, _model_admin in admin.site._registry.items():
    if _model is not WorkItem:
        link_check_site.register(_model, type(_model_admin))
link_check_site.register(WorkItem, LinkCheckWorkItemAdmin)
urlpatterns = [
    path("admin/dashboard/", include("workitems.dashboard_urls")),
    path("admin/", link_check_site.urls),
]


class _Links(HTMLParser):
    """Collects (href, text, enclosing <title> text) for each <a> in the page (HTML and SVG)."""

    def __init__(self):
        super().__init__()
        self.links: list[dict] = []
        self._open: list[dict] = []
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open.append({"href": dict(attrs).get("href"), "text": "", "title": ""})
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            self.links.append(self._open.pop())
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._open:
            key = "title" if self._in_title else "text"
            self._open[-1][key] += data


def _links(html: str) -> list[dict]:
    parser = _Links()
    parser.feed(html)
    return parser.links


# --- Access and chrome --------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_and_non_staff_users_are_sent_to_the_admin_login(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    client.force_login(User.objects.create_user("agent", password="x"))
    response = client.get(DASHBOARD)
    assert response.status_code == 302


@pytest.mark.django_db
def test_the_dashboard_shows_in_the_admin_chrome(client):
    user = User.objects.create_user("sup", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_dashboard"))
    client.force_login(user)
    response = client.get(reverse("portal-dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Supervisor dashboard" in html
    assert 'id="site-name"' in html  # the admin header
    assert "workitems/dashboard.css" in html
    assert "Definitions" in html and "Breach rate: of the items whose SLA was decided" in html
    assert "never" in html  # no sweep has run
    assert response["Cache-Control"].startswith("max-age=0")  # admin_view: never cached


@pytest.mark.django_db
def test_admin_index_links_to_the_dashboard_at_the_top(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    link = html.index(f'href="{reverse("portal-dashboard")}"')
    assert link < html.index('id="content-main"') or link < html.index("app-auth")
    assert "Supervisor dashboard" in html


# --- Queries ------------------------------------------------------------------------------------


_serial = itertools.count(1)


def _bulk_items(count_per_group: int) -> None:
    """Several queues × worktypes, items of every kind, loaded in bulk."""
    now = timezone.now()
    queues = [factories.queue() for _ in range(4)]
    worktypes = [factories.worktype(default_queue=queues[0]) for _ in range(3)]
    items = []
    for q in [*queues, None]:
        for wt in worktypes:
            for i in range(count_per_group):
                n = next(_serial)
                created = now - timedelta(minutes=7 * i + n % 11)
                closed = created + timedelta(minutes=30 + 20 * (i % 5)) if i % 3 == 0 else None
                deadline = created + timedelta(hours=1)
                items.append(
                    WorkItem(
                        external_ref=f"bulk-{n}",
                        name=f"Bulk {n}",
                        queue=q,
                        worktype=wt,
                        genesys_id=f"g-{n}",
                        local_state="submitted",
                        date_created=created,
                        date_closed=closed,
                        sla_threshold_seconds=3600,
                        sla_deadline=deadline,
                        sla_breached_at=deadline if deadline < (closed or now) else None,
                        sla_paused_since=now if i % 17 == 5 and closed is None else None,
                    )
                )
    WorkItem.objects.bulk_create(items, batch_size=500)
    InboundEvent.objects.bulk_create(
        InboundEvent(state=s, received_at=now - timedelta(minutes=5), body="{}")
        for s in ["failed", "accepted", "processed"] * 5
    )
    item = WorkItem.objects.first()
    Delivery.objects.bulk_create(
        Delivery(
            workitem=item,
            sequence=k,
            payload={},
            webhook_id=f"m{next(_serial)}",
            state=s,
            next_attempt_at=now,
        )
        for k, s in enumerate(["failing", "dead", "pending"] * 3, start=1)
    )


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(DASHBOARD)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_queries_are_few_and_do_not_grow_with_the_data(admin_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(MAX_QUERIES):
        admin_client.get(DASHBOARD)
    _bulk_items(40)  # 5 queue slots × 3 worktypes × 40 = 600 items
    with django_assert_max_num_queries(MAX_QUERIES):
        admin_client.get(DASHBOARD)
    loaded = _queries(admin_client)
    _bulk_items(80)  # 1,800 more, in new queues and worktypes
    assert _queries(admin_client) == loaded


@pytest.mark.django_db
def test_a_staff_user_with_permissions_stays_within_the_budget(
    client, django_assert_max_num_queries
):
    user = User.objects.create_user("sup", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="workitems"))
    client.force_login(user)
    _bulk_items(10)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(DASHBOARD).status_code == 200


# --- Every number links to exactly what it counts -----------------------------------------------


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_every_number_links_to_a_list_of_exactly_that_many_items(admin_client):
    build_fixture(timezone.now())
    assert _check_number_links(admin_client) > 100


def _check_number_links(client) -> int:
    """Follow every work-item link of the dashboard whose text (or, for a chart bar, tooltip)
    is a count; the list it opens must hold exactly that many items. Returns links checked."""
    html = client.get(DASHBOARD).content.decode()
    changelist = reverse("admin:workitems_workitem_changelist")
    links = [link for link in _links(html) if (link["href"] or "").startswith(changelist)]
    checked = 0
    for link in links:
        text = link["text"].strip()
        if link["title"]:  # a chart bar: its count is in its tooltip
            match = re.match(
                r"(\d+) open items|.*: (\d+) of \d+ items decided breached", link["title"]
            )
            expected = int(next(g for g in match.groups() if g is not None))
        elif text.isdigit():
            expected = int(text)
        else:
            continue  # a rate (its parts are links too), a row name, the oldest age
        response = client.get(link["href"])
        # Parameters the changelist rejects answer 302 to ?e=1.
        assert response.status_code == 200, link
        assert response.context["cl"].result_count == expected, (link, expected)
        checked += 1
    # Two tables × (3 or 2 rows + total) × 15 numbers each, plus the chart bars.
    return checked


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_rate_links_and_dashes(admin_client):
    fx = build_fixture(timezone.now())
    html = admin_client.get(DASHBOARD).content.decode()
    links = {(link["href"], link["text"].strip()) for link in _links(html)}
    changelist = reverse("admin:workitems_workitem_changelist")
    qa = fx["qa"].pk
    # Alpha's 24 h breach rate, 2 of 3 decided: the rate links to the breached ones.
    rate = [
        t
        for h, t in links
        if h
        and sorted(parse_qsl(urlsplit(h).query))
        == sorted([("queue__id__exact", str(qa)), ("breached_within", "24h")])
    ]
    assert "66.7 %" in rate and "2" in rate
    # Bravo closed nothing: its service level is "—", linking to the (empty) denominator list.
    qb = fx["qb"].pk
    dash = f"{changelist}?queue__id__exact={qb}&amp;closed_within=24h"
    assert f'<a href="{dash}"' in html


@pytest.mark.django_db
def test_health_links_open_their_changelists(admin_client):
    """Failed events, waiting events, failing and dead deliveries, task failures: each link that
    the page shows (its admin is registered) opens a list, not the admin's ?e=1 error."""
    from django_q.models import Failure

    now = timezone.now()
    InboundEvent.objects.create(state="failed", received_at=now, body="{}")
    InboundEvent.objects.create(state="accepted", received_at=now - timedelta(minutes=5), body="{}")
    Failure.objects.create(
        id="f1", name="t", func="x", started=now, stopped=now - timedelta(hours=1), success=False
    )
    response = admin_client.get(DASHBOARD)
    health = response.context["health"]
    assert health["figures"].events_failed == 1 and health["figures"].events_waiting == 1
    assert health["task_failures_url"], "django-q2 registers its Failure admin"
    expected = {
        "events_failed_url": 1,
        "events_waiting_url": 1,
        "deliveries_failing_url": 0,
        "deliveries_dead_url": 0,
        "task_failures_url": 1,
    }
    for key, count in expected.items():
        url = health[key]
        if url is None:  # that admin is not registered (yet)
            continue
        listed = admin_client.get(url)
        assert listed.status_code == 200, (key, url)
        assert listed.context["cl"].result_count == count, key


def test_every_number_links_to_exactly_that_many_items_in_the_real_admin(admin_client, db):
    """Against the project's own WorkItemAdmin, once it registers the filters."""
    model_admin = admin.site._registry.get(WorkItem)
    if model_admin is None:
        pytest.skip("WorkItemAdmin is not registered in admin.site yet")
    missing = [f.__name__ for f in DASHBOARD_FILTERS if f not in model_admin.list_filter]
    if missing:
        pytest.skip(f"WorkItemAdmin.list_filter does not include {', '.join(missing)} yet")
    build_fixture(timezone.now())
    assert _check_number_links(admin_client) > 100


# --- SVG ----------------------------------------------------------------------------------------


def test_svg_chart_escapes_text_and_titles_every_bar():
    svg = bar_chart_svg(
        title='Ages <b>"x"</b>',
        description="d & d",
        bars=[
            Bar(label="<script>alert(1)</script>", value=3, title="3 & more", href="/x?a=1&b=2"),
            Bar(label="b", value=0, title="none"),
        ],
    )
    assert "<script" not in svg
    assert "&lt;script&gt;" in svg
    assert "<title>3 &amp; more</title>" in svg and "<title>none</title>" in svg
    assert 'href="/x?a=1&amp;b=2"' in svg
    assert 'role="img"' in svg and "Ages &lt;b&gt;&quot;x&quot;&lt;/b&gt;" in svg
    assert svg.count('class="bar"') == 2


def test_svg_chart_scales_to_the_fixed_maximum():
    svg = bar_chart_svg(
        title="Rates", description="", bars=[Bar("a", 0.5, "half")], max_value=1.0, height=134
    )
    # Plot height 134 − 22 − 34 = 78; half of it is 39.
    assert 'height="39"' in svg
