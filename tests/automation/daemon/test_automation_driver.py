"""The real driver, as far as it can be checked without a Pulumi CLI.

There is no Pulumi CLI in this environment, so ``up``/``preview``/``refresh`` against a real
engine are not exercised here. What is: the missing-CLI path, the passphrase check, the default
backend, the way a failing CLI's output travels through the Automation API into typed errors
(with a stand-in ``pulumi`` executable that prints what a real one prints), crash recovery of
local-backend locks, and turning engine events into progress lines and drifted resources.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pulumi.automation.events import EngineEvent

from automation.daemon.automation_driver import AutomationDriver, AutomationOptions, _EventCollector
from automation.daemon.driver import (
    CliMissingError,
    ConfigurationError,
    DriverError,
    OperationCancelledError,
    ProgramError,
    StackLockedError,
    StackTarget,
)
from automation.files import hostname
from tests.automation.daemon.helpers import LOCKED_STDERR, PROGRAM_STDOUT

FAKE_PULUMI = """#!{python}
import json, os, sys
if sys.argv[1:] == ["version"]:
    print("v3.272.0")
    sys.exit(0)
with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "backend": os.environ.get("PULUMI_BACKEND_URL")}}) + "\\n")
sys.stdout.write(os.environ.get("FAKE_PULUMI_STDOUT", ""))
sys.stderr.write(os.environ.get("FAKE_PULUMI_STDERR", "error: unexpected"))
sys.exit(255)
"""


# A CLI whose stack commands work: `stack select` takes a moment and logs when it starts and ends,
# config reads and writes succeed, `stack output` interrupts the daemon (Ctrl-C), the rest fails.
WORKING_PULUMI = """#!{python}
import json, os, signal, sys, time
args = [a for a in sys.argv[1:] if a != "--non-interactive"]
if args == ["version"]:
    print("v3.272.0")
    sys.exit(0)
def log(event):
    with open(os.environ["FAKE_PULUMI_LOG"], "a") as out:
        out.write(json.dumps({{"event": event, "argv": args}}) + "\\n")
log("run")
if args[:2] == ["stack", "select"]:
    log("select-start")
    time.sleep(0.3)
    log("select-end")
    sys.exit(0)
if args[:1] == ["config"]:
    print("{{}}")
    sys.exit(0)
if args[:2] == ["stack", "output"]:
    os.kill(os.getppid(), signal.SIGINT)
    time.sleep(1)
    sys.exit(0)
sys.stderr.write("error: update failed")
sys.exit(255)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: driftless\nruntime: python\n")
    (project / "stacks" / "dev.yaml").write_text("# empty\n")
    return project


@pytest.fixture
def target(project: Path) -> StackTarget:
    return StackTarget("dev", project / "stacks" / "dev.yaml")


@pytest.fixture
def fake_pulumi(tmp_path: Path) -> Path:
    """A directory with bin/pulumi: answers ``version``, fails everything else like a real CLI."""
    root = tmp_path / "pulumi-root"
    (root / "bin").mkdir(parents=True)
    script = root / "bin" / "pulumi"
    script.write_text(FAKE_PULUMI.format(python=sys.executable))
    script.chmod(0o755)
    return root


@pytest.fixture
def working_pulumi(tmp_path: Path) -> Path:
    root = tmp_path / "working-pulumi"
    (root / "bin").mkdir(parents=True)
    script = root / "bin" / "pulumi"
    script.write_text(WORKING_PULUMI.format(python=sys.executable))
    script.chmod(0o755)
    return root


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def options(project: Path, **overrides) -> AutomationOptions:
    return AutomationOptions(project_dir=project, state_dir=project / ".driftless", **overrides)


def test_a_missing_cli_fails_every_operation_with_the_install_hint(project, target, tmp_path):
    driver = AutomationDriver(options(project), environ={"PATH": str(tmp_path / "no-bin-here")})

    for operation in (
        driver.preview,
        driver.up,
        driver.refresh,
        driver.check_drift,
        driver.destroy,
        driver.outputs,
    ):
        with pytest.raises(CliMissingError) as caught:
            operation(target)
        assert "curl -fsSL https://get.pulumi.com | sh" in caught.value.message
        assert "\n" not in caught.value.message


