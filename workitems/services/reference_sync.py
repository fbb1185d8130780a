"""Refresh the reference-data mirror (queues, skills, workbins, worktypes, statuses, members).

Each kind is read whole from Genesys, compared with the mirror, and only differences are written:
a second sync with nothing changed creates, updates and deactivates nothing. Objects no longer
returned are marked inactive, never deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from audits.models import Outcome
from audits.services import record
from workitems.genesys import GenesysClient, GenesysError, get_client
from workitems.models import (
    Queue,
    QueueMember,
    Skill,
    SyncRun,
    Workbin,
    WorkItemStatus,
    WorkType,
)
from workitems.services.custom_fields import schema_fields

logger = logging.getLogger(__name__)
Json = dict[str, Any]

# Dependency order: later kinds point at earlier ones.
KINDS = ("workbins", "skills", "queues", "worktypes", "members")


@dataclass
class KindCounts:
    seen: int = 0
    created: int = 0
    updated: int = 0
    deactivated: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.deactivated

    def add(self, other: KindCounts) -> None:
        self.seen += other.seen
        self.created += other.created
        self.updated += other.updated
        self.deactivated += other.deactivated


@dataclass
class SyncResult:
    run: SyncRun
    counts: dict[str, KindCounts] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(c.changed for c in self.counts.values())


def _ref_id(value: Mapping[str, Any] | None) -> str:
    return (value or {}).get("id") or ""


def _upsert(
    model: type[models.Model],
    rows: Mapping[str, dict[str, Any]],
    *,
    scope: models.Q,
    key: str = "genesys_id",
    now,
) -> KindCounts:
    """Make the mirror rows within `scope` match `rows` (keyed by `key`) with set-based writes."""
    counts = KindCounts(seen=len(rows))
    existing = {getattr(obj, key): obj for obj in model.objects.filter(scope)}
    to_create, to_update, changed_fields = [], [], set()
    for ident, values in rows.items():
        values = {"active": True, **values}
        obj = existing.get(ident)
        if obj is None:
            to_create.append(model(**{key: ident, **values, "synced_at": now}))
            continue
        diff = {name for name, value in values.items() if getattr(obj, name) != value}
        if diff:
            for name in diff:
                setattr(obj, name, values[name])
            changed_fields |= diff
            to_update.append(obj)
    model.objects.bulk_create(to_create, batch_size=500)
    if to_update:
        model.objects.bulk_update(to_update, sorted(changed_fields), batch_size=500)
    counts.created, counts.updated = len(to_create), len(to_update)
    counts.deactivated = (
        model.objects.filter(scope, active=True)
        .exclude(**{f"{key}__in": list(rows)})
        .update(active=False)
    )
    model.objects.filter(scope, **{f"{key}__in": list(rows)}).update(synced_at=now)
    return counts


def _queue_fields(q: Mapping[str, Any]) -> dict[str, Any]:
    division = q.get("division") or {}
    return {
        "name": q["name"],
        "division_id": division.get("id", ""),
        "division_name": division.get("name", ""),
        "description": q.get("description") or "",
        "member_count": q.get("memberCount") or 0,
        "user_member_count": q.get("userMemberCount") or 0,
        "joined_member_count": q.get("joinedMemberCount") or 0,
        "skill_evaluation_method": q.get("skillEvaluationMethod") or "ALL",
        "scoring_method": q.get("scoringMethod") or "",
    }


def _workbin_fields(w: Mapping[str, Any]) -> dict[str, Any]:
    division = w.get("division") or {}
    return {
        "name": w["name"],
        "division_id": division.get("id", ""),
        "division_name": division.get("name", ""),
        "description": w.get("description") or "",
    }


def _pk_map(model: type[models.Model]) -> dict[str, int]:
    return dict(model.objects.values_list("genesys_id", "pk"))


def _apply_workbins(fetched: list[Json], now) -> KindCounts:
    rows = {w["id"]: _workbin_fields(w) for w in fetched}
    return _upsert(Workbin, rows, scope=models.Q(), now=now)


def _apply_skills(fetched: list[Json], now) -> KindCounts:
    rows = {}
    for skill in fetched:
        state = skill.get("state") or "active"
        # A skill Genesys reports as inactive or deleted cannot route work.
        rows[skill["id"]] = {"name": skill["name"], "state": state, "active": state == "active"}
    return _upsert(Skill, rows, scope=models.Q(), now=now)


def _apply_queues(fetched: list[Json], now) -> KindCounts:
    rows = {q["id"]: _queue_fields(q) for q in fetched}
    return _upsert(Queue, rows, scope=models.Q(), now=now)


def _schema_key(wt: Mapping[str, Any]) -> tuple[str, int | None] | None:
    """(schema id, version) a worktype references, or None when it has no schema."""
    schema = wt.get("schema") or {}
    if not schema.get("id"):
        return None
    version = str(schema.get("version") or "")
    return schema["id"], int(version) if version.isdigit() else None


def _worktype_fields(
    wt: Mapping[str, Any],
    refs: Mapping[str, dict[str, int]],
    schemas: Mapping[tuple[str, int | None], Json],
) -> dict[str, Any]:
    schema = wt.get("schema") or {}
    key = _schema_key(wt)
    data_schema = schemas.get(key) or {} if key else {}
    json_schema = data_schema.get("jsonSchema") if key else None
    return {
        "name": wt["name"],
        "division_id": _ref_id(wt.get("division")),
        "description": wt.get("description") or "",
        "default_workbin_id": refs["workbins"].get(_ref_id(wt.get("defaultWorkbin"))),
        "default_queue_id": refs["queues"].get(_ref_id(wt.get("defaultQueue"))),
        "default_priority": wt.get("defaultPriority"),
        "default_language_id": _ref_id(wt.get("defaultLanguage")),
        "default_due_duration_seconds": wt.get("defaultDueDurationSeconds"),
        "default_expiration_seconds": wt.get("defaultExpirationSeconds"),
        "default_ttl_seconds": wt.get("defaultTtlSeconds"),
        "assignment_enabled": bool(wt.get("assignmentEnabled")),
        "schema_id": schema.get("id", ""),
        "schema_version": data_schema.get("version") or (key[1] if key else None),
        "schema_name": str(schema.get("name") or data_schema.get("name") or ""),
        "json_schema": json_schema,
        "schema_fields": schema_fields(json_schema),
    }


def _status_fields(st: Mapping[str, Any], worktype_pk: int) -> dict[str, Any]:
    return {
        "name": st["name"],
        "worktype_id": worktype_pk,
        "category": st.get("category") or "Unknown",
        "description": st.get("description") or "",
        "destination_status_ids": [d["id"] for d in st.get("destinationStatuses") or []],
        "default_destination_status_id": _ref_id(st.get("defaultDestinationStatus")),
        "status_transition_delay_seconds": st.get("statusTransitionDelaySeconds"),
        "auto_terminate_workitem": bool(st.get("autoTerminateWorkitem")),
    }


@dataclass
class _FetchedWorktypes:
    with_statuses: list[tuple[Json, list[Json]]]
    # (schema id, version) -> DataSchema; version None: the worktype gave none, so the latest.
    schemas: dict[tuple[str, int | None], Json]


def _fetch_worktypes(client: GenesysClient) -> _FetchedWorktypes:
    """Worktypes, their statuses, and each custom-field schema they reference: a worktype holds
    only {id, version}, so the DataSchema is fetched once per distinct id and version."""
    with_statuses = [
        (wt, client.list_worktype_statuses(worktype_id=wt["id"])) for wt in client.iter_worktypes()
    ]
    schemas: dict[tuple[str, int | None], Json] = {}
    for wt, _ in with_statuses:
        key = _schema_key(wt)
        if key is None or key in schemas:
            continue
        schema_id, version = key
        schemas[key] = (
            client.get_workitem_schema_version(schema_id=schema_id, version=version)
            if version is not None
            else client.get_workitem_schema(schema_id=schema_id)
        )
    return _FetchedWorktypes(with_statuses=with_statuses, schemas=schemas)


def _apply_worktypes(fetched_worktypes: _FetchedWorktypes, now) -> KindCounts:
    """Worktypes with their schemas, statuses, default skills and default status."""
    refs = {"workbins": _pk_map(Workbin), "queues": _pk_map(Queue)}
    skills = _pk_map(Skill)
    fetched = [wt for wt, _ in fetched_worktypes.with_statuses]
    statuses_of = {wt["id"]: statuses for wt, statuses in fetched_worktypes.with_statuses}
    known_before = set(WorkType.objects.values_list("genesys_id", flat=True))
    counts = _upsert(
        WorkType,
        {wt["id"]: _worktype_fields(wt, refs, fetched_worktypes.schemas) for wt in fetched},
        scope=models.Q(),
        now=now,
    )
    worktypes = WorkType.objects.prefetch_related("default_skills").in_bulk(
        [wt["id"] for wt in fetched], field_name="genesys_id"
    )
    for wt in fetched:
        worktype = worktypes[wt["id"]]
        statuses = {st["id"]: _status_fields(st, worktype.pk) for st in statuses_of[wt["id"]]}
        # Statuses belong to their worktype: a changed status is a changed worktype, so that "seen"
        # counts worktypes (two worktypes with five statuses each are 2 seen, not 12).
        status_counts = _upsert(
            WorkItemStatus, statuses, scope=models.Q(worktype=worktype), now=now
        )
        default_status = (
            WorkItemStatus.objects.filter(genesys_id=_ref_id(wt.get("defaultStatus")))
            .values_list("pk", flat=True)
            .first()
        )
        wanted_skills = {
            skills[s["id"]] for s in wt.get("defaultSkills") or [] if s.get("id") in skills
        }
        changed = status_counts.changed > 0
        if worktype.default_status_id != default_status:
            WorkType.objects.filter(pk=worktype.pk).update(default_status_id=default_status)
            changed = True
        if {s.pk for s in worktype.default_skills.all()} != wanted_skills:
            worktype.default_skills.set(wanted_skills)
            changed = True
        # A new worktype's links are part of its creation, not an update.
        counts.updated += changed and wt["id"] in known_before
    return counts


def member_rows(members: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    rows = {}
    for m in members:
        user = m.get("user") or {}
        user_id = user.get("id") or m["id"]
        rows[user_id] = {
            "name": m.get("name") or user.get("name") or user_id,
            "joined": bool(m.get("joined")),
            "routing_status": (m.get("routingStatus") or {}).get("status") or "",
            "ring_number": m.get("ringNumber"),
            "skills": [
                {
                    "id": s["id"],
                    "name": s.get("name", ""),
                    "proficiency": s.get("proficiency"),
                    "state": s.get("state", "active"),
                }
                for s in user.get("skills") or []
            ],
        }
    return rows


def _apply_members(queue: Queue, members: list[Json], now) -> KindCounts:
    rows = member_rows(members)
    for values in rows.values():
        values["queue_id"] = queue.pk
    return _upsert(QueueMember, rows, scope=models.Q(queue=queue), key="user_id", now=now)


def queue_members_sync(*, client: GenesysClient, queue: Queue) -> KindCounts:
    """Refresh one queue's members (joined flag, routing status, skills)."""
    members = list(client.iter_queue_members(queue_id=queue.genesys_id))
    with transaction.atomic():
        return _apply_members(queue, members, timezone.now())


