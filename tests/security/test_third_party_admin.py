"""django-q2's and django-axes's admin pages are for superusers only, whatever model permissions
a staff user holds: "Resubmit selected tasks" runs any stored task again (as `system`, outside the
portal's own permission-checked actions), a schedule names any function to run, and the lock-out
records hold usernames and addresses. Supervisors run work through the portal's own actions."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ, Schedule, Success, Task

pytestmark = pytest.mark.django_db
SUPERUSER_ONLY_APPS = ("django_q", "axes")


def models_of(apps=SUPERUSER_ONLY_APPS):
    return sorted(
        (m for m in admin.site._registry if m._meta.app_label in apps), key=lambda m: m._meta.label
    )


def task(*, success: bool, name: str) -> Task:
    now = timezone.now()
    return Task.objects.create(
        id=name.ljust(32, "0")[:32],
        name=name,
        func="workitems.tasks.reference_sync_task",
        started=now,
        stopped=now,
        success=success,
        result="boom" if not success else None,
    )


@pytest.fixture
def rows():
    task(success=False, name="failed-sync")
    task(success=True, name="done-sync")
    Schedule.objects.create(name="every minute", func="workitems.tasks.sla_sweep_task")


@pytest.fixture
def viewer(client):
    """A staff user granted every permission of these apps' models (as a careless role might)."""
    user = get_user_model().objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=SUPERUSER_ONLY_APPS)
    )
    client.force_login(user)
    return client


@pytest.fixture
def root(client):
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    return client


def test_both_apps_have_admin_pages_to_protect():
    labels = {m._meta.label for m in models_of()}
    assert {"django_q.Failure", "django_q.Success", "django_q.Schedule"} <= labels
    assert {"axes.AccessAttempt", "axes.AccessLog"} <= labels


def test_a_staff_user_with_view_permission_cannot_resubmit_a_failed_task(viewer, rows):
    failure = Failure.objects.get()
    queued = OrmQ.objects.count()

    response = viewer.post(
        reverse("admin:django_q_failure_changelist"),
        {"action": "resubmit_task", "_selected_action": [failure.pk]},
    )

    assert response.status_code == 403
    assert Failure.objects.filter(pk=failure.pk).exists()  # not deleted
    assert OrmQ.objects.count() == queued  # nothing enqueued


@pytest.mark.parametrize("model", models_of(), ids=lambda m: m._meta.label)
def test_no_page_of_these_apps_opens_for_a_non_superuser(viewer, rows, model):
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert viewer.get(reverse(f"{name}_changelist")).status_code == 403
    obj = model._default_manager.first()
    if obj is not None:
        assert viewer.get(reverse(f"{name}_change", args=[obj.pk])).status_code == 403
        assert (
            viewer.post(reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"}).status_code
            == 403
        )
        assert model._default_manager.filter(pk=obj.pk).exists()


def test_the_admin_index_does_not_list_them_for_a_non_superuser(viewer):
    index = viewer.get(reverse("admin:index"))
    listed = {app["app_label"] for app in index.context["app_list"]}
    assert not listed & set(SUPERUSER_ONLY_APPS)


@pytest.mark.parametrize("model", models_of(), ids=lambda m: m._meta.label)
def test_superusers_still_open_them(root, rows, model):
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert root.get(reverse(f"{name}_changelist")).status_code == 200


def test_a_superuser_can_still_resubmit(root, rows, monkeypatch):
    sent = []
    monkeypatch.setattr("django_q.admin.async_task", lambda *a, **kw: sent.append(a))
    failure = Failure.objects.get()
    response = root.post(
        reverse("admin:django_q_failure_changelist"),
        {"action": "resubmit_task", "_selected_action": [failure.pk]},
    )
    assert response.status_code == 302
    assert sent == [("workitems.tasks.reference_sync_task",)]
    assert Success.objects.count() == 1