def test_a_pulumi_root_without_the_cli_is_a_missing_cli(project, target, tmp_path):
    driver = AutomationDriver(options(project, pulumi_root=str(tmp_path)), environ={})

    with pytest.raises(CliMissingError):
        driver.up(target)


def test_the_passphrase_provider_needs_a_passphrase_in_the_environment(
    project, target, fake_pulumi, tmp_path
):
    log = tmp_path / "calls.jsonl"
    driver = AutomationDriver(
        options(project, pulumi_root=str(fake_pulumi), env={"FAKE_PULUMI_LOG": str(log)}), environ={}
    )

    with pytest.raises(ConfigurationError, match="PULUMI_CONFIG_PASSPHRASE"):
        driver.up(target)
    assert not log.exists()  # refused before running any stack command


def test_the_backend_defaults_to_a_local_file_backend_in_the_state_dir(project):
    assert AutomationDriver(options(project), environ={}).backend_url() == (
        f"file://{(project / '.driftless' / 'pulumi-state').resolve()}"
    )
    from_env = AutomationDriver(options(project), environ={"PULUMI_BACKEND_URL": "s3://bucket/state"})
    assert from_env.backend_url() == "s3://bucket/state"
    explicit = AutomationDriver(
        options(project, backend_url="file:///srv/state"), environ={"PULUMI_BACKEND_URL": "x"}
    )
    assert explicit.backend_url() == "file:///srv/state"


@pytest.mark.parametrize(
    ("stderr", "stdout", "expected"),
    [
        (LOCKED_STDERR, "", StackLockedError),
        ("error: update failed", PROGRAM_STDOUT, ProgramError),
    ],
)
def test_cli_failures_reach_the_reconciler_as_typed_errors(
    project, target, fake_pulumi, tmp_path, stderr, stdout, expected
):
    log = tmp_path / "calls.jsonl"
    env = {"FAKE_PULUMI_LOG": str(log), "FAKE_PULUMI_STDERR": stderr, "FAKE_PULUMI_STDOUT": stdout}
    driver = AutomationDriver(
        options(project, pulumi_root=str(fake_pulumi), env=env), environ={"PULUMI_CONFIG_PASSPHRASE": "test"}
    )

    with pytest.raises(expected):
        driver.up(target)

    call = json.loads(log.read_text().splitlines()[0])
    assert call["argv"][:3] == ["--non-interactive", "stack", "select"]
    assert call["backend"] == f"file://{(project / '.driftless' / 'pulumi-state').resolve()}"
    assert (project / ".driftless" / "pulumi-state").is_dir()


def test_a_lock_in_a_remote_backend_names_the_step_for_a_person(project, target, fake_pulumi, tmp_path):
    env = {"FAKE_PULUMI_LOG": str(tmp_path / "calls.jsonl"), "FAKE_PULUMI_STDERR": LOCKED_STDERR}
    remote = AutomationDriver(
        options(project, pulumi_root=str(fake_pulumi), env=env, backend_url="s3://bucket/state"),
        environ={"PULUMI_CONFIG_PASSPHRASE": "test"},
    )
    local = AutomationDriver(
        options(project, pulumi_root=str(fake_pulumi), env=env), environ={"PULUMI_CONFIG_PASSPHRASE": "test"}
    )

    with pytest.raises(StackLockedError) as remote_lock:
        remote.up(target)
    with pytest.raises(StackLockedError) as local_lock:
        local.up(target)

    assert "pulumi cancel --stack dev" in remote_lock.value.person_step
    assert "s3://bucket/state" in remote_lock.value.person_step
    assert local_lock.value.person_step == ""  # start-up recovery judges local locks itself


