"""Fuzzing POST /api/genesys/events/ with hypothesis: whatever arrives — arbitrary JSON, envelopes
with missing or mistyped fields, huge strings, mixed arrays, random bytes, content types and
headers — the answer is never a 5xx, and a 4xx is JSON saying why. Then the event processor
drains whatever was accepted: nothing escapes it, and every event ends in a final state (or
failed, with its error) — none is left stuck.

Bounded: at most a few hundred examples per test, no deadline, no example database on disk.

The fuzz found four inputs that once made a 500 (lone surrogate escapes, NUL in extracted
columns, UTC offsets PostgreSQL cannot store, dates that overflow in UTC); each has a test of its
own at the end of this file, and the strategies include them.
"""

from __future__ import annotations

import json
import os
import re
import string
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.api.support import (
    QUEUE_ID,
    STATUS_DONE,
    STATUS_OPEN,
    STATUS_WAITING,
    STATUS_WORKING,
    WORKTYPE_ID,
    reference,
)
from workitems.models import InboundEvent
from workitems.services.event_processor import events_due, events_process_batch

URL = "/api/genesys/events/"
SECRET = "fault-suite-ingest-secret-0002"
State = InboundEvent.State
FINAL = {State.PROCESSED, State.STALE, State.IGNORED, State.REJECTED, State.DUPLICATE}
pytestmark = pytest.mark.django_db

FUZZ = hsettings(
    max_examples=200,
    deadline=None,
    database=None,  # nothing written under .hypothesis/
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # In CI the same examples every run, so a red build always reproduces; explore freely locally.
    derandomize=bool(os.environ.get("CI")),
)


@pytest.fixture(autouse=True)
def ingest_secret(settings):
    settings.INGEST_SECRETS = [SECRET]


# --- Strategies --------------------------------------------------------------------------------

