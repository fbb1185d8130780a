from workitems.models.imports import ImportBatch
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
from workitems.models.workitem import LocalState, Verdict, WorkItem

__all__ = [
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
