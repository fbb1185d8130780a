"""GENESYS_REGION to API and login hosts (docs/GENESYS.md §1)."""

from __future__ import annotations

import pytest

from workitems.genesys.regions import REGION_DOMAINS, resolve_bases


@pytest.mark.parametrize(
    ("region", "api", "login"),
    [
        ("eu_west_1", "https://api.mypurecloud.ie", "https://login.mypurecloud.ie"),
        ("us_east_1", "https://api.mypurecloud.com", "https://login.mypurecloud.com"),
        ("ap_southeast_2", "https://api.mypurecloud.com.au", "https://login.mypurecloud.com.au"),
        ("us_west_2", "https://api.usw2.pure.cloud", "https://login.usw2.pure.cloud"),
        (" EU_CENTRAL_1 ", "https://api.mypurecloud.de", "https://login.mypurecloud.de"),
    ],
)
def test_region_key_selects_the_api_and_login_hosts(region, api, login):
    assert resolve_bases(region=region) == (api, login)


@pytest.mark.parametrize("domain", ["mypurecloud.ie", "euw2.pure.cloud", "use2.us-gov-pure.cloud"])
def test_region_domain_selects_the_same_hosts_as_its_key(domain):
    key = next(k for k, d in REGION_DOMAINS.items() if d == domain)

    assert resolve_bases(region=domain) == resolve_bases(region=key)
    assert resolve_bases(region=domain) == (f"https://api.{domain}", f"https://login.{domain}")


def test_overrides_replace_the_region_hosts_and_lose_trailing_slashes():
    api, login = resolve_bases(
        region="eu_west_1",
        api_override="https://proxy.example.test/genesys/",
        login_override="https://login-proxy.example.test/",
    )

    assert (api, login) == (
        "https://proxy.example.test/genesys",
        "https://login-proxy.example.test",
    )


def test_simulator_uses_the_simulator_base_for_both():
    base = "http://simulator.test/simulator"

    assert resolve_bases(region="simulator", simulator_base=base) == (base, base)


def test_no_region_means_not_configured():
    assert resolve_bases(region="") == ("", "")


@pytest.mark.parametrize("region", ["mygen.com", "eu-west-1", "acme.mypurecloud.ie"])
def test_unknown_region_is_refused_naming_genesys_region(region):
    with pytest.raises(ValueError, match="GENESYS_REGION") as caught:
        resolve_bases(region=region)

    assert "eu_west_1" in str(caught.value)


def test_malformed_override_is_refused_naming_the_variable():
    with pytest.raises(ValueError, match="GENESYS_API_BASE_URL"):
        resolve_bases(region="eu_west_1", api_override="api.mypurecloud.ie")
