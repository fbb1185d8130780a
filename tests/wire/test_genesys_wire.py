"""The Genesys wire format: dates and the mapping of a work item to our fields (no database)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from workitems.genesys_wire import (
    genesys_datetime,
    parse_genesys_datetime,
    workitem_state_read,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-01T10:00:00.000Z", datetime(2026, 7, 1, 10, tzinfo=UTC)),
        ("2026-07-01T12:00:00+02:00", datetime(2026, 7, 1, 10, tzinfo=UTC)),
        ("2026-07-01T12:00:00+0200", datetime(2026, 7, 1, 10, tzinfo=UTC)),
        ("2026-07-01T10:00:00", datetime(2026, 7, 1, 10, tzinfo=UTC)),  # no offset: UTC
        (" 2026-07-01T10:00:00.5Z ", datetime(2026, 7, 1, 10, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_genesys_dates_parse_to_utc(text, expected):
    parsed = parse_genesys_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    # An offset of a day or more is no offset at all (the fuzz found "+2500" failing an event).
    [None, "", "  ", "yesterday", "2026-13-01T00:00:00Z", 17, {}, "2026-12-01T10:00+2500"],
)
def test_what_is_not_a_date_parses_to_none(value):
    assert parse_genesys_datetime(value) is None


def test_genesys_dates_are_written_in_utc_with_milliseconds_and_read_back():
    moment = datetime(2026, 7, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    text = genesys_datetime(moment)
    assert text == "2026-07-01T10:00:00.123Z"
    assert parse_genesys_datetime(text) == moment.replace(microsecond=123000)


def test_a_rest_snapshot_and_a_flat_event_map_to_the_same_fields():
    rest = {
        "id": "wi-1",
        "status": {"id": "st-1"},
        "queue": {"id": "q-1"},
        "assignee": {"id": "user-1"},
        "statusCategory": "InProgress",
        "assignmentState": "Connected",
        "dateCreated": "2026-07-01T09:00:00Z",
        "dateModified": "2026-07-01T10:00:00.000Z",
    }
    flat = {
        "id": "wi-1",
        "statusId": "st-1",
        "queueId": "q-1",
        "assigneeId": "user-1",
        "statusCategory": "InProgress",
        "assignmentState": "Connected",
        "dateCreated": "2026-07-01T11:00:00+02:00",
        "dateModified": "2026-07-01T10:00:00Z",
    }
    assert workitem_state_read(body=rest, whole=True) == workitem_state_read(body=flat, whole=False)


def test_an_event_that_does_not_mention_the_assignee_leaves_it_unknown_a_snapshot_unassigned():
    event = workitem_state_read(body={"id": "wi-1"}, whole=False)
    snapshot = workitem_state_read(body={"id": "wi-1"}, whole=True)
    assert (event.assignee_id, event.assignment_state) == (None, None)
    assert (snapshot.assignee_id, snapshot.assignment_state) == ("", "")
    emptied = workitem_state_read(body={"id": "wi-1", "assigneeId": None}, whole=False)
    assert emptied.assignee_id == ""
