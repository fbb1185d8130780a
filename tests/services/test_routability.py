from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audits.models import AuditEvent
from tests import factories
from tests.services.test_queue_snapshot import FakeGenesys, genesys_error
from workitems.models import LocalState, StatusCategory, Verdict, WorkItem
from workitems.selectors.routability_report import routability_report_view
from workitems.services.custom_fields import schema_fields
from workitems.services.queue_snapshot import MemberSnapshots, queue_members_remember_refresh
from workitems.services.routability import (
    CHECK_LABELS,
    CheckResult,
    RoutabilityReport,
    workitem_routability,
    workitems_check_routability,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _reload(item: WorkItem) -> WorkItem:
    return (
        WorkItem.objects.select_related(
            "worktype__default_queue",
            "worktype__default_status",
            "worktype__default_workbin",
            "queue",
            "status",
            "workbin",
        )
        .prefetch_related("skills", "worktype__default_skills")
        .get(pk=item.pk)
    )


def check(item: WorkItem, *, client=None, now=None, **in_memory) -> RoutabilityReport:
    """Run every check on a fresh copy of the item, with attributes overridden in memory."""
    item = _reload(item)
    for name, value in in_memory.items():
        setattr(item, name, value)
    now = now or timezone.now()
    snapshots = MemberSnapshots(client=client or FakeGenesys(), now=now)
    return workitem_routability(item=item, snapshots=snapshots, now=now)


@pytest.fixture
def queue():
    q = factories.queue("Refunds")
    factories.member(q, name="Ann", routing_status="IDLE")
    factories.member(q, name="Bob", routing_status="OFF_QUEUE")
    return q


@pytest.fixture
def worktype(queue):
    return factories.worktype(default_queue=queue, assignment_enabled=True)


@pytest.fixture
def item(worktype):
    return factories.workitem(worktype=worktype)


# --- whole report ----------------------------------------------------------------------------


def test_a_well_formed_item_on_a_staffed_queue_is_routable(item):
    report = check(item)

    assert [c.name for c in report.checks] == list(CHECK_LABELS)
    assert [c.result for c in report.checks] == ["pass"] * len(CHECK_LABELS), [
        (c.name, c.message) for c in report.checks if c.result != "pass"
    ]
    assert report.verdict == Verdict.ROUTABLE


def test_any_warning_without_failures_gives_routable_with_warnings(item):
    report = check(item, date_due=timezone.now() - timedelta(hours=1))

    assert report.warned == ["fields"]
    assert report.failed == []
    assert report.verdict == Verdict.WARNINGS


def test_any_failure_makes_the_item_not_routable(item, worktype):
    worktype.active = False
    worktype.save()

    report = check(item, date_due=timezone.now() - timedelta(hours=1))

    assert "worktype" in report.failed and "fields" in report.warned
    assert report.verdict == Verdict.NOT_ROUTABLE


def test_report_survives_a_json_round_trip(item):
    report = check(item)

    data = report.to_json()
    again = RoutabilityReport.from_json(data)

    assert data["verdict"] == "routable"
    assert data["counts"] == {"pass": 10, "warn": 0, "fail": 0}
    assert data["checks"][0] == {
        "name": "worktype",
        "result": "pass",
        "message": report.checks[0].message,
        "numbers": report.checks[0].numbers,
    }
    assert again.verdict == report.verdict
    assert again.checked_at == report.checked_at
    assert again.checks == report.checks


# --- worktype, status, workbin ---------------------------------------------------------------


def test_inactive_worktype_fails(item, worktype):
    worktype.active = False
    worktype.save()

    result = check(item).check("worktype")

    assert result.result == "fail"
    assert worktype.name in result.message


def test_no_status_uses_the_worktype_default(item, worktype):
    result = check(item).check("status")

    assert result.result == "pass"
    assert "Genesys will use the worktype's default status New" in result.message
    assert result.numbers["source"] == "worktype default"


def test_no_status_and_no_worktype_default_warns(queue):
    wt = factories.worktype(default_queue=queue, assignment_enabled=True, with_statuses=False)
    result = check(factories.workitem(worktype=wt)).check("status")

    assert result.result == "warn"
    assert "no default status" in result.message


def test_status_of_another_worktype_fails(item, queue):
    foreign = factories.worktype(default_queue=queue).statuses.get(name="New")

    result = check(item, status=foreign).check("status")

    assert result.result == "fail"
    assert "belongs to another worktype" in result.message


def test_closed_status_fails(item, worktype):
    result = check(item, status=worktype.statuses.get(name="Done")).check("status")

    assert result.result == "fail"
    assert "Closed category" in result.message


def test_inactive_status_fails(item, worktype):
    status = worktype.statuses.get(name="Working")
    status.active = False
    status.save()

    result = check(item, status=status).check("status")

    assert result.result == "fail"
    assert "Working" in result.message


def test_missing_workbin_fails(queue):
    wt = factories.worktype(default_queue=queue, assignment_enabled=True, default_workbin=None)

    result = check(factories.workitem(worktype=wt)).check("workbin")

    assert result.result == "fail"
    assert result.message.startswith("No workbin")


def test_inactive_workbin_fails(item):
    workbin = factories.workbin(name="Old bin", active=False)

    result = check(item, workbin=workbin).check("workbin")

    assert result.result == "fail"
    assert "Old bin" in result.message


# --- queue and members -----------------------------------------------------------------------


def test_no_queue_fails_and_says_where_to_set_one():
    wt = factories.worktype(assignment_enabled=True)
    item = WorkItem.objects.create(external_ref="no-queue", name="No queue", worktype=wt)

    report = check(item)

    assert report.check("queue").result == "fail"
    assert report.check("queue").message == (
        f"No queue: set one on the item or a default queue on worktype {wt.name}."
    )
    assert report.check("joined_members").result == "fail"
    assert report.verdict == Verdict.NOT_ROUTABLE


def test_queue_gone_from_genesys_fails(item, queue):
    client = FakeGenesys(errors={queue.genesys_id: genesys_error(404)})

    report = check(item, client=client)

    assert report.check("queue").result == "fail"
    assert "does not exist in Genesys" in report.check("queue").message
    assert report.check("on_queue_members").result == "fail"


def test_inactive_queue_fails(item, queue):
    queue.active = False
    queue.save()

    assert check(item).check("queue").result == "fail"


def test_worktype_without_assignment_is_a_note_of_the_worktype_not_a_warning_of_the_item(
    item, worktype
):
    worktype.assignment_enabled = False
    worktype.save()

    report = check(item)

    assert report.check("queue").result == "pass"
    assert report.verdict == Verdict.ROUTABLE
    assert report.worktype_notes == [
        f"Worktype {worktype.name} has automatic assignment off (assignmentEnabled): Genesys "
        "does not route its new items to the queue by itself; they wait until someone assigns "
        "them."
    ]
    assert RoutabilityReport.from_json(report.to_json()).worktype_notes == report.worktype_notes


def test_failed_member_refresh_warns_that_member_data_may_be_stale(item, queue):
    client = FakeGenesys(errors={queue.genesys_id: genesys_error(503, "Service unavailable")})

    report = check(item, client=client)

    assert report.check("queue").result == "warn"
    assert "Service unavailable" in report.check("queue").message
    assert "may be stale" in report.check("joined_members").message
    assert report.check("joined_members").result == "pass"  # the mirror still has Ann and Bob


def test_no_joined_members_fails(item, queue):
    queue.members.update(joined=False)

    result = check(item).check("joined_members")

    assert result.result == "fail"
    assert result.numbers == {"members": 2, "joined": 0}


def test_joined_members_pass_with_counts(item):
    result = check(item).check("joined_members")

    assert result.result == "pass"
    assert result.message == "2 of 2 members of queue Refunds are joined."


def test_nobody_on_queue_fails_with_counts_per_routing_status():
    q = factories.queue()
    for status in ("OFF_QUEUE", "OFF_QUEUE", "OFF_QUEUE", "NOT_RESPONDING"):
        factories.member(q, routing_status=status)
    factories.member(q, routing_status="IDLE", joined=False)  # not joined: does not count
    wt = factories.worktype(default_queue=q, assignment_enabled=True)

    result = check(factories.workitem(worktype=wt)).check("on_queue_members")

    assert result.result == "fail"
    assert result.message.startswith(
        "0 of 4 joined members are on queue (3 OFF_QUEUE, 1 NOT_RESPONDING)"
    )
    assert result.numbers == {"joined": 4, "on_queue": 0, "NOT_RESPONDING": 1, "OFF_QUEUE": 3}


def test_interacting_and_communicating_members_count_as_on_queue():
    q = factories.queue()
    factories.member(q, routing_status="INTERACTING")
    factories.member(q, routing_status="COMMUNICATING")
    wt = factories.worktype(default_queue=q, assignment_enabled=True)

    result = check(factories.workitem(worktype=wt)).check("on_queue_members")

    assert result.result == "pass"
    assert result.numbers["on_queue"] == 2


# --- skills ----------------------------------------------------------------------------------


@pytest.fixture
def skill_queue():
    """12 joined members: 3 hold refunds-L2 only, 5 billing only, 4 neither."""
    refunds, billing = factories.skill("refunds-L2"), factories.skill("billing")
    q = factories.queue("Billing")
    for _ in range(3):
        factories.member(q, skills=[(refunds, 3.0)])
    for _ in range(5):
        factories.member(q, skills=[(billing, 2.0)])
    for _ in range(4):
        factories.member(q)
    return q, refunds, billing


def _skilled_item(q, *skills, method="ALL"):
    q.skill_evaluation_method = method
    q.save()
    wt = factories.worktype(default_queue=q, assignment_enabled=True)
    return factories.workitem(worktype=wt, skills=list(skills))


def test_skills_message_counts_members_per_skill_and_combination(skill_queue):
    q, refunds, billing = skill_queue

    result = check(_skilled_item(q, refunds, billing)).check("skills")

    # Skills in name order; partial combinations most common first.
    assert result.message.startswith(
        "0 of 12 joined members hold both billing and refunds-L2; 5 hold billing only; "
        "3 hold refunds-L2 only; 4 hold none of them."
    )
    assert "Of the 12 on-queue members, 0 hold them all." in result.message
    assert result.numbers["with refunds-L2"] == 3
    assert result.numbers["with billing"] == 5
    assert result.numbers["only refunds-L2"] == 3
    assert result.numbers["joined_with_all"] == 0


def test_skills_fail_when_nobody_holds_all_and_the_queue_requires_all(skill_queue):
    q, refunds, billing = skill_queue

    result = check(_skilled_item(q, refunds, billing, method="ALL")).check("skills")

    assert result.result == "fail"
    assert "requires every skill (ALL)" in result.message


def test_skills_warn_when_nobody_holds_all_and_the_queue_takes_the_best_match(skill_queue):
    q, refunds, billing = skill_queue

    result = check(_skilled_item(q, refunds, billing, method="BEST")).check("skills")

    assert result.result == "warn"
    assert "best partial match" in result.message


def test_skills_warn_when_the_queue_ignores_skills(skill_queue):
    q, refunds, _ = skill_queue

    result = check(_skilled_item(q, refunds, method="NONE")).check("skills")

    assert result.result == "warn"
    assert "ignores skills" in result.message


def test_skills_pass_when_a_joined_on_queue_member_holds_them_all(skill_queue):
    q, refunds, billing = skill_queue
    factories.member(q, name="Both", skills=[(refunds, 1.0), (billing, 1.0)])

    result = check(_skilled_item(q, refunds, billing)).check("skills")

    assert result.result == "pass"
    assert result.message.startswith("1 of 13 joined members hold both billing and refunds-L2")
    assert result.numbers["on_queue_with_all"] == 1


def test_skills_warn_when_those_holding_them_are_all_off_queue(skill_queue):
    q, refunds, billing = skill_queue
    factories.member(q, routing_status="OFF_QUEUE", skills=[(refunds, 1.0), (billing, 1.0)])

    result = check(_skilled_item(q, refunds, billing)).check("skills")

    assert result.result == "warn"
    assert result.numbers["joined_with_all"] == 1
    assert result.numbers["on_queue_with_all"] == 0


def test_member_skills_that_are_not_active_do_not_count():
    refunds = factories.skill("refunds-L2")
    q = factories.queue()
    m = factories.member(q, skills=[(refunds, 4.0)])
    m.skills[0]["state"] = "inactive"
    m.save()

    result = check(_skilled_item(q, refunds)).check("skills")

    assert result.result == "fail"
    assert result.numbers["joined_with_all"] == 0


def test_inactive_requested_skills_fail_each_by_name(skill_queue):
    q, refunds, billing = skill_queue
    old = factories.skill("legacy", state="inactive", active=False)
    deleted = factories.skill("retired", state="deleted", active=False)
    factories.member(q, skills=[(refunds, 1.0), (old, 1.0), (deleted, 1.0)])

    result = check(_skilled_item(q, refunds, old, deleted)).check("skills")

    assert result.result == "fail"
    assert "Skill legacy is inactive" in result.message
    assert "Skill retired is deleted" in result.message


def test_worktype_default_skills_apply_when_the_item_names_none(skill_queue):
    q, refunds, _ = skill_queue
    wt = factories.worktype(default_queue=q, assignment_enabled=True)
    wt.default_skills.set([refunds])

    result = check(factories.workitem(worktype=wt)).check("skills")

    assert result.numbers["source"] == "worktype default"
    assert result.message.startswith("3 of 12 joined members hold refunds-L2")


def test_no_skills_requested_passes(item):
    result = check(item).check("skills")

    assert result.result == "pass"
    assert result.message.startswith("No skills requested")


# --- preferred agents ------------------------------------------------------------------------


def test_preferred_agents_not_in_the_queue_warn_by_id(item, queue):
    ann = queue.members.get(name="Ann")
    stranger = "0b5d6a6e-57c1-4b1f-9a0e-2f4a1d3c9e77"

    result = check(item, preferred_agent_ids=[ann.user_id, stranger]).check("preferred_agents")

    assert result.result == "warn"
    assert f"1 of 2 preferred agents is not a member of queue Refunds: {stranger}" in result.message


def test_a_name_stored_where_an_agents_id_belongs_fails_because_genesys_refuses_it(item, queue):
    result = check(item, preferred_agent_ids=["Ann"]).check("preferred_agents")

    assert result.result == "fail"
    assert result.message.startswith("Ann is not a Genesys user id; Genesys refuses the item.")


def test_one_preferred_agent_in_the_queue_is_said_in_the_singular(item, queue):
    ann = queue.members.get(name="Ann")

    result = check(item, preferred_agent_ids=[ann.user_id]).check("preferred_agents")

    assert result.message == "The preferred agent is a member of queue Refunds (on queue)."


def test_preferred_agents_in_the_queue_pass(item, queue):
    ids = list(queue.members.values_list("user_id", flat=True))

    result = check(item, preferred_agent_ids=ids).check("preferred_agents")

    assert result.result == "pass"
    assert result.numbers == {"requested": 2, "members": 2, "on_queue": 1}


def test_no_preferred_agents_passes(item):
    assert check(item).check("preferred_agents").result == "pass"


# --- capacity --------------------------------------------------------------------------------


def _open_items(n: int, *, q=None, worktype=None) -> None:
    for _ in range(n):
        factories.workitem(
            queue=q,
            worktype=worktype or factories.worktype(default_queue=q),
            local_state=LocalState.SUBMITTED,
            status_category=StatusCategory.OPEN,
        )


def test_capacity_without_a_cap_passes(item, queue):
    _open_items(2, q=queue)

    result = check(item).check("capacity")

    assert result.result == "pass"
    assert result.message == "Queue Refunds has 2 open work items; no cap set."


def test_capacity_at_the_cap_fails_counting_items_on_the_worktype_default_queue(
    item, queue, worktype
):
    queue.max_open_items = 4
    queue.save()
    _open_items(2, q=queue)  # explicit queue
    _open_items(2, worktype=worktype)  # queue left empty: the worktype's default
    factories.workitem(
        worktype=worktype, local_state=LocalState.SUBMITTED, status_category="Closed"
    )

    result = check(item).check("capacity")

    assert result.result == "fail"
    assert result.message == "Queue Refunds is at its cap: 4 open work items, cap 4."
    assert result.numbers == {"open_items": 4, "max_open_items": 4, "percent_of_cap": 100}


def test_capacity_from_eighty_percent_warns(item, queue):
    queue.max_open_items = 10
    queue.save()
    _open_items(8, q=queue)

    result = check(item).check("capacity")

    assert result.result == "warn"
    assert "near its cap: 8 of 10 open work items (80%)" in result.message


def test_capacity_below_eighty_percent_passes(item, queue):
    queue.max_open_items = 10
    queue.save()
    _open_items(7, q=queue)

    assert check(item).check("capacity").result == "pass"


def test_a_submitted_item_does_not_count_against_its_own_queue(queue, worktype):
    queue.max_open_items = 1
    queue.save()
    submitted = factories.workitem(
        worktype=worktype, local_state=LocalState.SUBMITTED, status_category=StatusCategory.OPEN
    )

    result = check(submitted).check("capacity")

    assert result.result == "pass"
    assert result.numbers["open_items"] == 0


# --- fields ----------------------------------------------------------------------------------


def test_name_outside_three_to_256_characters_fails(item):
    result = check(item, name="ab").check("fields")

    assert result.result == "fail"
    assert "The name is 2 characters long; Genesys needs 3 to 256." in result.message


def test_description_over_512_characters_fails(item):
    result = check(item, description="x" * 513).check("fields")

    assert result.result == "fail"
    assert "at most 512" in result.message


def test_priority_outside_25_million_fails(item, worktype):
    assert check(item, priority=25_000_001).check("fields").result == "fail"
    worktype.default_priority = -25_000_001
    worktype.save()
    assert check(item).check("fields").result == "fail"  # the worktype default applies


def test_dates_more_than_365_days_ahead_fail_and_past_dates_warn(item):
    now = timezone.now()

    ahead = check(item, now=now, date_expires=now + timedelta(days=366)).check("fields")
    past = check(item, now=now, date_expires=now - timedelta(hours=1)).check("fields")

    assert ahead.result == "fail" and "more than 365 days ahead" in ahead.message
    assert (
        past.result == "warn"
        and "The expiry date" in past.message
        and "in the past" in past.message
    )


def test_due_after_expiry_fails(item):
    now = timezone.now()

    result = check(
        item, now=now, date_due=now + timedelta(days=3), date_expires=now + timedelta(days=2)
    ).check("fields")

    assert result.result == "fail"
    assert "after the expiry date" in result.message


def test_each_failing_field_rule_is_its_own_sentence(item):
    result = check(item, name="ab", description="x" * 600, priority=10**9).check("fields")

    assert result.message.count("Genesys") == 3
    assert result.message.count(". ") == 2


SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "properties": {
        "amount_number": {
            "allOf": [{"$ref": "#/definitions/number"}],
            "title": "Amount",
            "minimum": 0,
        },
        "channel_enum": {
            "allOf": [{"$ref": "#/definitions/enum"}],
            "title": "Channel",
            "enum": ["web", "phone"],
        },
        "tags_tag": {"allOf": [{"$ref": "#/definitions/tag"}], "title": "Tags", "maxItems": 2},
        "bought_date": {"allOf": [{"$ref": "#/definitions/date"}], "title": "Bought on"},
    },
    "required": ["amount_number"],
    "additionalProperties": False,
}


