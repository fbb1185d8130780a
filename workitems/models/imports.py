"""A CSV upload kept server-side between its dry-run preview and the supervisor's confirmation."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ImportBatch(models.Model):
    class State(models.TextChoices):
        PREVIEWED = "previewed", "Previewed (nothing saved)"
        IMPORTED = "imported", "Imported"
        REJECTED = "rejected", "Rejected (errors)"

    file_name = models.CharField(max_length=255)
    content = models.TextField(help_text="The uploaded file, decoded as UTF-8.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PREVIEWED)
    report = models.JSONField(
        default=dict, blank=True, help_text="Per-row results of the last run."
    )
    created_count = models.PositiveIntegerField(default=0)
    imported_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at"]
        verbose_name = "CSV import"

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_state_display()})"