# --- crash recovery of local-backend locks -------------------------------------------------------


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(project: Path, stack: str, name: str, pid: int, host: str) -> Path:
    directory = (
        project / ".driftless" / "pulumi-state" / ".pulumi" / "locks" / "organization" / "driftless" / stack
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(
        json.dumps({"pid": pid, "username": "root", "hostname": host, "timestamp": "2026-11-21T11:58:03Z"})
    )
    return path


def test_recovery_removes_a_stale_lock_of_a_dead_process_on_this_host(project, target, tmp_path):
    stale = write_lock(project, "dev", "a1", dead_pid(), hostname())
    other_stack = write_lock(project, "prod", "b2", dead_pid(), hostname())
    driver = AutomationDriver(options(project), environ={"PATH": str(tmp_path / "no-bin-here")})

    report = driver.recover(target)

    assert not stale.exists()
    assert other_stack.exists()  # only this stack's locks are touched
    assert any("removed stale lock a1.json" in action for action in report.actions)
    # without a CLI the state cannot be exported: said plainly, for a person
    assert any("pending operations could not be inspected: PulumiCliMissing" in m for m in report.manual)


def test_without_a_cli_and_nothing_to_clear_recovery_reports_the_missing_cli(project, target, tmp_path):
    driver = AutomationDriver(options(project), environ={"PATH": str(tmp_path / "no-bin-here")})

    with pytest.raises(CliMissingError):
        driver.recover(target)


@pytest.mark.parametrize(
    ("pid", "host"),
    [(os.getpid(), hostname()), (4242, "another-host")],
    ids=["live-process", "other-host"],
)
def test_recovery_leaves_a_possibly_live_lock_to_a_person(project, target, pid, host):
    lock = write_lock(project, "dev", "c3", pid, host)
    driver = AutomationDriver(options(project), environ={})

    report = driver.recover(target)

    assert lock.exists()
    assert report.actions == ()
    assert any("pulumi cancel --stack dev" in m for m in report.manual)


# --- engine events -------------------------------------------------------------------------------

URN = "urn:pulumi:dev::driftless::driftless:wazuh:WazuhCluster$kubernetes:apps/v1:StatefulSet::siem-indexer"
SAME_URN = "urn:pulumi:dev::driftless::kubernetes:core/v1:Service::siem-indexer"


def step(event: str, op: str, urn: str, type_: str, **extra) -> EngineEvent:
    return EngineEvent.from_json(
        {"sequence": 1, "timestamp": 0, event: {"metadata": {"op": op, "urn": urn, "type": type_, **extra}}}
    )


def test_engine_events_become_progress_lines_and_drifted_resources():
    lines: list[str] = []
    collector = _EventCollector(lines.append)

    collector(step("resourcePreEvent", "refresh", URN, "kubernetes:apps/v1:StatefulSet"))
    collector(
        step(
            "resOutputsEvent",
            "update",
            URN,
            "kubernetes:apps/v1:StatefulSet",
            detailedDiff={"spec.replicas": {"diffKind": "update", "inputDiff": False}},
        )
    )
    collector(step("resOutputsEvent", "same", SAME_URN, "kubernetes:core/v1:Service"))
    collector(
        EngineEvent.from_json(
            {
                "sequence": 2,
                "timestamp": 0,
                "diagnosticEvent": {
                    "message": "error: 503 Service Unavailable\n",
                    "severity": "error",
                    "urn": URN,
                },
            }
        )
    )
    collector(
        EngineEvent.from_json(
            {
                "sequence": 3,
                "timestamp": 0,
                "summaryEvent": {"durationSeconds": 4, "resourceChanges": {"update": 1, "same": 1}},
            }
        )
    )

    drifted = collector.drifted()
    assert [(c.op, c.type, c.name, c.fields) for c in drifted] == [
        ("update", "kubernetes:apps/v1:StatefulSet", "siem-indexer", ("spec.replicas",))
    ]
    assert "  error siem-indexer: error: 503 Service Unavailable" in lines
    assert lines[-1] == "  done in 4 s: 0 to create, 1 to update, 0 to delete, 1 unchanged"


def test_the_engines_warning_about_pending_operations_is_noticed():
    """Current Pulumi goes on with a warning instead of failing; the warning must not be lost."""
    collector = _EventCollector(None)
    collector(
        EngineEvent.from_json(
            {
                "sequence": 1,
                "timestamp": 0,
                "diagnosticEvent": {
                    "message": "Attempting to deploy or update resources with 2 pending operations "
                    "from previous deployment.\n  * urn:pulumi:dev::driftless::kubernetes:core/v1:Secret::s, "
                    "interrupted while creating\n",
                    "severity": "warning",
                },
            }
        )
    )
    assert "2 pending operations" in collector.pending_operations
    assert _EventCollector(None).pending_operations == ""


# --- one stack selection at a time --------------------------------------------------------------------


def test_stacks_are_selected_one_at_a_time_while_operations_run_in_parallel(
    project, working_pulumi, tmp_path
):
    log = tmp_path / "calls.jsonl"
    driver = AutomationDriver(
        options(project, pulumi_root=str(working_pulumi), env={"FAKE_PULUMI_LOG": str(log)}),
        environ={"PULUMI_CONFIG_PASSPHRASE": "test"},
    )
    targets = [StackTarget(name, project / "stacks" / "dev.yaml") for name in ("dev", "prod", "qa")]
    start = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def up(target: StackTarget) -> None:
        start.wait()
        try:
            driver.up(target)
        except DriverError as exc:  # the stand-in fails every `up`: only the selections matter here
            errors.append(exc)

    threads = [threading.Thread(target=up, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(errors) == 3
    selections = [c["event"] for c in calls(log) if c["event"].startswith("select-")]
    assert selections == ["select-start", "select-end"] * 3  # never two at once
    assert sorted(c["argv"][-1] for c in calls(log) if c["event"] == "select-start") == ["dev", "prod", "qa"]


# --- crash recovery never creates a stack -------------------------------------------------------------


def test_recovery_of_a_stack_that_does_not_exist_creates_nothing(project, target, fake_pulumi, tmp_path):
    log = tmp_path / "calls.jsonl"
    env = {"FAKE_PULUMI_LOG": str(log), "FAKE_PULUMI_STDERR": "error: no stack named 'dev' found"}
    driver = AutomationDriver(
        options(project, pulumi_root=str(fake_pulumi), env=env), environ={"PULUMI_CONFIG_PASSPHRASE": "test"}
    )

    report = driver.recover(target)

    assert report.clean
    commands = [json.loads(line)["argv"] for line in log.read_text().splitlines()]
    assert commands == [["--non-interactive", "stack", "select", "--stack", "dev"]]  # no `stack init`


def test_locked_stacks_are_read_from_the_local_backend_without_the_cli(project, tmp_path):
    write_lock(project, "dev", "a1", 4242, "another-host")
    write_lock(project, "prod", "b2", 4243, hostname())
    legacy = project / ".driftless" / "pulumi-state" / ".pulumi" / "locks" / "qa"
    legacy.mkdir(parents=True)
    (legacy / "c3.json").write_text("{}")

    driver = AutomationDriver(options(project), environ={"PATH": str(tmp_path / "no-bin-here")})

    assert driver.locked_stacks() == {"dev", "prod", "qa"}
    remote = AutomationDriver(options(project, backend_url="s3://bucket/state"), environ={})
    assert remote.locked_stacks() == set()
    assert AutomationDriver(options(tmp_path / "elsewhere"), environ={}).locked_stacks() == set()


# --- an interrupt is not a failure of the stack -------------------------------------------------------


def test_ctrl_c_during_an_operation_cancels_it_without_touching_the_daemon(
    project, target, working_pulumi, tmp_path
):
    """The engine worker gets the interrupt (as a terminal's Ctrl-C reaches its whole process
    group): the operation ends as cancelled, a retryable outcome, and the daemon keeps running."""
    log = tmp_path / "calls.jsonl"
    driver = AutomationDriver(
        options(project, pulumi_root=str(working_pulumi), env={"FAKE_PULUMI_LOG": str(log)}),
        environ={"PULUMI_CONFIG_PASSPHRASE": "test"},
    )

    with pytest.raises(OperationCancelledError):
        driver.outputs(target)  # the stand-in sends SIGINT to its parent while `stack output` runs
