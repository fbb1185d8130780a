"""A PostgreSQL server of a test's own, to restart at will without touching anyone else's.

    server = PrivatePostgres.start()     # initdb into a temp dir, a free port on 127.0.0.1
    server.url                           # postgres://postgres@127.0.0.1:<port>/portal
    server.restart(outage_seconds=2)     # stop (fast), stay down, start again
    server.stop()                        # stop and remove everything

The server runs as the `postgres` user (`runuser -u postgres --` when the tests run as root, as
PostgreSQL refuses to), listens on 127.0.0.1 only, trusts local connections (it lives for one test
module, in a directory only its user can read), and is stopped and deleted at the end.
`unavailable()` says why none can be started here (no binaries, no postgres user), for a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DATABASE = "portal"


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: p.split("/")[4])
    preferred = [p for p in found if "/15/" in p] or found
    return Path(preferred[-1]).parent if preferred else None


def unavailable() -> str:
    """Why no private server can run here, or ""."""
    if _bin_dir() is None:
        return "PostgreSQL server binaries are not installed (/usr/lib/postgresql/*/bin/pg_ctl)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivatePostgres:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.bin = _bin_dir()
        self.data = root / "data"
        self.log = root / "server.log"
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    # --- running the server's tools as its user -------------------------------------------------

    def _run(self, *args: str, timeout: float = 60) -> str:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr or done.stdout}\n"
                + (self.log.read_text()[-2000:] if self.log.exists() else "")
            )
        return done.stdout

    @classmethod
    def start(cls) -> PrivatePostgres:
        root = Path(tempfile.mkdtemp(prefix="private-pg-"))
        server = cls(root, _free_port())
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
        os.chmod(root, 0o700)
        try:
            server._run(
                "initdb", "-D", str(server.data), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--no-sync",
            )  # fmt: skip
            server._start()
            server._run(
                "psql", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", "-d",
                "postgres", "-v", "ON_ERROR_STOP=1", "-qc", f"CREATE DATABASE {DATABASE}",
            )  # fmt: skip
        except BaseException:
            server.stop()
            raise
        return server

    def _start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def is_up(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def restart(self, *, outage_seconds: float = 2.0) -> None:
        """A real restart: every connection is cut, nothing answers for `outage_seconds`."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        time.sleep(outage_seconds)
        self._start()
        self.restarts += 1

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