# Any character, lone surrogates and NUL included.
anytext = st.text(st.characters(), max_size=30)
column_text = st.text(st.characters(), max_size=80)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | column_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(column_text, inner, max_size=4),
    max_leaves=20,
)
# Offsets, up to the ±23:59 Python accepts (PostgreSQL alone stores only ±15:59).
offsets = st.sampled_from(
    [
        UTC,
        dt_timezone(timedelta(hours=14)),
        dt_timezone(-timedelta(hours=12)),
        dt_timezone(timedelta(hours=5, minutes=45)),
        dt_timezone(-timedelta(hours=23, minutes=59)),
        dt_timezone(timedelta(hours=16)),
    ]
)
good_dates = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets
).map(lambda d: d.isoformat())
odd_dates = st.sampled_from(
    [
        "",
        "now",
        "2026-07-01",
        "2026-07-01T10:00:00",
        "2026-07-01T10:00:00.000Z",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-07-01T10:00:00+25:00",
        "1700000000",
        "2026-07-01T10:00:00.123456789Z",
    ]
)
dates = good_dates | odd_dates | scalars  # right shape, wrong content, wrong type
# Extremes are fine where the ingest does not parse them (the processor does, and must cope).
any_dates = dates | st.sampled_from(
    ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00", "2026-07-01T10:00:00-23:59"]
)
operations = (
    st.sampled_from(["add", "edit", "delete", "purge", "assigned", "archive", "EDIT", "", "bogus"])
    | scalars
)
references = {
    "typeId": st.sampled_from([WORKTYPE_ID, "unknown-type"]) | scalars | json_values,
    "statusId": st.sampled_from([STATUS_OPEN, STATUS_WORKING, STATUS_WAITING, STATUS_DONE])
    | scalars,
    "status": json_values,
    "statusCategory": st.sampled_from(["Open", "InProgress", "Waiting", "Closed", "open"])
    | scalars,
    "queueId": st.sampled_from([QUEUE_ID, "unknown-queue"]) | scalars,
}
huge = st.integers(min_value=1_000, max_value=300_000).map(lambda n: "é" * (n // 2))
pool_ids = st.sampled_from([f"00000000-0000-0000-0000-00000000f{i:03d}" for i in range(6)])
other_fields = {
    "dateStatusChanged": any_dates,
    "dateClosed": any_dates,
    "dateDue": any_dates,
    "dateExpires": any_dates,
    **references,
    "name": anytext | huge | scalars,
    "description": anytext | scalars,
    "externalTag": anytext | scalars,
    "priority": st.integers(min_value=-(2**70), max_value=2**70) | scalars,
    "assignmentState": anytext | scalars,
    "customFields": json_values,
    "changes": json_values,
}
# Half the bodies are events the portal accepts (and the processor applies, adopts, finds stale
# or fails), with the other fields random; the other half may lack or mistype anything.
valid_bodies = st.fixed_dictionaries(
    {
        "id": pool_ids,
        "operation": st.sampled_from(["add", "edit", "assigned", "archive", "delete", ""]),
        "dateModified": good_dates,
        # Mostly the known worktype, so items are adopted and their states applied.
        "typeId": st.just(WORKTYPE_ID) | references["typeId"],
    },
    optional={k: v for k, v in {**other_fields, "dateCreated": dates}.items() if k != "typeId"},
)
fuzzy_bodies = st.fixed_dictionaries(
    {},
    optional={
        "id": pool_ids | scalars,
        "operation": operations,
        "dateModified": dates,
        "dateCreated": dates,
        **other_fields,
    },
)
event_bodies = valid_bodies | fuzzy_bodies
topics = (
    st.sampled_from(["v2.taskmanagement.workitems.x", "channel.metadata", ""])
    | column_text
    | scalars
)


def _notification(body, topic, extra):
    return {"topicName": topic, "version": "2", "eventBody": body, "metadata": {}, **extra}


def _eventbridge(detail, detail_type, extra):
    return {
        "detail-type": detail_type,
        "source": "aws.partner/genesys.com",
        "detail": detail,
        **extra,
    }


extras = st.dictionaries(column_text, json_values, max_size=3)
envelopes = (
    event_bodies
    | st.builds(_notification, event_bodies | json_values, topics, extras)
    | st.builds(
        _eventbridge,
        event_bodies | st.builds(_notification, event_bodies, topics, extras) | json_values,
        topics,
        extras,
    )
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/json;charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
        "application/jsonx",
    ]
) | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
latin1 = st.text(st.characters(max_codepoint=255), max_size=200)
header_names = st.sampled_from(
    [
        "User-Agent",
        "X-Request-Id",
        "X-Correlation-Id",
        "ININ-Correlation-Id",
        "traceparent",
        "X-Forwarded-For",
        "X-Amzn-Trace-Id",
        "Authorization",
        "Accept",
        "Content-Encoding",
        "Transfer-Encoding",
    ]
) | st.text(string.ascii_letters + "-", min_size=1, max_size=20)
headers = st.dictionaries(header_names, latin1, max_size=5).map(
    # The secret is always valid: the fuzz is about what comes after authentication.
    lambda h: {k: v for k, v in h.items() if k.lower() != "x-ingest-secret"}
)


# --- Checks --------------------------------------------------------------------------------------


def post(client, body: bytes | str, *, content_type="application/json", extra_headers=None):
    if isinstance(body, str):
        # A lone surrogate written raw (not as a \ud800 escape) has no UTF-8 form: send the bytes
        # a careless sender would (CESU-8), which the endpoint must refuse as not UTF-8.
        body = body.encode("utf-8", "surrogatepass")
    # Each example in its own savepoint, so one failure cannot poison the test's transaction.
    with transaction.atomic():
        response = client.post(
            URL,
            data=body,
            content_type=content_type,
            headers={**(extra_headers or {}), "X-Ingest-Secret": SECRET},
        )
    check_answer(response)
    return response


def check_answer(response) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
        data = response.json()
        messages = [data.get("detail")] + [
            e.get("detail") for e in data.get("events") or [] if e.get("state") == State.REJECTED
        ]
        assert any(isinstance(m, str) and m for m in messages), data


def drain_and_check() -> None:
    """Process everything accepted, retries included (time moved on), and check every event
    ended somewhere sensible."""
    now = timezone.now()
    for attempt in range(django_settings.EVENT_MAX_ATTEMPTS + 1):
        events_process_batch(limit=5000, now=now + timedelta(days=attempt))  # nothing escapes
    assert not events_due(now=now + timedelta(days=365)).exists()  # nothing left to do
    for event in InboundEvent.objects.all():
        if event.state == State.FAILED:
            assert event.error and event.attempts >= django_settings.EVENT_MAX_ATTEMPTS, event
            # Only for a reason the portal names (an unknown worktype: EventApplyError), never
            # an exception escaping the database (DataError, OverflowError, …): what the
            # database cannot hold is refused at ingest.
            assert not re.match(r"\w+(Error|Exception): ", event.error), event.error[:300]
        else:
            assert event.state in FINAL, (event.state, event.body[:200])
        if event.state in (State.REJECTED, State.IGNORED, State.DUPLICATE):
            assert event.error, (event.state, event.body[:200])


# --- Fuzz tests ------------------------------------------------------------------------------------


def test_arbitrary_json_values_are_never_a_5xx(client):
    reference()

    @FUZZ
    @given(value=json_values)
    def run(value):
        post(client, json.dumps(value))

    run()
    drain_and_check()


def test_envelopes_with_random_missing_and_mistyped_fields_are_never_a_5xx(client):
    reference()

    @FUZZ
    @given(envelope=envelopes, ascii_only=st.booleans())
    def run(envelope, ascii_only):
        post(client, json.dumps(envelope, ensure_ascii=ascii_only))

    run()
    drain_and_check()


def test_arrays_of_mixed_shapes_with_repeats_are_never_a_5xx(client):
    reference()

    @FUZZ
    @given(
        elements=st.lists(envelopes | json_values, max_size=6),
        repeat=st.booleans(),
    )
    def run(elements, repeat):
        post(client, json.dumps(elements + elements[:1] if repeat else elements))

    run()
    drain_and_check()


def test_random_bytes_content_types_and_headers_are_never_a_5xx(client):
    reference()

    @FUZZ
    @given(
        body=st.binary(max_size=2048) | envelopes.map(lambda e: json.dumps(e).encode()),
        content_type=content_types,
        extra=headers,
    )
    def run(body, content_type, extra):
        post(client, body, content_type=content_type, extra_headers=extra)

    run()
    drain_and_check()


def test_other_methods_are_4xx_json_never_5xx(client):
    @FUZZ
    @given(method=st.sampled_from(["GET", "PUT", "PATCH", "DELETE"]), body=st.binary(max_size=64))
    def run(method, body):
        with transaction.atomic():
            response = client.generic(
                method, URL, data=body, content_type="application/json",
                headers={"X-Ingest-Secret": SECRET},
            )  # fmt: skip
        assert response.status_code == 405
        check_answer(response)

    run()


def test_a_body_of_exactly_the_size_limit_is_stored_and_applied_one_byte_more_is_413(client):
    reference()
    limit = django_settings.INGEST_MAX_BODY_BYTES

    def event_of_size(size: int) -> str:
        event = {
            "id": "00000000-0000-0000-0000-00000000f100",
            "operation": "add",
            "typeId": WORKTYPE_ID,
            "dateModified": "2026-07-01T10:00:00.000Z",
            "name": "",
        }
        event["name"] = "x" * (size - len(json.dumps(event)))
        raw = json.dumps(event)
        assert len(raw.encode()) == size
        return raw

    assert post(client, event_of_size(limit)).status_code == 202
    too_big = post(client, event_of_size(limit + 1))
    assert too_big.status_code == 413 and str(limit) in too_big.json()["detail"]
    drain_and_check()
    event = InboundEvent.objects.get()
    assert event.state == State.PROCESSED and len(event.body) == limit
    assert len(event.workitem.name) == 256  # cut to Genesys's limit, not refused


# --- Known bugs: each one's input, pinned ------------------------------------------------------


def _ingest(client, raw: str):
    return client.post(
        URL, data=raw, content_type="application/json", headers={"X-Ingest-Secret": SECRET}
    )


def _assert_stored_and_answered(client, raw: str, elements: int = 1) -> None:
    before = InboundEvent.objects.count()
    response = _ingest(client, raw)
    check_answer(response)
    assert InboundEvent.objects.count() == before + elements  # kept, whatever became of it


SURROGATE_EVENT = (
    '{"id": "wi-1", "operation": "edit", "dateModified": "2026-07-01T10:00:00Z", '
    '"name": "Refund \\ud800"}'
)


@pytest.mark.parametrize("raw", [SURROGATE_EVENT, f"[{SURROGATE_EVENT}]"], ids=["object", "array"])
def test_a_lone_surrogate_escape_is_stored_and_refused_with_a_reason(client, raw):
    _assert_stored_and_answered(client, raw)


@pytest.mark.parametrize(
    "raw",
    [
        '{"id": "wi\\u0000x", "operation": "edit", "dateModified": "2026-07-01T10:00:00Z"}',
        '{"id": "wi-2", "operation": "ed\\u0000it", "dateModified": "2026-07-01T10:00:00Z"}',
        '{"topicName": "channel\\u0000metadata", "eventBody": {"id": "wi-3"}}',
    ],
    ids=["id", "operation", "topicName"],
)
def test_nul_anywhere_is_stored_as_rejected_with_a_reason(client, raw):
    """Once cleaned and accepted; but the processor re-reads the body, and PostgreSQL refused
    the NUL there on every attempt. Now refused at the door."""
    _assert_stored_and_answered(client, raw)
    event = InboundEvent.objects.get()
    assert event.state == State.REJECTED and "NUL character" in event.error


def test_a_date_modified_overflowing_utc_is_refused_not_a_500(client):
    _assert_stored_and_answered(
        client, '{"id": "wi-4", "operation": "edit", "dateModified": "9999-12-31T23:59:59-23:59"}'
    )


@pytest.mark.parametrize(
    "raw",
    [
        '{"id": "wi-6", "operation": "edit", "dateModified": "2026-07-01T10:00:00-23:59"}',
        '{"topicName": "channel.metadata", "eventBody": {"dateModified": "2000-01-01T00:00:00+16:00"}}',
    ],
    ids=["accepted", "ignored"],
)
def test_a_utc_offset_beyond_15_59_is_stored_in_utc(client, raw):
    _assert_stored_and_answered(client, raw)


def test_a_date_modified_before_year_one_in_utc_is_refused_not_a_500(client):
    _assert_stored_and_answered(
        client, '{"id": "wi-5", "operation": "edit", "dateModified": "0001-01-01T00:00:00+14:00"}'
    )
