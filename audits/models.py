from __future__ import annotations

from django.db import models


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    REFUSED = "refused", "Refused"
    INFO = "info", "Info"


class AuditEvent(models.Model):
    """One action or effect. Append-only: written by audits.services.record*, never updated."""

    occurred_at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=150, help_text="A username, 'genesys' or 'system'.")
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    correlation_id = models.CharField(
        max_length=200, blank=True, help_text="External ref, Genesys id or request id."
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    context = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            # Changelist filters: action / actor / outcome narrowed by a date range.
            models.Index(fields=["action", "occurred_at"], name="audit_action_time"),
            models.Index(fields=["actor", "occurred_at"], name="audit_actor_time"),
            models.Index(fields=["outcome", "occurred_at"], name="audit_outcome_time"),
            # Search by correlation or object id.
            models.Index(fields=["correlation_id"], name="audit_correlation"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]
        permissions = [("export_auditevent", "Can export the audit trail")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.outcome}"
