"""The daemon's commands: ``run``, ``status`` and the Pulumi commands without a CLI."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.cli import main
from automation.daemon.status import StackStatus
from automation.daemon.store import StatusStore
from automation.observation_store import ObservationStore, RegistryCheck


@pytest.fixture
def dirs(tmp_path: Path) -> list[str]:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "alpha.yaml").write_text("# a stack with no documents yet\n")
    (stacks / "beta.yaml").write_text("---\n")
    return ["--stacks-dir", str(stacks), "--state-dir", str(tmp_path / "state")]


def lines(text: str) -> list[str]:
    return text.strip().splitlines()


def test_a_second_dry_run_reports_every_stack_unchanged_and_runs_nothing(dirs, capsys):
    assert main(["run", "--once", "--dry-run", *dirs]) == 0
    first = lines(capsys.readouterr().out)
    assert main(["run", "--once", "--dry-run", *dirs]) == 0
    second = lines(capsys.readouterr().out)

    assert first == [
        "alpha: reconciled: up (Initial): 0 to create, 0 to update, 0 to delete, 0 unchanged",
        "beta: reconciled: up (Initial): 0 to create, 0 to update, 0 to delete, 0 unchanged",
    ]
    assert second == ["alpha: unchanged", "beta: unchanged"]
    assert main(["status", "--dry-run", "--format", "json", *dirs]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [(s["name"], s["phase"], len(s["history"])) for s in status["stacks"]] == [
        ("alpha", "Ready", 1),
        ("beta", "Ready", 1),
    ]


def test_status_prints_the_spec_object_and_a_table(dirs, capsys):
    main(["run", "--once", "--dry-run", *dirs])
    capsys.readouterr()

    assert main(["status", "--dry-run", "--format", "json", *dirs]) == 0
    stack = json.loads(capsys.readouterr().out)["stacks"][0]
    assert {"name", "phase", "conditions", "fingerprint", "lastOperation"} <= stack.keys()
    assert stack["fingerprint"].startswith("sha256:")
    assert stack["lastOperation"]["changes"] == {"create": 0, "update": 0, "delete": 0, "same": 0}
    ready = next(c for c in stack["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "UpSucceeded")

    assert main(["status", "--dry-run", *dirs]) == 0
    table = lines(capsys.readouterr().out)
    assert table[0].startswith("DRY-RUN state: ")
    assert table[1].split()[:2] == ["STACK", "PHASE"]
    assert [row.split()[:2] for row in table[2:]] == [["alpha", "Ready"], ["beta", "Ready"]]


def test_status_after_the_first_dry_run_shows_its_state_and_says_so(dirs, capsys):
    assert main(["run", "--once", "--dry-run", *dirs]) == 0  # the README's first command
    capsys.readouterr()

    assert main(["status", *dirs]) == 0
    table = lines(capsys.readouterr().out)
    assert table[0] == (
        "DRY-RUN state: what `run --dry-run` reconciled against the offline render, not Pulumi"
        " (no stack has been reconciled for real yet)"
    )
    assert table[1].split()[:2] == ["STACK", "PHASE"]
    assert [row.split()[:2] for row in table[2:]] == [["alpha", "Ready"], ["beta", "Ready"]]

    assert main(["status", "--format", "json", *dirs]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["dryRun"] is True
    assert document["registries"] == {}
    assert [(s["name"], s["phase"]) for s in document["stacks"]] == [("alpha", "Ready"), ("beta", "Ready")]


def test_a_dry_run_says_component_health_is_unknown(dirs, tmp_path, capsys):
    (tmp_path / "stacks" / "alpha.yaml").write_text(
        "kind: DomainPool\nmetadata: {name: apps-pool}\n"
        "spec: {baseDomain: apps.corp.com, clusterIssuer: letsencrypt-prod}\n"
    )
    assert main(["run", "--once", "--dry-run", *dirs]) == 0
    capsys.readouterr()

    assert main(["status", "--dry-run", "--format", "json", *dirs]) == 0
    alpha = json.loads(capsys.readouterr().out)["stacks"][0]
    assert [(c["kind"], c["name"], c["ready"], c["reason"]) for c in alpha["components"]] == [
        ("DomainPool", "apps-pool", "Unknown", "Offline")
    ]
    ready = next(c for c in alpha["conditions"] if c["type"] == "Ready")
    assert (alpha["phase"], ready["status"], ready["reason"]) == ("Ready", "True", "UpSucceeded")
    assert "dry-run: the offline render cannot read live status, so health is unknown" in ready["message"]

    assert main(["status", "--dry-run", *dirs]) == 0
    alpha_row = lines(capsys.readouterr().out)[2]
    assert alpha_row.split()[:3] == ["alpha", "Ready", "?/1"]


def test_status_with_no_state_at_all_says_nothing_was_reconciled(dirs, capsys):
    assert main(["status", *dirs]) == 0
    assert lines(capsys.readouterr().out) == ["no stacks have been reconciled yet"]

    assert main(["status", "--format", "json", *dirs]) == 0
    assert json.loads(capsys.readouterr().out) == {"stacks": [], "registries": {}, "dryRun": False}


def test_dry_run_state_is_kept_apart_from_the_real_daemons(dirs, tmp_path, capsys):
    main(["run", "--once", "--dry-run", *dirs])
    capsys.readouterr()
    real = StatusStore(tmp_path / "state" / "state.db")  # what the real daemon writes
    real.save(StackStatus("gamma"))
    real.close()

    assert main(["status", "--format", "json", *dirs]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["dryRun"] is False
    assert [s["name"] for s in document["stacks"]] == ["gamma"]
    assert main(["status", *dirs]) == 0
    table = lines(capsys.readouterr().out)
    assert table[0].split()[:2] == ["STACK", "PHASE"]
    assert [row.split()[0] for row in table[1:]] == ["gamma"]

    assert main(["status", "--dry-run", "--format", "json", *dirs]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["dryRun"] is True
    assert [s["name"] for s in document["stacks"]] == ["alpha", "beta"]


def test_status_shows_each_registrys_last_verification(dirs, tmp_path, capsys):
    store = ObservationStore(tmp_path / "state" / "observations.json")
    checked = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    store.record_registry_check("harbor.corp.com", RegistryCheck(False, "401 Unauthorized", checked))
    store.save()

    assert main(["status", "--format", "json", *dirs]) == 0
    assert json.loads(capsys.readouterr().out)["registries"] == {
        "harbor.corp.com": {
            "verified": False,
            "message": "401 Unauthorized",
            "checkedAt": "2026-11-21T12:00:00Z",
        }
    }
    assert main(["status", *dirs]) == 0
    assert lines(capsys.readouterr().out)[-1] == (
        "registry harbor.corp.com: NOT verified at 2026-11-21T12:00:00Z: 401 Unauthorized"
    )


def test_an_invalid_stack_fails_the_run_with_file_and_line(dirs, tmp_path, capsys):
    (tmp_path / "stacks" / "beta.yaml").write_text("kind: NoSuchKind\nmetadata: {name: x}\n")

    assert main(["run", "--once", "--dry-run", *dirs]) == 1

    out = lines(capsys.readouterr().out)
    assert out[0].startswith("alpha: reconciled")
    assert out[1].startswith("beta: failed: stalled (InvalidSpec): 1 problem(s) in beta.yaml:")
    assert "beta.yaml:1: NoSuchKind/x: kind: unknown kind 'NoSuchKind'" in out[1]


def test_invalid_daemon_settings_are_a_usage_error(dirs, tmp_path, capsys):
    config = tmp_path / "driftless.yaml"
    config.write_text("drift: {intervalSeconds: 5}\n")

    assert main(["run", "--once", "--dry-run", "--config", str(config), *dirs]) == 2
    assert "drift.intervalSeconds: must be >= 60" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["preview", "up", "refresh", "destroy"])
def test_pulumi_commands_without_the_cli_say_how_to_install_it(command, dirs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin-here"))
    confirm = ["--yes"] if command == "destroy" else []

    assert main([command, "--stack", "alpha", *confirm, *dirs]) == 1

    errors = [line for line in lines(capsys.readouterr().err) if line.startswith("error:")]
    assert errors == [
        "error: PulumiCliMissing: the Pulumi CLI was not found: install it with "
        "`curl -fsSL https://get.pulumi.com | sh` (or see https://www.pulumi.com/docs/install/) "
        "and make sure `pulumi` is on PATH"
    ]


def test_a_pulumi_command_on_an_invalid_stack_touches_nothing(dirs, tmp_path, capsys):
    (tmp_path / "stacks" / "beta.yaml").write_text("kind: NoSuchKind\nmetadata: {name: x}\n")

    assert main(["preview", "--stack", "beta", "--markdown", *dirs]) == 1

    err = capsys.readouterr().err
    assert "beta.yaml:1: NoSuchKind/x: kind: unknown kind 'NoSuchKind'" in err
    assert "PulumiCliMissing" not in err  # rejected before Pulumi is even looked for


def test_a_busy_status_port_is_a_clear_usage_error(dirs, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert main(["run", "--dry-run", "--http-port", str(port), *dirs]) == 2

    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err


def test_destroy_without_a_terminal_needs_yes(dirs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin-here"))
    monkeypatch.setattr(sys, "stdin", io.StringIO("alpha\n"))  # piped in, e.g. from CI

    assert main(["destroy", "--stack", "alpha", *dirs]) == 2

    err = capsys.readouterr().err
    assert "stdin is not a terminal" in err
    assert "pass --yes" in err
    assert "PulumiCliMissing" not in err  # refused before anything else


# --- run --once: what counts as failed ----------------------------------------------------------------


def test_a_stack_still_backing_off_fails_the_next_run(dirs, tmp_path, capsys):
    """The second run starts nothing (the retry is not due yet), but the stack is not applied."""
    pending = tmp_path / "state" / "dry-run" / "offline" / "alpha" / "pending.json"
    pending.parent.mkdir(parents=True)
    pending.write_text(json.dumps({"operation": "up", "startedAt": "2026-11-21T12:00:00Z"}))

    assert main(["run", "--once", "--dry-run", *dirs]) == 1
    assert lines(capsys.readouterr().out)[0].startswith("alpha: failed: PendingOperations:")

    assert main(["run", "--once", "--dry-run", *dirs]) == 1
    out = lines(capsys.readouterr().out)
    assert out[0].startswith("alpha: waiting: backing off (PendingOperations)")
    assert out[1] == "beta: unchanged"


# --- one process per state directory ------------------------------------------------------------------

HOLD_STATE_DIR = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from automation.daemon.state_lock import StateLock

    with StateLock(Path(sys.argv[1]), "run"):
        print("locked", flush=True)
        sys.stdin.read()  # until the test closes stdin
    """
)


