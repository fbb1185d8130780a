"""Process Automation triggers in the simulator: CreateTriggerRequest validation, versions on PUT,
listing, topics, and test mode with Goessner-path match criteria."""

from __future__ import annotations

import json

import pytest

from simulator import jsonpath
from simulator.triggers import criterion_test, trigger_matches

pytestmark = pytest.mark.django_db

TRIGGERS = "/api/v2/processautomation/triggers"
TOPIC = "v2.taskmanagement.workitems.{id}"
WORKFLOW = "b796bd10-b101-4a46-acc6-2705157d00e1"


def trigger_body(**extra):
    """The [DEV] example from docs/GENESYS.md §4, verbatim apart from the overrides."""
    return {
        "name": "Workitems Trigger 3",
        "topicName": TOPIC,
        "target": {"type": "Workflow", "id": WORKFLOW, "workflowTargetSettings": {"dataFormat": "Json"}},
        "enabled": True,
        "matchCriteria": [
            {"jsonPath": "operation", "operator": "Equal", "value": "edit"},
            {"jsonPath": "customFields.custom_text.value", "operator": "Equal", "value": "TaskRouting"},
        ],
        **extra,
    }  # fmt: skip


def put(api, path, body):
    return api.session.put(api.url(path), json=body, headers=api.headers())


def delete(api, path):
    return api.session.delete(api.url(path), headers=api.headers())


def fields_named(response) -> set[str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "bad.request" and body["contextId"]
    return {d["fieldName"] for d in body["details"]}


def create(api, **extra) -> dict:
    response = api.post(TRIGGERS, trigger_body(**extra))
    assert response.status_code == 200, response.text
    return response.json()


# --- Create -----------------------------------------------------------------------------------


def test_the_documented_example_creates_a_trigger_at_version_1(api):
    trigger = create(api)
    assert trigger["version"] == 1
    assert trigger["topicName"] == TOPIC
    assert trigger["target"] == {
        "type": "Workflow",
        "id": WORKFLOW,
        "workflowTargetSettings": {"dataFormat": "Json"},
    }
    assert trigger["matchCriteria"][1]["jsonPath"] == "customFields.custom_text.value"
    assert trigger["selfUri"] == f"{TRIGGERS}/{trigger['id']}"
    assert api.get(f"{TRIGGERS}/{trigger['id']}").json() == trigger


def test_missing_required_fields_are_each_named(api):
    response = api.post(TRIGGERS, {"description": "nothing else"})
    assert fields_named(response) == {"name", "topicName", "target", "enabled"}


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"topicName": "v2.taskmanagement.workitems.6b2f0c1e-1111-2222-3333-444455556666"}, "topicName"),
        ({"topicName": "v2.taskmanagement.workbins.{id}"}, "topicName"),
        ({"target": {"type": "Flow", "id": WORKFLOW}}, "target.type"),
        ({"target": {"type": "Workflow"}}, "target.id"),
        ({"target": {"type": "Workflow", "id": "not-a-uuid"}}, "target.id"),
        ({"target": {"type": "Workflow", "id": WORKFLOW, "workflowTargetSettings": {"dataFormat": "Xml"}}},
         "target.workflowTargetSettings.dataFormat"),
        ({"eventTTLSeconds": 9}, "eventTTLSeconds"),
        ({"delayBySeconds": 59}, "delayBySeconds"),
        ({"delayBySeconds": 901}, "delayBySeconds"),
        ({"eventTTLSeconds": 60, "delayBySeconds": 120}, "delayBySeconds"),
        ({"description": "x" * 513}, "description"),
        ({"enabled": "yes"}, "enabled"),
        ({"matchCriteria": [{"jsonPath": "operation", "operator": "Matches", "value": "edit"}]},
         "matchCriteria[0].operator"),
        ({"matchCriteria": [{"jsonPath": "operation", "operator": "In", "value": "a", "values": ["a"]}]},
         "matchCriteria[0]"),
        ({"matchCriteria": [{"jsonPath": "operation", "operator": "Equal"}]}, "matchCriteria[0]"),
        ({"matchCriteria": [{"operator": "Equal", "value": "x"}]}, "matchCriteria[0].jsonPath"),
        ({"matchCriteria": [{"jsonPath": "$..id", "operator": "Exists", "value": True}]},
         "matchCriteria[0].jsonPath"),
        ({"matchCriteria": "operation == edit"}, "matchCriteria"),
        ({"colour": "blue"}, "colour"),
    ],
)  # fmt: skip
def test_genesys_rules_are_enforced_with_the_field_named(api, override, field):
    assert field in fields_named(api.post(TRIGGERS, trigger_body(**override)))


def test_boundary_values_are_accepted(api):
    assert create(api, eventTTLSeconds=10)["eventTTLSeconds"] == 10
    assert create(api, delayBySeconds=60)["delayBySeconds"] == 60
    assert create(api, delayBySeconds=900, description="d" * 512)["delayBySeconds"] == 900


def test_several_problems_come_back_in_one_answer(api):
    response = api.post(TRIGGERS, trigger_body(eventTTLSeconds=1, description="x" * 600))
    assert fields_named(response) == {"eventTTLSeconds", "description"}


