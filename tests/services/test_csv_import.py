from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from audits.models import AuditEvent
from tests import factories
from workitems.models import ImportBatch, LocalState, Queue, Skill, WorkItem, WorkType
from workitems.services import csv_import
from workitems.services.csv_import import (
    ImportRefused,
    csv_decode,
    csv_import_validate,
    import_batch_confirm,
    import_batch_preview,
)

pytestmark = pytest.mark.django_db

DRAFTS = Path(__file__).resolve().parent.parent / "fixtures" / "csv" / "drafts.csv"
HEADER = "external_ref,name,worktype,queue,priority,description,date_due,date_expires,skills,preferred_agents,custom_fields"


REFUND_FIELDS = {
    "type": "object",
    "properties": {
        "order_id_text": {"allOf": [{"$ref": "#/definitions/text"}], "title": "Order id"},
        "amount_number": {"allOf": [{"$ref": "#/definitions/number"}], "title": "Amount"},
    },
    "additionalProperties": False,
}


@dataclass
class Reference:
    billing: Queue
    claims: Queue
    refund: WorkType
    claim: WorkType
    english: Skill
    refunds: Skill


def make_reference() -> Reference:
    """The names drafts.csv uses: two queues, two worktypes, two skills and three agents."""
    billing, claims = factories.queue("Billing"), factories.queue("Claims")
    ref = Reference(
        billing=billing,
        claims=claims,
        refund=factories.worktype(
            name="Refund request",
            default_queue=billing,
            schema_id="sc-refund",
            schema_version=1,
            json_schema=REFUND_FIELDS,
        ),
        claim=factories.worktype(name="Insurance claim", default_queue=claims),
        english=factories.skill("English"),
        refunds=factories.skill("Refunds"),
    )
    # One person in two queues: not ambiguous.
    factories.member(billing, name="Sam Lee", user_id="user-sam")
    factories.member(claims, name="Sam Lee", user_id="user-sam")
    # Two people with one name: ambiguous.
    factories.member(billing, name="Alex Kim", user_id="user-alex-1")
    factories.member(claims, name="Alex Kim", user_id="user-alex-2")
    return ref


