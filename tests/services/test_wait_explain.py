""" "Why is this item not with an agent yet?": assignment state from events, place in the queue, the
queue's forecast and the routability check re-run against the member mirror, on the item page and
as the dashboard's list."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests import factories
from workitems.services.sla import sla_sweep
from workitems.services.wait_explain import workitem_wait_explain

pytestmark = pytest.mark.django_db


def _setup(now):
    q = factories.queue("Spanish line")
    wt = factories.worktype(default_queue=q)
    spanish = factories.skill("Spanish")
    english = factories.skill("English")
    factories.member(q, routing_status="IDLE", skills=[(english, 5)])

    def waiting(ref, minutes, **kw):
        return factories.workitem(
            queue=q,
            worktype=wt,
            external_ref=ref,
            genesys_id=f"g-{ref}",
            local_state="submitted",
            status_category="Open",
            assignment_state="Unassigned",
            date_created=now - timedelta(minutes=minutes),
            date_modified=now - timedelta(minutes=minutes),
            sla_deadline=now + timedelta(minutes=20),
            **kw,
        )

    older = waiting("older", 40)
    item = waiting("mine", 30, skills=[spanish])
    waiting("fresh", 2)
    return q, older, item


def test_a_waiting_item_is_explained_by_its_place_forecast_and_missing_skill():
    now = timezone.now()
    q, _older, item = _setup(now)
    sla_sweep(now=now)
    why = workitem_wait_explain(item=item, now=now)
    assert why is not None
    assert why.assignment_state == "Unassigned"
    assert (why.position, why.queue_waiting) == (1, 3)
    assert (
        "3 open and waiting" in why.forecast_reason
        and "1 of 1 members on queue" in why.forecast_reason
    )
    assert "1 need skills no on-queue member holds" in why.forecast_reason
    assert why.forecast_breach_at is not None
    assert any("Spanish" in b for b in why.blockers), why.blockers


def test_an_assigned_or_fresh_item_needs_no_explanation():
    now = timezone.now()
    _q, older, _item = _setup(now)
    assert workitem_wait_explain(item=older, now=now) is not None
    older.assignee_id = "agent-1"
    older.save(update_fields=["assignee_id"])
    assert workitem_wait_explain(item=older, now=now) is None
    fresh = older.__class__.objects.get(external_ref="fresh")
    assert workitem_wait_explain(item=fresh, now=now) is None


def test_the_item_page_and_the_dashboard_list_show_it(admin_client):
    now = timezone.now()
    _q, _older, item = _setup(now)
    sla_sweep(now=now)
    page = admin_client.get(f"/admin/workitems/workitem/{item.pk}/change/").content.decode()
    assert "Why is this item not with an agent yet?" in page
    assert "Blocks routing now" in page and "Spanish" in page
    dashboard = admin_client.get("/admin/dashboard/").content.decode()
    listed = dashboard[dashboard.index('id="waiting-long"') :]
    assert f"/admin/workitems/workitem/{item.pk}/change/#why-waiting" in listed
    assert listed.index(">older<") < listed.index(">mine<")
    assert ">fresh<" not in listed
