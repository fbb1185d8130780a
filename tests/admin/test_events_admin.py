"""Inbound events in the admin: read-only pages, the state filter, the replay flow; and the
transition timeline inline."""

import json

import pytest
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission, User
from django.test import RequestFactory
from django.urls import path

import workitems.admin.events  # noqa: F401  (registers InboundEventAdmin until the package imports it)
from audits.models import AuditEvent
from workitems.models import InboundEvent
from workitems.services.ingest import event_ingest

# This module is its own URLconf, built after the registration above, so the test does not depend
# on when the project's URLconf was first loaded.
urlpatterns = [path("admin/", admin.site.urls)]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
State = InboundEvent.State
CHANGELIST = "/admin/workitems/inboundevent/"


def ingest(*elements) -> list[int]:
    result = event_ingest(body=json.dumps(list(elements)).encode(), headers={"User-Agent": "t"})
    return [e.id for e in result.events]


def event(workitem_id: str, minute: int = 0) -> dict:
    return {
        "id": workitem_id,
        "operation": "edit",
        "statusId": "s-1",
        "dateModified": f"2026-07-01T10:{minute:02d}:00Z",
    }


def staff(*codenames: str) -> User:
    user = User.objects.create_user("operator", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def events():
    ids = ingest(event("wi-1"), event("wi-1"), {"no": "id"}, event("wi-2", 5))
    InboundEvent.objects.filter(pk=ids[3]).update(
        state=State.FAILED, attempts=5, error="worktype unknown"
    )
    return ids


def test_the_changelist_and_change_view_load_and_are_read_only(client, admin_user, events):
    client.force_login(admin_user)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"wi-1" in response.content
    change = client.get(f"{CHANGELIST}{events[0]}/change/")
    assert change.status_code == 200
    assert b"&quot;dateModified&quot;: &quot;2026-07-01T10:00:00Z&quot;" in change.content
    assert b"User-Agent" in change.content
    assert b'name="_save"' not in change.content
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.post(f"{CHANGELIST}{events[0]}/delete/").status_code == 403


def test_the_state_filter_and_exact_search(client, admin_user, events):
    client.force_login(admin_user)
    for state, expected in [("duplicate", 1), ("rejected", 1), ("failed", 1), ("accepted", 1)]:
        response = client.get(CHANGELIST, {"state__exact": state})
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) == expected, state
    assert len(client.get(CHANGELIST, {"q": "wi-2"}).context["cl"].result_list) == 1
    assert len(client.get(CHANGELIST, {"q": str(events[0])}).context["cl"].result_list) == 1
    assert len(client.get(CHANGELIST, {"q": "wi"}).context["cl"].result_list) == 0


def test_the_changelist_does_not_load_bodies(admin_user, events):
    model_admin = admin.site._registry[InboundEvent]
    request = RequestFactory().get(CHANGELIST)
    request.user = admin_user
    assert "body" in model_admin.get_queryset(request).query.deferred_loading[0]


def test_replay_needs_its_permission(client, events):
    client.force_login(staff("view_inboundevent"))
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    action_form = response.context["action_form"]
    assert action_form is None or "replay" not in dict(action_form.fields["action"].choices)
    client.post(
        CHANGELIST,
        {"action": "replay", helpers.ACTION_CHECKBOX_NAME: [events[3]], "post": "yes"},
    )
    assert InboundEvent.objects.get(pk=events[3]).state == State.FAILED


def test_replay_asks_for_confirmation_then_resets_the_events(client, events):
    client.force_login(staff("view_inboundevent", "replay_inboundevent"))
    selected = [events[0], events[3]]
    confirm = client.post(CHANGELIST, {"action": "replay", helpers.ACTION_CHECKBOX_NAME: selected})
    assert confirm.status_code == 200
    assert "admin/workitems/inboundevent/replay_confirmation.html" in [
        t.name for t in confirm.templates
    ]
    assert b"Yes, replay" in confirm.content
    assert InboundEvent.objects.get(pk=events[3]).state == State.FAILED  # nothing done yet
    done = client.post(
        CHANGELIST,
        {"action": "replay", helpers.ACTION_CHECKBOX_NAME: selected, "post": "yes"},
    )
    assert done.status_code == 302
    replayed = InboundEvent.objects.get(pk=events[3])
    assert (replayed.state, replayed.attempts, replayed.error) == (State.ACCEPTED, 0, "")
    # The accepted one is still waiting: skipped, not counted twice.
    assert AuditEvent.objects.filter(action="inboundevent.replayed", actor="operator").count() == 1


def test_replay_across_a_filtered_selection_carries_the_filter(client, events):
    InboundEvent.objects.filter(pk=events[0]).update(state=State.FAILED, attempts=5)
    client.force_login(staff("view_inboundevent", "replay_inboundevent"))
    url = f"{CHANGELIST}?state__exact=failed"
    confirm = client.post(
        url, {"action": "replay", "select_across": "1", helpers.ACTION_CHECKBOX_NAME: [events[3]]}
    )
    assert b'name="select_across" value="1"' in confirm.content
    assert b"2</strong> of the 2 selected" in confirm.content
    client.post(
        url,
        {
            "action": "replay",
            "select_across": "1",
            helpers.ACTION_CHECKBOX_NAME: [events[3]],
            "post": "yes",
            "index": "0",
        },
    )
    # Only one row was ticked, but "select all" with the filter replays both failed events.
    assert InboundEvent.objects.get(pk=events[3]).state == State.ACCEPTED
    assert InboundEvent.objects.get(pk=events[0]).state == State.ACCEPTED
    assert InboundEvent.objects.filter(state=State.DUPLICATE).count() == 1
