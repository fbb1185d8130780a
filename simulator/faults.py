"""Fault injection: make chosen requests fail the way a real network and Genesys can fail.

    from simulator import faults
    faults.inject(path_regex=r"/taskmanagement/workitems$", method="POST", status=503)
    faults.inject(path_regex=r"/workitems$", method="POST", kind="timeout", after_processing=True)
    faults.clear()

Kinds:
- "status": answer `status` with a Genesys ErrorBody (and Retry-After if `retry_after` is set).
- "timeout": no answer in time. The in-process transport raises requests' ReadTimeout; over real
  HTTP the simulator sleeps SIMULATOR_TIMEOUT_SECONDS and then answers 504.
- "connect_timeout": nothing reached the server (never processed). The in-process transport raises
  ConnectTimeout; over real HTTP it behaves as "timeout" before processing.
- "reset": the connection drops while the answer is read. In process: ConnectionError; over real
  HTTP the answer is cut short and the connection closed (requests raises ConnectionError).

`after_processing=True` runs the request first (a work item really is created), then fails: the
caller cannot tell whether it worked. `times` uses (None: until cleared); the oldest matching
fault wins. Matching is re.search of `path_regex` on the full path (e.g.
"/simulator/api/v2/taskmanagement/workitems") and, if given, the method.
"""

from __future__ import annotations

import re

from django.db.models import F, Q

from simulator.models import FaultKind, SimFault

KINDS = tuple(FaultKind.values)


def inject(
    *,
    path_regex: str = ".*",
    method: str = "",
    kind: str = FaultKind.STATUS,
    status: int = 503,
    times: int | None = 1,
    after_processing: bool = False,
    retry_after: int | None = None,
    note: str = "",
) -> SimFault:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == FaultKind.CONNECT_TIMEOUT and after_processing:
        raise ValueError("a connect timeout happens before the request arrives")
    if not 400 <= status <= 599:
        raise ValueError(f"status must be an HTTP error status, not {status}")
    if times is not None and times < 1:
        raise ValueError("times must be at least 1 (or None for until cleared)")
    try:
        re.compile(path_regex)  # fail now, not on every request
    except re.error as exc:
        raise ValueError(f"path_regex is not a regular expression: {exc}") from None
    return SimFault.objects.create(
        path_regex=path_regex,
        method=method.upper(),
        kind=kind,
        status=status,
        remaining=times,
        after_processing=after_processing,
        retry_after=retry_after,
        note=note,
    )


def clear(*, fault_id: int | None = None) -> int:
    """Remove one fault, or all of them. Returns how many were removed."""
    faults = SimFault.objects.all() if fault_id is None else SimFault.objects.filter(pk=fault_id)
    return faults.delete()[0]


def active() -> list[SimFault]:
    return list(SimFault.objects.filter(Q(remaining__isnull=True) | Q(remaining__gt=0)))


def fault_take(*, method: str, path: str) -> SimFault | None:
    """Use up one turn of the oldest active fault matching the request, if any."""
    for fault in active():
        if fault.method and fault.method != method.upper():
            continue
        try:
            if not re.search(fault.path_regex, path):
                continue
        except re.error:
            continue
        rows = SimFault.objects.filter(pk=fault.pk)
        if fault.remaining is not None:
            # Compare-and-set, so two processes cannot both use the last turn.
            rows = rows.filter(remaining__gt=0)
            if not rows.update(remaining=F("remaining") - 1, hits=F("hits") + 1):
                continue
        else:
            rows.update(hits=F("hits") + 1)
        return fault
    return None
