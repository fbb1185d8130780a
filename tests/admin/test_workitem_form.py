"""The work item form built from the worktype: a worktype first, then typed custom fields, its
statuses only, preferred agents by name from the queue's members, defaults as placeholders."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from simulator.demo import SCHEMAS
from tests import factories
from workitems.models import WorkItem
from workitems.services.custom_fields import schema_fields

pytestmark = pytest.mark.django_db
ADD = reverse("admin:workitems_workitem_add")
REFUND_SCHEMA = SCHEMAS[0][2]


def staff(client, *codenames: str):
    user = get_user_model().objects.create_user("sup", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


@pytest.fixture
def editor(client):
    return staff(client, "view_workitem", "add_workitem", "change_workitem")


@pytest.fixture
def refunds():
    q = factories.queue("Refunds")
    factories.member(q, name="Ben Hartley", user_id="9a3f0d52-0f1e-4c1b-8f43-3c1e1f0e7a11")
    factories.member(q, name="Amara Okafor", user_id="1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d")
    return q


@pytest.fixture
def refund_type(refunds):
    return factories.worktype(
        name="Refund request",
        default_queue=refunds,
        default_priority=5,
        schema_id="sc-refund",
        schema_name="Refund request fields",
        json_schema=REFUND_SCHEMA,
        schema_fields=schema_fields(REFUND_SCHEMA),
    )


def form_of(response):
    return response.context["adminform"].form


def test_adding_starts_by_choosing_the_worktype(client, editor, refund_type):
    page = client.get(ADD).content.decode()
    assert "Choose the worktype" in page
    assert f'<option value="{refund_type.pk}"' in page
    assert "Refund request — custom fields: Refund request fields" in page


def test_each_custom_field_is_a_typed_input_titled_with_its_limits_and_default(
    client, editor, refund_type
):
    response = client.get(f"{ADD}?worktype={refund_type.pk}")
    form = form_of(response)
    html = response.content.decode()

    order = [name for name in form.fields if name.startswith("cf__")]
    assert order == [
        "cf__order_number_text",
        "cf__amount_number",
        "cf__currency_enum",
        "cf__vip_checkbox",
        "cf__purchase_date_date",
        "cf__reason_longtext",
    ]
    amount = form.fields["cf__amount_number"]
    assert amount.label == "Amount" and amount.required
    assert 'type="number"' in str(form["cf__amount_number"])
    assert 'min="0"' in str(form["cf__amount_number"]) and 'max="10000"' in str(
        form["cf__amount_number"]
    )
    assert "0 to 10000" in amount.help_text
    assert 'maxlength="20"' in str(form["cf__order_number_text"])
    assert 'type="date"' in str(form["cf__purchase_date_date"])
    assert "<textarea" in str(form["cf__reason_longtext"])
    currency = str(form["cf__currency_enum"])
    assert '<option value="EUR">EUR</option>' in currency
    assert "Custom fields (Refund request fields)" in html
    assert 'placeholder="5"' in str(form["priority"])  # the worktype's default priority


def test_typed_values_are_saved_as_the_json_genesys_takes(client, editor, refund_type):
    response = client.post(
        ADD,
        {
            "external_ref": "crm-1",
            "name": "A refund",
            "worktype": refund_type.pk,
            "cf__order_number_text": "A-017",
            "cf__amount_number": "20",
            "cf__currency_enum": "EUR",
            "cf__vip_checkbox": "true",
            "cf__purchase_date_date": "2026-01-31",
            "cf__reason_longtext": "",
        },
    )
    assert response.status_code == 302, form_of(response).errors
    assert WorkItem.objects.get().custom_fields == {
        "order_number_text": "A-017",
        "amount_number": 20,
        "currency_enum": "EUR",
        "vip_checkbox": True,
        "purchase_date_date": "2026-01-31",
    }


def test_schema_problems_are_shown_beside_their_field_named_by_title(client, editor, refund_type):
    response = client.post(
        ADD,
        {
            "external_ref": "crm-1",
            "name": "A refund",
            "worktype": refund_type.pk,
            "cf__order_number_text": "A1",
            "cf__amount_number": "20000",
            "cf__purchase_date_date": "31/01/2026",
        },
    )
    errors = form_of(response).errors
    assert errors["cf__order_number_text"] == [
        "Order number (order_number_text) must be at least 3 characters long."
    ]
    assert errors["cf__amount_number"] == ["Amount (amount_number) must be at most 10000."]
    assert errors["cf__purchase_date_date"] == [
        "Purchase date (purchase_date_date) must be a date such as 2026-01-31."
    ]
    assert not WorkItem.objects.exists()


def test_a_missing_required_field_is_named_by_title(client, editor, refund_type):
    response = client.post(
        ADD,
        {"external_ref": "crm-1", "name": "A refund", "worktype": refund_type.pk},
    )
    errors = form_of(response).errors
    assert errors["cf__order_number_text"] == ["Order number (order_number_text) is required."]
    assert errors["cf__amount_number"] == ["Amount (amount_number) is required."]


def test_an_items_values_fill_its_typed_inputs(client, editor, refund_type):
    item = factories.workitem(
        worktype=refund_type,
        custom_fields={"order_number_text": "A-1", "amount_number": 12.5, "vip_checkbox": False},
    )
    form = form_of(client.get(reverse("admin:workitems_workitem_change", args=[item.pk])))
    assert form.initial["cf__order_number_text"] == "A-1"
    assert form.initial["cf__amount_number"] == "12.5"
    assert form.initial["cf__vip_checkbox"] == "false"


def test_statuses_are_the_chosen_worktypes_open_ones_with_its_default_as_the_empty_choice(
    client, editor, refund_type
):
    factories.worktype(name="Other")
    form = form_of(client.get(f"{ADD}?worktype={refund_type.pk}"))
    statuses = form.fields["status"]
    assert {s.worktype_id for s in statuses.queryset} == {refund_type.pk}
    assert "Done" not in [s.name for s in statuses.queryset]  # Closed
    assert statuses.empty_label == "— worktype default: New —"


def test_choosing_another_worktype_keeps_what_fits(client, editor, refund_type):
    item = factories.workitem(worktype=refund_type, custom_fields={"order_number_text": "A-1"})
    url = reverse("admin:workitems_workitem_change", args=[item.pk])
    assert "Choose another worktype" in client.get(url).content.decode()
    assert "Choose another worktype:" in client.get(url + "?choose_worktype=1").content.decode()

    other = factories.worktype(name="Plain", default_queue=factories.queue())
    response = client.get(f"{url}?worktype={other.pk}")

    form = form_of(response)
    assert form.initial["worktype"] == other.pk
    assert not any(name.startswith("cf__") for name in form.fields)
    assert "has no custom fields: empty this" in response.content.decode()


def test_preferred_agents_are_picked_from_the_queues_members_and_stored_as_ids(
    client, editor, refund_type, refunds
):
    form = form_of(client.get(f"{ADD}?worktype={refund_type.pk}"))
    picker = form.fields["preferred_agent_ids"]
    assert [label for _, label in picker.choices] == [
        "Amara Okafor (idle)",
        "Ben Hartley (idle)",
    ]
    assert 'class="agent-picker"' in str(form["preferred_agent_ids"])
    assert "workitems/agent_picker.js" in str(form.media)

    ben = refunds.members.get(name="Ben Hartley")
    response = client.post(
        ADD,
        {
            "external_ref": "crm-1",
            "name": "A refund",
            "worktype": refund_type.pk,
            "cf__order_number_text": "A-017",
            "cf__amount_number": "20",
            # A browser without script may send the name; it is the member's id that is stored.
            "preferred_agent_ids": [ben.user_id, "amara okafor"],
        },
    )
    assert response.status_code == 302, form_of(response).errors
    amara = refunds.members.get(name="Amara Okafor")
    assert WorkItem.objects.get().preferred_agent_ids == [ben.user_id, amara.user_id]


def test_someone_not_in_the_queue_is_refused_naming_the_queue(client, editor, refund_type):
    response = client.post(
        ADD,
        {
            "external_ref": "crm-1",
            "name": "A refund",
            "worktype": refund_type.pk,
            "cf__order_number_text": "A-017",
            "cf__amount_number": "20",
            "preferred_agent_ids": ["Nobody Here"],
        },
    )
    assert form_of(response).errors["preferred_agent_ids"] == [
        'No member of queue Refunds is named or has the user id "Nobody Here".'
    ]


def test_the_agent_search_answers_the_queues_members_by_name(client, editor, refunds):
    url = reverse("admin:workitems_workitem_agents")
    data = json.loads(client.get(url, {"queue": refunds.pk, "term": "ben"}).content)
    ben = refunds.members.get(name="Ben Hartley")
    assert data == {
        "results": [{"id": ben.user_id, "text": "Ben Hartley (idle)"}],
        "pagination": {"more": False},
    }
    assert json.loads(client.get(url, {"queue": "x"}).content)["results"] == []


def test_the_agent_search_needs_add_or_change_permission(client, refunds):
    staff(client, "view_workitem")
    url = reverse("admin:workitems_workitem_agents")
    assert client.get(url, {"queue": refunds.pk}).status_code == 403


def test_creating_from_the_form_is_audited_for_the_timeline(client, editor, refund_type):
    from audits.models import AuditEvent

    client.post(
        ADD,
        {
            "external_ref": "crm-1",
            "name": "A refund",
            "worktype": refund_type.pk,
            "cf__order_number_text": "A-017",
            "cf__amount_number": "20",
        },
    )
    event = AuditEvent.objects.get(action="workitem.create")
    assert (event.actor, event.context) == ("sup", {"source": "form"})
