"""Genesys's ErrorBody (docs/GENESYS.md §5) and the exception views raise to send one."""

from __future__ import annotations

from typing import Any


def detail(field: str, code: str = "invalid.value") -> dict[str, str]:
    """One entry of ErrorBody.details. The errorCode values are the simulator's own."""
    return {"errorCode": code, "fieldName": field}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}
        self.extra = extra  # entityId, entityName, messageParams…

    def body(self, context_id: str) -> dict[str, Any]:
        return error_body(
            status=self.status,
            code=self.code,
            message=self.message,
            context_id=context_id,
            details=self.details,
            **self.extra,
        )


def error_body(
    *,
    status: int,
    code: str,
    message: str,
    context_id: str,
    details: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "message": message,
        "code": code,
        "status": status,
        **extra,
        "contextId": context_id,
        "details": list(details or []),
        "errors": [],
    }


def bad_request(message: str, *details: dict[str, str]) -> ApiError:
    return ApiError(400, "bad.request", message, details=list(details))


def not_found(entity_name: str, entity_id: str) -> ApiError:
    return ApiError(
        404,
        "not.found",
        f"{entity_name} {entity_id} was not found.",
        entityId=str(entity_id),
        entityName=entity_name,
    )


def unauthorized() -> ApiError:
    return ApiError(401, "bad.credentials", "Invalid login credentials.")


# The codes Genesys uses for server-side statuses a fault may serve.
STATUS_CODES = {
    400: "bad.request",
    401: "bad.credentials",
    403: "missing.permissions",
    404: "not.found",
    409: "conflict",
    429: "too.many.requests.retry.after",
    500: "internal.server.error",
    501: "not.implemented",
    502: "bad.gateway",
    503: "service.unavailable",
    504: "gateway.timeout",
}
