"""The supervisor's path in the admin, against the simulator: import a CSV of drafts, read the
routability reports, submit the routable ones, see them created in Genesys."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from simulator import store
from simulator.render import WORKITEM
from workitems.models import ImportBatch, LocalState, Verdict, WorkItem

pytestmark = pytest.mark.usefixtures("genesys_simulator")
CHANGELIST = reverse("admin:workitems_workitem_changelist")
CSV = """external_ref,name,worktype,queue,priority,description,date_due,date_expires,skills,preferred_agents,custom_fields
CRM-1,Refund for order A-1,Refund request,Refunds,10,,,,Refunds,,"{""order_number_text"": ""A-001"", ""amount_number"": 20}"
CRM-2,Refund for order A-2,Refund request,Refunds,10,,,,Refunds,,"{""order_number_text"": ""A-002"", ""amount_number"": 30}"
CRM-3,Weekend refund,Refund request,Weekend Overflow,10,,,,,,"{""order_number_text"": ""A-003"", ""amount_number"": 5}"
"""


@pytest.fixture
def supervisor(client):
    call_command("genesys_sync")
    user = get_user_model().objects.create_user("supervisor", password="pw", is_staff=True)
    codenames = [
        "view_workitem",
        "add_workitem",
        "change_workitem",
        "submit_workitem",
        "import_workitems",
    ]
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


@pytest.fixture
def run_tasks_now(monkeypatch, django_capture_on_commit_callbacks):
    """django-q2's async_task runs the task in this process, as the cluster would."""

    def run(func, *args, **kwargs):
        module, name = func.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)(*args)

    monkeypatch.setattr("django_q.tasks.async_task", run)
    return django_capture_on_commit_callbacks


def test_import_check_and_submit_from_the_admin(client, supervisor, run_tasks_now):
    upload = client.post(
        reverse("admin:workitems_importbatch_add"),
        {"file": SimpleUploadedFile("drafts.csv", CSV.encode(), "text/csv")},
    )
    batch = ImportBatch.objects.get()
    assert upload.status_code == 302
    client.post(reverse("admin:workitems_importbatch_confirm", args=[batch.pk]))
    assert WorkItem.objects.count() == 3

    ids = list(WorkItem.objects.order_by("external_ref").values_list("pk", flat=True))
    client.post(CHANGELIST, {"action": "check_routability", "_selected_action": ids})
    weekend = WorkItem.objects.get(external_ref="CRM-3")
    assert weekend.routability_verdict == Verdict.NOT_ROUTABLE
    report = client.get(
        reverse("admin:workitems_workitem_change", args=[weekend.pk])
    ).content.decode()
    assert "Not routable" in report and "joined" in report  # the reason, in words

    confirm = client.post(CHANGELIST, {"action": "submit_to_genesys", "_selected_action": ids})
    assert "Yes, submit to Genesys" in confirm.content.decode()
    with run_tasks_now(execute=True):
        done = client.post(
            CHANGELIST,
            {"action": "submit_to_genesys", "_selected_action": ids, "post": "yes"},
            follow=True,
        )
    assert "Refused 1" in done.content.decode()  # CRM-3: not routable, no override permission
    submitted = WorkItem.objects.filter(local_state=LocalState.SUBMITTED).order_by("external_ref")
    assert [i.external_ref for i in submitted] == ["CRM-1", "CRM-2"]
    for item in submitted:
        assert store.get(WORKITEM, item.genesys_id)["externalTag"] == item.external_ref
    listing = client.get(CHANGELIST).content.decode()
    rows = {
        ref: row
        for row in listing.split("<tr")[1:]
        for ref in ("CRM-1", "CRM-2")
        if f">{ref}<" in row
    }
    assert all("Submitted" in rows[item.external_ref] for item in submitted)
