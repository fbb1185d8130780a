"""A `requests` transport adapter that sends requests straight into this Django app, in process.

    session = requests.Session()
    session.mount("http://simulator.test/", InProcessTransport())

Or `simulator_session()`, which mounts it for SIMULATOR_BASE_URL's scheme and host. Requests keep
their method, path, query, headers (Authorization) and body; the answer is a real
requests.Response. A simulator fault of kind timeout/connect_timeout/reset becomes requests'
ReadTimeout/ConnectTimeout/ConnectionError here, without waiting.

`max_retries` takes a urllib3 Retry (such as the portal's GenesysRetry) and applies it the way
HTTPAdapter does: statuses in its forcelist, Retry-After, and read/connect errors by method.

The simulator runs on the caller's thread and database connection: its writes join the caller's
transaction, if one is open. Do not hold a transaction across a Genesys call.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import requests
from django.conf import settings
from django.core.signals import got_request_exception
from django.test.client import ClientHandler
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    ProtocolError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.response import HTTPResponse
from urllib3.util.retry import Retry

from simulator.http import FAULT_HEADER, IN_PROCESS_KEY

Observer = Callable[[requests.PreparedRequest, requests.Response], None]


class InProcessTransport(BaseAdapter):
    def __init__(
        self,
        *,
        max_retries: Retry | int | None = None,
        raise_exceptions: bool = False,
        observer: Observer | None = None,
    ):
        """`raise_exceptions`: re-raise a view's uncaught exception instead of answering 500.
        `observer`: called with every request and the answer it got (not for simulated network
        faults, which have no answer), e.g. to check both against the OpenAPI contract."""
        super().__init__()
        self.observer = observer
        self.max_retries = (
            Retry(0, read=False) if max_retries is None else Retry.from_int(max_retries)
        )
        self.raise_exceptions = raise_exceptions
        self._handler = ClientHandler(enforce_csrf_checks=False)

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        retries = self.max_retries
        method = (request.method or "GET").upper()
        url = request.url or ""
        while True:
            try:
                response = self._send_once(request)
            except (ReadTimeoutError, ConnectTimeoutError, ProtocolError) as error:
                try:
                    retries = retries.increment(method, url, error=error)
                except (ReadTimeoutError, ConnectTimeoutError, ProtocolError, MaxRetryError) as exc:
                    raise _as_requests_error(exc, request) from None
                retries.sleep()
                continue
            raw = HTTPResponse(
                body=b"", headers=dict(response.headers), status=response.status_code,
                preload_content=False,
            )  # fmt: skip
            has_retry_after = bool(response.headers.get("Retry-After"))
            if retries.is_retry(method, response.status_code, has_retry_after):
                try:
                    retries = retries.increment(method, url, response=raw)
                except MaxRetryError as exc:
                    if retries.raise_on_status:
                        raise requests.exceptions.RetryError(exc, request=request) from None
                    return response
                retries.sleep(raw)
                continue
            return response

    def close(self) -> None:
        pass

    def _send_once(self, request: requests.PreparedRequest) -> requests.Response:
        parts = urlsplit(request.url or "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):  # a file or generator body
            body = b"".join(
                chunk.encode() if isinstance(chunk, str) else chunk
                for chunk in (body.read() if hasattr(body, "read") else body)
            ) if body else b""  # fmt: skip
        default_port = "443" if parts.scheme == "https" else "80"
        environ: dict[str, Any] = {
            "REQUEST_METHOD": (request.method or "GET").upper(),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("iso-8859-1"),
            "QUERY_STRING": parts.query,
            "SERVER_NAME": parts.hostname or "localhost",
            "SERVER_PORT": str(parts.port or default_port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": parts.scheme or "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)),
            IN_PROCESS_KEY: True,
        }
        for name, value in request.headers.items():
            key = name.upper().replace("-", "_")
            if name.lower() == "content-type":
                environ["CONTENT_TYPE"] = value
            elif name.lower() != "content-length":
                environ[f"HTTP_{key}"] = value
        environ.setdefault("HTTP_HOST", parts.netloc)

        caught: list[BaseException] = []

        def remember(sender: Any, request: Any = None, **kwargs: Any) -> None:
            caught.append(sys.exc_info()[1])

        if self.raise_exceptions:
            got_request_exception.connect(remember)
        try:
            django_response = self._handler(environ)
        finally:
            if self.raise_exceptions:
                got_request_exception.disconnect(remember)
        if caught and caught[0] is not None:
            raise caught[0]

        fault = django_response.get(FAULT_HEADER)
        if fault:
            _raise_fault(fault, request.url or "")
        if django_response.streaming:
            content = b"".join(django_response.streaming_content)
        else:
            content = django_response.content
        response = self._build_response(request, django_response, content)
        if self.observer is not None:
            self.observer(request, response)
        return response

    def _build_response(
        self, request: requests.PreparedRequest, django_response: Any, content: bytes
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = django_response.status_code
        response.reason = django_response.reason_phrase
        response.headers = CaseInsensitiveDict(dict(django_response.items()))
        response.headers["Content-Length"] = str(len(content))
        response.encoding = get_encoding_from_headers(response.headers)
        response._content = content
        response._content_consumed = True
        response.raw = io.BytesIO(content)
        response.url = request.url or ""
        response.request = request
        response.connection = self
        return response


def _raise_fault(kind: str, url: str) -> None:
    if kind == "timeout":
        raise ReadTimeoutError(None, url, "Read timed out. (simulator fault)")
    if kind == "connect_timeout":
        raise ConnectTimeoutError(None, f"Connection to {url} timed out. (simulator fault)")
    raise ProtocolError(
        "Connection aborted.",
        ConnectionResetError(104, "Connection reset by peer (simulator fault)"),
    )


def _as_requests_error(exc: Exception, request: requests.PreparedRequest) -> Exception:
    """urllib3's exception → the requests exception HTTPAdapter would raise."""
    if isinstance(exc, MaxRetryError):
        reason = exc.reason
        if isinstance(reason, ConnectTimeoutError):
            return requests.exceptions.ConnectTimeout(exc, request=request)
        if isinstance(reason, ResponseError):
            return requests.exceptions.RetryError(exc, request=request)
        return requests.exceptions.ConnectionError(exc, request=request)
    if isinstance(exc, ReadTimeoutError):
        return requests.exceptions.ReadTimeout(exc, request=request)
    if isinstance(exc, ConnectTimeoutError):
        return requests.exceptions.ConnectTimeout(exc, request=request)
    return requests.exceptions.ConnectionError(exc, request=request)


def base_prefix(base_url: str | None = None) -> str:
    """scheme://host[:port]/ of SIMULATOR_BASE_URL (or `base_url`): what to mount on."""
    parts = urlsplit(base_url or settings.SIMULATOR_BASE_URL)
    if not parts.scheme or not parts.netloc:
        raise ValueError(f"SIMULATOR_BASE_URL is not an absolute URL: {base_url!r}")
    return f"{parts.scheme}://{parts.netloc}/"


def simulator_session(
    *,
    base_url: str | None = None,
    max_retries: Retry | int | None = None,
    observer: Observer | None = None,
) -> requests.Session:
    """A requests.Session whose calls to SIMULATOR_BASE_URL's host run in process."""
    session = requests.Session()
    session.mount(
        base_prefix(base_url), InProcessTransport(max_retries=max_retries, observer=observer)
    )
    return session
