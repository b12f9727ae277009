"""The offline driver: render, diff against the last render, keep it; locks and crash leftovers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from automation.daemon.driver import InvalidSpecError, PendingOperationsError, StackLockedError, StackTarget
from automation.daemon.layout import ProjectLayout
from automation.daemon.offline_driver import OfflineDriver
from automation.daemon.reconciler import Reconciler
from automation.daemon.store import StatusStore
from automation.files import hostname
from automation.render.render import RenderedResource, RenderResult, render_stack
from tests.automation.daemon.helpers import REGISTRY, note, render_notes, write_stack

PROJECT_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def stack_file(tmp_path: Path) -> Path:
    return write_stack(tmp_path / "stacks" / "dev.yaml", note("a", color="red"), note("b"))


@pytest.fixture
def target(stack_file: Path) -> StackTarget:
    return StackTarget("dev", stack_file)


@pytest.fixture
def offline(tmp_path: Path) -> OfflineDriver:
    return OfflineDriver(tmp_path / "state", render=render_notes)


def test_up_counts_changes_against_the_last_render(offline, target, stack_file):
    first = offline.up(target)
    again = offline.up(target)
    write_stack(stack_file, note("a", color="green"), note("c"))
    changed = offline.up(target)

    assert first.changes.to_json() == {"create": 4, "update": 0, "delete": 0, "same": 0}
    assert again.changes.to_json() == {"create": 0, "update": 0, "delete": 0, "same": 4}
    assert changed.changes.to_json() == {"create": 2, "update": 1, "delete": 2, "same": 1}
    updated = [c for c in changed.resources if c.op == "update"]
    assert [(c.name, c.fields) for c in updated] == [("a-item", ("data.color",))]


def test_up_returns_the_stack_outputs(offline, tmp_path):
    stack = write_stack(tmp_path / "stacks" / "req.yaml", {**note("a"), "spec": {"requeueAfterSeconds": 300}})

    result = offline.up(StackTarget("req", stack))

    assert result.outputs["Note/a"] == {"phase": "Ready", "requeueAfterSeconds": 300}
    assert offline.outputs(StackTarget("req", stack)) == result.outputs


def test_preview_does_not_move_the_baseline(offline, target, stack_file):
    offline.up(target)
    write_stack(stack_file, note("a", color="green"), note("b"))

    assert offline.preview(target).changes.update == 1
    assert offline.preview(target).changes.update == 1


def test_an_invalid_stack_is_rejected_and_the_last_render_kept(offline, target, stack_file):
    offline.up(target)
    stack_file.write_text("kind: Note\nmetadata: {name: a}\nspec: {data: {color: 1}, size: 3}\n")

    with pytest.raises(InvalidSpecError) as caught:
        offline.up(target)

    assert "dev.yaml:3: Note/a: spec.size: unknown field" in caught.value.detail
    write_stack(stack_file, note("a", color="red"), note("b"))
    assert offline.up(target).changes.total_changes == 0


def test_no_drift_offline(offline, target):
    offline.up(target)
    assert not offline.drift_detection
    assert not offline.check_drift(target).drifted


def test_destroy_deletes_everything_rendered(offline, target):
    offline.up(target)
    assert offline.destroy(target).changes.delete == 4
    assert offline.up(target).changes.create == 4


def test_a_stack_locked_by_another_process_is_a_lock_conflict(offline, target, tmp_path):
    lock = tmp_path / "state" / "offline" / "dev" / "lock.json"
    lock.parent.mkdir(parents=True)
    lock.write_text(
        json.dumps({"pid": os.getppid(), "hostname": hostname(), "timestamp": "2026-11-21T12:00:00Z"})
    )

    with pytest.raises(StackLockedError, match="currently locked by"):
        offline.up(target)
    assert offline.recover(target).manual  # a live owner is left to a person
    assert lock.exists()


def test_leftovers_of_a_dead_process_block_until_recovered(offline, target, tmp_path):
    directory = tmp_path / "state" / "offline" / "dev"
    directory.mkdir(parents=True)
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    (directory / "lock.json").write_text(
        json.dumps({"pid": process.pid, "hostname": hostname(), "timestamp": "2026-11-21T12:00:00Z"})
    )
    (directory / "pending.json").write_text(
        json.dumps({"operation": "up", "startedAt": "2026-11-21T12:00:00Z"})
    )
    with pytest.raises(StackLockedError):
        offline.up(target)

    report = offline.recover(target)

    assert any("stale lock" in found for found in report.found)
    assert any("pending up" in found for found in report.found)
    assert report.manual == ()
    assert offline.up(target).changes.create == 4


def test_pending_operations_without_a_lock_are_reported_by_up(offline, target, tmp_path):
    directory = tmp_path / "state" / "offline" / "dev"
    directory.mkdir(parents=True)
    (directory / "pending.json").write_text(
        json.dumps({"operation": "up", "startedAt": "2026-11-21T12:00:00Z"})
    )

    with pytest.raises(PendingOperationsError):
        offline.up(target)


CRASHING_DAEMON = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from automation.daemon.offline_driver import OfflineDriver
    from automation.daemon.layout import ProjectLayout
    from automation.daemon.reconciler import Reconciler
    from automation.daemon.settings import DaemonSettings
    from automation.daemon.store import StatusStore
    from tests.automation.daemon.helpers import REGISTRY

    def die_mid_render(target):
        os._exit(9)  # the process dies while the up is running: no cleanup of any kind

    project = Path(sys.argv[1])
    layout = ProjectLayout.at(project)
    reconciler = Reconciler(
        layout, OfflineDriver(layout.state_dir, render=die_mid_render),
        StatusStore(layout.state_dir / "state.db"), registry=REGISTRY,
        settings=DaemonSettings(concurrency=1),  # alpha dies first; beta never starts
    )
    reconciler.cycle()
    """
)


