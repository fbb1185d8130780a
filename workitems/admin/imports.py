"""CSV imports in the admin: upload → preview (dry run, per-row results) → confirm.

The "add" view is the upload form; each batch's page is its preview: every row with its outcome,
errors and warnings ("will breach on submit"), a switch to show only the rows with errors, and,
when some rows have errors, "Import the N valid rows, skip the M with errors" beside "Fix and
upload again" and a download of the rejected rows (as typed, with an `error` column) to fix.
Batches are kept as a record and are read-only: no change, no delete. Every step calls a service
in workitems.services.csv_import.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.admin_filters import DeclaredFiltersOnly
from portal.admin_readonly import ReadOnlyAdmin
from workitems.models import ImportBatch
from workitems.services.csv_import import (
    COLUMNS,
    MAX_ROWS,
    MAX_UPLOAD_BYTES,
    REQUIRED_COLUMNS,
    ImportRefused,
    ImportReport,
    import_batch_confirm,
    import_batch_preview,
    rejected_rows_csv,
)
from workitems.text import count_noun

IMPORT_PERMISSION = "workitems.import_workitems"
PREVIEW_ROWS = 500  # Rows listed on the preview page; rows with errors come first.


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8 CSV with a header row, at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB "
        f"and {MAX_ROWS:,} rows.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError(
                f"{upload.name} is not a .csv file. Save the spreadsheet as CSV UTF-8 and upload that."
            )
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"{upload.name} is {upload.size / (1024 * 1024):.1f} MB; the limit is "
                f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB. Split it into smaller files."
            )
        return upload


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin, DeclaredFiltersOnly, admin.ModelAdmin):
    list_display = (
        "file_name",
        "uploaded_by",
        "uploaded_at",
        "state",
        "created_count",
        "imported_at",
    )
    list_filter = ("state",)
    list_select_related = ("uploaded_by",)
    search_fields = ("file_name",)
    list_per_page = 50
    show_full_result_count = False

    # --- permissions: uploading and confirming need the import permission; batches stay as a record

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm(IMPORT_PERMISSION)

    def has_add_permission(self, request, obj=None) -> bool:
        return self.has_import_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or self.has_import_permission(request)

    def get_queryset(self, request):
        # The file and its report can run to megabytes; the list needs neither.
        return super().get_queryset(request).defer("content", "report")

    # --- URLs

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("template.csv", wrap(self.template_view), name=f"{prefix}_template"),
            path(
                "<path:object_id>/rejected.csv",
                wrap(self.rejected_view),
                name=f"{prefix}_rejected",
            ),
            path("<path:object_id>/preview/", wrap(self.preview_view), name=f"{prefix}_preview"),
            path(
                "<path:object_id>/confirm/",
                wrap(require_POST(self.confirm_view)),
                name=f"{prefix}_confirm",
            ),
            *super().get_urls(),
        ]

    def _url(self, name: str, *args) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{name}",
            args=args,
            current_app=self.admin_site.name,
        )

    def _batch(self, request, object_id) -> ImportBatch:
        batch = self.get_object(request, object_id)
        if batch is None or not self.has_view_permission(request, batch):
            raise Http404("No such import.")
        return batch

    def _context(self, request, **kwargs):
        return {**self.admin_site.each_context(request), "opts": self.opts, **kwargs}

    # --- views

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            batch = import_batch_preview(
                file_name=upload.name, raw=upload.read(), user=request.user
            )
            return HttpResponseRedirect(self._url("preview", batch.pk))
        context = self._context(
            request,
            title="Import work items from CSV",
            form=form,
            columns=COLUMNS,
            required_columns=REQUIRED_COLUMNS,
            max_rows=f"{MAX_ROWS:,}",
            template_url=self._url("template"),
        )
        return TemplateResponse(request, "admin/workitems/importbatch/upload.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # A batch's page is its preview.
        self._batch(request, object_id)
        return HttpResponseRedirect(self._url("preview", object_id))

    def template_view(self, request):
        response = HttpResponse(",".join(COLUMNS) + "\r\n", content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="workitems-template.csv"'
        return response

    def preview_view(self, request, object_id):
        batch = self._batch(request, object_id)
        batch = ImportBatch.objects.select_related("uploaded_by").get(pk=batch.pk)
        report = ImportReport.from_dict(batch.report)
        errors_only = request.GET.get("errors") == "1"
        rows = [r for r in report.rows if r.errors] if errors_only else report.rows
        if len(rows) > PREVIEW_ROWS:
            shown = [r for r in rows if r.errors][:PREVIEW_ROWS]
            shown += [r for r in rows if not r.errors][: PREVIEW_ROWS - len(shown)]
            rows = sorted(shown, key=lambda r: r.row)
        may_import = batch.state == ImportBatch.State.PREVIEWED and self.has_import_permission(
            request
        )
        counts = report.counts
        context = self._context(
            request,
            title=f"Import of {batch.file_name}",
            batch=batch,
            report=report,
            rows=rows,
            listed=len(rows),
            total_rows=len(report.rows),
            counts=counts,
            valid=len(report.valid_rows()),
            errors_only=errors_only,
            # Nothing wrong: one "Confirm import". Some rows wrong: import the others, or fix.
            can_confirm=may_import and report.ok,
            can_import_valid=may_import and not report.ok and report.importable,
            can_upload=self.has_import_permission(request),
            rejected_url=self._url("rejected", batch.pk) if counts["error"] else "",
            columns=COLUMNS,
        )
        return TemplateResponse(request, "admin/workitems/importbatch/preview.html", context)

    def rejected_view(self, request, object_id):
        """The rows with errors, as typed, plus an `error` column: fix them and upload again."""
        batch = self._batch(request, object_id)
        batch = ImportBatch.objects.get(pk=batch.pk)
        stem = batch.file_name.rsplit(".", 1)[0] or "import"
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem)[:80]
        response = HttpResponse(
            "\ufeff" + rejected_rows_csv(batch=batch), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{safe}-rejected.csv"'
        return response

    def confirm_view(self, request, object_id):
        if not self.has_import_permission(request):
            raise PermissionDenied
        batch = self._batch(request, object_id)
        valid_only = request.POST.get("mode") == "valid_only"
        started = timezone.now()
        try:
            report = import_batch_confirm(batch=batch, user=request.user, valid_only=valid_only)
        except ImportRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(self._url("preview", batch.pk))
        parts = [f"{count_noun(report.count('exists'), 'row')} skipped as already imported"]
        if report.count("error"):
            parts.append(
                f"{count_noun(report.count('error'), 'row')} with errors skipped (download them "
                "from the import's page to fix and upload again)"
            )
        self.message_user(
            request,
            f"Imported {count_noun(batch.created_count, 'work item')} from {batch.file_name} as "
            f"drafts; {'; '.join(parts)}.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(self._items_url(request, batch=batch, started=started))

    def _items_url(self, request, *, batch: ImportBatch, started) -> str:
        """The work item list narrowed to this import's items (by creator and creation time)."""
        try:
            url = reverse("admin:workitems_workitem_changelist", current_app=self.admin_site.name)
        except NoReverseMatch:  # Work item admin not installed: stay on the batch.
            return self._url("preview", batch.pk)
        if not request.user.has_perm("workitems.view_workitem"):
            return self._url("preview", batch.pk)
        if not batch.created_count:
            return url
        query = {
            "created_by__id__exact": request.user.pk,
            "created_at__gte": started.isoformat(),
            "created_at__lte": batch.imported_at.isoformat(),
        }
        return f"{url}?{urlencode(query)}"
