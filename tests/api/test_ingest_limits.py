"""Events the database cannot hold are refused at the door (400 with the reason, stored as
rejected), not acknowledged and then failed on every attempt; a dateModified far in the future is
refused, since applied it would make every later event look stale (workitems/genesys_events.py)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.api.conftest import SECRET_NEW
from tests.api.support import body, notification, reference
from workitems.models import InboundEvent, WorkItem
from workitems.services.event_processor import events_drain, events_process_batch

URL = "/api/genesys/events/"
State = InboundEvent.State
pytestmark = pytest.mark.django_db


def post(client, raw):
    raw = raw if isinstance(raw, str) else json.dumps(raw)
    return client.post(
        URL, data=raw, content_type="application/json", headers={"X-Ingest-Secret": SECRET_NEW}
    )


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def refused(response, says: str) -> None:
    assert response.status_code == 400, response.content
    assert says in response.json()["detail"], response.json()
    event = InboundEvent.objects.get()
    assert event.state == State.REJECTED and says in event.error


@pytest.mark.parametrize(
    "raw_priority, says",
    [
        ("1e400", "priority is Infinity, not a finite number"),
        ("Infinity", "priority is Infinity, not a finite number"),
        ("-Infinity", "priority is -Infinity, not a finite number"),
        ("NaN", "priority is NaN, not a finite number"),
        ("25000001", "priority 25000001 must be a whole number from -25000000 to 25000000"),
        ("-1e12", "must be a whole number from -25000000 to 25000000"),
        ("2.5", "priority 2.5 must be a whole number"),
    ],
)
def test_a_number_no_column_can_hold_is_400_saying_which(client, raw_priority, says):
    event = json.dumps(body("wi-1", operation="add")).replace(
        '"operation"', f'"priority": {raw_priority}, "operation"'
    )
    refused(post(client, event), says)


def test_a_priority_at_the_edge_of_its_range_is_accepted(client):
    assert post(client, body("wi-1", priority=25_000_000)).status_code == 202


@pytest.mark.parametrize(
    "field, value",
    [("id", "wi\u00001"), ("name", "Refund\u0000"), ("externalTag", "\u0000"),
     ("description", "a\u0000b")],
)  # fmt: skip
def test_nul_in_any_text_is_400_naming_the_field(client, field, value):
    refused(post(client, body("wi-1", **{field: value})), f"{field} contains a NUL character")


def test_nul_deep_inside_an_envelope_or_in_a_key_is_400(client):
    deep = notification(body("wi-1", customFields={"notes": ["fine", "not\u0000fine"]}))
    refused(post(client, deep), "eventBody.customFields.notes[1] contains a NUL character")
    InboundEvent.objects.all().delete()
    refused(post(client, body("wi-2", **{"bad\u0000key": 1})), "a key in the event contains")


def test_a_date_modified_beyond_the_future_skew_is_400_saying_what_to_check(client):
    refused(
        post(client, body("wi-1", modified="9999-12-31T00:00:00.000Z")),
        "ahead of the portal's clock",
    )
    assert "Check the sender's clock" in InboundEvent.objects.get().error


def test_the_future_skew_is_one_day_by_default_and_configurable(client, settings):
    now = timezone.now()
    assert post(client, body("wi-1", modified=stamp(now + timedelta(hours=23)))).status_code == 202
    response = post(client, body("wi-2", modified=stamp(now + timedelta(hours=25))))
    assert response.status_code == 400 and "more than 1 day ahead" in response.json()["detail"]
    settings.EVENT_FUTURE_SKEW_SECONDS = 3600
    response = post(client, body("wi-3", modified=stamp(now + timedelta(hours=2))))
    assert response.status_code == 400 and "more than 1 h ahead" in response.json()["detail"]


def test_in_an_array_only_the_bad_element_is_refused(client):
    response = post(client, [body("wi-good"), body("wi-bad", name="x\u0000")])
    assert response.status_code == 400
    good, bad = response.json()["events"]
    assert (good["state"], bad["state"]) == ("accepted", "rejected")
    assert "name contains a NUL character" in bad["detail"]


def test_an_event_accepted_before_these_rules_is_rejected_when_processed_not_failed(client):
    """Stored as accepted by an older portal: the processor rejects it once, with the reason,
    instead of failing it EVENT_MAX_ATTEMPTS times (PostgreSQL: DataError, OverflowError)."""
    reference()
    raw = json.dumps(body("wi-old", operation="add")).replace(
        '"operation"', '"priority": 1e400, "operation"'
    )
    InboundEvent.objects.create(
        received_at=timezone.now(), state=State.ACCEPTED, body=raw, workitem_genesys_id="wi-old",
        date_modified=timezone.now(), dedupe_key="k" * 64,
    )  # fmt: skip
    counts = events_process_batch(limit=10)
    assert counts["rejected"] == 1 and not counts["failed"]
    event = InboundEvent.objects.get()
    assert event.state == State.REJECTED and "priority is Infinity" in event.error
    assert not WorkItem.objects.exists()


def test_a_valid_event_after_a_refused_far_future_one_is_applied(client):
    reference()
    assert (
        post(client, body("wi-1", operation="add", modified="9999-12-31T00:00:00.000Z")).status_code
        == 400
    )
    assert post(client, body("wi-1", operation="add")).status_code == 202
    events_drain()
    item = WorkItem.objects.get(genesys_id="wi-1")
    assert item.date_modified == datetime(2026, 7, 1, 10, tzinfo=UTC)
