"""Admin lists filter only on what they declare: their list filters (and a few named look-ups our
own links use). Anything else a URL's query string names — `?context__icontains=…`,
`?actor__regex=.*`, `?worktype__name__icontains=…` — once became a WHERE clause, bypassing the
indexed filters on a table of millions. Now the list drops it and says so; an export refuses it;
an action posted with it does not run."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from audits.models import AuditEvent
from audits.services import record
from portal.admin_filters import DeclaredFiltersOnly
from tests import factories
from workitems.models import WorkItem

pytestmark = pytest.mark.django_db

AUDIT_LIST = reverse("admin:audits_auditevent_changelist")
AUDIT_EXPORT = reverse("admin:audits_auditevent_export")
WORKITEM_LIST = reverse("admin:workitems_workitem_changelist")


@pytest.fixture
def analyst(client):
    user = get_user_model().objects.create_user("analyst", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_auditevent", "export_auditevent"])
    )
    client.force_login(user)
    return user


@pytest.fixture
def events():
    record(actor="system", action="sync.run", context={"token": "s3cret-value"})
    record(actor="alice", action="workitem.create", context={"note": "nothing here"})


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def listed_actions(response) -> list[str]:
    return sorted(e.action for e in response.context["cl"].result_list)


@pytest.mark.parametrize(
    "query",
    ["context__icontains=s3cret", "actor__regex=.*", "context__token=s3cret-value", "id__gt=0"],
)
def test_an_undeclared_lookup_on_the_audit_list_is_dropped_with_a_message(
    client, analyst, events, query
):
    response = client.get(f"{AUDIT_LIST}?{query}&action=sync.run")

    assert response.status_code == 302
    assert response.url == f"{AUDIT_LIST}?action=sync.run"  # the declared filter stays
    page = client.get(response.url)
    name = query.split("=")[0]
    assert any(
        "not a filter of this list" in m and name in m and "s3cret" not in m
        for m in messages_of(page)
    )
    assert listed_actions(page) == ["sync.run"]


def test_an_undeclared_lookup_alone_shows_the_whole_list(client, analyst, events):
    page = client.get(f"{AUDIT_LIST}?context__icontains=nothing", follow=True)
    assert listed_actions(page) == ["sync.run", "workitem.create"]  # not narrowed by context


@pytest.mark.parametrize("query", ["context__icontains=s3cret", "actor__regex=.*"])
def test_the_audit_export_refuses_an_undeclared_lookup_naming_it(client, analyst, events, query):
    response = client.get(f"{AUDIT_EXPORT}?{query}")

    assert response.status_code == 400
    body = response.content.decode()
    assert body.startswith("Export refused:") and query.split("=")[0] in body
    assert not AuditEvent.objects.filter(action="audit.export").exists()


@pytest.mark.parametrize(
    "query",
    [
        "action=sync.run",
        "actor=system",
        "outcome__exact=info",
        "occurred_at__gte=2000-01-01&occurred_at__lt=2999-01-01",
        "q=nothing",
    ],
)
def test_the_declared_filters_still_filter_list_and_export(client, analyst, events, query):
    assert client.get(f"{AUDIT_LIST}?{query}").status_code == 200
    export = client.get(f"{AUDIT_EXPORT}?{query}")
    assert export.status_code == 200
    b"".join(export.streaming_content)


@pytest.fixture
def supervisor(client):
    user = get_user_model().objects.create_user("sup", password="x", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_workitem", "change_workitem"])
    )
    client.force_login(user)
    return user


def test_a_lookup_across_a_relation_is_dropped_with_a_message_not_a_bad_request(client, supervisor):
    factories.workitem(worktype=factories.worktype(name="Refund"))
    page = client.get(f"{WORKITEM_LIST}?worktype__name__icontains=ref", follow=True)
    assert page.status_code == 200
    assert any("worktype__name__icontains" in m for m in messages_of(page))


def test_an_action_posted_with_an_undeclared_lookup_does_not_run(client, supervisor, monkeypatch):
    checked = []
    monkeypatch.setattr(
        "workitems.admin.workitem.workitems_check_routability",
        lambda *, items, actor: checked.append(list(items)) or {},
    )
    item = factories.workitem(worktype=factories.worktype(default_queue=factories.queue()))
    response = client.post(
        f"{WORKITEM_LIST}?name__regex=.*",
        {"action": "check_routability", "select_across": "1", "_selected_action": [item.pk]},
    )
    assert response.status_code == 302 and "e=1" in response.url
    assert checked == []
    # The same action without it runs.
    client.post(WORKITEM_LIST, {"action": "check_routability", "_selected_action": [item.pk]})
    assert checked == [[item]]


def test_the_links_our_own_pages_build_are_declared(client, supervisor):
    factories.workitem(worktype=factories.worktype())
    for query in (
        "created_by__id__exact=1&created_at__gte=2000-01-01T00:00:00Z"
        "&created_at__lte=2999-01-01T00:00:00Z",  # "the items this import created"
        "sla_deadline__gte=2000-01-01T00:00:00Z&sla_deadline__lt=2999-01-01T00:00:00Z&sla=breached",
        "sla_deadline__lte=2999-01-01T00:00:00Z",
    ):
        assert client.get(f"{WORKITEM_LIST}?{query}").status_code == 200, query


def our_model_admins():
    return sorted(
        (
            (model, model_admin)
            for model, model_admin in admin.site._registry.items()
            if model._meta.app_label in ("workitems", "audits")
        ),
        key=lambda pair: pair[0]._meta.label,
    )


@pytest.mark.parametrize(
    ("model", "model_admin"), our_model_admins(), ids=lambda v: getattr(v, "__name__", "")
)
def test_every_list_of_ours_accepts_only_declared_filters(model, model_admin):
    assert isinstance(model_admin, DeclaredFiltersOnly), model._meta.label
    assert WorkItem in dict(our_model_admins())
