"""Process Automation triggers (docs/GENESYS.md §4): create, list, get, update, delete, test, topics.

Rules and shapes live in simulator/triggers.py; this module parses requests and pages listings.
Listings follow the schemas in openapi-subset.json: TriggerEntityListing and
TopicCursorEntityListing carry `entities`, `nextUri`, `previousUri` and `selfUri` (no `after`
field); the cursors travel in those URIs as `after` / `before`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest

from simulator import triggers
from simulator.errors import bad_request, detail
from simulator.http import Reply, bool_param, endpoint, int_param, json_body, list_param
from simulator.paging import cursor_decode, cursor_encode, query_fingerprint

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 25


def cursor_page(
    request: HttpRequest,
    items: Sequence[Any],
    *,
    path: str,
    keep: dict[str, str],
    render: Callable[[Any], Any] = lambda x: x,
) -> dict[str, Any]:
    """One page of `items` by `after` (forwards) or `before` (backwards) cursor."""
    page_size = int_param(
        request, "pageSize", default=DEFAULT_PAGE_SIZE, minimum=1, maximum=MAX_PAGE_SIZE
    )
    after, before = request.GET.get("after"), request.GET.get("before")
    if after and before:
        raise bad_request("Send either after or before, not both.", detail("before"))
    fingerprint = query_fingerprint(keep)
    if before:
        end = cursor_decode(before, fingerprint=fingerprint)
        start = max(0, end - page_size)
    else:
        start = cursor_decode(after, fingerprint=fingerprint)
        end = start + page_size
    page = items[start:end]

    def uri(**cursor: str) -> str:
        query = urlencode({**keep, "pageSize": page_size, **cursor})
        return f"{path}?{query}"

    listing: dict[str, Any] = {"entities": [render(item) for item in page]}
    if end < len(items):
        listing["nextUri"] = uri(after=cursor_encode(offset=end, fingerprint=fingerprint))
    listing["selfUri"] = uri(
        **({"after": after} if after else {}), **({"before": before} if before else {})
    )
    if start > 0:
        listing["previousUri"] = uri(before=cursor_encode(offset=start, fingerprint=fingerprint))
    return listing


def list_triggers(request: HttpRequest):
    found = triggers.triggers_all()
    keep: dict[str, str] = {}
    topics = list_param(request, "topicName")
    if topics:
        found = [t for t in found if t["topicName"] in topics]
        keep["topicName"] = ",".join(topics)
    enabled = bool_param(request, "enabled")
    if enabled is not None:
        found = [t for t in found if t["enabled"] is enabled]
        keep["enabled"] = str(enabled).lower()
    has_delay = bool_param(request, "hasDelayBy")
    if has_delay is not None:
        found = [t for t in found if (t.get("delayBySeconds") is not None) is has_delay]
        keep["hasDelayBy"] = str(has_delay).lower()
    return cursor_page(
        request, found, path=triggers.BASE_PATH, keep=keep, render=triggers.render_trigger
    )


def create_trigger(request: HttpRequest):
    return triggers.render_trigger(triggers.trigger_create(body=json_body(request)))


def get_trigger(request: HttpRequest, trigger_id: str):
    return triggers.render_trigger(triggers.trigger_require(trigger_id))


def put_trigger(request: HttpRequest, trigger_id: str):
    updated = triggers.trigger_update(trigger_id=trigger_id, body=json_body(request))
    return triggers.render_trigger(updated)


def delete_trigger(request: HttpRequest, trigger_id: str):
    triggers.trigger_delete(trigger_id=trigger_id)
    return Reply(None, status=204)


def run_trigger_test(request: HttpRequest, trigger_id: str):
    trigger = triggers.trigger_require(trigger_id)
    probe = triggers.event_probe_parse(request.body)
    if probe.problem:
        raise bad_request(probe.problem, detail("body"))
    return triggers.trigger_test(trigger, probe)


def list_topics(request: HttpRequest):
    return cursor_page(
        request, list(triggers.TRIGGER_TOPICS), path=f"{triggers.BASE_PATH}/topics", keep={}
    )


triggers_view = endpoint(get=list_triggers, post=create_trigger)
trigger_view = endpoint(get=get_trigger, put=put_trigger, delete=delete_trigger)
trigger_test_view = endpoint(post=run_trigger_test)
topics_view = endpoint(get=list_topics)
