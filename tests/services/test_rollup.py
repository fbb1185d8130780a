"""The hourly rollup kept by the event processor (both paths), submission and the SLA sweep equals
a recompute from the items."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import transaction

from tests.api.support import reference
from tests.services.test_event_batch import (
    DELIVERY_FAULTS,  # noqa: F401  (the scenario's faults, as that test injects them)
    NOW,
    _faulty,
    _faulty_delivery,
    _scenario,
)
from workitems.models import HourlyRollup, SlaPolicy, WorkItem
from workitems.services import event_apply, event_processor
from workitems.services.event_batch import BulkApplyBatch
from workitems.services.event_processor import events_process_batch
from workitems.services.rollup import rollup_rebuild, rollup_recompute, rollup_stored
from workitems.services.sla import sla_sweep

pytestmark = pytest.mark.django_db


def _mixed(ref, *, batched: bool) -> tuple[dict, dict]:
    """Adoptions, links, closes, a reopen, a breach at the close, failing events; then a sweep
    that breaches what is still open past its deadline."""
    with transaction.atomic():
        _scenario(ref)
        # Items the scenario creates directly (not through a writer) count from a rebuild.
        rollup_rebuild()
        writer = BulkApplyBatch if batched else event_apply.ApplyBatch
        with (
            mock.patch.object(
                event_apply, "workitem_sla_on_status", _faulty(event_apply.workitem_sla_on_status)
            ),
            mock.patch.object(writer, "delivery_add", _faulty_delivery(writer.delivery_add)),
            mock.patch.object(event_processor.logger, "warning"),
        ):
            counts = events_process_batch(now=NOW, batched=batched)
        assert counts["failed"] and counts["adopted"]
        swept = sla_sweep(now=NOW + timedelta(hours=3))
        assert swept.breached > 0
        stored, recomputed = rollup_stored(), rollup_recompute()
        transaction.set_rollback(True)
    return stored, recomputed


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "per-event"])
def test_rollup_equals_a_recompute_after_events_and_a_sweep(batched):
    ref = reference()
    SlaPolicy.objects.create(worktype=ref.worktype, threshold_seconds=1800, pause_in_waiting=True)
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        stored, recomputed = _mixed(ref, batched=batched)
    assert stored == recomputed
    totals = {c: sum(r[c] for r in stored.values()) for c in ("opened", "closed", "breached")}
    assert totals["opened"] > 0 and totals["closed"] > 0 and totals["breached"] > 0


def test_the_sweep_adds_its_breaches_to_the_current_hour():
    ref = reference()
    due = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    for n in range(3):
        WorkItem.objects.create(
            external_ref=f"r{n}",
            name="Due",
            worktype=ref.worktype,
            queue=ref.queue,
            genesys_id=f"g{n}",
            date_created=due - timedelta(hours=1),
            sla_deadline=due,
        )
    rollup_rebuild()
    sla_sweep(now=datetime(2026, 7, 1, 10, 42, tzinfo=UTC))
    row = HourlyRollup.objects.get(hour=datetime(2026, 7, 1, 10, tzinfo=UTC))
    assert (row.queue_key, row.breached, row.opened) == (ref.queue.pk, 3, 0)
    assert rollup_stored() == rollup_recompute()


def test_rebuild_rollup_command_replaces_wrong_rows():
    ref = reference()
    WorkItem.objects.create(
        external_ref="r",
        name="Open",
        worktype=ref.worktype,
        genesys_id="g",
        date_created=datetime(2026, 7, 1, 9, 5, tzinfo=UTC),
    )
    HourlyRollup.objects.create(
        queue_key=0, worktype=ref.worktype, hour=datetime(2026, 1, 1, tzinfo=UTC), closed=9
    )
    call_command("rebuild_rollup", stdout=mock.Mock())
    assert rollup_stored() == {
        (0, ref.worktype.pk, datetime(2026, 7, 1, 9, tzinfo=UTC)): {
            "opened": 1,
            "closed": 0,
            "breached": 0,
            "closed_within_sla": 0,
        }
    }
