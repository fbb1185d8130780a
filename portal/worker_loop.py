"""The one `--forever` loop every long-running command runs (process_events, deliver_outbox,
simulator_lifecycle): a worker that outlives its database and stops cleanly.

    loop = WorkerLoop(name="deliver_outbox", interval=5.0)
    with loop.stopping_on_signals():
        loop.run(step)    # step() -> True: it did a full batch, run it again at once

- Before each step, stale connections are closed (past CONN_MAX_AGE, or broken by an error).
- A database error — the server restarting, a dropped connection, SQLite's "database is locked" —
  closes this thread's connections, waits, and tries again: the next step reconnects. The wait
  doubles from `backoff_base` up to `backoff_max` while the errors go on, and is reset by the
  first step that succeeds (logged as "recovered").
- Any other exception is logged with its traceback and backed off the same way. The services
  push a failing row aside themselves; what escapes to here is a whole batch failing, and a
  worker that exits on it stops the work for everyone until someone restarts it.
- SIGTERM or SIGINT: the step under way finishes (its transaction commits), then `run` returns.
  A second signal stops at once (KeyboardInterrupt). Waits wake up as soon as a signal arrives.

Each step should do one bounded batch in its own transaction(s), so stopping after it, or failing
in it, never leaves half a batch behind.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import Error as DatabaseError
from django.db import close_old_connections, connections

logger = logging.getLogger("portal.worker")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def close_connections() -> None:
    """Close every connection of this thread, ignoring errors: a dead one may fail to close."""
    for conn in connections.all(initialized_only=True):
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - it is being thrown away either way
            pass


class WorkerLoop:
    def __init__(
        self,
        *,
        name: str,
        interval: float,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
    ) -> None:
        if interval < 0 or backoff_base <= 0 or backoff_max < backoff_base:
            raise ValueError("interval must not be negative and 0 < backoff_base <= backoff_max")
        self.name = name
        self.interval = interval
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.failures = 0  # consecutive failed steps
        self.steps = 0  # steps that succeeded
        self._stop = threading.Event()

    # --- stopping ------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Ask the loop to return after the step under way (thread-safe)."""
        self._stop.set()

    @contextmanager
    def stopping_on_signals(self) -> Iterator[None]:
        """SIGTERM/SIGINT stop the loop after the current step; a second one stops at once.
        Only in the main thread (Python's rule for signal handlers)."""

        def handler(signum, frame):
            if self._stop.is_set():
                raise KeyboardInterrupt
            logger.info(
                "worker stopping after the current batch",
                extra={"worker": self.name, "signal": signal.Signals(signum).name},
            )
            self._stop.set()

        previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def wait(self, seconds: float) -> None:
        """Sleep, waking up early if the loop is asked to stop."""
        if seconds > 0:
            self._stop.wait(seconds)

    # --- running -------------------------------------------------------------------------------

    def backoff_seconds(self) -> float:
        return min(self.backoff_base * 2 ** max(self.failures - 1, 0), self.backoff_max)

    def run(self, step: Callable[[], bool], *, max_steps: int | None = None) -> None:
        """Call `step` until stopped (or `max_steps` attempts, for tests)."""
        attempts = 0
        while not self._stop.is_set():
            if max_steps is not None and attempts >= max_steps:
                return
            attempts += 1
            again = self._attempt(step)
            if again is None:
                self.wait(self.backoff_seconds())
            elif not again:
                self.wait(self.interval)

    def _attempt(self, step: Callable[[], bool]) -> bool | None:
        """One step: its answer, or None after a failure (logged, connections handled)."""
        try:
            close_old_connections()
            again = bool(step())
        except DatabaseError as exc:
            self.failures += 1
            close_connections()  # the next step starts from a fresh connection
            logger.warning(
                "worker: database error; retrying",
                extra={
                    "worker": self.name,
                    "error": f"{type(exc).__name__}: {exc}".strip()[:500],
                    "failures": self.failures,
                    "retry_in_seconds": self.backoff_seconds(),
                },
            )
            return None
        except Exception as exc:  # one failing batch must not end the worker
            self.failures += 1
            logger.exception(
                "worker: batch failed; retrying",
                extra={
                    "worker": self.name,
                    "error": f"{type(exc).__name__}: {exc}".strip()[:500],
                    "failures": self.failures,
                    "retry_in_seconds": self.backoff_seconds(),
                },
            )
            return None
        if self.failures:
            logger.info(
                "worker: recovered", extra={"worker": self.name, "after_failures": self.failures}
            )
            self.failures = 0
        self.steps += 1
        return again
