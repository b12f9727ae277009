"""Crash recovery's stale-lock check: a quick restart that reuses the pid, and zombie owners.

A daemon restarted in a fresh container often gets the pid its predecessor had. The lock its
predecessor left names that pid, and the pid is alive (it is the new daemon), so a check of the
pid alone holds the stack as NeedsAttention for no reason. The start time recorded in the lock
tells the two apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.daemon.automation_driver import AutomationDriver, AutomationOptions
from automation.daemon.driver import StackTarget
from automation.daemon.layout import ProjectLayout
from automation.daemon.offline_driver import OfflineDriver
from automation.daemon.reconciler import Reconciler
from automation.daemon.store import StatusStore
from automation.files import hostname, process_start
from tests.automation.daemon.helpers import REGISTRY, note, render_notes, write_stack


@pytest.fixture
def layout(tmp_path: Path) -> ProjectLayout:
    project = tmp_path / "project"
    stack = write_stack(project / "stacks" / "dev.yaml", note("a"))
    os.utime(stack, (0, 0))  # written long ago: settled, read at once
    return ProjectLayout.at(project)


@pytest.fixture
def zombie() -> Iterator[int]:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, left unreaped
    yield child.pid
    child.wait()


def leave_offline_lock(layout: ProjectLayout, **owner: object) -> Path:
    """What a daemon killed mid-up leaves in the offline backend."""
    directory = layout.state_dir / "offline" / "dev"
    directory.mkdir(parents=True)
    lock = directory / "lock.json"
    lock.write_text(json.dumps({"hostname": hostname(), "timestamp": "2026-11-21T12:00:00Z", **owner}))
    (directory / "pending.json").write_text(
        json.dumps({"operation": "up", "startedAt": "2026-11-21T12:00:00Z"})
    )
    return lock


def recover(layout: ProjectLayout) -> Reconciler:
    reconciler = Reconciler(
        layout,
        OfflineDriver(layout.state_dir, render=render_notes),
        StatusStore(layout.state_dir / "state.db"),
        registry=REGISTRY,
    )
    reconciler.recover()
    return reconciler


def test_the_lock_of_a_predecessor_with_our_pid_is_stale_after_a_quick_restart(layout):
    earlier = {**process_start(), "startTicks": process_start()["startTicks"] - 100}
    lock = leave_offline_lock(layout, pid=os.getpid(), **earlier)

    reconciler = recover(layout)
    try:
        status = reconciler.status("dev")
        outcomes = {o.stack: o.state for o in reconciler.cycle()}
    finally:
        reconciler.shutdown(grace=0)
        reconciler.store.close()

    assert not lock.exists()
    assert status is not None
    assert status.attention is None
    assert any("removed the stale lock" in action for r in status.recovery for action in r.actions)
    assert outcomes == {"dev": "reconciled"}


def test_a_lock_naming_a_live_process_by_pid_and_start_time_holds_the_stack(layout):
    lock = leave_offline_lock(layout, pid=os.getpid(), **process_start())

    reconciler = recover(layout)
    try:
        status = reconciler.status("dev")
    finally:
        reconciler.shutdown(grace=0)
        reconciler.store.close()

    assert lock.exists()
    assert status is not None
    assert status.attention is not None
    assert any("the owner may still be running" in item for item in status.attention.items)


def test_the_offline_lock_records_the_start_of_its_writer(tmp_path):
    stack = write_stack(tmp_path / "stacks" / "dev.yaml", note("a"))
    seen: dict[str, object] = {}

    def render_and_peek(target: StackTarget):
        seen.update(json.loads((tmp_path / "state" / "offline" / "dev" / "lock.json").read_text()))
        return render_notes(target)

    OfflineDriver(tmp_path / "state", render=render_and_peek).up(StackTarget("dev", stack))

    assert seen["pid"] == os.getpid()
    assert {k: seen[k] for k in ("startTicks", "bootId")} == process_start()


def test_a_pulumi_lock_whose_owner_is_a_zombie_is_removed(tmp_path, zombie):
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: driftless\nruntime: python\n")
    locks = (
        project / ".driftless" / "pulumi-state" / ".pulumi" / "locks" / "organization" / "driftless" / "dev"
    )
    locks.mkdir(parents=True)
    lock = locks / "a1.json"
    lock.write_text(
        json.dumps(
            {"pid": zombie, "username": "root", "hostname": hostname(), "timestamp": "2026-12-01T00:00:00Z"}
        )
    )
    driver = AutomationDriver(
        AutomationOptions(project_dir=project, state_dir=project / ".driftless"),
        environ={"PATH": str(tmp_path / "no-bin-here")},
    )

    report = driver.recover(StackTarget("dev", project / "stacks" / "dev.yaml"))

    assert not lock.exists()
    assert any("removed stale lock a1.json" in action for action in report.actions)
    assert not any("pulumi cancel" in item for item in report.manual)
