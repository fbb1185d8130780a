"""Genesys Cloud regions: API host and login host (docs/GENESYS.md §1).

Pure Python on purpose: settings import it to validate GENESYS_REGION at start-up.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# SDK region key -> region domain. The API host is api.<domain>, the login host login.<domain>.
REGION_DOMAINS: dict[str, str] = {
    "us_east_1": "mypurecloud.com",
    "us_east_2": "use2.us-gov-pure.cloud",
    "us_west_2": "usw2.pure.cloud",
    "ca_central_1": "cac1.pure.cloud",
    "sa_east_1": "sae1.pure.cloud",
    "mx_central_1": "mxc1.pure.cloud",
    "eu_west_1": "mypurecloud.ie",
    "eu_west_2": "euw2.pure.cloud",
    "eu_central_1": "mypurecloud.de",
    "eu_central_2": "euc2.pure.cloud",
    "me_central_1": "mec1.pure.cloud",
    "ap_south_1": "aps1.pure.cloud",
    "ap_northeast_1": "mypurecloud.jp",
    "ap_northeast_2": "apne2.pure.cloud",
    "ap_northeast_3": "apne3.pure.cloud",
    "ap_southeast_1": "apse1.pure.cloud",
    "ap_southeast_2": "mypurecloud.com.au",
}
SIMULATOR = "simulator"


def _clean_base(url: str, name: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{name} must be an absolute http(s) URL such as https://api.mypurecloud.ie, got {url!r}."
        )
    return url.rstrip("/")


def resolve_bases(
    *, region: str, api_override: str = "", login_override: str = "", simulator_base: str = ""
) -> tuple[str, str]:
    """Return (api_base, login_base) for a region key, a region domain, or "simulator".

    The API base has no /api/v2 suffix; the token endpoint is {login_base}/oauth/token.
    An empty region with no overrides gives ("", ""): the client refuses to run until set.
    """
    key = region.strip().lower()
    if key == SIMULATOR:
        api = login = simulator_base
    elif key in REGION_DOMAINS:
        domain = REGION_DOMAINS[key]
        api, login = f"https://api.{domain}", f"https://login.{domain}"
    elif key in REGION_DOMAINS.values():
        api, login = f"https://api.{key}", f"https://login.{key}"
    elif key:
        known = ", ".join(sorted(REGION_DOMAINS))
        raise ValueError(
            f"GENESYS_REGION {region!r} is not a Genesys Cloud region. Use a key ({known}), "
            f"a region domain such as mypurecloud.ie, or 'simulator'."
        )
    else:
        api = login = ""
    if api_override:
        api = _clean_base(api_override, "GENESYS_API_BASE_URL")
    if login_override:
        login = _clean_base(login_override, "GENESYS_LOGIN_BASE_URL")
    if api:
        api = _clean_base(api, "GENESYS_API_BASE_URL" if api_override else "SIMULATOR_BASE_URL")
    if login:
        login = _clean_base(
            login, "GENESYS_LOGIN_BASE_URL" if login_override else "SIMULATOR_BASE_URL"
        )
    return api, login
