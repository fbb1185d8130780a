"""POST /oauth/token: the client-credentials grant (docs/GENESYS.md §1), with RFC 6749 error bodies."""

from __future__ import annotations

import base64
import binascii
import uuid

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from simulator import faults
from simulator.auth import client_matches, token_issue
from simulator.http import fault_response
from simulator.ratelimit import rate_idle


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _oauth_error(status: int, error: str, description: str) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="oauth"'
    return response


@csrf_exempt
def token(request: HttpRequest) -> JsonResponse:
    context_id = str(uuid.uuid4())
    response = _token(request, context_id)
    response["inin-correlation-id"] = context_id
    for name, value in rate_idle().headers().items():
        response[name] = value
    response["Cache-Control"] = "no-store"
    return response


def _token(request: HttpRequest, context_id: str):
    if request.method != "POST":
        return _oauth_error(405, "invalid_request", "The token endpoint only accepts POST.")
    fault = faults.fault_take(method="POST", path=request.path)
    if fault and not fault.after_processing:
        return fault_response(request, fault, context_id)
    credentials = _basic_credentials(request.headers.get("Authorization", ""))
    if credentials is None or not client_matches(*credentials):
        response = _oauth_error(401, "invalid_client", "Client authentication failed.")
    else:
        grant = request.POST.get("grant_type")
        if not grant:
            response = _oauth_error(400, "invalid_request", "grant_type is required.")
        elif grant != "client_credentials":
            response = _oauth_error(
                400, "unsupported_grant_type", f"Grant type {grant!r} is not supported."
            )
        else:
            access_token, lifetime = token_issue(client_id=credentials[0])
            response = JsonResponse(
                {"access_token": access_token, "token_type": "bearer", "expires_in": lifetime}
            )
    if fault:
        return fault_response(request, fault, context_id)
    return response
