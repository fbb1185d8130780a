"""SLA deadlines, pauses and the breach sweep.

Definitions (docs/SLA.md): the SLA deadline is the earlier of the item's due date and
created + the policy threshold, moved later by the time spent paused (a Waiting-category status,
when the policy says so). Breached: not closed by the deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import DurationField, F, Q, Value
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from audits.services import record
from workitems.models import SlaPolicy, StatusCategory, WorkItem
from workitems.services.breach_forecast import (
    breach_forecast_refresh,
    forecast_summary,
    waiting_long_summary,
)
from workitems.services.rollup import settled_windows_refresh
from workitems.services.sla_followups import breaches_mark

logger = logging.getLogger(__name__)

# "At risk": open, unpaused, less than this share of its threshold left. Labels say AT_RISK_PERCENT.
AT_RISK_SHARE = 0.2
AT_RISK_PERCENT = round(AT_RISK_SHARE * 100)
LAST_SWEEP_CACHE_KEY = "sla:last-sweep"  # read by the dashboard and /readyz


@dataclass(frozen=True)
class PolicyTerms:
    threshold_seconds: int
    pause_in_waiting: bool
    policy: SlaPolicy | None


def _terms(policies: dict[int | None, SlaPolicy], queue_id: int | None) -> PolicyTerms:
    policy = policies.get(queue_id) if queue_id else None
    policy = policy or policies.get(None)
    if policy is None:
        return PolicyTerms(settings.SLA_DEFAULT_SECONDS, False, None)
    return PolicyTerms(policy.threshold_seconds, policy.pause_in_waiting, policy)


def sla_terms(*, worktype_id: int, queue_id: int | None) -> PolicyTerms:
    """A queue-specific policy wins over the worktype's; without either, the default applies."""
    policies = {
        p.queue_id: p
        for p in SlaPolicy.objects.filter(worktype_id=worktype_id).filter(
            Q(queue_id=queue_id) | Q(queue__isnull=True)
        )
    }
    return _terms(policies, queue_id)


def sla_terms_table() -> Callable[[int, int | None], PolicyTerms]:
    """`sla_terms` for many items at once: every policy read in one query (a small table)."""
    by_worktype: dict[int, dict[int | None, SlaPolicy]] = {}
    for policy in SlaPolicy.objects.all():
        by_worktype.setdefault(policy.worktype_id, {})[policy.queue_id] = policy
    return lambda worktype_id, queue_id: _terms(by_worktype.get(worktype_id, {}), queue_id)


