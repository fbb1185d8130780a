import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import NoReverseMatch, reverse

from tests.services.test_csv_import import csv_text, drafts_csv, make_reference
from workitems.models import ImportBatch, WorkItem

if ImportBatch not in admin.site._registry:
    # Until workitems/admin/__init__.py imports it; imported before the URLconf is first loaded.
    import workitems.admin.imports  # noqa: F401

pytestmark = pytest.mark.django_db

ADD = "admin:workitems_importbatch_add"
CHANGELIST = "admin:workitems_importbatch_changelist"


def preview_url(batch) -> str:
    return reverse("admin:workitems_importbatch_preview", args=[batch.pk])


def confirm_url(batch) -> str:
    return reverse("admin:workitems_importbatch_confirm", args=[batch.pk])


def staff(username: str, *codenames: str):
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def ref():
    return make_reference()


@pytest.fixture
def importer(client):
    user = staff("importer", "import_workitems", "view_workitem")
    client.force_login(user)
    return user


def upload(client, content: str | bytes, name: str = "drafts.csv"):
    raw = content.encode() if isinstance(content, str) else content
    return client.post(reverse(ADD), {"file": SimpleUploadedFile(name, raw, "text/csv")})


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_upload_preview_confirm_creates_the_drafts(client, importer, ref):
    response = upload(client, drafts_csv())
    batch = ImportBatch.objects.get()
    assert response.status_code == 302
    assert response.url == preview_url(batch)
    assert WorkItem.objects.count() == 0

    page = client.get(response.url)
    assert page.status_code == 200
    html = page.content.decode()
    for ref_ in ("CRM-1001", "CRM-1002", "CRM-1003", "CRM-1004"):
        assert ref_ in html
    assert "Refund request" in html and "English; Refunds" in html
    assert "Confirm import" in html
    assert reverse(ADD) in html  # "Upload another file"

    response = client.post(confirm_url(batch), follow=True)

    assert WorkItem.objects.count() == 4
    assert set(WorkItem.objects.values_list("created_by", flat=True)) == {importer.pk}
    assert (
        "Imported 4 work items from drafts.csv as drafts; 0 rows skipped as already imported."
        in messages_of(response)
    )
    try:
        items = reverse("admin:workitems_workitem_changelist")
    except NoReverseMatch:  # The work item admin is not registered yet: back on the batch.
        items = preview_url(batch)
    first_hop = response.redirect_chain[0][0]
    assert first_hop.startswith(items)
    if "?" in first_hop:
        # The filter narrows the list to exactly this import's items.
        assert response.context["cl"].result_count == 4


def test_confirming_twice_does_not_duplicate(client, importer, ref):
    upload(client, drafts_csv())
    batch = ImportBatch.objects.get()
    client.post(confirm_url(batch))
    response = client.post(confirm_url(batch), follow=True)

    assert WorkItem.objects.count() == 4
    assert any("already imported" in m for m in messages_of(response))
    assert "Confirm import" not in response.content.decode()


def test_rejected_file_shows_its_errors_and_no_confirm_button(client, importer, ref):
    response = upload(client, csv_text("A-1,Refund please,Refund reqest,,,,,,,,"))
    batch = ImportBatch.objects.get()
    assert batch.state == ImportBatch.State.REJECTED

    html = client.get(response.url).content.decode()
    assert "Row 2, worktype: no worktype named &quot;Refund reqest&quot;" in html
    assert "no row that can be imported" in html
    assert "Confirm import" not in html and "valid row" not in html

    client.post(confirm_url(batch))
    assert WorkItem.objects.count() == 0


def test_file_level_error_is_shown_on_the_preview(client, importer):
    response = upload(client, "naïve;refund\n".encode("latin-1"))
    html = client.get(response.url).content.decode()
    assert "Save it as CSV UTF-8" in html
    assert "Confirm import" not in html


def test_upload_refuses_other_files_and_oversized_files(client, importer, monkeypatch):
    response = upload(client, "a,b\n", name="drafts.xlsx")
    assert response.status_code == 200
    assert "drafts.xlsx is not a .csv file" in response.content.decode()

    monkeypatch.setattr("workitems.admin.imports.MAX_UPLOAD_BYTES", 1024 * 1024)
    response = upload(client, "x" * (1024 * 1024 + 1))
    assert "the limit is 1 MB" in response.content.decode()
    assert ImportBatch.objects.count() == 0


def test_without_the_import_permission_upload_and_confirm_are_forbidden(client, ref):
    batch_owner = staff("importer", "import_workitems")
    client.force_login(batch_owner)
    upload(client, drafts_csv())
    batch = ImportBatch.objects.get()

    client.force_login(staff("viewer", "view_importbatch"))
    assert client.get(reverse(ADD)).status_code == 403
    assert upload(client, drafts_csv()).status_code == 403
    assert client.post(confirm_url(batch)).status_code == 403
    page = client.get(preview_url(batch))
    assert page.status_code == 200
    assert "Confirm import" not in page.content.decode()
    assert WorkItem.objects.count() == 0


