"""Admin for the reference-data mirror. Rows come from Genesys: only our own fields are editable."""

from __future__ import annotations

from django.contrib import admin, messages

from audits.services import actor_for
from portal.admin_filters import DeclaredFiltersOnly
from portal.admin_readonly import ReadOnlyAdmin, ReadOnlyInline
from workitems.admin.filters import SyncFreshnessFilter
from workitems.models import Queue, QueueMember, Skill, SyncRun, Workbin, WorkItemStatus, WorkType
from workitems.services.reference_sync import reference_sync_request
from workitems.services.routability import worktype_routing_notes


class MirrorAdmin(ReadOnlyAdmin, DeclaredFiltersOnly, admin.ModelAdmin):
    """Read-only mirror of Genesys objects with a "Refresh from Genesys" action."""

    sync_kind: str = ""
    editable_fields: tuple[str, ...] = ()
    search_fields = ("name", "=genesys_id")
    actions = ["refresh_from_genesys"]
    list_per_page = 100

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields if f.name not in self.editable_fields]

    def has_change_permission(self, request, obj=None):
        # Only our own fields (e.g. a queue's max_open_items) are editable; Genesys owns the rest.
        # Past ReadOnlyAdmin (which says no) to the model permission.
        return bool(self.editable_fields) and admin.ModelAdmin.has_change_permission(
            self, request, obj
        )

    def has_sync_permission(self, request) -> bool:
        return request.user.has_perm("workitems.sync_reference")

    @admin.action(description="Refresh from Genesys", permissions=["sync"])
    def refresh_from_genesys(self, request, queryset):
        reference_sync_request(kinds=[self.sync_kind], actor=actor_for(request.user))
        self.message_user(
            request,
            f"Refresh of {self.sync_kind} queued; its result appears under Sync runs.",
            messages.SUCCESS,
        )


@admin.register(Queue)
class QueueAdmin(MirrorAdmin):
    sync_kind = "queues"
    editable_fields = ("max_open_items",)
    list_display = (
        "name",
        "joined_member_count",
        "member_count",
        "skill_evaluation_method",
        "max_open_items",
        "division_name",
        "active",
        "synced_at",
    )
    list_filter = ("active", SyncFreshnessFilter, "skill_evaluation_method", "division_name")


@admin.register(Skill)
class SkillAdmin(MirrorAdmin):
    sync_kind = "skills"
    list_display = ("name", "state", "active", "synced_at")
    list_filter = ("active", "state", SyncFreshnessFilter)


@admin.register(Workbin)
class WorkbinAdmin(MirrorAdmin):
    sync_kind = "workbins"
    list_display = ("name", "division_name", "active", "synced_at")
    list_filter = ("active", SyncFreshnessFilter)


class StatusInline(ReadOnlyInline, admin.TabularInline):
    model = WorkItemStatus
    fields = ("name", "category", "genesys_id", "active")
    readonly_fields = fields
    show_change_link = True


@admin.register(WorkType)
class WorkTypeAdmin(MirrorAdmin):
    sync_kind = "worktypes"
    list_display = (
        "name",
        "default_queue",
        "default_workbin",
        "default_status",
        "default_priority",
        "assignment_enabled",
        "active",
        "synced_at",
    )
    list_filter = ("active", "assignment_enabled", SyncFreshnessFilter)
    list_select_related = ("default_queue", "default_workbin", "default_status")
    inlines = [StatusInline]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "default_skills", "routing_notes"]

    def get_fields(self, request, obj=None):
        # What the worktype's settings mean for routing, near the top: its items' reports point
        # here instead of each repeating it as a warning.
        fields = [f for f in super().get_fields(request, obj) if f != "routing_notes"]
        return [*fields[:2], "routing_notes", *fields[2:]]

    @admin.display(description="routing of its items")
    def routing_notes(self, obj: WorkType) -> str:
        notes = worktype_routing_notes(obj)
        return " ".join(notes) or "Nothing in this worktype's settings holds its items back."


@admin.register(WorkItemStatus)
class WorkItemStatusAdmin(MirrorAdmin):
    sync_kind = "worktypes"
    list_display = ("name", "worktype", "category", "active", "synced_at")
    list_filter = ("category", "active", "worktype", SyncFreshnessFilter)
    list_select_related = ("worktype",)
    search_fields = ("name", "=genesys_id", "worktype__name")


class RoutingStatusFilter(admin.SimpleListFilter):
    title = "on queue"
    parameter_name = "on_queue"

    def lookups(self, request, model_admin):
        return [("yes", "Joined and on queue"), ("no", "Not joined or off queue")]

    def queryset(self, request, queryset):
        from workitems.models.reference import ON_QUEUE_STATUSES

        on_queue = {"joined": True, "routing_status__in": ON_QUEUE_STATUSES}
        if self.value() == "yes":
            return queryset.filter(**on_queue)
        if self.value() == "no":
            return queryset.exclude(**on_queue)
        return queryset


@admin.register(QueueMember)
class QueueMemberAdmin(MirrorAdmin):
    sync_kind = "members"
    list_display = (
        "name",
        "queue",
        "joined",
        "routing_status",
        "skill_names",
        "active",
        "synced_at",
    )
    list_filter = (RoutingStatusFilter, "joined", "routing_status", "active", "queue")
    list_select_related = ("queue",)
    search_fields = ("name", "=user_id", "queue__name")
    autocomplete_fields = ("queue",)

    @admin.display(description="skills")
    def skill_names(self, obj: QueueMember) -> str:
        return ", ".join(f"{s['name']} ({s.get('proficiency')})" for s in obj.skills) or "—"


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin, DeclaredFiltersOnly, admin.ModelAdmin):
    list_display = ("started_at", "kinds", "state", "triggered_by", "finished_at")
    list_filter = ("state",)
    readonly_fields = [f.name for f in SyncRun._meta.fields]
