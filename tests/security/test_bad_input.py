"""Bad input gets a message naming the row or field, never a 500, and nothing is saved.

Each of these once made a 500 on PostgreSQL: a CSV row holding NUL; custom_fields nested 5,000
levels; custom_fields holding NaN, Infinity, 1e400 or \\u0000 (shown valid in the CSV preview,
then a 500 on Confirm); the same values in the admin's work item form; the trigger test page with
a non-numeric id. The test client re-raises a view's exception, so a 500 fails these tests.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests import factories
from tests.services.test_csv_import import csv_text, make_reference
from workitems.models import EventSubscription, ImportBatch, WorkItem

pytestmark = pytest.mark.django_db

DEEP = "[" * 5000 + "]" * 5000
BAD_CUSTOM_FIELDS = {
    "NaN": ('{"amount_number": NaN}', "holds NaN at $.amount_number"),
    "Infinity": ('{"amount_number": -Infinity}', "holds -Infinity at $.amount_number"),
    "1e400": ('{"amount_number": 1e400}', "holds the number 1e400 at $.amount_number"),
    "NUL": ('{"note_text": "a\\u0000b"}', "holds a NUL character (\\u0000) at $.note_text"),
    "NUL key": ('{"a\\u0000": 1}', "has a NUL character (\\u0000) in the key"),
    "surrogate": ('{"note_text": "\\ud800"}', "holds an unpaired surrogate (\\ud800)"),
    "big integer": ('{"n": 9007199254740993}', "holds the integer 9007199254740993 at $.n"),
    "nested 5000": ('{"a": ' + DEEP + "}", "is nested more than 32 levels deep"),
    "nested 40": (
        '{"a": ' + "[" * 40 + "]" * 40 + "}",
        "is nested more than 32 levels deep at $.a",
    ),
}


def staff(client, username: str, *codenames: str):
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- CSV import ----------------------------------------------------------------------------------


@pytest.fixture
def importer(client):
    return staff(client, "importer", "import_workitems", "view_workitem")


def upload(client, content: str | bytes):
    raw = content.encode() if isinstance(content, str) else content
    response = client.post(
        reverse("admin:workitems_importbatch_add"),
        {"file": SimpleUploadedFile("drafts.csv", raw, "text/csv")},
    )
    assert response.status_code == 302, response.content[:300]
    batch = ImportBatch.objects.latest("pk")
    return batch, client.get(response.url)


def confirm(client, batch):
    return client.post(reverse("admin:workitems_importbatch_confirm", args=[batch.pk]), follow=True)


def cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@pytest.mark.parametrize(("value", "problem"), BAD_CUSTOM_FIELDS.values(), ids=BAD_CUSTOM_FIELDS)
def test_bad_custom_fields_in_a_csv_are_an_error_in_the_preview_and_never_import(
    client, importer, value, problem
):
    make_reference()
    content = csv_text(
        "CRM-1,Fine,Refund request,,,,,,,,{}",
        f"CRM-2,Bad,Refund request,,,,,,,,{cell(value)}",
        header="external_ref,name,worktype,queue,priority,description,date_due,date_expires,"
        "skills,preferred_agents,custom_fields",
    )
    batch, preview = upload(client, content)

    assert preview.status_code == 200
    assert f"Row 3, custom_fields: {problem}" in preview.content.decode()
    batch.refresh_from_db()
    assert batch.state == ImportBatch.State.PREVIEWED  # row 2 is fine
    assert "Confirm import" not in preview.content.decode()
    assert "Import the 1 valid row, skip the 1 with errors" in preview.content.decode()
    confirm(client, batch)  # all or nothing
    assert WorkItem.objects.count() == 0
    client.post(
        reverse("admin:workitems_importbatch_confirm", args=[batch.pk]), {"mode": "valid_only"}
    )
    assert list(WorkItem.objects.values_list("external_ref", flat=True)) == ["CRM-1"]


@pytest.mark.parametrize("where", ["description", "name", "worktype", "header"])
def test_a_nul_byte_in_a_csv_is_refused_naming_the_row_and_nothing_imports(client, importer, where):
    make_reference()
    header = "external_ref,name,worktype,description"
    rows = ["CRM-1,Fine,Refund request,ok", "CRM-2,Second,Refund request,fine"]
    if where == "header":
        header = "external_ref,name,worktype,descr\x00iption"
        expected = "Row 1, column 4: holds a NUL character"
    else:
        column = header.split(",").index(where)
        cells = rows[1].split(",")
        cells[column] = cells[column][:2] + "\x00" + cells[column][2:]
        rows[1] = ",".join(cells)
        expected = f"Row 3, {where}: holds a NUL character"
    batch, preview = upload(client, csv_text(*rows, header=header))

    page = preview.content.decode()
    assert expected in page
    assert "\x00" not in page
    batch.refresh_from_db()
    assert batch.state == ImportBatch.State.REJECTED
    assert "\x00" not in batch.content and "\x00" not in json.dumps(batch.report)
    messages = messages_of(confirm(client, batch))
    assert any("has errors" in m for m in messages)
    assert WorkItem.objects.count() == 0


# --- The work item form ----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "problem"), BAD_CUSTOM_FIELDS.values(), ids=BAD_CUSTOM_FIELDS)
def test_bad_custom_fields_in_the_admin_form_are_a_field_error_and_nothing_saves(
    client, value, problem
):
    staff(client, "sup", "view_workitem", "add_workitem", "change_workitem")
    # A schema not fetched yet: the form offers the JSON box instead of typed inputs.
    worktype = factories.worktype(default_queue=factories.queue(), schema_id="sc-1")
    data = {
        "external_ref": "crm-9",
        "name": "A new one",
        "worktype": worktype.pk,
        "custom_fields": value,
    }
    response = client.post(reverse("admin:workitems_workitem_add"), data)

    assert response.status_code == 200
    [message] = response.context["adminform"].form.errors["custom_fields"]
    assert message.startswith("This ") and problem in message
    assert not WorkItem.objects.exists()


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("NaN", "Amount (amount_number) must be a number."),
        ("Infinity", "Amount (amount_number) must be a number."),
        ("1e400", "Amount (amount_number) must be a number."),
        ("12\x00", "Null characters are not allowed."),
    ],
)
def test_a_typed_custom_field_refuses_what_json_cannot_hold(client, typed, problem):
    staff(client, "sup", "view_workitem", "add_workitem")
    worktype = factories.worktype(
        default_queue=factories.queue(),
        schema_id="sc-1",
        json_schema={
            "type": "object",
            "properties": {
                "amount_number": {"allOf": [{"$ref": "#/definitions/number"}], "title": "Amount"}
            },
        },
    )
    data = {"external_ref": "crm-9", "name": "A new one", "worktype": worktype.pk}
    response = client.post(
        reverse("admin:workitems_workitem_add"), {**data, "cf__amount_number": typed}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["cf__amount_number"] == [problem]
    assert not WorkItem.objects.exists()


@pytest.mark.parametrize("typed", ["", "  ", "null"])
def test_an_emptied_custom_fields_box_means_no_custom_fields(client, typed):
    staff(client, "sup", "view_workitem", "add_workitem")
    worktype = factories.worktype(default_queue=factories.queue(), schema_id="sc-1")
    data = {"external_ref": "crm-9", "name": "A new one", "worktype": worktype.pk}
    response = client.post(
        reverse("admin:workitems_workitem_add"), {**data, "custom_fields": typed}
    )
    assert response.status_code == 302
    assert WorkItem.objects.get().custom_fields == {}


def test_an_existing_item_edited_with_bad_custom_fields_keeps_its_values(client):
    staff(client, "sup", "view_workitem", "change_workitem")
    item = factories.workitem(
        worktype=factories.worktype(default_queue=factories.queue()), custom_fields={"a": 1}
    )
    data = {
        "external_ref": item.external_ref,
        "name": item.name,
        "worktype": item.worktype.pk,
        "custom_fields": '{"a": NaN}',
        **inline_management_forms(),
    }
    response = client.post(reverse("admin:workitems_workitem_change", args=[item.pk]), data)
    assert response.status_code == 200
    assert "custom_fields" in response.context["adminform"].form.errors
    item.refresh_from_db()
    assert item.custom_fields == {"a": 1}


def inline_management_forms() -> dict:
    data = {}
    for prefix in ("transitions", "deliveries"):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    return data


# --- Event subscriptions --------------------------------------------------------------------------


SUBSCRIPTION_PERMS = (
    "view_eventsubscription",
    "add_eventsubscription",
    "change_eventsubscription",
    "manage_subscription",
)


@pytest.mark.parametrize("object_id", ["abc", "1.5", "%00", "9" * 30])
def test_the_trigger_test_page_with_a_non_numeric_id_says_so(client, object_id):
    staff(client, "manager", *SUBSCRIPTION_PERMS)
    url = reverse("admin:workitems_eventsubscription_changelist") + f"{object_id}/test/"
    response = client.get(url, follow=True)
    assert response.status_code == 200
    # As the admin's own change page answers an unknown id: back to the index, saying so.
    assert response.redirect_chain[-1][0] == reverse("admin:index")
    assert any("doesn’t exist" in m for m in messages_of(response))


def test_match_criteria_with_nan_are_a_field_error(client):
    staff(client, "manager", *SUBSCRIPTION_PERMS)
    data = {
        "name": "Work item changes",
        "topic_name": "v2.taskmanagement.workitems.{id}",
        "match_criteria": '[{"jsonPath": "priority", "operator": "GreaterThan", "value": NaN}]',
        "target_workflow_id": factories.gid(),
        "data_format": "Json",
        "event_ttl_seconds": "",
        "delay_by_seconds": "",
    }
    response = client.post(reverse("admin:workitems_eventsubscription_add"), data)
    assert response.status_code == 200
    assert "holds NaN at $[0].value" in str(response.context["adminform"].form.errors)
    assert not EventSubscription.objects.exists()


@pytest.mark.parametrize(("value", "problem"), BAD_CUSTOM_FIELDS.values(), ids=BAD_CUSTOM_FIELDS)
def test_a_bad_probe_event_on_the_trigger_test_page_is_a_field_error(client, value, problem):
    staff(client, "manager", *SUBSCRIPTION_PERMS)
    subscription = EventSubscription.objects.create(
        name="Work item changes", target_workflow_id=factories.gid()
    )
    url = reverse("admin:workitems_eventsubscription_test", args=[subscription.pk])
    response = client.post(url, {"event": value})
    assert response.status_code == 200
    assert problem in str(response.context["form"].errors["event"])
