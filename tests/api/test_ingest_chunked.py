"""A body sent with Transfer-Encoding: chunked (no Content-Length) is read whole where the WSGI
server decodes the chunks (gunicorn: `wsgi.input_terminated`), and refused with 411 where it
cannot (runserver) — never read as empty and refused as malformed (workitems/api/body.py).
tests/faults/test_slow_clients.py sends one through a real gunicorn."""

import io
import json
import sys

import pytest
from django.core.handlers.wsgi import WSGIHandler

from tests.api.conftest import SECRET_NEW
from tests.api.support import body, reference
from workitems.models import InboundEvent

URL = "/api/genesys/events/"
# Django's WSGI handler closes stale connections around each request, as in production: so
# not inside a test transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def chunked_post(raw: bytes, *, input_terminated: bool) -> tuple[int, dict]:
    """Through Django's WSGI handler, as a server passes a chunked request on: no
    CONTENT_LENGTH, the decoded body on wsgi.input."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": URL,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(raw),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_X_INGEST_SECRET": SECRET_NEW,
    }
    if input_terminated:
        environ["wsgi.input_terminated"] = True
    status: list[str] = []
    response = WSGIHandler()(environ, lambda s, headers, exc_info=None: status.append(s))
    content = b"".join(response)
    response.close()
    return int(status[0].split()[0]), json.loads(content)


def test_a_chunked_event_is_read_whole_where_the_server_decodes_chunks():
    reference()
    event = json.dumps(body("wi-chunked")).encode()
    status, answer = chunked_post(event, input_terminated=True)
    assert status == 202, answer
    stored = InboundEvent.objects.get()
    assert stored.state == InboundEvent.State.ACCEPTED
    assert json.loads(stored.body)["id"] == "wi-chunked"


def test_a_chunked_body_over_the_limit_is_413(settings):
    settings.INGEST_MAX_BODY_BYTES = 100
    status, answer = chunked_post(b"[" + b" " * 200 + b"]", input_terminated=True)
    assert status == 413 and "larger than 100 bytes" in answer["detail"]
    assert not InboundEvent.objects.exists()


def test_a_chunked_body_a_server_cannot_read_whole_is_411_not_an_empty_body():
    """runserver passes the raw socket: reading on would block or read the chunk framing."""
    status, answer = chunked_post(json.dumps(body("wi-1")).encode(), input_terminated=False)
    assert status == 411
    assert "send it with a Content-Length" in answer["detail"]
    assert not InboundEvent.objects.exists()  # nothing stored as an empty, malformed event
