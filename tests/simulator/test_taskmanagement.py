"""Worktype and workbin queries (validation, filters, cursor paging, Count, schema expand) and
the worktype, status and workbin reads."""

from __future__ import annotations

import pytest

from simulator.demo import IDS

from .conftest import MATCH_ALL

pytestmark = pytest.mark.django_db

WORKTYPES = "/api/v2/taskmanagement/worktypes/query"
WORKBINS = "/api/v2/taskmanagement/workbins/query"
REFUND = IDS["worktype:refund-request"]
CLAIM = IDS["worktype:insurance-claim"]


def names(listing: dict) -> list[str]:
    return [e["name"] for e in listing["entities"]]


def where(name, operator, *values, type="String"):
    return {"filters": [{"name": name, "type": type, "operator": operator, "values": list(values)}]}


@pytest.mark.parametrize("query", [WORKTYPES, WORKBINS])
def test_worktypes_and_workbins_are_listed_with_no_filters_at_all(api, demo, query):
    # Genesys's Terraform provider lists them this way: {"pageSize": 200, "after": ""}.
    listed = api.query(query, {"pageSize": 200, "after": ""})

    assert len(listed["entities"]) == (2 if query == WORKTYPES else 3)


def test_the_first_page_is_empty_and_later_pages_are_short_but_after_leads_on(api, demo):
    first = api.post(WORKBINS, {"pageSize": 2}).json()
    second = api.post(WORKBINS, {"pageSize": 2, "after": first["after"]}).json()
    everything = api.query(WORKBINS, {"pageSize": 2})

    assert first["entities"] == [] and first["after"]
    assert len(second["entities"]) == 1 and second["after"]  # one short of the 2 asked for
    assert names(everything) == ["Claims workbin", "Refunds workbin", "Triage workbin"]
    assert everything["pages"] == 4


def test_a_query_matching_nothing_still_has_an_empty_first_page_with_after(api, demo):
    first = api.post(WORKBINS, where("name", "EQ", "No such bin")).json()
    second = api.post(WORKBINS, {**where("name", "EQ", "No such bin"), "after": first["after"]})

    assert first["entities"] == [] and first["after"]
    assert second.json()["entities"] == [] and "after" not in second.json()


def test_cursor_pages_follow_after_until_it_is_gone(api, demo, settings):
    settings.SIMULATOR_SHORT_PAGES = False
    first = api.post(WORKBINS, {"filters": [MATCH_ALL], "pageSize": 2}).json()
    second = api.post(
        WORKBINS, {"filters": [MATCH_ALL], "pageSize": 2, "after": first["after"]}
    ).json()

    assert [w["name"] for w in first["entities"]] == ["Claims workbin", "Refunds workbin"]
    assert [w["name"] for w in second["entities"]] == ["Triage workbin"]
    assert "after" not in second
    assert first["selfUri"] == WORKBINS


def test_a_cursor_from_another_query_is_a_400(api, demo, settings):
    settings.SIMULATOR_SHORT_PAGES = False
    first = api.post(WORKBINS, {"filters": [MATCH_ALL], "pageSize": 1}).json()
    other = where("name", "CONTAINS", "bin")
    response = api.post(WORKBINS, {**other, "pageSize": 1, "after": first["after"]})

    assert response.status_code == 400
    assert response.json()["details"][0]["fieldName"] == "after"
    assert api.post(WORKBINS, {"filters": [MATCH_ALL], "after": "garbage"}).status_code == 400


def test_select_count_returns_only_the_count(api, demo):
    body = api.post(WORKBINS, {"filters": [MATCH_ALL], "select": "Count"}).json()

    assert body["count"] == 3
    assert "entities" not in body


