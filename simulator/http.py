"""What every simulated endpoint shares: auth, quota, faults, correlation ids and ErrorBody.

A view is built with `endpoint(get=handler, post=…)`. A handler takes the request (plus URL
kwargs) and returns a JSON-able body (200) or a `Reply`; it raises ApiError for Genesys errors.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from simulator import faults
from simulator.auth import authenticate
from simulator.errors import STATUS_CODES, ApiError, bad_request, detail
from simulator.models import FaultKind, SimFault
from simulator.ratelimit import RateState, rate_hit, rate_idle

# The in-process transport marks its requests with this WSGI environ key, and turns a response
# carrying FAULT_HEADER into the matching requests exception (see transport.py).
IN_PROCESS_KEY = "simulator.in_process"
FAULT_HEADER = "X-Simulator-Fault"


@dataclass
class Reply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[..., Any]


def endpoint(*, auth: bool = True, **handlers: Handler) -> Callable[..., HttpResponse]:
    methods = {name.upper(): handler for name, handler in handlers.items()}

    @csrf_exempt
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        context_id = str(uuid.uuid4())
        rate: RateState | None = None
        try:
            if auth:
                token = authenticate(request.headers.get("Authorization", ""))
                rate = rate_hit(token_hash=token.token_hash)
                if rate.exceeded:
                    raise _rate_limited(rate)
            handler = methods.get(request.method or "")
            if handler is None:
                raise ApiError(
                    405,
                    "method.not.allowed",
                    f"HTTP method {request.method} is not supported by this resource.",
                    headers={"Allow": ", ".join(sorted(methods))},
                )
            fault = faults.fault_take(method=request.method or "", path=request.path)
            if fault and not fault.after_processing:
                response = fault_response(request, fault, context_id)
            else:
                response = _run(handler, request, kwargs, context_id)
                if fault:
                    response = fault_response(request, fault, context_id)
        except ApiError as exc:
            response = _error_response(exc, context_id)
        response["inin-correlation-id"] = context_id
        for name, value in (rate or rate_idle()).headers().items():
            response[name] = value
        return response

    return view


def _run(handler: Handler, request: HttpRequest, kwargs: dict, context_id: str) -> HttpResponse:
    try:
        # All of a request's writes, or none of them when it fails.
        with transaction.atomic():
            result = handler(request, **kwargs)
    except ApiError as exc:
        return _error_response(exc, context_id)
    reply = result if isinstance(result, Reply) else Reply(result)
    if reply.body is None:
        response = HttpResponse(status=reply.status)
    else:
        response = JsonResponse(reply.body, status=reply.status, safe=False)
    for name, value in reply.headers.items():
        response[name] = value
    return response


def _error_response(exc: ApiError, context_id: str) -> HttpResponse:
    response = JsonResponse(exc.body(context_id), status=exc.status)
    for name, value in exc.headers.items():
        response[name] = value
    return response


def _rate_limited(rate: RateState) -> ApiError:
    return ApiError(
        429,
        "too.many.requests.retry.after",
        f"Rate limit exceeded the maximum. Retry the request in [{rate.reset}] seconds",
        headers={"Retry-After": str(rate.reset)},
    )


def fault_response(request: HttpRequest, fault: SimFault, context_id: str) -> HttpResponse:
    if fault.kind == FaultKind.STATUS:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.status == 429:
            wait = fault.retry_after if fault.retry_after is not None else 60
            headers["Retry-After"] = str(wait)
            message = f"Rate limit exceeded the maximum. Retry the request in [{wait}] seconds"
        else:
            message = f"The requested operation failed with status {fault.status}"
        code = STATUS_CODES.get(fault.status, "server.error")
        return _error_response(ApiError(fault.status, code, message, headers=headers), context_id)
    if request.META.get(IN_PROCESS_KEY):
        marker = HttpResponse(status=599)
        marker[FAULT_HEADER] = fault.kind
        return marker
    if fault.kind == FaultKind.RESET:
        return _cut_short()
    # A real client has given up by now; whatever comes next is never read.
    time.sleep(settings.SIMULATOR_TIMEOUT_SECONDS)
    return _error_response(
        ApiError(504, "gateway.timeout", "The requested operation failed with status 504"),
        context_id,
    )


def _cut_short() -> HttpResponse:
    """An answer that promises more bytes than it sends, then the server drops the connection."""

    def chunks() -> Iterator[bytes]:
        yield b'{"message": "'
        raise ConnectionAbortedError("simulated connection reset (simulator fault)")

    response = StreamingHttpResponse(chunks(), status=200, content_type="application/json")
    response["Content-Length"] = "4096"
    return response


# --- Request parsing --------------------------------------------------------------------------


def json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.", detail("body")) from None


def json_object(request: HttpRequest, *, allowed: set[str] | frozenset[str]) -> dict[str, Any]:
    """The body as a JSON object; fields outside `allowed` are a 400 naming each of them."""
    body = json_body(request)
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", detail("body"))
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise bad_request(
            f"Unrecognized field(s): {', '.join(unknown)}.",
            *(detail(name, "unrecognized.field") for name in unknown),
        )
    return body


def int_param(
    request: HttpRequest, name: str, *, default: int, minimum: int = 1, maximum: int | None = None
) -> int:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Value [{raw}] is not valid for field {name}.", detail(name)) from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise bad_request(f"{name} must be {bound}; got {value}.", detail(name, "out.of.range"))
    return value


def list_param(request: HttpRequest, name: str) -> list[str]:
    """A list query parameter, repeated (`a=1&a=2`) or comma-separated (`a=1,2`)."""
    values: list[str] = []
    for raw in request.GET.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


def bool_param(request: HttpRequest, name: str) -> bool | None:
    raw = request.GET.get(name)
    if raw in (None, ""):
        return None
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise bad_request(f"Value [{raw}] is not valid for field {name}.", detail(name))
