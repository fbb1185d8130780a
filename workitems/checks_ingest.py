"""System checks for the ingest endpoint's credentials."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security)
def ingest_credentials(app_configs, **kwargs):
    problems = []
    secrets = settings.INGEST_SECRETS
    pairs = settings.INGEST_BASIC_AUTH
    if not secrets and not pairs:
        problems.append(
            Warning(
                "INGEST_SECRETS and INGEST_BASIC_AUTH are both empty: the ingest endpoint "
                "refuses every request.",
                hint="Set INGEST_SECRETS (sent by Genesys in the X-Ingest-Secret header) and/or "
                "INGEST_BASIC_AUTH (user:password pairs for HTTP Basic), comma-separated.",
                id="workitems.W020",
            )
        )
    for position, pair in enumerate(pairs, start=1):
        user, colon, password = pair.partition(":")
        if not colon or not user or not password:
            # Name the position, never the value: it may be a password.
            problems.append(
                Error(
                    f"INGEST_BASIC_AUTH entry #{position} is not of the form user:password.",
                    hint="Each comma-separated entry needs a user name, a colon and a password.",
                    id="workitems.E020",
                )
            )
    return problems
