"""Genesys Cloud Platform API client (API.md in shared/genesys is the reference)."""

from workitems.genesys.client import GenesysClient, get_client
from workitems.genesys.errors import GenesysError, RateLimited

__all__ = ["GenesysClient", "GenesysError", "RateLimited", "get_client"]
