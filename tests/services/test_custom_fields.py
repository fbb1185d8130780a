"""Custom fields against the worktype's schema: one rule, sentences that name fields by title."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from simulator.demo import SCHEMAS
from workitems.services.custom_fields import custom_fields_check, schema_fields

REFUND = SCHEMAS[0][2]
CLAIM = SCHEMAS[1][2]


def worktype(json_schema=None, schema_id="sc-1", name="Refund request"):
    return SimpleNamespace(name=name, schema_id=schema_id, json_schema=json_schema)


def problems(fields, schema=REFUND):
    return custom_fields_check(worktype=worktype(schema), fields=fields).problems


@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        ({"amount_number": "lots"}, "Amount (amount_number) must be a number."),
        ({"amount_number": -1}, "Amount (amount_number) must be at least 0."),
        ({"amount_number": 10001}, "Amount (amount_number) must be at most 10000."),
        ({"order_number_text": "A1"}, "Order number (order_number_text) must be at least 3 characters long."),
        ({"currency_enum": "JPY"}, "Currency (currency_enum) must be one of EUR, GBP, USD."),
        ({"vip_checkbox": "yes"}, "VIP customer (vip_checkbox) must be true or false."),
        ({"purchase_date_date": "2026-1-5"}, "Purchase date (purchase_date_date) must be a date such as 2026-01-31."),
    ],
)  # fmt: skip
def test_each_broken_rule_is_one_sentence_naming_the_field_by_title(fields, sentence):
    assert sentence in problems({"order_number_text": "A-100", "amount_number": 5, **fields})


def test_tags_and_date_times_are_checked_item_by_item():
    found = problems(
        {
            "policy_number_identifier": "P-12345",
            "labels_tag": ["ok", 7, "ok"],
            "incident_datetime": "2026-01-31 12:00",
        },
        CLAIM,
    )

    assert "Labels (labels_tag) item 2 must be text." in found
    assert "Labels (labels_tag) must not repeat an item." in found
    assert (
        "Incident time (incident_datetime) must be a date-time in UTC such as "
        "2026-01-31T12:00:00.000Z." in found
    )


def test_every_missing_required_field_is_named():
    assert problems({"currency_enum": "EUR"}) == [
        "Order number (order_number_text) is required.",
        "Amount (amount_number) is required.",
    ]


def test_fields_that_fit_have_no_problems():
    assert problems({"order_number_text": "A-100", "amount_number": 12.5}) == []


def test_a_worktype_without_a_schema_accepts_no_custom_fields_but_accepts_none():
    bare = worktype(None, schema_id="")

    refused = custom_fields_check(worktype=bare, fields={"b_text": "x", "a_number": 1})

    assert refused.problems == [
        "Worktype Refund request has no custom-field schema, so it accepts no custom fields: "
        "remove a_number and b_text."
    ]
    assert custom_fields_check(worktype=bare, fields={}).ok


def test_custom_fields_that_are_not_an_object_are_one_clear_problem():
    assert problems(["amount_number", 3])[0].startswith("Custom fields must be a JSON object")


def test_schema_fields_keep_order_titles_core_types_and_constraints_for_a_form():
    fields = schema_fields(REFUND)

    assert [f["key"] for f in fields] == list(REFUND["properties"])
    amount = fields[1]
    assert amount == {
        "key": "amount_number",
        "title": "Amount",
        "description": "Amount to refund, in euros",
        "core_type": "number",
        "required": True,
        "constraints": {"minimum": 0, "maximum": 10000},
    }
    assert fields[2]["constraints"] == {"enum": ["EUR", "GBP", "USD"]}
