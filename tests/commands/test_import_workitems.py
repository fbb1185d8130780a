from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from audits.models import AuditEvent
from tests import factories
from tests.services.test_csv_import import csv_text, drafts_csv, make_reference
from workitems.models import ImportBatch, WorkItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def ref():
    return make_reference()


def run(path, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_workitems", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def drafts(tmp_path, ref):
    path = tmp_path / "drafts.csv"
    path.write_text(drafts_csv(), encoding="utf-8")
    return path


@pytest.fixture
def bad_file(tmp_path, ref):
    path = tmp_path / "bad.csv"
    path.write_text(
        csv_text("A-1,Refund please,Refund request,,,,,,,,", "A-2,Typo,Refund reqest,,,,,,,,")
    )
    return path


def test_dry_run_reports_each_row_and_saves_nothing(drafts):
    out, _ = run(drafts, "--dry-run")
    assert "Row 2 CRM-1001: new" in out
    assert "Dry run: 4 would be created, 0 skipped as already imported. Nothing was saved." in out
    assert WorkItem.objects.count() == 0
    assert ImportBatch.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_import_creates_the_drafts_and_skips_existing_refs(drafts, ref):
    factories.workitem(external_ref="CRM-1003", worktype=ref.claim)
    out, _ = run(drafts)
    assert "Row 4 CRM-1003: already imported, skipped" in out
    assert "Imported 3 work items as drafts; 1 skipped as already imported" in out
    assert WorkItem.objects.count() == 4
    assert ImportBatch.objects.get().state == ImportBatch.State.IMPORTED
    assert AuditEvent.objects.get(action="workitem.import").actor == "system"


def test_import_can_be_attributed_to_a_user(drafts):
    user = get_user_model().objects.create_user("ops")
    run(drafts, "--user", "ops")
    assert set(WorkItem.objects.values_list("created_by", flat=True)) == {user.pk}


@pytest.mark.parametrize("dry_run", [False, True])
def test_all_or_nothing_errors_exit_non_zero_with_row_numbers_and_import_nothing(bad_file, dry_run):
    err = StringIO()
    with pytest.raises(CommandError, match="The file has 1 error; nothing was imported."):
        call_command(
            "import_workitems",
            str(bad_file),
            "--all-or-nothing",
            *(["--dry-run"] if dry_run else []),
            stdout=StringIO(),
            stderr=err,
        )
    assert 'Row 3, worktype: no worktype named "Refund reqest"' in err.getvalue()
    assert WorkItem.objects.count() == 0


def test_by_default_the_valid_rows_import_and_the_command_exits_non_zero_for_the_rest(
    bad_file, tmp_path
):
    out, err = StringIO(), StringIO()
    rejected = tmp_path / "rejected.csv"
    with pytest.raises(CommandError, match="1 row with errors was not imported"):
        call_command(
            "import_workitems",
            str(bad_file),
            "--rejected",
            str(rejected),
            stdout=out,
            stderr=err,
        )
    assert list(WorkItem.objects.values_list("external_ref", flat=True)) == ["A-1"]
    assert "Imported 1 work item as drafts" in out.getvalue()
    assert 'Row 3, worktype: no worktype named "Refund reqest"' in err.getvalue()
    lines = rejected.read_text().splitlines()
    assert lines[0].endswith(",error") and lines[1].startswith("A-2,Typo,Refund reqest,")


def test_a_dry_run_says_what_the_valid_rows_would_do(bad_file):
    out, _ = run(bad_file, "--dry-run")
    assert (
        "Dry run: 1 would be created, 0 skipped as already imported, 1 row with errors skipped."
        in out
    )


def test_file_level_error_exits_non_zero(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("external_ref,name,worktype\nA-1,Müller,X\n".encode("latin-1"))
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_workitems", str(path), stdout=StringIO(), stderr=err)
    assert "Save it as CSV UTF-8" in err.getvalue()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run(tmp_path / "nope.csv")
