"""Work items in the admin: create, check routability, submit. Every verb calls a service.

The list's columns and search, the form built from the worktype, and the item page (report,
Check and Submit, timeline) are mixins of their own: workitem_list, workitem_editing and
workitem_page.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.db.models import Count
from django.urls import path

from audits.services import actor_for
from portal.admin_filters import DeclaredFiltersOnly
from portal.date_range_filter import DateRangeFilter
from portal.json_safety import SafeJSONFormField
from portal.paginator import CappedChangeList
from workitems.admin.confirmation import confirmation_page, confirmed
from workitems.admin.sla import DEFINITIONS as SLA_DEFINITIONS
from workitems.admin.sla_filters import DASHBOARD_FILTERS
from workitems.admin.workitem_editing import WorkItemEditingMixin
from workitems.admin.workitem_list import (
    KeysFirstPaginator,
    ReadyToSubmitFilter,
    WorkItemListMixin,
)
from workitems.admin.workitem_page import WorkItemPageMixin
from workitems.models import LocalState, Verdict, WorkItem
from workitems.services.reconcile import workitems_refresh_from_genesys
from workitems.services.routability import ITEM_RELATIONS, workitems_check_routability
from workitems.services.send_claims import send_claim_text
from workitems.services.submission import SUBMITTABLE, workitems_submit_request
from workitems.text import count_noun
from workitems.views.sla_export import sla_export_view


class CreatedInGenesysFilter(DateRangeFilter):
    """From/to on Genesys' creation time, as export_sla's --since/--until."""

    title_text = "created in Genesys"


@admin.register(WorkItem)
class WorkItemAdmin(
    WorkItemPageMixin,
    WorkItemEditingMixin,
    WorkItemListMixin,
    DeclaredFiltersOnly,
    admin.ModelAdmin,
):
    # custom_fields: NaN, 1e400, NUL or 5,000 levels of nesting are a field error, not a 500;
    # an emptied box means no custom fields.
    formfield_overrides = {models.JSONField: {"form_class": SafeJSONFormField, "if_empty": dict}}
    list_filter = (
        ReadyToSubmitFilter,
        "local_state",
        "routability_verdict",
        "status_category",
        "worktype",
        "queue",
        *DASHBOARD_FILTERS,
        ("date_created", CreatedInGenesysFilter),
    )
    # Beyond the list filters: the CSV import links to "the items this import created" (creator
    # and creation time), the dashboard's breach-rate chart to a day's breaches.
    accepted_lookups = (
        "created_by__id__exact",
        "created_at__gte",
        "created_at__lte",
        "sla_deadline__gte",
        "sla_deadline__lt",
        "sla_deadline__lte",
        "sla_breached_at__gte",
        "sla_breached_at__lt",
        "sla_breached_at__lte",
    )
    # worktype and status: the form offers the chosen worktype's (workitem_editing).
    autocomplete_fields = ("queue", "workbin", "skills")
    actions = ["check_routability", "submit_to_genesys", "retry_failed", "refresh_from_genesys"]
    list_per_page = 100
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = KeysFirstPaginator
    # Transitions and deliveries are told by the item's timeline (workitem_page), to anyone who
    # may view the item.
    # What Genesys and the portal record (read-only), below what a supervisor edits.
    system_sections = [
        (
            "Genesys",
            {
                "fields": (
                    "genesys_id",
                    "status_category",
                    "assignment_state",
                    "assignee_name",
                    "assignee_id",
                    "date_created",
                    "date_modified",
                    "date_status_changed",
                    "date_closed",
                )
            },
        ),
        (
            "SLA",
            {
                "fields": (
                    "sla_deadline",
                    "sla_threshold_seconds",
                    "sla_pause_in_waiting",
                    "sla_paused",
                    "sla_paused_since",
                    "sla_breached_at",
                ),
                "description": SLA_DEFINITIONS,
            },
        ),
        (
            "Submission",
            {
                "fields": (
                    "local_state",
                    "send_claim",
                    "routability_verdict",
                    "routability_stale",
                    "routability_checked_at",
                    "submit_attempts",
                    "submitted_at",
                    "next_attempt_at",
                    "last_error",
                    "last_error_context_id",
                    "created_by",
                    "created_at",
                )
            },
        ),
    ]
    _system_fields = tuple(name for _, section in system_sections for name in section["fields"])

    def get_readonly_fields(self, request, obj=None):
        if not self._editable(obj):
            return [f.name for f in WorkItem._meta.fields] + [
                "skills",
                "custom_fields_display",
                "preferred_agents_display",
                "send_claim",
            ]
        return self._system_fields

    def has_change_permission(self, request, obj=None):
        # A view-only page (no Save buttons) for items Genesys owns; actions ask without an obj.
        if obj is not None and not self._editable(obj):
            return False
        return super().has_change_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.editable_fieldsets(request, obj)
        if self._editable(obj):
            # Before submission Genesys has said nothing yet: its sections are folded.
            folded = [
                (name, {**section, "classes": ("collapse",)})
                for name, section in self.system_sections
            ]
            return self.editable_fieldsets(request, obj) + folded
        return self.readonly_fieldsets() + self.system_sections

    def get_queryset(self, request):
        # The item page reads these (form, read-only fields, report): one join, not a query each.
        return super().get_queryset(request).select_related(*ITEM_RELATIONS)

    def get_changelist(self, request, **kwargs):
        return CappedChangeList

    def get_urls(self):
        return [
            path(
                "sla-export/",
                self.admin_site.admin_view(self.sla_export),
                name="workitems_workitem_sla_export",
            ),
            *super().get_urls(),
        ]

    def sla_export(self, request):
        return sla_export_view(request, model_admin=self)

    @admin.display(description="sending")
    def send_claim(self, obj: WorkItem) -> str:
        return send_claim_text(obj)

    # --- actions -------------------------------------------------------------------------------

    def has_submit_permission(self, request) -> bool:
        return request.user.has_perm("workitems.submit_workitem")

    @admin.action(description="Check routability", permissions=["change"])
    def check_routability(self, request, queryset):
        reports = workitems_check_routability(items=queryset, actor=actor_for(request.user))
        counts: dict[str, int] = {}
        notes: dict[str, None] = {}
        for report in reports.values():
            counts[report.verdict.label] = counts.get(report.verdict.label, 0) + 1
            notes.update(dict.fromkeys(report.worktype_notes))
        summary = ", ".join(f"{n} {label.lower()}" for label, n in sorted(counts.items()))
        self.message_user(
            request,
            f"Checked {count_noun(len(reports), 'work item')}: {summary}.",
            messages.SUCCESS,
        )
        # A worktype's own settings, once per worktype rather than as every item's warning.
        for note in notes:
            self.message_user(request, note, messages.INFO)

    @admin.action(description="Refresh from Genesys (Genesys's state wins)", permissions=["change"])
    def refresh_from_genesys(self, request, queryset):
        result = workitems_refresh_from_genesys(items=queryset, actor=actor_for(request.user))
        level = messages.WARNING if result.failed or result.stopped else messages.SUCCESS
        self.message_user(request, f"Refreshed from Genesys: {result.line()}.", level)

    @admin.action(description="Submit to Genesys…", permissions=["submit"])
    def submit_to_genesys(self, request, queryset):
        return self._confirm_and_submit(request, queryset)

    @admin.action(description="Retry failed submissions…", permissions=["submit"])
    def retry_failed(self, request, queryset):
        return self._confirm_and_submit(request, queryset.filter(local_state=LocalState.FAILED))

    def _confirm_and_submit(self, request, queryset):
        override = request.user.has_perm("workitems.override_routability")
        actor = actor_for(request.user)
        if confirmed(request):
            result = workitems_submit_request(
                items=queryset, actor=actor, override_routability=override
            )
            if result.queued:
                self.message_user(
                    request,
                    f"Queued {count_noun(len(result.queued), 'work item')} for submission to "
                    "Genesys.",
                    messages.SUCCESS,
                )
            if result.refused:
                refs = "; ".join(f"{i.external_ref}: {why}" for i, why in result.refused[:20])
                more = f" (and {len(result.refused) - 20} more)" if len(result.refused) > 20 else ""
                self.message_user(
                    request,
                    f"Refused {count_noun(len(result.refused), 'work item')}: {refs}{more}",
                    messages.WARNING,
                )
            return None
        # Check what was never checked, so the page can show every item's verdict.
        unchecked = queryset.filter(routability_verdict="", local_state__in=SUBMITTABLE)
        if unchecked.exists():
            workitems_check_routability(items=unchecked, actor=actor)
        verdicts = dict(
            queryset.select_related(None)
            .values_list("routability_verdict")
            .annotate(n=Count("pk"))
            .order_by()
        )
        return confirmation_page(
            self,
            request,
            queryset=queryset,
            rows=queryset.select_related(None)
            .select_related("worktype", "queue", "worktype__default_queue")
            .only(
                "pk",
                "external_ref",
                "name",
                "local_state",
                "routability_verdict",
                "worktype__name",
                "queue__name",
                "worktype__default_queue__name",
            )
            .order_by("pk"),
            title="Submit work items to Genesys",
            template="admin/workitems/workitem/submit_confirmation.html",
            verdict_counts=[
                (Verdict(v).label if v else "Not checked", n) for v, n in verdicts.items()
            ],
            not_routable=verdicts.get(Verdict.NOT_ROUTABLE, 0),
            can_override=override,
        )
