"""The downstream outbox: one Delivery per status change or breach, one DeliveryAttempt per try."""

from __future__ import annotations

from django.db import models

from workitems.models.workitem import WorkItem


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILING = "failing", "Failing (will retry)"
        DEAD = "dead", "Dead (gave up)"
        SKIPPED = "skipped", "Skipped by an operator"

    workitem = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="deliveries")
    sequence = models.PositiveIntegerField(help_text="Per work item, starting at 1; sent in order.")
    kind = models.CharField(max_length=20, default="status", help_text="status or sla_breach")
    payload = models.JSONField()
    webhook_id = models.CharField(
        max_length=64, unique=True, help_text="Standard Webhooks webhook-id."
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    next_attempt_at = models.DateTimeField(db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["workitem", "sequence"], name="delivery_item_sequence"),
        ]
        indexes = [
            # Dashboard and "needs attention" filter: dead deliveries.
            models.Index(fields=["state"], name="delivery_dead", condition=models.Q(state="dead")),
            # The sender's claim: due, undelivered rows.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="delivery_due",
                condition=models.Q(state__in=["pending", "failing"]),
            ),
        ]
        permissions = [("replay_delivery", "Can retry and replay downstream deliveries")]

    def __str__(self) -> str:
        return f"Delivery {self.workitem_id}#{self.sequence} ({self.state})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["delivery", "attempted_at"]

    def __str__(self) -> str:
        return f"{self.delivery} attempt at {self.attempted_at:%H:%M:%S}: {self.status_code or self.error}"