def test_confirm_needs_a_post(client, importer, ref):
    upload(client, drafts_csv())
    assert client.get(confirm_url(ImportBatch.objects.get())).status_code == 405
    assert WorkItem.objects.count() == 0


def test_changelist_lists_imports_without_loading_file_contents(client, importer, ref):
    upload(client, drafts_csv())
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert "drafts.csv" in response.content.decode()
    deferred, is_defer = response.context["cl"].queryset.query.deferred_loading
    assert is_defer and {"content", "report"} <= set(deferred)


def test_batches_are_read_only_and_their_page_is_the_preview(client, importer, ref):
    upload(client, drafts_csv())
    batch = ImportBatch.objects.get()
    change = reverse("admin:workitems_importbatch_change", args=[batch.pk])
    assert client.get(change).url == preview_url(batch)
    delete = reverse("admin:workitems_importbatch_delete", args=[batch.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert ImportBatch.objects.filter(pk=batch.pk).exists()


def test_admin_pages_load(client, importer, ref):
    upload(client, drafts_csv())
    for url in (
        reverse(CHANGELIST),
        reverse(ADD),
        reverse("admin:workitems_importbatch_template"),
        preview_url(ImportBatch.objects.get()),
    ):
        assert client.get(url).status_code == 200, url


# --- a file with good and bad rows ---------------------------------------------------------------

MIXED = (
    "A-1,Refund please,Refund request,,,,,,,,",
    "A-2,ab,Refund request,,-5,,,,,,",
    "A-3,Another refund,Refund request,,,,,,,,",
    "A-4,Claim please,Car claim,,,,,,,,",
)


def test_a_file_with_bad_rows_offers_to_import_the_valid_ones_or_fix_and_upload_again(
    client, importer, ref
):
    response = upload(client, csv_text(*MIXED))
    batch = ImportBatch.objects.get()
    assert batch.state == ImportBatch.State.PREVIEWED

    html = client.get(response.url).content.decode()

    assert "Import the 2 valid rows, skip the 2 with errors" in html
    assert "Fix and upload again" in html
    assert "Confirm import" not in html
    assert reverse("admin:workitems_importbatch_rejected", args=[batch.pk]) in html
    assert "Show errors only" in html

    response = client.post(confirm_url(batch), {"mode": "valid_only"}, follow=True)

    assert sorted(WorkItem.objects.values_list("external_ref", flat=True)) == ["A-1", "A-3"]
    assert (
        "Imported 2 work items from drafts.csv as drafts; 0 rows skipped as already imported; "
        "2 rows with errors skipped (download them from the import's page to fix and upload "
        "again)." in messages_of(response)
    )


def test_all_or_nothing_confirm_of_a_file_with_bad_rows_imports_nothing(client, importer, ref):
    upload(client, csv_text(*MIXED))
    batch = ImportBatch.objects.get()
    response = client.post(confirm_url(batch), follow=True)
    assert WorkItem.objects.count() == 0
    assert any("has 2 errors, so nothing was imported" in m for m in messages_of(response))


def test_show_errors_only_lists_just_the_rows_with_errors(client, importer, ref):
    upload(client, csv_text(*MIXED))
    batch = ImportBatch.objects.get()

    page = client.get(preview_url(batch) + "?errors=1")

    listed = [row.external_ref for row in page.context["rows"]]
    assert listed == ["A-2", "A-4"]
    assert "Show all rows" in page.content.decode()


def test_the_rejected_rows_download_as_csv_with_an_error_column(client, importer, ref):
    upload(client, csv_text(*MIXED))
    batch = ImportBatch.objects.get()

    response = client.get(reverse("admin:workitems_importbatch_rejected", args=[batch.pk]))

    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="drafts-rejected.csv"'
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].endswith(",custom_fields,error")
    assert [line.split(",")[0] for line in lines[1:]] == ["A-2", "A-4"]


def test_the_rejected_rows_need_a_view_of_the_import(client, ref):
    importer = staff("importer", "import_workitems")
    client.force_login(importer)
    upload(client, csv_text(*MIXED))
    batch = ImportBatch.objects.get()
    client.force_login(staff("nobody"))
    response = client.get(reverse("admin:workitems_importbatch_rejected", args=[batch.pk]))
    assert response.status_code in (302, 403, 404)


def test_a_past_due_date_is_shown_as_will_breach_on_submit(client, importer, ref):
    from datetime import timedelta

    from django.utils import timezone

    past = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = upload(client, csv_text(f"A-1,Refund please,Refund request,,,,{past},,,,"))

    html = client.get(response.url).content.decode()

    assert "will breach on submit" in html
    assert "Confirm import" in html  # a warning, not an error
