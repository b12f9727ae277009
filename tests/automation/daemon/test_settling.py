"""A stack file is read only once written: its size and mtime unchanged for the debounce window.

Whatever starts a cycle (a file event, a stat change, a timer, another stack's operation), a
half-written file is never what an up applies.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest
import yaml

from automation.daemon.runner import run_once
from automation.daemon.settings import DaemonSettings
from automation.daemon.settling import SettledFiles, Unsettled
from tests.automation.daemon.helpers import note, saved, write_stack

WINDOW = 600  # seconds: far longer than any pause between a write and a cycle in these tests


def states(outcomes):
    return {o.stack: o.state for o in outcomes}


def write_now(path, *documents) -> None:
    """A write happening now, as an editor or a tool does it (mtime: the real time)."""
    path.write_text(yaml.safe_dump_all(list(documents), sort_keys=False))


def test_a_file_written_in_two_steps_is_never_applied_half_written(make_reconciler, driver, layout, clock):
    full = [note("a"), note("b"), note("c"), note("d"), note("e")]
    write_stack(layout.stacks_dir / "alpha.yaml", *full[:4])
    write_stack(layout.stacks_dir / "beta.yaml", note("x"))
    reconciler = make_reconciler(driver, settings=DaemonSettings(debounce_seconds=WINDOW))
    assert states(reconciler.cycle()) == {"alpha": "reconciled", "beta": "reconciled"}
    driver.calls.clear()

    write_now(layout.stacks_dir / "alpha.yaml", *full[:2])  # the first half: 2 of 4, within the guard
    first = {o.stack: o for o in reconciler.cycle()}
    clock.advance(WINDOW / 2)  # a pause shorter than the window
    write_now(layout.stacks_dir / "alpha.yaml", *full)  # the second step: the whole file
    second = reconciler.cycle()
    clock.advance(WINDOW / 2 + 1)  # the whole file has rested for half a window only
    third = reconciler.cycle()
    clock.advance(WINDOW / 2)
    last = reconciler.cycle()

    assert first["alpha"].state == "waiting"
    assert "read once unchanged for 600 s" in first["alpha"].message
    assert first["beta"].state == "unchanged"  # the other stack is read and decided as usual
    assert states(second)["alpha"] == states(third)["alpha"] == "waiting"
    assert states(last)["alpha"] == "reconciled"
    assert driver.ops("up") == [("up", "alpha", {"refresh": False})]  # once, with the whole file
    assert reconciler.status("alpha").applied_documents == ["Note/a", "Note/b", "Note/c", "Note/d", "Note/e"]


def test_the_operation_applies_the_content_that_was_validated(make_reconciler, driver, layout):
    stack_file = write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="red"))
    applied: list[str] = []

    def emptied_meanwhile(kind, stack):  # after the decision, before the program reads the file
        stack_file.write_text("")
        applied.append(driver.targets[-1].stack_file.read_text())

    driver.on_operation = emptied_meanwhile
    make_reconciler(driver).cycle()

    assert yaml.safe_load(applied[0]) == note("a", color="red")
    assert driver.targets[0].source_file == stack_file


def test_a_cycle_is_due_when_a_file_being_written_settles(make_reconciler, driver, layout, clock):
    reconciler = make_reconciler(driver, settings=DaemonSettings(debounce_seconds=WINDOW))
    write_now(layout.stacks_dir / "alpha.yaml", note("a"))

    assert states(reconciler.cycle())["alpha"] == "waiting"

    due = reconciler.next_due()
    assert due is not None
    assert clock.now() < due <= clock.now() + timedelta(seconds=WINDOW)


def test_run_once_waits_for_a_file_being_written_instead_of_skipping_it(make_reconciler, driver, layout):
    write_now(layout.stacks_dir / "alpha.yaml", note("a"))
    reconciler = make_reconciler(driver, settings=DaemonSettings(debounce_seconds=20))

    result = run_once(reconciler, abandon=lambda left, signum: None)

    assert states(result.outcomes) == {"alpha": "reconciled"}
    assert result.failed == []


def test_run_once_gives_up_on_a_file_still_being_written_after_30_seconds(make_reconciler, driver, layout):
    write_now(layout.stacks_dir / "alpha.yaml", note("a"))
    reconciler = make_reconciler(driver, settings=DaemonSettings(debounce_seconds=WINDOW))

    result = run_once(reconciler, abandon=lambda left, signum: None)  # waits 30 s of the manual clock

    assert states(result.outcomes) == {"alpha": "waiting"}
    assert result.failed == ["alpha"]
    assert driver.calls == []


# --- reading one file -------------------------------------------------------------------------


def test_a_file_untouched_for_the_window_is_read_at_first_sight(tmp_path, clock):
    path = saved(tmp_path / "alpha.yaml", "kind: Note\n", seconds_ago=2)

    assert SettledFiles(clock, 1.6).read(path) == b"kind: Note\n"


def test_an_mtime_in_the_future_counts_from_when_the_daemon_first_saw_it(tmp_path, clock):
    path = saved(tmp_path / "alpha.yaml", "kind: Note\n", seconds_ago=-3600)  # a clock ahead of ours
    files = SettledFiles(clock, 1.6)

    first = files.read(path)
    clock.advance(1.6)

    assert isinstance(first, Unsettled)
    assert first.retry_after == pytest.approx(1.6)
    assert files.read(path) == b"kind: Note\n"


def test_a_file_that_changes_while_it_is_read_is_not_used(tmp_path, clock):
    path = tmp_path / "alpha.yaml"
    os.mkfifo(path)  # its reader waits for the writer, whose write moves the mtime mid-read
    saved_long_ago = time.time_ns() - 3600 * 10**9
    os.utime(path, ns=(saved_long_ago, saved_long_ago))

    def write() -> None:
        with path.open("w") as stream:
            stream.write("kind: Note\n")

    writer = threading.Thread(target=write)
    writer.start()
    result = SettledFiles(clock, 1.6).read(path)
    writer.join()

    assert isinstance(result, Unsettled)
    assert result.reason == "alpha.yaml changed while it was being read"
