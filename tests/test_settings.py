"""Start-up configuration: malformed values stop the process with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "portal.example.com",
    "GENESYS_REGION": "eu_west_1",
    "GENESYS_CLIENT_ID": "client-id",
    "GENESYS_CLIENT_SECRET": "client-secret-value",
    "INGEST_SECRETS": "ingest-secret-value-0123456789",
    "DATABASE_URL": "sqlite:////tmp/portal-settings-test.sqlite3",
}


def manage_env(env: dict[str, str]) -> dict[str, str]:
    # The test settings module put its own defaults into os.environ; start from a clean slate.
    ours = ("GENESYS_", "DJANGO_", "SIMULATOR_", "SECURE_", "INGEST_", "DOWNSTREAM_")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    for name in ("DATABASE_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"):
        clean.pop(name, None)
    return {**clean, "DJANGO_SETTINGS_MODULE": "portal.settings", **env}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=manage_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Q_WORKERS", "two"),
        ("GENESYS_READ_TIMEOUT", "soon"),
        ("GENESYS_REGION", "mars_north_1"),
        ("GENESYS_API_BASE_URL", "api.mypurecloud.ie"),
        ("SLA_DEFAULT_SECONDS", "-5"),
        ("DEBUG", "perhaps"),
    ],
)
def test_malformed_variable_stops_start_up_naming_it(name, value):
    result = manage("check", env={**PRODUCTION, name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_missing_secret_key_with_debug_off_is_refused():
    env = {**PRODUCTION, "SECRET_KEY": ""}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_check_deploy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_genesys_region_is_warned_about():
    result = manage("check", env={**PRODUCTION, "GENESYS_REGION": ""})
    assert "workitems.W001" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "hint"),
    [
        ("DATABASE_URL", "nonsense", "postgres://user:password@host:5432/name"),
        ("GENESYS_REGION", "xx", "eu_west_1"),
        ("INGEST_MAX_BODY_BYTES", "abc", "malformed value 'abc'"),
    ],
)
def test_a_malformed_setting_prints_one_line_naming_it_and_what_to_use(name, value, hint):
    result = manage("check", env={**PRODUCTION, name: value})
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("Configuration error: ") and name in result.stderr
    assert hint in result.stderr


def test_the_wsgi_entry_prints_one_line_for_a_malformed_setting():
    result = subprocess.run(
        [sys.executable, "-c", "import portal.wsgi"],
        cwd=ROOT,
        env=manage_env({**PRODUCTION, "INGEST_MAX_BODY_BYTES": "abc"}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "INGEST_MAX_BODY_BYTES" in result.stderr


def test_a_database_url_with_an_unknown_scheme_is_refused_without_echoing_its_password():
    result = manage("check", env={**PRODUCTION, "DATABASE_URL": "foo://user:hunter2@db/portal"})
    assert result.returncode == 3 and "DATABASE_URL" in result.stderr
    assert "hunter2" not in result.stderr
