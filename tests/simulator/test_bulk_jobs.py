"""Bulk add jobs as documented: created Idle, run only once PATCHed Queued, terminated or deleted
only while Idle, results as BulkJobAddWorkitemSummary."""

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


def items() -> int:
    return SimEntity.objects.filter(kind="workitem").count()


def create(api, *names) -> dict:
    response = api.post(JOBS, {"entities": [entity(n) for n in names]})
    assert response.status_code == 200, response.text
    return response.json()


def start(api, job) -> dict:
    response = api.patch(f"{JOBS}/{job['id']}", {"state": "Queued"})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_new_job_is_idle_and_creates_nothing_until_patched_queued(api, demo):
    job = create(api, "Refund one", "Refund two")

    assert (job["state"], job["action"], job["totalCount"]) == ("Idle", "AddWorkitems", 2)
    assert api.get(f"{JOBS}/{job['id']}").json()["state"] == "Idle"
    assert api.get(f"{JOBS}/{job['id']}/results").json() == {
        "results": [],
        "errorCount": 0,
        "errorIndexes": [],
    }
    assert items() == 0

    assert start(api, job)["state"] == "Queued"
    done = api.get(f"{JOBS}/{job['id']}").json()

    assert done["state"] == "Succeeded" and (done["successfulCount"], done["failedCount"]) == (2, 0)
    assert done["dateStarted"] and done["dateFinished"]
    assert items() == 2


def test_results_are_summaries_in_entity_order_with_each_refusal_as_an_error(api, demo):
    body = {
        "entities": [
            entity("Refund one"),
            entity("no"),
            entity("Refund three", preferredAgentIds=[]),  # not in WorkitemCommonCreate
        ]
    }
    job = api.post(JOBS, body).json()
    start(api, job)

    done = api.get(f"{JOBS}/{job['id']}").json()
    results = api.get(f"{JOBS}/{job['id']}/results").json()

    assert (done["totalCount"], done["successfulCount"], done["failedCount"]) == (3, 1, 2)
    assert results["errorCount"] == 2 and results["errorIndexes"] == [1, 2]
    summary = results["results"][0]["entity"]
    assert set(summary) == {"id", "name", "workbin", "type", "selfUri"}  # no status, no dates
    assert summary["name"] == "Refund one" and summary["type"]["id"] == REFUND
    assert summary["workbin"]["id"] == IDS["workbin:refunds"]
    assert "name" in results["results"][1]["error"]["message"]
    assert "preferredAgentIds" in results["results"][2]["error"]["message"]
    assert items() == 1


def test_a_job_where_everything_failed_is_failed(api, demo):
    job = create(api, "x")
    start(api, job)

    assert api.get(f"{JOBS}/{job['id']}").json()["state"] == "Failed"


def test_a_queued_job_runs_only_once_its_time_has_come(api, demo, clock, settings):
    settings.SIMULATOR_BULK_JOB_SECONDS = 30
    job = create(api, "Refund one")
    start(api, job)

    clock.advance(29)
    waiting = api.get(f"{JOBS}/{job['id']}").json()
    created_while_waiting = items()
    clock.advance(1)
    done = api.get(f"{JOBS}/{job['id']}").json()

    assert waiting["state"] == "Queued" and created_while_waiting == 0
    assert done["state"] == "Succeeded" and items() == 1


def test_a_queued_job_also_runs_when_work_items_are_queried(api, demo, clock, settings):
    settings.SIMULATOR_BULK_JOB_SECONDS = 5
    start(api, create(api, "Refund one"))
    clock.advance(5)

    api.post(
        "/api/v2/taskmanagement/workitems/query",
        {"filters": [{"name": "typeId", "type": "String", "operator": "EQ", "values": [REFUND]}]},
    )

    assert items() == 1


def test_an_idle_job_can_be_terminated_and_then_never_runs(api, demo):
    job = create(api, "Refund one")

    ended = api.patch(f"{JOBS}/{job['id']}", {"state": "Terminated"})
    again = api.patch(f"{JOBS}/{job['id']}", {"state": "Queued"})

    assert ended.status_code == 200 and ended.json()["state"] == "Terminated"
    assert again.status_code == 400 and "only be queued or terminated" in again.json()["message"]
    assert items() == 0


def test_an_idle_job_can_be_deleted(api, demo):
    job = create(api, "Refund one")

    assert (
        api.session.delete(api.url(f"{JOBS}/{job['id']}"), headers=api.headers()).status_code == 204
    )
    assert api.get(f"{JOBS}/{job['id']}").status_code == 404


@pytest.mark.parametrize("verb", ["terminate", "delete"])
def test_a_job_that_has_left_idle_can_be_neither_terminated_nor_deleted(api, demo, verb):
    job = create(api, "Refund one")
    start(api, job)

    if verb == "terminate":
        response = api.patch(f"{JOBS}/{job['id']}", {"state": "Terminated"})
    else:
        response = api.session.delete(api.url(f"{JOBS}/{job['id']}"), headers=api.headers())

    assert response.status_code == 400
    assert "while its state is Idle" in response.json()["message"]
    assert api.get(f"{JOBS}/{job['id']}").json()["state"] == "Succeeded"


@pytest.mark.parametrize(
    "body", [{}, {"state": "Running"}, {"state": "Queued", "priority": 1}, ["Queued"]]
)
def test_a_patch_other_than_queued_or_terminated_is_a_400(api, demo, body):
    job = create(api, "Refund one")

    assert api.patch(f"{JOBS}/{job['id']}", body).status_code == 400
    assert api.get(f"{JOBS}/{job['id']}").json()["state"] == "Idle"


@pytest.mark.parametrize(
    "body", [{}, {"entities": []}, {"entities": "x"}, {"entities": [entity("Refund")], "extra": 1}]
)
def test_bad_job_bodies_are_400s(api, demo, body):
    assert api.post(JOBS, body).status_code == 400


def test_job_size_is_capped_at_fifty_by_default_and_by_the_setting(api, demo, settings):
    too_many = api.post(JOBS, {"entities": [entity(f"Refund {n}") for n in range(51)]})
    settings.SIMULATOR_BULK_MAX_ENTITIES = 2
    three = api.post(JOBS, {"entities": [entity(f"Refund {n}") for n in range(3)]})

    assert too_many.status_code == three.status_code == 400
    assert three.json()["details"][0]["fieldName"] == "entities"


def test_unknown_job_is_a_404(api, demo):
    assert api.get(f"{JOBS}/{REFUND}").status_code == 404
    assert api.patch(f"{JOBS}/{REFUND}", {"state": "Queued"}).status_code == 404


def test_a_start_lost_to_a_502_after_processing_still_started_the_job(api, demo):
    job = create(api, "Refund one", "Refund two")
    faults.inject(
        path_regex=r"/bulk/add/jobs/[^/]+$", method="PATCH", status=502, after_processing=True
    )

    assert api.patch(f"{JOBS}/{job['id']}", {"state": "Queued"}).status_code == 502
    assert api.get(f"{JOBS}/{job['id']}").json()["state"] == "Succeeded"
    assert items() == 2