def _fetch_members(client: GenesysClient) -> list[tuple[Queue, list[Json]]]:
    return [
        (queue, list(client.iter_queue_members(queue_id=queue.genesys_id)))
        for queue in Queue.objects.filter(active=True)
    ]


def _apply_all_members(fetched: list[tuple[Queue, list[Json]]], now) -> KindCounts:
    # Imported here: the snapshot module builds on this one.
    from workitems.services.queue_snapshot import queue_members_remember_refresh

    counts = KindCounts()
    for queue, members in fetched:
        counts.add(_apply_members(queue, members, now))
        # Routability checks right after a sync reuse these members instead of fetching again.
        queue_members_remember_refresh(queue=queue, at=now)
    return counts


def _listing(method: str) -> Callable[[GenesysClient], list[Json]]:
    return lambda client: list(getattr(client, method)())


# kind -> (read everything from Genesys, then write the differences in one transaction). Reading
# first keeps database transactions free of network calls: a slow Genesys never holds a lock.
_SYNCERS: dict[str, tuple[Callable[[GenesysClient], Any], Callable[[Any, Any], KindCounts]]] = {
    "workbins": (_listing("iter_workbins"), _apply_workbins),
    "skills": (_listing("iter_skills"), _apply_skills),
    "queues": (_listing("iter_queues"), _apply_queues),
    "worktypes": (_fetch_worktypes, _apply_worktypes),
    "members": (_fetch_members, _apply_all_members),
}


