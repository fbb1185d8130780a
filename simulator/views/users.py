"""Per-user routing reads: skills and routing status (docs/GENESYS.md §3)."""

from __future__ import annotations

from django.http import HttpRequest

from simulator import render, store
from simulator.http import endpoint
from simulator.paging import page_number_listing


def get_routing_skills(request: HttpRequest, user_id: str):
    u = store.require(render.USER, user_id, entity_name="User")
    skills = {s["id"]: s for s in store.all_of(render.SKILL)}
    held = render.user_skills(u, skills)
    if (request.GET.get("sortOrder") or "").lower().startswith("desc"):
        held.reverse()
    return page_number_listing(
        request,
        held,
        path=f"/api/v2/users/{user_id}/routingskills",
        max_page_size=500,
        keep=("sortOrder",),
    )


def get_routing_status(request: HttpRequest, user_id: str):
    return render.routing_status(store.require(render.USER, user_id, entity_name="User"))


routing_skills = endpoint(get=get_routing_skills)
routing_status = endpoint(get=get_routing_status)
