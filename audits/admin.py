"""The audit trail in the admin: read-only, fast at millions of rows, exportable.

Fast means every changelist query is answered by an index: filters on (action | actor | outcome,
occurred_at), exact search on correlation_id and (object_type, object_id), no full COUNT(*)
(CappedCountPaginator, show_full_result_count off), no facet counts, no date_hierarchy.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import Q
from django.urls import path
from django.utils.html import format_html

from audits.exports import EXPORT_PERMISSION
from audits.filters import ActionFilter, ActorFilter, OccurredAtRangeFilter, distinct_values
from audits.models import AuditEvent
from audits.paginator import CappedChangeList, CappedCountPaginator
from audits.views import NON_FILTER_PARAMS, audit_export_view
from portal.admin_filters import DeclaredFiltersOnly

OBJECT_TYPES_LIMIT = 200


class AuditChangeList(CappedChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        # The list never shows the JSON context; don't read it for 100 rows per page.
        return super().get_queryset(request, exclude_parameters).defer("context")


@admin.register(AuditEvent)
class AuditEventAdmin(DeclaredFiltersOnly, admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = (
        "occurred_at",
        "actor",
        "action",
        "outcome",
        "object_type",
        "object_id",
        "correlation_id",
    )
    list_filter = (
        ActionFilter,
        "outcome",
        ActorFilter,
        ("occurred_at", OccurredAtRangeFilter),
    )
    # Declared for the search box; get_search_results matches exactly (see there).
    search_fields = ("=correlation_id", "=object_id")
    search_help_text = (
        "Exact correlation id (external ref, Genesys id or request id) or object id. "
        "Actor and dates narrow the list too."
    )
    ordering = ("-occurred_at", "-id")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator
    list_per_page = 100
    actions = None
    fields = (
        "occurred_at",
        "actor",
        "action",
        "outcome",
        "object_type",
        "object_id",
        "correlation_id",
        "context_pretty",
    )
    readonly_fields = fields

    def get_changelist(self, request, **kwargs):
        return AuditChangeList

    def get_search_results(self, request, queryset, search_term):
        """Exact, case-sensitive matches only, so PostgreSQL can use the btree indexes.

        Django's `=` prefix means iexact (UPPER(col) = UPPER(term)), which no plain index answers.
        object_id is the second column of (object_type, object_id): naming the known object types
        (a bounded loose index scan) lets the index answer `object_type IN (…) AND object_id = …`.
        """
        term = search_term.strip()
        if not term:
            return queryset, False
        types = distinct_values("object_type", limit=OBJECT_TYPES_LIMIT)
        match = Q(correlation_id=term) | Q(object_type__in=types, object_id=term)
        return queryset.filter(match), False

    @admin.display(description="context")
    def context_pretty(self, obj: AuditEvent) -> str:
        text = json.dumps(obj.context, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    # --- append-only ------------------------------------------------------------------------------

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- export -----------------------------------------------------------------------------------

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request) and request.user.has_perm(EXPORT_PERMISSION)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def export_view(self, request):
        return audit_export_view(request, model_admin=self)

    def changelist_view(self, request, extra_context=None):
        query = request.GET.copy()
        for name in NON_FILTER_PARAMS:
            query.pop(name, None)
        extra_context = {
            **(extra_context or {}),
            "has_export_permission": self.has_export_permission(request),
            "export_querystring": query.urlencode(),
        }
        return super().changelist_view(request, extra_context)
