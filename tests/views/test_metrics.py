"""/metrics: Prometheus text for a scraper holding METRICS_TOKEN; 404 without a token set, 401
for a missing or wrong one; the per-queue figures match the dashboard's sources."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests import factories
from workitems.services.sla import sla_sweep

pytestmark = pytest.mark.django_db


def test_without_a_token_configured_metrics_does_not_exist(client, settings):
    settings.METRICS_TOKENS = []
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic c2VjcmV0", "Bearer ", "secret"])
def test_a_missing_or_wrong_token_is_401(client, settings, header):
    settings.METRICS_TOKENS = ["secret"]
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"secret" not in response.content


def test_per_queue_figures_forecast_and_sweep(client, settings):
    settings.METRICS_TOKENS = ["old-token", "new-token"]  # during a rotation both work
    now = timezone.now()
    q = factories.queue("Claims")
    wt = factories.worktype(default_queue=q)
    factories.member(q, routing_status="OFFLINE")
    for n, (age, deadline) in enumerate([(3, -60), (2, 30), (1, 50)]):
        factories.workitem(
            queue=q,
            worktype=wt,
            genesys_id=f"g{n}",
            status_category="Open",
            date_created=now - timedelta(hours=age),
            sla_deadline=now + timedelta(minutes=deadline),
        )
    sla_sweep(now=now)
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer new-token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {
        (s.name, s.labels.get("queue", "")): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }
    assert samples[("workitems_open", "Claims")] == 3
    assert samples[("workitems_breached_open", "Claims")] == 1
    assert samples[("workitems_breaching_within_1h", "Claims")] == 2
    # Nobody on queue: both unbreached items are forecast to breach within the hour.
    assert samples[("workitems_forecast_breaches_1h", "Claims")] == 2
    assert samples[("workitems_oldest_open_age_seconds", "Claims")] >= 3 * 3600
    assert samples[("workitems_ingest_backlog", "")] == 0
    assert ("workitems_sla_sweep_last_run_timestamp_seconds", "") in samples
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer old-token").status_code == 200
