"""Routing reads: queues and skills (page-number paging), queue members with filters and expand."""

from __future__ import annotations

import pytest

from simulator.demo import IDS

pytestmark = pytest.mark.django_db

REFUNDS = IDS["queue:refunds"]


def test_queues_page_by_number_with_totals_and_uris(api, demo):
    first = api.get("/api/v2/routing/queues", pageSize=2).json()
    last = api.get("/api/v2/routing/queues", pageSize=2, pageNumber=3).json()

    assert [q["name"] for q in first["entities"]] == ["Billing", "Claims Intake"]
    assert first["pageNumber"] == 1 and first["pageSize"] == 2
    assert first["total"] == 5 and first["pageCount"] == 3
    assert first["nextUri"] == "/api/v2/routing/queues?pageSize=2&pageNumber=2"
    assert first["lastUri"] == "/api/v2/routing/queues?pageSize=2&pageNumber=3"
    assert "previousUri" not in first
    assert [q["name"] for q in last["entities"]] == ["Weekend Overflow"]
    assert "nextUri" not in last
    assert last["previousUri"] == "/api/v2/routing/queues?pageSize=2&pageNumber=2"


def test_queue_page_size_defaults_to_25_and_stops_at_500(api, demo):
    assert api.get("/api/v2/routing/queues").json()["pageSize"] == 25
    response = api.get("/api/v2/routing/queues", pageSize=501)

    assert response.status_code == 400
    assert response.json()["details"] == [{"errorCode": "out.of.range", "fieldName": "pageSize"}]


def test_page_past_the_end_is_empty(api, demo):
    page = api.get("/api/v2/routing/queues", pageNumber=9).json()

    assert page["entities"] == [] and page["total"] == 5


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("refunds", ["Refunds"]),
        ("Esc*", ["Escalations L2"]),
        ("*in*", ["Billing", "Claims Intake"]),
        ("*s", ["Refunds"]),
        ("Ref", []),
    ],
)
def test_queue_name_filter_is_exact_with_edge_wildcards(api, demo, name, expected):
    page = api.get("/api/v2/routing/queues", name=name).json()

    assert [q["name"] for q in page["entities"]] == expected


def test_queue_has_member_counts_division_and_skill_evaluation(api, demo):
    queue = api.get(f"/api/v2/routing/queues/{REFUNDS}").json()

    assert queue["name"] == "Refunds"
    assert queue["memberCount"] == 8
    assert queue["userMemberCount"] == 8
    assert queue["joinedMemberCount"] == 6
    assert queue["skillEvaluationMethod"] == "BEST"
    assert queue["division"]["name"] == "Customer Operations"
    assert set(queue["mediaSettings"]) == {"call", "callback", "chat", "email", "message"}
    assert queue["selfUri"] == f"/api/v2/routing/queues/{REFUNDS}"


def test_unknown_queue_is_a_404_error_body(api, demo):
    response = api.get("/api/v2/routing/queues/4a1f7c55-1d59-4b59-9d7c-000000000000")

    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not.found"
    assert body["contextId"] == response.headers["inin-correlation-id"]


def test_members_are_user_members_without_totals(api, demo):
    page = api.get(f"/api/v2/routing/queues/{REFUNDS}/members", pageSize=5).json()

    assert len(page["entities"]) == 5
    assert "total" not in page and "pageCount" not in page
    assert page["nextUri"].endswith("pageSize=5&pageNumber=2")
    member = page["entities"][0]
    assert member["id"] == member["user"]["id"]
    assert member["memberBy"] == "user"
    assert {"name", "ringNumber", "joined", "selfUri"} <= set(member)
    assert "routingStatus" not in member and "skills" not in member["user"]


def test_member_page_size_above_100_is_a_400(api, demo):
    response = api.get(f"/api/v2/routing/queues/{REFUNDS}/members", pageSize=101)

    assert response.status_code == 400
    assert response.json()["details"][0]["fieldName"] == "pageSize"


