"""The admin lists that must stay flat at a million rows (benchmarks/admin.py measures them):
a page's keys come first from an index and then only its rows, every filter still selects
exactly its rows in the list's order, within ten queries a page; sorting only on indexed columns;
row links keep the list's filters; the indexes the filters need exist."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audits.models import AuditEvent
from tests import factories
from workitems.admin.workitem_list import KeysFirstPaginator
from workitems.models import LocalState, WorkItem
from workitems.selectors.dashboard import AGE_BUCKETS

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:workitems_workitem_changelist")
AUDIT_LIST = reverse("admin:audits_auditevent_changelist")


def supervisor(client, *codenames: str):
    user = get_user_model().objects.create_user("sup", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def listed(response) -> list[str]:
    return [item.external_ref for item in response.context["cl"].result_list]


@pytest.fixture
def aged_items():
    """Open items, one per age bucket (their refs are the bucket keys), plus a closed and a draft
    item of every age, which no age bucket lists."""
    worktype = factories.worktype(default_queue=factories.queue("Refunds"))
    now = timezone.now()
    ages = {
        "0-15m": timedelta(minutes=5),
        "15-30m": timedelta(minutes=20),
        "30-60m": timedelta(minutes=45),
        "1-4h": timedelta(hours=2),
        "4-24h": timedelta(hours=6),
        "24h+": timedelta(days=3),
    }
    for key, age in ages.items():
        common = {"worktype": worktype, "date_created": now - age}
        factories.workitem(
            external_ref=key,
            genesys_id=f"g-{key}",
            local_state=LocalState.SUBMITTED,
            sla_deadline=now - age + timedelta(hours=1),
            sla_threshold_seconds=3600,
            **common,
        )
        factories.workitem(
            external_ref=f"closed-{key}",
            genesys_id=f"g-closed-{key}",
            local_state=LocalState.SUBMITTED,
            date_closed=now,
            **common,
        )
        factories.workitem(external_ref=f"draft-{key}", **common)
    return worktype


@pytest.mark.parametrize("bucket", [key for key, *_ in AGE_BUCKETS])
def test_each_age_bucket_lists_exactly_the_open_items_of_that_age(client, aged_items, bucket):
    supervisor(client, "view_workitem")

    response = client.get(CHANGELIST, {"age": bucket})

    assert listed(response) == [bucket]


def test_at_risk_lists_the_open_items_with_less_than_a_fifth_of_their_threshold_left(
    client, aged_items
):
    supervisor(client, "view_workitem")
    # 45 min old with a 1 h threshold: 15 min (25 %) left; 50 min old: 10 min (17 %) left.
    now = timezone.now()
    factories.workitem(
        worktype=aged_items,
        external_ref="risky",
        genesys_id="g-risky",
        local_state=LocalState.SUBMITTED,
        date_created=now - timedelta(minutes=50),
        sla_deadline=now + timedelta(minutes=10),
        sla_threshold_seconds=3600,
    )

    assert listed(client.get(CHANGELIST, {"sla": "at_risk"})) == ["risky"]


def test_a_page_read_keys_first_is_the_page_the_list_order_gives(aged_items):
    queryset = WorkItem.objects.select_related("worktype", "queue").order_by("-date_created", "-pk")
    whole = list(queryset)
    paginator = KeysFirstPaginator(queryset, 4)

    pages = [paginator.page(n).object_list for n in paginator.page_range]

    assert [item.pk for page in pages for item in page] == [item.pk for item in whole]
    assert all(len(page) == 4 for page in pages[:-1])
    # The joins came with the rows: reading them is no further query.
    first = pages[0][0]
    assert "worktype" in first._state.fields_cache


def test_a_page_read_keys_first_counts_and_pages_a_filtered_list(aged_items):
    queryset = WorkItem.objects.filter(genesys_id__isnull=False).order_by("external_ref")
    paginator = KeysFirstPaginator(queryset, 5)

    assert paginator.count == 12
    last = [item.external_ref for item in paginator.page(3).object_list]
    assert last == ["closed-30-60m", "closed-4-24h"]


@pytest.mark.parametrize(
    "query",
    [{}, {"sla": "at_risk"}, {"o": "-7"}, *({"age": key} for key, *_ in AGE_BUCKETS)],
    ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "plain",
)
def test_every_work_item_list_page_stays_within_ten_queries_with_a_page_of_rows(
    client, aged_items, query, django_assert_max_num_queries
):
    supervisor(client, "view_workitem", "change_workitem", "submit_workitem")
    now = timezone.now()
    WorkItem.objects.bulk_create(
        WorkItem(
            external_ref=f"bulk-{i}",
            name=f"Bulk {i}",
            worktype=aged_items,
            queue=aged_items.default_queue,
            status=aged_items.statuses.first(),
            workbin=factories.workbin() if i % 10 == 0 else None,
            genesys_id=f"g-bulk-{i}",
            local_state=LocalState.SUBMITTED,
            date_created=now - timedelta(minutes=i * 5),
            sla_deadline=now - timedelta(minutes=i * 5) + timedelta(hours=1),
            sla_threshold_seconds=3600,
        )
        for i in range(120)
    )
    client.get(CHANGELIST, query)

    with django_assert_max_num_queries(10):
        response = client.get(CHANGELIST, query)

    assert response.status_code == 200
    assert listed(response)


def test_the_audit_list_stays_within_ten_queries_with_a_page_of_rows(
    client, django_assert_max_num_queries
):
    supervisor(client, "view_auditevent")
    item = factories.workitem()
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        AuditEvent(
            occurred_at=now - timedelta(seconds=i),
            actor=("system", "genesys", "alice")[i % 3],
            action=("workitem.submitted", "sla.breached")[i % 2],
            object_type="WorkItem",
            object_id=str(item.pk),
            correlation_id=item.external_ref,
        )
        for i in range(150)
    )
    client.get(AUDIT_LIST)

    with django_assert_max_num_queries(10):
        response = client.get(AUDIT_LIST)

    html = response.content.decode()
    item_url = reverse("admin:workitems_workitem_change", args=[item.pk])
    assert html.count(f'href="{item_url}"') == 100  # one object link a row, a page of 100


def test_row_links_keep_the_lists_filters_and_each_row_has_its_action_checkbox(client, aged_items):
    supervisor(client, "view_workitem", "change_workitem")
    item = WorkItem.objects.get(external_ref="4-24h")

    html = client.get(CHANGELIST, {"age": "4-24h"}).content.decode()

    change = reverse("admin:workitems_workitem_change", args=[item.pk])
    assert f'href="{change}?_changelist_filters=age%3D4-24h">4-24h</a>' in html
    assert (
        f'<input type="checkbox" name="_selected_action" value="{item.pk}" class="action-select"'
        in html
    )


def test_the_list_sorts_only_on_columns_an_index_serves():
    model_admin = admin.site._registry[WorkItem]
    indexed = {index.fields[0].lstrip("-") for index in WorkItem._meta.indexes}
    indexed |= {f.name for f in WorkItem._meta.fields if f.unique}

    for column in model_admin.sortable_by:
        attr = getattr(model_admin, column, None)
        field = getattr(attr, "admin_order_field", column)
        assert field.lstrip("-") in indexed, column
    assert "name" not in model_admin.sortable_by and "queue_display" not in model_admin.sortable_by


def test_the_age_buckets_have_partial_indexes_of_open_items_by_age_and_in_the_lists_order():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, WorkItem._meta.db_table)

    assert constraints["workitem_open_age"]["columns"] == ["date_created", "created_at", "id"]
    assert constraints["workitem_open_recent"]["columns"][:2] == ["created_at", "id"]
    if connection.vendor == "postgresql":
        for name in ("workitem_open_age", "workitem_open_recent"):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_get_indexdef(%s::regclass)", [name])
                definition = cursor.fetchone()[0]
            assert "WHERE ((date_closed IS NULL) AND (genesys_id IS NOT NULL))" in definition
        assert "INCLUDE (date_created)" in definition


def test_the_audit_list_has_an_index_for_action_and_outcome_together(client):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, AuditEvent._meta.db_table)

    assert constraints["audit_action_outcome_time"]["columns"] == [
        "action",
        "outcome",
        "occurred_at",
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT stxkind FROM pg_statistic_ext WHERE stxname = %s",
                ["audits_auditevent_action_outcome"],
            )
            assert cursor.fetchone()[0] == ["m"]  # most-common values of the pair


def test_the_audit_list_filtered_by_action_and_outcome_lists_exactly_that_pair(client):
    supervisor(client, "view_auditevent")
    now = timezone.now()
    for action, outcome in [
        ("delivery.sent", "failure"),
        ("delivery.sent", "success"),
        ("sla.breached", "failure"),
    ]:
        AuditEvent.objects.create(
            occurred_at=now, actor="system", action=action, outcome=outcome, object_id=action
        )

    response = client.get(AUDIT_LIST, {"action": "delivery.sent", "outcome__exact": "failure"})

    shown = [(e.action, e.outcome) for e in response.context["cl"].result_list]
    assert shown == [("delivery.sent", "failure")]


@pytest.mark.parametrize(
    ("column", "direction", "expected"),
    [
        ("due_display", "", ["date_due", "pk"]),
        ("due_display", "-", ["-date_due", "-pk"]),
        ("age_display", "-", ["-date_created", "-pk"]),
        ("sla_display", "", ["sla_deadline", "pk"]),
    ],
)
def test_a_sorted_list_breaks_ties_by_id_in_the_columns_own_direction(
    client, aged_items, column, direction, expected
):
    # One index on (column, id) then reads the page in order both ways; Django's -pk for every
    # direction would need a second index or a sort of every row with an empty due date.
    supervisor(client, "view_workitem", "change_workitem")  # actions: the checkbox is column 0
    position = list(admin.site._registry[WorkItem].list_display).index(column) + 1

    response = client.get(CHANGELIST, {"o": f"{direction}{position}"})

    assert list(response.context["cl"].queryset.query.order_by) == expected


def test_the_sorted_columns_have_indexes_on_column_and_id():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, WorkItem._meta.db_table)

    assert constraints["workitem_genesys_created"]["columns"] == ["date_created", "id"]
    assert constraints["workitem_due"]["columns"] == ["date_due", "id"]
    assert constraints["workitem_deadline_id"]["columns"] == ["sla_deadline", "id"]
