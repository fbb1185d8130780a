"""Strict environment parsing: a malformed value stops start-up with a message naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


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
