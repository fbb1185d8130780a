"""The supervisor dashboard (queue names, counts, ingest and delivery health) and, in simulator
mode, the demo receiver's payloads need `workitems.view_dashboard`: being staff is not enough.
The dashboard links only to the pages its viewer may open."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from tests.selectors.test_dashboard import build_fixture

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/dashboard/"


def staff(client, *codenames: str):
    user = get_user_model().objects.create_user("sup", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def admin_links(html: str) -> set[str]:
    """The admin pages a page links to, as their path (no query)."""
    return {
        href.split("?")[0]
        for href in re.findall(r'href="(/admin/[^"]*)"', html.replace("&amp;", "&"))
        if not href.startswith(("/admin/logout", "/admin/password_change", "/admin/dashboard"))
        and href != "/admin/"
    }


def test_a_staff_user_without_the_permission_is_refused(client):
    staff(client, "view_workitem")
    assert client.get(DASHBOARD).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert "Supervisor dashboard" not in index


def test_the_permission_opens_the_dashboard_and_the_index_links_to_it(client):
    staff(client, "view_dashboard")
    assert client.get(DASHBOARD).status_code == 200
    index = client.get(reverse("admin:index")).content.decode()
    assert f'href="{DASHBOARD}"' in index


def test_without_other_permissions_the_dashboard_links_nowhere(client):
    build_fixture(timezone.now())
    staff(client, "view_dashboard")
    html = client.get(DASHBOARD).content.decode()
    assert admin_links(html) == set()
    assert "Breach rate" in html  # the figures are still there, as text


def test_links_follow_the_viewers_permissions(client):
    build_fixture(timezone.now())
    staff(client, "view_dashboard", "view_workitem", "view_delivery")
    html = client.get(DASHBOARD).content.decode()
    links = admin_links(html)
    assert links == {
        reverse("admin:workitems_workitem_changelist"),
        reverse("admin:workitems_delivery_changelist"),
    }
    for path in links:  # and each one opens
        assert client.get(path).status_code == 200


def test_a_superuser_gets_every_link_including_background_tasks(admin_client):
    build_fixture(timezone.now())
    links = admin_links(admin_client.get(DASHBOARD).content.decode())
    assert reverse("admin:django_q_failure_changelist") in links
    assert reverse("admin:audits_auditevent_changelist") in links


def test_the_demo_receivers_payloads_need_the_permission(client):
    staff(client, "view_workitem")
    assert client.get(reverse("demo-receiver")).status_code == 403
    client.logout()
    get_user_model().objects.all().delete()
    staff(client, "view_dashboard")
    assert client.get(reverse("demo-receiver")).status_code == 200
