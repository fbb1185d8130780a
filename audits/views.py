"""Admin export views: what the changelist's filters select, streamed, permission-gated, audited."""

from __future__ import annotations

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone

from audits.exports import audit_export_csv, export_filename, export_record
from audits.models import Outcome
from audits.services import actor_for
from portal.admin_filters import refused_filters, refused_message

# Changelist parameters that page, order or decorate the list without selecting rows.
NON_FILTER_PARAMS = ("p", "o", "e", "all", "_popup", "_to_field", "_facets")


class BadFilters(Exception):
    pass


def changelist_selection(
    request: HttpRequest, *, model_admin
) -> tuple[QuerySet, list[tuple[str, str]]]:
    """The rows the changelist selects for the request's parameters, on every page.

    The changelist itself builds the queryset (`get_changelist_instance`), so list filters, search
    and `field__lookup=` parameters mean exactly what they mean on screen. Returns the queryset and
    the filter parameters that shaped it. Raises BadFilters for parameters the changelist refuses.
    """
    query = request.GET.copy()
    for name in NON_FILTER_PARAMS:
        query.pop(name, None)
    request.GET = query
    try:
        changelist = model_admin.get_changelist_instance(request)
    except IncorrectLookupParameters as exc:
        raise BadFilters(str(exc) or "These filters are not valid.") from exc
    if refused := refused_filters(request):  # only the list's declared filters select rows
        raise BadFilters(refused_message(refused))
    filters = [(key, value) for key, values in query.lists() for value in values if value]
    return changelist.queryset, filters


def streaming_attachment(chunks, *, filename: str, content_type: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # let a fronting nginx pass chunks on as they come
    return response


def audit_export_view(request: HttpRequest, *, model_admin) -> StreamingHttpResponse:
    """GET with the changelist's querystring → CSV of every matching audit event."""
    actor = actor_for(request.user)
    if not model_admin.has_export_permission(request):
        export_record(
            actor=actor,
            filters=request.GET.items(),
            export_format="csv",
            via="admin",
            outcome=Outcome.REFUSED,
        )
        raise PermissionDenied
    try:
        queryset, filters = changelist_selection(request, model_admin=model_admin)
    except BadFilters as exc:
        return HttpResponseBadRequest(f"Export refused: {exc}", content_type="text/plain")
    generated_at = timezone.now()
    audit = export_record(actor=actor, filters=filters, export_format="csv", via="admin")
    # The export holds what existed when it was asked for, not its own record.
    queryset = queryset.exclude(pk=audit.pk)
    return streaming_attachment(
        audit_export_csv(queryset=queryset, filters=filters, generated_at=generated_at),
        filename=export_filename(
            prefix="audit", filters=filters, generated_at=generated_at, extension="csv"
        ),
        content_type="text/csv; charset=utf-8",
    )
