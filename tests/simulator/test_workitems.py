"""Work items: WorkitemCreate validation as Genesys does it, defaults from the worktype, get,
patch, terminate, delete, and the query rules."""

from __future__ import annotations

import pytest
import requests

from simulator import faults
from simulator.demo import IDS
from simulator.models import SimEntity

pytestmark = pytest.mark.django_db

WORKITEMS = "/api/v2/taskmanagement/workitems"
QUERY = f"{WORKITEMS}/query"
REFUND = IDS["worktype:refund-request"]
CLAIM = IDS["worktype:insurance-claim"]
FIELDS = {"order_number_text": "WEB-4711", "amount_number": 49.5}


def refund(**extra):
    return {"name": "Refund for order 4711", "typeId": REFUND, "customFields": FIELDS, **extra}


def fields_named(response):
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "bad.request" and body["status"] == 400
    return {d["fieldName"] for d in body["details"]}


def test_create_applies_the_worktype_defaults(api, demo, clock):
    response = api.post(WORKITEMS, refund(externalTag="crm-4711"))

    assert response.status_code == 200, response.text
    item = response.json()
    assert item["type"] == {
        "id": REFUND,
        "name": "Refund request",
        "selfUri": f"/api/v2/taskmanagement/worktypes/{REFUND}",
    }
    assert item["status"]["name"] == "New" and item["statusCategory"] == "Open"
    assert item["workbin"]["id"] == IDS["workbin:refunds"]
    assert item["queue"]["id"] == IDS["queue:refunds"]
    assert item["priority"] == 10
    assert item["dateCreated"] == "2026-03-02T09:30:10.000Z"
    assert item["dateDue"] == "2026-03-04T09:30:10.000Z"  # defaultDueDurationSeconds: 2 days
    assert [s["id"] for s in item["skills"]] == [IDS["skill:refunds"]]
    assert item["externalTag"] == "crm-4711"
    assert item["customFields"] == FIELDS
    assert item["schema"]["id"] == IDS["schema:refund-fields"]
    assert item["selfUri"] == f"{WORKITEMS}/{item['id']}"
    assert SimEntity.objects.get(kind="workitem").external_tag == "crm-4711"


def test_create_takes_what_the_body_gives(api, demo):
    status = IDS["status:refund-request:investigating"]
    body = refund(
        priority=-25_000_000,
        statusId=status,
        queueId=IDS["queue:escalations-l2"],
        assigneeId=IDS["user:quinn-harper"],
        workbinId=IDS["workbin:triage"],
        skillIds=[IDS["skill:vip"]],
        description="x" * 512,
        autoStatusTransition=False,
        scoredAgents=[{"id": IDS["user:amara-okafor"], "score": 90}],
        preferredAgentIds=[IDS["user:ben-hartley"]],
    )

    item = api.post(WORKITEMS, body).json()

    assert item["priority"] == -25_000_000
    assert item["statusCategory"] == "InProgress"
    assert item["queue"]["name"] == "Escalations L2"
    assert item["assignee"]["name"] == "Quinn Harper"
    assert item["workbin"]["name"] == "Triage workbin"
    assert item["autoStatusTransition"] is False
    assert item["scoredAgents"][0]["score"] == 90
    assert item["preferredAgents"][0]["id"] == IDS["user:ben-hartley"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "ab"}, "name"),
        ({"name": "x" * 257}, "name"),
        ({"description": "x" * 513}, "description"),
        ({"priority": 25_000_001}, "priority"),
        ({"priority": "high"}, "priority"),
        ({"dateDue": "2027-03-03T09:30:10.000Z"}, "dateDue"),
        ({"dateExpires": "next week"}, "dateExpires"),
        ({"durationSeconds": 366 * 86400}, "durationSeconds"),
        ({"ttl": 1_900_000_000}, "ttl"),
        ({"statusId": IDS["status:insurance-claim:submitted"]}, "statusId"),
        ({"queueId": "not-a-uuid"}, "queueId"),
        ({"queueId": IDS["workbin:triage"]}, "queueId"),
        ({"assigneeId": IDS["queue:billing"]}, "assigneeId"),
        ({"skillIds": [IDS["queue:billing"]]}, "skillIds"),
        (
            {"scoredAgents": [{"id": IDS["user:amara-okafor"], "score": 101}]},
            "scoredAgents[0].score",
        ),
        ({"customFields": {"order_number_text": "WEB-1"}}, "customFields.amount_number"),
        ({"customFields": {**FIELDS, "amount_number": "lots"}}, "customFields.amount_number"),
        ({"customFields": {**FIELDS, "colour_text": "red"}}, "customFields.colour_text"),
        ({"customFields": {**FIELDS, "currency_enum": "JPY"}}, "customFields.currency_enum"),
        (
            {"customFields": {**FIELDS, "purchase_date_date": "01/02/2026"}},
            "customFields.purchase_date_date",
        ),
    ],
)
def test_invalid_fields_are_a_400_naming_them(api, demo, clock, change, field):
    assert field in fields_named(api.post(WORKITEMS, refund(**change)))
    assert not SimEntity.objects.filter(kind="workitem").exists()


