"""Stack files and program source, watched for real on a temporary project directory."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.sources.base import Change
from automation.sources.files import FileSource

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "dev.yaml").write_text("# dev\n")
    (tmp_path / "stacks" / "prod.yaml").write_text("# prod\n")
    (tmp_path / "components" / "wazuh").mkdir(parents=True)
    (tmp_path / "components" / "wazuh" / "component.py").write_text("# v1\n")
    (tmp_path / "__main__.py").write_text("# program\n")
    (tmp_path / ".driftless").mkdir()
    # The files existed before the daemon started. (The polling fallback compares modification
    # times in whole seconds, so a file written in the same second as the watcher started could
    # look unchanged to it.)
    earlier = time.time() - 10
    for path in tmp_path.rglob("*"):
        os.utime(path, (earlier, earlier))
    return tmp_path


@pytest.fixture(params=[False, True], ids=["notify", "polling"])
def source(request: pytest.FixtureRequest, project: Path) -> Iterator[FileSource]:
    woken: list[int] = []
    watcher = FileSource(
        project,
        debounce_ms=50,
        step_ms=10,
        rust_timeout_ms=100,
        force_polling=request.param,
        poll_delay_ms=20,
        wake=lambda: woken.append(1),
    )
    watcher.woken = woken  # type: ignore[attr-defined]
    assert watcher.wait_ready(5), "the watchers did not start"
    yield watcher
    watcher.close()


def changes_after(source: FileSource, settle: float = 0.15, timeout: float = 5.0) -> list[Change]:
    """Poll until something arrives, then a little longer so one debounced batch is complete."""
    deadline = time.monotonic() + timeout
    found: list[Change] = []
    while time.monotonic() < deadline:
        found += source.poll(NOW)
        if found:
            time.sleep(settle)
            found += source.poll(NOW)
            break
        time.sleep(0.02)
    return found


def by_source(changes: list[Change]) -> dict[str, frozenset[str] | None]:
    merged: dict[str, frozenset[str] | None] = {}
    for change in changes:
        if change.source in merged and merged[change.source] is not None and change.stacks is not None:
            merged[change.source] = merged[change.source] | change.stacks  # type: ignore[operator]
        else:
            merged[change.source] = change.stacks
    return merged


def test_a_stack_file_change_affects_only_that_stack(source: FileSource, project: Path) -> None:
    (project / "stacks" / "dev.yaml").write_text("# dev, edited\n")

    changes = changes_after(source)

    assert by_source(changes) == {"files": frozenset({"dev"})}
    assert "stacks/dev.yaml" in changes[0].detail
    assert source.woken  # type: ignore[attr-defined]


def test_a_new_and_a_deleted_stack_file_are_changes_of_those_stacks(
    source: FileSource, project: Path
) -> None:
    (project / "stacks" / "staging.yaml").write_text("# new\n")
    (project / "stacks" / "prod.yaml").unlink()

    assert by_source(changes_after(source)) == {"files": frozenset({"staging", "prod"})}


def test_a_program_change_affects_every_stack(source: FileSource, project: Path) -> None:
    (project / "components" / "wazuh" / "component.py").write_text("# v2\n")

    assert by_source(changes_after(source)) == {"program": None}


def test_the_entry_point_is_program_source(source: FileSource, project: Path) -> None:
    (project / "__main__.py").write_text("# program v2\n")

    assert by_source(changes_after(source)) == {"program": None}


def test_a_stack_config_file_affects_its_stack(source: FileSource, project: Path) -> None:
    (project / "Pulumi.prod.yaml").write_text("config: {}\n")

    assert by_source(changes_after(source)) == {"files": frozenset({"prod"})}


def test_state_and_unrelated_files_are_ignored(source: FileSource, project: Path) -> None:
    (project / ".driftless" / "status.db").write_text("state")
    (project / "README.md").write_text("# readme\n")
    (project / "components" / "wazuh" / "__pycache__").mkdir()
    (project / "components" / "wazuh" / "__pycache__" / "component.cpython-311.pyc").write_bytes(b"\0")

    assert changes_after(source, timeout=0.5) == []
    assert source.next_due(NOW) is None


def test_a_burst_of_writes_is_one_change(source: FileSource, project: Path) -> None:
    for index in range(10):
        (project / "stacks" / "dev.yaml").write_text(f"# save {index}\n")
    # However the watcher batches the events (a loaded machine may split a burst in two), one
    # poll after they have arrived, as one daemon cycle does, turns them into one change.
    deadline = time.monotonic() + 5
    while source.next_due(NOW) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    changes = source.poll(NOW)

    assert len(changes) == 1
    assert changes[0].stacks == frozenset({"dev"})


def test_pending_events_make_the_source_due_now(project: Path) -> None:
    watcher = FileSource(project, debounce_ms=50, step_ms=10, rust_timeout_ms=100)
    try:
        assert watcher.wait_ready(5)
        (project / "stacks" / "dev.yaml").write_text("# edited\n")
        deadline = time.monotonic() + 5
        while watcher.next_due(NOW) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watcher.next_due(NOW) == NOW
        assert watcher.poll(NOW) != []
        assert watcher.next_due(NOW) is None
    finally:
        watcher.close()


def test_close_stops_the_watcher_threads(project: Path) -> None:
    watcher = FileSource(project, debounce_ms=50, step_ms=10, rust_timeout_ms=100)
    assert watcher.wait_ready(5)
    assert watcher.running

    watcher.close()

    assert watcher.running is False
