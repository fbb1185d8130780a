"""The audit trail in the admin: read-only, fast at millions of rows, exportable.

Fast means every changelist query is answered by an index: filters on (action | actor | outcome,
occurred_at), exact search on correlation_id and (object_type, object_id), no full COUNT(*)
(CappedCountPaginator, show_full_result_count off), no facet counts, no date_hierarchy.
"""

from __future__ import annotations

import functools
import json

from django.contrib import admin
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, get_script_prefix, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from audits.exports import EXPORT_PERMISSION
from audits.filters import ActionFilter, ActorFilter, OccurredAtRangeFilter, distinct_values
from audits.labels import OBJECT_MODELS, action_label
from audits.models import AuditEvent, AuditSeal, AuditVerification, ExportManifest
from audits.views import audit_export_view, manifest_download
from portal.admin_filters import DeclaredFiltersOnly
from portal.admin_readonly import ReadOnlyAdmin
from portal.csv_stream import EXPORT_FORMATS
from portal.export_views import NON_FILTER_PARAMS
from portal.paginator import PK_PLACEHOLDER, CappedChangeList, CappedCountPaginator

SLA_EXPORT_PERMISSION = "workitems.export_sla"
EXPORT_PERMISSIONS = {
    ExportManifest.Kind.AUDIT: EXPORT_PERMISSION,
    ExportManifest.Kind.SLA: SLA_EXPORT_PERMISSION,
}

OBJECT_TYPES_LIMIT = 200


class AuditChangeList(CappedChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        # The list never shows the JSON context; don't read it for 100 rows per page.
        return super().get_queryset(request, exclude_parameters).defer("context")


@functools.lru_cache(maxsize=128)
def _change_url(model: str, script_prefix: str) -> str | None:
    """The admin change URL of `model` with PK_PLACEHOLDER for the id; None if it has none."""
    app_label, model_name = model.split(".")
    try:
        return reverse(f"admin:{app_label}_{model_name}_change", args=[PK_PLACEHOLDER])
    except NoReverseMatch:
        return None


def object_url(obj: AuditEvent) -> str | None:
    model = OBJECT_MODELS.get(obj.object_type)
    if not model or not obj.object_id.isdigit():
        return None
    # reverse() once per model (and script prefix), not once per row of a 100-row page.
    url = _change_url(model, get_script_prefix())
    return url.replace(PK_PLACEHOLDER, obj.object_id, 1) if url else None


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin, DeclaredFiltersOnly, admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = (
        "time",
        "actor",
        "action_display",
        "outcome",
        "object_type",
        "object_link",
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
        "time",
        "actor",
        "action_display",
        "outcome",
        "object_type",
        "object_link",
        "correlation_id",
        "context_pretty",
        "chain_seal",
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

    @admin.display(description="time", ordering="occurred_at")
    def time(self, obj: AuditEvent) -> str:
        return f"{timezone.localtime(obj.occurred_at):%Y-%m-%d %H:%M:%S}"

    @admin.display(description="action", ordering="action")
    def action_display(self, obj: AuditEvent) -> str:
        return format_html('<span title="{}">{}</span>', obj.action, action_label(obj.action))

    @admin.display(description="object id")
    def object_link(self, obj: AuditEvent) -> str:
        """A link to the object's own admin page (which checks its own permission)."""
        url = object_url(obj)
        if url is None:
            return obj.object_id
        return format_html('<a href="{}">{}</a>', url, obj.object_id)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("seal")

    @admin.display(description="chain seal")
    def chain_seal(self, obj: AuditEvent) -> str:
        try:
            seal = obj.seal
        except AuditSeal.DoesNotExist:
            return "not sealed yet (sealing runs every minute)"
        return format_html("position {}, SHA-256 <code>{}</code>", seal.position, seal.hash)

    @admin.display(description="context")
    def context_pretty(self, obj: AuditEvent) -> str:
        text = json.dumps(obj.context, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

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
            "export_params": list(query.lists()),
            "export_formats": EXPORT_FORMATS.values(),
        }
        return super().changelist_view(request, extra_context)


@admin.register(ExportManifest)
class ExportManifestAdmin(ReadOnlyAdmin, DeclaredFiltersOnly, admin.ModelAdmin):
    """Past exports and their manifests: seen by whoever may run that kind of export."""

    list_display = (
        "generated_at",
        "generated_by",
        "kind",
        "export_format",
        "filename",
        "rows",
        "completed",
        "manifest_link",
    )
    list_filter = ("kind", "export_format", "completed")
    search_fields = ("=generated_by", "filename")
    readonly_fields = ("kind", "export_format", "filename", "generated_at", "generated_by")
    fields = (*readonly_fields, "completed", "manifest_link", "manifest_pretty")
    list_per_page = 50
    actions = None

    def _kinds(self, request) -> list[str]:
        return [k for k, perm in EXPORT_PERMISSIONS.items() if request.user.has_perm(perm)]

    def has_view_permission(self, request, obj=None):
        kinds = self._kinds(request)
        return bool(kinds) and (obj is None or obj.kind in kinds)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(kind__in=self._kinds(request))

    @admin.display(description="rows")
    def rows(self, obj: ExportManifest):
        return obj.manifest.get("rows")

    @admin.display(description="manifest")
    def manifest_link(self, obj: ExportManifest) -> str:
        if not obj.completed:
            return "—"
        url = reverse("admin:audits_exportmanifest_download", args=[obj.pk])
        return format_html(
            '<a href="{}" class="export-manifest-link" download>{}.manifest.json</a>',
            url,
            obj.filename,
        )

    @admin.display(description="manifest content")
    def manifest_pretty(self, obj: ExportManifest) -> str:
        text = json.dumps(obj.manifest, indent=2, ensure_ascii=False)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    def get_urls(self):
        return [
            path(
                "<int:pk>/manifest/",
                self.admin_site.admin_view(self.download_view),
                name="audits_exportmanifest_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request, pk: int):
        manifest = get_object_or_404(self.get_queryset(request), pk=pk)
        return manifest_download(manifest)


@admin.register(AuditVerification)
class AuditVerificationAdmin(ReadOnlyAdmin, DeclaredFiltersOnly, admin.ModelAdmin):
    """Runs of verify_audit: read-only, for whoever may read the audit trail."""

    list_display = (
        "started_at",
        "actor",
        "ok",
        "rows_checked",
        "rows_sealed",
        "rows_unsealed",
        "export_file",
        "first_problem",
    )
    list_filter = ("ok",)
    actions = None

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("audits.view_auditevent")

    def has_module_permission(self, request):
        return self.has_view_permission(request)
