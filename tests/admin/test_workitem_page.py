"""A work item's page: its timeline for anyone who may view it, the report kept honest (stale
after an edit, checked again before submission), Check and Submit on the page itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from audits.models import AuditEvent
from tests import factories
from workitems.models import LocalState, StatusTransition, Verdict, WorkItem
from workitems.services.queue_snapshot import queue_members_remember_refresh
from workitems.services.routability import workitems_check_routability

pytestmark = pytest.mark.django_db


def staff(client, *codenames: str, username: str = "sup"):
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def page_url(item) -> str:
    return reverse("admin:workitems_workitem_change", args=[item.pk])


@pytest.fixture
def queues(settings):
    """Refunds is staffed, Weekend has nobody joined; both as just synced (no Genesys call)."""
    settings.GENESYS_MEMBER_CACHE_SECONDS = 10**6
    refunds, weekend = factories.queue("Refunds"), factories.queue("Weekend")
    factories.member(refunds, name="Ann", routing_status="IDLE")
    factories.member(weekend, name="Zed", joined=False)
    for q in (refunds, weekend):
        queue_members_remember_refresh(queue=q, at=timezone.now())
    return refunds, weekend


@pytest.fixture
def draft(queues):
    refunds, weekend = queues
    wt = factories.worktype(default_queue=refunds, assignment_enabled=True)
    return factories.workitem(worktype=wt, queue=weekend)


def test_a_viewer_without_transition_permissions_sees_the_timeline_with_seconds(client, queues):
    staff(client, "view_workitem")  # no view_statustransition, no view_delivery
    wt = factories.worktype(default_queue=queues[0])
    item = factories.workitem(
        worktype=wt,
        genesys_id="wi-1",
        local_state=LocalState.SUBMITTED,
        date_created=datetime(2026, 7, 1, 9, 0, 0, tzinfo=UTC),
    )
    StatusTransition.objects.create(
        workitem=item,
        from_status_name="New",
        from_category="Open",
        to_status_name="Investigating",
        to_category="InProgress",
        changed_at=datetime(2026, 7, 1, 9, 22, 13, tzinfo=UTC),
        assignee_name="Ben Hartley",
    )

    html = client.get(page_url(item)).content.decode()

    assert "Timeline" in html
    assert "2026-07-01 09:22:13 UTC" in html
    assert "Status New → Investigating" in html
    assert "Created in Genesys in status New" in html
    assert "22 min 13 s" in html  # time in New
    assert "Ben Hartley" in html
    assert "id-" not in html and "to_status_id" not in html


def test_history_is_the_timeline(client, draft):
    staff(client, "view_workitem")
    AuditEvent.objects.all().delete()
    workitems_check_routability(items=[draft], actor="sam")

    response = client.get(reverse("admin:workitems_workitem_history", args=[draft.pk]))

    html = response.content.decode()
    assert "Routability checked: Not routable" in html
    assert "doesn’t have a change history" not in html and "doesn't have a change" not in html


def test_the_report_lists_failures_first_with_numbers_in_words(client, draft):
    staff(client, "view_workitem", "change_workitem")
    workitems_check_routability(items=[draft], actor="sam")

    html = client.get(page_url(draft)).content.decode()

    first_row = html.index('class="routability-check-')
    assert html[first_row:].startswith('class="routability-check-fail"')
    assert "0 of 1 member joined" in html
    assert "checks passed</summary>" in html


def test_editing_a_check_input_makes_the_verdict_stale_until_checked_again(client, draft, queues):
    refunds, _ = queues
    staff(client, "view_workitem", "change_workitem")
    workitems_check_routability(items=[draft], actor="sam")
    draft.refresh_from_db()
    assert (draft.routability_verdict, draft.local_state) == (
        Verdict.NOT_ROUTABLE,
        LocalState.CHECKED,
    )

    response = client.post(
        page_url(draft),
        {
            "external_ref": draft.external_ref,
            "name": draft.name,
            "worktype": draft.worktype_id,
            "queue": refunds.pk,
            "_continue": "1",
        },
        follow=True,
    )

    html = response.content.decode()
    draft.refresh_from_db()
    assert (draft.routability_verdict, draft.routability_stale) == ("", True)
    assert draft.local_state == LocalState.DRAFT
    assert "Stale: Not routable" in html
    assert "the last verdict no longer holds" in html
    edit = AuditEvent.objects.get(action="workitem.edit")
    assert edit.context["fields"] == ["queue"] and edit.context["verdict_stale"] is True

    response = client.post(reverse("admin:workitems_workitem_check", args=[draft.pk]), follow=True)

    draft.refresh_from_db()
    assert (draft.routability_verdict, draft.routability_stale) == (Verdict.ROUTABLE, False)
    assert f"Checked {draft.external_ref}: Routable." in response.content.decode()


def test_an_edit_that_the_check_does_not_read_keeps_the_verdict(client, draft):
    staff(client, "view_workitem", "change_workitem")
    workitems_check_routability(items=[draft], actor="sam")
    client.post(
        page_url(draft),
        {
            "external_ref": draft.external_ref,
            "name": draft.name,
            "worktype": draft.worktype_id,
            "queue": draft.queue_id,
            "language_id": "en-gb",
        },
    )
    draft.refresh_from_db()
    assert draft.language_id == "en-gb"
    assert (draft.routability_verdict, draft.routability_stale) == (Verdict.NOT_ROUTABLE, False)


def test_submit_from_the_page_checks_a_stale_item_again_first(
    client, draft, queues, monkeypatch, django_capture_on_commit_callbacks
):
    refunds, _ = queues
    staff(client, "view_workitem", "change_workitem", "submit_workitem")
    sent = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: sent.append(a))
    workitems_check_routability(items=[draft], actor="sam")
    WorkItem.objects.filter(pk=draft.pk).update(
        queue=refunds, routability_verdict="", routability_stale=True
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:workitems_workitem_submit", args=[draft.pk]), follow=True
        )

    html = response.content.decode()
    draft.refresh_from_db()
    assert "Checked again before submission: Routable." in html
    assert f"Queued {draft.external_ref} for submission to Genesys." in html
    assert draft.local_state == LocalState.SUBMITTING
    assert sent and sent[0][1] == [draft.pk]  # the same task the list's action queues


def test_submit_from_the_page_refuses_a_not_routable_item(client, draft):
    staff(client, "view_workitem", "change_workitem", "submit_workitem")
    response = client.post(reverse("admin:workitems_workitem_submit", args=[draft.pk]), follow=True)
    draft.refresh_from_db()
    assert draft.local_state == LocalState.CHECKED
    assert "not routable (needs the override permission)" in response.content.decode()


def test_check_and_submit_buttons_follow_permissions_and_state(client, draft):
    staff(client, "view_workitem")
    html = client.get(page_url(draft)).content.decode()
    assert "Submit to Genesys" not in html and "Check routability" not in html
    assert (
        client.post(reverse("admin:workitems_workitem_check", args=[draft.pk])).status_code == 403
    )
    assert (
        client.post(reverse("admin:workitems_workitem_submit", args=[draft.pk])).status_code == 403
    )

    staff(client, "view_workitem", "change_workitem", "submit_workitem", username="sup2")
    html = client.get(page_url(draft)).content.decode()
    assert "Submit to Genesys" in html and "Check routability" in html

    WorkItem.objects.filter(pk=draft.pk).update(local_state=LocalState.SUBMITTED, genesys_id="wi-9")
    html = client.get(page_url(draft)).content.decode()
    assert "Submit to Genesys" not in html


def test_check_and_submit_need_a_post(client, draft):
    staff(client, "view_workitem", "change_workitem", "submit_workitem")
    assert client.get(reverse("admin:workitems_workitem_check", args=[draft.pk])).status_code == 405
    assert (
        client.get(reverse("admin:workitems_workitem_submit", args=[draft.pk])).status_code == 405
    )


def test_a_submitted_items_page_stays_within_ten_queries(
    client, queues, django_assert_max_num_queries
):
    staff(client, "view_workitem")
    wt = factories.worktype(default_queue=queues[0])
    item = factories.workitem(worktype=wt, genesys_id="wi-1", local_state=LocalState.SUBMITTED)
    client.get(page_url(item))  # warm the session and content types

    with django_assert_max_num_queries(10):
        assert client.get(page_url(item)).status_code == 200


def test_a_worktype_setting_is_reported_on_the_worktype_page(client, queues):
    staff(client, "view_worktype")
    wt = factories.worktype(default_queue=queues[0], assignment_enabled=False)
    html = client.get(reverse("admin:workitems_worktype_change", args=[wt.pk])).content.decode()
    assert "routing of its items" in html.lower()
    assert "automatic assignment off (assignmentEnabled)" in html


def test_a_drafts_page_with_its_form_stays_within_ten_queries(
    client, queues, django_assert_max_num_queries
):
    refunds, _ = queues
    staff(client, "view_workitem", "change_workitem", "submit_workitem")
    wt = factories.worktype(default_queue=refunds)
    wt.default_skills.add(factories.skill("Refunds"))
    item = factories.workitem(
        worktype=wt,
        queue=refunds,
        workbin=factories.workbin(name="Triage"),
        skills=[factories.skill("Spanish"), factories.skill("VIP")],
        preferred_agent_ids=[refunds.members.get().user_id],
    )
    workitems_check_routability(items=[item], actor="sam")
    client.get(page_url(item))

    with django_assert_max_num_queries(10):
        html = client.get(page_url(item)).content.decode()

    for label in ("Refunds", "Triage", "Spanish", "VIP", "Ann (idle)"):
        assert f">{label}</option>" in html
