"""Every admin page a supervisor can reach loads: changelist, add and change, for every model."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from audits.services import record
from tests import factories
from workitems.models import (
    Delivery,
    EventSubscription,
    ImportBatch,
    InboundEvent,
    SlaPolicy,
    SyncRun,
)

pytestmark = pytest.mark.django_db
# Every model of these apps must have its pages checked; others (auth, django-q2, the simulator's
# own bookkeeping) are checked where the fixture happens to make rows.
OUR_APPS = {"workitems", "audits"}


def build_everything() -> None:
    from simulator.demo import seed_demo_org

    seed_demo_org()
    q = factories.queue()
    sk = factories.skill()
    wt = factories.worktype(default_queue=q)
    wt.default_skills.add(sk)
    factories.member(q, skills=[(sk, 3)])
    item = factories.workitem(worktype=wt, queue=q, skills=[sk], genesys_id=factories.gid())
    SlaPolicy.objects.create(worktype=wt, threshold_seconds=600)
    SyncRun.objects.create(kinds="queues")
    ImportBatch.objects.create(file_name="drafts.csv", content="external_ref,name,worktype\n")
    InboundEvent.objects.create(received_at=timezone.now(), body="{}", workitem=item)
    Delivery.objects.create(
        workitem=item, sequence=1, payload={}, webhook_id="msg_1", next_attempt_at=timezone.now()
    )
    EventSubscription.objects.create(name="Work item events", target_workflow_id=factories.gid())
    record(
        actor="system", action="smoke", context={"at": (timezone.now() - timedelta(1)).isoformat()}
    )
    from audits.verification import audit_chain_check

    audit_chain_check(actor="system")  # an AuditVerification
    call_command("export_audit", stdout=io.StringIO(), stderr=io.StringIO())  # ExportManifest


@pytest.fixture
def superuser_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def registered():
    return sorted(admin.site._registry.items(), key=lambda kv: kv[0]._meta.label)


@pytest.mark.parametrize(
    ("model", "model_admin"),
    registered(),
    ids=lambda v: getattr(v, "_meta", None) and v._meta.label or "",
)
def test_every_admin_page_loads(superuser_client, model, model_admin):
    build_everything()
    opts = model._meta
    name = f"admin:{opts.app_label}_{opts.model_name}"
    assert superuser_client.get(reverse(f"{name}_changelist")).status_code == 200
    obj = model._default_manager.first()
    if opts.app_label not in OUR_APPS and obj is None:
        return  # third-party admin (auth groups, django-q2): its list loading is enough
    assert obj is not None, (
        f"build_everything() makes no {opts.label}: add one so its pages are checked"
    )
    change = superuser_client.get(reverse(f"{name}_change", args=[obj.pk]), follow=True)
    assert change.status_code == 200
    request = change.wsgi_request
    if model_admin.has_add_permission(request):
        assert superuser_client.get(reverse(f"{name}_add")).status_code == 200


def test_admin_index_and_dashboard_link_load(superuser_client):
    build_everything()
    assert superuser_client.get(reverse("admin:index")).status_code == 200
