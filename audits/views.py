"""Admin export views: what the changelist's filters select, streamed, permission-gated, audited,
each with a manifest (audits.manifest) downloadable afterwards from *Exports*. The plumbing both
exports share (selection, format, streamed response) is portal.export_views."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.utils import timezone

from audits.exports import AUDIT_COLUMNS, audit_export_chunks, export_record
from audits.manifest import ExportJob, manifest_bytes, manifest_filename
from audits.models import ExportManifest, Outcome
from audits.services import actor_for
from portal.csv_stream import export_filename
from portal.export_views import BadFilters, changelist_selection, export_response, requested_format


def audit_export_view(request: HttpRequest, *, model_admin) -> StreamingHttpResponse:
    """GET with the changelist's querystring (+ `format`) → every matching audit event."""
    actor = actor_for(request.user)
    try:
        fmt = requested_format(request)
    except ValueError as exc:
        return HttpResponseBadRequest(f"Export refused: {exc}", content_type="text/plain")
    if not model_admin.has_export_permission(request):
        export_record(
            actor=actor,
            filters=request.GET.items(),
            export_format=fmt.key,
            via="admin",
            outcome=Outcome.REFUSED,
        )
        raise PermissionDenied
    try:
        queryset, filters, described = changelist_selection(request, model_admin=model_admin)
    except BadFilters as exc:
        return HttpResponseBadRequest(f"Export refused: {exc}", content_type="text/plain")
    generated_at = timezone.now()
    filename = export_filename(
        prefix="audit", described=described.values(), generated_at=generated_at, fmt=fmt
    )
    audit = export_record(
        actor=actor, filters=filters, export_format=fmt.key, via="admin", file=filename
    )
    # The export holds what existed when it was asked for, not its own record.
    queryset = queryset.exclude(pk=audit.pk)
    job = ExportJob(
        kind=ExportManifest.Kind.AUDIT,
        fmt=fmt,
        filename=filename,
        header=AUDIT_COLUMNS,
        parameters=dict(filters),
        described=described,
        generated_at=generated_at,
        generated_by=actor,
    ).begin()
    return export_response(
        job, audit_export_chunks(queryset=queryset, fmt=fmt, tally=job.tally)
    )


def manifest_download(manifest: ExportManifest) -> HttpResponse:
    if not manifest.completed:
        return HttpResponse(
            "This export did not finish (the download was cut short or is still running): it "
            "has no manifest. Export again.",
            status=409,
            content_type="text/plain",
        )
    response = HttpResponse(
        manifest_bytes(manifest.manifest), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{manifest_filename(manifest.filename)}"'
    )
    response["Cache-Control"] = "no-store"
    return response