def test_without_match_criteria_a_trigger_matches_every_event(api):
    trigger = create(api, matchCriteria=None)
    assert trigger["matchCriteria"] == []


def test_requests_need_a_token(api):
    response = api.session.post(api.url(TRIGGERS), json=trigger_body())
    assert response.status_code == 401


# --- Update and delete ------------------------------------------------------------------------


def test_put_with_the_current_version_replaces_the_trigger_and_increments_the_version(api):
    trigger = create(api)
    body = trigger_body(version=1, enabled=False, matchCriteria=[], description="off for now")
    response = put(api, f"{TRIGGERS}/{trigger['id']}", body)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["version"] == 2 and updated["enabled"] is False
    assert updated["matchCriteria"] == [] and updated["description"] == "off for now"


def test_put_with_a_stale_version_is_a_409_and_changes_nothing(api):
    trigger = create(api)
    path = f"{TRIGGERS}/{trigger['id']}"
    assert put(api, path, trigger_body(version=1, name="first edit")).status_code == 200
    response = put(api, path, trigger_body(version=1, name="lost update"))
    assert response.status_code == 409
    assert response.json()["code"] == "conflict" and "version 2" in response.json()["message"]
    assert api.get(path).json()["name"] == "first edit"


def test_put_cannot_change_the_topic(api):
    trigger = create(api)
    body = trigger_body(version=1, topicName="v2.integrations.inbound.webhook.{id}.invocation")
    response = put(api, f"{TRIGGERS}/{trigger['id']}", body)
    assert fields_named(response) == {"topicName"}
    assert "cannot be updated" in response.json()["message"]


def test_put_requires_the_version(api):
    trigger = create(api)
    assert "version" in fields_named(put(api, f"{TRIGGERS}/{trigger['id']}", trigger_body()))


def test_delete_removes_the_trigger_and_a_second_delete_is_a_404(api):
    trigger = create(api)
    path = f"{TRIGGERS}/{trigger['id']}"
    assert delete(api, path).status_code == 204
    assert api.get(path).status_code == 404
    gone = delete(api, path)
    assert gone.status_code == 404 and gone.json()["entityName"] == "Trigger"


# --- Listing and topics -----------------------------------------------------------------------


def test_listing_pages_with_cursors_in_the_uris_and_filters(api):
    for n in range(5):
        create(api, name=f"Trigger {n}", enabled=n % 2 == 0)
    create(api, name="Delayed", delayBySeconds=120)
    first = api.get(TRIGGERS, pageSize=2).json()
    assert [t["name"] for t in first["entities"]] == ["Trigger 0", "Trigger 1"]
    assert "after=" in first["nextUri"] and "previousUri" not in first
    second = api.session.get(api.url(first["nextUri"]), headers=api.headers()).json()
    assert [t["name"] for t in second["entities"]] == ["Trigger 2", "Trigger 3"]
    back = api.session.get(api.url(second["previousUri"]), headers=api.headers()).json()
    assert [t["name"] for t in back["entities"]] == ["Trigger 0", "Trigger 1"]

    enabled = api.get(TRIGGERS, enabled="false").json()["entities"]
    assert [t["name"] for t in enabled] == ["Trigger 1", "Trigger 3"]
    delayed = api.get(TRIGGERS, hasDelayBy="true").json()["entities"]
    assert [t["name"] for t in delayed] == ["Delayed"]
    assert api.get(TRIGGERS, topicName="v2.users.{id}.activity").json()["entities"] == []
    assert api.get(TRIGGERS, pageSize=201).status_code == 400


def test_a_cursor_from_another_filter_is_refused(api):
    for n in range(3):
        create(api, name=f"Trigger {n}")
    after = api.get(TRIGGERS, pageSize=1).json()["nextUri"].split("after=")[1].split("&")[0]
    assert api.get(TRIGGERS, pageSize=1, enabled="true", after=after).status_code == 400


def test_topics_lists_the_trigger_enabled_topics_with_their_wildcards(api):
    listing = api.get(f"{TRIGGERS}/topics").json()
    assert TOPIC in listing["entities"]
    assert all("{id}" in topic for topic in listing["entities"])
    assert listing["selfUri"].startswith(f"{TRIGGERS}/topics")


# --- Test mode --------------------------------------------------------------------------------

EVENT = {
    "id": "6b2f0c1e-1111-2222-3333-444455556666",
    "name": "Refund for order 4711",
    "operation": "edit",
    "statusCategory": "InProgress",
    "priority": 10,
    "skillIds": ["a", "b"],
    "customFields": {
        "custom_text": {"dataType": "string", "value": "TaskRouting"},
        "amount_number": {"dataType": "number", "value": "49.5"},
    },
    "dateModified": "2026-03-02T09:30:10.000Z",
}


def run_test(api, trigger, event, *, as_text=False):
    path = f"{TRIGGERS}/{trigger['id']}/test"
    if as_text:
        return api.session.post(
            api.url(path),
            data=json.dumps(json.dumps(event)),
            headers={**api.headers(), "Content-Type": "application/json"},
        )
    return api.post(path, event)


