"""The SLA report from the admin: what the WorkItem changelist's filters select, streamed in the
chosen format, with a manifest.

Wired in WorkItemAdmin.get_urls(): the view is wrapped in `admin_site.admin_view` there, so it
sees only staff; this module checks the export permission.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone

from audits.exports import export_record
from audits.manifest import ExportJob
from audits.models import ExportManifest, Outcome
from audits.services import actor_for
from portal.csv_stream import export_filename, rows_stream
from portal.export_views import BadFilters, changelist_selection, export_response, requested_format
from workitems.models import WorkItem
from workitems.selectors.sla_report import SLA_COLUMNS, sla_report_queryset, sla_report_rows

SLA_EXPORT_PERMISSION = "workitems.export_sla"


def workitem_admin(admin_site=None) -> admin.ModelAdmin:
    """The work item changelist's admin: the export selects what its filters select."""
    return (admin_site or admin.site)._registry[WorkItem]


def sla_export_view(request: HttpRequest, *, model_admin=None) -> StreamingHttpResponse:
    model_admin = model_admin or workitem_admin()
    actor = actor_for(request.user)
    try:
        fmt = requested_format(request)
    except ValueError as exc:
        return HttpResponseBadRequest(f"Export refused: {exc}", content_type="text/plain")
    allowed = model_admin.has_view_permission(request) and request.user.has_perm(
        SLA_EXPORT_PERMISSION
    )
    record_export = dict(
        actor=actor,
        action="sla.export",
        object_type="WorkItem",
        export_format=fmt.key,
        via="admin",
    )
    if not allowed:
        export_record(filters=request.GET.items(), outcome=Outcome.REFUSED, **record_export)
        raise PermissionDenied
    try:
        base, filters, described = changelist_selection(request, model_admin=model_admin)
    except BadFilters as exc:
        return HttpResponseBadRequest(f"Export refused: {exc}", content_type="text/plain")
    generated_at = timezone.now()
    filename = export_filename(
        prefix="sla", described=described.values(), generated_at=generated_at, fmt=fmt
    )
    export_record(filters=filters, file=filename, **record_export)
    job = ExportJob(
        kind=ExportManifest.Kind.SLA,
        fmt=fmt,
        filename=filename,
        header=SLA_COLUMNS,
        parameters=dict(filters),
        described=described,
        generated_at=generated_at,
        generated_by=actor,
    ).begin()
    rows = sla_report_rows(queryset=sla_report_queryset(base=base), now=generated_at)
    return export_response(
        job, rows_stream(header=SLA_COLUMNS, rows=rows, fmt=fmt, tally=job.tally)
    )
