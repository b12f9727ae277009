"""The engine tier: the real Pulumi CLI and providers against the sandbox's real apiserver.

Run with ``pytest -m engine`` after ``python -m automation engine build``. One sandbox serves the
whole session (its own state folder and ports, apart from a developer's sandbox); every test gets
a project folder of its own (stack files, daemon state) while the program is the repository's.
A missing binary fails the tier with the command that builds it: it never skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from automation.engine.build import EngineMissingError, locate
from automation.engine.sandbox import sandbox_environment
from tests.engine.kube import KubeApi
from tests.engine.stacks import program_copy

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO.parent / "shared" / "crds"
# Apart from the sandbox defaults, so a developer's own sandbox keeps running beside the tests.
PORTS = {
    "--etcd-port": "22379",
    "--etcd-peer-port": "22380",
    "--apiserver-port": "26443",
    "--controller-manager-port": "30257",
    "--openbao-port": "28200",
}


def cli(
    *args: str,
    env: Mapping[str, str],
    timeout: float = 900,
    check: bool = False,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "automation", *args],
        cwd=REPO,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"python -m automation {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-6000:]}"
        )
    return result


@dataclass
class Sandbox:
    state_dir: Path
    env: dict[str, str]
    kube: KubeApi


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    for name in ("pulumi", "pulumi-resource-kubernetes", "etcd", "kube-apiserver", "kube-controller-manager"):
        try:
            locate(name)
        except EngineMissingError as exc:
            pytest.fail(str(exc))
    if not CRDS.is_dir():
        pytest.fail(f"the operators' CRDs were not found at {CRDS}: the engine tier installs them")
    state = tmp_path_factory.mktemp("sandbox")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "KUBECONFIG", "VAULT_"))}
    ports = [part for flag, port in PORTS.items() for part in (flag, port)]
    cli("sandbox", "up", "--state-dir", str(state), "--crds", str(CRDS), *ports, env=base_env, check=True)
    try:
        env = {**base_env, **sandbox_environment(state, environ=base_env)}
        yield Sandbox(state, env, KubeApi(Path(env["KUBECONFIG"])))
    finally:
        cli("sandbox", "down", "--state-dir", str(state), env=base_env)


@dataclass
class Project:
    """A folder of stack files and daemon state driving the repository's program on the sandbox."""

    root: Path
    sandbox: Sandbox
    backend: Path

    @property
    def project_dir(self) -> Path:
        return program_copy(self.root / "project")

    @property
    def stacks(self) -> Path:
        return self.root / "stacks"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def env(self) -> dict[str, str]:
        return {**self.sandbox.env, "PULUMI_BACKEND_URL": f"file://{self.backend}"}

    def write_stack(self, name: str, text: str) -> Path:
        self.stacks.mkdir(parents=True, exist_ok=True)
        path = self.stacks / f"{name}.yaml"
        path.write_text(text)
        return path

    def write_settings(self, text: str) -> Path:
        path = self.root / "driftless.yaml"
        path.write_text(text)
        return path

    def where(self, state: Path | None = None) -> list[str]:
        """The command-line options that point a command at this project (or another state folder)."""
        options = ["--project-dir", str(self.project_dir), "--stacks-dir", str(self.stacks)]
        options += ["--state-dir", str(state or self.state)]
        settings = self.root / "driftless.yaml"
        return [*options, "--config", str(settings)] if settings.exists() else options

    def run(
        self, *args: str, check: bool = True, timeout: float = 900, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        return cli(*args, *self.where(), env=self.env, check=check, timeout=timeout, **kwargs)

    def start(self, *args: str, state: Path | None = None) -> subprocess.Popen[str]:
        """``python -m automation ARGS`` left running, its output piped."""
        return subprocess.Popen(
            [sys.executable, "-m", "automation", *args, *self.where(state)],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def render(self, stack: str) -> dict[str, Any]:
        result = cli(
            "render",
            "--file",
            str(self.stacks / f"{stack}.yaml"),
            "--format",
            "json",
            env={**self.env, "DRIFTLESS_CRD_SCHEMAS": str(REPO.parent / "shared" / "schemas" / "crds")},
        )
        return dict(json.loads(result.stdout))

    def status(self) -> dict[str, Any]:
        result = self.run("status", "--format", "json")
        return dict(json.loads(result.stdout))


@pytest.fixture
def project(sandbox: Sandbox, tmp_path: Path) -> Project:
    return Project(tmp_path, sandbox, tmp_path / "pulumi-state")
