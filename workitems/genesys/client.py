"""Genesys Cloud Platform API client: one method per endpoint the portal uses, plain JSON dicts out.

Listings are iterators that page for you. Errors are GenesysError (RateLimited for waits beyond
GENESYS_RETRY_AFTER_CEILING); see errors.py for what `outcome_unknown` asks of the caller.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

import requests

from workitems.genesys.auth import TokenProvider
from workitems.genesys.config import ClientConfig
from workitems.genesys.errors import GenesysError
from workitems.genesys.http import Transport, build_session
from workitems.genesys.pacing import Pacer

Json = dict[str, Any]

PAGE_SIZE = 100  # page-number listings; queue members allow at most 100
CURSOR_PAGE_SIZE = 200  # Task Management maximum


def _seg(value: str) -> str:
    """An id as one path segment, so it can never change which endpoint is called."""
    return quote(str(value), safe="")


class GenesysClient:
    def __init__(
        self,
        *,
        config: ClientConfig,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        pacing: bool = True,
    ) -> None:
        """`session`: bring your own (e.g. with a test transport mounted); otherwise a pooled one
        with the retry policy is built. `sleep`/`clock` drive retries and pacing."""
        session = session or build_session(config=config, sleep=sleep)
        self.tokens = TokenProvider(
            session=session,
            login_base=config.login_base,
            client_id=config.client_id,
            client_secret=config.client_secret,
            timeout=config.timeout,
        )
        pacer = (
            Pacer(
                per_minute=config.rate_limit_per_minute,
                ceiling=config.retry_after_ceiling,
                clock=clock,
                sleep=sleep,
            )
            if pacing
            else None
        )
        self._http = Transport(config=config, session=session, tokens=self.tokens, pacer=pacer)

    def request(
        self, *, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> Any:
        return self._http.request(method, path, params=params, body=body)

    # --- Pagination ---------------------------------------------------------------------------

    def iter_page_number(
        self, *, path: str, params: Mapping[str, Any] | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[Json]:
        """Routing and users listings: pageNumber from 1 until pageCount (or no nextUri)."""
        number = 1
        while True:
            page = self.request(
                method="GET",
                path=path,
                params={**(params or {}), "pageNumber": number, "pageSize": page_size},
            )
            entities = (page or {}).get("entities") or []
            yield from entities
            page_count = page.get("pageCount") if page else None
            # Queue members carry no pageCount; nextUri is their only "more" signal.
            more = (
                number < page_count
                if page_count is not None
                else bool(page and page.get("nextUri"))
            )
            if not entities or not more:
                return
            number += 1

    def iter_cursor_pages(
        self, *, method: str, path: str, body_or_params: Mapping[str, Any]
    ) -> Iterator[Json]:
        """Each page of a Task Management or trigger listing, one request each, following
        `after` until a page has none.

        "It is not guaranteed that the requested number of entities will be filled in a single
        request" (docs/GENESYS.md §2): a page may be short or even empty and still carry `after`, so
        neither is taken to mean the end. A caller searching for something may stop early."""
        query = dict(body_or_params)
        while True:
            if method.upper() == "GET":
                page = self.request(method=method, path=path, params=query)
            else:
                page = self.request(method=method, path=path, body=query)
            page = page or {}
            yield page
            after = page.get("after")
            if not after:
                return
            if after == query.get("after"):
                raise GenesysError(
                    message="Genesys returned the same cursor twice",
                    method=method,
                    path=path,
                    hint="Stopped paging to avoid a loop; report the contextId to Genesys.",
                )
            query["after"] = after

    def iter_cursor(
        self, *, method: str, path: str, body_or_params: Mapping[str, Any]
    ) -> Iterator[Json]:
        """The entities of every page of a cursor listing (see iter_cursor_pages)."""
        for page in self.iter_cursor_pages(method=method, path=path, body_or_params=body_or_params):
            yield from page.get("entities") or []

    # --- Routing ------------------------------------------------------------------------------

    def iter_queues(self) -> Iterator[Json]:
        return self.iter_page_number(path="/api/v2/routing/queues")

    def get_queue(self, *, queue_id: str) -> Json:
        return self.request(method="GET", path=f"/api/v2/routing/queues/{_seg(queue_id)}")

    def iter_queue_members(self, *, queue_id: str, joined: bool | None = None) -> Iterator[Json]:
        """Members with `user.skills` (UserRoutingSkill) and `routingStatus.status` expanded."""
        params: dict[str, Any] = {"expand": "routingStatus,skills"}
        if joined is not None:
            params["joined"] = "true" if joined else "false"
        return self.iter_page_number(
            path=f"/api/v2/routing/queues/{_seg(queue_id)}/members", params=params
        )

    def iter_skills(self) -> Iterator[Json]:
        return self.iter_page_number(path="/api/v2/routing/skills")

    def get_user_routing_skills(self, *, user_id: str) -> list[Json]:
        return list(self.iter_page_number(path=f"/api/v2/users/{_seg(user_id)}/routingskills"))

    # --- Task Management: worktypes, statuses, workbins ---------------------------------------

    def iter_worktypes(self) -> Iterator[Json]:
        """Every worktype. No `filters`: Genesys's own Terraform provider lists them all this way.
        `schema` is only a reference {id, name, version}; expanding it adds the name, and the
        JSON schema itself comes from get_workitem_schema_version."""
        return self.iter_cursor(
            method="POST",
            path="/api/v2/taskmanagement/worktypes/query",
            body_or_params={"pageSize": CURSOR_PAGE_SIZE, "expands": "schema"},
        )

    def get_worktype(self, *, worktype_id: str) -> Json:
        return self.request(
            method="GET", path=f"/api/v2/taskmanagement/worktypes/{_seg(worktype_id)}"
        )

    def list_worktype_statuses(self, *, worktype_id: str) -> list[Json]:
        # WorkitemStatusListing is {total, entities, selfUri}: one page, no paging parameters.
        listing = self.request(
            method="GET", path=f"/api/v2/taskmanagement/worktypes/{_seg(worktype_id)}/statuses"
        )
        return (listing or {}).get("entities") or []

    def get_workitem_schema_version(self, *, schema_id: str, version: int | str) -> Json:
        """DataSchema: one version of a custom-field schema, with its `jsonSchema`."""
        return self.request(
            method="GET",
            path=f"/api/v2/taskmanagement/workitems/schemas/{_seg(schema_id)}"
            f"/versions/{_seg(str(version))}",
        )

    def get_workitem_schema(self, *, schema_id: str) -> Json:
        """DataSchema: the latest version of a custom-field schema."""
        return self.request(
            method="GET", path=f"/api/v2/taskmanagement/workitems/schemas/{_seg(schema_id)}"
        )

    def iter_workbins(self) -> Iterator[Json]:
        return self.iter_cursor(
            method="POST",
            path="/api/v2/taskmanagement/workbins/query",
            body_or_params={"pageSize": CURSOR_PAGE_SIZE},  # no filters, as for worktypes
        )

    # --- Task Management: work items ----------------------------------------------------------

    def create_workitem(self, *, body: Json) -> Json:
        """Never retried after it may have reached Genesys: on a 5xx, timeout or dropped
        connection the GenesysError has outcome_unknown=True; look the item up (externalTag)."""
        return self.request(method="POST", path="/api/v2/taskmanagement/workitems", body=body)

    def get_workitem(self, *, workitem_id: str) -> Json:
        return self.request(
            method="GET", path=f"/api/v2/taskmanagement/workitems/{_seg(workitem_id)}"
        )

    def iter_workitems(
        self, *, filters: list[Json], page_size: int = CURSOR_PAGE_SIZE
    ) -> Iterator[Json]:
        """Work items matching `filters` (at most three; Genesys needs an EQ filter on workbinId,
        assigneeId, queueId or typeId), every page. There is deliberately no one-page variant:
        a look-up that stops at the first page can miss an item that exists."""
        for page in self.iter_workitem_pages(filters=filters, page_size=page_size):
            yield from page.get("entities") or []

    def iter_workitem_pages(
        self, *, filters: list[Json], page_size: int = CURSOR_PAGE_SIZE
    ) -> Iterator[Json]:
        """The same query page by page (one request each), for look-ups that count their
        requests or stop once they have found what they were looking for."""
        return self.iter_cursor_pages(
            method="POST",
            path="/api/v2/taskmanagement/workitems/query",
            body_or_params={"filters": filters, "pageSize": page_size},
        )

    def create_bulk_add_job(self, *, entities: list[Json]) -> Json:
        """A BulkJob in state Idle: nothing runs until start_bulk_add_job. Like create_workitem,
        never retried once it may have arrived (outcome_unknown)."""
        return self.request(
            method="POST",
            path="/api/v2/taskmanagement/workitems/bulk/add/jobs",
            body={"entities": entities},
        )

    def start_bulk_add_job(self, *, job_id: str) -> Json:
        """PATCH {"state": "Queued"}: "To execute the bulk add job you must update the state of
        the job to Queued". Only an Idle job can be started."""
        return self._update_bulk_add_job(job_id=job_id, state="Queued")

    def terminate_bulk_add_job(self, *, job_id: str) -> Json:
        """PATCH {"state": "Terminated"}: only while the job is Idle, so nothing of it runs."""
        return self._update_bulk_add_job(job_id=job_id, state="Terminated")

    def _update_bulk_add_job(self, *, job_id: str, state: str) -> Json:
        return self.request(
            method="PATCH",
            path=f"/api/v2/taskmanagement/workitems/bulk/add/jobs/{_seg(job_id)}",
            body={"state": state},
        )

    def delete_bulk_add_job(self, *, job_id: str) -> None:
        """Only while the job is Idle."""
        self.request(
            method="DELETE",
            path=f"/api/v2/taskmanagement/workitems/bulk/add/jobs/{_seg(job_id)}",
        )

    def get_bulk_add_job(self, *, job_id: str) -> Json:
        return self.request(
            method="GET", path=f"/api/v2/taskmanagement/workitems/bulk/add/jobs/{_seg(job_id)}"
        )

    def get_bulk_add_job_results(self, *, job_id: str) -> Json:
        return self.request(
            method="GET",
            path=f"/api/v2/taskmanagement/workitems/bulk/add/jobs/{_seg(job_id)}/results",
        )

    # --- Process Automation triggers ----------------------------------------------------------

    def list_triggers_page(self, *, topic_name: str, page_size: int = 200) -> Json:
        """The first page of the triggers on one topic (`entities`, and `after` when more exist).
        One page is what a caller recognising its own trigger needs; nothing here follows it."""
        return self.request(
            method="GET",
            path="/api/v2/processautomation/triggers",
            params={"topicName": topic_name, "pageSize": page_size},
        )

    def create_trigger(self, *, body: Json) -> Json:
        return self.request(method="POST", path="/api/v2/processautomation/triggers", body=body)

    def get_trigger(self, *, trigger_id: str) -> Json:
        return self.request(
            method="GET", path=f"/api/v2/processautomation/triggers/{_seg(trigger_id)}"
        )

    def update_trigger(self, *, trigger_id: str, body: Json) -> Json:
        """PUT: the body needs the current `version`, `name`, `topicName`, `target`, `enabled`."""
        return self.request(
            method="PUT", path=f"/api/v2/processautomation/triggers/{_seg(trigger_id)}", body=body
        )

    def delete_trigger(self, *, trigger_id: str) -> None:
        self.request(method="DELETE", path=f"/api/v2/processautomation/triggers/{_seg(trigger_id)}")

    def test_trigger(self, *, trigger_id: str, event: Json | str) -> Json:
        """Would this event fire the trigger? `event` is the event body (a dict or JSON text).

        The body is typed `string` (the event's JSON text); the SDK JSON-encodes it, so the
        wire carries a JSON string, and so do we."""
        text = event if isinstance(event, str) else json.dumps(event)
        return self.request(
            method="POST",
            path=f"/api/v2/processautomation/triggers/{_seg(trigger_id)}/test",
            body=json.dumps(text),
        )


def get_client(
    *,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    pacing: bool = True,
) -> GenesysClient:
    """A client configured from settings. Raises GenesysError when GENESYS_REGION is unset."""
    return GenesysClient(
        config=ClientConfig.from_settings(),
        session=session,
        sleep=sleep,
        clock=clock,
        pacing=pacing,
    )
