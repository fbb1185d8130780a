"""A stand-in for the fulfillment platform, mounted at /demo-receiver/ only in simulator mode.

POST: verifies the Standard Webhooks signature with the configured DOWNSTREAM_SIGNING_SECRET(s)
(any of them, so a rotation works), logs one JSON line per delivery and answers 204; a bad or
missing signature gets 401. The last RECEIVED_KEEP deliveries are kept in Django's cache, newest
first, so the demo and the tests can see what arrived (GET, with `workitems.view_dashboard`). A repeated webhook-id is
acknowledged again and marked as a duplicate, as a real receiver would dedupe.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from workitems.services.signing import SignatureError, webhook_verify

logger = logging.getLogger("demo_receiver")

RECEIVED_CACHE_KEY = "demo-receiver:received"
RECEIVED_KEEP = 50


def received_deliveries() -> list[dict]:
    """What the receiver got, newest first (at most RECEIVED_KEEP)."""
    return cache.get(RECEIVED_CACHE_KEY) or []


def _remember(entry: dict) -> None:
    # Read-modify-write: two simultaneous deliveries may lose one entry here. Fine for a demo.
    kept = received_deliveries()
    entry["duplicate"] = any(e.get("webhook_id") == entry["webhook_id"] for e in kept)
    cache.set(RECEIVED_CACHE_KEY, [entry, *kept][:RECEIVED_KEEP], timeout=None)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def demo_receiver(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        # What downstream received is dashboard material: the same permission.
        if not (request.user.is_active and request.user.has_perm("workitems.view_dashboard")):
            return JsonResponse({"error": "Needs the view_dashboard permission."}, status=403)
        return JsonResponse({"received": received_deliveries()})

    body = request.body
    try:
        webhook_verify(
            headers=request.headers, body=body, secrets=settings.DOWNSTREAM_SIGNING_SECRET
        )
    except SignatureError as exc:
        logger.warning(
            "demo receiver rejected a delivery: %s",
            exc,
            extra={"webhook_id": request.headers.get("webhook-id", "")},
        )
        return JsonResponse({"error": str(exc)}, status=401)
    except ValueError:
        logger.error("demo receiver: DOWNSTREAM_SIGNING_SECRET is malformed")
        return JsonResponse({"error": "Receiver misconfigured."}, status=503)
    try:
        payload = json.loads(body)
    except ValueError:
        return JsonResponse({"error": "Body is not JSON."}, status=400)

    entry = {
        "webhook_id": request.headers["webhook-id"],
        "webhook_timestamp": request.headers["webhook-timestamp"],
        "received_at": timezone.now().isoformat(),
        "payload": payload,
    }
    _remember(entry)
    logger.info("demo receiver got a delivery", extra={"delivery": entry})
    return HttpResponse(status=204)
