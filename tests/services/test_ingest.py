"""The ingest service: envelope normalisation, dedupe keys, storing (one INSERT per request)."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.support import body, fixture, fixture_text, notification
from workitems.genesys_events import (
    EventRejected,
    canonical_json,
    event_dedupe_key,
    event_normalise,
)
from workitems.models import InboundEvent
from workitems.services.ingest import event_ingest

State = InboundEvent.State


def normalise(element):
    return event_normalise(element, now=datetime.now(UTC), future_skew=timedelta(days=1))


def test_notification_envelope():
    event = normalise(fixture("notification.json"))
    assert event.envelope == "notification"
    assert event.topic_name == "v2.taskmanagement.workitems.00000000-0000-0000-0000-00000000000a"
    assert event.workitem_id == "00000000-0000-0000-0000-00000000000a"
    assert event.operation == "edit"
    assert event.date_modified.isoformat() == "2026-07-01T10:00:00+00:00"
    assert event.body["statusId"] == "00000000-0000-0000-0000-000000000004"
    assert event.supported


def test_eventbridge_with_an_envelope_in_detail():
    event = normalise(fixture("eventbridge.json"))
    assert event.envelope == "eventbridge"
    assert event.topic_name.startswith("v2.taskmanagement.workitems.")
    assert event.workitem_id == "00000000-0000-0000-0000-00000000000b"


def test_eventbridge_with_a_bare_body_in_detail_takes_the_topic_from_detail_type():
    event = normalise(fixture("eventbridge_bare_detail.json"))
    assert event.envelope == "eventbridge"
    assert event.topic_name == "v2.taskmanagement.workitems.{id}"
    assert event.operation == "add"


def test_bare_body():
    event = normalise(fixture("bare.json"))
    assert (event.envelope, event.topic_name, event.workitem_id) == (
        "bare",
        "",
        "00000000-0000-0000-0000-00000000000c",
    )


def test_other_topics_and_operations_are_ignored_not_rejected():
    assert not normalise(fixture("heartbeat.json")).supported
    assert not normalise(notification(body("wi-1", operation="download"))).supported
    users_topic = notification(body("wi-1"))
    users_topic["topicName"] = "v2.taskmanagement.workitems.users.u-1"
    assert normalise(users_topic).supported


def test_delete_and_purge_are_supported():
    assert normalise(body("wi-1", operation="delete")).supported
    assert normalise(body("wi-1", operation="purge")).supported


def test_an_add_without_date_modified_uses_date_created():
    data = body("wi-1", operation="add")
    del data["dateModified"]
    assert normalise(data).date_modified.isoformat() == "2026-07-01T09:00:00+00:00"


def test_a_date_without_offset_is_utc():
    event = normalise(body("wi-1", modified="2026-07-01T10:00:00"))
    assert event.date_modified.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "element",
    [
        {"operation": "edit", "dateModified": "2026-07-01T10:00:00Z"},
        {"id": "", "dateModified": "2026-07-01T10:00:00Z"},
        {"id": "x" * 65, "dateModified": "2026-07-01T10:00:00Z"},
        {"topicName": "v2.taskmanagement.workitems.1", "eventBody": None},
        ["not", "an", "object"],
    ],
)
def test_bad_elements_are_rejected(element):
    with pytest.raises(EventRejected):
        normalise(element)


def test_dedupe_key_is_sha256_of_id_date_operation_and_body():
    data = body("wi-1")
    event = normalise(notification(data))
    body_hash = hashlib.sha256(canonical_json(data).encode()).hexdigest()
    expected = hashlib.sha256(f"wi-1|{data['dateModified']}|edit|{body_hash}".encode()).hexdigest()
    assert event_dedupe_key(event) == expected
    # Same event, another channel, other key order: same key.
    bare = json.loads(json.dumps(dict(reversed(list(data.items())))))
    assert event_dedupe_key(normalise(bare)) == expected
    assert event_dedupe_key(normalise(body("wi-1", operation="assigned"))) != expected


@pytest.mark.django_db
def test_a_new_event_is_stored_in_one_statement():
    raw = fixture_text("notification.json").encode()
    with CaptureQueriesContext(connection) as queries:
        result = event_ingest(body=raw, headers={})
    assert result.status_code == 202
    assert len(queries) == 1
    assert "ON CONFLICT" in queries[0]["sql"].upper()


@pytest.mark.django_db
def test_a_duplicate_is_stored_as_a_duplicate_row_pointing_at_the_original():
    raw = fixture_text("bare.json").encode()
    first = event_ingest(body=raw, headers={})
    again = event_ingest(body=raw, headers={})
    assert again.status_code == 200
    assert again.as_dict()["id"] == first.events[0].id
    assert InboundEvent.objects.filter(state=State.ACCEPTED).count() == 1
    duplicate = InboundEvent.objects.get(state=State.DUPLICATE)
    assert duplicate.pk == again.as_dict()["duplicate_record_id"]
    assert duplicate.body == raw.decode()


@pytest.mark.django_db
def test_an_array_mixing_new_duplicate_ignored_and_rejected():
    known = notification(body("wi-mix", modified="2026-07-01T10:00:00Z"))
    event_ingest(body=json.dumps(known).encode(), headers={})
    elements = [
        known,
        notification(body("wi-mix", modified="2026-07-01T10:01:00Z")),
        fixture("heartbeat.json"),
        {"nothing": "useful"},
    ]
    result = event_ingest(body=json.dumps(elements).encode(), headers={})
    assert [e.state for e in result.events] == ["duplicate", "accepted", "ignored", "rejected"]
    assert result.status_code == 400
    assert InboundEvent.objects.count() == 5
