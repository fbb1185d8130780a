"""Import → check → submit against the simulator: each item created exactly once, whatever fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from simulator import faults, store
from simulator.render import WORKITEM
from workitems.models import LocalState, WorkItem, WorkType

pytestmark = pytest.mark.usefixtures("genesys_simulator")

HEADER = "external_ref,name,worktype,queue,priority,description,date_due,date_expires,skills,preferred_agents,custom_fields"


def write_csv(
    tmp_path: Path, n: int, *, worktype: str = "Refund request", fields: str = ""
) -> Path:
    rows = [HEADER]
    for i in range(1, n + 1):
        custom = fields or f'"{{""order_number_text"": ""A-{1000 + i}"", ""amount_number"": 12.5}}"'
        rows.append(
            f"CRM-{i:04d},Refund for order A-{1000 + i},{worktype},Refunds,10,,,,Refunds,,{custom}"
        )
    path = tmp_path / "drafts.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def in_simulator() -> dict[str, int]:
    """externalTag -> how many work items the simulator holds with it."""
    counts: dict[str, int] = {}
    for entity in store.all_of(WORKITEM):
        tag = entity.get("externalTag")
        counts[tag] = counts.get(tag, 0) + 1
    return counts


@pytest.fixture
def synced():
    call_command("genesys_sync")


def import_check_submit(tmp_path, n, capsys):
    call_command("import_workitems", str(write_csv(tmp_path, n)))
    call_command("check_routability", "--all-drafts")
    capsys.readouterr()
    call_command("submit_workitems", "--all-checked", "--wait")
    return capsys.readouterr().out


def test_imported_drafts_are_checked_and_submitted_once_each_with_their_genesys_ids(
    synced, tmp_path, capsys
):
    out = import_check_submit(tmp_path, 3, capsys)
    assert "3 created" in out
    items = list(WorkItem.objects.order_by("external_ref"))
    assert [i.local_state for i in items] == [LocalState.SUBMITTED] * 3
    held = in_simulator()
    assert held == {"CRM-0001": 1, "CRM-0002": 1, "CRM-0003": 1}
    for item in items:
        genesys = store.get(WORKITEM, item.genesys_id)
        assert genesys is not None and genesys["externalTag"] == item.external_ref
        assert item.status_category == "Open" and item.date_created is not None


def test_a_timeout_after_the_simulator_created_the_item_leaves_no_duplicate(
    synced, tmp_path, capsys
):
    faults.inject(
        path_regex=r"/taskmanagement/workitems$",
        method="POST",
        kind="timeout",
        after_processing=True,
    )
    out = import_check_submit(tmp_path, 2, capsys)
    assert in_simulator() == {"CRM-0001": 1, "CRM-0002": 1}
    assert "found in Genesys" in out
    assert WorkItem.objects.filter(local_state=LocalState.SUBMITTED).count() == 2


def test_a_5xx_before_and_after_processing_still_creates_each_item_once(synced, tmp_path, capsys):
    faults.inject(
        path_regex=r"/taskmanagement/workitems$", method="POST", kind="status", status=503, times=1
    )
    faults.inject(
        path_regex=r"/taskmanagement/workitems$",
        method="POST",
        kind="status",
        status=502,
        after_processing=True,
    )
    import_check_submit(tmp_path, 3, capsys)
    assert in_simulator() == {"CRM-0001": 1, "CRM-0002": 1, "CRM-0003": 1}


def test_bulk_submission_survives_an_unknown_outcome_without_duplicates(
    synced, tmp_path, capsys, settings
):
    faults.inject(
        path_regex=r"/bulk/add/jobs$",
        method="POST",
        kind="status",
        status=502,
        after_processing=True,
    )
    import_check_submit(tmp_path, 60, capsys)
    held = in_simulator()
    assert len(held) == 60 and set(held.values()) == {1}
    assert WorkItem.objects.filter(local_state=LocalState.SUBMITTED).count() == 60


def test_a_rejected_item_fails_with_the_genesys_message_and_context_id(synced, tmp_path, capsys):
    # The import refuses such a draft; one made some other way is refused by Genesys.
    WorkItem.objects.create(
        external_ref="CRM-0001",
        name="Refund for order A-1001",
        worktype=WorkType.objects.get(name="Refund request"),
        custom_fields={"amount_number": -5},
    )
    call_command("check_routability", "--all-drafts")
    with pytest.raises(CommandError, match="1 items failed"):
        call_command("submit_workitems", "CRM-0001", "--wait", "--override-routability")
    item = WorkItem.objects.get()
    assert item.local_state == LocalState.FAILED
    assert item.last_error and item.last_error_context_id
    assert in_simulator() == {}


def test_a_daily_cap_parks_the_items_and_says_until_when(synced, tmp_path, capsys):
    faults.inject(
        path_regex=r"/taskmanagement/workitems$",
        method="POST",
        kind="status",
        status=429,
        retry_after=40000,
    )
    out = import_check_submit(tmp_path, 2, capsys)
    assert "parked until" in out
    assert all(
        i.local_state == LocalState.SUBMITTING
        and i.next_attempt_at
        and "parked until" in i.last_error
        for i in WorkItem.objects.all()
    )
    assert in_simulator() == {}
