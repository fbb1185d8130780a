"""Log lines are one JSON object each (python-json-logger), with our field names."""

import json
import logging

from pythonjsonlogger.json import JsonFormatter as LibraryFormatter

from portal.logging import JsonFormatter


def record(message="sent %s", args=("d-1",), exc_info=None, **extra) -> logging.LogRecord:
    made = logging.LogRecord(
        "workitems.delivery", logging.INFO, __file__, 1, message, args, exc_info
    )
    made.created = 1_700_000_000.25
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_log_line_is_one_json_object_with_time_level_logger_message_and_extras():
    line = JsonFormatter().format(record(delivery_id=7, receiver=object()))
    assert "\n" not in line
    data = json.loads(line)
    assert list(data)[:4] == ["time", "level", "logger", "message"]
    assert data["time"] == "2023-11-14T22:13:20.250+00:00"
    assert (data["level"], data["logger"], data["message"]) == (
        "INFO",
        "workitems.delivery",
        "sent d-1",
    )
    assert data["delivery_id"] == 7
    assert data["receiver"].startswith("<object object")  # not serialisable: its str()
    assert "exception" not in data


def test_an_exception_is_logged_as_its_traceback():
    try:
        raise RuntimeError("receiver down")
    except RuntimeError:
        import sys

        line = JsonFormatter().format(record("failed", (), exc_info=sys.exc_info()))
    data = json.loads(line)
    assert "RuntimeError: receiver down" in data["exception"]


def test_the_formatter_is_python_json_logger_s():
    assert isinstance(JsonFormatter(), LibraryFormatter)
