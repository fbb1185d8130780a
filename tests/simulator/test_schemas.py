"""Custom-field schemas: DataSchema by id, by id and version, and the listings."""

from __future__ import annotations

import pytest

from simulator import render, store
from simulator.demo import IDS

pytestmark = pytest.mark.django_db

SCHEMAS = "/api/v2/taskmanagement/workitems/schemas"
REFUND_FIELDS = IDS["schema:refund-fields"]


def add_version_2() -> None:
    """The refund schema gains a field: version 2, with version 1 kept in its history."""
    schema = store.get(render.SCHEMA, REFUND_FIELDS)
    v1 = {k: schema[k] for k in ("version", "jsonSchema", "dateCreated")}
    v2 = {
        **schema["jsonSchema"],
        "properties": {
            **schema["jsonSchema"]["properties"],
            "ticket_text": {"allOf": [{"$ref": "#/definitions/text"}], "title": "Ticket"},
        },
    }
    store.put(
        render.SCHEMA,
        REFUND_FIELDS,
        {**schema, "version": 2, "jsonSchema": v2, "dateCreated": "2025-04-01T00:00:00.000Z", "history": [v1]},
    )  # fmt: skip


def test_a_schema_version_is_a_data_schema_with_its_json_schema(api, demo):
    got = api.get(f"{SCHEMAS}/{REFUND_FIELDS}/versions/1")

    assert got.status_code == 200
    body = got.json()
    assert body["id"] == REFUND_FIELDS and body["version"] == 1
    assert body["name"] == "Refund request fields" and body["appliesTo"] == ["WORKITEM"]
    properties = body["jsonSchema"]["properties"]
    assert properties["amount_number"]["title"] == "Amount"
    assert properties["order_number_text"]["allOf"] == [{"$ref": "#/definitions/text"}]


def test_each_version_is_served_as_it_was_and_the_schema_itself_is_the_latest(api, demo):
    add_version_2()

    v1 = api.get(f"{SCHEMAS}/{REFUND_FIELDS}/versions/1").json()
    v2 = api.get(f"{SCHEMAS}/{REFUND_FIELDS}/versions/2").json()
    latest = api.get(f"{SCHEMAS}/{REFUND_FIELDS}").json()
    listing = api.get(f"{SCHEMAS}/{REFUND_FIELDS}/versions").json()

    assert "ticket_text" not in v1["jsonSchema"]["properties"]
    assert "ticket_text" in v2["jsonSchema"]["properties"]
    assert latest == v2
    assert listing["total"] == 2 and [v["version"] for v in listing["entities"]] == [2, 1]


@pytest.mark.parametrize("version", ["7", "latest"])
def test_an_unknown_version_is_a_404(api, demo, version):
    assert api.get(f"{SCHEMAS}/{REFUND_FIELDS}/versions/{version}").status_code == 404


def test_an_unknown_schema_is_a_404_naming_it(api, demo):
    missing = IDS["queue:refunds"]

    got = api.get(f"{SCHEMAS}/{missing}/versions/1")

    assert got.status_code == 404 and got.json()["entityId"] == missing


def test_the_schema_listing_holds_every_schema(api, demo):
    listing = api.get(SCHEMAS).json()

    assert listing["total"] == 2
    assert {s["name"] for s in listing["entities"]} == {
        "Refund request fields",
        "Insurance claim fields",
    }


def test_items_are_checked_against_the_version_their_worktype_is_pinned_to(api, demo):
    add_version_2()  # the refund worktype stays on version 1, which has no ticket_text
    body = {
        "name": "Refund with a ticket",
        "typeId": IDS["worktype:refund-request"],
        "customFields": {"order_number_text": "A-100", "amount_number": 5, "ticket_text": "T-1"},
    }

    refused = api.post("/api/v2/taskmanagement/workitems", body)

    assert refused.status_code == 400
    assert refused.json()["details"] == [
        {"errorCode": "unrecognized.field", "fieldName": "customFields.ticket_text"}
    ]
