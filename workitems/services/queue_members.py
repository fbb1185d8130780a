"""Naming a preferred agent: the one rule for turning what a supervisor typed or picked (a Genesys
user id, or an agent's name) into the user id Genesys needs, judged against the members of the
item's queue. The admin form and the CSV import both call `queue_member_resolve`.

- A user id or a name of exactly one member of the item's queue is that member.
- A name two members of the queue share is refused, naming both ids.
- Someone found only in other queues is taken, with a warning: Genesys cannot prefer an agent
  for a queue they are not in (the routability check says the same).
- Anything else is refused, saying which queue was searched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from workitems.models import Queue, QueueMember
from workitems.models.reference import RoutingStatus

_ROUTING = dict(RoutingStatus.choices)


@dataclass(frozen=True)
class MemberChoice:
    user_id: str
    name: str
    queue_name: str = ""
    routing_status: str = ""
    joined: bool = True

    @property
    def label(self) -> str:
        state = _ROUTING.get(self.routing_status, self.routing_status) or "status unknown"
        return f"{self.name} ({state.lower()}{'' if self.joined else ', not joined'})"


@dataclass(frozen=True)
class Resolved:
    member: MemberChoice | None
    problem: str = ""
    warning: str = ""


def member_choice(member: QueueMember, queue_name: str = "") -> MemberChoice:
    return MemberChoice(
        user_id=member.user_id,
        name=member.name,
        queue_name=queue_name,
        routing_status=member.routing_status,
        joined=member.joined,
    )


def queue_member_choices(*, queue: Queue) -> list[MemberChoice]:
    """The queue's active members, by name (one query)."""
    return [
        member_choice(m, queue.name)
        for m in QueueMember.objects.filter(queue=queue, active=True)
        .only("user_id", "name", "routing_status", "joined")
        .order_by("name", "user_id")
    ]


def _by_name(members: Iterable[MemberChoice], key: str) -> dict[str, MemberChoice]:
    return {m.user_id: m for m in members if m.name.casefold() == key}


def queue_member_resolve(
    *,
    token: str,
    members: Sequence[MemberChoice],
    queue: Queue | None,
    others: Sequence[MemberChoice] = (),
) -> Resolved:
    """`members`: the item's queue's; `others`: members of other queues, when someone outside the
    queue may be named (with a warning). Matching ignores case."""
    token = token.strip()
    key = token.casefold()
    where = f"queue {queue.name}" if queue is not None else "the item's queue (it has none)"
    for member in members:
        if member.user_id.casefold() == key:
            return Resolved(member)
    named = _by_name(members, key)
    if len(named) == 1:
        return Resolved(next(iter(named.values())))
    if named:
        ids = ", ".join(sorted(named))
        return Resolved(
            None,
            f'{len(named)} members of {where} are named "{token}" (user ids '
            f"{ids}): pick one by user id",
        )
    outside = {m.user_id: m for m in others if m.user_id.casefold() == key} or _by_name(others, key)
    if len(outside) == 1:
        member = next(iter(outside.values()))
        queues = sorted({m.queue_name for m in others if m.user_id == member.user_id})
        return Resolved(
            member,
            warning=f"{member.name} is not a member of {where} (but of {', '.join(queues)}): "
            "Genesys cannot prefer them for it",
        )
    if outside:
        candidates = "; ".join(
            f"{m.name} (user id {m.user_id}, in {m.queue_name})"
            for m in sorted(outside.values(), key=lambda m: m.user_id)
        )
        return Resolved(
            None,
            f'"{token}" is not in {where}, and is ambiguous elsewhere: '
            f"{candidates}; use the user id",
        )
    return Resolved(None, f'no member of {where} is named or has the user id "{token}"')
