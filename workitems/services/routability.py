"""Is a work item routable? Genesys has no such endpoint, so we assemble the answer.

Each named check gives pass / warn / fail, one plain sentence per finding and the numbers behind
it. The rules follow docs/GENESYS.md §2–§3 ("What Genesys says about routability" and the derived
checklist): worktype, status, workbin, queue, joined and on-queue members, skills (honouring the
queue's skill evaluation method), preferred agents, our own per-queue cap, and the WorkitemCreate
field limits including the worktype's custom-field schema.

`workitem_routability` only reads; `workitems_check_routability` stores the reports, moves drafts
to CHECKED and writes the audit trail, with a query count that does not grow with the items.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audits.models import Outcome
from audits.services import record_many
from workitems.genesys import GenesysClient
from workitems.models import LocalState, Skill, StatusCategory, Verdict, WorkItem
from workitems.models.reference import RoutingStatus, SkillEvaluation
from workitems.models.workitem import (
    DESCRIPTION_MAX,
    MAX_DAYS_AHEAD,
    NAME_MAX,
    NAME_MIN,
    PRIORITY_MAX,
    PRIORITY_MIN,
)
from workitems.services.custom_fields import custom_fields_check
from workitems.services.item_audit import item_entry
from workitems.services.queue_snapshot import MemberSnapshots, QueueSnapshot, workitem_is_open
from workitems.services.sla import PolicyTerms, due_date_risk, sla_terms, sla_terms_table
from workitems.text import count_noun

PASS, WARN, FAIL = "pass", "warn", "fail"
# The checks in the order a report lists them, and what a supervisor reads instead of their names.
CHECK_LABELS = {
    "worktype": "Worktype",
    "status": "Status",
    "workbin": "Workbin",
    "queue": "Queue",
    "joined_members": "Joined members",
    "on_queue_members": "On-queue members",
    "skills": "Skills",
    "preferred_agents": "Preferred agents",
    "capacity": "Queue capacity",
    "fields": "Fields and limits",
}
# The fields of a work item the check reads: an edit of any of them makes a verdict stale.
CHECK_INPUTS = (
    "name",
    "worktype",
    "queue",
    "status",
    "workbin",
    "priority",
    "description",
    "date_due",
    "date_expires",
    "skills",
    "preferred_agent_ids",
    "custom_fields",
)
REPORT_VERSION = 2  # 2: worktype settings are notes of the report, not a warning of each item
AUDIT_ACTION = "workitem.check_routability"
# Items loaded, checked and written per round: bounded memory, constant queries per round.
CHUNK_SIZE = 500
SlaTerms = Callable[[int, int | None], PolicyTerms]
# At or above this share of the queue's cap the capacity check warns.
CAPACITY_WARN_RATIO = 0.8


@dataclass
class CheckResult:
    name: str
    result: str  # "pass" | "warn" | "fail"
    message: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "result": self.result,
            "message": self.message,
            "numbers": self.numbers,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            name=data["name"],
            result=data["result"],
            message=data.get("message", ""),
            numbers=dict(data.get("numbers") or {}),
        )


def check_label(name: str) -> str:
    return CHECK_LABELS.get(name, name.replace("_", " ").capitalize())


@dataclass
class RoutabilityReport:
    verdict: Verdict
    checks: list[CheckResult]
    checked_at: datetime
    # Settings of the item's worktype that shape how Genesys routes every item of it: reported
    # once per worktype (its page, the check's summary), referenced here, never a warning.
    worktype_notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if c.result == FAIL]

    @property
    def warned(self) -> list[str]:
        return [c.name for c in self.checks if c.result == WARN]

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "verdict": self.verdict.value,
            # Always UTC, so the admin partial can show it without parsing.
            "checked_at": self.checked_at.astimezone(UTC).isoformat(),
            "counts": {
                result: sum(1 for c in self.checks if c.result == result)
                for result in (PASS, WARN, FAIL)
            },
            "checks": [c.to_json() for c in self.checks],
            "worktype_notes": list(self.worktype_notes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoutabilityReport:
        return cls(
            verdict=Verdict(data["verdict"]),
            checks=[CheckResult.from_json(c) for c in data.get("checks") or []],
            checked_at=datetime.fromisoformat(data["checked_at"]),
            worktype_notes=list(data.get("worktype_notes") or []),
        )


def verdict_for(checks: Sequence[CheckResult]) -> Verdict:
    results = {c.result for c in checks}
    if FAIL in results:
        return Verdict.NOT_ROUTABLE
    if WARN in results:
        return Verdict.WARNINGS
    return Verdict.ROUTABLE


# --- helpers ---------------------------------------------------------------------------------


class _Findings:
    """Problems found by one check; the worst decides its result, `ok` speaks when none."""

    def __init__(self) -> None:
        self.sentences: list[tuple[str, str]] = []

    def fail(self, sentence: str) -> None:
        self.sentences.append((FAIL, sentence))

    def warn(self, sentence: str) -> None:
        self.sentences.append((WARN, sentence))

    def result(self, name: str, *, ok: str, numbers: dict[str, Any] | None = None) -> CheckResult:
        # Failures first: they are what the operator must fix.
        fails = [s for r, s in self.sentences if r == FAIL]
        warns = [s for r, s in self.sentences if r == WARN]
        result = FAIL if fails else WARN if warns else PASS
        message = " ".join(fails + warns) if fails or warns else ok
        return CheckResult(name=name, result=result, message=message, numbers=numbers or {})


def _and_list(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _when(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")


def _stale_note(snapshot: QueueSnapshot | None) -> str:
    if snapshot is None or not snapshot.error:
        return ""
    when = _when(snapshot.refreshed_at) if snapshot.refreshed_at else "an unknown time"
    return f" (member data from {when}; it may be stale)"


def _usable(snapshot: QueueSnapshot | None) -> bool:
    return snapshot is not None and snapshot.present_in_genesys


def _no_queue_reason(snapshot: QueueSnapshot | None) -> str:
    if snapshot is None:
        return "the item has no queue"
    return f"queue {snapshot.queue.name} does not exist in Genesys"


def _requested_skills(item: WorkItem) -> tuple[list[Skill], str]:
    own = list(item.skills.all())
    if own:
        return own, "item"
    return list(item.worktype.default_skills.all()), "worktype default"


# --- the checks ------------------------------------------------------------------------------


def _check_worktype(item: WorkItem) -> CheckResult:
    wt = item.worktype
    found = _Findings()
    if not wt.active:
        found.fail(
            f"Worktype {wt.name} no longer exists in Genesys (our last sync did not find it); "
            "Genesys will refuse the item."
        )
    return found.result(
        "worktype",
        ok=f"Worktype {wt.name} exists in Genesys and is active.",
        numbers={"worktype": wt.name, "active": wt.active},
    )


def _check_status(item: WorkItem) -> CheckResult:
    wt = item.worktype
    found = _Findings()
    status = item.status
    source = "item"
    if status is None:
        status = wt.default_status
        source = "worktype default"
        if status is None:
            found.warn(
                f"No status set and worktype {wt.name} has no default status in our mirror; "
                "Genesys will choose the initial status."
            )
            return found.result("status", ok="", numbers={"source": "none"})
    numbers = {"status": status.name, "category": status.category, "source": source}
    if status.worktype_id != wt.pk:
        found.fail(
            f"Status {status.name} belongs to another worktype, not {wt.name}; "
            "Genesys only accepts a status of the item's own worktype."
        )
    if not status.active:
        found.fail(
            f"Status {status.name} no longer exists in Genesys (our last sync did not find it)."
        )
    if status.category == StatusCategory.CLOSED:
        found.fail(
            f"Status {status.name} is in the Closed category, so the item would be closed and "
            "never routed."
        )
    if source == "item":
        ok = (
            f"Status {status.name} ({status.category}) belongs to worktype {wt.name} and is active."
        )
    else:
        ok = (
            f"No status set: Genesys will use the worktype's default status {status.name} "
            f"({status.category})."
        )
    return found.result("status", ok=ok, numbers=numbers)


def _check_workbin(item: WorkItem) -> CheckResult:
    wt = item.worktype
    found = _Findings()
    workbin = item.effective_workbin
    if workbin is None:
        found.fail(f"No workbin: set one on the item or a default workbin on worktype {wt.name}.")
        return found.result("workbin", ok="", numbers={"source": "none"})
    source = "item" if item.workbin_id else "worktype default"
    if not workbin.active:
        found.fail(
            f"Workbin {workbin.name} no longer exists in Genesys (our last sync did not find it)."
        )
    return found.result(
        "workbin",
        ok=f"Workbin {workbin.name} ({source}) exists in Genesys and is active.",
        numbers={"workbin": workbin.name, "source": source},
    )


def _check_queue(item: WorkItem, snapshot: QueueSnapshot | None) -> CheckResult:
    wt = item.worktype
    found = _Findings()
    if snapshot is None:
        found.fail(f"No queue: set one on the item or a default queue on worktype {wt.name}.")
        return found.result("queue", ok="", numbers={"source": "none"})
    queue = snapshot.queue
    source = "item" if item.queue_id else "worktype default"
    if not snapshot.present_in_genesys:
        found.fail(f"Queue {queue.name} does not exist in Genesys (Genesys answered 404 for it).")
    elif not queue.active:
        found.fail(
            f"Queue {queue.name} no longer exists in Genesys (our last sync did not find it)."
        )
    if snapshot.error:
        when = _when(snapshot.refreshed_at) if snapshot.refreshed_at else "an unknown time"
        found.warn(
            f"Could not refresh the members of queue {queue.name} from Genesys "
            f"({snapshot.error}); the member checks use data from {when}, which may be stale."
        )
    return found.result(
        "queue",
        ok=f"Queue {queue.name} ({source}) exists in Genesys and is active.",
        numbers={
            "queue": queue.name,
            "source": source,
            "assignment_enabled": wt.assignment_enabled,
            "skill_evaluation": queue.skill_evaluation_method,
        },
    )


def worktype_routing_notes(worktype) -> list[str]:
    """What a worktype's own settings mean for the routing of all its items. Reported once for
    the worktype, not as a warning of each item (it is not something an item can fix)."""
    notes = []
    if not worktype.assignment_enabled:
        notes.append(
            f"Worktype {worktype.name} has automatic assignment off (assignmentEnabled): Genesys "
            "does not route its new items to the queue by itself; they wait until someone "
            "assigns them."
        )
    return notes


def _check_joined(item: WorkItem, snapshot: QueueSnapshot | None) -> CheckResult:
    found = _Findings()
    if not _usable(snapshot):
        found.fail(f"Nobody can take the item: {_no_queue_reason(snapshot)}.")
        return found.result("joined_members", ok="")
    members, joined = len(snapshot.members), len(snapshot.joined)
    name, stale = snapshot.queue.name, _stale_note(snapshot)
    if joined == 0:
        found.fail(
            f"Queue {name} has no joined members ({count_noun(members, 'member')}, none joined){stale}; "
            "Genesys routes only to joined members."
        )
    return found.result(
        "joined_members",
        ok=f"{joined} of {count_noun(members, 'member')} of queue {name} are joined{stale}.",
        numbers={"members": members, "joined": joined},
    )


def _by_status(members: Iterable[Any]) -> Counter[str]:
    return Counter(m.routing_status or "UNKNOWN" for m in members)


def _check_on_queue(item: WorkItem, snapshot: QueueSnapshot | None) -> CheckResult:
    found = _Findings()
    if not _usable(snapshot):
        found.fail(f"Nobody can take the item: {_no_queue_reason(snapshot)}.")
        return found.result("on_queue_members", ok="")
    joined, on_queue = len(snapshot.joined), len(snapshot.on_queue)
    counts = _by_status(snapshot.joined)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))  # most common first
    breakdown = ", ".join(f"{n} {status}" for status, n in ordered)
    numbers: dict[str, Any] = {
        "joined": joined,
        "on_queue": on_queue,
        **dict(sorted(counts.items())),
    }
    stale = _stale_note(snapshot)
    sentence = f"{on_queue} of {joined} joined members are on queue"
    sentence += f" ({breakdown})" if breakdown else ""
    if on_queue == 0:
        found.fail(
            f"{sentence}{stale}; Genesys routes only to members who are IDLE, INTERACTING or "
            "COMMUNICATING."
        )
    return found.result("on_queue_members", ok=f"{sentence}{stale}.", numbers=numbers)


def _holds(member: Any, skill_ids: set[str]) -> frozenset[str]:
    """The requested skills a member holds; skills not in the active state do not count."""
    held = set()
    for s in member.skills or []:
        if (
            isinstance(s, dict)
            and s.get("id") in skill_ids
            and (s.get("state") or "active") == "active"
        ):
            held.add(s["id"])
    return frozenset(held)


def _all_phrase(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"both {names[0]} and {names[1]}"
    return f"all of {_and_list(names)}"


def _check_skills(item: WorkItem, snapshot: QueueSnapshot | None) -> CheckResult:
    found = _Findings()
    requested, source = _requested_skills(item)
    if not requested:
        return found.result(
            "skills",
            ok="No skills requested: any on-queue member can take the item.",
            numbers={"requested": 0},
        )
    names = [s.name for s in requested]
    numbers: dict[str, Any] = {"requested": len(requested), "source": source}
    for skill in requested:
        if not skill.active or skill.state != "active":
            state = skill.state if skill.state != "active" else "no longer in Genesys"
            found.fail(f"Skill {skill.name} is {state}; Genesys cannot route on it.")
    if not _usable(snapshot):
        found.warn(f"Member skills not checked: {_no_queue_reason(snapshot)}.")
        return found.result("skills", ok="", numbers=numbers)

    by_id = {s.genesys_id: s.name for s in requested}
    wanted = set(by_id)
    joined = snapshot.joined
    held = [(m, _holds(m, wanted)) for m in joined]
    with_all = sum(1 for _, h in held if h == wanted)
    on_queue = [h for m, h in held if m.on_queue]
    on_queue_with_all = sum(1 for h in on_queue if h == wanted)
    per_skill = {by_id[sid]: sum(1 for _, h in held if sid in h) for sid in by_id}
    partial = Counter(h for _, h in held if h and h != wanted)
    nobody = sum(1 for _, h in held if not h)

    all_phrase = _all_phrase(names)
    sentence = f"{with_all} of {len(joined)} joined members hold {all_phrase}"
    if len(names) > 1:
        order = {sid: i for i, sid in enumerate(by_id)}
        combos = sorted(partial.items(), key=lambda kv: (-kv[1], sorted(order[s] for s in kv[0])))
        for combo, n in combos:
            combo_names = [by_id[s] for s in sorted(combo, key=order.__getitem__)]
            sentence += f"; {n} hold{'s' if n == 1 else ''} {_and_list(combo_names)} only"
            numbers[f"only {' + '.join(combo_names)}"] = n
        if nobody:
            sentence += f"; {nobody} hold{'s' if nobody == 1 else ''} none of them"
    sentence += f"{_stale_note(snapshot)}. "
    if on_queue:
        sentence += (
            f"Of the {count_noun(len(on_queue), 'on-queue member')}, {on_queue_with_all} "
            f"hold{'s' if on_queue_with_all == 1 else ''} "
            f"{'it' if len(names) == 1 else 'them all'}."
        )
    else:
        sentence += "No joined member is on queue."
    numbers.update(
        {
            "joined": len(joined),
            "joined_with_all": with_all,
            "on_queue": len(on_queue),
            "on_queue_with_all": on_queue_with_all,
            "none": nobody,
            **{f"with {name}": n for name, n in per_skill.items()},
            "evaluation": snapshot.queue.skill_evaluation_method,
        }
    )
    method = snapshot.queue.skill_evaluation_method
    queue = snapshot.queue.name
    if method == SkillEvaluation.NONE:
        found.warn(
            f"Queue {queue} ignores skills (skill evaluation NONE): Genesys may route the item "
            f"to any on-queue member, whatever skills they hold. {sentence}"
        )
    elif with_all == 0 and method == SkillEvaluation.BEST:
        found.warn(
            f"{sentence} Queue {queue} evaluates skills as BEST, so Genesys will route to the "
            "best partial match."
        )
    elif with_all == 0:
        found.fail(
            f"{sentence} Queue {queue} requires every skill (ALL), so nobody in it can take "
            "the item."
        )
    elif on_queue_with_all == 0:
        found.warn(
            f"{sentence} Nobody who holds {'it' if len(names) == 1 else 'them all'} is on queue "
            "now, so the item will wait."
        )
    return found.result("skills", ok=sentence, numbers=numbers)


def _looks_like_user_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_preferred_agents(item: WorkItem, snapshot: QueueSnapshot | None) -> CheckResult:
    found = _Findings()
    wanted = [str(a) for a in item.preferred_agent_ids or []]
    if not wanted:
        return found.result(
            "preferred_agents", ok="No preferred agents requested.", numbers={"requested": 0}
        )
    numbers: dict[str, Any] = {"requested": len(wanted)}
    not_ids = [a for a in wanted if not _looks_like_user_id(a)]
    if not_ids:
        # A name typed where an id belongs: Genesys takes UUIDs only (docs/GENESYS.md §2) and refuses it.
        found.fail(
            f"{_and_list(not_ids)} {'is not a Genesys user id' if len(not_ids) == 1 else 'are not Genesys user ids'}; "
            "Genesys refuses the item. Pick the agents again by name in the form, which stores "
            "their ids."
        )
    if not _usable(snapshot):
        found.warn(f"Preferred agents not checked: {_no_queue_reason(snapshot)}.")
        return found.result("preferred_agents", ok="", numbers=numbers)
    members = {m.user_id: m for m in snapshot.members}
    missing = [a for a in wanted if a not in members and a not in not_ids]
    on_queue = sum(1 for a in wanted if a in members and members[a].on_queue)
    numbers.update({"members": sum(1 for a in wanted if a in members), "on_queue": on_queue})
    queue, stale = snapshot.queue.name, _stale_note(snapshot)
    if missing:
        found.warn(
            f"{len(missing)} of {count_noun(len(wanted), 'preferred agent')} "
            f"{'is not a member' if len(missing) == 1 else 'are not members'} of queue {queue}: "
            f"{', '.join(missing)}{stale}; Genesys cannot prefer them for this queue."
        )
    if len(wanted) == 1:
        ok = f"The preferred agent is a member of queue {queue} ({'on' if on_queue else 'not on'} queue){stale}."
    else:
        ok = (
            f"All {len(wanted)} preferred agents are members of queue {queue} "
            f"({on_queue} on queue){stale}."
        )
    return found.result("preferred_agents", ok=ok, numbers=numbers)


def _check_capacity(item: WorkItem, snapshot: QueueSnapshot | None) -> CheckResult:
    found = _Findings()
    if snapshot is None:
        found.warn("Capacity not checked: the item has no queue.")
        return found.result("capacity", ok="")
    queue = snapshot.queue
    # An item already open in this queue is one of its open items: count only the others.
    is_counted = workitem_is_open(item=item) and item.effective_queue.pk == queue.pk
    open_items = max(snapshot.open_items - (1 if is_counted else 0), 0)
    cap = queue.max_open_items
    numbers = {"open_items": open_items, "max_open_items": cap}
    others = " other" if is_counted else ""
    if cap is None:
        return found.result(
            "capacity",
            ok=f"Queue {queue.name} has {open_items}{others} open work "
            f"item{'' if open_items == 1 else 's'}; no cap set.",
            numbers=numbers,
        )
    share = open_items / cap if cap else 1.0
    numbers["percent_of_cap"] = round(share * 100)
    if open_items >= cap:
        found.fail(
            f"Queue {queue.name} is {'over' if open_items > cap else 'at'} its cap: "
            f"{open_items}{others} open work items, cap {cap}."
        )
    elif share >= CAPACITY_WARN_RATIO:
        found.warn(
            f"Queue {queue.name} is near its cap: {open_items}{others} of {cap} open work items "
            f"({round(share * 100)}%)."
        )
    return found.result(
        "capacity",
        ok=f"Queue {queue.name} has {open_items}{others} of {cap} open work items "
        f"({round(share * 100)}%).",
        numbers=numbers,
    )


def _custom_field_problems(item: WorkItem, found: _Findings) -> None:
    """Against the worktype's schema (services.custom_fields owns the rule): each problem fails
    the item, naming the field by its title; a schema we could not apply only warns."""
    check = custom_fields_check(worktype=item.worktype, fields=item.custom_fields)
    for problem in check.problems:
        found.fail(problem)
    if check.unchecked and item.custom_fields:
        found.warn(check.unchecked)


def _check_fields(item: WorkItem, now: datetime, terms: SlaTerms) -> CheckResult:
    found = _Findings()
    name_length = len(item.name or "")
    if not NAME_MIN <= name_length <= NAME_MAX:
        found.fail(
            f"The name is {count_noun(name_length, 'character')} long; Genesys needs "
            f"{NAME_MIN} to {NAME_MAX}."
        )
    description_length = len(item.description or "")
    if description_length > DESCRIPTION_MAX:
        found.fail(
            f"The description is {description_length} characters long; Genesys allows at most "
            f"{DESCRIPTION_MAX}."
        )
    priority = item.effective_priority
    if priority is not None and not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        found.fail(
            f"The priority {priority:,} is outside the range Genesys accepts "
            f"({PRIORITY_MIN:,} to {PRIORITY_MAX:,})."
        )
    horizon = now + timedelta(days=MAX_DAYS_AHEAD)
    for label, value in (("due date", item.date_due), ("expiry date", item.date_expires)):
        if value is None:
            continue
        if value > horizon:
            found.fail(
                f"The {label} {_when(value)} is more than {MAX_DAYS_AHEAD} days ahead; Genesys "
                "refuses it."
            )
        elif label == "due date" and (
            risk := due_date_risk(
                due=value,
                now=now,
                threshold_seconds=terms(item.worktype_id, item.queue_id).threshold_seconds,
            )
        ):
            found.warn(f"{risk[0].upper()}{risk[1:]}.")
        elif value < now:
            found.warn(f"The {label} {_when(value)} is in the past.")
    if item.date_due and item.date_expires and item.date_due > item.date_expires:
        found.fail(
            f"The due date {_when(item.date_due)} is after the expiry date "
            f"{_when(item.date_expires)}."
        )
    _custom_field_problems(item, found)
    return found.result(
        "fields",
        ok="Name, description, priority, dates and custom fields are within Genesys limits.",
        numbers={
            "name_length": name_length,
            "description_length": description_length,
            "priority": priority,
            "custom_fields": len(item.custom_fields) if isinstance(item.custom_fields, dict) else 0,
        },
    )


# --- the numbers behind a check, in words ----------------------------------------------------

_ROUTING_WORDS = {status.value or "UNKNOWN": status.label.lower() for status in RoutingStatus}
_EVALUATION_WORDS = {
    SkillEvaluation.ALL: "every requested skill required (ALL)",
    SkillEvaluation.BEST: "the best match preferred (BEST)",
    SkillEvaluation.NONE: "skills ignored (NONE)",
}


def _source_words(source: str | None) -> str:
    return {
        "item": "set on the item",
        "worktype default": "the worktype's default",
        "none": "none set",
    }.get(source or "", source or "")


def _skills_phrase(n: int) -> str:
    return "the skill" if n == 1 else "both skills" if n == 2 else f"all {n} skills"


def _hold_verb(n: int) -> str:
    return "holds" if n == 1 else "hold"


def _member_figures(n: dict[str, Any], name: str) -> list[str]:
    get = n.get
    if name == "joined_members" and "members" in n:
        return [f"{get('joined')} of {count_noun(get('members'), 'member')} joined"]
    if name == "on_queue_members" and "joined" in n:
        out = [f"{get('on_queue')} of {count_noun(get('joined'), 'joined member')} on queue"]
        statuses = [(k, v) for k, v in n.items() if k in _ROUTING_WORDS and isinstance(v, int)]
        statuses = sorted((kv for kv in statuses if kv[1]), key=lambda kv: (-kv[1], kv[0]))
        if statuses:
            out.append(", ".join(f"{v} {_ROUTING_WORDS[k]}" for k, v in statuses))
        return out
    return []


def _skill_figures(n: dict[str, Any]) -> list[str]:
    get = n.get
    requested = get("requested") or 0
    if not requested:
        return ["no skills requested"]
    out = [f"{count_noun(requested, 'skill')} requested, {_source_words(get('source'))}"]
    if "joined_with_all" not in n:
        return out
    skills = _skills_phrase(requested)
    joined, on_queue = get("joined_with_all"), get("on_queue_with_all")
    out.append(
        f"{joined} of {count_noun(get('joined'), 'joined member')} {_hold_verb(joined)} {skills}"
    )
    out.append(
        f"{on_queue} of {count_noun(get('on_queue'), 'on-queue member')} {_hold_verb(on_queue)} {skills}"
    )
    for key, value in n.items():
        if key.startswith("with ") and requested > 1:  # one skill: said just above
            out.append(f"{value} {_hold_verb(value)} {key[5:]}")
        elif key.startswith("only "):
            out.append(f"{value} {_hold_verb(value)} {key[5:].replace(' + ', ' and ')} only")
    if get("none"):
        out.append(f"{get('none')} {_hold_verb(get('none'))} none of them")
    if get("evaluation") in _EVALUATION_WORDS:
        out.append(f"queue: {_EVALUATION_WORDS[get('evaluation')]}")
    return out


def _other_figures(n: dict[str, Any], name: str) -> list[str]:
    get = n.get
    if name == "preferred_agents":
        requested = get("requested") or 0
        if not requested:
            return ["no preferred agents"]
        if "members" in n:
            return [
                f"{get('members')} of {count_noun(requested, 'preferred agent')} in the queue, "
                f"{get('on_queue')} on queue"
            ]
        return [f"{count_noun(requested, 'preferred agent')} requested"]
    if name == "capacity" and "open_items" in n:
        cap, open_items = get("max_open_items"), count_noun(get("open_items"), "open item")
        if cap is None:
            return [f"{open_items} in the queue, no cap"]
        return [f"{open_items} in the queue, cap {cap} ({get('percent_of_cap')}%)"]
    if name == "fields" and "name_length" in n:
        out = [
            f"name {count_noun(get('name_length'), 'character')} ({NAME_MIN}–{NAME_MAX} allowed)",
            f"description {get('description_length')} of {DESCRIPTION_MAX} characters",
        ]
        if get("priority") is not None:
            out.append(f"priority {get('priority'):,}")
        out.append(count_noun(get("custom_fields") or 0, "custom field"))
        return out
    return []


def check_figures(name: str, numbers: dict[str, Any] | None) -> list[str]:
    """The numbers behind a check as short phrases ("3 of 12 joined members hold both skills")
    for the report page; stored reports of every version read the same."""
    n = numbers or {}
    get = n.get
    if name == "worktype" and "worktype" in n:
        return [f"worktype {get('worktype')}, {'active' if get('active') else 'not active'}"]
    if name == "status" and "status" in n:
        return [f"status {get('status')} ({get('category')}), {_source_words(get('source'))}"]
    if name == "workbin" and "workbin" in n:
        return [f"workbin {get('workbin')}, {_source_words(get('source'))}"]
    if name == "queue" and "queue" in n:
        out = [f"queue {get('queue')}, {_source_words(get('source'))}"]
        if get("skill_evaluation") in _EVALUATION_WORDS:
            out.append(_EVALUATION_WORDS[get("skill_evaluation")])
        return out
    if name == "skills":
        return _skill_figures(n)
    return _member_figures(n, name) or _other_figures(n, name)


# --- services --------------------------------------------------------------------------------


def workitem_routability(
    *,
    item: WorkItem,
    snapshots: MemberSnapshots,
    now: datetime,
    terms: SlaTerms | None = None,
) -> RoutabilityReport:
    """Every check for one item. Writes nothing itself (the snapshots may refresh the member
    mirror from Genesys, at most once per queue and cache period). `terms`: the SLA terms of a
    worktype and queue (sla_terms_table() for many items; a query per item without)."""
    terms = terms or (lambda wt, q: sla_terms(worktype_id=wt, queue_id=q))
    queue = item.effective_queue
    snapshot = snapshots.get(queue) if queue is not None else None
    checks = [
        _check_worktype(item),
        _check_status(item),
        _check_workbin(item),
        _check_queue(item, snapshot),
        _check_joined(item, snapshot),
        _check_on_queue(item, snapshot),
        _check_skills(item, snapshot),
        _check_preferred_agents(item, snapshot),
        _check_capacity(item, snapshot),
        _check_fields(item, now, terms),
    ]
    return RoutabilityReport(
        verdict=verdict_for(checks),
        checks=checks,
        checked_at=now,
        worktype_notes=worktype_routing_notes(item.worktype),
    )


def _item_pks(items: Iterable[WorkItem]) -> list[int]:
    if isinstance(items, QuerySet):
        pks = items.values_list("pk", flat=True)
    else:
        pks = (item.pk for item in items)
    return list(dict.fromkeys(pks))


# What the check reads of an item beside its own row; the item's admin page reads the same.
ITEM_RELATIONS = (
    "worktype__default_queue",
    "worktype__default_status",
    "worktype__default_workbin",
    "queue",
    "status",
    "workbin",
)


def _load(pks: Sequence[int]) -> list[WorkItem]:
    return list(
        WorkItem.objects.filter(pk__in=pks)
        .select_related(*ITEM_RELATIONS)
        .prefetch_related("skills", "worktype__default_skills")
        .order_by("pk")
    )


def _store(
    *, items: list[WorkItem], reports: dict[int, RoutabilityReport], actor: str, now: datetime
) -> None:
    for item in items:
        report = reports[item.pk]
        item.routability_report = report.to_json()
        item.routability_verdict = report.verdict
        item.routability_checked_at = now
        item.routability_stale = False
        item.updated_at = now
    drafts = [item.pk for item in items if item.local_state == LocalState.DRAFT]
    with transaction.atomic():
        WorkItem.objects.bulk_update(
            items,
            [
                "routability_report",
                "routability_verdict",
                "routability_checked_at",
                "routability_stale",
                "updated_at",
            ],
            batch_size=CHUNK_SIZE,
        )
        # Compare-and-set: an item submitted meanwhile keeps its state.
        if drafts:
            WorkItem.objects.filter(pk__in=drafts, local_state=LocalState.DRAFT).update(
                local_state=LocalState.CHECKED, updated_at=now
            )
        record_many(
            item_entry(
                item,
                actor=actor,
                action=AUDIT_ACTION,
                outcome=Outcome.SUCCESS,
                context={
                    "verdict": reports[item.pk].verdict.value,
                    "failed": reports[item.pk].failed,
                    "warned": reports[item.pk].warned,
                },
            )
            for item in items
        )
    for item in items:
        if item.local_state == LocalState.DRAFT:
            item.local_state = LocalState.CHECKED


def workitems_check_routability(
    *,
    items: Iterable[WorkItem],
    actor: str,
    client: GenesysClient | None = None,
    now: datetime | None = None,
) -> dict[int, RoutabilityReport]:
    """Check the items, store each report, verdict and time, move drafts to CHECKED and audit.

    One MemberSnapshots serves the run, so Genesys is asked about each queue at most once (and
    not at all while the shared cache says its members are fresh). Items are handled in chunks
    with a fixed number of queries each.
    """
    now = now or timezone.now()
    snapshots = MemberSnapshots(client=client, now=now)
    terms = sla_terms_table()
    pks = _item_pks(items)
    reports: dict[int, RoutabilityReport] = {}
    for start in range(0, len(pks), CHUNK_SIZE):
        chunk = _load(pks[start : start + CHUNK_SIZE])
        # Genesys calls happen here, outside the transaction that writes the reports.
        snapshots.prefetch(item.effective_queue for item in chunk)
        chunk_reports = {
            item.pk: workitem_routability(item=item, snapshots=snapshots, now=now, terms=terms)
            for item in chunk
        }
        _store(items=chunk, reports=chunk_reports, actor=actor, now=now)
        reports.update(chunk_reports)
    return reports
