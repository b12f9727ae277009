"""The sharded daemon: stacks shared by replicas through Leases on a real kube-apiserver.

``python bench/fleet.py [--small] [--stacks N] [--replicas R] [--window S] [--duration-seconds D]
[--renew-seconds R] [--cycles K]``

Needs ``python -m automation engine build`` first (etcd, kube-apiserver, kube-controller-manager).
It starts a sandbox of its own in a scratch folder, on free ports (never the defaults, which a
developer's sandbox or the engine tier may be using at the same time), and tears it down at the
end, also on failure. In that sandbox's apiserver, ``R`` replicas, each a real ``python -m
automation run --dry-run --shard-by-lease`` process (the offline driver) with its own identity,
state folder and status port, share ``N`` stack files in one namespace.

The stack files hold no documents (``# no documents yet``), so each no-op cycle and each operation
costs next to nothing to render: the figures are the sharding's own costs, not the renderer's
(``bench/render.py`` and ``bench/daemon.py`` measure those). The program is a copy in the scratch
folder, so an edit to the working tree meanwhile does not change every stack's fingerprint.

Measured, once every stack has settled (Ready, or one of the phases a stack stays in until an
input changes) on exactly one replica and the Lease holders have been quiet for a renewal and a
half (steady state). A stack that settles other than Ready is reported by name with its reason, as
are the Leases each replica took, gave back and lost and the crash recoveries it ran on the way:

- **the no-op cycle per replica**: the daemon's ``cycle.finished`` debug events (``-v``) of cycles
  that started nothing, from steady state until at least ``--cycles`` per replica and the window
  are over. A quiet daemon cycles every 30 s (its resync) and decides every stack file: the ones
  it holds, and the others as ``elsewhere``. Beside it, each replica's CPU seconds per minute
  (``/proc``: Lease renewals on their own thread, the 1 s ticks and the cycles) and its RSS, and
  the apiserver's and etcd's CPU;
- **the Lease write rate**: a watch on the namespace's Leases streams one event per write
  (create, update, delete); the events arriving during ``--window`` seconds are counted, beside the
  expected ``(stacks + replicas) × 60 / renewSeconds`` (each replica renews its member Lease and
  every stack Lease it holds once per renewal). The same events give each replica's renewal
  period (between its member Lease writes) and how long one round of writes takes;
- **failover**: ``kill -9`` of the first replica; the seconds from the kill until every stack
  whose Lease it held is held by a survivor (read from the watch, confirmed by a list of the
  Leases), and until the survivors' ``/stacks`` report each of those stacks Ready and their own
  (or settled: those not Ready are named).
  The bound the design promises is ``durationSeconds + renewSeconds``.

Progress goes to stderr; the figures, then one JSON line, to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
if str(PROJECT_DIR) not in sys.path:  # run as `python bench/fleet.py`
    sys.path.insert(0, str(PROJECT_DIR))

import requests  # noqa: E402

from automation.engine.sandbox import APISERVER, ETCD, Sandbox, SandboxConfig, SandboxError  # noqa: E402
from bench import common  # noqa: E402
from bench.daemon import event_time, events_of, free_port  # noqa: E402

NAMESPACE = "driftless-bench"
STACK_PREFIX = "driftless-stack-"
MEMBER_PREFIX = "driftless-member-"
EMPTY_STACK = "# no documents yet\n"
POLL_SECONDS = 0.5
WATCH_SLICE_SECONDS = 10  # each watch request ends after this; the next resumes where it stopped
STOP_TIMEOUT_SECONDS = 60.0
# Phases in which a stack stays until an input changes: with empty stacks only Ready is expected,
# a Stalled one is reported (so the benchmark ends, and says so, rather than waiting forever).
SETTLED = frozenset({"Ready", "Stalled", "NotReady", "Drifted"})


@dataclass(frozen=True)
class Plan:
    stacks: int
    replicas: int
    window: float
    duration_seconds: int
    renew_seconds: int
    cycles: int

    @property
    def names(self) -> list[str]:
        return [f"stack-{n:04d}" for n in range(self.stacks)]

    @property
    def expected_writes_per_minute(self) -> float:
        return (self.stacks + self.replicas) * 60 / self.renew_seconds

    @property
    def converge_timeout(self) -> float:
        return 300 + 2.0 * self.stacks

    def say(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


# --- the sandbox ----------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Distinct ports nothing listens on now (the kernel's choice for port 0)."""
    found: list[int] = []
    while len(found) < count:
        port = free_port()
        if port not in found:
            found.append(port)
    return found


