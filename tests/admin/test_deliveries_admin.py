import importlib
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audits.models import AuditEvent
from tests import factories
from workitems.models import Delivery, DeliveryAttempt
from workitems.services.outbox import delivery_enqueue

if Delivery not in admin.site._registry:
    # Until workitems/admin/__init__.py imports it; imported before the URLconf is first loaded.
    import workitems.admin.deliveries  # noqa: F401


pytestmark = pytest.mark.django_db

State = Delivery.State
CHANGELIST = "admin:workitems_delivery_changelist"
REPLAY = "admin:workitems_delivery_replay"
JOB = "workitems.tasks.replay_deliveries"


def staff(username: str, *codenames: str):
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def viewer(client):
    user = staff("viewer", "view_delivery")
    client.force_login(user)
    return user


@pytest.fixture
def operator(client):
    user = staff("operator", "view_delivery", "replay_delivery")
    client.force_login(user)
    return user


def enqueue(item, n=1) -> list[Delivery]:
    with transaction.atomic():
        return [delivery_enqueue(item=item) for _ in range(n)]


@pytest.fixture
def outbox():
    """One item with a delivered, a dead and a waiting delivery; another with a failing one."""
    blocked_item, other = factories.workitem(), factories.workitem()
    delivered, dead, waiting = enqueue(blocked_item, 3)
    (failing,) = enqueue(other)
    Delivery.objects.filter(pk=delivered.pk).update(state=State.DELIVERED, attempts=1)
    Delivery.objects.filter(pk=dead.pk).update(state=State.DEAD, attempts=8, last_status_code=500)
    Delivery.objects.filter(pk=failing.pk).update(state=State.FAILING, attempts=2)
    DeliveryAttempt.objects.create(
        delivery=dead,
        attempted_at=timezone.now(),
        status_code=500,
        duration_ms=42,
        response_excerpt="receiver says no",
    )
    return {"delivered": delivered, "dead": dead, "waiting": waiting, "failing": failing}


def listed(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"delivered", "dead", "waiting", "failing"}),
        ({"attention": "any"}, {"dead", "failing"}),
        ({"attention": "failing"}, {"failing"}),
        ({"attention": "dead"}, {"dead"}),
        ({"attention": "waiting"}, {"waiting"}),
        ({"state__exact": "delivered"}, {"delivered"}),
        ({"kind": "status"}, {"delivered", "dead", "waiting", "failing"}),  # the filter's own link
        ("past-7-days", {"delivered", "dead", "waiting", "failing"}),
    ],
)
def test_changelist_filters_answer_which_deliveries_need_attention(
    client, viewer, outbox, query, expected
):
    if query == "past-7-days":  # what the created_at date filter's link sends
        query = {"created_at__gte": str(timezone.now() - timedelta(days=7))}
    response = client.get(reverse(CHANGELIST), query)
    assert response.status_code == 200
    assert listed(response) == {outbox[name].pk for name in expected}


def test_search_by_exact_external_ref_or_webhook_id(client, viewer, outbox):
    dead = outbox["dead"]
    by_ref = client.get(reverse(CHANGELIST), {"q": dead.workitem.external_ref})
    assert listed(by_ref) == {outbox[n].pk for n in ("delivered", "dead", "waiting")}
    by_id = client.get(reverse(CHANGELIST), {"q": dead.webhook_id})
    assert listed(by_id) == {dead.pk}


