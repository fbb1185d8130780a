"""Bulk add jobs: per-entity outcomes, the job's states and its results listing."""

from __future__ import annotations

import pytest

from simulator import faults
from simulator.demo import IDS
from simulator.models import SimEntity

pytestmark = pytest.mark.django_db

JOBS = "/api/v2/taskmanagement/workitems/bulk/add/jobs"
REFUND = IDS["worktype:refund-request"]
FIELDS = {"order_number_text": "WEB-4711", "amount_number": 10}


def entity(name, **extra):
    return {"name": name, "typeId": REFUND, "customFields": FIELDS, **extra}


def test_job_creates_the_items_and_reports_each_outcome(api, demo):
    body = {
        "entities": [
            entity("Refund one"),
            entity("no"),
            entity("Refund three", preferredAgentIds=[]),
        ]
    }

    created = api.post(JOBS, body)
    job = api.get(f"{JOBS}/{created.json()['id']}").json()
    results = api.get(f"{JOBS}/{job['id']}/results").json()

    assert created.status_code == 200
    assert created.json()["state"] == "Queued" and created.json()["action"] == "AddWorkitems"
    assert job["state"] == "Succeeded"
    assert (job["totalCount"], job["successfulCount"], job["failedCount"]) == (3, 1, 2)
    assert results["errorCount"] == 2 and results["errorIndexes"] == [1, 2]
    ok = results["results"][0]["entity"]
    assert ok["name"] == "Refund one" and ok["type"]["id"] == REFUND
    assert ok["workbin"]["id"] == IDS["workbin:refunds"]
    assert "name" in results["results"][1]["error"]["message"]
    assert (
        "preferredAgentIds" in results["results"][2]["error"]["message"]
    )  # not in WorkitemCommonCreate
    assert SimEntity.objects.filter(kind="workitem").count() == 1


def test_a_job_where_everything_failed_is_failed(api, demo):
    job = api.post(JOBS, {"entities": [entity("x")]}).json()

    assert api.get(f"{JOBS}/{job['id']}").json()["state"] == "Failed"


@pytest.mark.parametrize(
    "body", [{}, {"entities": []}, {"entities": "x"}, {"entities": [entity("Refund")], "extra": 1}]
)
def test_bad_job_bodies_are_400s(api, demo, body):
    assert api.post(JOBS, body).status_code == 400


def test_job_size_is_capped_by_the_setting(api, demo, settings):
    settings.SIMULATOR_BULK_MAX_ENTITIES = 2

    response = api.post(JOBS, {"entities": [entity(f"Refund {n}") for n in range(3)]})

    assert response.status_code == 400
    assert response.json()["details"][0]["fieldName"] == "entities"


def test_unknown_job_is_a_404(api, demo):
    assert api.get(f"{JOBS}/{REFUND}").status_code == 404


def test_job_lost_to_a_502_after_processing_still_created_the_items(api, demo):
    faults.inject(path_regex=r"/bulk/add/jobs$", status=502, after_processing=True)

    assert (
        api.post(JOBS, {"entities": [entity("Refund one"), entity("Refund two")]}).status_code
        == 502
    )
    assert SimEntity.objects.filter(kind="workitem").count() == 2
