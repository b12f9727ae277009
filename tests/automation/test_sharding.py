"""Two daemons share the stacks through Leases; when one is killed, the other takes its stacks.

Real ``run --dry-run --shard-by-lease`` processes against a loopback apiserver that speaks the
Lease API at the wire; each replica has its own state folder, as each pod would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.automation.daemon.fake_apiserver import FakeApiserver
from tests.automation.daemon.helpers import free_port, get

REPO = Path(__file__).resolve().parents[2]
STACKS = ("alpha", "beta", "gamma", "delta")
SETTINGS = "leases: {namespace: driftless, durationSeconds: 6, renewSeconds: 2}\n"


def eventually(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def applied_by(port: int) -> dict[str, str | None]:
    """``stack -> owner`` for the stacks this replica has applied, from its ``/stacks``."""
    code, body = get(f"http://127.0.0.1:{port}/stacks")
    if code != 200:
        return {}
    return {s["name"]: s.get("owner") for s in json.loads(body)["stacks"] if s["phase"] == "Ready"}


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Callable[[str], tuple[subprocess.Popen[bytes], int]]]:
    """``start(identity)``: a replica on loopback sharing ``stacks/``; all stopped at the end."""
    with FakeApiserver().running() as apiserver:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(apiserver.kubeconfig())
        stacks = tmp_path / "stacks"
        stacks.mkdir()
        for name in STACKS:
            (stacks / f"{name}.yaml").write_text("# no documents yet\n")
        (tmp_path / "driftless.yaml").write_text(SETTINGS)
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONUNBUFFERED": "1"}
        started: list[subprocess.Popen[bytes]] = []

        def start(identity: str) -> tuple[subprocess.Popen[bytes], int]:
            port = free_port()
            command = [sys.executable, "-m", "automation", "run", "--dry-run", "--shard-by-lease"]
            command += ["--identity", identity, "--http-port", str(port), "--stacks-dir", str(stacks)]
            command += [
                "--state-dir",
                str(tmp_path / f"state-{identity}"),
                "--config",
                str(tmp_path / "driftless.yaml"),
            ]
            with (tmp_path / f"{identity}.log").open("wb") as log:
                process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
            started.append(process)
            return process, port

        try:
            yield start
        finally:
            for process in started:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()


def test_two_replicas_split_the_stacks_and_a_survivor_takes_over_a_killed_ones(fleet, tmp_path):
    a, a_port = fleet("a")
    eventually(lambda: set(applied_by(a_port)) == set(STACKS))
    _b, b_port = fleet("b")

    def split() -> bool:
        of_a = {s for s, owner in applied_by(a_port).items() if owner == "a"}
        of_b = {s for s, owner in applied_by(b_port).items() if owner == "b"}
        return len(of_a) == 2 and len(of_b) == 2 and of_a.isdisjoint(of_b)

    eventually(split, timeout=90)

    a.send_signal(signal.SIGKILL)  # no release: its Leases must expire
    a.wait()
    eventually(lambda: applied_by(b_port) == dict.fromkeys(STACKS, "b"), timeout=90)
    log = (tmp_path / "b.log").read_text()
    assert "leases.acquired" in log
    assert "previous_owner=a" in log


def test_a_stopped_replica_gives_its_stacks_back_at_once(fleet, tmp_path):
    a, a_port = fleet("a")
    eventually(lambda: set(applied_by(a_port)) == set(STACKS))
    _b, b_port = fleet("b")
    eventually(lambda: len([s for s, o in applied_by(b_port).items() if o == "b"]) == 2, timeout=90)

    a.send_signal(signal.SIGTERM)
    assert a.wait(timeout=30) == 0
    assert "leases.released" in (tmp_path / "a.log").read_text()
    eventually(lambda: applied_by(b_port) == dict.fromkeys(STACKS, "b"), timeout=30)
    report: dict[str, Any] = json.loads(get(f"http://127.0.0.1:{b_port}/stacks")[1])
    assert {s["owner"] for s in report["stacks"]} == {"b"}
