"""Per queue, worktype and hour: how many items opened, closed, breached and closed within SLA.

The dashboard's 24 h / 7 d figures and /metrics read these rows instead of the items table, so
their cost does not grow with the history (services/rollup.py keeps them; `rebuild_rollup`
recomputes them).
"""

from __future__ import annotations

from django.db import models

from workitems.models.reference import WorkType


class HourlyRollup(models.Model):
    # Not a foreign key: 0 stands for "no queue set" so the unique key (and ON CONFLICT) needs no
    # NULL handling.
    queue_key = models.IntegerField("queue id (0: none)")
    worktype = models.ForeignKey(WorkType, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField(help_text="Start of the UTC hour.")
    opened = models.IntegerField(default=0, help_text="Genesys dateCreated in the hour.")
    closed = models.IntegerField(default=0, help_text="Closed in the hour.")
    breached = models.IntegerField(default=0, help_text="Breach marked in the hour.")
    closed_within_sla = models.IntegerField(
        default=0, help_text="Closed in the hour, by the SLA deadline."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["queue_key", "worktype", "hour"], name="rollup_queue_worktype_hour"
            )
        ]
        # The dashboard's windows: WHERE hour >= now - 7 days.
        indexes = [models.Index(fields=["hour"], name="rollup_hour")]

    def __str__(self) -> str:
        return f"queue {self.queue_key} / worktype {self.worktype_id} @ {self.hour:%Y-%m-%d %H}:00"
