"""POST /api/genesys/events/: every shape stored and answered; bad input answered, never a 500."""

import json
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import override_settings

from tests.api.conftest import SECRET_NEW
from tests.api.support import (
    STATUS_DONE,
    STATUS_WORKING,
    body,
    fixture_text,
    notification,
    reference,
)
from workitems.models import InboundEvent, StatusTransition, WorkItem
from workitems.services.event_processor import events_drain

URL = "/api/genesys/events/"
AUTH = {"X-Ingest-Secret": SECRET_NEW}
State = InboundEvent.State
pytestmark = pytest.mark.django_db


def post(client, raw, content_type="application/json", headers=None):
    if not isinstance(raw, str | bytes):
        raw = json.dumps(raw)
    return client.post(
        URL, data=raw, content_type=content_type, headers={**AUTH, **(headers or {})}
    )


@pytest.mark.parametrize(
    ("name", "envelope", "workitem_id", "operation", "category"),
    [
        (
            "notification.json",
            "notification",
            "00000000-0000-0000-0000-00000000000a",
            "edit",
            "InProgress",
        ),
        (
            "eventbridge.json",
            "eventbridge",
            "00000000-0000-0000-0000-00000000000b",
            "edit",
            "Closed",
        ),
        (
            "eventbridge_bare_detail.json",
            "eventbridge",
            "00000000-0000-0000-0000-00000000000e",
            "add",
            "Open",
        ),
        ("bare.json", "bare", "00000000-0000-0000-0000-00000000000c", "add", "Open"),
    ],
)
def test_each_envelope_shape_is_accepted_and_normalised(
    client, name, envelope, workitem_id, operation, category
):
    reference()
    raw = fixture_text(name)
    response = post(client, raw)
    assert response.status_code == 202, response.content
    event = InboundEvent.objects.get(pk=response.json()["id"])
    assert response.json()["state"] == "accepted"
    assert event.state == State.ACCEPTED
    assert event.body == raw  # kept exactly as received
    assert (event.envelope, event.workitem_genesys_id, event.operation) == (
        envelope,
        workitem_id,
        operation,
    )
    assert event.date_modified is not None and len(event.dedupe_key) == 64
    assert events_drain().counts["adopted"] == 1
    item = WorkItem.objects.get(genesys_id=workitem_id)
    assert item.status_category == category
    event.refresh_from_db()
    assert (event.state, event.workitem_id) == (State.PROCESSED, item.pk)


def test_an_array_stores_one_row_per_element_and_applies_them_in_order(client):
    reference()
    response = post(client, fixture_text("array.json"))
    assert response.status_code == 202
    answers = response.json()["events"]
    assert [a["state"] for a in answers] == ["accepted"] * 3
    rows = InboundEvent.objects.filter(pk__in=[a["id"] for a in answers])
    assert {r.envelope for r in rows} == {"notification", "bare"}
    assert all(json.loads(r.body) for r in rows)  # each element on its own
    events_drain()
    item = WorkItem.objects.get(genesys_id="00000000-0000-0000-0000-00000000000d")
    assert item.status.genesys_id == STATUS_DONE
    assert item.date_closed.isoformat() == "2026-07-02T09:30:00+00:00"
    assert [t.to_status_name for t in item.transitions.order_by("changed_at")] == [
        "New",
        "Working",
        "Done",
    ]


def test_a_heartbeat_or_other_topic_is_recorded_and_ignored(client):
    response = post(client, fixture_text("heartbeat.json"))
    assert response.status_code == 200
    assert response.json()["state"] == "ignored"
    event = InboundEvent.objects.get()
    assert event.state == State.IGNORED and "channel.metadata" in event.error
    assert events_drain().counts["claimed"] == 0


def test_an_unsupported_operation_is_recorded_and_ignored(client):
    response = post(client, notification(body("wi-view", operation="view")))
    assert response.status_code == 200
    assert InboundEvent.objects.get().state == State.IGNORED


def test_a_duplicate_answers_200_with_the_original_id_and_is_not_applied_twice(client):
    reference()
    raw = json.dumps(notification(body("wi-dup", status=STATUS_WORKING)))
    first = post(client, raw)
    second = post(client, raw)
    assert first.status_code == 202
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["state"] == "duplicate"
    duplicate = InboundEvent.objects.get(state=State.DUPLICATE)
    assert duplicate.dedupe_key is None
    assert f"Duplicate of event {first.json()['id']}" in duplicate.error
    events_drain()
    assert StatusTransition.objects.count() == 1
    # The same event through another channel (EventBridge wrapping the same body) is a duplicate.
    wrapped = {
        "detail-type": "v2.taskmanagement.workitems.{id}",
        "source": "aws.partner/x",
        "detail": json.loads(raw),
    }
    assert post(client, wrapped).status_code == 200


