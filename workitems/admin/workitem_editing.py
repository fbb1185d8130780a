"""Creating and editing a draft work item in the admin: the form is built from the worktype.

A new item starts with its worktype (a short first page lists them), because the worktype
decides the rest: its custom fields become typed inputs, its statuses are the only ones offered,
its defaults show as placeholders. "Choose another worktype" goes back to that list; the form then
keeps what still fits. Saving audits the edit and, when it changed an input of the routability
check, makes the verdict stale (services.workitem_edit).

A ModelAdmin mixin for WorkItemAdmin, kept apart from the list and the item page.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from audits.services import actor_for
from workitems.admin.schema_form import PREFIX, display_value
from workitems.admin.workitem_form import (
    PlaceholderAutocompleteSelect,
    PlaceholderAutocompleteSelectMultiple,
    WorkItemForm,
    form_for_worktype,
    worktype_schema_fields,
)
from workitems.models import QueueMember, WorkItem, WorkType
from workitems.services.submission import SUBMITTABLE
from workitems.services.workitem_edit import workitem_edit_record

CHOOSE = "choose_worktype"
BASICS = ("external_ref", "name", "worktype", "queue", "status", "workbin")
ROUTING = ("priority", "skills", "preferred_agent_ids", "language_id", "date_due", "date_expires")


class WorkItemEditingMixin:
    form = WorkItemForm

    # --- which worktype the form is for ------------------------------------------------------------

    def form_worktype(self, request, obj: WorkItem | None) -> WorkType | None:
        """The worktype the request chose (GET ?worktype=, or the posted form), else the item's.
        Read once per request."""
        cache = request.__dict__.setdefault("_workitem_form_worktype", {})
        key = obj.pk if obj is not None else None
        if key not in cache:
            params = request.POST if request.method == "POST" else request.GET
            raw = str(params.get("worktype", ""))
            chosen = None
            if raw.isdigit():
                chosen = (
                    WorkType.objects.select_related(
                        "default_queue", "default_status", "default_workbin"
                    )
                    .filter(pk=int(raw))
                    .first()
                )
            cache[key] = chosen or (obj.worktype if obj is not None else None)
        return cache[key]

    @staticmethod
    def _editable(obj: WorkItem | None) -> bool:
        # Once it is in Genesys (or on its way), Genesys owns it.
        return obj is None or obj.local_state in SUBMITTABLE

    def worktype_chooser(self, request, obj: WorkItem | None):
        current = self.form_worktype(request, obj)
        context = {
            **self.admin_site.each_context(request),
            "title": "Choose the worktype" if obj is None else f"Choose another worktype: {obj}",
            "opts": self.opts,
            "original": obj,
            "worktypes": WorkType.objects.filter(active=True).order_by("name"),
            "current": current.pk if current else None,
        }
        return TemplateResponse(request, "admin/workitems/workitem/choose_worktype.html", context)

    def add_view(self, request, form_url="", extra_context=None):
        if request.method == "GET" and (
            CHOOSE in request.GET or self.form_worktype(request, None) is None
        ):
            if not self.has_add_permission(request):
                return super().add_view(request, form_url, extra_context)  # its 403
            return self.worktype_chooser(request, None)
        return super().add_view(request, form_url, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "GET" and CHOOSE in request.GET:
            obj = self.get_object(request, unquote(object_id))
            if obj is not None and self._editable(obj) and self.has_change_permission(request, obj):
                return self.worktype_chooser(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    # --- the form --------------------------------------------------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self._editable(obj):
            kwargs["form"] = form_for_worktype(self.form_worktype(request, obj), base=self.form)
        return super().get_form(request, obj, change, **kwargs)

    def _custom_section(self, request, obj, worktype: WorkType):
        if worktype.schema_id and worktype.json_schema:
            specs = worktype_schema_fields(worktype)
            stored = (
                obj.custom_fields if obj is not None and isinstance(obj.custom_fields, dict) else {}
            )
            gone = sorted(set(stored) - {s.get("key") for s in specs})
            note = (
                f"Stored values of fields this schema does not have ({', '.join(gone)}) are "
                "removed when you save."
                if gone
                else ""
            )
            name = worktype.schema_name or f"worktype {worktype.name}"
            return (
                f"Custom fields ({name})",
                {
                    "fields": [PREFIX + s["key"] for s in specs if s.get("key")],
                    "description": note,
                },
            )
        if worktype.schema_id:
            return (
                "Custom fields",
                {
                    "fields": ["custom_fields"],
                    "description": f"The custom-field schema of worktype {worktype.name} has not "
                    "been fetched from Genesys yet (refresh reference data), so its fields are "
                    "typed here as JSON.",
                },
            )
        if obj is not None and obj.custom_fields:
            return (
                "Custom fields",
                {
                    "fields": ["custom_fields"],
                    "description": f"Worktype {worktype.name} has no custom fields: empty this.",
                },
            )
        return None

    def editable_fieldsets(self, request, obj):
        worktype = self.form_worktype(request, obj)
        chooser = "?" + CHOOSE + "=1"
        basics: dict = {"fields": BASICS}
        if worktype is not None:
            basics["description"] = format_html(
                'Worktype <strong>{}</strong>. <a href="{}">Choose another worktype</a>. '
                "Empty fields take the worktype's defaults, shown greyed in them.",
                worktype.name,
                chooser,
            )
        sections = [
            (None, basics),
            ("Routing and scheduling", {"fields": ROUTING}),
            ("Details", {"fields": ("description",)}),
        ]
        if worktype is not None and (custom := self._custom_section(request, obj, worktype)):
            sections.append(custom)
        return sections

    def readonly_fieldsets(self):
        routing = tuple(
            "preferred_agents_display" if name == "preferred_agent_ids" else name
            for name in ROUTING
        )
        return [
            (None, {"fields": BASICS}),
            ("Routing and scheduling", {"fields": routing}),
            ("Details", {"fields": ("description", "custom_fields_display")}),
        ]

    def custom_fields_display(self, obj: WorkItem) -> str:
        values = obj.custom_fields if isinstance(obj.custom_fields, dict) else {}
        if not values:
            return "—"
        specs = {s.get("key"): s for s in worktype_schema_fields(obj.worktype)}
        rows = [
            (
                (specs.get(key) or {}).get("title") or key,
                key,
                display_value((specs.get(key) or {}).get("core_type", ""), value),
            )
            for key, value in values.items()
        ]
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{} ({}): {}</li>", rows))

    custom_fields_display.short_description = "custom fields"

    def preferred_agents_display(self, obj: WorkItem) -> str:
        ids = [str(a) for a in obj.preferred_agent_ids or []]
        if not ids:
            return "—"
        names = dict(
            QueueMember.objects.filter(user_id__in=ids).values_list("user_id", "name").order_by()
        )
        return ", ".join(f"{names[a]} ({a})" if a in names else a for a in ids)

    preferred_agents_display.short_description = "preferred agents"

    # --- defaults as placeholders in the autocompletes -------------------------------------------------

    def _worktype_of_form(self, request) -> WorkType | None:
        cache = request.__dict__.get("_workitem_form_worktype") or {}
        return next((wt for wt in cache.values() if wt is not None), None)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        worktype = self._worktype_of_form(request)
        defaults = {"queue": "default_queue", "workbin": "default_workbin"}
        if worktype is not None and db_field.name in defaults and "widget" not in kwargs:
            default = getattr(worktype, defaults[db_field.name])
            kwargs["widget"] = PlaceholderAutocompleteSelect(
                db_field,
                self.admin_site,
                using=kwargs.get("using"),
                placeholder=f"Worktype default: {default.name}" if default else "",
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        worktype = self._worktype_of_form(request)
        if worktype is not None and db_field.name == "skills" and "widget" not in kwargs:
            names = [s.name for s in worktype.default_skills.all()]
            kwargs["widget"] = PlaceholderAutocompleteSelectMultiple(
                db_field,
                self.admin_site,
                using=kwargs.get("using"),
                placeholder=f"Worktype defaults: {', '.join(names)}" if names else "None",
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    # --- saving ------------------------------------------------------------------------------------

    @staticmethod
    def _changed_model_fields(form) -> list[str]:
        changed = set()
        for name in form.changed_data:
            changed.add("custom_fields" if name.startswith(PREFIX) else name)
        return sorted(changed)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        stale = workitem_edit_record(
            item=obj,
            changed=self._changed_model_fields(form),
            actor=actor_for(request.user),
            created=not change,
        )
        if stale:
            self.message_user(
                request,
                "The change touches what the routability check reads, so the last verdict no "
                "longer holds: it is shown as stale, and the item is checked again before it is "
                "submitted (or use Check routability now).",
                messages.WARNING,
            )
