"""A hung Vault and a hung git remote never hold up the daemon, and leave no process behind.

The remotes hang at the wire: loopback servers that accept every connection and never answer.
The daemon reaches them the way it reaches real ones, through ``VAULT_ADDR`` and a git
``insteadOf`` that sends the Project's https URL to ``http://127.0.0.1:<port>/…``, so git starts
its ``git-remote-http`` helper, the process that outlived its timeout before.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.automation.daemon.helpers import eventually, free_port, get
from tests.automation.sources.hung import HungServer, Process, descendants, survivors
from tests.automation.sources.stacks import connector, kapsa

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REPO_URL = "https://git.example.test/acme/api.git"
SECRETS = [f"vault://secret/team/app-{n}#password" for n in range(10)]
BOUND = 30.0  # seconds: a generous bound on what must happen at once, never a speed target
STOP_BOUND = 15.0  # seconds a SIGTERM may take, whatever the remotes do (default timeouts are longer)


def write(path: Path, documents: list[dict[str, Any]]) -> None:
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))


@dataclass
class Project:
    stacks: Path
    args: list[str]
    env: dict[str, str]
    vault: HungServer
    git: HungServer

    def run(self, *extra: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "automation", "run", "--dry-run", "--poll-remotes", *self.args, *extra],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )


def project_with_hung_remotes(tmp_path: Path, timeout_seconds: float) -> Iterator[Project]:
    vault, git = HungServer(), HungServer()
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    write(stacks / "apps.yaml", kapsa(url=REPO_URL))  # polls the hung git remote
    write(stacks / "secrets.yaml", [connector("sfdc", *SECRETS)])  # reads ten secrets of the hung Vault
    write(stacks / "plain.yaml", [connector("plain")])
    config = tmp_path / "driftless.yaml"
    config.write_text(
        yaml.safe_dump(
            {"sources": {"gitTimeoutSeconds": timeout_seconds, "vaultTimeoutSeconds": timeout_seconds}}
        )
    )
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "VAULT_ADDR": vault.url,
        "VAULT_TOKEN": "hvs.hung-test-token",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{git.url}/acme/api.git.insteadOf",
        "GIT_CONFIG_VALUE_0": REPO_URL,
    }
    env.pop("DRIFTLESS_REGISTRY_AUTH_FILE", None)
    args = ["--stacks-dir", str(stacks), "--state-dir", str(tmp_path / "state"), "--config", str(config)]
    try:
        yield Project(stacks, args, env, vault, git)
    finally:
        vault.close()
        git.close()


@pytest.fixture
def hung_for_ten_minutes(tmp_path: Path) -> Iterator[Project]:
    """Remotes that hang far longer than any bound below: whatever waits for them fails the test."""
    yield from project_with_hung_remotes(tmp_path, timeout_seconds=600)


@pytest.fixture
def hung_for_a_second(tmp_path: Path) -> Iterator[Project]:
    yield from project_with_hung_remotes(tmp_path, timeout_seconds=1)


def git_processes(root: int) -> list[Process]:
    return [process for process in descendants(root) if process.name.startswith("git")]


def stop(process: subprocess.Popen[bytes]) -> tuple[int | None, bytes]:
    """SIGTERM, then wait at most STOP_BOUND seconds; (exit code, or None if still running; stderr)."""
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=STOP_BOUND)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        return None, stderr
    return process.returncode, stderr


def test_a_stack_edit_is_applied_while_vault_and_git_hang_and_sigterm_stops_at_once(
    hung_for_ten_minutes: Project,
) -> None:
    project = hung_for_ten_minutes
    port = free_port()
    daemon = project.run("--http-port", str(port), "--log-format", "json")
    base = f"http://127.0.0.1:{port}"

    def stacks() -> dict[str, dict[str, Any]]:
        code, body = get(f"{base}/stacks")
        return {s["name"]: s for s in json.loads(body)["stacks"]} if code == 200 else {}

    try:
        eventually(lambda: get(f"{base}/readyz")[0] == 200, timeout=60)
        # Both remotes now hold a request of the daemon's that will not be answered for 10 minutes.
        assert project.vault.connected.wait(BOUND)
        assert project.git.connected.wait(BOUND)
        seen = git_processes(daemon.pid)
        assert "git-remote-http" in {p.name for p in seen}
        eventually(lambda: stacks().get("plain", {}).get("phase") == "Ready", BOUND)
        before = stacks()["plain"]

        write(project.stacks / "plain.yaml", [connector("plain", "vault://secret/team/new#password")])

        eventually(
            lambda: (
                stacks()["plain"]["fingerprint"] != before["fingerprint"]
                and stacks()["plain"]["phase"] == "Ready"
            ),
            BOUND,
        )
        after = stacks()["plain"]
        assert after["lastOperation"]["kind"] == "up"
        assert after["lastOperation"]["startedAt"] != before["lastOperation"]["startedAt"]
        # /stacks says which polls are under way, and since when: none has an answer yet
        polling = {
            (s["source"], s["target"]): s
            for s in json.loads(get(f"{base}/stacks")[1])["sources"]
            if s["pollingSince"] is not None and s["lastSuccessAt"] is None
        }
        assert ("git", REPO_URL) in polling
        assert ("vault", "secret/team/app-0") in polling
        assert get(f"{base}/healthz")[0] == 200

        code, stderr = stop(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()

    assert code == 0, stderr.decode()[-2000:]
    events = [json.loads(line)["event"] for line in stderr.decode().splitlines() if line.startswith("{")]
    assert events[-2:] == ["daemon.stopping", "daemon.stopped"]
    assert survivors(seen) == []  # no git helper outlives the daemon


def test_run_once_with_hung_remotes_reconciles_after_the_timeout_and_leaves_nothing_behind(
    hung_for_a_second: Project,
) -> None:
    project = hung_for_a_second
    once = project.run("--once", "--http-port", "0")
    try:
        assert project.git.connected.wait(BOUND)
        seen = git_processes(once.pid)
        stdout, stderr = once.communicate(timeout=60)
    finally:
        if once.poll() is None:
            once.kill()
            once.communicate()

    assert once.returncode == 0, stderr.decode()[-2000:]
    lines = dict(line.split(": ", 1) for line in stdout.decode().splitlines())
    assert sorted(lines) == ["apps", "plain", "secrets"]
    assert all(outcome.startswith("reconciled") for outcome in lines.values()), lines
    assert "git-remote-http" in {p.name for p in seen}
    assert survivors(seen) == []
    assert project.vault.connections == 1  # one timeout for the ten secrets, not ten


def test_sigterm_stops_run_once_stuck_on_hung_remotes_at_once(hung_for_ten_minutes: Project) -> None:
    project = hung_for_ten_minutes
    once = project.run("--once", "--http-port", "0")
    try:
        assert project.vault.connected.wait(BOUND)
        assert project.git.connected.wait(BOUND)
        seen = git_processes(once.pid)
        assert "git-remote-http" in {p.name for p in seen}

        code, stderr = stop(once)
    finally:
        if once.poll() is None:
            once.kill()
            once.communicate()

    assert code == 128 + signal.SIGTERM, stderr.decode()[-2000:]
    assert survivors(seen) == []
