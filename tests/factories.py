"""Small factories for reference data and work items. Each returns a saved object."""

from __future__ import annotations

import itertools
import uuid

from workitems.models import (
    Queue,
    QueueMember,
    Skill,
    StatusCategory,
    Workbin,
    WorkItem,
    WorkItemStatus,
    WorkType,
)

_seq = itertools.count(1)


def gid() -> str:
    return str(uuid.uuid4())


def workbin(**kw) -> Workbin:
    return Workbin.objects.create(**{"genesys_id": gid(), "name": f"Workbin {next(_seq)}", **kw})


def skill(name: str | None = None, **kw) -> Skill:
    return Skill.objects.create(
        **{"genesys_id": gid(), "name": name or f"skill-{next(_seq)}", **kw}
    )


def queue(name: str | None = None, **kw) -> Queue:
    return Queue.objects.create(
        **{"genesys_id": gid(), "name": name or f"Queue {next(_seq)}", **kw}
    )


def member(
    q: Queue,
    *,
    name: str | None = None,
    joined: bool = True,
    routing_status: str = "IDLE",
    skills: list[tuple[Skill, float]] = (),
    **kw,
) -> QueueMember:
    return QueueMember.objects.create(
        queue=q,
        user_id=kw.pop("user_id", gid()),
        name=name or f"Agent {next(_seq)}",
        joined=joined,
        routing_status=routing_status,
        skills=[
            {"id": s.genesys_id, "name": s.name, "proficiency": p, "state": "active"}
            for s, p in skills
        ],
        **kw,
    )


def worktype(*, with_statuses: bool = True, **kw) -> WorkType:
    kw.setdefault("default_workbin", workbin())
    wt = WorkType.objects.create(**{"genesys_id": gid(), "name": f"Worktype {next(_seq)}", **kw})
    if with_statuses:
        for name, category in [
            ("New", StatusCategory.OPEN),
            ("Working", StatusCategory.IN_PROGRESS),
            ("On hold", StatusCategory.WAITING),
            ("Done", StatusCategory.CLOSED),
        ]:
            status(wt, name=name, category=category)
        wt.default_status = wt.statuses.get(name="New")
        wt.save(update_fields=["default_status"])
    return wt


def status(wt: WorkType, *, name: str, category: str, **kw) -> WorkItemStatus:
    return WorkItemStatus.objects.create(
        genesys_id=gid(), worktype=wt, name=name, category=category, **kw
    )


def workitem(**kw) -> WorkItem:
    skills = kw.pop("skills", [])
    if "worktype" not in kw:
        kw["worktype"] = worktype(default_queue=kw.get("queue") or queue())
    n = next(_seq)
    item = WorkItem.objects.create(**{"external_ref": f"ref-{n}", "name": f"Work item {n}", **kw})
    if skills:
        item.skills.set(skills)
    return item