def test_a_daemon_killed_mid_up_is_recovered_on_restart(tmp_path):
    project = tmp_path / "project"
    write_stack(project / "stacks" / "alpha.yaml", note("a"))
    write_stack(project / "stacks" / "beta.yaml", note("b"))
    killed = subprocess.run(
        [sys.executable, "-c", CRASHING_DAEMON, str(project)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == 9, killed.stderr.decode()
    layout = ProjectLayout.at(project)
    leftovers = {p.name for p in (layout.state_dir / "offline").rglob("*.json")}
    assert leftovers == {"lock.json", "pending.json"}  # what a real crash leaves behind

    restarted = Reconciler(
        layout,
        OfflineDriver(layout.state_dir, render=render_notes),
        StatusStore(layout.state_dir / "state.db"),
        registry=REGISTRY,
    )
    try:
        reports = {r.stack: r for r in restarted.recover() if not r.clean}
        outcomes = {o.stack: o.state for o in restarted.cycle()}
    finally:
        restarted.shutdown(grace=0)

    assert sorted(reports) == ["alpha"]
    report = reports["alpha"]
    assert any("interrupted" in found for found in report.found)
    assert any("removed the stale lock" in action for action in report.actions)
    assert any("cleared the pending operation" in action for action in report.actions)
    assert outcomes == {"alpha": "reconciled", "beta": "reconciled"}
    assert restarted.status("beta").history[-1].result == "succeeded"
    alpha = restarted.status("alpha")
    assert [(op.kind, op.result) for op in alpha.history] == [("up", "succeeded"), ("up", "interrupted")]
    assert [record.trigger for record in alpha.recovery] == ["Startup"]  # kept apart from operations
    assert alpha.attention is None  # everything was cleared automatically: nothing holds the stack


def test_a_changed_program_is_noticed(tmp_path):
    project = tmp_path / "project"
    (project / "components").mkdir(parents=True)
    (project / "__main__.py").write_text("main()\n")
    module = project / "components" / "shop.py"
    module.write_text("REPLICAS = 1\n")
    driver = OfflineDriver(tmp_path / "state", project_dir=project)
    assert not driver.program_changed()

    module.write_text("REPLICAS = 2\n")

    assert driver.program_changed()  # from now on renders run in a fresh interpreter


def test_a_fresh_interpreter_renders_exactly_what_the_process_renders(tmp_path):
    stack = tmp_path / "stacks" / "conn.yaml"
    stack.parent.mkdir()
    stack.write_text(
        "kind: FivetranConnector\nmetadata: {name: events}\n"
        "spec: {groupId: g, service: s3, destinationSchema: {name: events}, schedule: {syncFrequency: 60}}\n"
    )
    target = StackTarget("conn", stack)
    driver = OfflineDriver(tmp_path / "state")

    fresh = driver.render_in_subprocess(target)

    assert fresh.ok
    assert fresh.to_json() == render_stack(stack, stack="conn").to_json()


def test_reads_are_neither_created_nor_counted(tmp_path, target):
    def render_with_a_read(target: StackTarget) -> RenderResult:
        return RenderResult(
            target.name,
            [
                RenderedResource("kubernetes:core/v1:ConfigMap", "settings", None, {"data": {"a": "1"}}),
                RenderedResource("kubernetes:core/v1:Secret", "tls", None, {}, read="ingress/wildcard-tls"),
            ],
        )

    offline = OfflineDriver(tmp_path / "state", render=render_with_a_read)
    lines: list[str] = []

    first = offline.up(target, progress=lines.append)
    again = offline.up(target)

    assert first.changes.to_json() == {"create": 1, "update": 0, "delete": 0, "same": 0}
    assert [(c.op, c.name) for c in first.resources] == [("create", "settings")]
    assert "  read kubernetes:core/v1:Secret tls" in lines
    assert again.changes.to_json() == {"create": 0, "update": 0, "delete": 0, "same": 1}


def test_operations_at_once_render_on_worker_processes_as_they_render_alone(tmp_path):
    from tests.automation.render.stacks import DOMAIN_POOL, REGISTRY, project
    from tests.automation.render.stacks import write_stack as write_stack_file

    stacks = tmp_path / "stacks"
    targets = [
        StackTarget(name, write_stack_file(stacks, name, DOMAIN_POOL, REGISTRY, project(name)))
        for name in ("shop", "blog", "wiki")
    ]
    broken = {**project("bad"), "spec": {**project("bad")["spec"], "port": "eighty"}}
    invalid = StackTarget("bad", write_stack_file(stacks, "bad", DOMAIN_POOL, REGISTRY, broken))
    alone = OfflineDriver(tmp_path / "alone")
    at_once = OfflineDriver(tmp_path / "at-once", jobs=2)
    outcomes: dict[str, object] = {}

    def up(target: StackTarget) -> None:
        try:
            outcomes[target.name] = at_once.up(target).changes.to_json()
        except InvalidSpecError as exc:
            outcomes[target.name] = exc

    try:
        threads = [threading.Thread(target=up, args=(t,)) for t in [*targets, invalid]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    finally:
        at_once.close()

    for target in targets:
        assert outcomes[target.name] == alone.up(target).changes.to_json()
        rendered = tmp_path / "at-once" / "offline" / target.name / "last-render.json"
        assert (
            rendered.read_bytes()
            == (tmp_path / "alone" / "offline" / target.name / "last-render.json").read_bytes()
        )
    assert isinstance(outcomes["bad"], InvalidSpecError)
    assert "bad.yaml:" in outcomes["bad"].detail
    assert "spec.port" in outcomes["bad"].detail
