"""Daemon replicas as real processes: ``run --dry-run --shard-by-lease`` sharing one stacks folder.

Each replica has its own state folder and status endpoint, as each pod would; what they share is
the stacks and the apiserver the kubeconfig names (a loopback fake, or the engine sandbox's).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.daemon.store import STATE_DB, read_statuses
from tests.automation.daemon.helpers import free_port, get

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Replica:
    identity: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    state: Path

    def stacks(self) -> list[dict[str, Any]]:
        """Its ``/stacks`` (empty while it does not answer)."""
        code, body = get(f"http://127.0.0.1:{self.port}/stacks")
        return list(json.loads(body)["stacks"]) if code == 200 else []

    def recorded(self) -> list[dict[str, Any]]:
        """Every stack's status as its state folder holds it: readable after the process died."""
        return [status.to_json() for status in read_statuses(self.state / STATE_DB)]

    def applied(self) -> dict[str, str | None]:
        """``stack -> owner`` of the stacks it has applied."""
        return {s["name"]: s.get("owner") for s in self.stacks() if s["phase"] == "Ready"}

    def owns(self) -> set[str]:
        """The applied stacks it says are its own now."""
        return {name for name, owner in self.applied().items() if owner == self.identity}


@dataclass
class Fleet:
    folder: Path
    kubeconfig: Path
    namespace: str = "driftless"
    duration_seconds: int = 6
    renew_seconds: int = 2
    replicas: list[Replica] = field(default_factory=list)

    def write_stacks(self, names: Iterable[str]) -> None:
        stacks = self.folder / "stacks"
        stacks.mkdir(parents=True, exist_ok=True)
        for name in names:
            (stacks / f"{name}.yaml").write_text("# no documents yet\n")

    def start(self, identity: str) -> Replica:
        config = self.folder / "driftless.yaml"
        config.write_text(
            f"leases: {{namespace: {self.namespace}, durationSeconds: {self.duration_seconds}, "
            f"renewSeconds: {self.renew_seconds}}}\n"
        )
        port = free_port()
        command = [sys.executable, "-m", "automation", "run", "--dry-run", "--shard-by-lease"]
        command += ["--identity", identity, "--http-port", str(port), "--config", str(config)]
        command += [
            "--stacks-dir",
            str(self.folder / "stacks"),
            "--state-dir",
            str(self.folder / f"state-{identity}"),
        ]
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "PYTHONUNBUFFERED": "1"}
        log = self.folder / f"{identity}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT, env=env)
        replica = Replica(identity, process, port, log, self.folder / f"state-{identity}")
        self.replicas.append(replica)
        return replica

    def stop(self) -> None:
        for replica in self.replicas:
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
                try:
                    replica.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    replica.process.kill()
                    replica.process.wait()


def overlapping_operations(replicas: Iterable[Replica]) -> list[str]:
    """Operations on one stack by two replicas whose times overlap, from each one's recorded history
    (an operation a kill cut short never finished: it is not in the history, only ``inFlight``)."""
    runs: dict[str, list[tuple[str, str, str]]] = {}
    for replica in replicas:
        for stack in replica.recorded():
            for operation in stack.get("history", []):
                finished = operation.get("finishedAt") or "9999"
                runs.setdefault(stack["name"], []).append(
                    (operation["startedAt"], finished, replica.identity)
                )
    found = []
    for stack, spans in runs.items():
        spans.sort()
        for (start, end, who), (next_start, _, next_who) in itertools.pairwise(spans):
            if who != next_who and next_start < end:
                found.append(f"{stack}: {who} {start}..{end} and {next_who} from {next_start}")
    return found
