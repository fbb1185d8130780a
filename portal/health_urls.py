"""Health endpoints, at the site root. No trailing slash: SECURE_REDIRECT_EXEMPT names `^healthz$`
and `^readyz$`, and balancers probe the bare path."""

from django.urls import path

from portal import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