def test_a_worktype_holds_only_a_schema_reference_and_expands_fills_in_its_name(api, demo):
    plain = api.query(WORKTYPES, {**where("id", "EQ", REFUND)})["entities"][-1]
    expanded = api.query(WORKTYPES, {**where("id", "EQ", REFUND), "expands": "schema"})

    schema_id = IDS["schema:refund-fields"]
    assert plain["schema"] == {
        "id": schema_id,
        "version": 1,
        "selfUri": f"/api/v2/taskmanagement/workitems/schemas/{schema_id}",
    }
    assert expanded["entities"][-1]["schema"] == {
        **plain["schema"],
        "name": "Refund request fields",
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (where("name", "EQ", "Refund request"), ["Refund request"]),
        (where("name", "NEQ", "Refund request"), ["Insurance claim"]),
        (where("name", "IN", "Insurance claim", "Nope"), ["Insurance claim"]),
        (where("name", "CONTAINS", "CLAIM"), ["Insurance claim"]),
        (where("name", "BEGINS_WITH", "ref"), ["Refund request"]),
        (where("defaultPriority", "GT", "5", type="Int"), ["Refund request"]),
        (where("defaultPriority", "GTE", "5", type="Int"), ["Insurance claim", "Refund request"]),
        (where("defaultPriority", "LT", "10", type="Int"), ["Insurance claim"]),
        (where("defaultPriority", "LTE", "4", type="Int"), []),
        (where("defaultPriority", "BETWEEN", "6", "10", type="Int"), ["Refund request"]),
        (where("assignmentEnabled", "EQ", "true"), ["Refund request"]),
        (where("defaultQueueId", "EQ", IDS["queue:claims-intake"]), ["Insurance claim"]),
        (where("defaultWorkbinId", "EQ", IDS["workbin:refunds"]), ["Refund request"]),
        (
            where("dateCreated", "LT", "2025-02-01T00:00:00.000Z"),
            ["Insurance claim", "Refund request"],
        ),
        (where("dateCreated", "GT", "2025-02-01T00:00:00Z"), []),
    ],
)
def test_filter_operators_over_flat_attributes(api, demo, body, expected):
    assert names(api.query(WORKTYPES, body)) == expected


def test_filters_are_anded(api, demo):
    body = {
        "filters": [
            MATCH_ALL,
            {
                "name": "divisionId",
                "type": "String",
                "operator": "EQ",
                "values": [IDS["division:customer-operations"]],
            },
            {"name": "name", "type": "String", "operator": "CONTAINS", "values": ["refund"]},
        ]
    }

    assert names(api.query(WORKTYPES, body)) == ["Refund request"]


def test_sort_by_name_descending(api, demo):
    body = {"filters": [MATCH_ALL], "sort": {"name": "name", "ascending": False}}

    assert names(api.query(WORKBINS, body)) == [
        "Triage workbin",
        "Refunds workbin",
        "Claims workbin",
    ]


def test_attributes_limit_what_each_entity_carries(api, demo):
    entity = api.query(WORKTYPES, {"filters": [MATCH_ALL], "attributes": ["name"]})["entities"][0]

    assert set(entity) == {"id", "name", "selfUri"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filters": [MATCH_ALL] * 4}, "filters"),
        ({"filters": "all"}, "filters"),
        ({"filters": [MATCH_ALL], "pageSize": 201}, "pageSize"),
        ({"filters": [MATCH_ALL], "pageSize": 0}, "pageSize"),
        ({"filters": [MATCH_ALL], "select": "All"}, "select"),
        ({"filters": [MATCH_ALL], "colour": "blue"}, "colour"),
        ({"filters": [MATCH_ALL], "expands": "statuses"}, "expands"),
        ({"filters": [MATCH_ALL], "sort": {"name": "priority"}}, "sort.name"),
        (where("workbinId", "EQ", "x"), "filters[0].name"),
        ({"filters": [{**MATCH_ALL, "operator": "LIKE"}]}, "filters[0].operator"),
        ({"filters": [{**MATCH_ALL, "type": "Date"}]}, "filters[0].type"),
        ({"filters": [{"name": "id", "type": "String", "operator": "EQ"}]}, "filters[0].values"),
        (where("name", "EQ", "a", "b"), "filters[0].values"),
        (where("name", "BETWEEN", "a"), "filters[0].values"),
        (where("defaultPriority", "EQ", "high", type="Int"), "filters[0].values"),
    ],
)
def test_bad_query_bodies_are_400s_naming_the_field(api, demo, body, field):
    response = api.post(WORKTYPES, body)

    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "bad.request" and error["status"] == 400
    assert field in [d["fieldName"] for d in error["details"]]


