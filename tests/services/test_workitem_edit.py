"""Saving an edit of a draft: audited, and a verdict the edit invalidates is marked stale."""

from __future__ import annotations

import pytest

from audits.models import AuditEvent
from tests import factories
from workitems.models import LocalState, Verdict
from workitems.services.routability import CHECK_INPUTS
from workitems.services.workitem_edit import workitem_edit_record

pytestmark = pytest.mark.django_db


def checked(**kw):
    fields = {
        "local_state": LocalState.CHECKED,
        "routability_verdict": Verdict.ROUTABLE,
        "routability_report": {"verdict": "routable", "checks": []},
        **kw,
    }
    return factories.workitem(**fields)


@pytest.mark.parametrize("field", CHECK_INPUTS)
def test_changing_any_input_of_the_check_makes_the_verdict_stale(field):
    item = checked()

    assert workitem_edit_record(item=item, changed=[field], actor="sam", created=False)

    item.refresh_from_db()
    assert (item.routability_verdict, item.routability_stale) == ("", True)
    assert item.local_state == LocalState.DRAFT
    assert item.routability_report is not None  # kept, shown as stale


def test_changing_something_the_check_does_not_read_keeps_the_verdict():
    item = checked()
    assert not workitem_edit_record(item=item, changed=["language_id"], actor="sam", created=False)
    item.refresh_from_db()
    assert (item.routability_verdict, item.routability_stale) == (Verdict.ROUTABLE, False)
    assert AuditEvent.objects.get(action="workitem.edit").context["verdict_stale"] is False


def test_a_failed_item_stays_failed_and_an_unchecked_item_has_no_verdict_to_spoil():
    failed = checked(local_state=LocalState.FAILED)
    fresh = factories.workitem()

    workitem_edit_record(item=failed, changed=["queue"], actor="sam", created=False)
    assert not workitem_edit_record(item=fresh, changed=["queue"], actor="sam", created=False)

    failed.refresh_from_db()
    assert failed.local_state == LocalState.FAILED and failed.routability_stale
    fresh.refresh_from_db()
    assert not fresh.routability_stale
