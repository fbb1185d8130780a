"""Routing: queues, queue members and skills (docs/GENESYS.md §3)."""

from __future__ import annotations

import re

from django.http import HttpRequest

from simulator import render, store
from simulator.errors import bad_request, detail
from simulator.http import bool_param, endpoint, list_param
from simulator.paging import page_number_listing

ROUTING_STATUSES = ("OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING")
# GET /routing/queues/{queueId}/members `expand`: the SDK's enum (RoutingApi.md,
# get_routing_queue_members). Anything else is refused; the simulator fills in only the two the
# portal reads (routingStatus, and skills on the user) and ignores the rest.
MEMBER_EXPAND_VALUES = (
    "routingStatus", "presence", "integrationPresence", "conversationSummary", "outOfOffice",
    "geolocation", "station", "authorization", "lasttokenissued", "authorization.unusedRoles",
    "team", "workPlanBidRanks", "externalContactsSettings", "groups", "customAttributes",
    "profileSkills", "certifications", "locations", "skills", "languages", "languagePreference",
    "employerInfo", "biography", "dateLastLogin", "dateWelcomeSent",
)  # fmt: skip


def _name_matcher(pattern: str):
    """Queue `name`: exact, case-insensitive; leading and trailing asterisks are wildcards."""
    core = pattern.strip("*")
    regex = re.escape(core)
    if pattern.startswith("*"):
        regex = ".*" + regex
    if pattern.endswith("*"):
        regex += ".*"
    compiled = re.compile(f"^{regex}$", re.IGNORECASE)
    return lambda name: bool(compiled.match(name or ""))


def _sort_order(request: HttpRequest) -> bool:
    order = (request.GET.get("sortOrder") or "asc").lower()
    if order not in ("asc", "desc", "ascending", "descending"):
        raise bad_request("sortOrder must be asc or desc.", detail("sortOrder"))
    return order.startswith("desc")


def list_queues(request: HttpRequest):
    queues = store.all_of(render.QUEUE)
    if name := request.GET.get("name"):
        matches = _name_matcher(name)
        queues = [q for q in queues if matches(q["name"])]
    if ids := list_param(request, "id"):
        queues = [q for q in queues if q["id"] in ids]
    if divisions := list_param(request, "divisionId"):
        queues = [q for q in queues if q.get("divisionId") in divisions]
    queues.sort(key=lambda q: q["name"].lower(), reverse=_sort_order(request))
    counts = render.member_counts([q["id"] for q in queues])
    division_map = {d["id"]: d for d in store.all_of(render.DIVISION)}
    return page_number_listing(
        request,
        queues,
        path="/api/v2/routing/queues",
        render=lambda q: render.queue(q, counts=counts[q["id"]], divisions=division_map),
        max_page_size=500,
        keep=("name", "id", "divisionId", "sortOrder"),
    )


def get_queue(request: HttpRequest, queue_id: str):
    return render.queue(store.require(render.QUEUE, queue_id, entity_name="Queue"))


def list_members(request: HttpRequest, queue_id: str):
    store.require(render.QUEUE, queue_id, entity_name="Queue")
    expand = list_param(request, "expand")
    unknown = [e for e in expand if e not in MEMBER_EXPAND_VALUES]
    if unknown:
        # The status and wording Genesys uses for a value outside the enum are NOT CONFIRMED.
        raise bad_request(
            f"Value [{unknown[0]}] is not valid for field expand. Valid values: "
            f"{', '.join(MEMBER_EXPAND_VALUES)}.",
            detail("expand"),
        )
    joined = bool_param(request, "joined")
    statuses = list_param(request, "routingStatus")
    bad = [s for s in statuses if s not in ROUTING_STATUSES]
    if bad:
        raise bad_request(
            f"routingStatus must be among {', '.join(ROUTING_STATUSES)}.", detail("routingStatus")
        )
    member_by = request.GET.get("memberBy")
    name = (request.GET.get("name") or "").lower()

    members = store.all_of(render.QUEUE_MEMBER, parent=queue_id)
    users = store.many(render.USER, [m["userId"] for m in members])
    rows = []
    for m in members:
        u = users.get(m["userId"])
        if u is None:
            continue
        if joined is not None and bool(m.get("joined")) != joined:
            continue
        if statuses and render.routing_status(u)["status"] not in statuses:
            continue
        if member_by and m.get("memberBy", "user") != member_by:
            continue
        if name and name not in u["name"].lower():
            continue
        rows.append((m, u))
    rows.sort(key=lambda r: r[1]["name"].lower(), reverse=_sort_order(request))
    skills = {s["id"]: s for s in store.all_of(render.SKILL)} if "skills" in expand else {}
    division_map = {d["id"]: d for d in store.all_of(render.DIVISION)}

    def member(row):
        m, u = row
        shown = render.user(u, divisions=division_map)
        if "skills" in expand:
            shown["skills"] = render.user_skills(u, skills)
        out = {
            "id": u["id"],
            "name": u["name"],
            "user": shown,
            "ringNumber": m.get("ringNumber", 1),
            "joined": bool(m.get("joined")),
            "memberBy": m.get("memberBy", "user"),
        }
        if "routingStatus" in expand:
            out["routingStatus"] = render.routing_status(u)
        out["selfUri"] = f"/api/v2/routing/queues/{queue_id}/members/{u['id']}"
        return out

    return page_number_listing(
        request,
        rows,
        path=f"/api/v2/routing/queues/{queue_id}/members",
        render=member,
        max_page_size=100,
        totals=False,  # QueueMemberEntityListing has no total, pageCount or lastUri
        keep=("expand", "joined", "routingStatus", "memberBy", "name", "sortOrder"),
    )


def list_skills(request: HttpRequest):
    skills = [s for s in store.all_of(render.SKILL) if s.get("state") != "deleted"]
    if name := (request.GET.get("name") or "").lower():
        skills = [s for s in skills if s["name"].lower().startswith(name)]
    if ids := list_param(request, "id"):
        skills = [s for s in skills if s["id"] in ids]
    skills.sort(key=lambda s: s["name"].lower())
    return page_number_listing(
        request,
        skills,
        path="/api/v2/routing/skills",
        render=render.skill,
        max_page_size=500,
        keep=("name", "id"),
    )


def get_skill(request: HttpRequest, skill_id: str):
    return render.skill(store.require(render.SKILL, skill_id, entity_name="Skill"))


queues = endpoint(get=list_queues)
queue = endpoint(get=get_queue)
members = endpoint(get=list_members)
skills = endpoint(get=list_skills)
skill = endpoint(get=get_skill)
