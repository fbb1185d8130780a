"""The admin's "Refresh from Genesys" asks a service: the job is queued on commit and audited."""

from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from audits.models import AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db


def test_refresh_from_genesys_queues_the_sync_after_commit_and_audits_who_asked(
    client, django_capture_on_commit_callbacks
):
    user = get_user_model().objects.create_user("ops", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_queue", "sync_reference"])
    )
    client.force_login(user)
    queue = factories.queue()
    with mock.patch("django_q.tasks.async_task") as async_task:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            client.post(
                reverse("admin:workitems_queue_changelist"),
                {"action": "refresh_from_genesys", "_selected_action": [queue.pk]},
            )
        async_task.assert_not_called()  # nothing runs before the request's transaction commits
        for callback in callbacks:
            callback()
    (call,) = async_task.call_args_list
    assert call.args == ("workitems.tasks.sync_reference_data", ["queues"], "ops")
    audit = AuditEvent.objects.get(action="reference.sync_requested")
    assert (audit.actor, audit.object_type, audit.context) == (
        "ops",
        "SyncRun",
        {"kinds": ["queues"]},
    )