def parse_kinds(value: str | Iterable[str] | None) -> list[str]:
    """`"queues,skills"` -> ["skills", "queues"] in dependency order; unknown names are an error."""
    if not value:
        return list(KINDS)
    names = [
        n.strip() for n in (value.split(",") if isinstance(value, str) else value) if n.strip()
    ]
    unknown = sorted(set(names) - set(KINDS))
    if unknown:
        raise ValueError(f"Unknown kind(s) {', '.join(unknown)}; choose from {', '.join(KINDS)}.")
    return [k for k in KINDS if k in names]


def reference_sync(
    *,
    kinds: Iterable[str] | None = None,
    actor: str = "system",
    client: GenesysClient | None = None,
    progress: Callable[[str], None] | None = None,
) -> SyncResult:
    """Sync the named kinds (all by default) and record a SyncRun and an audit event.

    Each kind commits on its own, so a failure in a later kind keeps the earlier kinds' work.
    """
    wanted = parse_kinds(list(kinds) if kinds is not None else None)
    client = client or get_client()
    run = SyncRun.objects.create(kinds=",".join(wanted), triggered_by=actor)
    result = SyncResult(run=run)
    say = progress or (lambda _msg: None)
    try:
        for kind in wanted:
            say(f"Syncing {kind}…")
            fetch, apply = _SYNCERS[kind]
            fetched = fetch(client)
            with transaction.atomic():
                counts = apply(fetched, timezone.now())
            result.counts[kind] = counts
            say(
                f"  {kind}: {counts.seen} seen, {counts.created} created, "
                f"{counts.updated} updated, {counts.deactivated} deactivated"
            )
    except GenesysError as exc:
        _finish(result, state=SyncRun.State.FAILED, error=str(exc), actor=actor)
        raise
    _finish(result, state=SyncRun.State.SUCCEEDED, error="", actor=actor)
    return result


