"""The export from an admin changelist, shared by the audit trail's and the SLA report's:
`changelist_export` checks the format and the permission, selects what the list's filters select
(on every page), records the export as an audit event and streams the file with its manifest.

An export selects what its list shows: the changelist builds the queryset, so its list filters,
search and declared look-ups mean what they mean on screen (portal.admin_filters refuses the rest).
The response streams the file through its manifest (audits.manifest), whose admin URL it names.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Protocol

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from audits.exports import export_record
from audits.manifest import ExportJob
from audits.models import AuditEvent, Outcome
from audits.services import actor_for
from portal.admin_filters import refused_filters, refused_message
from portal.csv_stream import ExportFormat, ExportKind, Tally, export_filename, export_format

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


class Chunks(Protocol):
    """Writes an export's rows: the selection in, the file's bytes (header first) out."""

    def __call__(
        self,
        queryset: QuerySet,
        *,
        fmt: ExportFormat,
        tally: Tally,
        recorded: AuditEvent,
        generated_at: datetime,
    ) -> Iterator[bytes]: ...


def _refused(exc: Exception) -> HttpResponse:
    return HttpResponseBadRequest(f"Export refused: {exc}", content_type="text/plain")


def changelist_export(
    request: HttpRequest,
    *,
    model_admin,
    export: ExportKind,
    allowed: bool,
    chunks: Chunks,
) -> HttpResponse:
    """GET with the changelist's querystring (+ `format`) → the rows it selects, as a file.

    Refused without permission (and recorded so), 400 for an unknown format or a filter the list
    does not declare. `chunks` writes the rows of the selection; `recorded` is this export's own
    audit event.
    """
    actor = actor_for(request.user)
    try:
        fmt = requested_format(request)
    except ValueError as exc:
        return _refused(exc)
    record = dict(actor=actor, export_format=fmt.key, via="admin", **export.recorded_as)
    if not allowed:
        export_record(filters=request.GET.items(), outcome=Outcome.REFUSED, **record)
        raise PermissionDenied
    try:
        queryset, filters, described = changelist_selection(request, model_admin=model_admin)
    except BadFilters as exc:
        return _refused(exc)
    generated_at = timezone.now()
    filename = export_filename(
        prefix=export.prefix, described=described.values(), generated_at=generated_at, fmt=fmt
    )
    recorded = export_record(filters=filters, file=filename, **record)
    job = ExportJob(
        kind=export.manifest_kind,
        fmt=fmt,
        filename=filename,
        header=export.header,
        parameters=dict(filters),
        described=described,
        generated_at=generated_at,
        generated_by=actor,
    ).begin()
    return export_response(
        job,
        chunks(queryset, fmt=fmt, tally=job.tally, recorded=recorded, generated_at=generated_at),
    )
