"""Reference sync: the mirror matches Genesys, and a second sync with nothing changed changes nothing."""

from __future__ import annotations

import copy

import pytest

from audits.models import AuditEvent
from workitems.genesys import GenesysError
from workitems.models import Queue, QueueMember, Skill, SyncRun, Workbin, WorkItemStatus, WorkType
from workitems.services.reference_sync import parse_kinds, reference_sync

pytestmark = pytest.mark.django_db

ORG = {
    "workbins": [{"id": "wb-1", "name": "Refunds bin", "division": {"id": "d1", "name": "Home"}}],
    "skills": [
        {"id": "sk-1", "name": "refunds-L2", "state": "active"},
        {"id": "sk-2", "name": "billing", "state": "active"},
        {"id": "sk-3", "name": "legacy", "state": "inactive"},
    ],
    "queues": [
        {
            "id": "q-1",
            "name": "Refunds",
            "memberCount": 2,
            "joinedMemberCount": 1,
            "skillEvaluationMethod": "ALL",
            "division": {"id": "d1", "name": "Home"},
        },
    ],
    "worktypes": [
        {
            "id": "wt-1",
            "name": "Refund request",
            "defaultWorkbin": {"id": "wb-1"},
            "defaultQueue": {"id": "q-1"},
            "defaultStatus": {"id": "st-1"},
            "defaultSkills": [{"id": "sk-1"}],
            "defaultPriority": 5,
            "assignmentEnabled": True,
            "schema": {
                "id": "sc-1",
                "version": 2,
                "selfUri": "/api/v2/taskmanagement/workitems/schemas/sc-1",
            },
        },
    ],
    # DataSchema by (id, version): what GET /workitems/schemas/{id}/versions/{version} answers.
    "schemas": {
        ("sc-1", 2): {
            "id": "sc-1",
            "name": "Refund fields",
            "version": 2,
            "jsonSchema": {
                "type": "object",
                "required": ["amount_number"],
                "properties": {
                    "amount_number": {
                        "allOf": [{"$ref": "#/definitions/number"}],
                        "title": "Amount",
                        "description": "In euros",
                        "minimum": 0,
                    },
                    "currency_enum": {
                        "allOf": [{"$ref": "#/definitions/enum"}],
                        "title": "Currency",
                        "enum": ["EUR", "GBP"],
                    },
                },
            },
        }
    },
    "statuses": {
        "wt-1": [
            {
                "id": "st-1",
                "name": "New",
                "category": "Open",
                "destinationStatuses": [{"id": "st-2"}],
            },
            {"id": "st-2", "name": "Done", "category": "Closed"},
        ]
    },
    "members": {
        "q-1": [
            {
                "id": "u-1",
                "name": "Ana",
                "joined": True,
                "routingStatus": {"status": "IDLE"},
                "user": {
                    "id": "u-1",
                    "name": "Ana",
                    "skills": [
                        {"id": "sk-1", "name": "refunds-L2", "proficiency": 4, "state": "active"}
                    ],
                },
            },
            {
                "id": "u-2",
                "name": "Ben",
                "joined": False,
                "routingStatus": {"status": "OFF_QUEUE"},
                "user": {"id": "u-2", "name": "Ben"},
            },
        ]
    },
}


class FakeClient:
    def __init__(self, org):
        self.org = copy.deepcopy(org)
        self.fail_on: str | None = None
        self.schema_calls: list[tuple[str, int]] = []

    def _maybe_fail(self, kind):
        if self.fail_on == kind:
            raise GenesysError(
                status=403, code="missing.permissions", message="no", hint="grant it"
            )

    def iter_workbins(self):
        self._maybe_fail("workbins")
        return iter(self.org["workbins"])

    def iter_skills(self):
        return iter(self.org["skills"])

    def iter_queues(self):
        self._maybe_fail("queues")
        return iter(self.org["queues"])

    def iter_worktypes(self):
        return iter(self.org["worktypes"])

    def list_worktype_statuses(self, *, worktype_id):
        return self.org["statuses"].get(worktype_id, [])

    def get_workitem_schema_version(self, *, schema_id, version):
        self.schema_calls.append((schema_id, version))
        self._maybe_fail("schemas")
        return self.org["schemas"][(schema_id, version)]

    def iter_queue_members(self, *, queue_id, joined=None):
        return iter(self.org["members"].get(queue_id, []))


def mirror_snapshot() -> dict:
    """Every mirrored row's data, without the bookkeeping column synced_at."""

    def rows(model):
        return sorted(
            tuple(sorted((k, str(v)) for k, v in row.items() if k != "synced_at"))
            for row in model.objects.values()
        )

    return {
        m.__name__: rows(m) for m in (Workbin, Skill, Queue, WorkType, WorkItemStatus, QueueMember)
    }


def test_sync_builds_the_mirror_with_links_between_objects():
    result = reference_sync(client=FakeClient(ORG), actor="alice")
    wt = WorkType.objects.get(genesys_id="wt-1")
    assert wt.default_workbin.genesys_id == "wb-1"
    assert wt.default_queue.genesys_id == "q-1"
    assert wt.default_status.name == "New"
    assert [s.genesys_id for s in wt.default_skills.all()] == ["sk-1"]
    assert wt.schema_id == "sc-1" and wt.schema_version == 2 and wt.schema_name == "Refund fields"
    assert wt.json_schema == ORG["schemas"][("sc-1", 2)]["jsonSchema"]
    assert WorkItemStatus.objects.get(genesys_id="st-1").destination_status_ids == ["st-2"]
    assert Skill.objects.get(genesys_id="sk-3").active is False  # inactive in Genesys
    ana = QueueMember.objects.get(user_id="u-1")
    assert (ana.joined, ana.routing_status, ana.skills[0]["proficiency"]) == (True, "IDLE", 4)
    assert result.run.state == SyncRun.State.SUCCEEDED
    assert (result.counts["worktypes"].seen, result.counts["worktypes"].created) == (1, 1)
    assert AuditEvent.objects.get(action="reference.sync").actor == "alice"


