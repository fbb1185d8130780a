"""The SLA report from the admin: what the WorkItem changelist's filters select, streamed in the
chosen format, with a manifest.

Wired in WorkItemAdmin.get_urls(): the view is wrapped in `admin_site.admin_view` there, so it
sees only staff; this module checks the export permission.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from portal.csv_stream import rows_stream
from portal.export_views import changelist_export
from workitems.models import WorkItem
from workitems.selectors.sla_report import (
    SLA_COLUMNS,
    SLA_EXPORT,
    sla_report_queryset,
    sla_report_rows,
)

SLA_EXPORT_PERMISSION = "workitems.export_sla"


def workitem_admin(admin_site=None) -> admin.ModelAdmin:
    """The work item changelist's admin: the export selects what its filters select."""
    return (admin_site or admin.site)._registry[WorkItem]


def _sla_chunks(queryset, *, fmt, tally, recorded, generated_at):
    rows = sla_report_rows(queryset=sla_report_queryset(base=queryset), now=generated_at)
    return rows_stream(header=SLA_COLUMNS, rows=rows, fmt=fmt, tally=tally)


def sla_export_view(request: HttpRequest, *, model_admin=None) -> HttpResponse:
    model_admin = model_admin or workitem_admin()
    return changelist_export(
        request,
        model_admin=model_admin,
        export=SLA_EXPORT,
        allowed=model_admin.has_view_permission(request)
        and request.user.has_perm(SLA_EXPORT_PERMISSION),
        chunks=_sla_chunks,
    )
