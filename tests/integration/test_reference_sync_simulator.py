"""genesys_sync against the simulator's demo organisation, through the real client."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from simulator import faults
from simulator.demo import IDS
from workitems.models import Queue, QueueMember, Skill, SyncRun, Workbin, WorkItemStatus, WorkType

pytestmark = pytest.mark.usefixtures("genesys_simulator")


def test_genesys_sync_mirrors_the_demo_organisation_and_prints_a_summary(capsys):
    call_command("genesys_sync")
    out = capsys.readouterr().out
    assert "Syncing queues" in out and "changed (sync run" in out
    assert Queue.objects.count() == 5
    assert Skill.objects.count() == 8
    assert Workbin.objects.count() == 3
    assert set(WorkType.objects.values_list("name", flat=True)) == {
        "Refund request",
        "Insurance claim",
    }
    refund = WorkType.objects.get(genesys_id=IDS["worktype:refund-request"])
    assert refund.default_queue is not None and refund.default_status is not None
    assert refund.json_schema and "properties" in refund.json_schema
    assert WorkItemStatus.objects.filter(worktype=refund).count() == 5
    assert set(WorkItemStatus.objects.values_list("category", flat=True)) >= {
        "Open",
        "InProgress",
        "Waiting",
        "Closed",
    }
    assert QueueMember.objects.filter(queue__genesys_id=IDS["queue:refunds"]).count() == 8


def test_a_second_sync_against_an_unchanged_organisation_changes_nothing(capsys):
    call_command("genesys_sync")
    capsys.readouterr()
    call_command("genesys_sync")
    assert "; 0 changed" in capsys.readouterr().out
    assert SyncRun.objects.filter(state="succeeded").count() == 2


def test_only_syncs_the_named_kinds():
    call_command("genesys_sync", only="skills")
    assert Skill.objects.exists() and not Queue.objects.exists()


def test_an_unknown_kind_is_a_clear_command_error():
    with pytest.raises(CommandError, match="Unknown kind"):
        call_command("genesys_sync", only="agents")


def test_a_genesys_failure_fails_the_command_with_the_genesys_message():
    faults.inject(path_regex=r"/routing/skills", method="GET", kind="status", status=403, times=1)
    with pytest.raises(CommandError, match="403"):
        call_command("genesys_sync", only="skills")
    assert SyncRun.objects.get().state == "failed"
