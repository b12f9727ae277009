"""A `pulumi` killed mid-update, and two updates of one stack at once, on the real engine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.engine.conftest import Project
from tests.engine.stacks import create_prerequisites, kubernetes_only, rendered_objects

pytestmark = pytest.mark.engine


def pulumi_processes(stack: str) -> list[int]:
    """Pids of `pulumi` CLI processes working on ``stack``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = [a.decode() for a in (entry / "cmdline").read_bytes().split(b"\0") if a]
        except OSError:
            continue
        if argv and Path(argv[0]).name == "pulumi" and "--stack" in argv and stack in argv:
            found.append(int(entry.name))
    return found


def exported_state(project: Project, stack: str) -> dict:
    result = subprocess.run(
        ["pulumi", "stack", "export", "--stack", stack, "--cwd", str(project.project_dir)],
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(result.stdout))


def test_a_pulumi_killed_mid_update_is_recovered_and_nothing_is_lost(project: Project) -> None:
    kube = project.sandbox.kube
    create_prerequisites(kube)
    project.write_stack("crash", kubernetes_only("crash"))
    expected = rendered_objects(project.render("crash"))
    # The stack exists before the update that is killed: a pulumi killed while it creates a new
    # stack's first checkpoint on a file backend can leave one it cannot read back ("failed to load
    # checkpoint: EOF"), which recovery rightly leaves to a person; this test is about an update.
    project.run("preview", "--stack", "crash")
    update = project.start("up", "--stack", "crash")
    assert update.stderr is not None
    killed = []
    for line in update.stderr:  # the first resource being created: the engine is mid-update
        if "create " in line and "kubernetes:" in line:
            killed = pulumi_processes("crash")
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
            break
    update.communicate(timeout=300)
    assert killed, "no pulumi process was found to kill"
    assert update.returncode != 0

    locks = list((project.backend / ".pulumi" / "locks").rglob("*.json"))
    assert locks, "a killed update leaves its lock behind"

    # The daemon's start-up recovery removes the dead update's lock and clears what it left
    # pending, then the cycle applies the stack.
    daemon = project.run("run", "--once", timeout=1800)
    assert "crash" in daemon.stdout, daemon.stdout
    status = {s["name"]: s for s in project.status()["stacks"]}["crash"]
    recovery = json.dumps(status.get("recovery", []))
    assert "stale lock" in recovery, json.dumps(status)
    assert not list((project.backend / ".pulumi" / "locks").rglob("*.json"))

    state = exported_state(project, "crash")
    assert not state["deployment"].get("pending_operations"), state["deployment"].get("pending_operations")
    live = {(k, ns, n) for k, ns, n in expected if kube.get(k, n, ns or None) is not None}
    assert live == expected
    again = project.run("up", "--stack", "crash")
    assert "0 to create, 0 to update, 0 to delete" in again.stdout, again.stdout


def test_two_updates_of_one_stack_at_once_never_corrupt_it(project: Project, tmp_path: Path) -> None:
    create_prerequisites(project.sandbox.kube)
    project.write_stack("twice", kubernetes_only("twice"))
    # The stack exists before the race: two first `up`s would race to create it instead, which a
    # file backend does not fence (one may read the other's half-created stack); the lock is the
    # fence under test.
    project.run("preview", "--stack", "twice")
    # Two daemons' state folders, one Pulumi backend: only Pulumi's own stack lock stands between them.
    other_state = tmp_path / "other-state"
    runs = []
    for state in (project.state, other_state):
        runs.append(project.start("up", "--stack", "twice", state=state))
        time.sleep(3)  # the first one takes the stack lock
    results = [(run.wait(timeout=900), *run.communicate()) for run in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes[0] == 0, results
    for code, _, stderr in results:
        if code != 0:
            assert "StackLocked" in stderr, stderr

    # And within one state folder, the second command refuses at once, naming the holder.
    holder = project.start("preview", "--stack", "twice")
    time.sleep(2)
    refused = project.run("up", "--stack", "twice", check=False, timeout=60)
    holder.communicate(timeout=600)
    assert refused.returncode == 2, refused.stderr
    assert str(holder.pid) in refused.stderr

    state = exported_state(project, "twice")
    assert not state["deployment"].get("pending_operations")
    final = project.run("up", "--stack", "twice")
    assert "0 to create, 0 to update, 0 to delete" in final.stdout, final.stdout
