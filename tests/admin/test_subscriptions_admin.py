"""Event subscriptions in the admin: the Genesys verbs need `manage_subscription`, deletion goes
through Genesys after a confirmation page, and the Test page shows each validation step."""

from __future__ import annotations

import json

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from audits.models import AuditEvent
from simulator import store
from simulator.triggers import TRIGGER
from workitems.models import EventSubscription

if not admin.site.is_registered(EventSubscription):
    # Until workitems/admin/__init__.py imports it; imported before the URLconf is first loaded.
    import workitems.admin.subscriptions  # noqa: F401

pytestmark = pytest.mark.usefixtures("genesys_simulator")

CHANGELIST = "admin:workitems_eventsubscription_changelist"
WORKFLOW = "b796bd10-b101-4a46-acc6-2705157d00e1"
EDITOR_PERMS = (
    "view_eventsubscription",
    "add_eventsubscription",
    "change_eventsubscription",
    "delete_eventsubscription",
)


def staff(username: str, *codenames: str):
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def manager(client):
    user = staff("manager", *EDITOR_PERMS, "manage_subscription")
    client.force_login(user)
    return user


@pytest.fixture
def editor(client):
    user = staff("editor", *EDITOR_PERMS)
    client.force_login(user)
    return user


def subscription(**kw) -> EventSubscription:
    return EventSubscription.objects.create(
        **{
            "name": "Work item changes",
            "target_workflow_id": WORKFLOW,
            "match_criteria": [{"jsonPath": "operation", "operator": "Equal", "value": "edit"}],
            **kw,
        }
    )


def act(client, action: str, *subs, **extra):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [s.pk for s in subs], **extra},
        follow=True,
    )


def texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def pushed(client, **kw) -> EventSubscription:
    sub = subscription(**kw)
    act(client, "push_selected", sub)
    sub.refresh_from_db()
    assert sub.genesys_id
    return sub


# --- Changelist and verbs ---------------------------------------------------------------------


def test_the_changelist_shows_the_genesys_state_and_offers_the_verbs(client, manager):
    sub = subscription(last_error="Genesys 403: " + "x" * 200)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert sub.name in html and "v2.taskmanagement.workitems.{id}" in html
    assert "x" * 90 not in html  # the error is shortened
    actions = [value for value, _ in response.context["action_form"].fields["action"].choices]
    assert {
        "push_selected",
        "enable_selected",
        "disable_selected",
        "delete_in_genesys",
        "test",
    } <= set(actions)
    assert "delete_selected" not in actions


def test_without_the_permission_no_verb_is_offered_or_run(client, editor):
    sub = subscription()
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert response.context["action_form"] is None  # no verb at all for this user
    act(client, "push_selected", sub)
    sub.refresh_from_db()
    assert sub.genesys_id is None and store.count(TRIGGER) == 0


def test_create_update_in_genesys_pushes_each_selected_subscription(client, manager):
    first, second = subscription(), subscription(name="Closed items only")
    response = act(client, "push_selected", first, second)
    assert "Created or updated in Genesys: 2 subscriptions." in texts(response)
    assert store.count(TRIGGER) == 2
    first.refresh_from_db()
    assert first.version == 1 and first.synced_at
    assert AuditEvent.objects.filter(action="subscription.push", actor="manager").count() == 2


def test_a_genesys_refusal_is_shown_and_kept_on_the_subscription(client, manager):
    sub = subscription(target_workflow_id="not-a-workflow-uuid")
    response = act(client, "push_selected", sub)
    (message,) = texts(response)
    assert "Genesys refused to create the trigger" in message and "target.id" in message
    sub.refresh_from_db()
    assert "contextId" in sub.last_error


def test_disable_and_enable_change_the_trigger_in_genesys(client, manager):
    sub = pushed(client)
    assert "Disabled: 1 subscription." in texts(act(client, "disable_selected", sub))
    assert store.get(TRIGGER, sub.genesys_id)["enabled"] is False
    act(client, "enable_selected", sub)
    sub.refresh_from_db()
    assert sub.enabled and store.get(TRIGGER, sub.genesys_id)["version"] == 3


def test_delete_in_genesys_asks_first_then_deletes_there_and_here(client, manager):
    sub = pushed(client)
    confirm = client.post(
        reverse(CHANGELIST), {"action": "delete_in_genesys", "_selected_action": [sub.pk]}
    )
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "Yes, delete in Genesys" in html and sub.genesys_id in html
    assert EventSubscription.objects.exists() and store.count(TRIGGER) == 1

    done = act(client, "delete_in_genesys", sub, post="yes")
    assert any("in Genesys and" in m for m in texts(done))
    assert not EventSubscription.objects.exists() and store.count(TRIGGER) == 0