@pytest.fixture
def with_schema(worktype):
    # As the sync stores it: the schema, and its fields in order (jsonb keeps no key order).
    worktype.schema_id = "sc-1"
    worktype.schema_version = 1
    worktype.json_schema = SCHEMA
    worktype.schema_fields = schema_fields(SCHEMA)
    worktype.save()
    return worktype


def test_custom_fields_breaking_the_schema_make_the_item_not_routable_naming_each_field_by_title(
    item, with_schema
):
    report = check(
        item,
        custom_fields={
            "amount_number": "lots",
            "channel_enum": "fax",
            "tags_tag": ["a", 3],
            "bought_date": "31/01/2026",
        },
    )
    result = report.check("fields")

    assert report.verdict == Verdict.NOT_ROUTABLE and result.result == "fail"
    assert "Amount (amount_number) must be a number." in result.message
    assert "Channel (channel_enum) must be one of web, phone." in result.message
    assert "Tags (tags_tag) item 2 must be text." in result.message
    assert "Bought on (bought_date) must be a date such as 2026-01-31." in result.message


def test_valid_custom_fields_pass(item, with_schema):
    result = check(item, custom_fields={"amount_number": 12.5, "tags_tag": ["vip"]}).check("fields")

    assert result.result == "pass", result.message


def test_a_missing_required_custom_field_fails_by_title(item, with_schema):
    result = check(item, custom_fields={"channel_enum": "web"}).check("fields")

    assert result.result == "fail"
    assert "Amount (amount_number) is required." in result.message


