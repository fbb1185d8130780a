"""Contract: the portal's own Genesys client reads the demo org through the simulator."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from simulator.demo import IDS
from simulator.transport import simulator_session
from workitems.genesys import get_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(settings, demo):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "sim"}
    }
    cache.clear()
    yield get_client(session=simulator_session(), pacing=False)
    cache.clear()


def test_client_reads_every_reference_listing(client):
    assert len(list(client.iter_queues())) == 5
    assert len(list(client.iter_skills())) == 8
    assert {w["name"] for w in client.iter_workbins()} == {
        "Refunds workbin",
        "Claims workbin",
        "Triage workbin",
    }
    worktypes = list(client.iter_worktypes())
    assert {wt["name"] for wt in worktypes} == {"Refund request", "Insurance claim"}
    assert all(set(wt["schema"]) == {"id", "name", "version", "selfUri"} for wt in worktypes)
    statuses = client.list_worktype_statuses(worktype_id=IDS["worktype:refund-request"])
    assert len(statuses) == 5


def test_client_pages_through_members_with_expand(client):
    members = list(client.iter_queue_members(queue_id=IDS["queue:refunds"]))
    joined = list(client.iter_queue_members(queue_id=IDS["queue:refunds"], joined=True))

    assert len(members) == 8 and len(joined) == 6
    assert all("routingStatus" in m and "skills" in m["user"] for m in members)


def test_client_sees_genesys_errors(client):
    from workitems.genesys import GenesysError

    with pytest.raises(GenesysError) as caught:
        client.get_queue(queue_id=IDS["workbin:triage"])

    assert caught.value.status == 404
    assert caught.value.context_id
