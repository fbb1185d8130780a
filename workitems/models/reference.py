"""Mirrors of Genesys Cloud reference data, refreshed by workitems.services.reference_sync.

Genesys ids are unique; objects gone from Genesys are marked inactive, never deleted, so work
items and audit rows that point at them keep their meaning.
"""

from __future__ import annotations

from django.db import models


class GenesysMirror(models.Model):
    genesys_id = models.CharField("Genesys id", max_length=64, unique=True)
    name = models.CharField(max_length=256)
    active = models.BooleanField(
        default=True, help_text="False once the object is no longer returned by Genesys."
    )
    synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When a sync last saw this object in Genesys."
    )

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name if self.active else f"{self.name} (inactive)"


class SkillEvaluation(models.TextChoices):
    NONE = "NONE", "None: skills are ignored"
    BEST = "BEST", "Best: prefer the most proficient"
    ALL = "ALL", "All: every skill required"


class Queue(GenesysMirror):
    division_id = models.CharField(max_length=64, blank=True)
    division_name = models.CharField(max_length=256, blank=True)
    description = models.TextField(blank=True)
    member_count = models.PositiveIntegerField(default=0)
    user_member_count = models.PositiveIntegerField(default=0)
    joined_member_count = models.PositiveIntegerField(default=0)
    skill_evaluation_method = models.CharField(
        max_length=8, choices=SkillEvaluation.choices, default=SkillEvaluation.ALL
    )
    scoring_method = models.CharField(max_length=32, blank=True)
    # Our own setting, never written by a sync: Genesys has no work-item capacity per queue.
    max_open_items = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Cap on open work items in this queue, used by the routability check. "
        "Empty means no cap.",
    )

    class Meta(GenesysMirror.Meta):
        pass


class Skill(GenesysMirror):
    state = models.CharField(
        max_length=16, default="active", help_text="active, inactive or deleted"
    )

    class Meta(GenesysMirror.Meta):
        pass


class Workbin(GenesysMirror):
    division_id = models.CharField(max_length=64, blank=True)
    division_name = models.CharField(max_length=256, blank=True)
    description = models.TextField(blank=True)

    class Meta(GenesysMirror.Meta):
        pass


class WorkType(GenesysMirror):
    division_id = models.CharField(max_length=64, blank=True)
    description = models.TextField(blank=True)
    default_workbin = models.ForeignKey(
        Workbin, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    default_queue = models.ForeignKey(
        Queue, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    default_status = models.ForeignKey(
        "WorkItemStatus", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    default_skills = models.ManyToManyField(Skill, blank=True, related_name="+")
    default_priority = models.IntegerField(null=True, blank=True)
    default_language_id = models.CharField(max_length=64, blank=True)
    default_due_duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    default_expiration_seconds = models.PositiveIntegerField(null=True, blank=True)
    default_ttl_seconds = models.PositiveIntegerField(null=True, blank=True)
    assignment_enabled = models.BooleanField(default=False)
    # The worktype holds only a reference to its custom-field schema; the sync fetches that
    # version's DataSchema (GET /workitems/schemas/{id}/versions/{version}) and keeps it here.
    schema_id = models.CharField(max_length=64, blank=True)
    schema_version = models.PositiveIntegerField(null=True, blank=True)
    schema_name = models.CharField(max_length=256, blank=True)
    json_schema = models.JSONField(
        null=True, blank=True, help_text="The custom-field JSON schema the worktype references."
    )
    # [{key, title, description, core_type, required, constraints}] in schema order, from
    # services.custom_fields.schema_fields: what the admin shows and a form builder needs.
    schema_fields = models.JSONField(
        default=list, blank=True, help_text="The schema's custom fields, in order."
    )

    class Meta(GenesysMirror.Meta):
        verbose_name = "worktype"


class StatusCategory(models.TextChoices):
    OPEN = "Open"
    IN_PROGRESS = "InProgress", "In progress"
    WAITING = "Waiting"
    CLOSED = "Closed"
    UNKNOWN = "Unknown"


class WorkItemStatus(GenesysMirror):
    worktype = models.ForeignKey(WorkType, on_delete=models.PROTECT, related_name="statuses")
    category = models.CharField(max_length=16, choices=StatusCategory.choices)
    description = models.TextField(blank=True)
    # Empty means "may move to any other status" (Genesys rule).
    destination_status_ids = models.JSONField(default=list, blank=True)
    default_destination_status_id = models.CharField(max_length=64, blank=True)
    status_transition_delay_seconds = models.PositiveIntegerField(null=True, blank=True)
    auto_terminate_workitem = models.BooleanField(default=False)

    class Meta(GenesysMirror.Meta):
        verbose_name = "work item status"
        verbose_name_plural = "work item statuses"
        ordering = ["worktype__name", "name"]

    def __str__(self) -> str:
        return f"{super().__str__()} [{self.category}]"


class RoutingStatus(models.TextChoices):
    OFF_QUEUE = "OFF_QUEUE", "Off queue"
    IDLE = "IDLE", "Idle"
    INTERACTING = "INTERACTING", "Interacting"
    COMMUNICATING = "COMMUNICATING", "Communicating"
    NOT_RESPONDING = "NOT_RESPONDING", "Not responding"
    UNKNOWN = "", "Unknown"


ON_QUEUE_STATUSES = (RoutingStatus.IDLE, RoutingStatus.INTERACTING, RoutingStatus.COMMUNICATING)


class QueueMember(models.Model):
    """A user's membership of a queue, with routing status and skills as last seen."""

    queue = models.ForeignKey(Queue, on_delete=models.CASCADE, related_name="members")
    user_id = models.CharField(max_length=64)
    name = models.CharField(max_length=256)
    joined = models.BooleanField(default=False)
    routing_status = models.CharField(
        max_length=16, choices=RoutingStatus.choices, blank=True, default=RoutingStatus.UNKNOWN
    )
    ring_number = models.PositiveSmallIntegerField(null=True, blank=True)
    # [{"id", "name", "proficiency", "state"}] — read whole by the routability check.
    skills = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["queue__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "user_id"], name="queue_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} in {self.queue.name}"

    @property
    def on_queue(self) -> bool:
        return self.joined and self.routing_status in ON_QUEUE_STATUSES


class SyncRun(models.Model):
    """One reference-data sync: what it looked at and what it changed."""

    class State(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    kinds = models.CharField(max_length=200)
    triggered_by = models.CharField(max_length=150, default="system")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        permissions = [("sync_reference", "Can refresh reference data from Genesys")]

    def __str__(self) -> str:
        return f"Sync {self.kinds} at {self.started_at:%Y-%m-%d %H:%M} ({self.state})"