def test_dates_up_to_365_days_ahead_are_fine(api, demo, clock):
    response = api.post(WORKITEMS, refund(dateDue="2027-03-02T09:30:10.000Z"))

    assert response.status_code == 200


def test_unknown_fields_are_named(api, demo):
    assert fields_named(api.post(WORKITEMS, refund(externalId="x", workItemTypeId="y"))) == {
        "externalId",
        "workItemTypeId",
    }


def test_name_and_type_are_required(api, demo):
    assert fields_named(api.post(WORKITEMS, {})) == {"name", "typeId"}
    assert "typeId" in fields_named(
        api.post(WORKITEMS, {"name": "abc", "typeId": IDS["queue:billing"]})
    )


def test_get_and_unknown_item(api, demo):
    created = api.post(WORKITEMS, refund()).json()

    assert api.get(f"{WORKITEMS}/{created['id']}").json() == created
    missing = api.get(f"{WORKITEMS}/{IDS['queue:billing']}")
    assert missing.status_code == 404 and missing.json()["entityName"] == "Workitem"


def test_patch_moves_status_along_allowed_transitions(api, demo, clock):
    item = api.post(WORKITEMS, refund()).json()
    clock.advance(60)

    moved = api.patch(
        f"{WORKITEMS}/{item['id']}", {"statusId": IDS["status:refund-request:investigating"]}
    )
    refused = api.patch(f"{WORKITEMS}/{item['id']}", {"statusId": IDS["status:refund-request:new"]})

    assert moved.status_code == 200
    assert moved.json()["statusCategory"] == "InProgress"
    assert moved.json()["dateStatusChanged"] == "2026-03-02T09:31:10.000Z"
    assert moved.json()["dateModified"] == "2026-03-02T09:31:10.000Z"
    assert "statusId" in fields_named(refused)


def test_patch_to_a_closed_status_sets_date_closed(api, demo):
    item = api.post(WORKITEMS, refund()).json()

    closed = api.patch(
        f"{WORKITEMS}/{item['id']}", {"statusId": IDS["status:refund-request:rejected"]}
    ).json()

    assert closed["statusCategory"] == "Closed" and closed["dateClosed"]


def test_patch_upserts_custom_fields_and_empty_object_clears_them(api, demo):
    claim = api.post(
        WORKITEMS,
        {
            "name": "Claim 1",
            "typeId": CLAIM,
            "customFields": {"policy_number_identifier": "POL-12345"},
        },
    ).json()
    path = f"{WORKITEMS}/{claim['id']}"

    merged = api.patch(path, {"customFields": {"urgent_checkbox": True}}).json()
    cleared = api.patch(path, {"customFields": {}})

    assert merged["customFields"] == {
        "policy_number_identifier": "POL-12345",
        "urgent_checkbox": True,
    }
    assert cleared.json()["customFields"] == {}


def test_required_custom_fields_apply_once_any_are_sent(api, demo):
    """No custom fields at all is accepted; some without the required ones is not."""
    bare = api.post(WORKITEMS, {"name": "Claim 1", "typeId": CLAIM})
    partial = api.post(
        WORKITEMS, {"name": "Claim 2", "typeId": CLAIM, "customFields": {"urgent_checkbox": True}}
    )

    assert bare.status_code == 200
    assert fields_named(partial) == {"customFields.policy_number_identifier"}


def test_patch_refuses_type_changes_and_unknown_fields(api, demo):
    item = api.post(WORKITEMS, refund()).json()

    assert fields_named(api.patch(f"{WORKITEMS}/{item['id']}", {"typeId": CLAIM})) == {"typeId"}


def test_patch_assignment_operation_needs_its_target(api, demo):
    item = api.post(WORKITEMS, refund()).json()
    path = f"{WORKITEMS}/{item['id']}"

    assert "queueId" in fields_named(
        api.patch(path, {"assignmentOperation": "QueueAssignmentAlerting"})
    )
    routed = api.patch(
        path, {"assignmentOperation": "QueueAssignmentAlerting", "queueId": IDS["queue:billing"]}
    ).json()
    assert routed["assignmentState"] == "AcdStarted" and routed["queue"]["name"] == "Billing"


def test_terminate_needs_a_closed_status(api, demo):
    item = api.post(WORKITEMS, refund()).json()
    path = f"{WORKITEMS}/{item['id']}/terminate"

    assert "statusId" in fields_named(
        api.post(path, {"statusId": IDS["status:refund-request:investigating"]})
    )
    done = api.post(path, {"statusId": IDS["status:refund-request:refunded"]}).json()
    assert done["assignmentState"] == "Terminated" and done["statusCategory"] == "Closed"


