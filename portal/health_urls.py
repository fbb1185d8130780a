"""Health endpoints, at the site root. No trailing slash: SECURE_REDIRECT_EXEMPT names `^healthz$`
and `^readyz$`, and balancers probe the bare path."""

from django.urls import path

from portal import health
from workitems.views.metrics import metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Bearer-token protected (METRICS_TOKEN); 404 while the token is unset.
    path("metrics", metrics, name="metrics"),
]
