"""The client's settings, read once from django.conf.settings (documented in README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from workitems.genesys.errors import GenesysError


@dataclass(frozen=True)
class ClientConfig:
    api_base: str
    login_base: str
    client_id: str
    client_secret: str = field(repr=False)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_retries: int = 3
    retry_after_ceiling: float = 60
    rate_limit_per_minute: int = 300

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    @classmethod
    def from_settings(cls) -> ClientConfig:
        if not settings.GENESYS_API_BASE or not settings.GENESYS_LOGIN_BASE:
            raise GenesysError(
                message="Genesys Cloud is not configured",
                hint="Set GENESYS_REGION to a region key (eu_west_1), a region domain "
                "(mypurecloud.ie) or 'simulator'.",
            )
        return cls(
            api_base=settings.GENESYS_API_BASE,
            login_base=settings.GENESYS_LOGIN_BASE,
            client_id=settings.GENESYS_CLIENT_ID,
            client_secret=settings.GENESYS_CLIENT_SECRET,
            connect_timeout=settings.GENESYS_CONNECT_TIMEOUT,
            read_timeout=settings.GENESYS_READ_TIMEOUT,
            max_retries=settings.GENESYS_MAX_RETRIES,
            retry_after_ceiling=settings.GENESYS_RETRY_AFTER_CEILING,
            rate_limit_per_minute=settings.GENESYS_RATE_LIMIT_PER_MINUTE,
        )
