"""The audit changelist: read-only, filtered and searched through indexes, never counting it all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audits.filters import distinct_values
from audits.models import AuditEvent, Outcome
from portal.paginator import CappedCountPaginator

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:audits_auditevent_changelist")
DAY = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)


def event(**kw) -> AuditEvent:
    kw.setdefault("occurred_at", DAY)
    kw.setdefault("actor", "system")
    kw.setdefault("action", "sla.breached")
    return AuditEvent.objects.create(**kw)


def staff(*codenames: str) -> User:
    user = User.objects.create_user("staff-" + "-".join(codenames), password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def viewer_client(client):
    client.force_login(staff("view_auditevent"))
    return client


@pytest.fixture
def exporter_client(client):
    client.force_login(staff("view_auditevent", "export_auditevent"))
    return client


def listed(response) -> list[AuditEvent]:
    assert response.status_code == 200, response
    return list(response.context["cl"].result_list)


# --- filters ---------------------------------------------------------------------------------------


def test_action_filter_lists_distinct_actions_and_narrows_to_one(viewer_client):
    submit = event(action="workitem.submit")
    event(action="sla.breached")
    event(action="sla.breached")

    response = viewer_client.get(CHANGELIST, {"action": "workitem.submit"})

    assert listed(response) == [submit]
    spec = next(s for s in response.context["cl"].filter_specs if s.title == "action")
    assert [value for value, _ in spec.lookup_choices] == ["sla.breached", "workitem.submit"]


def test_distinct_values_walks_the_index_in_order_and_stops_at_the_limit():
    for action in ["c", "a", "b", "a", "d"]:
        event(action=action)

    assert distinct_values("action", limit=10) == ["a", "b", "c", "d"]
    assert distinct_values("action", limit=2) == ["a", "b"]


def test_actor_filter_narrows_to_one_actor_even_when_not_among_the_choices(viewer_client):
    alice = event(actor="alice")
    event(actor="bob")

    assert listed(viewer_client.get(CHANGELIST, {"actor": "alice"})) == [alice]
    assert listed(viewer_client.get(CHANGELIST, {"actor": "nobody"})) == []


def test_outcome_filter_narrows_to_one_outcome(viewer_client):
    failed = event(outcome=Outcome.FAILURE)
    event(outcome=Outcome.SUCCESS)

    assert listed(viewer_client.get(CHANGELIST, {"outcome__exact": "failure"})) == [failed]


def test_date_range_filter_includes_both_days_and_says_so(viewer_client):
    event(occurred_at=DAY - timedelta(days=1))
    first = event(occurred_at=datetime(2024, 5, 2, 0, 0, tzinfo=UTC))
    last = event(occurred_at=datetime(2024, 5, 2, 23, 59, 59, 999999, tzinfo=UTC))
    event(occurred_at=datetime(2024, 5, 3, 0, 0, tzinfo=UTC))

    # The case: "from 2 Dec" with "to 2 Dec" is that whole day, not nothing.
    response = viewer_client.get(
        CHANGELIST, {"occurred_at__gte": "2024-05-02", "occurred_at__lte": "2024-05-02"}
    )

    assert listed(response) == [last, first]
    spec = next(s for s in response.context["cl"].filter_specs if s.title == "time")
    [custom] = [c for c in spec.choices(response.context["cl"]) if c["selected"]]
    assert custom["display"] == "2024-05-02"

    response = viewer_client.get(
        CHANGELIST, {"occurred_at__gte": "2024-05-01", "occurred_at__lte": "2024-05-02"}
    )
    assert len(listed(response)) == 3
    spec = next(s for s in response.context["cl"].filter_specs if s.title == "time")
    [custom] = [c for c in spec.choices(response.context["cl"]) if c["selected"]]
    assert custom["display"] == "2024-05-01 to 2024-05-02 (inclusive)"


def test_an_exclusive_before_still_works_for_links(viewer_client):
    first = event(occurred_at=datetime(2024, 5, 2, 0, 0, tzinfo=UTC))
    event(occurred_at=datetime(2024, 5, 3, 0, 0, tzinfo=UTC))
    response = viewer_client.get(
        CHANGELIST, {"occurred_at__gte": "2024-05-02", "occurred_at__lt": "2024-05-03"}
    )
    assert listed(response) == [first]


def test_a_to_date_time_is_inclusive_to_the_second(viewer_client):
    inside = event(occurred_at=datetime(2024, 5, 2, 10, 0, 0, 500000, tzinfo=UTC))
    event(occurred_at=datetime(2024, 5, 2, 10, 0, 1, tzinfo=UTC))
    response = viewer_client.get(CHANGELIST, {"occurred_at__lte": "2024-05-02T10:00:00+00:00"})
    assert listed(response) == [inside]


def test_date_range_presets_select_recent_events(viewer_client):
    recent = event(occurred_at=timezone.now() - timedelta(hours=1))
    event(occurred_at=timezone.now() - timedelta(days=40))
    response = viewer_client.get(CHANGELIST)
    spec = next(s for s in response.context["cl"].filter_specs if s.title == "time")
    choices = {c["display"]: c for c in spec.choices(response.context["cl"])}
    assert list(choices)[:2] == ["Any time", "Past 24 hours"]

    response = viewer_client.get(CHANGELIST + choices["Past 7 days"]["query_string"])

    assert listed(response) == [recent]
    spec = next(s for s in response.context["cl"].filter_specs if s.title == "time")
    selected = [c["display"] for c in spec.choices(response.context["cl"]) if c["selected"]]
    assert selected == ["Past 7 days"]


def test_unreadable_date_is_refused_like_any_bad_filter(viewer_client):
    response = viewer_client.get(CHANGELIST, {"occurred_at__gte": "yesterday-ish"})
    assert response.status_code == 302
    assert "e=1" in response["Location"]


def test_search_bar_carries_actor_and_date_inputs(viewer_client):
    response = viewer_client.get(CHANGELIST, {"actor": "alice", "outcome__exact": "failure"})
    html = response.content.decode()
    assert 'name="actor" value="alice"' in html
    assert 'type="date" name="occurred_at__gte"' in html
    assert 'type="date" name="occurred_at__lte"' in html and "to (inclusive)" in html
    assert '<input type="hidden" name="outcome__exact" value="failure">' in html


# --- search ------------------------------------------------------------------------------------------


def test_search_finds_an_exact_correlation_id(viewer_client):
    hit = event(correlation_id="CRM-4711")
    event(correlation_id="CRM-47110")

    assert listed(viewer_client.get(CHANGELIST, {"q": "CRM-4711"})) == [hit]
    # Exact and case-sensitive, so a plain btree index answers it.
    assert listed(viewer_client.get(CHANGELIST, {"q": "crm-4711"})) == []


def test_search_finds_an_exact_object_id_of_any_object_type(viewer_client):
    item = event(object_type="WorkItem", object_id="42")
    delivery = event(object_type="Delivery", object_id="42")
    event(object_type="WorkItem", object_id="420")

    assert set(listed(viewer_client.get(CHANGELIST, {"q": " 42 "}))) == {item, delivery}


# --- cost ----------------------------------------------------------------------------------------------


def test_changelist_never_counts_the_whole_table(viewer_client):
    for i in range(30):
        event(action=f"a{i % 3}", actor=f"u{i % 4}", correlation_id=str(i))

    for params in [{}, {"action": "a1"}, {"q": "7"}, {"actor": "u1", "outcome__exact": "success"}]:
        with CaptureQueriesContext(connection) as captured:
            assert viewer_client.get(CHANGELIST, params).status_code == 200
        counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
        assert counts, "the paginator should still count, capped"
        for sql in counts:
            assert "LIMIT" in sql.upper(), sql
        assert not any("DISTINCT" in q["sql"].upper() for q in captured.captured_queries)


def test_count_over_the_cap_is_labelled_more_than(viewer_client, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 5)
    for _ in range(8):
        event(action="many")

    response = viewer_client.get(CHANGELIST, {"action": "many"})

    html = response.content.decode()
    assert "more than 5 results" in html
    assert "more than 5 audit events" in html
    assert ">8<" not in html


def test_count_under_the_cap_is_exact(viewer_client):
    for _ in range(3):
        event()
    assert "3 audit events" in viewer_client.get(CHANGELIST).content.decode()


# --- append-only ------------------------------------------------------------------------------------


def test_add_change_and_delete_are_denied_even_to_a_superuser(admin_client):
    e = event(context={"verdict": "routable", "nested": {"b": 1}})
    change = reverse("admin:audits_auditevent_change", args=[e.pk])

    assert admin_client.get(reverse("admin:audits_auditevent_add")).status_code == 403
    assert admin_client.post(change, {"actor": "mallory"}).status_code == 403
    assert (
        admin_client.post(reverse("admin:audits_auditevent_delete", args=[e.pk])).status_code == 403
    )
    e.refresh_from_db()
    assert e.actor == "system"


def test_change_view_shows_the_context_pretty_printed(admin_client):
    e = event(context={"verdict": "routable", "nested": {"b": 1}})
    response = admin_client.get(reverse("admin:audits_auditevent_change", args=[e.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<pre" in html
    assert "&quot;nested&quot;: {\n    &quot;b&quot;: 1\n  }" in html


def test_no_bulk_actions_offered(viewer_client):
    event()
    response = viewer_client.get(CHANGELIST)
    assert "action-checkbox" not in response.content.decode()


# --- export button ------------------------------------------------------------------------------------


def test_export_form_carries_the_current_filters_and_offers_each_format(exporter_client):
    event()
    response = exporter_client.get(CHANGELIST, {"action": "x", "p": "1", "o": "2"})
    html = response.content.decode()
    export = reverse("admin:audits_auditevent_export")
    assert f'action="{export}"' in html
    assert '<input type="hidden" name="action" value="x">' in html
    assert 'name="p"' not in html.split('id="audit-export"')[1].split("</form>")[0]
    for key in ("csv", "excel", "jsonl"):
        assert f'<option value="{key}">' in html
    assert reverse("admin:audits_exportmanifest_changelist") in html


def test_export_form_hidden_without_the_permission(viewer_client):
    event()
    assert 'id="audit-export"' not in viewer_client.get(CHANGELIST).content.decode()


# --- readable rows ------------------------------------------------------------------------------


def test_list_shows_action_labels_times_to_the_second_and_links_to_the_item(admin_client):
    from workitems.models import WorkItem  # noqa: F401  (the admin page the link goes to)

    event(
        action="workitem.submit",
        object_type="WorkItem",
        object_id="42",
        occurred_at=datetime(2024, 5, 2, 12, 0, 7, 654321, tzinfo=UTC),
    )
    html = admin_client.get(CHANGELIST).content.decode()
    assert '<span title="workitem.submit">Submitted to Genesys</span>' in html
    assert "2024-05-02 12:00:07" in html and "12:00:07.65" not in html
    item_url = reverse("admin:workitems_workitem_change", args=["42"])
    assert f'<a href="{item_url}">42</a>' in html


def test_detail_shows_the_label_the_item_link_and_the_seal(admin_client):
    from audits.chain import audit_seal

    e = event(action="workitem.event.applied", object_type="WorkItem", object_id="7")
    audit_seal()
    html = admin_client.get(reverse("admin:audits_auditevent_change", args=[e.pk])).content.decode()
    assert "Event applied" in html
    assert reverse("admin:workitems_workitem_change", args=["7"]) in html
    assert "position 1, SHA-256" in html
