"""The breach forecast per queue, as the last sweep computed it (services/breach_forecast.py).

Stored so the dashboard and /metrics read a handful of rows, never the open items.
"""

from __future__ import annotations

from django.db import models


class QueueForecast(models.Model):
    queue_key = models.IntegerField("queue id (0: none)", unique=True)
    computed_at = models.DateTimeField()
    waiting = models.IntegerField(help_text="Open, unassigned items in the queue.")
    breaches_1h = models.IntegerField(default=0)
    breaches_4h = models.IntegerField(default=0)
    breaches_8h = models.IntegerField(default=0)
    breaches_total = models.IntegerField(default=0)
    rate_per_hour = models.FloatField(help_text="Items leaving the queue per hour, measured.")
    members_joined = models.IntegerField(default=0)
    members_on_queue = models.IntegerField(default=0)
    clear_seconds = models.IntegerField(
        null=True, blank=True, help_text="Time to clear the backlog at this pace (empty: never)."
    )
    reason = models.CharField(max_length=500)
    # The items forecast to breach, soonest deadline first (capped): [{"id", "deadline", "start"}].
    items = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"forecast for queue {self.queue_key} at {self.computed_at:%H:%M}"
