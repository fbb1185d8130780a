"""Genesys Cloud Platform API client (docs/GENESYS.md holds the facts it relies on)."""

from workitems.genesys.client import GenesysClient, get_client
from workitems.genesys.errors import GenesysError, RateLimited

__all__ = ["GenesysClient", "GenesysError", "RateLimited", "get_client"]
