"""Whether a lock's writer still runs: zombies and reused pids are gone, old locks still read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.files import hostname, lock_holder, pid_alive, process_start


@pytest.fixture
def zombie() -> Iterator[int]:
    """A child that has exited and is not reaped yet: still in the process table, state Z."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # wait for the exit, leave it unreaped
    yield child.pid
    child.wait()


def test_a_zombie_is_not_alive(zombie):
    assert Path(f"/proc/{zombie}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    os.kill(zombie, 0)  # the process table still has it: a signal check alone says "alive"

    assert pid_alive(zombie) is False
    assert pid_alive(zombie, process_start(zombie)) is False


def test_a_live_pid_with_another_start_time_is_a_later_process():
    recorded = process_start()  # what this process would write into a lock

    assert pid_alive(os.getpid(), recorded) is True
    assert pid_alive(os.getpid(), {**recorded, "startTicks": recorded["startTicks"] - 1}) is False
    assert pid_alive(os.getpid(), {**recorded, "bootId": "00000000-0000-0000-0000-000000000000"}) is False


def test_the_recorded_start_is_field_22_of_proc_stat_and_the_boot_id():
    fields = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()

    assert process_start() == {
        "startTicks": int(fields[19]),
        "bootId": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
    }


def test_a_lock_without_a_start_time_is_judged_by_its_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    old_lock = {"pid": os.getpid(), "hostname": "here", "timestamp": "2026-11-21T12:00:00Z"}

    assert pid_alive(os.getpid(), old_lock) is True
    assert pid_alive(os.getpid()) is True
    assert pid_alive(process.pid) is False
    assert pid_alive(0) is False


# --- lock holders ------------------------------------------------------------------------------------


def write_lock(path: Path, **record: object) -> Path:
    path.write_text(json.dumps(record))
    return path


def test_no_lock_file_has_no_holder(tmp_path):
    assert lock_holder(tmp_path / "lock.json") is None


def test_a_lock_of_a_process_of_this_host_that_exited_is_stale(tmp_path, zombie):
    lock = write_lock(tmp_path / "lock.json", pid=zombie, hostname=hostname())
    holder = lock_holder(lock)
    assert holder is not None
    assert (holder.pid, holder.gone) == (zombie, True)


def test_a_lock_of_a_running_process_or_of_another_host_is_never_stale(tmp_path, zombie):
    running = lock_holder(
        write_lock(tmp_path / "a.json", pid=os.getpid(), hostname=hostname(), **process_start())
    )
    elsewhere = lock_holder(write_lock(tmp_path / "b.json", pid=zombie, hostname="another-host"))
    assert running is not None
    assert elsewhere is not None
    assert (running.gone, elsewhere.gone) == (False, False)


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]", '{"pid": "42", "hostname": 7}'])
def test_an_unreadable_lock_names_no_one_and_is_never_stale(tmp_path, content):
    lock = tmp_path / "lock.json"
    lock.write_text(content)
    holder = lock_holder(lock)
    assert holder is not None
    assert holder.pid == 0
    assert holder.gone is False
