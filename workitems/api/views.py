"""The Genesys ingest endpoint. Thin: check transport limits, hand the raw body to the service."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from workitems.api.authentication import IngestAuthentication
from workitems.api.body import BodyRefused, request_body
from workitems.services.ingest import event_ingest
from workitems.services.ingest_headers import ingest_headers_select

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _too_large(limit: int) -> Response:
    return Response(
        {"detail": f"The body is larger than {limit} bytes."},
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


class JSONOnlyNegotiation(BaseContentNegotiation):
    """The answer is always JSON, whatever Accept says; skipping Accept parsing is measurable."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class GenesysEventsView(APIView):
    """POST /api/genesys/events/ — store first, answer, process in the background.

    CSRF-exempt: APIView without SessionAuthentication never enforces CSRF.
    """

    authentication_classes = [IngestAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes: list = []  # the raw body is read and stored as is, never parsed by DRF
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []
    content_negotiation_class = JSONOnlyNegotiation
    http_method_names = ["post", "options"]

    def post(self, request, *args, **kwargs):
        meta = request._request.META
        if _media_type(meta.get("CONTENT_TYPE", "")) != "application/json":
            return Response(
                {"detail": "Content-Type must be application/json."},
                status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        limit = settings.INGEST_MAX_BODY_BYTES
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            return _too_large(limit)
        body = request_body(request._request, limit=limit)
        if isinstance(body, BodyRefused):
            return Response({"detail": body.detail}, status=body.status)
        try:
            result = event_ingest(body=body, headers=ingest_headers_select(meta))
        except (OperationalError, InterfaceError) as exc:
            logger.error("ingest: database unavailable", extra={"error": str(exc)})
            return Response(
                {"detail": "The event store is unavailable; retry later."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return Response(result.as_dict(), status=result.status_code)
