from __future__ import annotations

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from tests import factories
from tests.services.test_queue_snapshot import FakeGenesys
from workitems.models import LocalState, Verdict, WorkItem

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _genesys(monkeypatch):
    """The command builds its client from settings; serve members from the mirror instead."""
    client = FakeGenesys()
    monkeypatch.setattr("workitems.services.queue_snapshot.get_client", lambda: client)
    cache.clear()
    yield client
    cache.clear()


@pytest.fixture
def worktype():
    q = factories.queue("Refunds")
    factories.member(q, routing_status="IDLE")
    return factories.worktype(default_queue=q, assignment_enabled=True)


def run(*args) -> str:
    out = StringIO()
    call_command("check_routability", *args, stdout=out, no_color=True)
    return out.getvalue()


def test_prints_each_items_verdict_and_one_line_per_check(worktype):
    good = factories.workitem(worktype=worktype, external_ref="good-1")
    bad = factories.workitem(worktype=worktype, external_ref="bad-1", name="ab")

    out = run(good.external_ref, bad.external_ref)

    lines = out.splitlines()
    assert lines[0].startswith("bad-1: Not routable (checked ")
    assert "  FAIL fields: The name is 2 characters long; Genesys needs 3 to 256." in lines
    assert "  PASS worktype: Worktype" in out
    good_at = lines.index(next(line for line in lines if line.startswith("good-1:")))
    assert lines[good_at].startswith("good-1: Routable (checked ")
    assert all(line.startswith(("  PASS ", "  WARN ", "  FAIL ")) for line in lines[1:11])
    assert lines[-1] == "Checked 2 work items: 1 not routable, 1 routable."


def test_warnings_are_printed_as_warn_lines_after_failures(worktype):
    from datetime import timedelta

    from django.utils import timezone

    factories.workitem(
        worktype=worktype,
        external_ref="warn-1",
        name="ab",
        date_due=timezone.now() - timedelta(hours=1),
    )

    out = run("warn-1")

    lines = out.splitlines()
    assert lines[0].startswith("warn-1: Not routable")
    assert lines[1].startswith("  FAIL fields: The name is 2 characters long")
    assert all(line.startswith("  PASS ") for line in lines[2:11])


def test_a_worktype_setting_is_printed_once_not_as_each_items_warning(worktype):
    worktype.assignment_enabled = False
    worktype.save()
    factories.workitem(worktype=worktype, external_ref="a-1")
    factories.workitem(worktype=worktype, external_ref="a-2")

    out = run("a-1", "a-2")

    assert out.count("automatic assignment off (assignmentEnabled)") == 1
    assert "a-1: Routable (" in out and "WARN" not in out
    assert out.splitlines()[-1] == "Checked 2 work items: 2 routable."


def test_stores_the_report_and_moves_the_draft_to_checked(worktype):
    item = factories.workitem(worktype=worktype)

    run(item.external_ref)

    item.refresh_from_db()
    assert item.local_state == LocalState.CHECKED
    assert item.routability_verdict == Verdict.ROUTABLE
    assert item.routability_report["verdict"] == "routable"


def test_all_drafts_checks_every_draft_and_nothing_else(worktype):
    drafts = [factories.workitem(worktype=worktype) for _ in range(3)]
    submitted = factories.workitem(worktype=worktype, local_state=LocalState.SUBMITTED)

    out = run("--all-drafts")

    assert out.splitlines()[-1] == "Checked 3 work items: 3 routable."
    assert all(d.external_ref in out for d in drafts)
    assert submitted.external_ref not in out
    assert not WorkItem.objects.filter(local_state=LocalState.DRAFT).exists()


def test_all_drafts_with_refs_checks_both(worktype):
    factories.workitem(worktype=worktype)
    submitted = factories.workitem(worktype=worktype, local_state=LocalState.SUBMITTED)

    out = run("--all-drafts", submitted.external_ref)

    assert out.splitlines()[-1] == "Checked 2 work items: 2 routable."


def test_all_drafts_with_none_says_there_is_nothing_to_check():
    assert run("--all-drafts") == "Nothing to check: no draft work items.\n"


def test_unknown_refs_are_an_error_naming_them(worktype):
    known = factories.workitem(worktype=worktype)

    with pytest.raises(CommandError, match="No work item with external ref: nope-1, nope-2"):
        run(known.external_ref, "nope-1", "nope-2")
    known.refresh_from_db()
    assert known.routability_verdict == ""  # nothing was checked


def test_no_arguments_is_an_error_with_a_usage_hint():
    with pytest.raises(CommandError, match=r"REF .*--all-drafts"):
        run()
