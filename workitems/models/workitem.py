"""Our work items: a draft we create, then a mirror of the Genesys Workitem once submitted."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models

from workitems.genesys_wire import PRIORITY_MAX as GENESYS_PRIORITY_MAX
from workitems.genesys_wire import PRIORITY_MIN as GENESYS_PRIORITY_MIN
from workitems.models.reference import (
    Queue,
    Skill,
    StatusCategory,
    Workbin,
    WorkItemStatus,
    WorkType,
)

# Limits of WorkitemCreate (docs/GENESYS.md §2).
NAME_MIN, NAME_MAX = 3, 256
DESCRIPTION_MAX = 512
PRIORITY_MIN, PRIORITY_MAX = GENESYS_PRIORITY_MIN, GENESYS_PRIORITY_MAX
MAX_DAYS_AHEAD = 365


class LocalState(models.TextChoices):
    DRAFT = "draft", "Draft"
    CHECKED = "checked", "Checked"
    SUBMITTING = "submitting", "Submitting"
    SUBMITTED = "submitted", "Submitted"
    FAILED = "failed", "Failed"


class Verdict(models.TextChoices):
    ROUTABLE = "routable", "Routable"
    WARNINGS = "warnings", "Routable with warnings"
    NOT_ROUTABLE = "not_routable", "Not routable"


class WorkItem(models.Model):
    external_ref = models.CharField(
        "external ref",
        max_length=200,
        unique=True,
        help_text="Our unique reference, sent to Genesys as externalTag.",
    )
    name = models.CharField(max_length=NAME_MAX)
    worktype = models.ForeignKey(WorkType, on_delete=models.PROTECT, related_name="workitems")
    queue = models.ForeignKey(
        Queue,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="workitems",
        help_text="Empty: the worktype's default queue.",
    )
    status = models.ForeignKey(
        WorkItemStatus,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="workitems",
        help_text="Empty: the worktype's default status. Once submitted: the status in Genesys.",
    )
    workbin = models.ForeignKey(
        Workbin,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="workitems",
        help_text="Empty: the worktype's default workbin.",
    )
    priority = models.IntegerField(
        null=True, blank=True, help_text="Empty: the worktype's default."
    )
    description = models.CharField(max_length=DESCRIPTION_MAX, blank=True)
    date_due = models.DateTimeField("due", null=True, blank=True)
    date_expires = models.DateTimeField("expires", null=True, blank=True)
    skills = models.ManyToManyField(Skill, blank=True, related_name="workitems")
    preferred_agent_ids = models.JSONField(
        "preferred agents", default=list, blank=True, help_text="Genesys user ids."
    )
    language_id = models.CharField("language (Genesys id)", max_length=64, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)

    # Genesys state once submitted.
    genesys_id = models.CharField("Genesys id", max_length=64, unique=True, null=True, blank=True)
    status_category = models.CharField(max_length=16, choices=StatusCategory.choices, blank=True)
    assignment_state = models.CharField(max_length=32, blank=True)
    # Genesys assigneeId, and the name our queue-member mirror knows it by (kept as seen then, so
    # the list shows it without a join).
    assignee_id = models.CharField(
        "assignee (Genesys user id)", max_length=64, blank=True, help_text="Empty: unassigned."
    )
    assignee_name = models.CharField("assignee", max_length=256, blank=True)
    date_created = models.DateTimeField(null=True, blank=True)
    date_modified = models.DateTimeField(null=True, blank=True)
    date_status_changed = models.DateTimeField(null=True, blank=True)
    date_closed = models.DateTimeField(null=True, blank=True)

    # Local lifecycle.
    local_state = models.CharField(
        max_length=12, choices=LocalState.choices, default=LocalState.DRAFT, db_index=True
    )
    last_error = models.TextField(blank=True)
    last_error_context_id = models.CharField("Genesys contextId", max_length=100, blank=True)
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    # Set before each create request: a later attempt must look the item up first, because the
    # earlier request may have reached Genesys even if we never saw the answer.
    create_attempted_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="Parked until then (e.g. a Genesys daily cap)."
    )
    # The send claim (services/send_claims.py): one sender per item, ever. A lease: whoever holds
    # it unexpired is the only one who may send the item; blank/null when nobody does.
    send_claimed_by = models.CharField("being sent by", max_length=200, blank=True)
    send_claimed_at = models.DateTimeField("sending since", null=True, blank=True)
    send_claim_expires_at = models.DateTimeField("send claim expires", null=True, blank=True)

    # SLA (see services/sla.py). The deadline is precomputed so sweeps and dashboards are indexed.
    sla_threshold_seconds = models.PositiveIntegerField(
        "SLA threshold (seconds)", null=True, blank=True
    )
    sla_pause_in_waiting = models.BooleanField("SLA pauses while Waiting", default=False)
    sla_deadline = models.DateTimeField("SLA deadline", null=True, blank=True)
    # A duration, not an int, so deadline arithmetic stays in SQL on SQLite and PostgreSQL alike.
    sla_paused = models.DurationField("paused", default=timedelta(0))
    sla_paused_since = models.DateTimeField("paused since", null=True, blank=True)
    sla_breached_at = models.DateTimeField("breached at", null=True, blank=True)

    # Per-item counter for downstream deliveries, bumped under the item's row lock.
    last_delivery_sequence = models.PositiveIntegerField(default=0)

    routability_verdict = models.CharField(
        "routability", max_length=12, choices=Verdict.choices, blank=True, db_index=True
    )
    routability_report = models.JSONField(null=True, blank=True)
    routability_checked_at = models.DateTimeField(null=True, blank=True)
    # An edit changed an input of the check after the report was made: the verdict is cleared (so
    # every submit path checks again) and the old report is kept, shown as stale.
    routability_stale = models.BooleanField("verdict stale", default=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("submit_workitem", "Can submit work items to Genesys"),
            ("override_routability", "Can submit work items that are not routable"),
            ("import_workitems", "Can import work items from CSV"),
            ("export_sla", "Can export the SLA report"),
            ("view_dashboard", "Can view the supervisor dashboard"),
        ]
        indexes = [
            # The changelist's default order.
            models.Index(fields=["-created_at", "-id"], name="workitem_recent"),
            # Dashboard windows: items due, and items closed, in the last 24 h / 7 d.
            models.Index(fields=["sla_deadline"], name="workitem_deadline"),
            models.Index(
                fields=["date_closed"],
                name="workitem_closed",
                condition=models.Q(date_closed__isnull=False),
            ),
            models.Index(fields=["queue", "local_state"], name="workitem_queue_state"),
            # services.sla.sla_sweep: UPDATE … WHERE sla_breached_at IS NULL AND date_closed IS NULL
            # AND sla_paused_since IS NULL AND sla_deadline <= now.
            models.Index(
                fields=["sla_deadline"],
                name="workitem_sla_open_due",
                condition=models.Q(
                    sla_breached_at__isnull=True,
                    date_closed__isnull=True,
                    sla_paused_since__isnull=True,
                    sla_deadline__isnull=False,
                ),
            ),
            # Changelist sorting by age (Genesys dateCreated), by due date and by SLA deadline: the
            # id breaks ties in the column's direction (CappedChangeList), so a page is read in
            # order even where the column is mostly empty (date_due often is).
            models.Index(fields=["date_created", "id"], name="workitem_genesys_created"),
            models.Index(fields=["date_due", "id"], name="workitem_due"),
            models.Index(fields=["sla_deadline", "id"], name="workitem_deadline_id"),
            # Search by external-ref or name prefix: PostgreSQL-only expression indexes, created by
            # migration 0011 (see workitems.selectors.workitem_search).
            # Dashboard and reconciliation: open items per queue by age.
            models.Index(
                fields=["queue", "date_created"],
                name="workitem_open_by_queue",
                condition=models.Q(date_closed__isnull=True, genesys_id__isnull=False),
            ),
            # The list's age buckets (open items by date_created), in the list's order: the page's
            # keys and its capped count come from this index alone (KeysFirstPaginator).
            models.Index(
                fields=["date_created", "created_at", "id"],
                name="workitem_open_age",
                condition=models.Q(date_closed__isnull=True, genesys_id__isnull=False),
            ),
            # …and their first page in the list's order (newest first) with the age at hand: a
            # bucket of old items is otherwise sought through workitem_recent, a heap fetch a row.
            models.Index(
                fields=["-created_at", "-id"],
                include=["date_created"],
                name="workitem_open_recent",
                condition=models.Q(date_closed__isnull=True, genesys_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_ref}: {self.name}"

    @property
    def effective_queue(self) -> Queue | None:
        return self.queue or self.worktype.default_queue

    @property
    def effective_status(self) -> WorkItemStatus | None:
        return self.status or self.worktype.default_status

    @property
    def effective_workbin(self) -> Workbin | None:
        return self.workbin or self.worktype.default_workbin

    @property
    def effective_priority(self) -> int | None:
        return self.priority if self.priority is not None else self.worktype.default_priority