def test_a_pushed_subscription_cannot_be_deleted_only_here(client, manager):
    sub = pushed(client)
    page = client.get(reverse("admin:workitems_eventsubscription_change", args=[sub.pk]))
    assert "deletelink" not in page.content.decode()
    assert (
        client.post(reverse("admin:workitems_eventsubscription_delete", args=[sub.pk])).status_code
        == 403
    )


def test_the_change_page_locks_the_topic_once_in_genesys_and_links_the_test_page(client, manager):
    sub = pushed(client)
    page = client.get(reverse("admin:workitems_eventsubscription_change", args=[sub.pk]))
    assert "topic_name" not in page.context["adminform"].form.fields
    assert reverse("admin:workitems_eventsubscription_test", args=[sub.pk]) in page.content.decode()


def test_the_form_applies_genesys_rules(client, manager):
    data = {
        "name": "Late events",
        "description": "",
        "topic_name": "v2.taskmanagement.workitems",
        "match_criteria": json.dumps([{"jsonPath": "operation", "operator": "Like", "value": "x"}]),
        "target_workflow_id": WORKFLOW,
        "data_format": "Json",
        "event_ttl_seconds": "",
        "delay_by_seconds": "30",
        "enabled": "on",
    }
    response = client.post(reverse("admin:workitems_eventsubscription_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "60 to 900" in str(errors["delay_by_seconds"])
    assert "{id} wildcard" in str(errors["topic_name"])
    assert "operator must be one of" in str(errors["match_criteria"])
    assert not EventSubscription.objects.exists()


# --- Test page --------------------------------------------------------------------------------


def test_the_test_action_opens_the_page_for_one_subscription(client, manager):
    sub, other = subscription(), subscription(name="Other")
    response = client.post(reverse(CHANGELIST), {"action": "test", "_selected_action": [sub.pk]})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:workitems_eventsubscription_test", args=[sub.pk])
    assert "Select exactly one" in texts(act(client, "test", sub, other))[0]


def test_the_test_page_is_prefilled_with_a_sample_event(client, manager):
    sub = pushed(client)
    page = client.get(reverse("admin:workitems_eventsubscription_test", args=[sub.pk]))
    assert page.status_code == 200
    event = json.loads(page.context["form"].initial["event"])
    assert event["operation"] == "edit" and "customFields" in event
    assert "Refund for order WEB-4711" in page.content.decode()


def test_submitting_an_event_shows_each_step_and_stores_the_result(client, manager):
    sub = pushed(client)
    url = reverse("admin:workitems_eventsubscription_test", args=[sub.pk])
    event = {**json.loads(client.get(url).context["form"].initial["event"]), "operation": "add"}
    page = client.post(url, {"event": json.dumps(event)})
    html = page.content.decode()
    assert "the trigger does not match this event" in html
    assert "Validate test event body against topic schema" in html
    assert "Verify that trigger target is configured correctly" in html
    assert "Check jsonPath match criteria" in html
    assert "no match" in html and "$[&#x27;operation&#x27;] = &quot;add&quot;" in html
    steps = page.context["steps"]
    assert [s["matches"] for s in steps] == [True, True, False]
    sub.refresh_from_db()
    assert sub.last_test_result["triggerMatches"] is False
    assert AuditEvent.objects.filter(action="subscription.test", actor="manager").exists()


def test_malformed_json_is_a_form_error_and_nothing_is_sent(client, manager):
    sub = pushed(client)
    url = reverse("admin:workitems_eventsubscription_test", args=[sub.pk])
    page = client.post(url, {"event": "{not json"})
    assert "This is not valid JSON (" in str(page.context["form"].errors)
    assert not AuditEvent.objects.filter(action="subscription.test").exists()


def test_testing_a_subscription_not_in_genesys_says_so(client, manager):
    sub = subscription()
    url = reverse("admin:workitems_eventsubscription_test", args=[sub.pk])
    page = client.post(url, {"event": "{}"})
    assert "not in Genesys yet" in page.content.decode()


def test_the_test_page_needs_the_permission(client, editor):
    sub = subscription()
    url = reverse("admin:workitems_eventsubscription_test", args=[sub.pk])
    assert client.get(url).status_code == 403
