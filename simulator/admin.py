"""The simulator in the admin: faults to switch on and off, stored objects to inspect or tweak."""

from __future__ import annotations

from django.contrib import admin

from simulator.models import SimEntity, SimFault, SimToken


@admin.register(SimFault)
class SimFaultAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "method",
        "path_regex",
        "kind",
        "status",
        "remaining",
        "after_processing",
        "hits",
        "note",
    )
    list_filter = ("kind", "after_processing")
    readonly_fields = ("hits", "created_at")


@admin.register(SimEntity)
class SimEntityAdmin(admin.ModelAdmin):
    list_display = ("kind", "entity_id", "name", "external_tag", "updated_at")
    list_filter = ("kind",)
    search_fields = ("=entity_id", "=external_tag")
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False

    @admin.display(description="name")
    def name(self, obj: SimEntity) -> str:
        return str(obj.data.get("name", ""))


@admin.register(SimToken)
class SimTokenAdmin(admin.ModelAdmin):
    list_display = ("client_id", "issued_at", "expires_at")
    readonly_fields = ("token_hash", "client_id", "issued_at", "expires_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
