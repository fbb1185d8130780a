"""Reconciliation with a fake Genesys client: which items are asked about, in what order, and what
each answer does (heal through the lifecycle, unchanged, gone, failed, rate limited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from audits.models import AuditEvent
from simulator.clock import iso
from tests import factories
from tests.api.support import (
    CATEGORY,
    QUEUE_ID,
    STATUS_DONE,
    STATUS_OPEN,
    STATUS_WAITING,
    STATUS_WORKING,
    WORKTYPE_ID,
    reference,
)
from workitems.genesys import GenesysError, RateLimited
from workitems.models import Delivery, InboundEvent, LocalState, StatusTransition, WorkItem
from workitems.selectors.dashboard import health_counts
from workitems.services import reconcile as reconcile_module
from workitems.services.reconcile import (
    FAILED,
    GONE,
    HEALED,
    reconcile_stale,
)
from workitems.services.rollup import rollup_rebuild, rollup_recompute, rollup_stored

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class FakeClient:
    """Answers get_workitem from a dict: Genesys id → REST Workitem, or an exception to raise."""

    def __init__(self, answers: dict | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[str] = []

    def get_workitem(self, *, workitem_id: str) -> dict:
        self.calls.append(workitem_id)
        answer = self.answers[workitem_id]
        if callable(answer) and not isinstance(answer, dict):
            answer = answer()
        if isinstance(answer, Exception):
            raise answer
        return answer


def rest_workitem(gid: str, *, status: str, modified: datetime, **extra) -> dict:
    """The REST `Workitem` shape: nested status/queue/type refs."""
    return {
        "id": gid,
        "name": f"Item {gid}",
        "type": {"id": WORKTYPE_ID},
        "queue": {"id": QUEUE_ID},
        "status": {"id": status},
        "statusCategory": CATEGORY[status],
        "dateCreated": iso(NOW - 3 * HOUR),
        "dateModified": iso(modified),
        "dateStatusChanged": iso(modified),
        "dateClosed": iso(modified) if CATEGORY[status] == "Closed" else None,
        "assignmentState": "Connected",
        **extra,
    }


def not_found(gid: str) -> GenesysError:
    return GenesysError(
        status=404,
        code="not.found",
        message="Work item not found",
        context_id="ctx-404",
        method="GET",
        path=f"/api/v2/taskmanagement/workitems/{gid}",
    )


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ref():
    return reference()


@pytest.fixture
def make_item(ref):
    def make(gid: str, *, modified: datetime | None, **kw) -> WorkItem:
        kw.setdefault("status", ref.open)
        kw.setdefault("status_category", "Open")
        return factories.workitem(
            worktype=ref.worktype,
            queue=ref.queue,
            genesys_id=gid,
            local_state=LocalState.SUBMITTED,
            date_created=NOW - 3 * HOUR,
            date_modified=modified,
            submitted_at=NOW - 3 * HOUR,
            **kw,
        )

    return make


def run(client: FakeClient, **kw):
    kw.setdefault("older_than", timedelta(minutes=30))
    kw.setdefault("now", NOW)
    return reconcile_stale(client=client, **kw)


# --- What a fetched Workitem does -------------------------------------------------------------


def test_a_newer_state_in_genesys_is_applied_with_a_reconcile_transition_delivery_and_audit(
    make_item, ref
):
    item = make_item("wi-1", modified=NOW - HOUR)
    client = FakeClient(
        {"wi-1": rest_workitem("wi-1", status=STATUS_WORKING, modified=NOW - timedelta(minutes=50))}
    )

    result = run(client)

    assert (result.checked, result.healed, result.unchanged) == (1, 1, 0)
    item.refresh_from_db()
    assert item.status == ref.working and item.status_category == "InProgress"
    assert item.date_modified == NOW - timedelta(minutes=50)
    assert item.assignment_state == "Connected"
    transition = StatusTransition.objects.get(workitem=item)
    assert transition.source == "reconcile" and transition.source_event is None
    assert (transition.from_status_name, transition.to_status_name) == ("New", "Working")
    delivery = Delivery.objects.get(workitem=item)
    assert delivery.payload["taskStatus"] == "Working" and delivery.sequence == 1
    audit = AuditEvent.objects.get(action=HEALED)
    assert audit.actor == "system" and audit.object_id == str(item.pk)
    assert audit.correlation_id == item.external_ref
    assert audit.context["from"]["status"] == "New"
    assert audit.context["to"]["status"] == "Working"
    assert audit.context["transition_id"] == transition.pk
    assert audit.context["delivery_id"] == delivery.pk


def test_closing_after_the_deadline_is_healed_with_the_sla_breach_and_the_item_leaves_the_candidates(
    make_item,
):
    item = make_item(
        "wi-1",
        modified=NOW - 2 * HOUR,
        sla_threshold_seconds=3600,
        sla_deadline=NOW - 2 * HOUR,
    )
    rollup_rebuild()  # the item was made directly
    closed_at = NOW - timedelta(minutes=40)
    client = FakeClient({"wi-1": rest_workitem("wi-1", status=STATUS_DONE, modified=closed_at)})

    assert run(client).healed == 1
    # The heal's close and breach reached the hourly rollup.
    assert rollup_stored() == rollup_recompute()

    item.refresh_from_db()
    assert item.status_category == "Closed" and item.date_closed == closed_at
    assert item.sla_breached_at == closed_at
    assert Delivery.objects.get(workitem=item).payload["slaBreached"] is True
    # Closed now: never a candidate again.
    later = FakeClient()
    assert run(later, now=NOW + 2 * HOUR).checked == 0 and later.calls == []


def test_entering_waiting_pauses_the_sla_clock_as_an_event_would(make_item):
    item = make_item(
        "wi-1",
        modified=NOW - HOUR,
        sla_threshold_seconds=7200,
        sla_pause_in_waiting=True,
        sla_deadline=NOW + HOUR,
    )
    moved_at = NOW - timedelta(minutes=45)
    client = FakeClient({"wi-1": rest_workitem("wi-1", status=STATUS_WAITING, modified=moved_at)})

    run(client)

    item.refresh_from_db()
    assert item.status_category == "Waiting" and item.sla_paused_since == moved_at


def test_the_same_state_in_genesys_changes_nothing(make_item):
    item = make_item("wi-1", modified=NOW - HOUR)
    client = FakeClient({"wi-1": rest_workitem("wi-1", status=STATUS_OPEN, modified=NOW - HOUR)})

    result = run(client)

    assert (result.checked, result.healed, result.unchanged) == (1, 0, 1)
    assert not StatusTransition.objects.exists() and not Delivery.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="workitem.reconcile").exists()
    item.refresh_from_db()
    assert item.date_modified == NOW - HOUR


def test_a_newer_change_without_a_status_change_is_healed_without_a_transition(make_item):
    item = make_item("wi-1", modified=NOW - HOUR)
    client = FakeClient(
        {
            "wi-1": rest_workitem(
                "wi-1",
                status=STATUS_OPEN,
                modified=NOW - timedelta(minutes=45),
                assignmentState="Alerting",
            )
        }
    )

    assert run(client).healed == 1

    item.refresh_from_db()
    assert item.assignment_state == "Alerting"
    assert not StatusTransition.objects.exists() and not Delivery.objects.exists()
    audit = AuditEvent.objects.get(action=HEALED)
    assert audit.context["from"]["status"] == audit.context["to"]["status"] == "New"
    assert "assignment_state" in audit.context["fields"]


def test_an_event_applied_while_genesys_was_asked_wins_and_nothing_is_applied_twice(make_item, ref):
    item = make_item("wi-1", modified=NOW - HOUR)
    newer = NOW - timedelta(minutes=40)

    def event_lands_first():
        # The event processor applies the same change while our GET is in flight.
        WorkItem.objects.filter(pk=item.pk).update(
            date_modified=newer, status=ref.working, status_category="InProgress"
        )
        return rest_workitem("wi-1", status=STATUS_WORKING, modified=newer)

    result = run(FakeClient({"wi-1": event_lands_first}))

    assert (result.healed, result.unchanged) == (0, 1)
    assert not StatusTransition.objects.exists() and not Delivery.objects.exists()


def test_an_item_deleted_in_genesys_is_recorded_as_gone_kept_unchanged_and_not_asked_again_soon(
    make_item, ref
):
    item = make_item("wi-1", modified=NOW - HOUR)
    client = FakeClient({"wi-1": not_found("wi-1")})

    result = run(client)

    assert (result.checked, result.gone, result.failed) == (1, 1, 0)
    item.refresh_from_db()
    assert item.status == ref.open and item.date_closed is None
    assert item.local_state == LocalState.SUBMITTED
    audit = AuditEvent.objects.get(action=GONE)
    assert audit.outcome == "info" and audit.context["context_id"] == "ctx-404"
    # A new pass later the same day skips it; after GONE_RECHECK it is asked about again.
    assert run(client, now=NOW + HOUR).gone == 0
    assert client.calls == ["wi-1"]
    cache.delete(reconcile_module.GONE_KEY.format(pk=item.pk))  # as the marker's TTL would
    assert run(client, now=NOW + 2 * HOUR).gone == 1


def test_a_rate_limit_stops_the_run_and_the_next_run_starts_with_the_item_it_stopped_at(
    make_item,
):
    for n in (1, 2, 3):
        make_item(f"wi-{n}", modified=NOW - timedelta(hours=4 - n))
    same = {
        f"wi-{n}": rest_workitem(
            f"wi-{n}", status=STATUS_OPEN, modified=NOW - timedelta(hours=4 - n)
        )
        for n in (1, 2, 3)
    }
    client = FakeClient({**same, "wi-2": RateLimited(retry_after=3600, status=429)})

    result = run(client)

    assert client.calls == ["wi-1", "wi-2"]
    assert result.rate_limited and result.retry_after == 3600
    assert (result.checked, result.unchanged) == (1, 1)
    assert "429" in result.stopped

    retry = FakeClient(same)
    run(retry, now=NOW + timedelta(minutes=5))
    assert retry.calls == ["wi-2", "wi-3"]


def test_an_error_on_one_item_is_recorded_and_the_run_carries_on(make_item):
    make_item("wi-1", modified=NOW - 2 * HOUR)
    make_item("wi-2", modified=NOW - HOUR)
    client = FakeClient(
        {
            "wi-1": GenesysError(status=503, message="Service unavailable", method="GET"),
            "wi-2": rest_workitem(
                "wi-2", status=STATUS_WORKING, modified=NOW - timedelta(minutes=45)
            ),
        }
    )

    result = run(client)

    assert (result.checked, result.failed, result.healed) == (2, 1, 1)
    failed = AuditEvent.objects.get(action=FAILED)
    assert failed.outcome == "failure" and "503" in failed.context["error"]


def test_genesys_unreachable_stops_the_run_instead_of_failing_every_item(make_item):
    make_item("wi-1", modified=NOW - 2 * HOUR)
    make_item("wi-2", modified=NOW - HOUR)
    unreachable = GenesysError(
        message="ConnectTimeoutError", method="GET", hint="Could not connect"
    )
    client = FakeClient({"wi-1": unreachable, "wi-2": unreachable})

    result = run(client)

    assert client.calls == ["wi-1"] and result.checked == 0 and result.stopped
    assert not AuditEvent.objects.filter(action=FAILED).exists()


# --- Which items are asked about ----------------------------------------------------------------


def test_items_are_asked_about_oldest_change_first(make_item):
    make_item("wi-mid", modified=NOW - 2 * HOUR)
    make_item("wi-new", modified=NOW - HOUR)
    make_item("wi-old", modified=NOW - 5 * HOUR)
    client = FakeClient(
        {
            gid: rest_workitem(gid, status=STATUS_OPEN, modified=NOW - 6 * HOUR)
            for gid in ("wi-mid", "wi-new", "wi-old")
        }
    )

    run(client)

    assert client.calls == ["wi-old", "wi-mid", "wi-new"]


def test_a_run_asks_about_at_most_limit_items_the_oldest(make_item):
    for hours in (1, 2, 3):
        make_item(f"wi-{hours}h", modified=NOW - timedelta(hours=hours))
    client = FakeClient(
        {
            f"wi-{h}h": rest_workitem(f"wi-{h}h", status=STATUS_OPEN, modified=NOW - 9 * HOUR)
            for h in (1, 2, 3)
        }
    )

    result = run(client, limit=2)

    assert client.calls == ["wi-3h", "wi-2h"] and result.checked == 2


def test_items_changed_or_heard_from_within_the_threshold_are_never_picked(make_item):
    make_item("wi-recent", modified=NOW - timedelta(minutes=29))
    quiet_but_event = make_item("wi-event", modified=NOW - 5 * HOUR)
    InboundEvent.objects.create(
        received_at=NOW - timedelta(minutes=10),
        body="{}",
        workitem_genesys_id=quiet_but_event.genesys_id,
    )
    make_item("wi-stale", modified=NOW - timedelta(minutes=31))
    client = FakeClient(
        {"wi-stale": rest_workitem("wi-stale", status=STATUS_OPEN, modified=NOW - HOUR)}
    )

    run(client)

    assert client.calls == ["wi-stale"]


def test_closed_unsubmitted_and_unlinked_items_are_never_picked(make_item, ref):
    make_item("wi-closed", modified=NOW - 5 * HOUR, date_closed=NOW - 5 * HOUR)
    factories.workitem(worktype=ref.worktype, local_state=LocalState.DRAFT)
    make_item(None, modified=NOW - 5 * HOUR)
    factories.workitem(worktype=ref.worktype, genesys_id="wi-failed", local_state=LocalState.FAILED)
    client = FakeClient()

    assert run(client).checked == 0 and client.calls == []


def test_an_item_without_date_modified_counts_from_its_submission(make_item):
    make_item("wi-1", modified=None)  # submitted 3 h ago
    client = FakeClient(
        {"wi-1": rest_workitem("wi-1", status=STATUS_WORKING, modified=NOW - 2 * HOUR)}
    )

    assert run(client).healed == 1


def test_the_next_run_carries_on_where_the_last_stopped_and_starts_over_only_after_the_threshold(
    make_item,
):
    for n in (1, 2, 3):
        make_item(f"wi-{n}", modified=NOW - timedelta(hours=4 - n))
    client = FakeClient(
        {
            f"wi-{n}": rest_workitem(f"wi-{n}", status=STATUS_OPEN, modified=NOW - 9 * HOUR)
            for n in (1, 2, 3)
        }
    )

    run(client, limit=2)
    run(client, limit=2, now=NOW + timedelta(minutes=5))
    # Every stale item was asked about in this pass: not again until 30 minutes after it began.
    run(client, limit=2, now=NOW + timedelta(minutes=10))
    assert client.calls == ["wi-1", "wi-2", "wi-3"]

    run(client, limit=2, now=NOW + timedelta(minutes=30))
    assert client.calls[3:] == ["wi-1", "wi-2"]


# --- Reporting ------------------------------------------------------------------------------------


def test_the_dashboard_counts_each_healing_in_the_last_24_hours(make_item):
    make_item("wi-1", modified=NOW - HOUR)
    make_item("wi-2", modified=NOW - HOUR)
    run(
        FakeClient(
            {
                gid: rest_workitem(gid, status=STATUS_WORKING, modified=NOW - timedelta(minutes=45))
                for gid in ("wi-1", "wi-2")
            }
        )
    )
    healed_at = AuditEvent.objects.filter(action=HEALED).first().occurred_at

    assert health_counts(now=healed_at + timedelta(hours=1))["reconciled"] == 2
    assert health_counts(now=healed_at + timedelta(hours=25))["reconciled"] == 0


def test_the_command_prints_the_counts(make_item, monkeypatch, capsys):
    now = timezone.now()
    make_item("wi-1", modified=now - HOUR)
    make_item("wi-2", modified=now - timedelta(minutes=10))  # newer than --older-than 30
    client = FakeClient(
        {"wi-1": rest_workitem("wi-1", status=STATUS_WORKING, modified=now - timedelta(minutes=45))}
    )
    monkeypatch.setattr(reconcile_module, "get_client", lambda: client)

    call_command("reconcile", "--older-than", "30", "--limit", "5")

    out = capsys.readouterr().out
    assert "1 checked: 1 healed, 0 unchanged, 0 gone in Genesys, 0 failed" in out
    assert client.calls == ["wi-1"]


def test_the_command_says_when_a_rate_limit_stopped_the_run(make_item, monkeypatch, capsys):
    make_item("wi-1", modified=timezone.now() - HOUR)
    client = FakeClient({"wi-1": RateLimited(retry_after=600, status=429, message="Rate limit")})
    monkeypatch.setattr(reconcile_module, "get_client", lambda: client)

    call_command("reconcile", "--older-than", "0")

    out = capsys.readouterr().out
    assert "0 checked" in out and "stopped early: Genesys 429" in out


def test_the_task_uses_the_reconcile_after_setting(make_item, monkeypatch, settings):
    settings.RECONCILE_AFTER_MINUTES = 120
    make_item("wi-1", modified=timezone.now() - HOUR)
    client = FakeClient()
    monkeypatch.setattr(reconcile_module, "get_client", lambda: client)

    from workitems.tasks import reconcile_stale_items

    assert reconcile_stale_items().startswith("0 checked")
    assert client.calls == []


# --- Items frozen by a dateModified from the future ----------------------------------------------

FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)


def test_an_item_frozen_by_a_future_watermark_is_healed_and_genesys_date_modified_wins(
    make_item, ref
):
    """An event dated 9999-12-31 (accepted before ingest refused such dates) made every later
    event stale, and reconciliation never selected the item: its last change was in 9999."""
    item = make_item("wi-frozen", modified=FAR_FUTURE)
    # Events keep arriving for it (each stale): the item never looks quiet.
    InboundEvent.objects.create(
        received_at=NOW - timedelta(minutes=1), body="{}", workitem_genesys_id="wi-frozen",
        state=InboundEvent.State.STALE,
    )  # fmt: skip
    genesys = FakeClient(
        {"wi-frozen": rest_workitem("wi-frozen", status=STATUS_WORKING, modified=NOW - HOUR)}
    )
    result = run(genesys)
    assert (result.checked, result.healed) == (1, 1)
    item.refresh_from_db()
    assert item.date_modified == NOW - HOUR  # Genesys's own, though older than what we held
    assert item.status == ref.working
    healed = AuditEvent.objects.get(action=HEALED, object_id=str(item.pk))
    assert healed.context["future_watermark_replaced"] is True
    assert healed.context["held_date_modified"].startswith("9999-12-31")


def test_a_watermark_within_the_future_skew_is_not_frozen(make_item):
    make_item("wi-soon", modified=NOW + timedelta(hours=2))
    assert run(FakeClient({})).checked == 0  # recent, and not beyond the skew: not asked about


def test_once_healed_the_items_next_real_event_applies(make_item, ref):
    import json

    from tests.api.support import body
    from workitems.services.event_processor import events_drain
    from workitems.services.ingest import event_ingest

    item = make_item("wi-frozen", modified=FAR_FUTURE)
    earlier = rest_workitem("wi-frozen", status=STATUS_WORKING, modified=NOW - HOUR)
    run(FakeClient({"wi-frozen": earlier}))
    real = body("wi-frozen", status=STATUS_DONE, modified=iso(NOW))
    event_ingest(body=json.dumps(real).encode(), headers={}, received_at=NOW)
    events_drain()
    item.refresh_from_db()
    assert item.status == ref.done and item.date_modified == NOW


def test_the_admin_refresh_heals_the_selected_items_at_once_as_the_operator(
    make_item, ref, admin_client, admin_user, monkeypatch
):
    frozen = make_item("wi-frozen", modified=FAR_FUTURE)
    fresh = make_item("wi-fresh", modified=timezone.now())
    genesys = FakeClient(
        {
            "wi-frozen": rest_workitem("wi-frozen", status=STATUS_WORKING, modified=NOW - HOUR),
            "wi-fresh": rest_workitem("wi-fresh", status=STATUS_WORKING, modified=NOW - 2 * HOUR),
        }
    )
    monkeypatch.setattr(reconcile_module, "get_client", lambda: genesys)
    page = admin_client.post(
        "/admin/workitems/workitem/",
        {"action": "refresh_from_genesys", "_selected_action": [frozen.pk, fresh.pk]},
        follow=True,
    )
    assert page.status_code == 200
    assert "2 checked: 1 healed, 1 unchanged" in page.content.decode()
    frozen.refresh_from_db()
    assert frozen.date_modified == NOW - HOUR and frozen.status == ref.working
    assert AuditEvent.objects.get(action=HEALED).actor == admin_user.get_username()
