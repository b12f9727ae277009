"""The state directory's lock: what it records of its holder, and what a busy lock says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from automation.daemon.state_lock import StateDirectoryBusyError, StateDirectoryError, StateLock
from automation.files import hostname, process_start

PROJECT_ROOT = Path(__file__).resolve().parents[3]

# Takes the lock, forks a child that inherits it, and exits: the child holds the lock on its own.
FORK_AND_EXIT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from automation.daemon.state_lock import StateLock
    lock = StateLock(Path(sys.argv[1]), "run").acquire()
    if os.fork() == 0:
        print("child holds it", flush=True)
        sys.stdin.read()  # until the test closes stdin
        os._exit(0)
    os._exit(0)
    """
)


def test_the_lock_file_records_the_holders_start(tmp_path):
    with StateLock(tmp_path, "run --once"):
        holder = json.loads((tmp_path / "daemon.lock").read_text())

    assert holder["pid"] == os.getpid()
    assert holder["host"] == hostname()
    assert holder["command"] == "run --once"
    assert {k: holder[k] for k in ("startTicks", "bootId")} == process_start()


def test_a_lock_held_by_the_child_of_an_exited_process_says_so(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", FORK_AND_EXIT, str(tmp_path)],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "child holds it"
        holder.wait(timeout=30)  # the process that took the lock has exited, and is reaped

        with pytest.raises(StateDirectoryBusyError) as busy:
            StateLock(tmp_path, "run").acquire()

        assert f"(pid {holder.pid} (exited; a process it started still holds the lock), `run`" in str(
            busy.value
        )
    finally:
        holder.stdin.close()  # the child reads EOF and exits


def test_a_lock_file_that_cannot_be_opened_is_a_clear_error(tmp_path):
    (tmp_path / "daemon.lock").mkdir()

    with pytest.raises(StateDirectoryError) as raised:
        StateLock(tmp_path, "run").acquire()

    assert str(raised.value) == (
        f"cannot use the state directory {tmp_path}: cannot create daemon.lock: Is a directory"
    )
