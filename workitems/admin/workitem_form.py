"""The work item form, built from the chosen worktype.

`form_for_worktype(worktype)` returns a form class whose custom fields are typed inputs from the
worktype's schema (workitems.admin.schema_form), whose status list holds only that worktype's
statuses, whose preferred agents are picked by name from the queue's members (stored as their
Genesys user ids), and whose empty inputs show the worktype's defaults as placeholders.

Every rule is a service's: custom fields are judged by `custom_fields_check`, and names typed
where an agent's id belongs are resolved by `queue_member_resolve`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.urls import reverse

from workitems.admin.schema_form import (
    SchemaField,
    custom_fields_from,
    display_value,
    schema_form_fields,
)
from workitems.models import Queue, QueueMember, StatusCategory, WorkItemStatus, WorkType
from workitems.services.custom_fields import custom_fields_check, schema_fields
from workitems.services.queue_members import (
    MemberChoice,
    queue_member_choices,
    queue_member_resolve,
)

AGENT_CHOICES_SHOWN = 500  # options rendered for use without script; the picker searches all


class _Placeholder:
    """An autocomplete whose empty value says what Genesys will use instead. `known`: labels of
    the selected values the form already holds (the item's own queue, workbin, skills), so
    rendering them costs no query."""

    def __init__(self, *args, placeholder: str = "", **kwargs):
        self.placeholder = placeholder
        self.known: dict[str, str] | None = None
        super().__init__(*args, **kwargs)

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs)
        if self.placeholder:
            attrs["data-placeholder"] = self.placeholder
        return attrs

    def optgroups(self, name, value, attr=None):
        selected = [str(v) for v in value if str(v) not in self.choices.field.empty_values]
        if self.known is None or any(v not in self.known for v in selected):
            return super().optgroups(name, value, attr)
        options = []
        if not self.is_required and not self.allow_multiple_selected:
            options.append(self.create_option(name, "", "", False, 0))
        for v in selected:
            options.append(self.create_option(name, v, self.known[v], True, len(options)))
        return [(None, options, 0)]


class PlaceholderAutocompleteSelect(_Placeholder, AutocompleteSelect):
    pass


class PlaceholderAutocompleteSelectMultiple(_Placeholder, AutocompleteSelectMultiple):
    pass


class AgentPicker(forms.SelectMultiple):
    """A multiple select of the queue's members; workitems/agent_picker.js makes it a search by
    name (select2, the admin's own copy) that asks the portal for the members of the queue the
    form has chosen at that moment."""

    def __init__(self, *args, agents_url: str = "", default_queue: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.attrs.update(
            {
                "class": "agent-picker",
                "data-agents-url": agents_url,
                "data-queue-input": "id_queue",
                "data-default-queue": default_queue or "",
                "data-placeholder": "Search the queue's members by name",
            }
        )

    @property
    def media(self):
        extra = "" if settings.DEBUG else ".min"  # the same files the admin's autocompletes load
        return forms.Media(
            js=(
                f"admin/js/vendor/jquery/jquery{extra}.js",
                f"admin/js/vendor/select2/select2.full{extra}.js",
                "admin/js/jquery.init.js",
                "workitems/agent_picker.js",
            ),
            css={
                "screen": (
                    f"admin/css/vendor/select2/select2{extra}.css",
                    "admin/css/autocomplete.css",
                )
            },
        )


class PreferredAgentsField(forms.MultipleChoiceField):
    """Genesys user ids of members of the item's queue. A member's name (a browser without
    script, an old value) is taken for their id when it names exactly one member."""

    def __init__(self, **kwargs):
        self.queue: Queue | None = None
        self.members: list[MemberChoice] = []
        # Ids the item already holds pass as they are (the check warns about non-members), so an
        # agent leaving the queue does not block an unrelated edit.
        self.kept: set[str] = set()
        super().__init__(**kwargs)

    def valid_value(self, value) -> bool:
        return True  # clean() resolves and judges every value against the queue

    def clean(self, value):
        values = super().clean(value)
        ids, problems = [], []
        for raw in values:
            if raw in self.kept:
                found = raw
            else:
                resolved = queue_member_resolve(token=raw, members=self.members, queue=self.queue)
                if resolved.problem:
                    problems.append(resolved.problem[0].upper() + resolved.problem[1:] + ".")
                    continue
                found = resolved.member.user_id
            if found not in ids:
                ids.append(found)
        if problems:
            raise forms.ValidationError(problems)
        return ids


class WorkItemForm(forms.ModelForm):
    """Cross-field rules; subclassed per worktype by `form_for_worktype`."""

    worktype_for_form: WorkType | None = None
    schema_inputs: dict[str, SchemaField] = {}

    preferred_agent_ids = PreferredAgentsField(
        label="Preferred agents",
        required=False,
        help_text="Pick agents by name from the members of the item's queue (its own, else the "
        "worktype's default); their Genesys user ids are stored.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        worktype = self.worktype_for_form
        if worktype is None:
            return
        if "worktype" in self.fields:
            self.fields["worktype"].widget = forms.HiddenInput()
            if not self.is_bound:
                self.initial["worktype"] = worktype.pk
        self._limit_statuses(worktype)
        self._show_defaults(worktype)
        self._label_selected()
        self._set_up_agents(worktype)
        if self.schema_inputs and not self.is_bound:
            stored = (
                self.instance.custom_fields if isinstance(self.instance.custom_fields, dict) else {}
            )
            for name, field in self.schema_inputs.items():
                if field.key in stored:
                    self.initial[name] = display_value(field.core_type, stored[field.key])

    def _limit_statuses(self, worktype: WorkType) -> None:
        field = self.fields.get("status")
        if field is None:
            return
        field.queryset = WorkItemStatus.objects.filter(worktype=worktype, active=True).exclude(
            category=StatusCategory.CLOSED
        )
        default = worktype.default_status
        field.widget = forms.Select()
        field.empty_label = f"— worktype default: {default.name} —" if default else "— none —"
        field.widget.choices = field.choices
        if (
            not self.is_bound
            and self.instance.status_id
            and self.instance.status.worktype_id != worktype.pk
        ):
            self.initial["status"] = None  # the worktype changed: its statuses are others

    def _label_selected(self) -> None:
        """Tell the autocompletes the labels of what the item already holds (no query each)."""
        if self.is_bound or not self.instance.pk:
            return
        held = {
            "queue": [self.instance.queue] if self.instance.queue_id else [],
            "workbin": [self.instance.workbin] if self.instance.workbin_id else [],
            "skills": list(self.initial.get("skills") or []),
        }
        for name, objects in held.items():
            widget = getattr(self.fields.get(name), "widget", None)
            widget = getattr(widget, "widget", widget)  # inside the admin's related wrapper
            if isinstance(widget, _Placeholder) and all(hasattr(o, "pk") for o in objects):
                widget.known = {str(o.pk): str(o) for o in objects}

    def _show_defaults(self, worktype: WorkType) -> None:
        placeholders = {
            "priority": worktype.default_priority,
            "language_id": worktype.default_language_id,
        }
        for name, value in placeholders.items():
            if name in self.fields and value not in (None, ""):
                self.fields[name].widget.attrs["placeholder"] = str(value)
                self.fields[name].help_text = f"Empty: the worktype's default, {value}."

    def _set_up_agents(self, worktype: WorkType) -> None:
        field = self.fields.get("preferred_agent_ids")
        if field is None:
            return
        queue = self._effective_queue(worktype)
        field.queue = queue
        field.members = queue_member_choices(queue=queue) if queue else []
        stored = [str(a) for a in self.instance.preferred_agent_ids or []]
        field.kept = set(stored)
        known = {m.user_id for m in field.members}
        field.choices = [(m.user_id, m.label) for m in field.members[:AGENT_CHOICES_SHOWN]] + [
            (a, f"{a} (not a member of {queue.name if queue else 'the queue'})")
            for a in stored
            if a not in known
        ]
        field.widget = AgentPicker(
            choices=field.choices,
            agents_url=reverse("admin:workitems_workitem_agents"),
            default_queue=worktype.default_queue_id,
        )
        if not self.is_bound:
            self.initial["preferred_agent_ids"] = stored

    def _effective_queue(self, worktype: WorkType) -> Queue | None:
        if self.is_bound:
            raw = self.data.get(self.add_prefix("queue"))
            if raw:
                return Queue.objects.filter(pk=raw).first() if str(raw).isdigit() else None
            return worktype.default_queue
        return self.instance.queue if self.instance.queue_id else worktype.default_queue

    def clean(self):
        data = super().clean()
        worktype, status = data.get("worktype"), data.get("status")
        if worktype and status and status.worktype_id != worktype.pk:
            self.add_error(
                "status", f"{status.name} is a status of {status.worktype}, not of {worktype}."
            )
        if status and status.category == StatusCategory.CLOSED:
            self.add_error("status", "A new work item cannot start in a Closed status.")
        due, expires = data.get("date_due"), data.get("date_expires")
        if due and expires and due > expires:
            self.add_error("date_expires", "Expires must not be before due.")
        if worktype:
            self._check_custom_fields(worktype, data)
        return data

    def _check_custom_fields(self, worktype: WorkType, data: dict[str, Any]) -> None:
        if self.schema_inputs:
            values = custom_fields_from(data, self.schema_inputs)
            self.instance.custom_fields = values
        elif "custom_fields" in data:
            values = data["custom_fields"]
        else:
            return
        check = custom_fields_check(worktype=worktype, fields=values)
        for key, problems in check.by_field.items():
            name = f"cf__{key}"
            target = (
                name
                if name in self.fields
                else ("custom_fields" if "custom_fields" in self.fields else None)
            )
            for problem in problems:
                self.add_error(target, problem)


def worktype_schema_fields(worktype: WorkType) -> list[dict[str, Any]]:
    """The stored field list, or one made from the stored schema (a sync before issue 9 kept
    only the schema)."""
    return list(worktype.schema_fields or []) or schema_fields(worktype.json_schema)


def form_for_worktype(worktype: WorkType | None, base: type[WorkItemForm] = WorkItemForm):
    """A form class for `worktype`: its custom fields declared as typed inputs."""
    inputs = (
        schema_form_fields(worktype_schema_fields(worktype))
        if worktype is not None and worktype.schema_id and worktype.json_schema
        else {}
    )
    attrs = {"worktype_for_form": worktype, "schema_inputs": inputs, **inputs}
    return type(f"{base.__name__}For{worktype.pk if worktype else 'None'}", (base,), attrs)


def member_query(*, queue: Queue, term: str, offset: int, limit: int) -> list[QueueMember]:
    """Members of `queue` whose name contains `term`, by name: the picker's search."""
    members = QueueMember.objects.filter(queue=queue, active=True)
    if term:
        members = members.filter(name__icontains=term)
    return list(members.order_by("name", "user_id")[offset : offset + limit])