def test_members_filter_on_joined_and_routing_status(api, demo):
    joined = api.get(f"/api/v2/routing/queues/{REFUNDS}/members", joined="true").json()
    idle = api.get(
        f"/api/v2/routing/queues/{REFUNDS}/members", routingStatus="IDLE", expand="routingStatus"
    ).json()

    assert len(joined["entities"]) == 6
    assert all(m["joined"] for m in joined["entities"])
    assert {m["name"] for m in idle["entities"]} == {"Amara Okafor", "Chloé Dubois", "Quinn Harper"}


def test_expand_adds_routing_status_and_user_skills(api, demo):
    page = api.get(
        f"/api/v2/routing/queues/{REFUNDS}/members", expand="routingStatus,skills"
    ).json()
    amara = next(m for m in page["entities"] if m["name"] == "Amara Okafor")

    assert amara["routingStatus"]["status"] == "IDLE"
    assert amara["routingStatus"]["userId"] == amara["id"]
    assert {(s["name"], s["proficiency"]) for s in amara["user"]["skills"]} == {
        ("Billing disputes", 3.0),
        ("Refunds", 5.0),
        ("VIP handling", 4.0),
    }
    skill = amara["user"]["skills"][0]
    assert skill["state"] == "active"
    assert skill["skillUri"] == f"/api/v2/routing/skills/{skill['id']}"


@pytest.mark.parametrize("expand", ["routingstatus", "skills,userSkills", "everything"])
def test_an_expand_value_outside_the_sdk_enum_is_refused(api, demo, expand):
    response = api.get(f"/api/v2/routing/queues/{REFUNDS}/members", expand=expand)

    assert response.status_code == 400
    assert response.json()["details"] == [{"errorCode": "invalid.value", "fieldName": "expand"}]


def test_any_expand_value_in_the_sdk_enum_is_accepted(api, demo):
    response = api.get(
        f"/api/v2/routing/queues/{REFUNDS}/members", expand="presence,languages,dateLastLogin"
    )

    assert response.status_code == 200


def test_a_queue_nobody_joined(api, demo):
    queue = api.get(f"/api/v2/routing/queues/{IDS['queue:weekend-overflow']}").json()

    assert queue["memberCount"] == 3 and queue["joinedMemberCount"] == 0


def test_skills_page_by_number_and_show_their_state(api, demo):
    page = api.get("/api/v2/routing/skills", pageSize=5).json()
    second = api.get("/api/v2/routing/skills", pageSize=5, pageNumber=2).json()
    states = {s["name"]: s["state"] for s in page["entities"] + second["entities"]}

    assert page["total"] == 8 and page["pageCount"] == 2
    assert states["Legacy mainframe"] == "inactive"
    assert sum(state == "active" for state in states.values()) == 7


def test_skill_name_filter_is_a_prefix(api, demo):
    page = api.get("/api/v2/routing/skills", name="fr").json()

    assert [s["name"] for s in page["entities"]] == ["Fraud review", "French"]


def test_one_skill_and_an_unknown_one(api, demo):
    skill = api.get(f"/api/v2/routing/skills/{IDS['skill:vip']}").json()

    assert skill["name"] == "VIP handling"
    assert api.get(f"/api/v2/routing/skills/{IDS['queue:billing']}").status_code == 404


def test_user_routing_skills_listing(api, demo):
    page = api.get(f"/api/v2/users/{IDS['user:jonas-weber']}/routingskills").json()

    assert page["total"] == 2
    assert {(s["name"], s["state"], s["proficiency"]) for s in page["entities"]} == {
        ("Billing disputes", "active", 1.0),
        ("Legacy mainframe", "inactive", 5.0),
    }


def test_user_routing_status(api, demo):
    status = api.get(f"/api/v2/users/{IDS['user:farid-haddad']}/routingstatus").json()

    assert status["userId"] == IDS["user:farid-haddad"]
    assert status["status"] == "NOT_RESPONDING"
    assert status["startTime"].endswith("Z")


def test_unknown_user_is_a_404(api, demo):
    response = api.get(f"/api/v2/users/{IDS['queue:billing']}/routingstatus")

    assert response.status_code == 404
