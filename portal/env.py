"""Strict environment parsing: a malformed value stops start-up with a message naming it."""

from __future__ import annotations

import os
import secrets
import warnings
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# Exported variables win over the file's lines.
ENV_FILE = BASE_DIR / ".env"

env = environ.Env()
environ.Env.read_env(ENV_FILE, overwrite=False)


def read(name: str, cast: str, default: Any = environ.Env.NOTSET) -> Any:
    """Read one variable with an environ caster ("int", "bool", "list", "db_url", …),
    turning any parsing failure into an error that names the variable."""
    try:
        return getattr(env, cast)(name, default=default)
    except ImproperlyConfigured:
        raise
    except Exception as exc:  # environ raises ValueError, TypeError, … for bad values
        raw = env.str(name, default="")
        shown = raw if len(raw) <= 40 else raw[:37] + "..."
        raise ImproperlyConfigured(
            f"Environment variable {name} has a malformed value {shown!r}: {exc}"
        ) from None


def read_database_url(name: str, default: str) -> dict[str, Any]:
    """A database URL environ understands; never echoes it (it may hold a password)."""
    raw = env.str(name, default=default)
    scheme = raw.partition("://")[0] if "://" in raw else ""
    if scheme not in environ.Env.DB_SCHEMES:
        shown = f"scheme {scheme!r}" if scheme else "no scheme://"
        raise ImproperlyConfigured(
            f"Environment variable {name} has {shown}: use a URL such as "
            "postgres://user:password@host:5432/name or sqlite:////absolute/path.sqlite3."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # environ warns about what the check above refuses
        return environ.Env.db_url_config(raw)


def read_secret(name: str, default: str = "") -> str:
    """Like read(), but never echoes the value in an error."""
    return env.str(name, default=default)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def read_bool(name: str, default: bool) -> bool:
    """Strict: a typo such as DEBUG=ture must not silently mean False."""
    raw = env.str(name, default="1" if default else "0").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name} must be one of true/false, yes/no, on/off, 1/0; got {raw!r}."
    )


def read_list(name: str, default: list[str] | None = None) -> list[str]:
    return [item.strip() for item in read(name, "list", default or []) if item.strip()]


def read_positive_int(name: str, default: int) -> int:
    value = read(name, "int", default)
    if value <= 0:
        raise ImproperlyConfigured(
            f"Environment variable {name} must be a positive integer, got {value}."
        )
    return value


def ensure_local_secret_key(path: Path | None = None) -> bool:
    """Give this checkout a SECRET_KEY of its own in .env, so that every manage.py command run here
    later has one without exporting anything. Returns whether a key was written."""
    return remember_locally("SECRET_KEY", secrets.token_urlsafe(50), path)


def remember_locally(name: str, value: str, path: Path | None = None) -> bool:
    """Write NAME=value to this checkout's .env (created if missing, readable by its owner only)
    and to this process's environment, unless the file has NAME or NAME is exported. Returns
    whether it wrote."""
    path = path or ENV_FILE
    text = path.read_text() if path.exists() else ""
    if any(line.strip().startswith(f"{name}=") for line in text.splitlines()):
        return False
    if os.environ.get(name):
        return False
    lines = [] if text else [_ENV_FILE_HEADER]
    if text and not text.endswith("\n"):
        lines.append("")
    lines.append(f"{name}={value}\n")
    with path.open("a") as file:
        file.write("\n".join(lines))
    path.chmod(0o600)
    os.environ[name] = value
    return True


_ENV_FILE_HEADER = (
    "# Written by `make run` (manage.py run_portal) on its first start: read by every manage.py\n"
    "# command in this checkout, below whatever is exported. Local only: .gitignore keeps it out."
)
