"""Both Genesys pagination styles, and the listings built on them."""

from __future__ import annotations

import json

import pytest
from responses import matchers

from tests.genesys.conftest import API, api_calls
from workitems.genesys import GenesysError


def page(entities: list[dict], **extra) -> dict:
    return {"entities": entities, **extra}


def test_page_number_listing_follows_page_count(client, mocked):
    url = f"{API}/api/v2/routing/queues"
    for number in (1, 2, 3):
        mocked.get(
            url,
            json=page([{"id": f"q{number}"}], pageNumber=number, pageSize=100, pageCount=3),
            match=[matchers.query_param_matcher({"pageNumber": str(number), "pageSize": "100"})],
        )

    assert [q["id"] for q in client.iter_queues()] == ["q1", "q2", "q3"]
    assert len(api_calls(mocked)) == 3


def test_page_number_listing_stops_on_an_empty_page(client, mocked):
    mocked.get(f"{API}/api/v2/routing/skills", json=page([], pageCount=5))

    assert list(client.iter_skills()) == []
    assert len(api_calls(mocked)) == 1


def test_queue_members_expand_skills_and_status_and_follow_next_uri(client, mocked):
    url = f"{API}/api/v2/routing/queues/q1/members"
    member = {
        "id": "u1",
        "joined": True,
        "routingStatus": {"status": "IDLE"},
        "user": {"skills": []},
    }
    common = {"expand": "routingStatus,skills", "joined": "true", "pageSize": "100"}
    mocked.get(
        url,
        json=page([member], nextUri="/api/v2/routing/queues/q1/members?pageNumber=2"),
        match=[matchers.query_param_matcher({**common, "pageNumber": "1"})],
    )
    mocked.get(
        url,
        json=page([{**member, "id": "u2"}]),
        match=[matchers.query_param_matcher({**common, "pageNumber": "2"})],
    )

    members = list(client.iter_queue_members(queue_id="q1", joined=True))

    assert [m["id"] for m in members] == ["u1", "u2"]


def test_user_routing_skills_are_collected_across_pages(client, mocked):
    url = f"{API}/api/v2/users/u1/routingskills"
    skill = {"id": "s1", "name": "billing", "proficiency": 4.0, "state": "active"}
    mocked.get(
        url,
        json=page([skill], pageCount=2),
        match=[matchers.query_param_matcher({"pageNumber": "1", "pageSize": "100"})],
    )
    mocked.get(
        url,
        json=page([{**skill, "id": "s2"}], pageCount=2),
        match=[matchers.query_param_matcher({"pageNumber": "2", "pageSize": "100"})],
    )

    assert [s["id"] for s in client.get_user_routing_skills(user_id="u1")] == ["s1", "s2"]


def test_cursor_listing_follows_after_until_none(client, mocked):
    url = f"{API}/api/v2/taskmanagement/worktypes/query"
    mocked.post(url, json=page([{"id": "wt1"}], after="c1"))
    mocked.post(url, json=page([{"id": "wt2"}], after="c2"))
    mocked.post(url, json=page([{"id": "wt3"}]))

    assert [w["id"] for w in client.iter_worktypes()] == ["wt1", "wt2", "wt3"]

    bodies = [json.loads(c.request.body) for c in api_calls(mocked)]
    assert [b.get("after") for b in bodies] == [None, "c1", "c2"]
    assert all(b["pageSize"] == 200 and b["expands"] == "schema" for b in bodies)


def test_worktypes_and_workbins_are_listed_with_no_filters_as_genesys_terraform_does(
    client, mocked
):
    mocked.post(f"{API}/api/v2/taskmanagement/worktypes/query", json=page([{"id": "wt1"}]))
    mocked.post(f"{API}/api/v2/taskmanagement/workbins/query", json=page([{"id": "wb1"}]))

    list(client.iter_worktypes())
    assert [w["id"] for w in client.iter_workbins()] == ["wb1"]

    worktypes, workbins = [json.loads(c.request.body) for c in api_calls(mocked)]
    assert worktypes == {"pageSize": 200, "expands": "schema"}
    assert workbins == {"pageSize": 200}


@pytest.mark.parametrize("listing", ["iter_worktypes", "iter_workbins", "iter_workitems"])
def test_every_cursor_listing_follows_after_across_empty_and_short_pages(client, mocked, listing):
    path = {
        "iter_worktypes": "worktypes/query",
        "iter_workbins": "workbins/query",
        "iter_workitems": "workitems/query",
    }[listing]
    url = f"{API}/api/v2/taskmanagement/{path}"
    mocked.post(url, json=page([], after="c1"))  # "not guaranteed to be filled": even empty
    mocked.post(url, json=page([{"id": "e1"}], after="c2"))  # short: 1 of 200
    mocked.post(url, json=page([], after="c3"))
    mocked.post(url, json=page([{"id": "e2"}]))
    kwargs = {"filters": [{"name": "typeId"}]} if listing == "iter_workitems" else {}

    assert [e["id"] for e in getattr(client, listing)(**kwargs)] == ["e1", "e2"]
    assert len(api_calls(mocked)) == 4


def test_a_repeated_cursor_stops_with_an_error_instead_of_looping(client, mocked):
    url = f"{API}/api/v2/taskmanagement/workbins/query"
    mocked.post(url, json=page([{"id": "wb1"}], after="same"))
    mocked.post(url, json=page([{"id": "wb2"}], after="same"))

    with pytest.raises(GenesysError, match="same cursor"):
        list(client.iter_workbins())


def test_cursor_listing_over_get_sends_after_as_a_query_parameter(client, mocked):
    url = f"{API}/api/v2/processautomation/triggers"
    mocked.get(
        url,
        json=page([{"id": "t1"}], after="c1"),
        match=[matchers.query_param_matcher({"pageSize": "200"})],
    )
    mocked.get(
        url,
        json=page([{"id": "t2"}]),
        match=[matchers.query_param_matcher({"pageSize": "200", "after": "c1"})],
    )

    triggers = client.iter_cursor(
        method="GET", path="/api/v2/processautomation/triggers", body_or_params={"pageSize": 200}
    )

    assert [t["id"] for t in triggers] == ["t1", "t2"]


def test_the_workitem_query_has_no_one_page_shortcut():
    # A look-up that reads one page can miss an item that exists (docs/GENESYS.md §2): only the iterator.
    from workitems.genesys import GenesysClient

    assert not hasattr(GenesysClient, "query_workitems")


def test_workitem_query_sends_the_filters_and_page_size(client, mocked):
    url = f"{API}/api/v2/taskmanagement/workitems/query"
    filters = [{"name": "typeId", "type": "String", "operator": "EQ", "values": ["wt1"]}]
    mocked.post(url, json=page([{"id": "wi1"}]))

    assert [w["id"] for w in client.iter_workitems(filters=filters, page_size=50)] == ["wi1"]
    assert json.loads(api_calls(mocked)[0].request.body) == {"filters": filters, "pageSize": 50}
