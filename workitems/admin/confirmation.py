"""The page an admin action shows before it acts, as django.contrib.admin.actions.delete_selected
does: what will happen to which rows, then "Yes" posts the same action back with `post=yes`.

The selection travels back as the page's ticked ids plus `select_across` (never thousands of
hidden ids): with "select all" on, the changelist re-applies the URL's filters. The page lists
at most CONFIRM_LIST_LIMIT rows and says how many there are in all.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.template.response import TemplateResponse

CONFIRM_LIST_LIMIT = 200


def confirmed(request) -> bool:
    """Did the operator answer "Yes" on the confirmation page?"""
    return request.POST.get("post") == "yes"


def confirmation_page(
    model_admin,
    request,
    *,
    queryset: QuerySet,
    rows: QuerySet,
    title: str,
    template: str,
    **extra: Any,
) -> TemplateResponse:
    """The confirmation page for the action being posted. `rows` is the selection as the page
    lists it (ordered, only the columns it shows); `extra` is the page's own context."""
    shown = list(rows[:CONFIRM_LIST_LIMIT])
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "rows": shown,
        "total": queryset.count(),
        "shown": len(shown),
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        **extra,
    }
    return TemplateResponse(request, template, context)
