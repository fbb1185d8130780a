"""A throwaway PostgreSQL database for a benchmark: created beside DATABASE_URL's, dropped after.

Shared by the benchmark scripts (run as `python benchmarks/<name>.py`, so this module is on the
path). The role in DATABASE_URL needs CREATEDB.
"""

from __future__ import annotations

import os
import time
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


def scratch_drop(url: str, name: str, *, keep: bool = False, wait_seconds: float = 180.0) -> bool:
    """Close Django's connections (if Django was set up) and drop the database unless kept.

    `DROP DATABASE … WITH (FORCE)` ends every session on the database, which PostgreSQL refuses
    (InsufficientPrivilege) when one belongs to a role we are not a member of: an operator's psql,
    a monitoring agent, or an autovacuum worker (no role at all) cleaning up after a benchmark's
    million-row writes. Then new connections are refused (ALLOW_CONNECTIONS false, which the owner
    may set), only this role's own sessions are ended (a role may always end its own), the others
    are waited for, up to `wait_seconds`, and the plain DROP is retried; if they are still there,
    the database is left behind and we say so, with the command to drop it. Returns whether it
    was dropped.
    """
    try:
        from django.db import connections

        connections.close_all()
    except Exception:  # noqa: BLE001 - Django never set up
        pass
    if keep:
        print(f"Kept database {name}.")
        return False
    from psycopg import errors

    started = time.monotonic()
    deadline = started + wait_seconds
    with _connect(url) as conn:
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except errors.InsufficientPrivilege:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        else:
            print(f"Dropped database {name}.")
            return True
        others: list[tuple[str, int]] = []
        ended = 0
        while True:
            ended += conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()",
                [name],
            ).fetchone()[0]
            others = conn.execute(
                "SELECT COALESCE('role ' || quote_literal(usename), backend_type), count(*) "
                "FROM pg_stat_activity "
                "WHERE datname = %s AND usename IS DISTINCT FROM current_user GROUP BY 1 "
                "ORDER BY 1",
                [name],
            ).fetchall()
            if not others:
                try:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                except errors.ObjectInUse:  # one of ours was still closing, or a newcomer
                    pass
                else:
                    print(
                        f"Dropped database {name} (after ending {ended} session(s) of our own "
                        f"and waiting {time.monotonic() - started:.0f}s for sessions we may not "
                        "end to leave)."
                    )
                    return True
            if time.monotonic() >= deadline:
                break
            time.sleep(0.5)
    held = ", ".join(f"{n} of {who}" for who, n in others) or "sessions still closing"
    print(
        f"Could not drop database {name}: sessions this role may not end are connected "
        f"({held}) after waiting {wait_seconds:.0f}s. Left behind; drop it later with "
        f'DROP DATABASE "{name}" WITH (FORCE) as a role allowed to end them.'
    )
    return False