def test_delete(api, demo):
    item = api.post(WORKITEMS, refund()).json()

    assert (
        api.session.delete(api.url(f"{WORKITEMS}/{item['id']}"), headers=api.headers()).status_code
        == 204
    )
    assert api.get(f"{WORKITEMS}/{item['id']}").status_code == 404


def eq(name, *values, operator="EQ"):
    return {"name": name, "type": "String", "operator": operator, "values": list(values)}


def test_query_needs_an_eq_filter_on_an_anchor_attribute(api, demo):
    response = api.post(QUERY, {"filters": [eq("externalTag", "crm-1")]})

    assert fields_named(response) == {"filters"}
    assert "workbinId, assigneeId, queueId or typeId" in response.json()["message"]


def test_query_by_type_and_external_tags(api, demo):
    for tag in ("crm-1", "crm-2", "crm-3"):
        api.post(WORKITEMS, refund(externalTag=tag))
    api.post(
        WORKITEMS,
        {
            "name": "Claim",
            "typeId": CLAIM,
            "externalTag": "crm-2",
            "customFields": {"policy_number_identifier": "POL-12345"},
        },
    )

    one = api.query(QUERY, {"filters": [eq("typeId", REFUND), eq("externalTag", "crm-2")]})
    two = api.query(
        QUERY,
        {"filters": [eq("typeId", REFUND), eq("externalTag", "crm-1", "crm-3", operator="IN")]},
    )

    assert [i["externalTag"] for i in one["entities"]] == ["crm-2"]
    assert sorted(i["externalTag"] for i in two["entities"]) == ["crm-1", "crm-3"]


def test_query_pages_with_a_cursor_and_counts(api, demo, clock, settings):
    settings.SIMULATOR_SHORT_PAGES = False
    for n in range(5):
        clock.advance(1)
        api.post(WORKITEMS, refund(name=f"Refund {n}", priority=n))
    body = {"filters": [eq("queueId", IDS["queue:refunds"])], "pageSize": 2}

    first = api.post(QUERY, body).json()
    second = api.post(QUERY, {**body, "after": first["after"]}).json()
    third = api.post(QUERY, {**body, "after": second["after"]}).json()
    count = api.post(QUERY, {**body, "select": "Count"}).json()
    by_priority = api.post(QUERY, {**body, "sort": {"name": "priority", "ascending": False}}).json()

    names = [i["name"] for page in (first, second, third) for i in page["entities"]]
    assert names == [f"Refund {n}" for n in range(5)]
    assert "after" not in third
    assert count["count"] == 5
    assert [i["priority"] for i in by_priority["entities"]] == [4, 3]


def test_query_on_custom_fields_and_status_category(api, demo):
    api.post(WORKITEMS, refund(customFields={**FIELDS, "vip_checkbox": True}))
    api.post(WORKITEMS, refund())
    body = {
        "filters": [
            eq("typeId", REFUND),
            eq("customFields.vip_checkbox", "true"),
            eq("statusCategory", "Open"),
        ]
    }

    assert len(api.query(QUERY, body)["entities"]) == 1


def test_query_pages_are_short_and_the_first_is_empty_yet_after_leads_to_everything(
    api, demo, clock
):
    for n in range(5):
        clock.advance(1)
        api.post(WORKITEMS, refund(name=f"Refund {n}"))
    body = {"filters": [eq("queueId", IDS["queue:refunds"])], "pageSize": 3}

    first = api.post(QUERY, body).json()
    everything = api.query(QUERY, body)

    assert first["entities"] == [] and first["after"]
    assert [i["name"] for i in everything["entities"]] == [f"Refund {n}" for n in range(5)]
    assert everything["pages"] == 4  # empty, 2, 2, 1: never the 3 asked for


def test_query_limits(api, demo):
    anchor = eq("typeId", REFUND)

    assert fields_named(api.post(QUERY, {"filters": [anchor] * 4})) == {"filters"}
    assert fields_named(api.post(QUERY, {"filters": [anchor], "pageSize": 201})) == {"pageSize"}
    assert fields_named(api.post(QUERY, {"filters": [anchor, eq("colour", "red")]})) == {
        "filters[1].name"
    }


def test_create_lost_to_a_timeout_still_exists_and_is_found_by_tag(api, demo):
    faults.inject(path_regex=r"/workitems$", method="POST", kind="timeout", after_processing=True)

    with pytest.raises(requests.exceptions.ReadTimeout):
        api.post(WORKITEMS, refund(externalTag="crm-lost"))
    found = api.query(QUERY, {"filters": [eq("typeId", REFUND), eq("externalTag", "crm-lost")]})

    assert len(found["entities"]) == 1


def test_create_refused_by_a_503_before_processing_leaves_nothing(api, demo):
    faults.inject(path_regex=r"/workitems$", method="POST", status=503)

    assert api.post(WORKITEMS, refund(externalTag="crm-503")).status_code == 503
    assert not SimEntity.objects.filter(kind="workitem").exists()
