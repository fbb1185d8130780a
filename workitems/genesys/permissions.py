"""Which Genesys permission each endpoint we call needs, for 403 and 404 hints.

Copied from `x-genesys-permissions` in the OpenAPI subset (simulator/openapi/genesys-openapi-subset.json). Where
an endpoint accepts any of several permissions, the least powerful one is named.
"""

from __future__ import annotations

import re

# (method, path template, permission, or None where the SDK says "Requires no permissions").
# Templates are matched against the request path.
ENDPOINTS: tuple[tuple[str, str, str | None], ...] = (
    ("GET", "/api/v2/routing/queues", "routing:queue:view"),
    ("GET", "/api/v2/routing/queues/{queueId}", "routing:queue:view"),
    ("GET", "/api/v2/routing/queues/{queueId}/members", "routing:queue:view"),
    ("GET", "/api/v2/routing/skills", "routing:skill:view"),
    ("GET", "/api/v2/users/{userId}/routingskills", None),  # "Requires no permissions" (SDK)
    ("POST", "/api/v2/taskmanagement/worktypes/query", "workitems:worktype:view"),
    ("GET", "/api/v2/taskmanagement/worktypes/{worktypeId}", "workitems:worktype:view"),
    ("GET", "/api/v2/taskmanagement/worktypes/{worktypeId}/statuses", "workitems:status:view"),
    ("POST", "/api/v2/taskmanagement/workbins/query", "workitems:workbin:view"),
    (
        "GET",
        "/api/v2/taskmanagement/workitems/schemas/{schemaId}/versions/{versionId}",
        "workitems:workitemSchema:view",
    ),
    ("GET", "/api/v2/taskmanagement/workitems/schemas/{schemaId}", "workitems:workitemSchema:view"),
    ("POST", "/api/v2/taskmanagement/workitems", "workitems:workitem:add"),
    ("POST", "/api/v2/taskmanagement/workitems/query", "workitems:workitem:view"),
    ("GET", "/api/v2/taskmanagement/workitems/{workitemId}", "workitems:workitem:view"),
    ("POST", "/api/v2/taskmanagement/workitems/bulk/add/jobs", "workitems:bulkAddJob:add"),
    (
        "GET",
        "/api/v2/taskmanagement/workitems/bulk/add/jobs/{bulkJobId}",
        "workitems:bulkAddJob:view",
    ),
    (
        "PATCH",
        "/api/v2/taskmanagement/workitems/bulk/add/jobs/{bulkJobId}",
        "workitems:bulkAddJob:edit",
    ),
    (
        "DELETE",
        "/api/v2/taskmanagement/workitems/bulk/add/jobs/{bulkJobId}",
        "workitems:bulkAddJob:delete",
    ),
    (
        "GET",
        "/api/v2/taskmanagement/workitems/bulk/add/jobs/{bulkJobId}/results",
        "workitems:bulkAddJobResults:view",
    ),
    ("GET", "/api/v2/processautomation/triggers", "processautomation:trigger:view"),
    ("POST", "/api/v2/processautomation/triggers", "processautomation:trigger:add"),
    ("GET", "/api/v2/processautomation/triggers/{triggerId}", "processautomation:trigger:view"),
    ("PUT", "/api/v2/processautomation/triggers/{triggerId}", "processautomation:trigger:edit"),
    (
        "DELETE",
        "/api/v2/processautomation/triggers/{triggerId}",
        "processautomation:trigger:delete",
    ),
    (
        "POST",
        "/api/v2/processautomation/triggers/{triggerId}/test",
        "processautomation:trigger:test",
    ),
)

_PARAM = re.compile(r"\{(\w+)\}")


def _compile(template: str) -> re.Pattern[str]:
    # Templates hold only letters, digits, "/" and {params}: nothing else needs escaping.
    return re.compile(_PARAM.sub(r"(?P<\1>[^/]+)", template) + "$")


_COMPILED = [(method, _compile(template), permission) for method, template, permission in ENDPOINTS]


def required_permission(*, method: str, path: str) -> str | None:
    for m, pattern, permission in _COMPILED:
        if m == method.upper() and pattern.match(path):
            return permission
    return None


def addressed_object(*, path: str) -> str | None:
    """The last object a path names by id, as "worktype 1234", or None for a collection."""
    for _m, pattern, _p in _COMPILED:
        match = pattern.match(path)
        if match and match.groupdict():
            name, value = list(match.groupdict().items())[-1]
            return f"{name.removesuffix('Id')} {value}"
    return None
