"""Lifecycle events from Genesys: stored before anything else, then applied in order."""

from __future__ import annotations

from django.db import models

from workitems.genesys_events import OPERATION_MAX, TOPIC_MAX, WORKITEM_ID_MAX
from workitems.models.workitem import WorkItem


class InboundEvent(models.Model):
    """One event as received. The table is also the queue the event processor drains."""

    class State(models.TextChoices):
        ACCEPTED = "accepted", "Accepted (waiting)"
        PROCESSED = "processed", "Processed"
        STALE = "stale", "Stale (older than what we hold)"
        DUPLICATE = "duplicate", "Duplicate"
        REJECTED = "rejected", "Rejected (bad input)"
        IGNORED = "ignored", "Ignored (unsupported topic or operation)"
        FAILED = "failed", "Failed (will retry)"

    received_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACCEPTED)
    body = models.TextField(help_text="The raw body as received (one element of an array).")
    headers = models.JSONField(
        default=dict, blank=True, help_text="Selected headers; never credentials."
    )
    # sha256 of work-item id, dateModified, operation and body. Null for rejected input.
    dedupe_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    envelope = models.CharField(
        max_length=20, blank=True, help_text="notification, eventbridge or bare"
    )
    topic_name = models.CharField(max_length=TOPIC_MAX, blank=True)
    operation = models.CharField(max_length=OPERATION_MAX, blank=True)
    workitem_genesys_id = models.CharField(max_length=WORKITEM_ID_MAX, blank=True, db_index=True)
    date_modified = models.DateTimeField(null=True, blank=True)
    workitem = models.ForeignKey(
        WorkItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # The processor's claim: state = accepted|failed and due, oldest first.
            models.Index(
                fields=["date_modified", "id"],
                name="event_pending",
                condition=models.Q(state__in=["accepted", "failed"]),
            ),
            models.Index(fields=["state", "received_at"], name="event_state_time"),
        ]
        permissions = [("replay_inboundevent", "Can replay inbound events")]

    def __str__(self) -> str:
        return f"Event {self.pk} {self.operation or '?'} {self.workitem_genesys_id or ''} ({self.state})"


class StatusTransition(models.Model):
    """A work item's status change as applied from an event (or a reconciliation)."""

    workitem = models.ForeignKey(WorkItem, on_delete=models.CASCADE, related_name="transitions")
    from_status_id = models.CharField(max_length=64, blank=True)
    from_status_name = models.CharField(max_length=256, blank=True)
    from_category = models.CharField(max_length=16, blank=True)
    to_status_id = models.CharField(max_length=64, blank=True)
    to_status_name = models.CharField(max_length=256, blank=True)
    to_category = models.CharField(max_length=16, blank=True)
    changed_at = models.DateTimeField(help_text="Genesys dateModified of the change.")
    # Who Genesys had assigned the item to once the change was applied.
    assignee_id = models.CharField(max_length=64, blank=True)
    assignee_name = models.CharField(max_length=256, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    source_event = models.ForeignKey(
        InboundEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=20, default="event", help_text="event or reconcile")

    class Meta:
        ordering = ["workitem", "changed_at", "id"]
        indexes = [
            models.Index(fields=["workitem", "changed_at"], name="transition_item_time"),
            # services/breach_forecast.py: what left each queue, and what closed, in the last hours.
            models.Index(fields=["changed_at"], name="transition_time"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status_name or '—'} → {self.to_status_name} at {self.changed_at:%Y-%m-%d %H:%M:%S}"
