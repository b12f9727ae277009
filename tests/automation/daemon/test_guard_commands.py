"""The command line end to end: ``run --once --dry-run`` (the real loader, program and offline
renderer) and ``up``, with stack files that lost their content or cannot be loaded at all."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from automation.cli import main
from automation.daemon.app import deletions_to_allow, record_applied, record_destroyed, stack_target
from automation.daemon.layout import ProjectLayout
from automation.daemon.settings import DaemonSettings
from automation.daemon.status import StackStatus
from automation.daemon.store import StatusStore
from automation.render.render import PROJECT_DIR
from tests.automation.daemon.helpers import FakeObservations, saved
from tests.automation.sources.stacks import connector

FOUR = ["FivetranConnector/a", "FivetranConnector/b", "FivetranConnector/c", "FivetranConnector/d"]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    stacks, state = tmp_path / "stacks", tmp_path / "state"
    stacks.mkdir()
    return stacks, state, ["--stacks-dir", str(stacks), "--state-dir", str(state), "--http-port", "0"]


def write(path: Path, *documents: dict) -> Path:
    return saved(path, yaml.safe_dump_all(list(documents), sort_keys=False) if documents else "")


def run_once(args: list[str], capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, str]]:
    code = main(["run", "--once", "--dry-run", *extra, *args])
    outcomes = {}
    for line in capsys.readouterr().out.strip().splitlines():
        stack, _, outcome = line.partition(": ")
        outcomes[stack] = outcome
    return code, outcomes


def test_an_emptied_file_is_held_until_run_allow_deletions(project, capsys):
    stacks, _, args = project
    write(stacks / "sales.yaml", *(connector(name) for name in "abcd"))
    write(stacks / "other.yaml", connector("x"))
    code, first = run_once(args, capsys)
    assert code == 0, first

    write(stacks / "sales.yaml")
    code, held = run_once(args, capsys)
    again_code, again = run_once(args, capsys)

    assert code == again_code == 1
    assert held["other"] == "unchanged"
    assert held["sales"].startswith(
        f"held: {stacks / 'sales.yaml'} has 0 document(s), the last up applied 4: "
        f"an up would delete 4 of them ({', '.join(FOUR)})"
    )
    assert "`python -m automation run --allow-deletions sales`" in held["sales"]
    assert again["sales"].startswith("stalled: ")

    code, allowed = run_once(args, capsys, "--allow-deletions", "sales")

    assert code == 0, allowed
    assert allowed["sales"].startswith("reconciled: up (InputChanged): 0 to create, 0 to update, ")
    assert " 0 to delete" not in allowed["sales"]
    assert main(["status", "--dry-run", "--format", "json", *args[:4]]) == 0
    status = {s["name"]: s for s in json.loads(capsys.readouterr().out)["stacks"]}
    assert status["sales"]["appliedDocuments"] == []
    assert status["sales"]["phase"] == "Ready"


def test_a_truncated_file_is_held_and_an_annotation_allows_it(project, capsys):
    stacks, _, args = project
    write(stacks / "sales.yaml", *(connector(name) for name in "abcd"))
    assert run_once(args, capsys)[0] == 0

    write(stacks / "sales.yaml", connector("a"))
    code, held = run_once(args, capsys)
    assert code == 1
    assert "has 1 document(s), the last up applied 4: an up would delete 3 of them" in held["sales"]
    assert "driftless.dev/allow-deletions" in held["sales"]

    allowed = connector("a")
    allowed["metadata"]["annotations"] = {"driftless.dev/allow-deletions": "retire-b-c-d"}
    write(stacks / "sales.yaml", allowed)
    code, outcomes = run_once(args, capsys)

    assert code == 0, outcomes
    assert outcomes["sales"].startswith("reconciled: ")
    assert " 0 to delete" not in outcomes["sales"]


def test_files_that_cannot_be_loaded_leave_the_others_reconciled_run_after_run(project, capsys):
    stacks, _, args = project
    write(stacks / "good.yaml", connector("x"))
    saved(stacks / "nul.yaml", b"kind: FivetranConnector\nmetadata: {name: a\x00b}\n")
    saved(stacks / "latin.yaml", "kind: FivetranConnector\nmetadata: {name: k\xf6ln}\n".encode("latin-1"))

    code, first = run_once(args, capsys)
    restart_code, restart = run_once(args, capsys)  # the next start, with the files still there

    assert code == restart_code == 1
    assert first["good"].startswith("reconciled: ")
    assert restart["good"] == "unchanged"
    for name in ("nul", "latin"):
        assert first[name].startswith(f"failed: stalled (InvalidSpec): 1 problem(s) in {name}.yaml: "), first
        assert str(stacks / f"{name}.yaml") in first[name]
        assert restart[name].startswith("stalled: ")
    assert f"{stacks / 'nul.yaml'}:2" in first["nul"]
    assert f"{stacks / 'latin.yaml'}:2" in first["latin"]


def test_up_refuses_an_emptied_file_unless_allowed(project, capsys):
    stacks, state, args = project
    write(stacks / "sales.yaml")
    store = StatusStore(state / "state.db")
    store.save(StackStatus("sales", fingerprint="sha256:applied", applied_documents=FOUR))
    store.close()
    up = ["up", "--stack", "sales", *args[:4]]

    assert main(up) == 2
    err = capsys.readouterr().err
    assert f"error: {stacks / 'sales.yaml'} has 0 document(s), the last up applied 4" in err
    assert ", ".join(FOUR) in err
    assert "nothing applied; restore the file, or allow the deletions" in err

    main([*up, "--allow-deletions"])  # past the guard, on to Pulumi (not installed here)
    assert "would delete" not in capsys.readouterr().err


def test_up_and_destroy_record_what_is_applied_for_the_next_guard(project):
    stacks, state, _ = project
    layout = ProjectLayout.at(PROJECT_DIR, stacks_dir=stacks, state_dir=state)
    now = datetime.now(UTC)
    write(stacks / "sales.yaml", *(connector(name) for name in "abcd"))
    applied = stack_target(layout, "sales", FakeObservations(), now)
    assert record_applied(layout, applied) is None  # as `up` does once it succeeded

    write(stacks / "sales.yaml", connector("a"))
    truncated = stack_target(layout, "sales", FakeObservations(), now)
    risk = deletions_to_allow(layout, truncated, DaemonSettings())

    assert risk is not None
    assert risk.file == str(stacks / "sales.yaml")  # the file people edit, not the validated copy
    assert risk.lost == tuple(FOUR[1:])
    assert truncated.stack_file.read_bytes() == (stacks / "sales.yaml").read_bytes()

    assert record_destroyed(layout, "sales") is None
    assert deletions_to_allow(layout, truncated, DaemonSettings()) is None
