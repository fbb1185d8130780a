"""Work item changelist filters that answer the supervisor's questions.

Each one selects exactly what a dashboard figure counts: both build their WHERE clauses from the
definitions in `workitems.selectors.dashboard`. "Now" is the time of the request.

| filter                | parameter      | values                                                  |
|-----------------------|----------------|---------------------------------------------------------|
| `OpenFilter`          | `open`         | yes, no                                                 |
| `AgeBucketFilter`     | `age`          | 0-15m, 15-30m, 30-60m, 1-4h, 4-24h, 24h+ (open items)   |
| `SlaStateFilter`      | `sla`          | at_risk, breached_open, breached, met, paused, on_track |
| `DueWindowFilter`     | `due_within`   | 24h, 7d (deadline fell in the window)                   |
| `ClosedWindowFilter`  | `closed_within`| 24h, 7d (closed in the window)                          |
| `BreachedWindowFilter`| `breached_within`| 24h, 7d (breach marked in the window)                 |
| `DeadlineAheadFilter` | `deadline_in`  | 15m, 1h, 4h (open, unpaused, deadline that soon)        |
"""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone

from workitems.selectors.dashboard import (
    AGE_BUCKETS,
    AHEAD,
    AHEAD_LABELS,
    WINDOW_LABELS,
    WINDOWS,
    age_bucket_q,
    at_risk_q,
    breached_open_q,
    breached_q,
    breached_window_q,
    closed_window_q,
    deadline_ahead_q,
    due_window_q,
    met_q,
    on_track_q,
    open_q,
    paused_q,
)
from workitems.services.sla import AT_RISK_PERCENT


class OpenFilter(admin.SimpleListFilter):
    """Open: in Genesys and not closed."""

    title = "open in Genesys"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "Open (in Genesys, not closed)"), ("no", "Not open (draft or closed)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(open_q())
        if self.value() == "no":
            return queryset.exclude(open_q())
        return queryset


class AgeBucketFilter(admin.SimpleListFilter):
    """Open items by age: now minus Genesys creation time."""

    title = "age (open items)"
    parameter_name = "age"

    def lookups(self, request, model_admin):
        return [(key, label) for key, label, _lower, _upper in AGE_BUCKETS]

    def queryset(self, request, queryset):
        if self.value() in {key for key, *_ in AGE_BUCKETS}:
            return queryset.filter(age_bucket_q(self.value(), now=timezone.now()))
        return queryset


class SlaStateFilter(admin.SimpleListFilter):
    """Where an item stands against its SLA deadline."""

    title = "SLA"
    parameter_name = "sla"
    STATES = {
        "at_risk": (f"At risk (open, < {AT_RISK_PERCENT} % of threshold left)", at_risk_q),
        "breached_open": ("Breached and still open", breached_open_q),
        "breached": ("Breached (open or closed)", breached_q),
        "met": ("Met (closed by its deadline)", lambda *, now: met_q()),
        "paused": ("Paused (open, clock stopped)", lambda *, now: paused_q()),
        "on_track": (f"On track (open, ≥ {AT_RISK_PERCENT} % of threshold left)", on_track_q),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _q) in self.STATES.items()]

    def queryset(self, request, queryset):
        value = self.value()
        if value in self.STATES:
            return queryset.filter(self.STATES[value][1](now=timezone.now()))
        return queryset


class _WindowFilter(admin.SimpleListFilter):
    q_builder = None

    def lookups(self, request, model_admin):
        return [(key, f"Last {WINDOW_LABELS[key]}") for key in WINDOWS]

    def queryset(self, request, queryset):
        if self.value() in WINDOWS:
            return queryset.filter(self.q_builder(self.value(), now=timezone.now()))
        return queryset


class DueWindowFilter(_WindowFilter):
    """SLA deadline fell in the window: the denominator of the breach rate."""

    title = "SLA deadline fell in"
    parameter_name = "due_within"
    q_builder = staticmethod(due_window_q)


class ClosedWindowFilter(_WindowFilter):
    """Closed in the window: the denominator of the service level."""

    title = "closed in"
    parameter_name = "closed_within"
    q_builder = staticmethod(closed_window_q)


class BreachedWindowFilter(_WindowFilter):
    """Breach marked in the window: the numerator of the breach rate."""

    title = "breached in"
    parameter_name = "breached_within"
    q_builder = staticmethod(breached_window_q)


class DeadlineAheadFilter(admin.SimpleListFilter):
    """Deadlines ahead: the dashboard's "breaching in the next 60 min", and 15 min / 4 h."""

    title = "SLA deadline in the"
    parameter_name = "deadline_in"

    def lookups(self, request, model_admin):
        return [(key, AHEAD_LABELS[key]) for key in AHEAD]

    def queryset(self, request, queryset):
        if self.value() in AHEAD:
            return queryset.filter(deadline_ahead_q(self.value(), now=timezone.now()))
        return queryset


DASHBOARD_FILTERS = (
    OpenFilter,
    AgeBucketFilter,
    SlaStateFilter,
    DueWindowFilter,
    ClosedWindowFilter,
    BreachedWindowFilter,
    DeadlineAheadFilter,
)
