"""Inbound Genesys events in the admin (read-only, with replay).

A work item's status changes are told by its timeline (workitems/selectors/timeline.py).
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from audits.services import actor_for
from portal.admin_filters import DeclaredFiltersOnly
from portal.admin_readonly import ReadOnlyAdmin
from workitems.admin.confirmation import confirmation_page, confirmed
from workitems.models import InboundEvent
from workitems.services.event_processor import REPLAYABLE, events_replay
from workitems.text import count_noun


def _link(urlname: str, pk: int) -> str:
    try:
        return format_html('<a href="{}">{}</a>', reverse(urlname, args=[pk]), pk)
    except NoReverseMatch:  # that model's admin is not registered
        return str(pk)


def _pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin, DeclaredFiltersOnly, admin.ModelAdmin):
    list_display = (
        "id",
        "received_at",
        "state",
        "operation",
        "workitem_genesys_id",
        "date_modified",
        "attempts",
        "envelope",
        "error_excerpt",
    )
    list_filter = ("state",)
    # The dashboard links to events accepted but still waiting, received before a minute ago.
    accepted_lookups = ("received_at__lt",)
    search_fields = ("=workitem_genesys_id", "=id")
    list_per_page = 100
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ("-received_at", "-id")
    actions = ["replay"]
    fields = (
        "id",
        "state",
        "received_at",
        "envelope",
        "topic_name",
        "operation",
        "workitem_genesys_id",
        "workitem_link",
        "date_modified",
        "attempts",
        "next_attempt_at",
        "processed_at",
        "error",
        "dedupe_key",
        "headers_pretty",
        "body_pretty",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        # The body can be 256 KiB: the changelist never needs it, the change view loads it once.
        return super().get_queryset(request).defer("body")

    def get_search_results(self, request, queryset, search_term):
        # Exact matches on indexed columns (iexact would defeat the index on PostgreSQL), and a
        # non-numeric term must not be compared with the integer id.
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(workitem_genesys_id=term)
        if term.isdigit():
            match |= Q(pk=int(term))
        return queryset.filter(match), False

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm("workitems.replay_inboundevent")

    @admin.display(description="error")
    def error_excerpt(self, obj: InboundEvent) -> str:
        return obj.error[:80] + ("…" if len(obj.error) > 80 else "")

    @admin.display(description="work item")
    def workitem_link(self, obj: InboundEvent) -> str:
        if not obj.workitem_id:
            return "—"
        return _link("admin:workitems_workitem_change", obj.workitem_id)

    @admin.display(description="headers")
    def headers_pretty(self, obj: InboundEvent) -> str:
        return format_html("<pre>{}</pre>", _pretty(obj.headers))

    @admin.display(description="body")
    def body_pretty(self, obj: InboundEvent) -> str:
        try:
            text = _pretty(json.loads(obj.body))
        except ValueError:
            text = obj.body  # kept as received (rejected input)
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    @admin.action(description="Replay…", permissions=["replay"])
    def replay(self, request, queryset):
        if confirmed(request):
            result = events_replay(events=queryset, actor=actor_for(request.user))
            if result.replayed:
                self.message_user(
                    request,
                    f"Queued {count_noun(len(result.replayed), 'event')} for processing again.",
                    messages.SUCCESS,
                )
            if result.skipped:
                self.message_user(
                    request,
                    f"Skipped {count_noun(len(result.skipped), 'duplicate, rejected or waiting event')}.",
                    messages.WARNING,
                )
            return None
        replayable = queryset.filter(state__in=REPLAYABLE).count()
        return confirmation_page(
            self,
            request,
            queryset=queryset,
            rows=queryset.only(
                "pk", "received_at", "state", "operation", "workitem_genesys_id", "date_modified"
            ).order_by("pk"),
            title="Replay inbound events",
            template="admin/workitems/inboundevent/replay_confirmation.html",
            replayable=replayable,
            skipped=queryset.count() - replayable,
        )
