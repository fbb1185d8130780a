"""A supervisor created or edited a draft work item (the admin form).

An edit that changes anything the routability check reads makes its verdict stale: the verdict is
cleared (so the submit confirmation, the item page's Submit and the submit command all check the
item again before it goes), the report is kept and shown as stale, and a CHECKED item is a DRAFT
again. Every create and edit is audited, so the item's timeline tells it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import FieldDoesNotExist

from audits.models import Outcome
from audits.services import record_entry
from workitems.models import LocalState, WorkItem
from workitems.services.item_audit import item_entry
from workitems.services.routability import CHECK_INPUTS


def _label(name: str) -> str:
    try:
        return str(WorkItem._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name.replace("_", " ")


def workitem_edit_record(
    *, item: WorkItem, changed: Iterable[str], actor: str, created: bool
) -> bool:
    """Audit the create or edit of a saved `item`; for an edit of a check input, mark its verdict
    stale. Returns whether it did. `changed`: the model fields the edit changed."""
    changed = sorted(set(changed))
    if created:
        record_entry(
            item_entry(
                item,
                actor=actor,
                action="workitem.create",
                outcome=Outcome.SUCCESS,
                context={"source": "form"},
            )
        )
        return False
    if not changed:
        return False
    inputs = [name for name in changed if name in CHECK_INPUTS]
    had_verdict = bool(item.routability_verdict) or item.routability_report is not None
    stale = bool(inputs) and had_verdict
    if stale:
        # Compare-and-set on the local state: an item claimed for submission meanwhile keeps it.
        WorkItem.objects.filter(pk=item.pk).update(routability_verdict="", routability_stale=True)
        WorkItem.objects.filter(pk=item.pk, local_state=LocalState.CHECKED).update(
            local_state=LocalState.DRAFT
        )
        item.refresh_from_db(fields=["routability_verdict", "routability_stale", "local_state"])
    record_entry(
        item_entry(
            item,
            actor=actor,
            action="workitem.edit",
            outcome=Outcome.SUCCESS,
            context={
                "fields": changed,
                "labels": [_label(name) for name in changed],
                "verdict_stale": stale,
            },
        )
    )
    return stale
