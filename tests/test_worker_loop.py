"""The shared --forever loop (portal/worker_loop.py): it outlives database errors and failing
batches, and stops after the current batch on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import os
import signal

import pytest
from django.db import OperationalError

from portal import worker_loop
from portal.worker_loop import WorkerLoop


class Script:
    """A step that plays back a script of outcomes: True/False, or an exception to raise."""

    def __init__(self, loop: WorkerLoop, outcomes: list) -> None:
        self.loop = loop
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if not self.outcomes:
            self.loop.stop()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    """These tests are about the loop; the real connections are tests/faults/
    test_postgres_restart.py's (a server restarted under the real commands)."""
    monkeypatch.setattr(worker_loop, "close_old_connections", lambda: None)


@pytest.fixture
def waits(monkeypatch):
    recorded: list[float] = []
    monkeypatch.setattr(WorkerLoop, "wait", lambda self, seconds: recorded.append(seconds))
    return recorded


@pytest.fixture
def closed(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(worker_loop, "close_connections", lambda: calls.append(1))
    return calls


def test_a_full_batch_runs_again_at_once_and_an_empty_one_waits_the_interval(waits, closed):
    loop = WorkerLoop(name="t", interval=0.5)
    step = Script(loop, [True, True, False, True, False])
    loop.run(step)
    assert step.calls == 5
    assert waits == [0.5, 0.5]
    assert closed == []


def test_database_errors_close_the_connections_back_off_and_the_loop_recovers(
    waits, closed, caplog
):
    loop = WorkerLoop(name="t", interval=0.5, backoff_base=1, backoff_max=4)
    down = OperationalError("server closed the connection unexpectedly")
    step = Script(loop, [down, down, down, down, False, False])
    with caplog.at_level(logging.INFO, logger="portal.worker"):
        loop.run(step)
    assert step.calls == 6  # nothing ended the loop
    assert waits == [1, 2, 4, 4, 0.5, 0.5]  # doubling, capped; then the normal interval again
    assert len(closed) == 4  # every failure threw the connections away
    assert loop.failures == 0
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("worker: database error; retrying") == 4
    assert "worker: recovered" in messages


def test_any_other_failing_batch_is_logged_and_retried_not_fatal(waits, closed, caplog):
    loop = WorkerLoop(name="t", interval=1, backoff_base=2, backoff_max=30)
    step = Script(loop, [ValueError("a bad batch"), True, False])
    with caplog.at_level(logging.INFO, logger="portal.worker"):
        loop.run(step)
    assert step.calls == 3
    assert waits == [2, 1]
    failed = [r for r in caplog.records if r.getMessage() == "worker: batch failed; retrying"]
    assert failed and failed[0].exc_info is not None  # with its traceback
    assert closed == []  # not a database problem: the connection is kept


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_lets_the_current_batch_finish_then_the_loop_returns(signum, waits):
    loop = WorkerLoop(name="t", interval=0)
    finished: list[int] = []

    def step() -> bool:
        os.kill(os.getpid(), signum)  # arrives in the middle of the batch
        finished.append(1)  # the batch carries on to its end
        return True  # and would like to go on: the loop must not

    before = signal.getsignal(signum)
    with loop.stopping_on_signals():
        loop.run(step)
    assert finished == [1]
    assert loop.stopping
    assert signal.getsignal(signum) == before  # handlers restored


def test_a_second_signal_stops_at_once(waits):
    loop = WorkerLoop(name="t", interval=0)

    def step() -> bool:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("not reached: the second signal interrupts the batch")

    with pytest.raises(KeyboardInterrupt), loop.stopping_on_signals():
        loop.run(step)


def test_a_wait_wakes_up_as_soon_as_the_loop_is_stopped():
    import threading
    import time

    loop = WorkerLoop(name="t", interval=30)
    threading.Timer(0.1, loop.stop).start()
    started = time.monotonic()
    loop.wait(30)
    assert time.monotonic() - started < 5
