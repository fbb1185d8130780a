"""A throwaway PostgreSQL database for a benchmark: created beside DATABASE_URL's, dropped after.

Shared by the benchmark scripts (run as `python benchmarks/<name>.py`, so this module is on the
path). The role in DATABASE_URL needs CREATEDB.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit


class ScratchUnavailable(Exception):
    """Why no scratch database can be had; the benchmark prints it and measures nothing."""


def _connect(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username,
        password=parts.password,
        dbname=parts.path.lstrip("/") or "postgres",
        autocommit=True,
    )


def scratch_create(url: str, prefix: str) -> tuple[str, str]:
    """Create `<prefix>_<pid>` on DATABASE_URL's server; return (name, its URL)."""
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        shown = repr(url.split("@")[-1]) if url else "no DATABASE_URL"
        raise ScratchUnavailable(
            "needs PostgreSQL: set DATABASE_URL=postgres://user:pass@host/db "
            f"(a role with CREATEDB). Got {shown}"
        )
    name = f"{prefix}_{os.getpid()}"
    try:
        with _connect(url) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # unreachable server, no CREATEDB, …
        raise ScratchUnavailable(f"cannot create a throwaway database ({exc})") from None
    parts = urlsplit(url)
    return name, urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


def scratch_drop(url: str, name: str, *, keep: bool = False) -> None:
    """Close Django's connections (if Django was set up) and drop the database unless kept."""
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001 - Django never set up
        pass
    if keep:
        print(f"Kept database {name}.")
        return
    with _connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"Dropped database {name}.")
