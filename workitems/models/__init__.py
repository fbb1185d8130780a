from workitems.models.reference import (
    Queue,
    QueueMember,
    Skill,
    StatusCategory,
    SyncRun,
    WorkItemStatus,
    Workbin,
    WorkType,
)

__all__ = [
    "Queue",
    "QueueMember",
    "Skill",
    "StatusCategory",
    "SyncRun",
    "WorkItemStatus",
    "Workbin",
    "WorkType",
]
