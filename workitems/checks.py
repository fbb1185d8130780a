"""System checks: configuration a supervisor would otherwise discover at the worst moment."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register


@register()
def genesys_configured(app_configs, **kwargs):
    problems = []
    if not settings.GENESYS_API_BASE:
        problems.append(
            Warning(
                "GENESYS_REGION is not set: the portal cannot reach Genesys Cloud.",
                hint="Set GENESYS_REGION to a region key (eu_west_1) or domain (mypurecloud.ie), "
                "or to 'simulator' for the built-in fake.",
                id="workitems.W001",
            )
        )
    elif not (settings.GENESYS_CLIENT_ID and settings.GENESYS_CLIENT_SECRET):
        problems.append(
            Warning(
                "GENESYS_CLIENT_ID or GENESYS_CLIENT_SECRET is empty: token requests will fail.",
                hint="Create an OAuth client with the Client Credentials grant in Genesys Cloud "
                "(see README) and set both variables.",
                id="workitems.W002",
            )
        )
    if settings.SIMULATOR_ENABLED and not settings.DEBUG:
        problems.append(
            Warning(
                "The Genesys simulator is mounted while DEBUG is off.",
                hint="Production must point GENESYS_REGION at a real region.",
                id="workitems.W003",
            )
        )
    return problems


@register()
def send_claim_lease(app_configs, **kwargs):
    from workitems.services.send_claims import lease_too_short

    problem = lease_too_short()
    if not problem:
        return []
    return [
        Warning(
            problem + ".",
            hint="Raise SUBMIT_CLAIM_SECONDS, or lower the Genesys timeouts or retry ceiling.",
            id="workitems.W010",
        )
    ]
