"""One bad stack never affects another: whatever goes wrong while one stack is read or decided is
that stack's error; the other stacks are reconciled, the daemon keeps running and restarts."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from automation.daemon.clock import SystemClock
from automation.daemon.runner import Daemon
from automation.daemon.status import STALLED, stacks_in_error
from automation.http import StatusServer
from automation.metrics import Metrics
from components.registry import KindRegistry
from tests.automation.daemon.helpers import REGISTRY, FakeObservations, eventually, note, saved, write_stack

# Files that made the loader raise something other than a stack file error: each must become the
# stack's own error, with the file and, where it can be told, the line.
UNLOADABLE = {
    "nul-byte": (b"kind: Note\nmetadata: {name: a\x00b}\n", 2),
    "latin-1": ("kind: Note\nmetadata: {name: a}\nspec: {data: {city: K\xf6ln}}\n".encode("latin-1"), 3),
    "nested-too-deep": (b"kind: Note\nspec: " + b"[" * 1500 + b"\n", None),
}


def states(outcomes):
    return {o.stack: o.state for o in outcomes}


def run_for_cycles(daemon: Daemon, cycles: int) -> None:
    """Run the daemon until it has run ``cycles`` cycles, check it is still running, stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=daemon.run, args=(stop,), daemon=True)
    thread.start()
    try:
        eventually(lambda: daemon.cycles >= cycles)
        assert thread.is_alive()
    finally:
        stop.set()
        daemon.wake()
        thread.join(10)
    assert not thread.is_alive()


@pytest.mark.parametrize("case", sorted(UNLOADABLE))
def test_a_file_the_loader_cannot_take_fails_only_its_stack(case, make_reconciler, driver, layout):
    content, line = UNLOADABLE[case]
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    bad = layout.stacks_dir / "beta.yaml"
    saved(bad, content)
    reconciler = make_reconciler(driver)

    outcomes = states(reconciler.cycle())

    assert outcomes == {"alpha": "reconciled", "beta": "failed"}
    assert driver.stacks_operated() == ["alpha"]
    stalled = reconciler.status("beta").condition(STALLED)
    assert stalled.reason == "InvalidSpec"
    assert str(bad) in stalled.message
    if line is not None:
        assert f"{bad}:{line}:" in stalled.message
    assert states(reconciler.cycle()) == {"alpha": "unchanged", "beta": "stalled"}


def test_a_loader_that_raises_a_bug_fails_only_its_stack(make_reconciler, driver, layout):
    def buggy_check(stack):
        if stack.get("Note", "boom") is not None:
            raise RuntimeError("a bug in a check across documents")
        return iter(())

    registry = KindRegistry([replace(REGISTRY.get("Note"), check_stack=buggy_check)])
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    write_stack(layout.stacks_dir / "beta.yaml", note("boom"))
    reconciler = make_reconciler(driver, registry=registry)

    assert states(reconciler.cycle()) == {"alpha": "reconciled", "beta": "failed"}
    message = reconciler.status("beta").condition(STALLED).message
    assert "RuntimeError: a bug in a check across documents" in message
    assert str(layout.stacks_dir / "beta.yaml") in message

    write_stack(layout.stacks_dir / "beta.yaml", note("fixed"))
    assert states(reconciler.cycle())["beta"] == "reconciled"


def test_a_broken_stack_config_fails_only_its_stack_naming_the_file(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    write_stack(layout.stacks_dir / "beta.yaml", note("b"))
    config = layout.project_dir / "Pulumi.beta.yaml"
    config.write_text("config:\n  driftless:vaultAddress: [unclosed\n")
    reconciler = make_reconciler(driver)

    assert states(reconciler.cycle()) == {"alpha": "reconciled", "beta": "failed"}
    assert f"{config}:" in reconciler.status("beta").condition(STALLED).message

    config.write_text("config: {}\n")
    assert states(reconciler.cycle())["beta"] == "reconciled"


class FailingObservations(FakeObservations):
    """An observation store whose data for one stack cannot be turned into its observations file."""

    def __init__(self, broken: str):
        super().__init__()
        self.broken = broken

    def for_stack(self, documents, now):
        if documents.file.endswith(f"{self.broken}.yaml"):
            raise ValueError(f"observations of {self.broken} are corrupt")
        return super().for_stack(documents, now)


def test_an_exception_while_starting_one_stack_fails_it_and_retries(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    write_stack(layout.stacks_dir / "beta.yaml", note("b"))
    observations = FailingObservations("beta")
    reconciler = make_reconciler(driver, observations=observations)

    assert states(reconciler.cycle()) == {"alpha": "reconciled", "beta": "failed"}
    status = reconciler.status("beta")
    assert status.phase == "Retrying"
    assert "observations of beta are corrupt" in status.backoff.message
    assert not status.partially_applied  # nothing ran

    observations.broken = "nothing"
    clock.advance(status.backoff.delay_seconds)
    assert states(reconciler.cycle())["beta"] == "reconciled"


def test_the_daemon_keeps_running_and_restarts_with_a_file_that_breaks_the_loader(
    make_reconciler, driver, layout
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    saved(layout.stacks_dir / "beta.yaml", UNLOADABLE["nul-byte"][0])

    for start in ("first start", "restart with the file still there"):
        reconciler = make_reconciler(driver, clock=SystemClock())
        run_for_cycles(Daemon(reconciler, tick_seconds=0.02, resync_seconds=0.05), cycles=3)
        beta = reconciler.status("beta")
        assert beta is not None, start
        assert beta.condition(STALLED).reason == "InvalidSpec"
        assert reconciler.status("alpha").phase == "Ready"
    assert driver.stacks_operated() == ["alpha"]  # applied once, never again after the restart


def test_readyz_names_the_stacks_in_error(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    saved(layout.stacks_dir / "beta.yaml", UNLOADABLE["nul-byte"][0])
    reconciler = make_reconciler(driver)
    ready = threading.Event()
    server = StatusServer(
        reconciler.status_document,
        Metrics(),
        ready.is_set,
        port=0,
        stacks_in_error=lambda: stacks_in_error(reconciler.statuses()),
    )
    port = server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as before:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert before.value.code == 503

        reconciler.cycle()
        ready.set()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            status, body = response.status, response.read().decode()
    finally:
        server.stop()

    assert status == 200  # the daemon works; one stack failing is that stack's problem
    lines = body.splitlines()
    assert lines[:2] == ["ready", "1 stack(s) in error:"]
    assert lines[2].startswith("beta: Stalled (InvalidSpec): ")
    assert "beta.yaml:2" in lines[2]
