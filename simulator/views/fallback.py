"""Anything else under /api/v2: a Genesys 404, after the usual token check."""

from __future__ import annotations

from django.http import HttpRequest

from simulator.errors import ApiError
from simulator.http import endpoint


def _unknown(request: HttpRequest, rest: str = ""):
    raise ApiError(
        404, "not.found", f"The simulator does not implement {request.method} /api/v2/{rest}."
    )


unknown = endpoint(
    get=_unknown, post=_unknown, put=_unknown, patch=_unknown, delete=_unknown, head=_unknown
)
