"""Admin export views: what the changelist's filters select, streamed, permission-gated, audited,
each with a manifest (audits.manifest) downloadable afterwards from *Exports*."""

from __future__ import annotations

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.urls import reverse
from django.utils import timezone

from audits.exports import (
    AUDIT_COLUMNS,
    ExportFormat,
    audit_export_chunks,
    export_filename,
    export_format,
    export_record,
)
from audits.manifest import ExportJob, manifest_bytes, manifest_filename
from audits.models import ExportManifest, Outcome
from audits.services import actor_for
from portal.admin_filters import refused_filters, refused_message

# Changelist parameters that page, order or decorate the list without selecting rows.
NON_FILTER_PARAMS = ("p", "o", "e", "all", "_popup", "_to_field", "_facets")
# The export's own parameter: how to write the rows, not which.
FORMAT_PARAM = "format"


class BadFilters(Exception):
    pass


def _described(changelist) -> dict[str, str]:
    """The active filters as the sidebar shows them: {"queue": "Refunds", "time": "2026-12-02"}."""
    described: dict[str, str] = {}
    for spec in changelist.filter_specs:
        if not getattr(spec, "used_parameters", None):
            continue
        for index, choice in enumerate(spec.choices(changelist)):
            if choice.get("selected"):
                if index:  # the first choice is every filter's "All" / "Any time"
                    described[str(spec.title)] = str(choice["display"])
                break
    if changelist.query:
        described["search"] = changelist.query
    return described


def changelist_selection(
    request: HttpRequest, *, model_admin
) -> tuple[QuerySet, list[tuple[str, str]], dict[str, str]]:
    """The rows the changelist selects for the request's parameters, on every page.

    The changelist itself builds the queryset (`get_changelist_instance`), so list filters, search
    and `field__lookup=` parameters mean exactly what they mean on screen. Returns the queryset,
    the filter parameters that shaped it, and those filters in words. Raises BadFilters for
    parameters the changelist refuses.
    """
    query = request.GET.copy()
    for name in (*NON_FILTER_PARAMS, FORMAT_PARAM):
        query.pop(name, None)
    request.GET = query
    try:
        changelist = model_admin.get_changelist_instance(request)
    except IncorrectLookupParameters as exc:
        raise BadFilters(str(exc) or "These filters are not valid.") from exc
    if refused := refused_filters(request):  # only the list's declared filters select rows
        raise BadFilters(refused_message(refused))
    filters = [(key, value) for key, values in query.lists() for value in values if value]
    return changelist.queryset, filters, _described(changelist)


def requested_format(request: HttpRequest) -> ExportFormat:
    return export_format(request.GET.get(FORMAT_PARAM) or "csv")


def streaming_attachment(chunks, *, filename: str, content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # let a fronting nginx pass chunks on as they come
    return response


def export_response(job: ExportJob, chunks) -> StreamingHttpResponse:
    """The file, streamed through its manifest; the manifest's admin URL in a header."""
    response = streaming_attachment(
        job.stream(chunks), filename=job.filename, content_type=job.fmt.content_type
    )
    response["X-Export-Manifest"] = reverse(
        "admin:audits_exportmanifest_download", args=[job.record.pk]
    )
    return response


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
