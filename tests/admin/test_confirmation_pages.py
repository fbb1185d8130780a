"""Action confirmation pages share one helper (workitems/admin/confirmation.py) and one form
(templates/admin/workitems/_confirmation_form.html): whatever the action, the page posts the same
action and selection back with post=yes, and says how many rows it did not list."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission, User
from django.urls import path

import workitems.admin.events  # noqa: F401  (registers InboundEventAdmin before the URLconf)
from workitems.admin import confirmation
from workitems.models import InboundEvent
from workitems.services.ingest import event_ingest

urlpatterns = [path("admin/", admin.site.urls)]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
CHANGELIST = "/admin/workitems/inboundevent/"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def operator(client):
    user = User.objects.create_user("operator", password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_inboundevent", "replay_inboundevent"])
    )
    client.force_login(user)
    return user


def ingest(n: int) -> list[int]:
    body = [
        {"id": f"wi-{i}", "operation": "edit", "dateModified": f"2026-07-01T10:{i:02d}:00Z"}
        for i in range(n)
    ]
    return [e.id for e in event_ingest(body=json.dumps(body).encode(), headers={}).events]


def hidden(html: str, name: str) -> list[str]:
    return re.findall(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]*)">', html)


def test_the_page_posts_the_action_and_the_selection_back_with_post_yes(client, operator):
    ids = ingest(3)
    page = client.post(
        CHANGELIST,
        {"action": "replay", helpers.ACTION_CHECKBOX_NAME: ids, "select_across": "1"},
    )
    html = page.content.decode()
    assert "admin/workitems/_confirmation_form.html" in [t.name for t in page.templates]
    assert hidden(html, "action") == ["replay"]
    assert hidden(html, "select_across") == ["1"]
    assert hidden(html, "post") == ["yes"]
    assert sorted(hidden(html, helpers.ACTION_CHECKBOX_NAME)) == sorted(map(str, ids))
    assert "in all" not in html


def test_a_selection_longer_than_the_list_says_how_many_in_all(client, operator, monkeypatch):
    monkeypatch.setattr(confirmation, "CONFIRM_LIST_LIMIT", 2)
    ids = ingest(3)
    page = client.post(CHANGELIST, {"action": "replay", helpers.ACTION_CHECKBOX_NAME: ids})
    assert page.context["shown"] == 2 and page.context["total"] == 3
    assert "… 3 in all; the first 2 are listed." in page.content.decode()
    assert InboundEvent.objects.filter(state=InboundEvent.State.ACCEPTED).count() == 3


def test_no_admin_module_builds_its_own_confirmation_page():
    builders = {
        path.relative_to(ROOT).as_posix()
        for path in sorted((ROOT / "workitems" / "admin").glob("*.py"))
        if path.name != "confirmation.py"
        and '"select_across": request.POST' in path.read_text(encoding="utf-8")
    }
    assert builders == set()
