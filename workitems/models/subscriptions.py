"""Event subscriptions: mirrors of Genesys Process Automation triggers (docs/GENESYS.md §4)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class EventSubscription(models.Model):
    class DataFormat(models.TextChoices):
        JSON = "Json", "JSON (workflow input variable jsonData)"
        TOP_LEVEL_PRIMITIVES = "TopLevelPrimitives", "Top-level primitives"

    name = models.CharField(max_length=256)
    description = models.CharField(max_length=512, blank=True)
    topic_name = models.CharField(
        max_length=200,
        default="v2.taskmanagement.workitems.{id}",
        help_text="Keeps the {id} wildcard; cannot change once created in Genesys.",
    )
    match_criteria = models.JSONField(
        default=list,
        blank=True,
        help_text='e.g. [{"jsonPath": "operation", "operator": "Equal", "value": "edit"}]',
    )
    target_workflow_id = models.CharField("target workflow id", max_length=64)
    data_format = models.CharField(
        max_length=20, choices=DataFormat.choices, default=DataFormat.JSON
    )
    event_ttl_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="≥ 10. Events older than this may be dropped."
    )
    delay_by_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="60–900.")
    enabled = models.BooleanField(default=True)
    genesys_id = models.CharField("Genesys id", max_length=64, unique=True, null=True, blank=True)
    version = models.PositiveIntegerField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_test_result = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_subscription", "Can create, change and delete triggers in Genesys")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.event_ttl_seconds is not None and self.delay_by_seconds is not None:
            errors["delay_by_seconds"] = "Set either event TTL or delay, not both (Genesys rule)."
        if self.event_ttl_seconds is not None and self.event_ttl_seconds < 10:
            errors["event_ttl_seconds"] = "Genesys requires at least 10 seconds."
        if self.delay_by_seconds is not None and not 60 <= self.delay_by_seconds <= 900:
            errors["delay_by_seconds"] = "Genesys accepts 60 to 900 seconds."
        if "{id}" not in self.topic_name:
            errors["topic_name"] = (
                "The topic must keep the {id} wildcard, e.g. v2.taskmanagement.workitems.{id}."
            )
        if not isinstance(self.match_criteria, list):
            errors["match_criteria"] = "A JSON list of criteria objects."
        if errors:
            raise ValidationError(errors)