def test_a_field_the_schema_does_not_define_fails_and_lists_the_fields_it_has(item, with_schema):
    result = check(item, custom_fields={"amount_number": 1, "colour_text": "red"}).check("fields")

    assert result.result == "fail"
    assert "colour_text is not a custom field of worktype" in result.message
    assert "Amount (amount_number), Channel (channel_enum)" in result.message


def test_a_worktype_with_no_schema_accepts_no_custom_fields(item):
    result = check(item, custom_fields={"amount_number": 3}).check("fields")

    assert result.result == "fail"
    assert "has no custom-field schema, so it accepts no custom fields" in result.message
    assert "amount_number" in result.message


def test_a_schema_not_fetched_yet_warns_that_the_fields_were_not_validated(item, worktype):
    worktype.schema_id = "sc-1"
    worktype.save()

    result = check(item, custom_fields={"amount_number": "lots"}).check("fields")

    assert result.result == "warn"
    assert "not been fetched from Genesys yet" in result.message


def test_a_schema_that_cannot_be_applied_warns_instead_of_crashing(item, worktype):
    worktype.schema_id = "sc-1"
    worktype.json_schema = {"properties": {"a_text": {"$ref": "#/definitions/no-such-type"}}}
    worktype.save()

    result = check(item, custom_fields={"a_text": "x"}).check("fields")

    assert result.result == "warn"
    assert "could not be applied" in result.message


