"""Words for the audit trail's codes: a label per action, and the admin page of each object type.

One table for the admin list, the detail page and every export format. An action missing here
shows its code, so a new action is never hidden, only less readable until it is added.
"""

from __future__ import annotations

ACTION_LABELS: dict[str, str] = {
    "admin.login_throttled": "Login throttled",
    "audit.export": "Audit trail exported",
    "delivery.dead": "Delivery given up (dead)",
    "delivery.replay": "Delivery replayed",
    "delivery.replay_requested": "Delivery replay requested",
    "delivery.retry": "Delivery retry requested",
    "delivery.skip": "Delivery skipped",
    "inboundevent.replayed": "Inbound event replayed",
    "reference.sync": "Reference data synced",
    "reference.sync_requested": "Reference data refresh requested",
    "sla.breached": "SLA breached",
    "sla.export": "SLA report exported",
    "sla.policy.applied": "SLA policy applied",
    "sla.policy.deleted": "SLA policy deleted",
    "subscription.delete": "Event subscription deleted",
    "subscription.disable": "Event subscription disabled",
    "subscription.enable": "Event subscription enabled",
    "subscription.push": "Event subscription pushed to Genesys",
    "subscription.test": "Event subscription tested",
    "workitem.check_routability": "Routability checked",
    "workitem.create": "Work item created",
    "workitem.event.adopted": "Event adopted an item made in Genesys",
    "workitem.event.applied": "Event applied",
    "workitem.event.deleted": "Event: deleted in Genesys",
    "workitem.event.failed": "Event failed",
    "workitem.event.ignored": "Event ignored",
    "workitem.event.stale": "Event stale (older than held)",
    "workitem.import": "Work items imported",
    "workitem.import.preview": "Import previewed",
    "workitem.reconcile.failed": "Reconciliation failed",
    "workitem.reconcile.gone": "Reconciliation: gone from Genesys",
    "workitem.reconcile.healed": "Healed by reconciliation",
    "workitem.submit": "Submitted to Genesys",
    "workitem.submit.parked": "Submission parked (rate limit)",
    "workitem.submit.refused": "Submission refused",
    "workitem.submit.requested": "Submission requested",
}


def action_label(code: str) -> str:
    return ACTION_LABELS.get(code) or code


# object_type as the writers spell it → the admin's "app_label.model" of that object.
OBJECT_MODELS: dict[str, str] = {
    "WorkItem": "workitems.workitem",
    "InboundEvent": "workitems.inboundevent",
    "ImportBatch": "workitems.importbatch",
    "EventSubscription": "workitems.eventsubscription",
    "SlaPolicy": "workitems.slapolicy",
    "SyncRun": "workitems.syncrun",
    "Delivery": "workitems.delivery",
    "delivery": "workitems.delivery",  # rows written before object_type was the model's name
}
