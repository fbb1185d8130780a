"""`/metrics` in Prometheus text format, for a scraper holding `METRICS_TOKEN`.

Unset token: 404, as if there were no such page. A missing or wrong bearer token: 401. Tokens are
compared in constant time, each of them (a list, so one can be rotated without a gap).
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from workitems.selectors.metrics import MetricsFigures, metrics_figures


def _authorised(request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    offered = given.strip().encode()
    matches = [hmac.compare_digest(offered, t.encode()) for t in settings.METRICS_TOKENS]
    return any(matches)


class _Collector:
    def __init__(self, figures: MetricsFigures) -> None:
        self.figures = figures

    def collect(self):
        f = self.figures
        per_queue = {
            "open": ("workitems_open", "Open work items (submitted, not closed)."),
            "breached_open": ("workitems_breached_open", "Open items past their SLA deadline."),
            "breaching_1h": (
                "workitems_breaching_within_1h",
                "Open, unpaused, unbreached items whose SLA deadline is within the next hour.",
            ),
            "forecast_1h": (
                "workitems_forecast_breaches_1h",
                "Waiting items forecast to breach within 1 h (last sweep).",
            ),
            "forecast_4h": (
                "workitems_forecast_breaches_4h",
                "Waiting items forecast to breach within 4 h (last sweep).",
            ),
            "forecast_8h": (
                "workitems_forecast_breaches_8h",
                "Waiting items forecast to breach within 8 h (last sweep).",
            ),
            "oldest_age_seconds": (
                "workitems_oldest_open_age_seconds",
                "Age of the oldest open item.",
            ),
        }
        for attr, (name, doc) in per_queue.items():
            family = GaugeMetricFamily(name, doc, labels=["queue_id", "queue"])
            for pk, q in sorted(f.queues.items()):
                family.add_metric([pk, q.name], getattr(q, attr))
            yield family
        single = [
            ("workitems_ingest_backlog", "Accepted events not processed yet.", f.ingest_backlog),
            (
                "workitems_ingest_lag_seconds",
                "Age of the oldest accepted, unprocessed event.",
                f.ingest_lag_seconds,
            ),
            ("workitems_events_failed", "Events whose processing failed.", f.events_failed),
            (
                "workitems_delivery_backlog",
                "Downstream deliveries pending or failing.",
                f.delivery_backlog,
            ),
            ("workitems_deliveries_failing", "Deliveries being retried.", f.deliveries_failing),
            ("workitems_deliveries_dead", "Deliveries given up.", f.deliveries_dead),
        ]
        if f.sweep_seconds is not None:
            single.append(
                (
                    "workitems_sla_sweep_duration_seconds",
                    "Last SLA sweep's duration.",
                    f.sweep_seconds,
                )
            )
        if f.sweep_last_run is not None:
            single.append(
                (
                    "workitems_sla_sweep_last_run_timestamp_seconds",
                    "Unix time of the last SLA sweep.",
                    f.sweep_last_run,
                )
            )
        for name, doc, value in single:
            yield GaugeMetricFamily(name, doc, value=value)


@never_cache
@require_GET
def metrics(request):
    if not settings.METRICS_TOKENS:
        raise Http404
    if not _authorised(request):
        response = HttpResponse("Unauthorised\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(metrics_figures(now=timezone.now())))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
