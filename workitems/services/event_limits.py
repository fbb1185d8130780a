"""The event limits that depend on configuration; the rules themselves are pure and live in
workitems/genesys_events.py."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def future_skew() -> timedelta:
    """How far ahead of our clock an event's `dateModified` may be (EVENT_FUTURE_SKEW_SECONDS)."""
    return timedelta(seconds=settings.EVENT_FUTURE_SKEW_SECONDS)