def test_the_sync_fetches_each_referenced_schema_once_and_stores_its_fields_by_title():
    org = copy.deepcopy(ORG)
    second = {**org["worktypes"][0], "id": "wt-2", "name": "Refund (VIP)"}
    org["worktypes"].append(second)  # the same schema id and version
    org["worktypes"].append({"id": "wt-3", "name": "No fields", "defaultWorkbin": {"id": "wb-1"}})
    client = FakeClient(org)

    reference_sync(client=client, kinds=["workbins", "skills", "queues", "worktypes"])

    assert client.schema_calls == [("sc-1", 2)]
    [refund, vip] = WorkType.objects.filter(genesys_id__in=["wt-1", "wt-2"]).order_by("genesys_id")
    assert refund.json_schema == vip.json_schema == org["schemas"][("sc-1", 2)]["jsonSchema"]
    assert refund.schema_fields == [
        {
            "key": "amount_number",
            "title": "Amount",
            "description": "In euros",
            "core_type": "number",
            "required": True,
            "constraints": {"minimum": 0},
        },
        {
            "key": "currency_enum",
            "title": "Currency",
            "description": "",
            "core_type": "enum",
            "required": False,
            "constraints": {"enum": ["EUR", "GBP"]},
        },
    ]
    plain = WorkType.objects.get(genesys_id="wt-3")
    assert (plain.schema_id, plain.json_schema, plain.schema_fields) == ("", None, [])


def test_a_schema_that_cannot_be_read_fails_the_worktype_sync_and_keeps_the_earlier_kinds():
    client = FakeClient(ORG)
    client.fail_on = "schemas"

    with pytest.raises(GenesysError):
        reference_sync(client=client, kinds=["workbins", "skills", "queues", "worktypes"])

    assert Workbin.objects.count() == 1 and not WorkType.objects.exists()
    assert SyncRun.objects.get().state == SyncRun.State.FAILED


def test_a_second_sync_with_nothing_changed_changes_nothing():
    client = FakeClient(ORG)
    reference_sync(client=client)
    before = mirror_snapshot()
    again = reference_sync(client=client)
    assert again.changed == 0
    assert mirror_snapshot() == before


def test_objects_gone_from_genesys_are_marked_inactive_not_deleted():
    client = FakeClient(ORG)
    reference_sync(client=client)
    client.org["queues"] = []
    client.org["members"] = {}
    result = reference_sync(client=client, kinds=["queues", "members"])
    queue = Queue.objects.get(genesys_id="q-1")
    assert queue.active is False
    assert result.counts["queues"].deactivated == 1
    # Members of an inactive queue are not re-read; they keep their last state.
    assert QueueMember.objects.count() == 2


def test_the_summary_counts_worktypes_not_worktypes_plus_their_statuses():
    org = copy.deepcopy(ORG)
    second = {**org["worktypes"][0], "id": "wt-2", "name": "Complaint"}
    org["worktypes"].append(second)
    org["statuses"]["wt-2"] = [
        {"id": f"st-2{n}", "name": f"Step {n}", "category": "Open"} for n in range(5)
    ]
    lines: list[str] = []
    reference_sync(client=FakeClient(org), progress=lines.append)
    assert "  worktypes: 2 seen, 2 created, 0 updated, 0 deactivated" in lines
    assert WorkItemStatus.objects.count() == 7


def test_a_changed_status_counts_its_worktype_as_updated_once():
    client = FakeClient(ORG)
    reference_sync(client=client)
    for status in client.org["statuses"]["wt-1"]:
        status["name"] += " (renamed)"
    result = reference_sync(client=client, kinds=["worktypes"])
    counts = result.counts["worktypes"]
    assert (counts.seen, counts.created, counts.updated) == (1, 0, 1)
    assert WorkItemStatus.objects.get(genesys_id="st-2").name == "Done (renamed)"


def test_changes_in_genesys_are_applied_and_counted_as_updates():
    client = FakeClient(ORG)
    reference_sync(client=client)
    client.org["queues"][0]["joinedMemberCount"] = 2
    client.org["members"]["q-1"][1]["joined"] = True
    result = reference_sync(client=client, kinds=["queues", "members"])
    assert result.counts["queues"].updated == 1
    assert result.counts["members"].updated == 1
    assert Queue.objects.get().joined_member_count == 2


def test_a_supervisors_queue_cap_survives_a_sync():
    client = FakeClient(ORG)
    reference_sync(client=client)
    Queue.objects.update(max_open_items=40)
    reference_sync(client=client)
    assert Queue.objects.get().max_open_items == 40


def test_a_genesys_error_marks_the_run_failed_and_keeps_earlier_kinds():
    client = FakeClient(ORG)
    client.fail_on = "queues"
    with pytest.raises(GenesysError):
        reference_sync(client=client)
    run = SyncRun.objects.get()
    assert run.state == SyncRun.State.FAILED
    assert "missing.permissions" in run.error
    assert Workbin.objects.count() == 1  # synced before the failure
    assert AuditEvent.objects.get(action="reference.sync").outcome == "failure"


def test_kinds_are_validated_and_put_in_dependency_order():
    assert parse_kinds("members,queues") == ["queues", "members"]
    with pytest.raises(ValueError, match="Unknown kind"):
        parse_kinds("queues,agents")
