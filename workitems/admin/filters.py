from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.db.models import Q
from django.utils import timezone


class SyncFreshnessFilter(admin.SimpleListFilter):
    """Is Genesys still confirming this row? Stale rows point at a failing or stopped sync."""

    title = "sync"
    parameter_name = "sync"

    def lookups(self, request, model_admin):
        return [("stale", "Stale (not seen in two sync intervals)"), ("fresh", "Fresh")]

    def queryset(self, request, queryset):
        cutoff = timezone.now() - timedelta(minutes=2 * settings.GENESYS_SYNC_MINUTES)
        stale = Q(synced_at__lt=cutoff) | Q(synced_at__isnull=True)
        if self.value() == "stale":
            return queryset.filter(stale)
        if self.value() == "fresh":
            return queryset.exclude(stale)
        return queryset
