"""Which request headers an inbound event keeps.

An allow-list of what helps to trace a delivery back to its sender, nothing else: a sender may
put anything in any header (a token in X-Request-Id, traceparent or User-Agent), and what is kept
is shown to everyone who may view inbound events. Credentials (Authorization, X-Ingest-Secret,
cookies) are never on the list; any kept value that holds a configured secret (the ingest
secrets and Basic passwords, the Genesys client secret, the signing secrets, SECRET_KEY — the
same list the audit trail scrubs) has it replaced by "[redacted]".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audits.services import configured_secrets, scrub

# request.META key → the header's name as stored.
STORED_HEADERS = {
    "CONTENT_TYPE": "Content-Type",
    "CONTENT_LENGTH": "Content-Length",
    "HTTP_USER_AGENT": "User-Agent",
    # Genesys's id for the request (its data actions and API answers carry it).
    "HTTP_ININ_CORRELATION_ID": "ININ-Correlation-Id",
    # AWS's trace id (EventBridge API destinations, AWS load balancers).
    "HTTP_X_AMZN_TRACE_ID": "X-Amzn-Trace-Id",
}
HEADER_VALUE_MAX = 500


def ingest_headers_select(meta: Mapping[str, Any]) -> dict[str, str]:
    """The allow-listed headers of a request's META, scrubbed of configured secrets."""
    secrets = configured_secrets()
    kept = {}
    for key, name in STORED_HEADERS.items():
        if not meta.get(key):
            continue
        # Scrubbed before it is cut, so no secret survives in part; PostgreSQL cannot hold NUL.
        value = scrub(str(meta[key]), secrets).replace("\x00", "\ufffd")
        kept[name] = value[:HEADER_VALUE_MAX]
    return kept
