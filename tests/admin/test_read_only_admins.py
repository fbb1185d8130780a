"""Read-only admins share one mixin (portal/admin_readonly.py): a superuser holding every model
permission still cannot add, change or delete an outbox row, an inbound event or a sync run, and
no admin module keeps its own copy of "return False" for those permissions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse

from portal.admin_readonly import ReadOnlyAdmin, ReadOnlyInline
from tests import factories
from workitems.models import Delivery, InboundEvent, Queue, SyncRun, WorkType

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PERMISSIONS = ("has_add_permission", "has_change_permission", "has_delete_permission")


@pytest.fixture
def superuser():
    return get_user_model().objects.create_superuser("root", password="x")


@pytest.mark.parametrize("model", [Delivery, InboundEvent, SyncRun], ids=lambda m: m.__name__)
def test_a_superuser_cannot_add_change_or_delete_an_append_only_record(model, superuser):
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = superuser

    assert isinstance(model_admin, ReadOnlyAdmin)
    assert model_admin.has_view_permission(request)
    assert not any(getattr(model_admin, name)(request) for name in PERMISSIONS)


def test_the_add_page_of_a_read_only_admin_is_refused(client, superuser):
    client.force_login(superuser)
    opts = Delivery._meta
    response = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    assert response.status_code == 403


def test_a_mirror_stays_editable_where_it_has_fields_of_our_own(client, superuser):
    # Queue keeps max_open_items here; WorkType has nothing of ours to edit.
    request = RequestFactory().get("/")
    request.user = superuser
    assert admin.site._registry[Queue].has_change_permission(request)
    assert not admin.site._registry[WorkType].has_change_permission(request)
    assert not admin.site._registry[Queue].has_add_permission(request)


def test_read_only_inlines_offer_no_forms_and_no_delete_boxes(superuser):
    request = RequestFactory().get("/")
    request.user = superuser
    worktype = factories.worktype()
    inlines = [
        inline
        for model_admin in admin.site._registry.values()
        for inline in model_admin.get_inline_instances(request, None)
        if isinstance(inline, ReadOnlyInline)
    ]
    assert {type(i).__name__ for i in inlines} >= {"DeliveryAttemptInline", "StatusInline"}
    for inline in inlines:
        assert (inline.extra, inline.max_num, inline.can_delete) == (0, 0, False)
        assert not any(getattr(inline, name)(request, worktype) for name in PERMISSIONS)


def _copies(path: Path) -> list[str]:
    """Methods in this file that answer one of the three permissions with a bare `return False`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef) or node.name not in PERMISSIONS:
            continue
        body = [n for n in node.body if not isinstance(n, ast.Expr)]  # a docstring may stay
        if (
            len(body) == 1
            and isinstance(body[0], ast.Return)
            and isinstance(body[0].value, ast.Constant)
            and body[0].value.value is False
        ):
            found.append(f"{node.name}:{node.lineno}")
    return found


def test_no_admin_module_keeps_its_own_copy_of_the_read_only_permissions():
    modules = [
        *sorted((ROOT / "workitems" / "admin").glob("*.py")),
        ROOT / "audits" / "admin.py",
        ROOT / "portal" / "admin.py",
    ]
    offenders = {
        path.relative_to(ROOT).as_posix(): copies for path in modules if (copies := _copies(path))
    }
    assert offenders == {}
    assert _copies(ROOT / "portal" / "admin_readonly.py")  # the scan recognises the one owner
