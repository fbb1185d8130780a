from workitems.models.events import InboundEvent, StatusTransition
from workitems.models.forecast import QueueForecast
from workitems.models.imports import ImportBatch
from workitems.models.outbox import Delivery, DeliveryAttempt
from workitems.models.reference import (
    Queue,
    QueueMember,
    Skill,
    StatusCategory,
    SyncRun,
    Workbin,
    WorkItemStatus,
    WorkType,
)
from workitems.models.rollup import HourlyRollup
from workitems.models.sla import SlaPolicy
from workitems.models.subscriptions import EventSubscription
from workitems.models.workitem import LocalState, Verdict, WorkItem

__all__ = [
    "Delivery",
    "DeliveryAttempt",
    "EventSubscription",
    "HourlyRollup",
    "InboundEvent",
    "QueueForecast",
    "SlaPolicy",
    "StatusTransition",
    "ImportBatch",
    "LocalState",
    "Verdict",
    "WorkItem",
    "Queue",
    "QueueMember",
    "Skill",
    "StatusCategory",
    "SyncRun",
    "WorkItemStatus",
    "Workbin",
    "WorkType",
]
