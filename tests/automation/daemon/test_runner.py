"""The daemon loop: reacts to changes, stops gracefully on a signal, serves its status."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from automation.daemon.clock import SystemClock
from automation.daemon.driver import ProgramError
from automation.daemon.runner import Daemon, run_once
from automation.daemon.settings import DaemonSettings
from automation.sources.base import Change
from tests.automation.daemon.helpers import (
    UNAVAILABLE_STDERR,
    command_error,
    eventually,
    free_port,
    get,
    note,
    write_stack,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]


class OneShotSource:
    """A source that reports one change when told to."""

    name = "test"

    def __init__(self) -> None:
        self.pending: list[Change] = []
        self.closed = False

    def poll(self, now: datetime) -> list[Change]:
        found, self.pending = self.pending, []
        return found

    def next_due(self, now: datetime) -> datetime | None:
        return None

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def run_daemon():
    """``run_daemon(daemon)`` starts it in a thread; returns the stop event. Stopped at teardown."""
    started: list[tuple[Daemon, threading.Thread, threading.Event]] = []

    def start(daemon: Daemon) -> threading.Event:
        stop = threading.Event()
        thread = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
        thread.start()
        started.append((daemon, thread, stop))
        return stop

    yield start
    for daemon, thread, stop in started:
        stop.set()
        daemon.wake()  # as the signal handler does, so a long tick does not delay the stop
        thread.join(10)
        assert not thread.is_alive()


def test_the_daemon_reconciles_a_changed_stack_file_and_nothing_else(
    make_reconciler, driver, layout, run_daemon
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    write_stack(layout.stacks_dir / "beta.yaml", note("b"))
    daemon = Daemon(make_reconciler(driver, clock=SystemClock()), tick_seconds=0.02, resync_seconds=3600)
    run_daemon(daemon)
    eventually(lambda: daemon.ready() and len(driver.ops("up")) == 2 and not daemon.reconciler.busy())

    write_stack(layout.stacks_dir / "beta.yaml", note("b", color="new"))
    eventually(lambda: len(driver.ops("up")) == 3)
    time.sleep(0.1)  # a few more ticks: nothing else may run

    assert [c[1] for c in driver.ops("up")][2:] == ["beta"]


def test_each_cycle_says_at_debug_level_how_long_it_took_and_what_it_started(
    make_reconciler, driver, layout, run_daemon, caplog
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    write_stack(layout.stacks_dir / "beta.yaml", note("b"))
    caplog.set_level(logging.DEBUG, logger="driftless")
    daemon = Daemon(make_reconciler(driver, clock=SystemClock()), tick_seconds=0.02, resync_seconds=0.05)
    run_daemon(daemon)

    def cycles() -> list[dict]:
        return [getattr(r, "fields", {}) for r in caplog.records if r.getMessage() == "cycle.finished"]

    eventually(lambda: any(c["started"] == 0 for c in cycles()[1:]))  # a resync after the first cycle

    first, *later = cycles()
    assert (first["stacks"], first["started"]) == (2, 2)
    assert all(c["stacks"] == 2 and c["seconds"] >= 0 for c in later)
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.getMessage() == "cycle.finished")


def test_sources_are_built_from_the_documents_and_polled(
    make_reconciler, driver, layout, run_daemon, observations
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    source = OneShotSource()
    built: list[list[str]] = []
    updated: list[list[str]] = []

    def build(documents, wake):
        built.append(sorted(documents))
        return [source]

    daemon = Daemon(
        make_reconciler(driver, clock=SystemClock()),
        sources=build,
        update_sources=lambda sources, documents: updated.append(sorted(documents)),
        tick_seconds=0.02,
        resync_seconds=3600,
    )
    stop = run_daemon(daemon)
    eventually(lambda: built == [["alpha"]] and len(driver.ops("up")) == 1)

    # a git head moved: the source says so, the fingerprint changes, alpha is reconciled
    observations.material["alpha"] = {"git": {"https://git/api.git": {"main": "def456"}}}
    source.pending.append(Change("git", frozenset({"alpha"}), "api main moved"))
    eventually(lambda: len(driver.ops("up")) == 2)

    write_stack(layout.stacks_dir / "gamma.yaml", note("c"))
    eventually(lambda: updated == [["alpha", "gamma"]])
    stop.set()
    eventually(lambda: source.closed)


def test_a_wake_starts_a_cycle_without_waiting_for_the_tick(
    make_reconciler, driver, layout, run_daemon, observations
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    source = OneShotSource()
    wakes = []
    daemon = Daemon(
        make_reconciler(driver, clock=SystemClock()),
        sources=lambda documents, wake: wakes.append(wake) or [source],
        tick_seconds=60,  # without the wake, the change would wait a minute
        resync_seconds=3600,
    )
    run_daemon(daemon)
    eventually(lambda: daemon.ready() and len(driver.ops("up")) == 1 and not daemon.reconciler.busy())

    observations.material["alpha"] = {"git": {"https://git/api.git": {"main": "def456"}}}
    source.pending.append(Change("git", frozenset({"alpha"}), "api main moved"))
    wakes[0]()
    eventually(lambda: len(driver.ops("up")) == 2, timeout=10)  # far below the 60 s tick


def test_stop_lets_the_running_operation_finish_and_starts_nothing_new(
    make_reconciler, driver, layout, run_daemon
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    write_stack(layout.stacks_dir / "beta.yaml", note("b"))
    driver.gate = threading.Event()
    reconciler = make_reconciler(driver, clock=SystemClock(), settings=DaemonSettings(concurrency=1))
    stop = run_daemon(Daemon(reconciler, tick_seconds=0.02))
    eventually(lambda: len(driver.ops("up")) == 1)  # alpha runs, beta waits for the single worker

    stop.set()
    time.sleep(0.1)
    driver.gate.set()
    eventually(lambda: not reconciler.busy())

    assert [c[1] for c in driver.ops("up")] == ["alpha"]
    assert reconciler.status("alpha").last_operation.result == "succeeded"
    assert driver.cancelled == []


def test_an_operation_outliving_the_grace_period_is_cancelled(make_reconciler, driver, layout, run_daemon):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.gate = threading.Event()  # never opens
    reconciler = make_reconciler(
        driver, clock=SystemClock(), settings=DaemonSettings(grace_period_seconds=0.1)
    )
    daemon = Daemon(reconciler, tick_seconds=0.02)
    stop = threading.Event()
    left: list[list[str]] = []
    thread = threading.Thread(target=lambda: left.append(daemon.run(stop)))
    thread.start()
    eventually(lambda: len(driver.ops("up")) == 1)

    stop.set()
    thread.join(10)

    assert left == [[]]
    assert driver.cancelled == ["alpha"]
    assert reconciler.status("alpha").last_operation.result == "cancelled"


# --- the real process ----------------------------------------------------------------------------


def test_the_daemon_process_serves_status_and_stops_cleanly_on_sigterm(tmp_path: Path):
    stacks = tmp_path / "stacks"
    write_stack(stacks / "alpha.yaml")
    write_stack(stacks / "beta.yaml")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "automation",
            "run",
            "--dry-run",
            "--stacks-dir",
            str(stacks),
            "--state-dir",
            str(tmp_path / "state"),
            "--http-port",
            str(port),
            "--log-format",
            "json",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        eventually(lambda: get(f"{base}/readyz")[0] == 200, timeout=30)

        def phases() -> dict[str, str]:
            return {s["name"]: s["phase"] for s in json.loads(get(f"{base}/stacks")[1])["stacks"]}

        eventually(lambda: phases() == {"alpha": "Ready", "beta": "Ready"}, timeout=30)
        assert get(f"{base}/healthz")[0] == 200
        metrics = get(f"{base}/metrics")[1].decode()
        assert 'driftless_stacks{phase="Ready"} 2.0' in metrics
        assert 'driftless_operations_total{kind="up",result="succeeded"} 2.0' in metrics

        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode == 0
    events = [json.loads(line)["event"] for line in stderr.decode().splitlines() if line.startswith("{")]
    assert events[-2:] == ["daemon.stopping", "daemon.stopped"]


# --- run --once ---------------------------------------------------------------------------------


def never_abandon(left: list[str], signum: int) -> None:
    raise AssertionError(f"abandoned {left} on signal {signum}")


def test_run_once_reports_stacks_left_retrying_or_stalled_as_failed(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    write_stack(layout.stacks_dir / "beta.yaml", note("b"))
    write_stack(layout.stacks_dir / "gamma.yaml", note("c"))
    driver.fail("alpha", command_error(UNAVAILABLE_STDERR))
    driver.fail("beta", ProgramError("program failed: KeyError: 'x'"))
    make_reconciler(driver).cycle()

    result = run_once(make_reconciler(driver), abandon=never_abandon)

    assert {o.stack: o.state for o in result.outcomes} == {
        "alpha": "waiting",  # backing off: nothing ran in this cycle, yet it is not applied
        "beta": "stalled",
        "gamma": "unchanged",
    }
    assert result.failed == ["alpha", "beta"]
    assert result.signal is None


def test_a_signal_stops_run_once_and_says_which(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.gate = threading.Event()  # the operation runs until it is cancelled
    driver.on_operation = lambda kind, stack: os.kill(os.getpid(), signal.SIGTERM)
    reconciler = make_reconciler(driver, settings=DaemonSettings(grace_period_seconds=0.1))

    result = run_once(reconciler, abandon=never_abandon)

    assert result.signal == signal.SIGTERM
    assert driver.cancelled == ["alpha"]
    assert reconciler.status("alpha").last_operation.result == "cancelled"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_run_once_gives_up_on_an_operation_that_will_not_stop(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.gate = threading.Event()
    driver.ignore_cancel = True
    driver.on_operation = lambda kind, stack: os.kill(os.getpid(), signal.SIGINT)
    reconciler = make_reconciler(driver, settings=DaemonSettings(grace_period_seconds=0.1))
    abandoned: list[tuple[list[str], int]] = []

    def abandon(left: list[str], signum: int) -> None:  # the command line exits the process here
        abandoned.append((left, signum))
        driver.gate.set()

    started = time.monotonic()
    result = run_once(reconciler, abandon=abandon, cancel_wait=0.2)

    assert abandoned == [(["alpha"], signal.SIGINT)]
    assert result.signal == signal.SIGINT
    assert time.monotonic() - started < 10
