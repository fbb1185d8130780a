"""The WorkitemCreate body for one of our work items: only real Genesys fields, nothing empty."""

from __future__ import annotations

from typing import Any

from workitems.genesys_wire import genesys_datetime
from workitems.models import WorkItem


def workitem_create_body(*, item: WorkItem, bulk: bool = False) -> dict[str, Any]:
    """Fields left empty are omitted so Genesys applies the worktype's defaults.

    `bulk` builds a WorkitemCommonCreate, which has no preferredAgentIds.
    """
    body: dict[str, Any] = {
        "name": item.name,
        "typeId": item.worktype.genesys_id,
        "externalTag": item.external_ref,
    }
    if item.description:
        body["description"] = item.description
    if item.priority is not None:
        body["priority"] = item.priority
    if item.date_due:
        body["dateDue"] = genesys_datetime(item.date_due)
    if item.date_expires:
        body["dateExpires"] = genesys_datetime(item.date_expires)
    if item.status_id:
        body["statusId"] = item.status.genesys_id
    if item.workbin_id:
        body["workbinId"] = item.workbin.genesys_id
    if item.queue_id:
        body["queueId"] = item.queue.genesys_id
    if item.language_id:
        body["languageId"] = item.language_id
    skill_ids = [s.genesys_id for s in item.skills.all()]
    if skill_ids:
        body["skillIds"] = skill_ids
    if item.preferred_agent_ids and not bulk:
        body["preferredAgentIds"] = list(item.preferred_agent_ids)
    if item.custom_fields:
        body["customFields"] = dict(item.custom_fields)
    return body