@contextlib.contextmanager
def sandbox_of_its_own(folder: Path, say: Any) -> Iterator[tuple[Sandbox, SandboxConfig]]:
    """etcd, kube-apiserver and kube-controller-manager on free ports, stopped and purged at the end."""
    sandbox = Sandbox(folder)
    etcd, etcd_peer, apiserver, controller_manager = free_ports(4)
    ports = {
        "etcd": etcd,
        "etcd_peer": etcd_peer,
        "apiserver": apiserver,
        "controller_manager": controller_manager,
    }
    try:
        sandbox.up(ports=ports, openbao=False, say=say)
        yield sandbox, sandbox.require_config()
    finally:
        if not sandbox.down(purge=True, say=say):
            say(f"the sandbox in {folder} did not stop: stop it with `python -m automation sandbox down`")


class Kube:
    """The sandbox's apiserver, as its admin."""

    def __init__(self, sandbox: Sandbox, config: SandboxConfig, namespace: str):
        self._sandbox, self._config = sandbox, config
        self.session = self.new_session()
        self.leases_url = (
            f"{sandbox.address(APISERVER, config)}/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        )
        self.namespaces_url = f"{sandbox.address(APISERVER, config)}/api/v1/namespaces"
        self.namespace = namespace

    def new_session(self) -> requests.Session:
        """A session of its own for each thread (requests does not promise one can be shared)."""
        session: requests.Session = self._sandbox.kube(self._config)
        return session

    def create_namespace(self) -> None:
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
        response = self.session.post(self.namespaces_url, json=body, timeout=30)
        if response.status_code != 409:
            response.raise_for_status()

    def leases(self) -> tuple[dict[str, str | None], str]:
        """``stack -> holder`` of every stack Lease, and the list's resourceVersion."""
        response = self.session.get(self.leases_url, timeout=30)
        response.raise_for_status()
        data = response.json()
        holders = {
            item["metadata"]["name"].removeprefix(STACK_PREFIX): (item.get("spec") or {}).get(
                "holderIdentity"
            )
            for item in data.get("items") or []
            if item["metadata"]["name"].startswith(STACK_PREFIX)
        }
        return holders, str(data["metadata"]["resourceVersion"])


@dataclass(frozen=True)
class LeaseEvent:
    arrived: float  # time.monotonic() when it arrived
    type: str  # ADDED, MODIFIED, DELETED
    name: str
    holder: str | None


class LeaseWatch:
    """Every write to the namespace's Leases, as the apiserver streams them from one resourceVersion.

    A watch sends exactly one event per create, update and delete. Each request ends after
    ``WATCH_SLICE_SECONDS`` (so a stop is seen soon) and the next resumes from the last
    resourceVersion seen: nothing is missed or counted twice.
    """

    def __init__(self, kube: Kube, resource_version: str):
        self.kube = kube
        self.session = kube.new_session()
        self.version = resource_version
        self.events: list[LeaseEvent] = []
        self.error: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-lease-watch", daemon=True)

    def __enter__(self) -> LeaseWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(WATCH_SLICE_SECONDS + 30)

    def snapshot(self) -> list[LeaseEvent]:
        with self._lock:
            return list(self.events)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._one_request()
            except (requests.RequestException, ValueError) as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                return

    def _one_request(self) -> None:
        params = {"watch": "1", "resourceVersion": self.version, "timeoutSeconds": str(WATCH_SLICE_SECONDS)}
        with self.session.get(
            self.kube.leases_url, params=params, stream=True, timeout=(10, WATCH_SLICE_SECONDS + 30)
        ) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line:
                    continue
                arrived = time.monotonic()
                event = json.loads(line)
                if event.get("type") == "ERROR":  # e.g. 410 Gone: the count would no longer be exact
                    raise ValueError(f"watch error: {event.get('object')}")
                lease = event["object"]
                self.version = str(lease["metadata"]["resourceVersion"])
                with self._lock:
                    self.events.append(
                        LeaseEvent(
                            arrived,
                            str(event["type"]),
                            str(lease["metadata"]["name"]),
                            (lease.get("spec") or {}).get("holderIdentity"),
                        )
                    )
                if self._stop.is_set():
                    return


# --- the replicas ---------------------------------------------------------------------------------


@dataclass
class Replica:
    identity: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    _events: list[dict[str, Any]] = field(default_factory=list)
    _read: int = 0  # bytes of the log parsed so far

    def stacks(self) -> list[dict[str, Any]]:
        """Its ``/stacks`` (empty while it does not answer)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stacks", timeout=10) as response:
                return list(json.loads(response.read())["stacks"])
        except (OSError, ValueError):
            return []

    def own(self) -> dict[str, str]:
        """``stack -> phase`` of the stacks it reports as its own."""
        return {s["name"]: s["phase"] for s in self.stacks() if s.get("owner") == self.identity}

    def events(self) -> list[dict[str, Any]]:
        """Its JSON log events so far (read on from where the last call stopped: the log grows long)."""
        try:
            with self.log.open("rb") as handle:
                handle.seek(self._read)
                text = handle.read()
        except OSError:
            return list(self._events)
        complete = text.rfind(b"\n") + 1
        self._read += complete
        self._events.extend(events_of(text[:complete].decode("utf-8", errors="replace")))
        return list(self._events)

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.process.pid)

    def alive(self) -> bool:
        return self.process.poll() is None


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (Linux ``/proc/<pid>/stat``)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # after "pid (comm)": state is field 3
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Fleet:
    folder: Path
    kubeconfig: Path
    plan: Plan
    replicas: list[Replica] = field(default_factory=list)
    killed: set[str] = field(default_factory=set)

    @property
    def project(self) -> Path:
        return self.folder / "project"

    @property
    def stacks_dir(self) -> Path:
        return self.folder / "stacks"

    def prepare(self) -> None:
        """A copy of the program, the empty stack files, and the settings with the Lease timings."""
        self.project.mkdir(parents=True)
        for name in ("__main__.py", "Pulumi.yaml", "requirements.txt"):
            shutil.copy2(PROJECT_DIR / name, self.project / name)
        shutil.copytree(
            PROJECT_DIR / "components",
            self.project / "components",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        self.stacks_dir.mkdir()
        for name in self.plan.names:
            (self.stacks_dir / f"{name}.yaml").write_text(EMPTY_STACK)
        (self.folder / "driftless.yaml").write_text(
            f"leases: {{namespace: {NAMESPACE}, durationSeconds: {self.plan.duration_seconds}, "
            f"renewSeconds: {self.plan.renew_seconds}}}\n"
        )

    def start(self, identity: str) -> Replica:
        port = free_port()
        command = [
            sys.executable, "-m", "automation", "run", "--dry-run", "--shard-by-lease",
            "--identity", identity, "--http-port", str(port),
            "--project-dir", str(self.project), "--stacks-dir", str(self.stacks_dir),
            "--state-dir", str(self.folder / f"state-{identity}"),
            "--config", str(self.folder / "driftless.yaml"),
            "--log-format", "json", "-v",
        ]  # fmt: skip
        env = common.child_environment(
            KUBECONFIG=str(self.kubeconfig), PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1"
        )
        log = self.folder / f"{identity}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                command, cwd=PROJECT_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        replica = Replica(identity, process, port, log)
        self.replicas.append(replica)
        return replica

    def stop(self) -> None:
        for replica in self.replicas:
            if replica.alive():
                replica.process.send_signal(signal.SIGTERM)
        for replica in self.replicas:
            try:
                replica.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait(10)

    def tail(self, replica: Replica, lines: int = 15) -> str:
        try:
            return "\n".join(replica.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def shares(replicas: list[Replica]) -> dict[str, dict[str, str]]:
    """Each replica's own stacks and their phases."""
    return {replica.identity: replica.own() for replica in replicas}


def fair(found: dict[str, dict[str, str]], stacks: list[str]) -> bool:
    """Every stack settled on exactly one replica that says it owns it, the shares within one."""
    owned = sorted(stack for share in found.values() for stack, phase in share.items() if phase in SETTLED)
    sizes = [len(share) for share in found.values()]
    return owned == stacks and max(sizes) - min(sizes) <= 1


def wait_until(condition: Any, timeout: float, what: str, fleet: Fleet) -> float:
    """Poll ``condition`` until it holds; the monotonic time it first did."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return time.monotonic()
        dead = [r for r in fleet.replicas if r.identity not in fleet.killed and not r.alive()]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f"--- {r.identity}:\n{fleet.tail(r)}" for r in fleet.replicas)
            reason = (
                f"{', '.join(r.identity for r in dead)} exited" if dead else f"not within {timeout:.0f} s"
            )
            raise RuntimeError(f"{what}: {reason}\n{logs}")
        time.sleep(POLL_SECONDS)


# --- the phases -----------------------------------------------------------------------------------


def quiet_holders(watch: LeaseWatch, since: float, quiet: float) -> bool:
    """No Lease changed hands (created, deleted, new holder) for ``quiet`` seconds."""
    holders: dict[str, str | None] = {}
    last_change = since
    for event in watch.snapshot():
        changed = event.type != "MODIFIED" or holders.get(event.name, event.holder) != event.holder
        holders[event.name] = None if event.type == "DELETED" else event.holder
        if changed:
            last_change = max(last_change, event.arrived)
    return time.monotonic() - last_change >= quiet


def noop_cycles(replica: Replica, since_wall: float, until_wall: float) -> list[float]:
    return [
        float(event["seconds"])
        for event in replica.events()
        if event.get("event") == "cycle.finished"
        and event.get("started") == 0
        and since_wall <= event_time(event) <= until_wall
    ]


def rounds(events: list[LeaseEvent], identity: str) -> tuple[list[float], list[float]]:
    """A replica's renewal periods (between its member Lease writes) and each round's length (from
    its member Lease write to the last stack Lease write before the next)."""
    member = MEMBER_PREFIX + identity
    periods: list[float] = []
    lengths: list[float] = []
    round_start: float | None = None
    last_write: float | None = None
    for event in events:
        if event.name == member and event.type == "MODIFIED":
            if round_start is not None:
                periods.append(event.arrived - round_start)
                if last_write is not None:
                    lengths.append(last_write - round_start)
            round_start, last_write = event.arrived, None
        elif round_start is not None and event.holder == identity and event.name.startswith(STACK_PREFIX):
            last_write = event.arrived
    return periods, lengths


def steady_phase(plan: Plan, fleet: Fleet, kube: Kube, sandbox: Sandbox) -> dict[str, Any]:
    """Count the Lease writes over the window, time the no-op cycles, read CPU and memory."""
    _, version = kube.leases()
    servers = {name: _sandbox_pid(sandbox, name) for name in (APISERVER, ETCD)}
    with LeaseWatch(kube, version) as watch:
        began = time.monotonic()
        wait_until(
            lambda: quiet_holders(watch, began, 1.5 * plan.renew_seconds),
            plan.converge_timeout,
            "the Lease holders settling",
            fleet,
        )
        steady_wall = time.time()
        window_start = time.monotonic()
        cpu_before = {r.identity: r.cpu_seconds() for r in fleet.replicas}
        cpu_before |= {name: process_cpu_seconds(pid) if pid else None for name, pid in servers.items()}
        plan.say(f"steady; counting the Lease writes for {plan.window:.0f} s")
        time.sleep(plan.window)
        window_end = time.monotonic()
        cpu_after = {r.identity: r.cpu_seconds() for r in fleet.replicas}
        cpu_after |= {name: process_cpu_seconds(pid) if pid else None for name, pid in servers.items()}
        rss = {r.identity: common.proc_memory(r.process.pid).get("VmRSS") for r in fleet.replicas}
        window_events = [e for e in watch.snapshot() if window_start <= e.arrived < window_end]
        plan.say(f"waiting for {plan.cycles} no-op cycle(s) per replica (every 30 s when quiet)")
        wait_until(
            lambda: all(len(noop_cycles(r, steady_wall, time.time())) >= plan.cycles for r in fleet.replicas),
            plan.cycles * 30 + 60 + plan.stacks / 10,
            "the no-op cycles",
            fleet,
        )
        until_wall = time.time()
        all_events = watch.snapshot()
        if watch.error:
            raise RuntimeError(f"the Lease watch failed, so its count is not exact: {watch.error}")
    seconds = window_end - window_start
    cycles = {r.identity: noop_cycles(r, steady_wall, until_wall) for r in fleet.replicas}
    per_replica: dict[str, Any] = {}
    for replica in fleet.replicas:
        periods, lengths = rounds(all_events, replica.identity)
        memory = rss[replica.identity]
        per_replica[replica.identity] = {
            "noop_cycles": len(cycles[replica.identity]),
            "noop_cycle_seconds": round(common.median(cycles[replica.identity]), 3),
            "noop_cycle_max_seconds": round(max(cycles[replica.identity]), 3),
            "renew_period_seconds": round(common.median(periods), 2) if periods else None,
            "round_seconds": round(common.median(lengths), 2) if lengths else None,
            "cpu_seconds_per_minute": per_minute(
                cpu_before[replica.identity], cpu_after[replica.identity], seconds
            ),
            "rss_mib": common.mib(memory) if memory else None,
        }
    servers_cpu = {name: per_minute(cpu_before[name], cpu_after[name], seconds) for name in servers}
    writes = [e for e in window_events if e.type in ("ADDED", "MODIFIED", "DELETED")]
    member_writes = sum(1 for e in writes if e.name.startswith(MEMBER_PREFIX))
    every_cycle = [s for found in cycles.values() for s in found]
    return {
        "window_seconds": round(seconds, 2),
        "lease_writes": len(writes),
        "stack_lease_writes": len(writes) - member_writes,
        "member_lease_writes": member_writes,
        "holder_changes": sum(1 for e in writes if e.type != "MODIFIED"),
        "writes_per_minute": round(len(writes) * 60 / seconds, 1),
        "expected_writes_per_minute": round(plan.expected_writes_per_minute, 1),
        "noop_cycle_seconds": round(common.median(every_cycle), 3),
        "noop_cycle_max_seconds": round(max(every_cycle), 3),
        "replicas": per_replica,
        "servers_cpu_seconds_per_minute": servers_cpu,
    }


def per_minute(before: float | None, after: float | None, seconds: float) -> float | None:
    """CPU seconds used per minute between two readings."""
    return round((after - before) * 60 / seconds, 2) if before is not None and after is not None else None


def _sandbox_pid(sandbox: Sandbox, name: str) -> int | None:
    try:
        return int(json.loads(sandbox.pid_file(name).read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def failover_phase(plan: Plan, fleet: Fleet, kube: Kube) -> dict[str, Any]:
    """``kill -9`` the first replica; time its stacks' Leases and their Ready on the survivors."""
    killed, survivors = fleet.replicas[0], fleet.replicas[1:]
    alive = {r.identity for r in survivors}
    _, version = kube.leases()
    with LeaseWatch(kube, version) as watch:
        holders, _ = kube.leases()
        held = sorted(stack for stack, holder in holders.items() if holder == killed.identity)
        plan.say(f"kill -9 {killed.identity}, which holds {len(held)} stacks")
        fleet.killed.add(killed.identity)
        killed_at = time.monotonic()
        killed.process.send_signal(signal.SIGKILL)
        killed.process.wait()
        waiting = set(held)
        taken_at: dict[str, float] = {}

        def all_taken() -> bool:
            for event in watch.snapshot():
                stack = event.name.removeprefix(STACK_PREFIX)
                if stack in waiting and event.holder in alive and event.arrived >= killed_at:
                    taken_at.setdefault(stack, event.arrived)
            return len(taken_at) == len(waiting)

        bound = plan.duration_seconds + plan.renew_seconds
        wait_until(all_taken, bound + 120 + plan.stacks / 10, "the survivors taking the Leases", fleet)
        leases_seconds = max(taken_at.values()) - killed_at if taken_at else 0.0
        first_seconds = min(taken_at.values()) - killed_at if taken_at else 0.0
        holders_after, _ = kube.leases()  # confirmed by a plain read of the Leases
        if watch.error:
            raise RuntimeError(f"the Lease watch failed: {watch.error}")
    still_killed = sorted(s for s, holder in holders_after.items() if holder == killed.identity)

    def moved_settled() -> bool:
        return set(held) <= {
            s for share in shares(survivors).values() for s, p in share.items() if p in SETTLED
        }

    settled_at = wait_until(moved_settled, plan.converge_timeout, "the survivors settling the stacks", fleet)
    after = shares(survivors)
    phases = {stack: phase for share in after.values() for stack, phase in share.items()}
    not_ready = sorted(stack for stack in held if phases.get(stack) != "Ready")
    return {
        "killed": killed.identity,
        "stacks_moved": len(held),
        "first_lease_seconds": round(first_seconds, 2),
        "leases_seconds": round(leases_seconds, 2),
        # with every moved stack Ready, the time they all were; else when they had all settled
        "ready_seconds": round(settled_at - killed_at, 2),
        "moved_not_ready": not_ready,
        "bound_seconds": bound,
        "held_by_killed_after": len(still_killed),
        "fair_after": fair(after, plan.names),
        "shares_after": {identity: len(share) for identity, share in sorted(after.items())},
    }


def startup_churn(fleet: Fleet) -> dict[str, Any]:
    """What the replicas did to get there: Leases taken, given back, lost; crash recoveries run on
    stacks taken; stacks left not Ready (``Stalled``, with the reason)."""
    churn: dict[str, Any] = {}
    for replica in fleet.replicas:
        events = replica.events()
        counts = {
            name: sum(1 for e in events if e.get("event") == f"leases.{name}")
            for name in ("acquired", "released", "lost")
        }
        counts["recoveries"] = sum(1 for e in events if e.get("event") == "recovery")
        counts["operations"] = sum(1 for e in events if e.get("event") == "operation.started")
        churn[replica.identity] = counts
    not_ready = {}
    for replica in fleet.replicas:
        for status in replica.stacks():
            if status.get("owner") == replica.identity and status["phase"] != "Ready":
                reason = next(
                    (c.get("message", "") for c in status.get("conditions", []) if c.get("type") == "Ready"),
                    "",
                )
                not_ready[status["name"]] = f"{status['phase']} on {replica.identity}: {reason}"
    return {"replicas": churn, "not_ready": not_ready}


# --- the benchmark --------------------------------------------------------------------------------


def run(plan: Plan, scratch: Path) -> dict[str, Any]:
    result: dict[str, Any] = {
        "benchmark": "fleet",
        "stacks": plan.stacks,
        "replicas": plan.replicas,
        "lease_duration_seconds": plan.duration_seconds,
        "lease_renew_seconds": plan.renew_seconds,
        "machine": common.machine(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    with sandbox_of_its_own(scratch / "sandbox", plan.say) as (sandbox, config):
        kube = Kube(sandbox, config, NAMESPACE)
        kube.create_namespace()
        fleet = Fleet(scratch / "fleet", sandbox.kubeconfig, plan)
        fleet.prepare()
        try:
            started = time.monotonic()
            for number in range(plan.replicas):
                fleet.start(f"r{number + 1}")
            plan.say(f"{plan.replicas} replicas started; waiting until each of {plan.stacks} stacks is Ready")
            converged = wait_until(
                lambda: fair(shares(fleet.replicas), plan.names),
                plan.converge_timeout,
                "every stack settled on one replica",
                fleet,
            )
            result["converge_seconds"] = round(converged - started, 1)
            result["startup"] = startup_churn(fleet)
            result["steady"] = steady_phase(plan, fleet, kube, sandbox)
            result["failover"] = failover_phase(plan, fleet, kube)
            result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        finally:
            fleet.stop()
    return result


def report(result: dict[str, Any]) -> None:
    steady, failover = result["steady"], result["failover"]
    print(
        f"fleet: {result['stacks']} stacks on {result['replicas']} replicas "
        "(run --dry-run --shard-by-lease), "
        f"Leases {result['lease_duration_seconds']} s, renewed every {result['lease_renew_seconds']} s; "
        f"load average before {result['load_average_before']}"
    )
    startup = result["startup"]
    print(
        f"  every stack settled on exactly one replica {result['converge_seconds']:.0f} s after the start; "
        f"on the way (per replica: Leases acquired/released/lost, recoveries, operations): "
        + ", ".join(
            f"{identity} {c['acquired']}/{c['released']}/{c['lost']}, {c['recoveries']}, {c['operations']}"
            for identity, c in startup["replicas"].items()
        )
    )
    for stack, why in sorted(startup["not_ready"].items()):
        print(f"    NOT READY: {stack}: {why}")
    print(
        f"  no-op cycle per replica: {steady['noop_cycle_seconds']:.3f} s median, "
        f"{steady['noop_cycle_max_seconds']:.3f} s max (each decides every stack file, its own and the rest)"
    )
    for identity, replica in steady["replicas"].items():
        print(
            f"    {identity}: {replica['noop_cycles']} no-op cycles, "
            f"median {replica['noop_cycle_seconds']:.3f} s; "
            f"renews every {replica['renew_period_seconds']} s, a round of writes takes "
            f"{replica['round_seconds']} s; {replica['cpu_seconds_per_minute']} CPU s/min, "
            f"RSS {replica['rss_mib']} MiB"
        )
    servers = ", ".join(
        f"{name} {cpu} CPU s/min" for name, cpu in steady["servers_cpu_seconds_per_minute"].items()
    )
    print(
        f"  Lease writes at steady state: {steady['writes_per_minute']:.0f} per minute "
        f"({steady['lease_writes']} in {steady['window_seconds']:.0f} s: "
        f"{steady['stack_lease_writes']} stack, "
        f"{steady['member_lease_writes']} member, {steady['holder_changes']} changes of holder); "
        f"expected (stacks + replicas) × 60 / renewSeconds = {steady['expected_writes_per_minute']:.0f}; "
        f"{servers}"
    )
    stuck = (
        f" (settled; NOT Ready: {', '.join(failover['moved_not_ready'])})"
        if failover["moved_not_ready"]
        else ""
    )
    print(
        f"  failover after kill -9 of {failover['killed']} ({failover['stacks_moved']} stacks): "
        f"first Lease taken after {failover['first_lease_seconds']:.1f} s, all after "
        f"{failover['leases_seconds']:.1f} s (bound: duration + renew = {failover['bound_seconds']} s); "
        f"all Ready on the survivors after {failover['ready_seconds']:.1f} s{stuck}; shares after "
        f"{failover['shares_after']}, {failover['held_by_killed_after']} still held by the killed replica"
    )
    print(f"  load average after {result['load_average_after']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--small", action="store_true", help="30 stacks, a 15 s window, 6 s Leases renewed every 2 s"
    )
    parser.add_argument("--stacks", type=int, help="stack files (default 600; --small 30)")
    parser.add_argument("--replicas", type=int, help="daemon processes (default 3)")
    parser.add_argument(
        "--window", type=float, help="seconds the Lease writes are counted (default 60; --small 15)"
    )
    parser.add_argument("--duration-seconds", type=int, help="leases.durationSeconds (default 30; --small 6)")
    parser.add_argument("--renew-seconds", type=int, help="leases.renewSeconds (default 10; --small 2)")
    parser.add_argument(
        "--cycles", type=int, help="no-op cycles timed per replica, at least (default 3; --small 1)"
    )
    args = parser.parse_args(argv)
    small = bool(args.small)
    plan = Plan(
        stacks=args.stacks if args.stacks is not None else (30 if small else 600),
        replicas=args.replicas if args.replicas is not None else 3,
        window=args.window if args.window is not None else (15.0 if small else 60.0),
        duration_seconds=args.duration_seconds if args.duration_seconds is not None else (6 if small else 30),
        renew_seconds=args.renew_seconds if args.renew_seconds is not None else (2 if small else 10),
        cycles=args.cycles if args.cycles is not None else (1 if small else 3),
    )
    if not 1 <= plan.stacks <= 5000 or not 2 <= plan.replicas <= 20 or not 5 <= plan.window <= 3600:
        parser.error("--stacks 1..5000, --replicas 2..20 (one is killed), --window 5..3600")
    if plan.duration_seconds < 5 or plan.renew_seconds < 1 or plan.renew_seconds * 2 > plan.duration_seconds:
        parser.error("--duration-seconds at least 5, --renew-seconds at least 1 and at most half of it")
    if not 1 <= plan.cycles <= 20:
        parser.error("--cycles 1..20")

    def stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # unwinds: the replicas stop, the sandbox goes down

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    with tempfile.TemporaryDirectory(prefix="driftless-fleet-bench-") as scratch:
        try:
            result = run(plan, Path(scratch))
        except SandboxError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    report(result)
    common.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
