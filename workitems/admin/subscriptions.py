"""Event subscriptions (Process Automation triggers) in the admin.

Editing a subscription changes the portal's copy only; the verbs, each gated by
`workitems.manage_subscription`, talk to Genesys through services/subscriptions.py:
"Create/update in Genesys", "Enable", "Disable", "Delete in Genesys…" (a confirmation page) and
"Test…" (a page that sends an event body to the trigger's test mode and shows each step).
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import Truncator

from audits.services import actor_for
from portal.admin_filters import DeclaredFiltersOnly
from portal.json_safety import SafeJSONFormField, UnsafeJSON, json_loads_checked
from workitems.admin.confirmation import confirmation_page, confirmed
from workitems.models import EventSubscription
from workitems.services.subscriptions import (
    SAMPLE_EVENT,
    SubscriptionError,
    match_criteria_problems,
    subscription_delete,
    subscription_push,
    subscription_set_enabled,
    subscription_test,
)
from workitems.text import count_noun

MANAGE_PERMISSION = "workitems.manage_subscription"
STEPS = (
    ("schemaValidation", "Schema"),
    ("targetValidation", "Target"),
    ("jsonPathValidation", "Match criteria"),
)


class EventSubscriptionForm(forms.ModelForm):
    """The model's clean() (Genesys's TTL/delay/topic rules) runs as for any ModelForm; the
    criteria are checked against MatchCriteria here."""

    class Meta:
        model = EventSubscription
        fields = [
            "name",
            "description",
            "enabled",
            "topic_name",
            "match_criteria",
            "target_workflow_id",
            "data_format",
            "event_ttl_seconds",
            "delay_by_seconds",
        ]
        widgets = {"match_criteria": forms.Textarea(attrs={"rows": 6, "cols": 90})}

    def clean_match_criteria(self):
        criteria = self.cleaned_data.get("match_criteria")
        problems = match_criteria_problems(criteria if criteria is not None else [])
        if problems:
            raise forms.ValidationError(problems)
        return criteria or []


class EventProbeForm(forms.Form):
    event = forms.CharField(
        label="Event body (JSON)",
        widget=forms.Textarea(attrs={"rows": 26, "cols": 100, "spellcheck": "false"}),
        help_text="A v2.taskmanagement.workitems.{id} event body (not the envelope around it).",
    )

    def clean_event(self):
        text = self.cleaned_data["event"]
        try:
            event = json_loads_checked(text)
        except UnsafeJSON as exc:
            raise forms.ValidationError(f"This {exc}.") from None
        if not isinstance(event, dict):
            raise forms.ValidationError("The event body must be a JSON object.")
        return event


def steps_of(result: dict | None) -> list[dict]:
    """TestModeResults as rows for the template: each step, and each criterion of step 3."""
    if not result:
        return []
    rows = []
    for key, label in STEPS:
        step = result.get(key) or {}
        details = step.get("details") or []
        rows.append(
            {
                "label": label,
                "step": step.get("step"),
                "name": step.get("name", ""),
                "matches": step.get("matches"),
                "texts": [d for d in details if isinstance(d, str)],
                "criteria": [
                    {
                        **d,
                        "operand": json.dumps(d["values"] if "values" in d else d.get("value")),
                        "extracted": [
                            f"{e.get('path')} = {json.dumps(e.get('value'))}"
                            for e in d.get("jsonPathExtraction") or []
                        ],
                    }
                    for d in details
                    if isinstance(d, dict)
                ],
            }
        )
    return rows


@admin.register(EventSubscription)
class EventSubscriptionAdmin(DeclaredFiltersOnly, admin.ModelAdmin):
    form = EventSubscriptionForm
    formfield_overrides = {models.JSONField: {"form_class": SafeJSONFormField}}
    list_display = (
        "name",
        "topic_name",
        "enabled",
        "genesys_id",
        "version",
        "synced_at",
        "last_error_short",
    )
    list_filter = ("enabled",)
    search_fields = ("name", "=genesys_id")
    actions = ["push_selected", "enable_selected", "disable_selected", "delete_in_genesys", "test"]
    readonly_fields = ("genesys_id", "version", "synced_at", "last_error", "last_test_summary")
    fieldsets = (
        (None, {"fields": ("name", "description", "enabled")}),
        (
            "Trigger",
            {
                "fields": (
                    "topic_name",
                    "match_criteria",
                    "target_workflow_id",
                    "data_format",
                    "event_ttl_seconds",
                    "delay_by_seconds",
                )
            },
        ),
        (
            "In Genesys",
            {"fields": ("genesys_id", "version", "synced_at", "last_error", "last_test_summary")},
        ),
    )

    def has_manage_permission(self, request) -> bool:
        return request.user.has_perm(MANAGE_PERMISSION)

    def has_delete_permission(self, request, obj=None) -> bool:
        # A trigger in Genesys is deleted with "Delete in Genesys…", never left behind.
        if obj is not None and obj.genesys_id:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.genesys_id:
            fields.append("topic_name")  # Genesys cannot change a trigger's topic
        return fields

    @admin.display(description="last error")
    def last_error_short(self, obj: EventSubscription) -> str:
        return Truncator(obj.last_error).chars(80) if obj.last_error else ""

    @admin.display(description="last test")
    def last_test_summary(self, obj: EventSubscription) -> str:
        result = obj.last_test_result
        if not result:
            return "—"
        steps = ", ".join(
            f"{label} {'✓' if (result.get(key) or {}).get('matches') else '✗'}"
            for key, label in STEPS
        )
        verdict = "matches" if result.get("triggerMatches") else "does not match"
        return f"Trigger {verdict} ({steps})"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if obj.genesys_id and form.has_changed():
            self.message_user(
                request,
                f'Saved in the portal only: use "Create/update in Genesys" to send "{obj}" to '
                "Genesys.",
                messages.WARNING,
            )

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/test/",
                self.admin_site.admin_view(self.test_view),
                name="workitems_eventsubscription_test",
            )
        ]
        return urls + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_manage": self.has_manage_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    # --- verbs ---------------------------------------------------------------------------------

    def _each(self, request, queryset, verb, done: str) -> None:
        ok = 0
        for subscription in queryset.order_by("pk"):
            try:
                verb(subscription)
            except SubscriptionError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                ok += 1
        if ok:
            self.message_user(
                request, f"{done}: {count_noun(ok, 'subscription')}.", messages.SUCCESS
            )

    @admin.action(description="Create/update in Genesys", permissions=["manage"])
    def push_selected(self, request, queryset):
        actor = actor_for(request.user)
        self._each(
            request,
            queryset,
            lambda s: subscription_push(subscription=s, actor=actor),
            "Created or updated in Genesys",
        )

    @admin.action(description="Enable", permissions=["manage"])
    def enable_selected(self, request, queryset):
        actor = actor_for(request.user)
        self._each(
            request,
            queryset,
            lambda s: subscription_set_enabled(subscription=s, enabled=True, actor=actor),
            "Enabled",
        )

    @admin.action(description="Disable", permissions=["manage"])
    def disable_selected(self, request, queryset):
        actor = actor_for(request.user)
        self._each(
            request,
            queryset,
            lambda s: subscription_set_enabled(subscription=s, enabled=False, actor=actor),
            "Disabled",
        )

    @admin.action(description="Delete in Genesys…", permissions=["manage"])
    def delete_in_genesys(self, request, queryset):
        if confirmed(request):
            actor = actor_for(request.user)
            for subscription in queryset.order_by("pk"):
                try:
                    message = subscription_delete(subscription=subscription, actor=actor)
                except SubscriptionError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                else:
                    self.message_user(request, message, messages.SUCCESS)
            return None
        return confirmation_page(
            self,
            request,
            queryset=queryset,
            rows=queryset.order_by("pk"),
            title="Delete event subscriptions in Genesys",
            template="admin/workitems/eventsubscription/delete_in_genesys.html",
        )

    @admin.action(description="Test…", permissions=["manage"])
    def test(self, request, queryset):
        chosen = list(queryset.values_list("pk", flat=True)[:2])
        if len(chosen) != 1:
            self.message_user(request, "Select exactly one subscription to test.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:workitems_eventsubscription_test", args=chosen))

    def test_view(self, request, object_id):
        if not self.has_manage_permission(request):
            raise PermissionDenied
        subscription = self.get_object(request, unquote(object_id))
        if subscription is None:  # none with that id, or not an id at all ("abc")
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        result = subscription.last_test_result
        error = ""
        if request.method == "POST":
            form = EventProbeForm(request.POST)
            if form.is_valid():
                try:
                    result = subscription_test(
                        subscription=subscription,
                        event=form.cleaned_data["event"],
                        actor=actor_for(request.user),
                    )
                except SubscriptionError as exc:
                    error = str(exc)
        else:
            form = EventProbeForm(initial={"event": json.dumps(SAMPLE_EVENT, indent=2)})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Test trigger: {subscription}",
            "opts": self.model._meta,
            "original": subscription,
            "form": form,
            "error": error,
            "result": result,
            "steps": steps_of(result),
            "tested_now": request.method == "POST" and not error and form.is_valid(),
        }
        return TemplateResponse(request, "admin/workitems/eventsubscription/test.html", context)