@pytest.fixture
def hold_state_dir() -> Iterator:
    """``hold_state_dir(path)``: another process holds that state directory's lock; returns its pid."""
    holders: list[subprocess.Popen] = []

    def hold(path: Path) -> int:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLD_STATE_DIR, str(path)],
            cwd=Path(__file__).resolve().parents[2],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        holders.append(process)
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "locked"
        return process.pid

    yield hold
    for process in holders:
        process.communicate(timeout=10)


def test_a_second_process_on_a_state_directory_stops_at_once_naming_the_holder(
    dirs, tmp_path, capsys, hold_state_dir
):
    pid = hold_state_dir(tmp_path / "state")

    for command in (["run", "--once"], ["run", "--http-port", "0"], ["up", "--stack", "alpha"]):
        assert main([*command, *dirs]) == 2, command
        err = capsys.readouterr().err
        assert f"another driftless process (pid {pid}, `run`" in err
        assert f"is using the state directory {tmp_path / 'state'}" in err

    # a dry run keeps its own state directory, so it runs beside the real daemon
    assert main(["run", "--once", "--dry-run", *dirs]) == 0
    assert main(["status", "--format", "json", *dirs]) == 0  # reading needs no lock


def test_two_dry_runs_on_one_state_directory_are_refused_too(dirs, tmp_path, capsys, hold_state_dir):
    pid = hold_state_dir(tmp_path / "state" / "dry-run")

    assert main(["run", "--once", "--dry-run", *dirs]) == 2
    assert f"(pid {pid}, " in capsys.readouterr().err
