"""The work item list's columns, search and "ready to submit" filter: what a supervisor asks of
it — how long is left, how old is it, who has it, where is it.

A ModelAdmin mixin for WorkItemAdmin. Every column reads the page's one query (its joins are in
`list_select_related`); sortable columns sort on indexed columns (sla_deadline, date_created,
date_due).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import helpers
from django.utils import timezone
from django.utils.html import format_html

from portal.paginator import CappedCountPaginator
from workitems.models import StatusCategory, WorkItem
from workitems.selectors.workitem_list import ready_to_submit_q, workitem_search_q
from workitems.text import duration_text, relative_text, when_text


class ReadyToSubmitFilter(admin.SimpleListFilter):
    title = "ready to submit"
    parameter_name = "ready"

    def lookups(self, request, model_admin):
        return [("yes", "Ready to submit (checked, routable, not edited since)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(ready_to_submit_q())
        return queryset


class KeysFirstPaginator(CappedCountPaginator):
    """A page's keys first, in the list's order and from an index alone, then only those rows.

    Filtered lists (an age bucket, at risk) otherwise join every matching row to the worktype,
    queue, status and workbin before sorting them for the top 100; this way the sort reads
    narrow index entries and the joins run for the page's rows only (benchmarks/admin.py).
    """

    def page(self, number):
        qs = self.object_list
        if not hasattr(qs, "query"):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        keys = list(qs.values_list("pk", flat=True)[bottom:top])
        # The rows by key alone: with the list's filters too the planner may walk their index.
        by_key = qs.model._default_manager.filter(pk__in=keys).order_by()
        by_key.query.select_related = qs.query.select_related
        by_key.query.deferred_loading = qs.query.deferred_loading
        rows = {obj.pk: obj for obj in by_key}
        return self._get_page([rows[k] for k in keys if k in rows], number, self)


def _short(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"


class WorkItemListMixin:
    list_display = (
        "external_ref",
        "name",
        "queue_display",
        "status",
        "state_display",
        "sla_display",
        "age_display",
        "due_display",
        "priority_display",
        "assignee_display",
        "workbin_display",
    )
    # Only columns an index serves in order (external_ref unique, sla_deadline, date_created,
    # date_due): sorting a million rows by name or queue name reads and sorts them all.
    sortable_by = ("external_ref", "sla_display", "age_display", "due_display")
    list_select_related = (
        "worktype",
        "worktype__default_queue",
        "worktype__default_workbin",
        "queue",
        "status",
        "workbin",
    )
    search_fields = ("external_ref", "name", "genesys_id")
    search_help_text = (
        "The start of an external ref or of a name, any case (UX- finds UX-1042), or a whole "
        "Genesys id."
    )

    def action_checkbox(self, obj: WorkItem) -> str:
        # Django's renders a form widget template per row: a third of a 100-row page's time.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" '
            'aria-label="Select this object for an action - {}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            str(obj),
        )

    def ordering_params(self, request, field: str) -> dict:
        """The list's query parameters that sort it by `field`, ascending ({} when no column
        sorts by it): Django numbers the columns as displayed, the action checkbox first."""
        display = list(self.get_list_display(request))
        if self.get_actions(request):
            display.insert(0, "action_checkbox")
        for index, name in enumerate(display):
            attr = getattr(self, name, None) if isinstance(name, str) else name
            if name == field or getattr(attr, "admin_order_field", None) == field:
                return {"o": str(index)}
        return {}

    def get_search_results(self, request, queryset, search_term):
        # One prefix match per column (indexed), not Django's word-by-word contains.
        if not search_term.strip():
            return queryset, False
        return queryset.filter(workitem_search_q(search_term)), False

    @admin.display(description="queue", ordering="queue__name")
    def queue_display(self, obj: WorkItem) -> str:
        if obj.queue:
            return obj.queue.name
        default = obj.worktype.default_queue
        return f"{default.name} (worktype default)" if default else "—"

    @admin.display(description="state", ordering="local_state")
    def state_display(self, obj: WorkItem) -> str:
        """The portal's state of the item and, before submission, its routability verdict."""
        state = obj.get_local_state_display()
        if obj.genesys_id:
            return state
        if obj.routability_stale:
            return format_html(
                '{} · <span class="verdict-stale">verdict stale (edited since)</span>', state
            )
        if not obj.routability_verdict:
            return format_html('{} · <span class="verdict-none">not checked</span>', state)
        return format_html(
            '{} · <span class="verdict verdict-{}">{}</span>',
            state,
            obj.routability_verdict,
            obj.get_routability_verdict_display(),
        )

    @admin.display(description="SLA deadline", ordering="sla_deadline")
    def sla_display(self, obj: WorkItem) -> str:
        if obj.sla_deadline is None:
            return "—"
        deadline = _short(obj.sla_deadline)
        if obj.date_closed is not None or obj.status_category == StatusCategory.CLOSED:
            met = obj.sla_breached_at is None
            return format_html(
                '{} <span class="{}">{}</span>',
                deadline,
                "sla-left" if met else "sla-overdue",
                "met" if met else "breached",
            )
        if obj.sla_paused_since is not None:
            return format_html('{} <span class="sla-left">paused</span>', deadline)
        now = timezone.now()
        css = "sla-left" if obj.sla_deadline >= now else "sla-overdue"
        return format_html(
            '<span title="{}">{}</span> <span class="{}">{}</span>',
            when_text(obj.sla_deadline),
            deadline,
            css,
            relative_text(obj.sla_deadline, now=now),
        )

    @admin.display(description="age", ordering="date_created")
    def age_display(self, obj: WorkItem) -> str:
        if obj.date_created is None:
            return "—"
        end = obj.date_closed or timezone.now()
        return format_html(
            '<span title="created in Genesys {}">{}</span>',
            when_text(obj.date_created),
            duration_text(end - obj.date_created, seconds=False),
        )

    @admin.display(description="due", ordering="date_due")
    def due_display(self, obj: WorkItem) -> str:
        return _short(obj.date_due)

    @admin.display(description="priority")
    def priority_display(self, obj: WorkItem) -> str:
        if obj.priority is not None:
            return f"{obj.priority:,}"
        default = obj.worktype.default_priority
        return f"{default:,} (default)" if default is not None else "—"

    @admin.display(description="assignee")
    def assignee_display(self, obj: WorkItem) -> str:
        return obj.assignee_name or obj.assignee_id or "—"

    @admin.display(description="workbin")
    def workbin_display(self, obj: WorkItem) -> str:
        if obj.workbin:
            return obj.workbin.name
        default = obj.worktype.default_workbin
        return f"{default.name} (default)" if default else "—"
