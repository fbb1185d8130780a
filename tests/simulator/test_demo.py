"""The demo organisation: believable, complete enough for the portal, and idempotent."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import call_command

from simulator import render, store
from simulator.demo import IDS, seed_demo_org
from simulator.models import SimEntity

pytestmark = pytest.mark.django_db


def test_second_seed_changes_nothing():
    first = seed_demo_org()
    before = list(SimEntity.objects.order_by("pk").values("pk", "data", "updated_at"))

    second = seed_demo_org()

    assert sum(c["created"] for c in first.values()) == SimEntity.objects.count()
    assert all(set(c) == {"unchanged"} for c in second.values())
    assert list(SimEntity.objects.order_by("pk").values("pk", "data", "updated_at")) == before


def test_seed_puts_back_what_was_changed():
    seed_demo_org()
    queue = store.get(render.QUEUE, IDS["queue:refunds"])
    store.put(render.QUEUE, queue["id"], {**queue, "name": "Renamed"})

    summary = seed_demo_org()

    assert summary[render.QUEUE]["updated"] == 1
    assert store.get(render.QUEUE, IDS["queue:refunds"])["name"] == "Refunds"


def test_the_org_has_what_the_portal_needs():
    seed_demo_org()
    queues = {q["name"]: q for q in store.all_of(render.QUEUE)}
    users = store.all_of(render.USER)
    skills = store.all_of(render.SKILL)
    members = store.all_of(render.QUEUE_MEMBER)

    assert {"Refunds", "Billing", "Claims Intake", "Escalations L2"} <= set(queues)
    assert {q["skillEvaluationMethod"] for q in queues.values()} == {"NONE", "BEST", "ALL"}
    assert len(users) >= 20
    assert {u["routingStatus"]["status"] for u in users} == {
        "IDLE", "INTERACTING", "COMMUNICATING", "OFF_QUEUE", "NOT_RESPONDING"
    }  # fmt: skip
    assert len(skills) == 8 and [s["name"] for s in skills if s["state"] != "active"] == [
        "Legacy mainframe"
    ]
    proficiencies = {h["proficiency"] for u in users for h in u["skills"]}
    assert proficiencies == {0, 1, 2, 3, 4, 5}
    joined_by_queue = Counter(m["queueId"] for m in members if m["joined"])
    assert joined_by_queue[IDS["queue:weekend-overflow"]] == 0
    assert {m["joined"] for m in members} == {True, False}
    assert len(store.all_of(render.WORKBIN)) == 3


def test_worktypes_have_defaults_schema_and_statuses_in_every_category():
    seed_demo_org()

    for wt in store.all_of(render.WORKTYPE):
        statuses = store.all_of(render.STATUS, parent=wt["id"])
        assert {s["category"] for s in statuses} == {"Open", "InProgress", "Waiting", "Closed"}
        assert wt["defaultStatusId"] in {s["id"] for s in statuses}
        assert store.get(render.WORKBIN, wt["defaultWorkbinId"])
        assert store.get(render.QUEUE, wt["defaultQueueId"])
        schema = store.get(render.SCHEMA, wt["schemaId"])
        keys = schema["jsonSchema"]["properties"]
        suffixes = ("_text", "_longtext", "_url", "_identifier", "_enum", "_date", "_datetime",
                    "_integer", "_number", "_checkbox", "_tag")  # fmt: skip
        assert all(key.endswith(suffixes) for key in keys)
        for s in statuses:
            assert set(s["destinationStatusIds"]) <= {x["id"] for x in statuses}


def test_seed_command_prints_a_summary(capsys):
    call_command("simulator_seed")
    first = capsys.readouterr().out
    call_command("simulator_seed")
    second = capsys.readouterr().out

    assert "queue" in first and "created" in first
    assert "Nothing to change." in second
