"""Downstream deliveries in the admin: an operations view. Read-only; every verb calls a service.

A work item's deliveries are told by its timeline (workitems/selectors/timeline.py).
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max, Min, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from audits.services import actor_for
from portal.admin_filters import DeclaredFiltersOnly
from portal.admin_readonly import ReadOnlyAdmin, ReadOnlyInline
from workitems.models import Delivery, DeliveryAttempt
from workitems.selectors.delivery_order import delivery_earlier_undelivered
from workitems.services.delivery import (
    MAX_REPLAY_WINDOW,
    deliveries_replay_request,
    deliveries_retry,
    deliveries_skip,
    replay_window_problem,
)
from workitems.text import count_noun

State = Delivery.State
REPLAY_PERMISSION = "workitems.replay_delivery"
INPUT_FORMAT = "%Y-%m-%dT%H:%M"


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Which deliveries need attention? Failing ones will retry by themselves; dead ones wait for
    an operator, and hold back the later deliveries of their work item until then."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [
            ("any", "Failing or dead"),
            ("failing", "Failing (will retry)"),
            ("dead", "Dead (gave up; blocks its item)"),
            ("waiting", "Waiting behind an earlier undelivered one"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "any":
            return queryset.filter(state__in=[State.FAILING, State.DEAD])
        if value in ("failing", "dead"):
            return queryset.filter(state=value)
        if value == "waiting":
            return queryset.filter(
                Q(state__in=[State.PENDING, State.FAILING]), delivery_earlier_undelivered()
            )
        return queryset


class DeliveryAttemptInline(ReadOnlyInline, admin.TabularInline):
    model = DeliveryAttempt
    fields = ("attempted_at", "status_code", "duration_ms", "response_excerpt", "error")
    readonly_fields = fields
    verbose_name_plural = "attempts"

    def has_view_permission(self, request, obj=None):
        # Seeing a delivery means seeing its attempts; no separate permission to hand out.
        return request.user.has_perm("workitems.view_delivery")


class ReplayWindowForm(forms.Form):
    start = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=INPUT_FORMAT),
        help_text="Deliveries created at or after this time.",
    )
    end = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=INPUT_FORMAT),
        help_text=f"…and before this time. At most {MAX_REPLAY_WINDOW.days} days after the start.",
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            problem = replay_window_problem(start=start, end=end)
            if problem:
                raise ValidationError(problem)
        return data


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin, DeclaredFiltersOnly, admin.ModelAdmin):
    # Read-only: the outbox is written by state changes and moved by the sender and the verbs.

    list_display = (
        "workitem_ref",
        "sequence",
        "kind",
        "state",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "created_at",
    )
    list_filter = (
        NeedsAttentionFilter,
        "state",
        "kind",
        ("created_at", admin.DateFieldListFilter),
    )
    list_select_related = ("workitem",)
    search_fields = ("=workitem__external_ref", "=webhook_id")
    search_help_text = "An exact work item external ref, or an exact webhook-id."
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 100
    actions = ["retry_selected", "skip_selected", "replay_window_of_selected"]
    inlines = [DeliveryAttemptInline]
    fields = (
        "workitem",
        "sequence",
        "kind",
        "state",
        "webhook_id",
        "payload",
        "created_at",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_error",
    )

    def has_replay_permission(self, request) -> bool:
        return request.user.has_perm(REPLAY_PERMISSION)

    @admin.display(description="work item", ordering="workitem__external_ref")
    def workitem_ref(self, obj: Delivery) -> str:
        try:
            url = reverse("admin:workitems_workitem_change", args=[obj.workitem_id])
        except NoReverseMatch:  # the work item admin is not registered
            return obj.workitem.external_ref
        return format_html('<a href="{}">{}</a>', url, obj.workitem.external_ref)

    def get_urls(self):
        urls = [
            path(
                "replay/",
                self.admin_site.admin_view(self.replay_view),
                name="workitems_delivery_replay",
            )
        ]
        return urls + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_replay": self.has_replay_permission(request)}
        return super().changelist_view(request, extra_context)

    # --- verbs ---------------------------------------------------------------------------------

    @admin.action(description="Retry selected", permissions=["replay"])
    def retry_selected(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        retried = deliveries_retry(ids=ids, actor=actor_for(request.user))
        message = f"Set {count_noun(retried, 'failing or dead delivery', 'failing or dead deliveries')} to go again now."
        if len(ids) > retried:
            message += f" {len(ids) - retried} other{'s were' if len(ids) - retried != 1 else ' was'} not failing or dead and left alone."
        self.message_user(request, message, messages.SUCCESS if retried else messages.WARNING)

    @admin.action(
        description="Skip selected dead deliveries (unblocks later ones)", permissions=["replay"]
    )
    def skip_selected(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        skipped = deliveries_skip(ids=ids, actor=actor_for(request.user))
        message = f"Skipped {count_noun(skipped, 'dead delivery', 'dead deliveries')}; later deliveries of their items can go now."
        if len(ids) > skipped:
            message += f" {len(ids) - skipped} {'was' if len(ids) - skipped == 1 else 'were'} not dead and left alone."
        self.message_user(request, message, messages.SUCCESS if skipped else messages.WARNING)

    @admin.action(description="Replay a time window…", permissions=["replay"])
    def replay_window_of_selected(self, request, queryset):
        """Open the replay form with the window spanning the selection."""
        span = queryset.aggregate(first=Min("created_at"), last=Max("created_at"))
        url = reverse("admin:workitems_delivery_replay")
        if span["first"]:
            start = timezone.localtime(span["first"]).replace(second=0, microsecond=0)
            end = timezone.localtime(span["last"]).replace(second=0, microsecond=0)
            end += timedelta(minutes=1)
            url += "?" + urlencode(
                {"start": start.strftime(INPUT_FORMAT), "end": end.strftime(INPUT_FORMAT)}
            )
        return HttpResponseRedirect(url)

    def replay_view(self, request):
        if not self.has_replay_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = ReplayWindowForm(request.POST)
            if form.is_valid():
                start, end = form.cleaned_data["start"], form.cleaned_data["end"]
                task_name = deliveries_replay_request(
                    start=start, end=end, actor=actor_for(request.user)
                )
                self.message_user(
                    request,
                    f"Queued a background job ({task_name}) to replay the deliveries created "
                    f"from {timezone.localtime(start):%Y-%m-%d %H:%M} to "
                    f"{timezone.localtime(end):%Y-%m-%d %H:%M}. Failing and dead ones will go "
                    "again, except those superseded by a later successful delivery of the same "
                    "work item; the audit trail records the counts.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:workitems_delivery_changelist"))
        else:
            now = timezone.localtime().replace(second=0, microsecond=0)
            initial = {"start": now - timedelta(days=1), "end": now + timedelta(minutes=1)}
            initial |= {k: request.GET[k] for k in ("start", "end") if request.GET.get(k)}
            form = ReplayWindowForm(initial=initial)
        context = {
            **self.admin_site.each_context(request),
            "title": "Replay a time window of deliveries",
            "opts": self.model._meta,
            "form": form,
            "max_days": MAX_REPLAY_WINDOW.days,
        }
        return TemplateResponse(request, "admin/workitems/delivery/replay_window.html", context)
