"""SLA policies. Definitions (shown in the admin) are in docs/SLA.md."""

from __future__ import annotations

from django.db import models

from workitems.models.reference import Queue, WorkType


class SlaPolicy(models.Model):
    worktype = models.ForeignKey(WorkType, on_delete=models.CASCADE, related_name="sla_policies")
    queue = models.ForeignKey(
        Queue,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_policies",
        help_text="Empty: every queue of the worktype. A queue-specific policy wins.",
    )
    threshold_seconds = models.PositiveIntegerField(
        help_text="SLA deadline = the earlier of the item's due date and created + this many seconds."
    )
    pause_in_waiting = models.BooleanField(
        default=False,
        help_text="Time in a Waiting-category status pauses the clock; the deadline moves by it.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["worktype__name", "queue__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["worktype", "queue"], name="sla_policy_unique", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        scope = (
            f"{self.worktype} / {self.queue}" if self.queue_id else f"{self.worktype} (all queues)"
        )
        return f"{scope}: {self.threshold_seconds}s"
