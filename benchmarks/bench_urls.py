"""The real ingest endpoint next to a plain Django view inserting one row into the same table.

The baseline stores its rows as `ignored`, so the event processor never picks them up.
"""

from django.http import HttpResponseNotAllowed, JsonResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from workitems.models import InboundEvent


@csrf_exempt
def baseline(request):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    event = InboundEvent.objects.create(
        received_at=timezone.now(),
        state=InboundEvent.State.IGNORED,
        body=request.body.decode(),
        envelope="baseline",
    )
    return JsonResponse({"id": event.pk}, status=201)


urlpatterns = [
    path("api/", include("workitems.api.urls")),
    path("baseline/", baseline),
]