def _finish(result: SyncResult, *, state: str, error: str, actor: str) -> None:
    run = result.run
    run.state = state
    run.error = error
    run.finished_at = timezone.now()
    run.counts = {kind: vars(c) for kind, c in result.counts.items()}
    run.save(update_fields=["state", "error", "finished_at", "counts"])
    record(
        actor=actor,
        action="reference.sync",
        object_type="SyncRun",
        object_id=str(run.pk),
        outcome=Outcome.SUCCESS if state == SyncRun.State.SUCCEEDED else Outcome.FAILURE,
        context={"kinds": run.kinds, "counts": run.counts, "error": error},
    )
    log = logger.info if state == SyncRun.State.SUCCEEDED else logger.error
    log("reference sync %s", state, extra={"sync_run": run.pk, "counts": run.counts})


def reference_sync_request(*, kinds: list[str], actor: str) -> None:
    """Queue a reference sync as a background job once the caller's transaction commits, and
    record who asked (the run itself is recorded by reference_sync)."""
    from django_q.tasks import async_task

    kinds = parse_kinds(kinds)
    record(
        actor=actor,
        action="reference.sync_requested",
        object_type="SyncRun",
        context={"kinds": kinds},
    )
    transaction.on_commit(
        lambda: async_task(
            "workitems.tasks.sync_reference_data", kinds, actor, task_name=f"sync-{'-'.join(kinds)}"
        )
    )
