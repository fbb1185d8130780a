"""The simulator's state. All of it lives in the database so a web server and a worker agree."""

from __future__ import annotations

from django.db import models


class SimEntity(models.Model):
    """One Genesys object (queue, user, worktype, workitem…) stored as its JSON attributes."""

    kind = models.CharField(max_length=40)
    entity_id = models.UUIDField()
    # The owning object, for listings by owner: a status's worktype, a queue member's queue.
    parent_id = models.UUIDField(null=True, blank=True)
    # Work items are looked up by externalTag after a create whose outcome was unknown.
    external_tag = models.CharField(max_length=256, blank=True, default="")
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "simulated entity"
        verbose_name_plural = "simulated entities"
        constraints = [
            models.UniqueConstraint(fields=["kind", "entity_id"], name="simulator_entity_kind_id")
        ]
        indexes = [
            # store.children(): statuses of a worktype, members of a queue.
            models.Index(fields=["kind", "parent_id"], name="simulator_entity_parent"),
            # Work-item queries with an externalTag EQ filter.
            models.Index(fields=["kind", "external_tag"], name="simulator_entity_tag"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.data.get('name') or self.entity_id}"


class SimToken(models.Model):
    """An access token the simulator issued. Only its SHA-256 is kept."""

    token_hash = models.CharField(max_length=64, unique=True)
    client_id = models.CharField(max_length=200)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "simulated access token"

    def __str__(self) -> str:
        return f"token for {self.client_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class SimRateWindow(models.Model):
    """Requests one token made in one clock minute (window_start is epoch seconds)."""

    token_hash = models.CharField(max_length=64)
    window_start = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["token_hash", "window_start"], name="simulator_rate_window_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.count} requests from {self.window_start}"


class FaultKind(models.TextChoices):
    STATUS = "status", "HTTP error status"
    TIMEOUT = "timeout", "Read timeout (request sent, no answer)"
    CONNECT_TIMEOUT = "connect_timeout", "Connect timeout (nothing sent)"
    RESET = "reset", "Connection reset while reading the answer"


class SimFault(models.Model):
    """A failure the simulator serves instead of (or after) the real answer. See faults.py."""

    path_regex = models.CharField(
        max_length=300, default=".*", help_text="re.search against the full request path."
    )
    method = models.CharField(max_length=10, blank=True, default="", help_text="Blank: any.")
    kind = models.CharField(max_length=20, choices=FaultKind.choices, default=FaultKind.STATUS)
    status = models.PositiveSmallIntegerField(default=503)
    retry_after = models.PositiveIntegerField(
        null=True, blank=True, help_text="Retry-After seconds on a status fault (e.g. 429)."
    )
    remaining = models.PositiveIntegerField(
        null=True, blank=True, help_text="Uses left; blank means until cleared."
    )
    after_processing = models.BooleanField(
        default=False,
        help_text="The request takes effect, then the caller gets the fault: an unknown outcome.",
    )
    hits = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "simulated fault"
        ordering = ["pk"]

    def __str__(self) -> str:
        what = f"{self.status}" if self.kind == FaultKind.STATUS else self.kind
        left = "∞" if self.remaining is None else self.remaining
        return f"{self.method or '*'} {self.path_regex} → {what} ({left} left)"
