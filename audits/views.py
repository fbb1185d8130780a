"""The audit trail's export from its changelist (portal.export_views.changelist_export), and the
download of an export's manifest (audits.manifest) from *Exports*."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from audits.exports import AUDIT_EXPORT, audit_export_chunks
from audits.manifest import manifest_bytes, manifest_filename
from audits.models import ExportManifest
from portal.export_views import changelist_export


def _audit_chunks(queryset, *, fmt, tally, recorded, generated_at):
    # The export holds what existed when it was asked for, not its own record.
    return audit_export_chunks(queryset=queryset.exclude(pk=recorded.pk), fmt=fmt, tally=tally)


def audit_export_view(request: HttpRequest, *, model_admin) -> HttpResponse:
    """GET with the changelist's querystring (+ `format`) → every matching audit event."""
    return changelist_export(
        request,
        model_admin=model_admin,
        export=AUDIT_EXPORT,
        allowed=model_admin.has_export_permission(request),
        chunks=_audit_chunks,
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