# --- the service that stores and audits ------------------------------------------------------


def test_checking_stores_report_verdict_and_time_and_moves_drafts_to_checked(item, worktype):
    other = factories.workitem(worktype=worktype, name="ab")
    now = timezone.now()

    reports = workitems_check_routability(
        items=WorkItem.objects.filter(pk__in=[item.pk, other.pk]),
        actor="alice",
        client=FakeGenesys(),
        now=now,
    )

    item.refresh_from_db()
    other.refresh_from_db()
    assert item.local_state == other.local_state == LocalState.CHECKED
    assert item.routability_verdict == Verdict.ROUTABLE
    assert other.routability_verdict == Verdict.NOT_ROUTABLE
    assert item.routability_checked_at == now
    assert item.routability_report == reports[item.pk].to_json()


@pytest.mark.parametrize(
    "state", [LocalState.SUBMITTING, LocalState.SUBMITTED, LocalState.FAILED, LocalState.CHECKED]
)
def test_checking_leaves_items_past_draft_in_their_state(worktype, state):
    item = factories.workitem(worktype=worktype, local_state=state)

    workitems_check_routability(items=[item], actor="alice", client=FakeGenesys())

    item.refresh_from_db()
    assert item.local_state == state
    assert item.routability_verdict == Verdict.ROUTABLE


