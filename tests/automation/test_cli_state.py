"""The command line on a state directory that is damaged, read-only or full: one clear line, exit 2."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from automation.cli import main

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "alpha.yaml").write_text("# a stack with no documents yet\n")
    return stacks


def errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


def test_a_state_directory_under_a_regular_file_is_one_clear_line(tmp_path, stacks, capsys):
    (tmp_path / "file").write_text("")
    state = tmp_path / "file" / "state"

    for command in (["run", "--once", "--dry-run"], ["run", "--once"], ["up", "--stack", "alpha"]):
        assert main([*command, "--stacks-dir", str(stacks), "--state-dir", str(state)]) == 2, command
        err = capsys.readouterr().err
        assert "Traceback" not in err
        [line] = errors(err)
        assert line.startswith(f"error: cannot use the state directory {state}")
        assert line.endswith("cannot create daemon.lock: Not a directory")


def test_a_state_db_that_is_not_a_file_stops_run_and_status_with_one_clear_line(tmp_path, stacks, capsys):
    state = tmp_path / "state"
    (state / "state.db").mkdir(parents=True)
    dirs = ["--stacks-dir", str(stacks), "--state-dir", str(state)]

    assert main(["run", "--once", *dirs]) == 2
    assert errors(capsys.readouterr().err) == [
        f"error: cannot use the state directory {state}: cannot open state.db: it is a directory, not a file"
    ]
    assert main(["status", *dirs]) == 2
    assert errors(capsys.readouterr().err) == [
        f"error: cannot read {state / 'state.db'}: it is a directory, not a status database"
    ]


def run_with_file_size_limit(limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    def limit_file_size() -> None:  # in the child: no file may grow past `limit` bytes (a full disk)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return subprocess.run(
        [sys.executable, "-m", "automation", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_file_size,
    )


@pytest.mark.parametrize(
    ("limit", "reason"),
    [(64, "cannot write daemon.lock: File too large"), (1024, "cannot open state.db: disk I/O error")],
    ids=["lock-file", "database"],
)
def test_a_full_state_directory_at_start_is_one_clear_line(tmp_path, stacks, limit, reason):
    state = tmp_path / "state"

    run = run_with_file_size_limit(
        limit, "run", "--once", "--dry-run", "--stacks-dir", str(stacks), "--state-dir", str(state)
    )

    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert errors(run.stderr) == [f"error: cannot use the state directory {state / 'dry-run'}: {reason}"]


def test_run_moves_a_damaged_database_aside_says_so_and_reconciles(tmp_path, stacks, capsys):
    state = tmp_path / "state"
    (state / "dry-run").mkdir(parents=True)
    (state / "dry-run" / "state.db").write_bytes(b"\x00garbage" * 512)
    dirs = ["--stacks-dir", str(stacks), "--state-dir", str(state)]

    assert main(["run", "--once", "--dry-run", *dirs]) == 0

    out, err = capsys.readouterr()
    assert out.startswith("alpha: reconciled: up (Initial)")
    [logged] = [line for line in err.splitlines() if "status.database_damaged" in line]
    assert f"{state / 'dry-run' / 'state.db'} is damaged (file is not a database)" in logged
    [aside] = (state / "dry-run").glob("state.db.corrupt-*")
    assert aside.read_bytes() == b"\x00garbage" * 512
    assert main(["status", "--dry-run", "--format", "json", *dirs]) == 0
    assert [s["name"] for s in json.loads(capsys.readouterr().out)["stacks"]] == ["alpha"]


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.rglob("*")) if p.is_file()
    }


def test_status_reads_without_writing_a_byte(tmp_path, stacks, capsys):
    dirs = ["--stacks-dir", str(stacks), "--state-dir", str(tmp_path / "state")]
    assert main(["run", "--once", "--dry-run", *dirs]) == 0
    capsys.readouterr()
    before = snapshot(tmp_path / "state")

    assert main(["status", "--dry-run", "--format", "json", *dirs]) == 0
    assert main(["status", "--dry-run", *dirs]) == 0

    assert [s["name"] for s in json.loads(capsys.readouterr().out.split("\n}\n")[0] + "}")["stacks"]] == [
        "alpha"
    ]
    assert snapshot(tmp_path / "state") == before


def test_status_without_a_database_creates_nothing(tmp_path, stacks, capsys):
    state = tmp_path / "state"

    assert main(["status", "--stacks-dir", str(stacks), "--state-dir", str(state)]) == 0

    assert capsys.readouterr().out.startswith("no stacks have been reconciled yet")
    assert not state.exists()


def test_status_on_a_damaged_database_is_one_clear_line_and_touches_nothing(tmp_path, stacks, capsys):
    state = tmp_path / "state"
    state.mkdir()
    (state / "state.db").write_bytes(b"garbage" * 1000)
    before = snapshot(state)

    assert main(["status", "--stacks-dir", str(stacks), "--state-dir", str(state)]) == 2

    assert errors(capsys.readouterr().err) == [
        f"error: {state / 'state.db'} is damaged (file is not a database); "
        "the next `run` moves it aside and keeps what still reads"
    ]
    assert snapshot(state) == before
