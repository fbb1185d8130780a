"""The work item admin: check routability, the submit confirmation page, permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from tests import factories
from workitems.admin import confirmation
from workitems.models import LocalState, Verdict, WorkItem
from workitems.services.queue_snapshot import queue_members_remember_refresh

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:workitems_workitem_changelist")


def staff(client, *codenames: str):
    user = get_user_model().objects.create_user("sup", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def routable_item(**kw):
    q = factories.queue()
    sk = factories.skill()
    factories.member(q, skills=[(sk, 3)])
    wt = factories.worktype(default_queue=q)
    return factories.workitem(worktype=wt, **kw)


def action(client, name: str, items, **extra):
    data = {"action": name, "_selected_action": [i.pk for i in items], **extra}
    return client.post(CHANGELIST, data, follow=True)


def test_check_routability_stores_a_verdict_and_moves_drafts_to_checked(client, settings):
    settings.GENESYS_MEMBER_CACHE_SECONDS = 10**6
    staff(client, "view_workitem", "change_workitem")
    item = routable_item()
    # Members as just synced: the check reads the mirror, not Genesys.
    queue_members_remember_refresh(queue=item.worktype.default_queue, at=timezone.now())
    response = action(client, "check_routability", [item])
    assert "Checked 1 work item:" in response.content.decode()
    item.refresh_from_db()
    assert item.local_state == LocalState.CHECKED
    assert item.routability_verdict in {Verdict.ROUTABLE, Verdict.WARNINGS}
    page = client.get(reverse("admin:workitems_workitem_change", args=[item.pk]))
    assert "routability" in page.content.decode().lower()


def test_submit_needs_the_submit_permission(client):
    staff(client, "view_workitem", "change_workitem")
    item = routable_item(local_state=LocalState.CHECKED, routability_verdict=Verdict.ROUTABLE)
    response = action(client, "submit_to_genesys", [item])
    # Without the permission the action is not offered at all.
    assert "No action selected" in response.content.decode() or response.status_code == 200
    item.refresh_from_db()
    assert item.local_state == LocalState.CHECKED


def test_submit_shows_a_confirmation_listing_each_item_with_its_verdict(client):
    staff(client, "view_workitem", "change_workitem", "submit_workitem")
    ok = routable_item(local_state=LocalState.CHECKED, routability_verdict=Verdict.ROUTABLE)
    bad = routable_item(local_state=LocalState.CHECKED, routability_verdict=Verdict.NOT_ROUTABLE)
    response = action(client, "submit_to_genesys", [ok, bad])
    html = response.content.decode()
    assert "Yes, submit to Genesys" in html
    assert ok.external_ref in html and bad.external_ref in html
    assert "Not routable" in html and "will be refused" in html
    assert WorkItem.objects.filter(local_state=LocalState.SUBMITTING).count() == 0


def test_a_submit_selection_longer_than_the_list_says_how_many_in_all(client, monkeypatch):
    # The submit page is one of the shared confirmation pages: its limit, its count, its form.
    monkeypatch.setattr(confirmation, "CONFIRM_LIST_LIMIT", 2)
    staff(client, "view_workitem", "change_workitem", "submit_workitem")
    items = [
        routable_item(local_state=LocalState.CHECKED, routability_verdict=Verdict.ROUTABLE)
        for _ in range(3)
    ]
    response = action(client, "submit_to_genesys", items)
    html = response.content.decode()
    assert "admin/workitems/_confirmation_form.html" in [t.name for t in response.templates]
    assert "You are about to submit <strong>3</strong> work items" in html
    assert "… 3 in all; the first 2 are listed." in html
    assert items[2].external_ref not in html
    assert '<input type="submit" value="Yes, submit to Genesys">' in html


def test_confirming_queues_routable_items_and_refuses_not_routable_ones(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    staff(client, "view_workitem", "change_workitem", "submit_workitem")
    sent = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: sent.append(a))
    ok = routable_item(local_state=LocalState.CHECKED, routability_verdict=Verdict.ROUTABLE)
    bad = routable_item(local_state=LocalState.CHECKED, routability_verdict=Verdict.NOT_ROUTABLE)
    with django_capture_on_commit_callbacks(execute=True):
        response = action(client, "submit_to_genesys", [ok, bad], post="yes")
    html = response.content.decode()
    assert "Queued 1 work item for submission" in html
    assert "Refused 1 work item" in html
    ok.refresh_from_db()
    bad.refresh_from_db()
    assert (ok.local_state, bad.local_state) == (LocalState.SUBMITTING, LocalState.CHECKED)
    assert sent and sent[0][1] == [ok.pk]


def test_the_override_permission_lets_not_routable_items_through(client, monkeypatch):
    staff(client, "view_workitem", "change_workitem", "submit_workitem", "override_routability")
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: None)
    bad = routable_item(local_state=LocalState.CHECKED, routability_verdict=Verdict.NOT_ROUTABLE)
    confirm = action(client, "submit_to_genesys", [bad]).content.decode()
    assert "submitted anyway" in confirm
    action(client, "submit_to_genesys", [bad], post="yes")
    bad.refresh_from_db()
    assert bad.local_state == LocalState.SUBMITTING


def test_retry_failed_only_resubmits_failed_items(client, monkeypatch):
    staff(client, "view_workitem", "change_workitem", "submit_workitem")
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: None)
    failed = routable_item(local_state=LocalState.FAILED, routability_verdict=Verdict.ROUTABLE)
    done = routable_item(
        local_state=LocalState.SUBMITTED,
        routability_verdict=Verdict.ROUTABLE,
        genesys_id=factories.gid(),
    )
    action(client, "retry_failed", [failed, done], post="yes")
    failed.refresh_from_db()
    done.refresh_from_db()
    assert failed.local_state == LocalState.SUBMITTING
    assert done.local_state == LocalState.SUBMITTED


def test_a_submitted_item_is_read_only(client):
    staff(client, "view_workitem", "change_workitem")
    item = routable_item(local_state=LocalState.SUBMITTED, genesys_id=factories.gid())
    page = client.get(reverse("admin:workitems_workitem_change", args=[item.pk])).content.decode()
    assert 'name="name"' not in page
    assert 'name="_save"' not in page  # view-only: no Save buttons either


def test_the_form_offers_only_the_worktypes_open_statuses_and_refuses_others(client):
    staff(client, "view_workitem", "change_workitem", "add_workitem")
    q = factories.queue()
    ben = factories.member(q, name="Ben Hartley")
    wt = factories.worktype(default_queue=q)
    other = factories.worktype(default_queue=factories.queue())
    form_page = client.get(reverse("admin:workitems_workitem_add") + f"?worktype={wt.pk}")
    status_field = form_page.context["adminform"].form.fields["status"]
    assert sorted(s.name for s in status_field.queryset) == ["New", "On hold", "Working"]
    data = {
        "external_ref": "crm-9",
        "name": "A new one",
        "worktype": wt.pk,
        "status": other.statuses.get(name="New").pk,
        "preferred_agent_ids": [ben.user_id],
    }
    page = client.post(reverse("admin:workitems_workitem_add"), data).content.decode()
    assert "Select a valid choice" in page
    data["status"] = wt.statuses.get(name="Done").pk
    page = client.post(reverse("admin:workitems_workitem_add"), data).content.decode()
    assert "Select a valid choice" in page
    data["status"] = wt.statuses.get(name="New").pk
    response = client.post(reverse("admin:workitems_workitem_add"), data)
    assert response.status_code == 302
    created = WorkItem.objects.get(external_ref="crm-9")
    assert created.created_by.username == "sup"
    assert created.preferred_agent_ids == [ben.user_id]


def test_the_form_refuses_custom_fields_that_break_the_worktypes_schema_naming_the_field(client):
    staff(client, "view_workitem", "change_workitem", "add_workitem")
    wt = factories.worktype(
        default_queue=factories.queue(),
        schema_id="sc-1",
        schema_version=1,
        json_schema={
            "type": "object",
            "properties": {
                "amount_number": {"allOf": [{"$ref": "#/definitions/number"}], "title": "Amount"}
            },
        },
    )
    data = {
        "external_ref": "crm-10",
        "name": "A new one",
        "worktype": wt.pk,
        "cf__amount_number": "lots",
    }

    refused = client.post(reverse("admin:workitems_workitem_add"), data).content.decode()
    nothing_saved = not WorkItem.objects.filter(external_ref="crm-10").exists()
    data["cf__amount_number"] = "12.5"
    accepted = client.post(reverse("admin:workitems_workitem_add"), data)

    assert "Amount (amount_number) must be a number." in refused
    assert nothing_saved
    assert accepted.status_code == 302
    assert WorkItem.objects.get(external_ref="crm-10").custom_fields == {"amount_number": 12.5}


def test_the_sla_export_button_and_route_need_the_export_permission(client):
    staff(client, "view_workitem", "export_sla")
    routable_item(
        genesys_id=factories.gid(), date_created=timezone.now(), local_state=LocalState.SUBMITTED
    )
    changelist = client.get(CHANGELIST + "?local_state__exact=submitted").content.decode()
    assert 'id="sla-export"' in changelist
    assert '<input type="hidden" name="local_state__exact" value="submitted">' in changelist
    response = client.get(
        reverse("admin:workitems_workitem_sla_export") + "?local_state__exact=submitted"
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("id,external_ref,")


def test_without_the_export_permission_there_is_no_sla_export(client):
    staff(client, "view_workitem")
    assert 'id="sla-export"' not in client.get(CHANGELIST).content.decode()
    assert client.get(reverse("admin:workitems_workitem_sla_export")).status_code == 403


def test_a_long_list_pages_without_counting_beyond_the_cap(client, django_assert_max_num_queries):
    staff(client, "view_workitem")
    item = routable_item()
    WorkItem.objects.bulk_create(
        WorkItem(external_ref=f"bulk-{i}", name=f"Item {i}", worktype=item.worktype)
        for i in range(150)
    )
    page = client.get(CHANGELIST).content.decode()
    assert "?p=2" in page
    assert "151 work items" in page


def test_submitting_with_select_across_takes_every_item_the_filters_select(client, monkeypatch):
    import re

    staff(client, "view_workitem", "change_workitem", "submit_workitem")
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **kw: None)
    items = [
        routable_item(local_state=LocalState.CHECKED, routability_verdict=Verdict.ROUTABLE)
        for _ in range(3)
    ]
    # The changelist posts the ticked rows of the page plus select_across for "all of them".
    confirm = action(client, "submit_to_genesys", items[:1], select_across="1", index="0")
    html = confirm.content.decode()
    assert all(i.external_ref in html for i in items)
    # Post back exactly what the confirmation form carries.
    form = html[html.index('<form method="post">') :]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        fields.setdefault(name, []).append(value)
    done = client.post(CHANGELIST, fields, follow=True)
    assert "Queued 3 work items" in done.content.decode()
