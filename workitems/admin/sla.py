from django.contrib import admin

from audits.services import actor_for
from portal.admin_filters import DeclaredFiltersOnly
from workitems.models import SlaPolicy
from workitems.services.sla import AT_RISK_PERCENT, sla_policy_apply, sla_policy_delete
from workitems.text import count_noun

DEFINITIONS = (
    "SLA deadline: the earlier of the item's due date and its Genesys creation time plus the threshold, "
    "moved later by the time spent paused. Paused: time in a Waiting-category status, when the policy "
    f"says so. Breached: not closed by its deadline. At risk: open, unpaused, less than {AT_RISK_PERCENT}% of its "
    "threshold left. Saving a policy recomputes the deadlines of the open items it governs."
)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(DeclaredFiltersOnly, admin.ModelAdmin):
    list_display = ("worktype", "queue", "threshold_seconds", "pause_in_waiting", "updated_at")
    list_filter = ("pause_in_waiting", "worktype")
    list_select_related = ("worktype", "queue")
    autocomplete_fields = ("worktype", "queue")
    fieldsets = [
        (
            None,
            {
                "fields": ("worktype", "queue", "threshold_seconds", "pause_in_waiting"),
                "description": DEFINITIONS,
            },
        )
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = sla_policy_apply(policy=obj, actor=actor_for(request.user))
        self.message_user(
            request, f"Recomputed the SLA deadline of {count_noun(changed, 'open work item')}."
        )

    def delete_model(self, request, obj):
        sla_policy_delete(policy=obj, actor=actor_for(request.user))

    def delete_queryset(self, request, queryset):
        for policy in queryset:
            sla_policy_delete(policy=policy, actor=actor_for(request.user))