def test_a_body_that_is_not_json_is_a_400(api, demo):
    response = api.session.post(
        api.url(WORKTYPES),
        data="{not json",
        headers={**api.headers(), "Content-Type": "application/json"},
    )

    assert response.status_code == 400


def test_workbin_queries_take_no_expands(api, demo):
    response = api.post(WORKBINS, {"filters": [MATCH_ALL], "expands": "schema"})

    assert response.status_code == 400


def test_worktype_carries_defaults_statuses_and_schema_reference(api, demo):
    wt = api.get(f"/api/v2/taskmanagement/worktypes/{REFUND}").json()

    assert wt["name"] == "Refund request"
    assert wt["defaultWorkbin"]["id"] == IDS["workbin:refunds"]
    assert wt["defaultQueue"] == {
        "id": IDS["queue:refunds"],
        "name": "Refunds",
        "selfUri": f"/api/v2/routing/queues/{IDS['queue:refunds']}",
    }
    assert wt["defaultStatus"]["name"] == "New"
    assert wt["defaultPriority"] == 10 and wt["assignmentEnabled"] is True
    assert [s["id"] for s in wt["defaultSkills"]] == [IDS["skill:refunds"]]
    assert {s["category"] for s in wt["statuses"]} == {"Open", "InProgress", "Waiting", "Closed"}
    assert wt["schema"]["id"] == IDS["schema:refund-fields"]


def test_worktype_get_with_expands_schema_still_carries_no_json_schema(api, demo):
    wt = api.get(f"/api/v2/taskmanagement/worktypes/{CLAIM}", expands="schema").json()

    assert set(wt["schema"]) == {"id", "name", "version", "selfUri"}


def test_statuses_listing_is_one_page_with_total(api, demo):
    listing = api.get(f"/api/v2/taskmanagement/worktypes/{REFUND}/statuses").json()

    assert set(listing) == {"total", "entities", "selfUri"}
    assert listing["total"] == 5
    waiting = next(s for s in listing["entities"] if s["category"] == "Waiting")
    assert waiting["name"] == "Awaiting customer"
    assert waiting["defaultDestinationStatus"]["name"] == "Rejected"
    assert waiting["statusTransitionDelaySeconds"] == 7 * 86400
    assert {d["name"] for d in waiting["destinationStatuses"]} == {"Investigating", "Rejected"}
    assert waiting["worktype"]["id"] == REFUND


def test_one_status_and_a_status_of_another_worktype(api, demo):
    status_id = IDS["status:refund-request:rejected"]
    status = api.get(f"/api/v2/taskmanagement/worktypes/{REFUND}/statuses/{status_id}").json()
    foreign = api.get(f"/api/v2/taskmanagement/worktypes/{CLAIM}/statuses/{status_id}")

    assert status["category"] == "Closed" and status["autoTerminateWorkitem"] is True
    assert foreign.status_code == 404


def test_workbin_and_unknown_worktype(api, demo):
    workbin = api.get(f"/api/v2/taskmanagement/workbins/{IDS['workbin:triage']}").json()

    assert workbin["name"] == "Triage workbin"
    assert workbin["division"]["name"] == "Customer Operations"
    assert api.get(f"/api/v2/taskmanagement/worktypes/{IDS['workbin:triage']}").status_code == 404
    assert api.get("/api/v2/taskmanagement/worktypes/not-a-uuid").status_code == 404