def test_a_matching_event_passes_all_three_steps(api):
    result = run_test(api, create(api), EVENT).json()
    assert result["triggerMatches"] is True
    assert [
        result[k]["step"] for k in ("schemaValidation", "targetValidation", "jsonPathValidation")
    ] == [1, 2, 3]
    assert result["schemaValidation"]["name"] == "Validate test event body against topic schema"
    details = result["jsonPathValidation"]["details"]
    assert [d["match"] for d in details] == [True, True]
    assert details[0]["generatedJsonPathCondition"] == "$[?(@.operation == 'edit')]"
    assert details[1]["jsonPathExtraction"] == [
        {"path": "$['customFields']['custom_text']['value']", "value": "TaskRouting"}
    ]  # fmt: skip


def test_a_criterion_that_fails_names_itself_and_the_trigger_does_not_match(api):
    result = run_test(api, create(api), {**EVENT, "operation": "add"}).json()
    assert result["triggerMatches"] is False
    assert result["schemaValidation"]["matches"] is True
    assert [d["match"] for d in result["jsonPathValidation"]["details"]] == [False, True]


def test_the_event_may_arrive_as_a_json_string(api):
    assert run_test(api, create(api), EVENT, as_text=True).json()["triggerMatches"] is True


def test_an_envelope_instead_of_the_event_body_fails_the_schema_step(api):
    envelope = {"topicName": f"v2.taskmanagement.workitems.{EVENT['id']}", "eventBody": EVENT}
    result = run_test(api, create(api), envelope).json()
    assert result["schemaValidation"]["matches"] is False
    assert any("eventBody" in d for d in result["schemaValidation"]["details"])
    assert result["triggerMatches"] is False


def test_wrong_types_and_enum_values_fail_the_schema_step(api):
    event = {**EVENT, "priority": "high", "statusCategory": "Done"}
    details = run_test(api, create(api), event).json()["schemaValidation"]["details"]
    assert "priority must be an integer." in details
    assert any(d.startswith("statusCategory must be one of") for d in details)


def test_testing_an_unknown_trigger_is_a_404_and_bad_json_a_400(api):
    assert (
        api.post(f"{TRIGGERS}/6b2f0c1e-0000-0000-0000-000000000000/test", EVENT).status_code == 404
    )
    trigger = create(api)
    response = api.session.post(
        api.url(f"{TRIGGERS}/{trigger['id']}/test"),
        data="{not json",
        headers={**api.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("criterion", "matches"),
    [
        ({"jsonPath": "operation", "operator": "NotEqual", "value": "add"}, True),
        ({"jsonPath": "$.priority", "operator": "GreaterThan", "value": 5}, True),
        ({"jsonPath": "priority", "operator": "LessThanOrEqual", "value": 9}, False),
        ({"jsonPath": "statusCategory", "operator": "In", "values": ["Open", "InProgress"]}, True),
        ({"jsonPath": "statusCategory", "operator": "NotIn", "values": ["Closed"]}, True),
        ({"jsonPath": "name", "operator": "Contains", "value": "4711"}, True),
        ({"jsonPath": "skillIds", "operator": "Contains", "value": "b"}, True),
        ({"jsonPath": "skillIds", "operator": "All", "values": ["a", "b"]}, True),
        ({"jsonPath": "skillIds", "operator": "All", "values": ["a", "c"]}, False),
        ({"jsonPath": "skillIds", "operator": "Size", "value": 2}, True),
        ({"jsonPath": "skillIds[1]", "operator": "Equal", "value": "b"}, True),
        ({"jsonPath": "dateClosed", "operator": "Exists", "value": False}, True),
        ({"jsonPath": "dateModified", "operator": "Exists", "value": True}, True),
        ({"jsonPath": "dateClosed", "operator": "NotEqual", "value": "x"}, False),
        ({"jsonPath": "$['customFields']['amount_number']['value']", "operator": "Equal", "value": "49.5"}, True),
        # Values arrive as strings: no coercion to numbers.
        ({"jsonPath": "customFields.amount_number.value", "operator": "GreaterThan", "value": 10}, False),
        ({"jsonPath": "customFields.*.dataType", "operator": "Equal", "value": "number"}, True),
        ({"jsonPath": "priority", "operator": "Equal", "value": True}, False),
    ],
)  # fmt: skip
def test_operators_evaluate_like_goessner_filters(criterion, matches):
    assert criterion_test(criterion, EVENT)["match"] is matches
    assert trigger_matches({"matchCriteria": [criterion]}, EVENT) is matches


def test_paths_are_normalised_for_the_extraction_report():
    assert jsonpath.extract(EVENT, "skillIds[-1]") == [("$['skillIds'][1]", "b")]
    assert jsonpath.extract(EVENT, "$") == [("$", EVENT)]
    assert (
        jsonpath.to_filter_path("customFields.custom_text.value")
        == "@.customFields.custom_text.value"
    )
    with pytest.raises(jsonpath.JsonPathError, match="not supported"):
        jsonpath.parse("$[?(@.x)]")
    with pytest.raises(jsonpath.JsonPathError, match="unclosed"):
        jsonpath.parse("customFields['x'")