def due_date_risk(*, due: datetime | None, now: datetime, threshold_seconds: int) -> str:
    """What a due date means for the SLA of an item submitted now ("" if nothing): the deadline
    is the earlier of the due date and creation + the threshold, so a past due date breaches at
    once, and one sooner than AT_RISK_SHARE of the threshold starts out at risk."""
    if due is None:
        return ""
    when = timezone.localtime(due).strftime("%Y-%m-%d %H:%M %Z")
    if due <= now:
        return f"will breach on submit: the due date {when} has already passed"
    threshold = timedelta(seconds=threshold_seconds)
    if due - now < threshold * AT_RISK_SHARE:
        left = int((due - now).total_seconds() // 60)
        return (
            f"at risk as soon as it is submitted: due {when}, {left} min from now, earlier "
            f"than the SLA allows (less than {AT_RISK_PERCENT}% of its "
            f"{threshold_seconds // 60} min threshold)"
        )
    return ""


def sla_deadline(
    *, date_created: datetime, date_due: datetime | None, threshold_seconds: int, paused: timedelta
) -> datetime:
    base = date_created + timedelta(seconds=threshold_seconds)
    if date_due is not None and date_due < base:
        base = date_due
    return base + paused


def workitem_sla_start(
    *, item: WorkItem, terms_for: Callable[..., PolicyTerms] = sla_terms
) -> None:
    """Set an item's SLA terms and deadline once Genesys has given it a creation time.

    Mutates `item` only; the caller saves it with the rest of its change. `terms_for` is sla_terms
    or a cache of it (the event processor's batch looks each worktype and queue up once).
    """
    if item.date_created is None:
        return
    terms = terms_for(worktype_id=item.worktype_id, queue_id=item.queue_id)
    item.sla_threshold_seconds = terms.threshold_seconds
    item.sla_pause_in_waiting = terms.pause_in_waiting
    item.sla_deadline = sla_deadline(
        date_created=item.date_created,
        date_due=item.date_due,
        threshold_seconds=terms.threshold_seconds,
        paused=item.sla_paused,
    )


SLA_FIELDS = [
    "sla_threshold_seconds",
    "sla_pause_in_waiting",
    "sla_deadline",
    "sla_paused",
    "sla_paused_since",
    "sla_breached_at",
]


def workitem_sla_on_status(
    *,
    item: WorkItem,
    old_category: str,
    new_category: str,
    at: datetime,
    terms_for: Callable[..., PolicyTerms] = sla_terms,
) -> None:
    """Keep pause and breach right across a status change. Mutates `item`; the caller saves.

    Entering Waiting starts a pause (when the policy pauses); leaving it moves the deadline by the
    time paused. Closing after the deadline marks the breach at the close.
    """
    if item.sla_deadline is None:
        workitem_sla_start(item=item, terms_for=terms_for)
    waiting = StatusCategory.WAITING
    if item.sla_pause_in_waiting and new_category == waiting and item.sla_paused_since is None:
        item.sla_paused_since = at
    if item.sla_paused_since is not None and new_category != waiting:
        paused = max(at - item.sla_paused_since, timedelta(0))
        item.sla_paused += paused
        if item.sla_deadline is not None:
            item.sla_deadline += paused
        item.sla_paused_since = None
    if (
        new_category == StatusCategory.CLOSED
        and item.sla_breached_at is None
        and item.sla_deadline is not None
        and at > item.sla_deadline
    ):
        item.sla_breached_at = at


def _recompute(*, scope: Q, threshold_seconds: int, pause_in_waiting: bool) -> int:
    created_plus = F("date_created") + Value(
        timedelta(seconds=threshold_seconds), output_field=DurationField()
    )
    return WorkItem.objects.filter(
        scope, date_closed__isnull=True, date_created__isnull=False
    ).update(
        sla_threshold_seconds=threshold_seconds,
        sla_pause_in_waiting=pause_in_waiting,
        sla_deadline=Least(Coalesce(F("date_due"), created_plus), created_plus) + F("sla_paused"),
    )


def _worktype_scope(worktype_id: int) -> Q:
    """The worktype's items outside queues that have their own policy for it."""
    specific = SlaPolicy.objects.filter(worktype_id=worktype_id, queue__isnull=False)
    return Q(worktype_id=worktype_id) & ~Q(queue_id__in=specific.values("queue_id"))


def sla_policy_apply(*, policy: SlaPolicy, actor: str) -> int:
    """Recompute the open items a policy governs in one set-based UPDATE; returns rows changed."""
    if policy.queue_id:
        scope = Q(worktype_id=policy.worktype_id, queue_id=policy.queue_id)
    else:
        scope = _worktype_scope(policy.worktype_id)
    changed = _recompute(
        scope=scope,
        threshold_seconds=policy.threshold_seconds,
        pause_in_waiting=policy.pause_in_waiting,
    )
    record(
        actor=actor,
        action="sla.policy.applied",
        object_type="SlaPolicy",
        object_id=str(policy.pk),
        context={"threshold_seconds": policy.threshold_seconds, "items": changed},
    )
    return changed


def sla_policy_delete(*, policy: SlaPolicy, actor: str) -> int:
    """Delete a policy; its open items fall back to the worktype's policy or the default."""
    worktype_id, queue_id, pk = policy.worktype_id, policy.queue_id, policy.pk
    with transaction.atomic():
        policy.delete()
        fallback = sla_terms(worktype_id=worktype_id, queue_id=queue_id)
        scope = (
            Q(worktype_id=worktype_id, queue_id=queue_id)
            if queue_id
            else _worktype_scope(worktype_id)
        )
        changed = _recompute(
            scope=scope,
            threshold_seconds=fallback.threshold_seconds,
            pause_in_waiting=fallback.pause_in_waiting,
        )
        record(
            actor=actor,
            action="sla.policy.deleted",
            object_type="SlaPolicy",
            object_id=str(pk),
            context={"fallback_threshold_seconds": fallback.threshold_seconds, "items": changed},
        )
    return changed


@dataclass
class SweepResult:
    breached: int
    seconds: float


def sla_sweep(*, now: datetime | None = None) -> SweepResult:
    """Mark open, unpaused items past their deadline as breached, then write their audit events and
    deliveries in bulk; then recompute the breach forecast (services/breach_forecast.py) and the
    dashboard's settled windows (services/rollup.settled_windows_refresh). Safe when
    two run at once: the UPDATE's WHERE makes each item breach once, and only the rows this run
    marked (identified by its exact timestamp) get follow-ups.
    """
    started = time.monotonic()
    now = now or timezone.now()
    with transaction.atomic():
        breached = breaches_mark(now=now)
    forecast = _advice(
        "breach forecast", lambda: forecast_summary(breach_forecast_refresh(now=now))
    )
    waiting_long = _advice("waiting list", lambda: waiting_long_summary(now=now))
    _advice("dashboard windows", lambda: settled_windows_refresh(now=now))
    result = SweepResult(breached=breached, seconds=time.monotonic() - started)
    cache.set(
        LAST_SWEEP_CACHE_KEY,
        {
            "at": now.isoformat(),
            "seconds": round(result.seconds, 3),
            "breached": breached,
            "forecast": forecast,
            "waiting_long": waiting_long,
        },
        timeout=None,
    )
    logger.info("sla sweep", extra={"breached": breached, "seconds": round(result.seconds, 3)})
    return result


def _advice(what: str, compute):
    """The forecast, the waiting list and the dashboard's settled windows are advice: a failure to
    compute them is logged and must not stop breaches being marked or the sweep being recorded."""
    try:
        return compute()
    except Exception:
        logger.exception("%s failed", what)
        return None


def sla_last_sweep() -> dict | None:
    """{"at": iso time, "seconds": duration, "breached": count, "forecast": per-queue figures
    (services/breach_forecast.forecast_summary) or None, "waiting_long": the longest-waiting
    unassigned items (services/wait_explain.waiting_long_summary) or None} of the last sweep."""
    return cache.get(LAST_SWEEP_CACHE_KEY)
