from django.contrib import admin

from audits.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
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
    list_filter = ("outcome", "action")
    search_fields = ("=correlation_id", "=object_id")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
