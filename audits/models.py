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
            # Action and outcome together ("failed deliveries"): with only the two above, a pair
            # that is rare or absent walks one of them through every row of its action.
            models.Index(
                fields=["action", "outcome", "occurred_at"], name="audit_action_outcome_time"
            ),
            # Search by correlation or object id.
            models.Index(fields=["correlation_id"], name="audit_correlation"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]
        permissions = [("export_auditevent", "Can export the audit trail")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.outcome}"


class AuditSeal(models.Model):
    """The chain link of one audit row: SHA-256 over the previous link's hash and the row's
    canonical content (audits.chain). Written only by the sealing step, never changed.

    No database foreign key on purpose: a seal must outlive a row removed behind the
    application's back, so verification can name the row that went missing.
    """

    event = models.OneToOneField(
        AuditEvent,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="seal",
    )
    position = models.BigIntegerField(help_text="1 for the first sealed row, then +1 per row.")
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["event_id"]

    def __str__(self) -> str:
        return f"#{self.position} {self.hash[:12]}…"


class AuditChainHead(models.Model):
    """One row: where the chain ends, and fences waiting for in-flight writers (audits.chain)."""

    last_event_id = models.BigIntegerField(default=0)
    last_position = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)
    sealed_at = models.DateTimeField(null=True, blank=True)
    # [[max audit id seen, pg_snapshot_xmax after it], …]: sealable once those xids are gone.
    fences = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"chain head at row {self.last_event_id} (position {self.last_position})"


class AuditVerification(models.Model):
    """One run of `verify_audit` (or of its scheduled twin): what it checked and what it found."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    actor = models.CharField(max_length=150)
    since = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField()
    rows_checked = models.BigIntegerField(default=0)
    rows_sealed = models.BigIntegerField(
        default=0, help_text="Sealed by this run, before the walk."
    )
    rows_unsealed = models.BigIntegerField(
        default=0, help_text="Rows after the chain's end, waiting for in-flight writers."
    )
    first_problem = models.TextField(blank=True)
    problems = models.JSONField(default=list, blank=True)
    export_file = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        verdict = "intact" if self.ok else "PROBLEM"
        return f"Verification {self.started_at:%Y-%m-%d %H:%M:%S}: {verdict}"


class ExportManifest(models.Model):
    """What one export wrote: the `<file>.manifest.json`, kept for download from the admin."""

    class Kind(models.TextChoices):
        AUDIT = "audit", "Audit trail"
        SLA = "sla", "SLA report"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    export_format = models.CharField("format", max_length=10)
    filename = models.CharField(max_length=255)
    generated_at = models.DateTimeField()
    generated_by = models.CharField(max_length=150)
    completed = models.BooleanField(
        default=False, help_text="False while streaming, or if the download was cut short."
    )
    manifest = models.JSONField(default=dict)

    class Meta:
        ordering = ["-generated_at", "-id"]
        indexes = [models.Index(fields=["generated_by", "generated_at"], name="export_by_time")]

    def __str__(self) -> str:
        return self.filename
