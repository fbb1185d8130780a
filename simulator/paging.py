"""The two Genesys paging styles (docs/GENESYS.md §5): page numbers (routing, users) and cursors (Task
Management)."""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest

from simulator.errors import bad_request, detail
from simulator.http import int_param

DEFAULT_PAGE_SIZE = 25


def page_number_listing(
    request: HttpRequest,
    items: Sequence[Any],
    *,
    path: str,
    render: Callable[[Any], Any] = lambda x: x,
    max_page_size: int = 500,
    totals: bool = True,
    keep: Sequence[str] = (),
) -> dict[str, Any]:
    """One page of `items` as a Genesys *EntityListing.

    `totals=False` leaves out total, pageCount and lastUri, as QueueMemberEntityListing does.
    `keep` names the query parameters repeated in the page URIs.
    """
    page_size = int_param(
        request, "pageSize", default=DEFAULT_PAGE_SIZE, minimum=1, maximum=max_page_size
    )
    page_number = int_param(request, "pageNumber", default=1, minimum=1)
    total = len(items)
    page_count = max(1, math.ceil(total / page_size)) if total else 0
    start = (page_number - 1) * page_size
    page = items[start : start + page_size]
    kept = [(name, value) for name in keep for value in request.GET.getlist(name)]

    def uri(number: int) -> str:
        return f"{path}?{urlencode([*kept, ('pageSize', page_size), ('pageNumber', number)])}"

    listing: dict[str, Any] = {
        "entities": [render(item) for item in page],
        "pageSize": page_size,
        "pageNumber": page_number,
    }
    if totals:
        listing["total"] = total
        listing["pageCount"] = page_count
    listing["firstUri"] = uri(1)
    listing["selfUri"] = uri(page_number)
    if start + page_size < total:
        listing["nextUri"] = uri(page_number + 1)
    if page_number > 1:
        listing["previousUri"] = uri(page_number - 1)
    if totals:
        listing["lastUri"] = uri(max(page_count, 1))
    return listing


# --- Cursors ----------------------------------------------------------------------------------


def query_fingerprint(query: Any) -> str:
    """Ties a cursor to the filters and sort it was made for."""
    return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:16]


def cursor_encode(*, offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "q": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(after: Any, *, fingerprint: str) -> int:
    """The offset an `after` cursor stands for; a 400 for one this query did not hand out."""
    if after in (None, ""):
        return 0
    try:
        text = str(after)
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
        offset = int(data["o"])
        ok = data["q"] == fingerprint and offset >= 0
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise bad_request("The after cursor is not valid for this query.", detail("after"))
    return offset


def short_pages() -> bool:
    """SIMULATOR_SHORT_PAGES (on unless turned off): pages as short as Genesys allows."""
    return settings.SIMULATOR_SHORT_PAGES


def cursor_listing(
    items: Sequence[Any],
    *,
    page_size: int,
    after: Any,
    fingerprint: str,
    self_uri: str,
    render: Callable[[Any], Any] = lambda x: x,
) -> dict[str, Any]:
    """{entities, after?, selfUri}: `after` only while more entities remain.

    Genesys: "It is not guaranteed that the requested number of entities will be filled in a
    single request. If an `after` key is returned … more entities that match … may exist"
    (docs/GENESYS.md §2). With short pages on, the simulator does both things that can fool a client:
    the first page of every query is empty and carries `after` (even when nothing matches), and
    every later page holds one entity fewer than asked for. How short real pages get is
    NOT CONFIRMED; these are the two shapes a client must survive.
    """
    if short_pages() and after in (None, ""):
        return {
            "entities": [],
            "after": cursor_encode(offset=0, fingerprint=fingerprint),
            "selfUri": self_uri,
        }
    offset = cursor_decode(after, fingerprint=fingerprint)
    size = max(page_size - 1, 1) if short_pages() else page_size
    page = items[offset : offset + size]
    listing: dict[str, Any] = {"entities": [render(item) for item in page], "selfUri": self_uri}
    if offset + size < len(items):
        listing["after"] = cursor_encode(offset=offset + size, fingerprint=fingerprint)
    return listing