def drafts_csv(now: datetime | None = None) -> str:
    now = now or timezone.now()
    return Template(DRAFTS.read_text(encoding="utf-8")).substitute(
        due=(now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        expires=(now + timedelta(days=30)).isoformat(),
    )


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def errors_of(content: str) -> list[str]:
    return csv_import_validate(content=content).errors()


@pytest.fixture
def ref() -> Reference:
    return make_reference()


@pytest.fixture
def user():
    return get_user_model().objects.create_user("supervisor", password="x")


# --- good files ------------------------------------------------------------------------------


def test_sample_file_validates_with_every_row_new_and_names_resolved(ref):
    report = csv_import_validate(content=drafts_csv())
    assert report.ok, report.errors()
    assert [(r.row, r.external_ref, r.outcome) for r in report.rows] == [
        (2, "CRM-1001", "new"),
        (3, "CRM-1002", "new"),
        (4, "CRM-1003", "new"),  # its description spans two lines but it is one spreadsheet row
        (5, "CRM-1004", "new"),
    ]
    first, _, third, _ = report.rows
    assert first.values["worktype"] == "Refund request"
    assert first.values["skills"] == "English; Refunds"
    assert third.values["preferred_agents"] == "Alex Kim"


def test_confirm_creates_drafts_with_every_field_skills_and_audit_events(ref, user):
    batch = import_batch_preview(file_name="drafts.csv", raw=drafts_csv().encode(), user=user)
    assert batch.state == ImportBatch.State.PREVIEWED
    assert WorkItem.objects.count() == 0  # the preview saves no work item

    report = import_batch_confirm(batch=batch, user=user)

    assert report.count("new") == 4
    batch.refresh_from_db()
    assert (batch.state, batch.created_count) == (ImportBatch.State.IMPORTED, 4)
    assert batch.imported_at is not None
    item = WorkItem.objects.get(external_ref="CRM-1001")
    assert item.local_state == LocalState.DRAFT
    assert item.created_by == user
    assert (item.worktype, item.queue, item.priority) == (ref.refund, ref.billing, 10)
    assert item.description == "Customer asks for a refund of order A-17, paid twice"
    assert set(item.skills.all()) == {ref.english, ref.refunds}
    assert item.preferred_agent_ids == ["user-sam"]
    assert item.custom_fields == {"order_id_text": "A-17", "amount_number": 49.9}
    assert item.date_due < item.date_expires
    empty = WorkItem.objects.get(external_ref="CRM-1002")
    assert (empty.queue, empty.priority, empty.date_due, empty.description) == (
        None,
        None,
        None,
        "",
    )
    assert (empty.custom_fields, empty.preferred_agent_ids) == ({}, [])
    assert list(empty.skills.all()) == []
    assert WorkItem.objects.get(external_ref="CRM-1003").description == (
        "Kitchen flooded.\nPhotos to follow."
    )

    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("workitem.create") == 4
    assert actions.count("workitem.import.preview") == 1
    summary = AuditEvent.objects.get(action="workitem.import")
    assert summary.context["created"] == 4
    assert summary.context["skipped_existing"] == 0
    assert summary.actor == "supervisor"


def test_names_are_case_insensitive_and_genesys_ids_resolve_too(ref):
    content = csv_text(
        "A-1,By name,REFUND REQUEST,billing,,,,,english;REFUNDS,sam lee,",
        f"A-2,By id,{ref.refund.genesys_id.upper()},{ref.billing.genesys_id},,,,,"
        f"{ref.english.genesys_id};{ref.refunds.genesys_id},user-alex-1,",
    )
    report = csv_import_validate(content=content)
    assert report.ok, report.errors()
    by_name, by_id = (r.resolved for r in report.rows)
    for resolved in (by_name, by_id):
        assert resolved["worktype_id"] == ref.refund.pk
        assert resolved["queue_id"] == ref.billing.pk
        assert resolved["skill_ids"] == [ref.english.pk, ref.refunds.pk]
    assert by_name["preferred_agent_ids"] == ["user-sam"]
    assert by_id["preferred_agent_ids"] == ["user-alex-1"]


def test_only_required_columns_in_any_order_are_enough(ref):
    report = csv_import_validate(
        content="worktype,Name,external_ref\nRefund request,Short one,A-1\n"
    )
    assert report.ok, report.errors()
    assert report.rows[0].resolved["name"] == "Short one"


def test_utf8_bom_is_accepted(ref):
    raw = "\ufeff".encode() + csv_text("A-1,Café refund,Refund request,,,,,,,,").encode()
    content = csv_decode(raw=raw)
    assert content.startswith("external_ref")
    assert csv_import_validate(content=content).ok


def test_semicolon_separated_file_from_excel_is_read(ref):
    content = (
        'external_ref;name;worktype;skills\nA-1;Refund please;Refund request;"English;Refunds"\n'
    )
    report = csv_import_validate(content=content)
    assert report.ok, report.errors()
    assert report.rows[0].resolved["skill_ids"] == [ref.english.pk, ref.refunds.pk]


def test_blank_lines_are_ignored_but_keep_row_numbers(ref):
    report = csv_import_validate(content=csv_text("", "A-1,Refund please,Nope,,,,,,,,"))
    assert report.errors()[0].startswith("Row 3, worktype:")


# --- file-level problems ---------------------------------------------------------------------


def test_latin1_file_is_refused_with_advice_to_save_as_csv_utf8(user):
    raw = csv_text("A-1,Müller refund,Refund request,,,,,,,,").encode("latin-1")
    with pytest.raises(ValueError, match="(?i)save it as CSV UTF-8") as excinfo:
        csv_decode(raw=raw)
    assert "line 2" in str(excinfo.value)

    batch = import_batch_preview(file_name="latin.csv", raw=raw, user=user)
    assert batch.state == ImportBatch.State.REJECTED
    assert "CSV UTF-8" in batch.report["file_errors"][0]
    assert batch.content == ""


@pytest.mark.parametrize("content", ["", "  \n\n", "\ufeff"])
def test_empty_file_is_one_clear_error(content):
    assert errors_of(content) == ["The file is empty."]


def test_header_without_rows_is_an_error():
    assert errors_of(HEADER + "\n") == ["The file has a header row but no data rows."]


def test_missing_required_columns_are_named(ref):
    assert errors_of("external_ref,queue\nA-1,Billing\n") == [
        "Row 1: missing required columns: name, worktype."
    ]


def test_unknown_columns_are_named_and_nothing_else_is_checked(ref):
    [error] = errors_of("external_ref,name,worktype,priorty,Colour\nA-1,Refund,Nope,1,red\n")
    assert error.startswith("Row 1: unknown columns: priorty, colour (the columns are: ")


def test_a_file_without_header_row_says_so(ref):
    [error] = errors_of("A-1,Refund please,Refund request\n")
    assert error.startswith("Row 1: the first row must be the header")


def test_too_many_rows_is_refused_as_a_whole(ref, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_ROWS", 3)
    rows = [f"A-{i},Refund {i},Refund request,,,,,,,," for i in range(4)]
    assert errors_of(csv_text(*rows)) == [
        "The file has more than 3 rows; split it into smaller files."
    ]
    assert csv_import_validate(content=csv_text(*rows[:3])).ok


def test_row_with_more_cells_than_columns_is_an_error(ref):
    [error] = errors_of("external_ref,name,worktype\nA-1,Refund, order 7,Refund request\n")
    assert error.startswith("Row 2: has 4 cells but the header names 3 columns")


# --- row problems, each with its row number --------------------------------------------------


def test_unknown_worktype_names_the_row_and_the_known_worktypes(ref):
    content = csv_text("A-1,Good row,Refund request,,,,,,,,", "A-2,Typo,Refund reqest,,,,,,,,")
    assert errors_of(content) == [
        'Row 3, worktype: no worktype named "Refund reqest" '
        "(known: Insurance claim, Refund request)"
    ]


def test_unknown_queue_skill_and_agent_each_get_an_error_with_the_row(ref):
    content = csv_text(
        "A-1,Refund please,Refund request,Biling,,,,,English;Frenchh,Nobody Here,",
    )
    assert errors_of(content) == [
        'Row 2, queue: no queue named "Biling" (known: Billing, Claims)',
        'Row 2, skills: no skill named "Frenchh" (known: English, Refunds)',
        'Row 2, preferred_agents: no member of queue Billing is named or has the user id "Nobody Here"',
    ]


def test_long_name_lists_suggest_close_matches_instead_of_listing_everything(ref):
    for i in range(12):
        factories.skill(f"Language {i:02d}")
    [error] = errors_of(csv_text("A-1,Refund please,Refund request,,,,,,Refundz,,"))
    assert error == 'Row 2, skills: no skill named "Refundz" (did you mean: Refunds?)'


def test_inactive_reference_rows_do_not_resolve(ref):
    WorkType.objects.filter(pk=ref.claim.pk).update(active=False)
    assert errors_of(csv_text("A-1,A claim,Insurance claim,,,,,,,,")) == [
        'Row 2, worktype: worktype "Insurance claim" is inactive (no longer in Genesys)'
    ]


def test_an_agents_name_resolves_among_the_members_of_the_rows_queue(ref, user):
    # Two Alex Kims, one in each queue: the row's queue (its own, else the worktype's default)
    # says which one is meant.
    content = csv_text(
        "A-1,Refund please,Refund request,,,,,,,Alex Kim,",
        "A-2,Refund please,Refund request,Claims,,,,,,alex kim,",
    )
    batch = import_batch_preview(file_name="a.csv", raw=content.encode(), user=user)
    import_batch_confirm(batch=batch, user=user)

    agents = dict(WorkItem.objects.values_list("external_ref", "preferred_agent_ids"))
    assert agents == {"A-1": ["user-alex-1"], "A-2": ["user-alex-2"]}


def test_a_name_two_members_of_the_rows_queue_share_is_an_error_naming_both(ref):
    factories.member(ref.billing, name="Alex Kim", user_id="user-alex-3")
    [error] = errors_of(csv_text("A-1,Refund please,Refund request,,,,,,,Alex Kim,"))
    assert error == (
        'Row 2, preferred_agents: 2 members of queue Billing are named "Alex Kim" (user ids '
        "user-alex-1, user-alex-3): pick one by user id"
    )


def test_an_agent_of_another_queue_only_is_taken_with_a_warning(ref):
    factories.member(ref.claims, name="Ben Hartley", user_id="user-ben")
    report = csv_import_validate(
        content=csv_text("A-1,Refund please,Refund request,Billing,,,,,,Ben Hartley,")
    )
    [row] = report.rows
    assert row.errors == [] and row.outcome == "new"
    assert row.resolved["preferred_agent_ids"] == ["user-ben"]
    assert row.warnings == [
        "Row 2, preferred_agents: Ben Hartley is not a member of queue Billing (but of Claims): "
        "Genesys cannot prefer them for it"
    ]


def test_a_preferred_agent_typed_by_name_is_stored_as_the_member_id_and_the_item_is_routable(
    genesys_simulator, user
):
    """The report: "Ben Hartley" typed by name was called not a member of a queue he is in."""
    from django.core.management import call_command

    from workitems.models import QueueMember
    from workitems.services.routability import workitems_check_routability

    call_command("genesys_sync")
    content = (
        "external_ref,name,worktype,queue,preferred_agents,custom_fields\n"
        'BH-1,Refund for Ben,Refund request,Refunds,Ben Hartley,"{""order_number_text"": '
        '""A-001"", ""amount_number"": 20}"\n'
    )
    batch = import_batch_preview(file_name="ben.csv", raw=content.encode(), user=user)
    import_batch_confirm(batch=batch, user=user)

    item = WorkItem.objects.get(external_ref="BH-1")
    ben = QueueMember.objects.get(queue__name="Refunds", name="Ben Hartley")
    assert item.preferred_agent_ids == [ben.user_id]
    report = workitems_check_routability(items=[item], actor="t")[item.pk]
    assert report.check("preferred_agents").result == "pass"
    assert report.check("preferred_agents").message.startswith(
        "The preferred agent is a member of queue Refunds"
    )


def test_two_worktypes_with_one_name_ask_for_the_genesys_id(ref):
    twin = factories.worktype(name="refund request")
    [error] = errors_of(csv_text("A-1,Refund please,Refund Request,,,,,,,,"))
    assert error.startswith('Row 2, worktype: 2 worktypes are named "Refund Request"')
    assert twin.genesys_id in error and ref.refund.genesys_id in error


def test_bad_custom_fields_json_is_an_error(ref):
    content = csv_text(
        'A-1,Refund please,Refund request,,,,,,,,"{""a"": 1,}"',
        'A-2,Refund please,Refund request,,,,,,,,"[1, 2]"',
    )
    first, second = errors_of(content)
    assert first.startswith("Row 2, custom_fields: is not valid JSON (")
    assert second == 'Row 3, custom_fields: must be a JSON object, e.g. {"order_id_text": "A-17"}'


def test_custom_fields_are_checked_against_the_worktypes_schema_naming_fields_by_title(ref):
    content = csv_text(
        'A-1,Refund please,Refund request,,,,,,,,"{""amount_number"": ""lots""}"',
        'A-2,Claim please,Insurance claim,,,,,,,,"{""amount_number"": 3}"',
        'A-3,Refund please,Refund request,,,,,,,,"{""amount_number"": 3}"',
    )

    assert errors_of(content) == [
        "Row 2, custom_fields: Amount (amount_number) must be a number",
        "Row 3, custom_fields: Worktype Insurance claim has no custom-field schema, so it "
        "accepts no custom fields: remove amount_number",
    ]


def test_workitem_create_limits_are_checked_per_row(ref):
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    content = csv_text(
        "A-1,ab,Refund request,,,,,,,,",
        f"A-2,{'n' * 257},Refund request,,,,,,,,",
        f"A-3,Refund please,Refund request,,,{'d' * 513},,,,,",
        "A-4,Refund please,Refund request,,25000001,,,,,,",
        "A-5,Refund please,Refund request,,high,,,,,,",
        "A-6,Refund please,Refund request,,,,2027-03-02T12:00:01Z,,,,",
        "A-7,Refund please,Refund request,,,,2026-04-02T00:00:00Z,2026-04-01T00:00:00Z,,,",
        "A-8,Refund please,Refund request,,,,2026-04-02T09:00,,,,",
        "A-9,Refund please,Refund request,,,,,next week,,,",
        ",Refund please,,,,,,,,,",
        "A-11,Refund please,Refund request,,-25000000,,2027-03-01T12:00:00Z,,,,",
    )
    report = csv_import_validate(content=content, now=now)
    assert report.errors() == [
        "Row 2, name: is 2 characters long; it must be 3 to 256",
        "Row 3, name: is 257 characters long; it must be 3 to 256",
        "Row 4, description: is 513 characters long; the maximum is 512",
        "Row 5, priority: 25000001 is outside -25,000,000 to 25,000,000",
        'Row 6, priority: "high" is not a whole number',
        "Row 7, date_due: 2027-03-02T12:00:01Z is more than 365 days ahead",
        "Row 8, date_due: 2026-04-02T00:00:00Z is after date_expires 2026-04-01T00:00:00Z",
        'Row 9, date_due: "2026-04-02T09:00" has no timezone; add one, e.g. '
        '"2026-04-02T09:00:00Z" for UTC or "2026-04-02T09:00:00+02:00"',
        'Row 10, date_expires: "next week" is not an ISO-8601 date-time (e.g. 2026-05-01T17:00:00Z)',
        "Row 11, external_ref: is required",
        "Row 11, worktype: is required",
    ]
    assert report.rows[-1].outcome == "new"  # the limits themselves are allowed


def test_same_external_ref_twice_in_the_file_is_an_error_on_both_rows(ref):
    content = csv_text(
        "A-1,Refund please,Refund request,,,,,,,,",
        "A-2,Other,Refund request,,,,,,,,",
        "A-1,Refund again,Refund request,,,,,,,,",
    )
    assert errors_of(content) == [
        'Row 2, external_ref: "A-1" also appears in row 4',
        'Row 4, external_ref: "A-1" also appears in row 2',
    ]


def test_existing_ref_is_skipped_not_duplicated_and_not_an_error(ref, user):
    factories.workitem(external_ref="CRM-1002", worktype=ref.refund, name="Already here")
    batch = import_batch_preview(file_name="drafts.csv", raw=drafts_csv().encode(), user=user)
    report = csv_import.ImportReport.from_dict(batch.report)
    assert report.ok
    assert [r.outcome for r in report.rows] == ["new", "exists", "new", "new"]

    import_batch_confirm(batch=batch, user=user)

    assert WorkItem.objects.filter(external_ref="CRM-1002").get().name == "Already here"
    assert WorkItem.objects.count() == 4
    assert batch.created_count == 3
    assert AuditEvent.objects.get(action="workitem.import").context["skipped_existing"] == 1


# --- all or nothing --------------------------------------------------------------------------


def test_one_bad_row_blocks_an_all_or_nothing_import(ref, user):
    content = drafts_csv().replace(
        "CRM-1004,Windscreen claim,Insurance claim", "CRM-1004,Windscreen claim,Car claim"
    )
    batch = import_batch_preview(file_name="drafts.csv", raw=content.encode(), user=user)
    assert batch.state == ImportBatch.State.PREVIEWED  # its valid rows can still be imported
    assert batch.report["counts"] == {
        "rows": 4,
        "new": 3,
        "exists": 0,
        "error": 1,
        "errors": 1,
        "warned": 0,
    }

    with pytest.raises(ImportRefused, match="has 1 error, so nothing was imported"):
        import_batch_confirm(batch=batch, user=user)
    assert WorkItem.objects.count() == 0


def test_the_valid_rows_import_and_the_rows_with_errors_are_skipped(ref, user):
    content = drafts_csv().replace(
        "CRM-1004,Windscreen claim,Insurance claim", "CRM-1004,Windscreen claim,Car claim"
    )
    batch = import_batch_preview(file_name="drafts.csv", raw=content.encode(), user=user)

    report = import_batch_confirm(batch=batch, user=user, valid_only=True)

    assert sorted(WorkItem.objects.values_list("external_ref", flat=True)) == [
        "CRM-1001",
        "CRM-1002",
        "CRM-1003",
    ]
    assert report.count("error") == 1
    batch.refresh_from_db()
    assert (batch.state, batch.created_count) == (ImportBatch.State.IMPORTED, 3)
    audit = AuditEvent.objects.get(action="workitem.import")
    assert audit.context["skipped_errors"] == 1 and audit.context["mode"] == "valid rows only"


def test_valid_rows_only_imports_nothing_when_other_rows_validate_now(ref, user):
    content = drafts_csv().replace(
        "CRM-1004,Windscreen claim,Insurance claim", "CRM-1004,Windscreen claim,Car claim"
    )
    batch = import_batch_preview(file_name="drafts.csv", raw=content.encode(), user=user)
    Skill.objects.filter(pk=ref.refunds.pk).update(active=False)  # row 2 now has an error

    with pytest.raises(ImportRefused, match="1 row valid instead of 3|valid instead of 3"):
        import_batch_confirm(batch=batch, user=user, valid_only=True)

    assert WorkItem.objects.count() == 0
    batch.refresh_from_db()
    assert batch.state == ImportBatch.State.PREVIEWED  # with the new report, to look at again
    assert ImportBatch.objects.get(pk=batch.pk).report["counts"]["error"] == 2


def test_confirm_revalidates_and_refuses_when_the_data_changed_since_the_preview(ref, user):
    batch = import_batch_preview(file_name="drafts.csv", raw=drafts_csv().encode(), user=user)
    Skill.objects.filter(pk=ref.refunds.pk).update(active=False)

    with pytest.raises(ImportRefused, match="no longer validates"):
        import_batch_confirm(batch=batch, user=user)

    assert WorkItem.objects.count() == 0
    batch.refresh_from_db()
    assert 'Row 2, skills: skill "Refunds" is inactive' in batch.report["rows"][0]["errors"][0]


def test_a_file_with_no_valid_row_is_rejected(ref, user):
    content = csv_text("A-1,ab,Refund request,,,,,,,,")
    batch = import_batch_preview(file_name="bad.csv", raw=content.encode(), user=user)
    assert batch.state == ImportBatch.State.REJECTED
    with pytest.raises(ImportRefused, match="no row that can be imported"):
        import_batch_confirm(batch=batch, user=user, valid_only=True)


def test_confirming_twice_does_not_duplicate(ref, user):
    batch = import_batch_preview(file_name="drafts.csv", raw=drafts_csv().encode(), user=user)
    import_batch_confirm(batch=batch, user=user)
    with pytest.raises(ImportRefused, match="already imported"):
        import_batch_confirm(batch=ImportBatch.objects.get(pk=batch.pk), user=user)
    assert WorkItem.objects.count() == 4


def test_a_ref_created_between_preview_and_confirm_is_then_skipped(ref, user):
    batch = import_batch_preview(file_name="drafts.csv", raw=drafts_csv().encode(), user=user)
    factories.workitem(external_ref="CRM-1001", worktype=ref.refund)
    report = import_batch_confirm(batch=batch, user=user)
    assert report.count("exists") == 1
    assert batch.created_count == 3


# --- queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [20, 200])
def test_validation_queries_do_not_grow_with_rows(ref, rows, django_assert_max_num_queries):
    content = csv_text(
        *(
            f"Q-{i},Refund {i},Refund request,Billing,{i},,,,English;Refunds,Sam Lee,"
            for i in range(rows)
        )
    )
    with django_assert_max_num_queries(5):  # refs, worktypes, queues, skills, agents
        report = csv_import_validate(content=content)
    assert report.ok and len(report.rows) == rows


def test_confirm_creates_items_skills_and_audits_in_bulk(ref, user, django_assert_max_num_queries):
    content = csv_text(
        *(f"Q-{i},Refund {i},Refund request,,,,,,English;Refunds,,{{}}" for i in range(200))
    )
    batch = import_batch_preview(file_name="big.csv", raw=content.encode(), user=user)
    # A save per row would be 200+ queries; SQLite's 999-parameter cap splits the bulk inserts.
    with django_assert_max_num_queries(40):
        import_batch_confirm(batch=batch, user=user)
    assert WorkItem.objects.count() == 200
    assert WorkItem.skills.through.objects.count() == 400
    assert AuditEvent.objects.filter(action="workitem.create").count() == 200


# --- warnings that do not stop a row ----------------------------------------------------------


def test_a_past_due_date_is_flagged_will_breach_on_submit(ref):
    past = (timezone.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    [row] = csv_import_validate(
        content=csv_text(f"A-1,Refund please,Refund request,,,,{past},,,,")
    ).rows
    assert row.outcome == "new" and row.errors == []
    [warning] = row.warnings
    assert warning.startswith("Row 2, date_due: will breach on submit: the due date ")
    assert warning.endswith("has already passed")


def test_a_due_date_sooner_than_the_sla_allows_is_flagged(ref):
    from workitems.models import SlaPolicy

    SlaPolicy.objects.create(worktype=ref.refund, threshold_seconds=4 * 3600)
    soon = (timezone.now() + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (timezone.now() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = csv_import_validate(
        content=csv_text(
            f"A-1,Refund please,Refund request,,,,{soon},,,,",
            f"A-2,Refund please,Refund request,,,,{later},,,,",
        )
    )
    first, second = report.rows
    [warning] = first.warnings
    assert "earlier than the SLA allows (less than 20% of its 240 min threshold)" in warning
    assert second.warnings == []
    assert report.counts["warned"] == 1


# --- the rejected rows, to fix and upload again ---------------------------------------------------


def test_the_rejected_rows_come_back_as_typed_with_an_error_column(ref, user):
    from workitems.services.csv_import import rejected_rows_csv

    content = csv_text(
        "A-1,Refund please,Refund request,,,,,,,,",
        "A-2,ab,Refund request,Biling,-5,=cmd(),,,,,",
        "A-3,Refund please,Car claim,,,,,,,,",
    )
    batch = import_batch_preview(file_name="x.csv", raw=content.encode(), user=user)

    text = rejected_rows_csv(batch=batch)

    lines = text.splitlines()
    assert lines[0] == HEADER + ",error"
    assert lines[1].startswith("A-2,ab,Refund request,Biling,'-5,'=cmd(),,,,,,")
    assert "Row 3, name: is 2 characters long" in lines[1]
    assert 'Row 3, queue: no queue named ""Biling""' in lines[1]
    assert lines[2].startswith("A-3,Refund please,Car claim,")
    assert len(lines) == 3


def test_a_fixed_file_of_rejected_rows_uploads_again(ref, user):
    from workitems.services.csv_import import rejected_rows_csv

    content = csv_text(
        "A-1,Refund please,Refund request,,,,,,,,", "A-2,ab,Refund request,,-5,,,,,,"
    )
    batch = import_batch_preview(file_name="x.csv", raw=content.encode(), user=user)
    import_batch_confirm(batch=batch, user=user, valid_only=True)
    fixed = rejected_rows_csv(batch=batch).replace("A-2,ab,", "A-2,Abbey Road,")

    again = import_batch_preview(file_name="x-rejected.csv", raw=fixed.encode(), user=user)
    import_batch_confirm(batch=again, user=user)

    item = WorkItem.objects.get(external_ref="A-2")
    assert (item.name, item.priority) == ("Abbey Road", -5)  # the ' before -5 is taken off