def test_change_page_is_read_only_and_shows_the_attempts(client, viewer, outbox):
    dead = outbox["dead"]
    response = client.get(reverse("admin:workitems_delivery_change", args=[dead.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "receiver says no" in page
    assert dead.webhook_id in page
    assert 'name="_save"' not in page


def test_deliveries_cannot_be_added_changed_or_deleted_in_the_admin(client, operator, outbox):
    dead = outbox["dead"]
    assert client.get(reverse("admin:workitems_delivery_add")).status_code == 403
    assert client.get(reverse("admin:workitems_delivery_delete", args=[dead.pk])).status_code == 403
    client.post(reverse("admin:workitems_delivery_change", args=[dead.pk]), {"state": "pending"})
    dead.refresh_from_db()
    assert dead.state == State.DEAD


def test_retry_selected_with_the_permission_sets_failing_and_dead_to_pending(
    client, operator, outbox
):
    chosen = [outbox[n].pk for n in ("dead", "failing", "delivered")]
    response = client.post(
        reverse(CHANGELIST),
        {"action": "retry_selected", admin.helpers.ACTION_CHECKBOX_NAME: chosen},
        follow=True,
    )
    assert response.status_code == 200
    states = dict(Delivery.objects.filter(pk__in=chosen).values_list("pk", "state"))
    assert states == {
        outbox["dead"].pk: State.PENDING,
        outbox["failing"].pk: State.PENDING,
        outbox["delivered"].pk: State.DELIVERED,
    }
    messages = [str(m) for m in response.context["messages"]]
    assert any("Set 2 failing or dead deliveries to go again" in m for m in messages)
    assert AuditEvent.objects.filter(action="delivery.retry", actor="operator").count() == 2


def test_retry_selected_is_not_offered_without_the_permission(client, viewer, outbox):
    page = client.get(reverse(CHANGELIST))
    assert b"retry_selected" not in page.content
    client.post(
        reverse(CHANGELIST),
        {"action": "retry_selected", admin.helpers.ACTION_CHECKBOX_NAME: [outbox["dead"].pk]},
    )
    outbox["dead"].refresh_from_db()
    assert outbox["dead"].state == State.DEAD


def test_the_changelist_links_the_replay_form_only_for_the_permission(client, viewer):
    assert reverse(REPLAY).encode() not in client.get(reverse(CHANGELIST)).content
    assert client.get(reverse(REPLAY)).status_code == 403
    client.force_login(staff("op2", "view_delivery", "replay_delivery"))
    assert reverse(REPLAY).encode() in client.get(reverse(CHANGELIST)).content
    assert client.get(reverse(REPLAY)).status_code == 200


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("2026-11-02T09:00", "2026-11-01T09:00", "The end must be after the start."),
        ("2026-11-01T09:00", "2026-11-01T09:00", "The end must be after the start."),
        ("2026-10-01T09:00", "2026-11-02T09:00", "at most 31 days"),
        ("yesterday", "2026-11-02T09:00", "Enter a valid date/time."),
    ],
)
def test_replay_form_refuses_bad_windows_and_queues_nothing(client, operator, start, end, error):
    with mock.patch("django_q.tasks.async_task") as async_task:
        response = client.post(reverse(REPLAY), {"start": start, "end": end})
    assert response.status_code == 200
    assert error in response.content.decode()
    async_task.assert_not_called()


def test_replay_form_queues_the_background_job_after_commit_and_says_so(
    client, operator, django_capture_on_commit_callbacks
):
    with mock.patch("django_q.tasks.async_task", return_value="task-123") as async_task:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = client.post(
                reverse(REPLAY),
                {"start": "2026-11-01T09:00", "end": "2026-11-08T09:00"},
                follow=True,
            )
        async_task.assert_not_called()  # nothing is queued before the request's work commits
        for callback in callbacks:
            callback()
    assert response.redirect_chain[-1][0] == reverse(CHANGELIST)
    (call,) = async_task.call_args_list
    func, start_iso, end_iso, actor = call.args
    assert func == JOB
    assert (start_iso[:16], end_iso[:16], actor) == (
        "2026-11-01T09:00",
        "2026-11-08T09:00",
        "operator",
    )
    assert call.kwargs["task_name"] == "replay-deliveries-20261101T0900-20261108T0900"
    messages = [str(m) for m in response.context["messages"]]
    assert any(call.kwargs["task_name"] in m and "background job" in m for m in messages)
    audit = AuditEvent.objects.get(action="delivery.replay_requested")
    assert (audit.actor, audit.object_type, audit.context["task_name"]) == (
        "operator",
        "Delivery",
        call.kwargs["task_name"],
    )


def test_the_queued_job_really_runs_the_replay(
    client, operator, outbox, django_capture_on_commit_callbacks
):
    start = timezone.localtime() - timedelta(hours=1)
    end = timezone.localtime() + timedelta(hours=1)
    with (
        mock.patch("django_q.tasks.async_task", return_value="task-1") as async_task,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(
            reverse(REPLAY),
            {"start": start.strftime("%Y-%m-%dT%H:%M"), "end": end.strftime("%Y-%m-%dT%H:%M")},
        )
    func, *args = async_task.call_args.args
    module, _, name = func.rpartition(".")
    getattr(importlib.import_module(module), name)(*args)
    outbox["dead"].refresh_from_db()
    assert outbox["dead"].state == State.PENDING


def test_replay_action_opens_the_form_with_the_selection_s_window(client, operator, outbox):
    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "replay_window_of_selected",
            admin.helpers.ACTION_CHECKBOX_NAME: [outbox["dead"].pk],
        },
    )
    assert response.status_code == 302
    assert response.url.startswith(reverse(REPLAY) + "?start=")
    form = client.get(response.url).context["form"]
    assert form.initial["start"] < form.initial["end"]


def test_deliveries_are_told_in_the_work_items_timeline_with_their_outcome(client):
    item = factories.workitem(genesys_id=factories.gid(), local_state="submitted")
    first, _ = enqueue(item, 2)
    Delivery.objects.filter(pk=first.pk).update(state=State.DEAD, last_status_code=502)
    client.force_login(get_user_model().objects.create_superuser("root", password="x", email=""))

    response = client.get(reverse("admin:workitems_workitem_change", args=[item.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Delivery #1 downstream" in page and "Delivery #2 downstream" in page
    assert "dead (gave up) after" in page and "HTTP 502" in page
    assert page.index("Delivery #2 downstream") < page.index("Delivery #1 downstream")
    assert reverse("admin:workitems_delivery_change", args=[first.pk]) in page