def test_a_repeated_element_within_one_array_is_a_duplicate(client):
    element = notification(body("wi-arr-dup"))
    response = post(client, [element, element])
    assert response.status_code == 202
    first, second = response.json()["events"]
    assert (first["state"], second["state"]) == ("accepted", "duplicate")
    assert second["id"] == first["id"]


def test_out_of_order_events_end_in_the_newest_state(client):
    reference()
    newer = notification(body("wi-ooo", status=STATUS_DONE, modified="2026-07-01T10:10:00Z"))
    older = notification(body("wi-ooo", status=STATUS_WORKING, modified="2026-07-01T10:05:00Z"))
    post(client, newer)
    events_drain()
    post(client, older)
    events_drain()
    item = WorkItem.objects.get(genesys_id="wi-ooo")
    assert item.status.genesys_id == STATUS_DONE
    assert InboundEvent.objects.get(date_modified__minute=5).state == State.STALE


def test_malformed_json_is_400_and_kept_as_rejected(client):
    response = post(client, '{"id": "wi-1", "dateModified": ')
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["detail"]
    event = InboundEvent.objects.get(pk=response.json()["id"])
    assert event.state == State.REJECTED
    assert event.body == '{"id": "wi-1", "dateModified": '
    assert event.dedupe_key is None


def test_a_body_that_is_not_utf8_is_400(client):
    response = post(client, b'{"id": "\xff\xfe"}')
    assert response.status_code == 400
    assert InboundEvent.objects.get().state == State.REJECTED


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (
            {
                "eventBody": {"dateModified": "2026-07-01T10:00:00Z"},
                "topicName": "v2.taskmanagement.workitems.x",
            },
            "no work-item id",
        ),
        ({"name": "no id at all"}, "no work-item id"),
        ({"id": "wi-x", "operation": "edit"}, "no dateModified"),
        ({"id": "wi-x", "operation": "edit", "dateModified": "yesterday"}, "not an ISO-8601"),
        (
            {"topicName": "v2.taskmanagement.workitems.x", "eventBody": "text"},
            "must be a JSON object",
        ),
        (json.dumps("just a string"), "expected a JSON object or array"),
        ([], "empty JSON array"),
        ([42], "expected a JSON object"),
    ],
)
def test_well_formed_json_without_what_we_need_is_400_saying_why(client, payload, says):
    response = post(client, payload)
    assert response.status_code == 400
    assert says in json.dumps(response.json())
    assert InboundEvent.objects.filter(state=State.REJECTED).count() == 1


def test_an_array_with_one_bad_element_is_400_but_keeps_the_good_ones(client):
    response = post(client, [notification(body("wi-good")), {"name": "no id"}])
    assert response.status_code == 400
    good, bad = response.json()["events"]
    assert (good["state"], bad["state"]) == ("accepted", "rejected")
    assert "no work-item id" in bad["detail"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_wrong_content_type_is_415(client, content_type):
    response = post(client, json.dumps(body("wi-ct")), content_type=content_type)
    assert response.status_code == 415
    assert not InboundEvent.objects.exists()


def test_json_with_a_charset_is_fine(client):
    response = post(client, body("wi-cs"), content_type="application/json; charset=utf-8")
    assert response.status_code == 202


@override_settings(INGEST_MAX_BODY_BYTES=1024)
def test_a_body_over_the_limit_is_413(client):
    big = body("wi-big", description="x" * 2000)
    response = post(client, big)
    assert response.status_code == 413
    assert not InboundEvent.objects.exists()


def test_the_default_limit_is_256_kib(client, settings):
    assert settings.INGEST_MAX_BODY_BYTES == 256 * 1024
    response = post(client, body("wi-big2", description="x" * (256 * 1024)))
    assert response.status_code == 413


def test_a_database_failure_is_503_so_the_sender_retries(client):
    with mock.patch(
        "workitems.services.ingest._insert_ignoring_conflicts",
        side_effect=OperationalError("connection refused"),
    ):
        response = post(client, body("wi-db"))
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_without_the_trailing_slash_the_endpoint_still_answers(client):
    response = client.post(
        URL.rstrip("/"),
        data=json.dumps(body("wi-slash")),
        content_type="application/json",
        headers=AUTH,
    )
    assert response.status_code == 202


def test_a_nul_character_in_a_rejected_body_is_still_stored(client):
    response = post(client, b'{"id": "a\x00b"')
    assert response.status_code == 400
    assert InboundEvent.objects.get().state == State.REJECTED