def test_checking_writes_one_audit_event_per_item(item, worktype):
    WorkItem.objects.filter(pk=item.pk).update(date_due=timezone.now() - timedelta(hours=1))
    bad = factories.workitem(worktype=worktype, name="ab")

    workitems_check_routability(items=[item, bad], actor="alice", client=FakeGenesys())

    events = AuditEvent.objects.filter(action="workitem.check_routability").order_by("object_id")
    assert [(e.object_type, e.object_id, e.correlation_id, e.actor) for e in events] == [
        ("WorkItem", str(item.pk), item.external_ref, "alice"),
        ("WorkItem", str(bad.pk), bad.external_ref, "alice"),
    ]
    assert events[0].context == {"verdict": "warnings", "failed": [], "warned": ["fields"]}
    assert events[1].context == {"verdict": "not_routable", "failed": ["fields"], "warned": []}


def _mixed_items(n: int, q, worktype):
    skill = factories.skill()
    status = worktype.statuses.get(name="Working")
    workbin = factories.workbin()
    for i in range(n):
        factories.workitem(
            worktype=worktype,
            queue=q if i % 2 else None,
            status=status,
            workbin=workbin,
            skills=[skill],
            preferred_agent_ids=["someone"],
        )


def _queries_to_check(items, client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        workitems_check_routability(items=items, actor="alice", client=client)
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_items_on_one_queue(
    queue, worktype, django_assert_max_num_queries
):
    _mixed_items(5, queue, worktype)
    few = _queries_to_check(WorkItem.objects.all(), FakeGenesys())
    cache.clear()
    _mixed_items(45, queue, worktype)

    with django_assert_max_num_queries(few):
        workitems_check_routability(
            items=WorkItem.objects.all(), actor="alice", client=FakeGenesys()
        )


def test_query_count_does_not_grow_with_items_on_queues_whose_members_are_fresh(
    django_assert_max_num_queries,
):
    def make(n):
        for _ in range(n):
            q = factories.queue()
            factories.member(q)
            queue_members_remember_refresh(queue=q, at=timezone.now())
            factories.workitem(queue=q, skills=[factories.skill()])

    make(5)
    few = _queries_to_check(WorkItem.objects.all(), FakeGenesys())
    make(45)
    client = FakeGenesys()

    with django_assert_max_num_queries(few):
        workitems_check_routability(items=WorkItem.objects.all(), actor="alice", client=client)
    assert client.calls == {}


# --- the admin partial -----------------------------------------------------------------------


def _render(item: WorkItem, **extra) -> str:
    item.refresh_from_db()
    view = routability_report_view(report=item.routability_report, stale=item.routability_stale)
    return render_to_string("workitems/routability_report.html", {"report": view, **extra})


def test_the_report_lists_failures_then_warnings_and_folds_what_passed(queue, worktype):
    item = factories.workitem(
        worktype=worktype,
        name="ab",  # fails: too short
        skills=[factories.skill("Refunds")],  # warns: nobody holds it (BEST)
    )
    queue.skill_evaluation_method = "BEST"
    queue.save()
    workitems_check_routability(items=[item], actor="alice", client=FakeGenesys())

    html = _render(item)

    problems = html[: html.index("<details")]
    assert problems.index("routability-check-fail") < problems.index("routability-check-warn")
    assert 'data-check="fields"' in problems and 'data-check="skills"' in problems
    folded = html[html.index("<details") :]
    assert folded.count('class="routability-check-pass"') == len(CHECK_LABELS) - 2
    assert "8 checks passed" in folded
    assert "Fields and limits" in problems and "fields</th>" not in problems


def test_the_numbers_behind_a_check_are_said_in_words(queue, worktype):
    refunds, spanish = factories.skill("Refunds"), factories.skill("Spanish")
    factories.member(queue, name="Cy", skills=[(refunds, 3), (spanish, 2)])
    factories.member(queue, name="Di", routing_status="OFF_QUEUE", skills=[(refunds, 3)])
    item = factories.workitem(worktype=worktype, skills=[refunds, spanish])
    workitems_check_routability(items=[item], actor="alice", client=FakeGenesys())

    html = _render(item)

    assert "1 of 4 joined members holds both skills" in html
    assert "1 of 2 on-queue members holds both skills" in html
    assert "1 holds Refunds only" in html
    assert "2 hold none of them" in html
    assert "joined_with_all" not in html and "none: " not in html


def test_a_worktype_setting_is_a_note_that_points_to_the_worktype(item, worktype):
    worktype.assignment_enabled = False
    worktype.save()
    workitems_check_routability(items=[item], actor="alice", client=FakeGenesys())

    html = _render(item, worktype_url="/admin/workitems/worktype/1/change/")

    assert "Routable" in html and "routability-verdict-routable" in html
    assert "automatic assignment off (assignmentEnabled)" in html
    assert 'href="/admin/workitems/worktype/1/change/"' in html
    assert "routability-check-warn" not in html


def test_a_stale_report_says_so(item):
    workitems_check_routability(items=[item], actor="alice", client=FakeGenesys())
    WorkItem.objects.filter(pk=item.pk).update(routability_verdict="", routability_stale=True)

    html = _render(item)

    assert "Stale: Routable" in html
    assert "checked again before it is submitted" in html


def test_template_says_not_checked_yet_without_a_report():
    html = render_to_string("workitems/routability_report.html", {"report": None})

    assert "Not checked yet" in html
    assert "<table" not in html


def test_template_escapes_messages():
    report = RoutabilityReport(
        verdict=Verdict.NOT_ROUTABLE,
        checks=[CheckResult("fields", "fail", "<script>alert(1)</script>", {"<b>": "<i>"})],
        checked_at=timezone.now(),
    ).to_json()

    html = render_to_string(
        "workitems/routability_report.html", {"report": routability_report_view(report=report)}
    )

    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<b>" not in html


def test_a_past_due_date_warns_that_the_item_will_breach_on_submit(item):
    result = check(item, date_due=timezone.now() - timedelta(minutes=5)).check("fields")

    assert result.result == "warn"
    assert result.message.startswith("Will breach on submit: the due date ")
