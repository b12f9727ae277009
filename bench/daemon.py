"""Daemon benchmarks: the no-op cycle, change-to-reconcile latency and the idle daemon's memory.

``python bench/daemon.py [--small] [--runs N] [--writes N] [--idle-seconds S] [--phase ...]``

It builds a project of its own in a scratch directory: a copy of the program (``__main__.py``,
``Pulumi.yaml``, ``components/``, so edits other people make to the working tree meanwhile do not
change the program's fingerprint halfway through) and the generated stack set in its
``stacks/``. Every Project's repository is a local git repository (the generated URLs are
rewritten with ``url.<dir>.insteadOf``, through ``GIT_CONFIG_*`` variables), Vault and registry
verification are off, and the status endpoint listens on 127.0.0.1: nothing leaves the machine.
The renders still run the working tree's program (``automation.render`` always does).

Phases (all by default):

- **noop**: ``run --once --dry-run`` once to reconcile every stack, then ``--runs`` more over the
  unchanged set, with the sources polled (one ``git ls-remote`` per repository) and with
  ``--no-sources`` (fingerprinting only). Reported: seconds per process, the interpreter's start
  and imports alone (``run --help``), and operations started (counted from the daemon's
  ``operation.started`` log events; must be 0). Beside it, an *estimate* of what a resync-based
  peer does per cycle: a full ``up`` of every stack, taken as stacks × the first run's seconds per
  reconciled stack (render + diff).
- **idle**: ``run --dry-run`` (watching) on the reconciled set: peak and current RSS once it is
  ready and quiet, sampled for ``--idle-seconds``.
- **latency**: with the same daemon running, ``--writes`` edits to stack files (a replica count
  toggled, written atomically as editors do); for each, the time from the write to that stack's
  ``operation.started`` event (and to the ``change.detected`` event), p50 and max.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
if str(PROJECT_DIR) not in sys.path:  # run as `python bench/daemon.py`
    sys.path.insert(0, str(PROJECT_DIR))

from bench import common  # noqa: E402
from bench.generate import (  # noqa: E402
    PREVIEW_BRANCH,
    REPO_BASE,
    Counts,
    add_count_options,
    counts_from,
    generate,
)

ONCE_TIMEOUT_SECONDS = 1800.0  # the first run renders every stack
READY_TIMEOUT_SECONDS = 300.0
QUIET_SECONDS = 3.0
QUIET_TIMEOUT_SECONDS = 180.0
WRITE_TIMEOUT_SECONDS = 60.0
FINISH_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 60.0
TARGET_NOOP_SECONDS = 2.0
TARGET_LATENCY_P50_SECONDS = 1.0
_STAGING = re.compile(r"(- name: staging\n\s+branch: main\n\s+autoSync: true\n\s+replicas: )(\d+)")


# --- the scratch project ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    project: Path
    state: Path
    stacks: list[str]
    env: dict[str, str]

    def stack_file(self, name: str) -> Path:
        return self.project / "stacks" / f"{name}.yaml"


def _git(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=60,
    )


def make_repositories(directory: Path, projects: int, previews: int) -> None:
    """One local repository with ``main`` and the preview branches; every project's URL points at it."""
    work = directory / "work"
    work.mkdir(parents=True)
    _git("init", "-q", "-b", "main", str(work))
    _git("commit", "-q", "--allow-empty", "-m", "main", cwd=work)
    for number in range(previews):
        branch = PREVIEW_BRANCH.format(n=number + 1)
        _git("checkout", "-q", "-b", branch, "main", cwd=work)
        _git("commit", "-q", "--allow-empty", "-m", branch, cwd=work)
    _git("clone", "-q", "--bare", str(work), str(directory / "template.git"))
    shutil.rmtree(work)
    for number in range(projects):
        (directory / f"p{number:03d}.git").symlink_to(directory / "template.git")


def prepare(workdir: Path, counts: Counts) -> Setup:
    generated = workdir / "set"
    generate(generated, counts)
    project = workdir / "project"
    project.mkdir()
    for name in ("__main__.py", "Pulumi.yaml"):
        shutil.copy2(PROJECT_DIR / name, project / name)
    shutil.copytree(
        PROJECT_DIR / "components", project / "components", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(generated / "stacks", project / "stacks")
    repositories = workdir / "repos"
    make_repositories(repositories, counts.projects, counts.previews)
    env = common.child_environment(
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0=f"url.{repositories}/.insteadOf",
        GIT_CONFIG_VALUE_0=REPO_BASE,
        PYTHONDONTWRITEBYTECODE="1",
    )
    stacks = sorted(p.stem for p in (project / "stacks").glob("*.yaml"))
    return Setup(project, workdir / "state", stacks, env)


def daemon_command(setup: Setup, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "automation",
        "run",
        "--dry-run",
        "--project-dir",
        str(setup.project),
        "--state-dir",
        str(setup.state),
        "--log-format",
        "json",
        *args,
    ]


def events_of(stderr: str) -> list[dict[str, Any]]:
    """The daemon's structured log events (JSON lines); anything else is skipped."""
    found = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
    return found


def event_time(event: dict[str, Any]) -> float:
    """A log event's ``ts`` as a POSIX timestamp."""
    return datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00")).timestamp()


# --- the no-op cycle -------------------------------------------------------------------------------


@dataclass
class OnceRun:
    seconds: float
    returncode: int
    started: int  # operation.started events
    states: dict[str, int]  # per-stack states printed by run --once


def run_once(setup: Setup, *extra: str) -> OnceRun:
    began = time.perf_counter()
    completed = subprocess.run(
        daemon_command(setup, "--once", "--http-port", "0", *extra),
        cwd=PROJECT_DIR,
        env=setup.env,
        capture_output=True,
        text=True,
        timeout=ONCE_TIMEOUT_SECONDS,
        check=False,
    )
    seconds = time.perf_counter() - began
    states: dict[str, int] = {}
    for line in completed.stdout.splitlines():
        stack, _, rest = line.partition(": ")
        if stack in setup.stacks:
            state = rest.split(":", 1)[0]
            states[state] = states.get(state, 0) + 1
    started = sum(1 for e in events_of(completed.stderr) if e.get("event") == "operation.started")
    if completed.returncode != 0:
        print(f"run --once exited {completed.returncode}:\n{completed.stderr[-3000:]}", file=sys.stderr)
    return OnceRun(seconds, completed.returncode, started, states)


def startup_seconds(setup: Setup) -> float:
    """The interpreter's start and the command line's imports: ``run --help``."""
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "automation", "run", "--help"],
        cwd=PROJECT_DIR,
        env=setup.env,
        capture_output=True,
        timeout=120,
        check=True,
    )
    return time.perf_counter() - began


def cycle_worker(project: Path, state: Path, runs: int, profile_top: int) -> dict[str, Any]:
    """In one process: ``run --once --dry-run`` through the command line's own ``main``, repeatedly.

    The first call pays the lazy imports (every domain package, loaded with the first stack
    file); the later ones are what each cycle of a long-running daemon costs. Run in a worker
    process of its own, started by :func:`in_process_cycles`.
    """
    import cProfile
    import io

    from automation.cli import main as cli_main

    argv = [
        "run", "--once", "--dry-run", "--project-dir", str(project), "--state-dir", str(state),
        "--http-port", "0", "--log-format", "json",
    ]  # fmt: skip

    def once(*extra: str, profiler: Any = None) -> tuple[float, int, int]:
        log, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(log), contextlib.redirect_stdout(out):
            began = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            code = cli_main([*argv, *extra])
            if profiler is not None:
                profiler.disable()
            seconds = time.perf_counter() - began
        started = sum(1 for e in events_of(log.getvalue()) if e.get("event") == "operation.started")
        return seconds, started, code

    cold = once("--no-sources")
    no_sources = [once("--no-sources") for _ in range(runs)]
    with_sources = [once() for _ in range(runs)]
    result: dict[str, Any] = {
        "cold_seconds": cold[0],
        "no_sources": [r[0] for r in no_sources],
        "with_sources": [r[0] for r in with_sources],
        "operations_started": max(r[1] for r in [cold, *no_sources, *with_sources]),
        "exit_codes": sorted({r[2] for r in [cold, *no_sources, *with_sources]}),
    }
    if profile_top:
        profiler = cProfile.Profile()
        seconds, _, _ = once("--no-sources", profiler=profiler)
        result["profile"] = common.profile_summary(profiler, seconds, profile_top)
    return result


def in_process_cycles(setup: Setup, runs: int, profile_top: int) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--worker", "cycle", "--keep", str(setup.project.parent),
        "--runs", str(runs), "--top", str(profile_top),
    ]  # fmt: skip
    completed = subprocess.run(
        command, cwd=PROJECT_DIR, env=setup.env, capture_output=True, text=True,
        timeout=ONCE_TIMEOUT_SECONDS, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"cycle worker failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    return common.last_json_line(completed.stdout)


def noop_phase(setup: Setup, runs: int, profile_top: int = 0) -> dict[str, Any]:
    first = run_once(setup)
    reconciled = first.states.get("reconciled", 0)
    print(
        f"  first run: {first.seconds:.1f} s, {first.started} operation(s) started, states {first.states}",
        file=sys.stderr,
        flush=True,
    )
    with_sources = [run_once(setup) for _ in range(runs)]
    fingerprint_only = [run_once(setup, "--no-sources") for _ in range(runs)]
    startup = common.median(startup_seconds(setup) for _ in range(runs))
    cycles = in_process_cycles(setup, runs, profile_top)
    per_stack_up = first.seconds / reconciled if reconciled else None

    def summary(results: list[OnceRun]) -> dict[str, Any]:
        seconds = common.median(r.seconds for r in results)
        return {
            "seconds": round(seconds, 3),
            "seconds_runs": [round(r.seconds, 3) for r in results],
            "operations_started": max(r.started for r in results),
            "unchanged": min(r.states.get("unchanged", 0) for r in results),
            "exit_codes": sorted({r.returncode for r in results}),
        }

    return {
        "stacks": len(setup.stacks),
        "first_run": {
            "seconds": round(first.seconds, 3),
            "operations_started": first.started,
            "reconciled": reconciled,
            "states": first.states,
            "exit_code": first.returncode,
        },
        "startup_seconds": round(startup, 3),
        "with_sources": summary(with_sources),
        "no_sources": summary(fingerprint_only),
        "in_process": {
            "cold_seconds": round(cycles["cold_seconds"], 3),
            "no_sources_seconds": round(common.median(cycles["no_sources"]), 3),
            "with_sources_seconds": round(common.median(cycles["with_sources"]), 3),
            "operations_started": cycles["operations_started"],
            "exit_codes": cycles["exit_codes"],
        },
        "profile": cycles.get("profile"),
        "resync_peer_estimate": {
            "estimate": True,
            "how": "stacks x (first run seconds / stacks reconciled): a full render + diff of every stack",
            "seconds_per_stack": round(per_stack_up, 3) if per_stack_up else None,
            "seconds_per_cycle": round(per_stack_up * len(setup.stacks), 1) if per_stack_up else None,
        },
        "target_seconds": TARGET_NOOP_SECONDS,
    }


# --- the watching daemon: idle memory and change-to-reconcile latency ---------------------------------


@dataclass
class Daemon:
    """A ``run --dry-run`` process whose JSON log events are collected as they arrive."""

    process: subprocess.Popen[str]
    port: int
    events: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)
    last_event_at: float = field(default_factory=time.monotonic)

    def read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append(event)
                self.last_event_at = time.monotonic()
            self.arrived.set()

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.events)

    def wait_for(self, match: Any, start: int, timeout: float) -> tuple[dict[str, Any] | None, int]:
        """The first event from index ``start`` on that ``match`` accepts, within ``timeout``."""
        deadline = time.monotonic() + timeout
        index = start
        while time.monotonic() < deadline and self.process.poll() is None:
            events = self.snapshot()
            for position in range(index, len(events)):
                if match(events[position]):
                    return events[position], position + 1
            index = len(events)
            self.arrived.clear()
            self.arrived.wait(min(0.2, max(0.0, deadline - time.monotonic())))
        return None, index

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.ready():
                return True
            time.sleep(0.2)
        return False

    def wait_quiet(self, quiet: float, timeout: float) -> bool:
        """Until no event has arrived for ``quiet`` seconds (the first git poll and cycles are done)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            with self.lock:
                idle_for = time.monotonic() - self.last_event_at
            if idle_for >= quiet:
                return True
            time.sleep(min(0.2, quiet - idle_for + 0.01))
        return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def watching(setup: Setup) -> Iterator[Daemon]:
    port = free_port()
    process = subprocess.Popen(
        daemon_command(setup, "--http-port", str(port)),
        cwd=PROJECT_DIR,
        env=setup.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    daemon = Daemon(process, port)
    reader = threading.Thread(target=daemon.read, name="bench-daemon-log", daemon=True)
    reader.start()
    try:
        yield daemon
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        reader.join(10)


def idle_phase(daemon: Daemon, seconds: float) -> dict[str, Any]:
    samples: list[int] = []
    deadline = time.monotonic() + seconds
    while True:
        memory = common.proc_memory(daemon.process.pid)
        if "VmRSS" in memory:
            samples.append(memory["VmRSS"])
        if time.monotonic() >= deadline:
            break
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    memory = common.proc_memory(daemon.process.pid)
    return {
        "seconds": seconds,
        "rss_mib": common.mib(max(samples)) if samples else None,
        "peak_rss_mib": common.mib(memory["VmHWM"]) if "VmHWM" in memory else None,
        "threads": _threads(daemon.process.pid),
    }


def _threads(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None


def toggle_replicas(path: Path) -> None:
    """A real change: the staging environment's replicas 1 ↔ 2, written atomically like an editor."""
    text = path.read_text(encoding="utf-8")
    changed, count = _STAGING.subn(lambda m: m.group(1) + ("2" if m.group(2) == "1" else "1"), text, count=1)
    if count != 1:
        raise ValueError(f"{path}: no staging environment to change")
    temporary = path.with_name(f".{path.name}.bench")
    temporary.write_text(changed, encoding="utf-8")
    os.replace(temporary, path)


def latency_phase(setup: Setup, daemon: Daemon, writes: int) -> dict[str, Any]:
    to_start: list[float] = []
    to_detect: list[float] = []
    missed = 0
    index = len(daemon.snapshot())
    step = max(1, len(setup.stacks) // max(1, writes) or 1)
    for write in range(writes):
        stack = setup.stacks[(write * step + write) % len(setup.stacks)]
        written_at = time.time()
        toggle_replicas(setup.stack_file(stack))
        detected, _ = daemon.wait_for(
            lambda e, s=stack: e.get("event") == "change.detected" and s in (e.get("stacks") or []),
            index,
            WRITE_TIMEOUT_SECONDS,
        )
        started, index = daemon.wait_for(
            lambda e, s=stack: e.get("event") == "operation.started" and e.get("stack") == s,
            index,
            WRITE_TIMEOUT_SECONDS,
        )
        if started is None:
            missed += 1
            continue
        to_start.append(event_time(started) - written_at)
        if detected is not None:
            to_detect.append(event_time(detected) - written_at)
        finished, index = daemon.wait_for(
            lambda e, s=stack: e.get("event") == "operation.finished" and e.get("stack") == s,
            index,
            FINISH_TIMEOUT_SECONDS,
        )
        if finished is None:
            missed += 1
        time.sleep(0.3)  # let the watcher settle, so writes never share a batch
    return {
        "writes": writes,
        "observed": len(to_start),
        "missed": missed,
        "p50_seconds": round(common.percentile(to_start, 0.5), 3) if to_start else None,
        "max_seconds": round(max(to_start), 3) if to_start else None,
        "seconds_runs": [round(s, 3) for s in to_start],
        "detect_p50_seconds": round(common.percentile(to_detect, 0.5), 3) if to_detect else None,
        "target_p50_seconds": TARGET_LATENCY_P50_SECONDS,
    }


def watch_phases(
    setup: Setup, writes: int, idle_seconds: float, do_idle: bool, do_latency: bool
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with watching(setup) as daemon:
        began = time.monotonic()
        if not daemon.wait_ready(READY_TIMEOUT_SECONDS):
            raise RuntimeError("the daemon did not become ready; its log:\n" + _tail(daemon))
        result["ready_seconds"] = round(time.monotonic() - began, 3)
        daemon.wait_quiet(QUIET_SECONDS, QUIET_TIMEOUT_SECONDS)
        started = sum(1 for e in daemon.snapshot() if e.get("event") == "operation.started")
        result["operations_started_at_start"] = started
        if do_idle:
            result["idle"] = idle_phase(daemon, idle_seconds)
        if do_latency:
            result["latency"] = latency_phase(setup, daemon, writes)
            memory = common.proc_memory(daemon.process.pid)
            result["peak_rss_after_changes_mib"] = common.mib(memory["VmHWM"]) if "VmHWM" in memory else None
    return result


def _tail(daemon: Daemon) -> str:
    return "\n".join(json.dumps(e) for e in daemon.snapshot()[-20:])


# --- the benchmark ----------------------------------------------------------------------------------


def report(result: dict[str, Any]) -> None:
    print(f"daemon: {result['stacks']} stacks, {result['documents']} documents")
    noop = result.get("noop")
    if noop:
        first = noop["first_run"]
        print(
            f"  first run --once --dry-run: {first['seconds']:.1f} s, "
            f"{first['operations_started']} operations started ({first['reconciled']} reconciled)"
        )
        for label, key in (
            ("no-op run --once", "with_sources"),
            ("no-op run --once --no-sources", "no_sources"),
        ):
            data = noop[key]
            print(
                f"  {label}: {data['seconds']:.2f} s per process, "
                f"{data['operations_started']} operations started, {data['unchanged']} unchanged"
            )
        inside = noop["in_process"]
        print(
            "    of which the interpreter's start and imports (run --help): "
            f"{noop['startup_seconds']:.2f} s; "
            f"in one process, after the first call ({inside['cold_seconds']:.2f} s, lazy imports): "
            f"{inside['no_sources_seconds']:.2f} s per no-op --no-sources run, "
            f"{inside['with_sources_seconds']:.2f} s with the sources polled, "
            f"{inside['operations_started']} operations started"
        )
        peer = noop["resync_peer_estimate"]
        if peer["seconds_per_cycle"] is not None:
            print(
                "  resync-based peer (estimate: a full up per stack per cycle): "
                f"≈{peer['seconds_per_cycle']:.0f} s per cycle ({peer['seconds_per_stack']:.2f} s per stack)"
            )
    if noop and noop.get("profile"):
        common.report_profile("a no-op run --once --no-sources, in process", noop["profile"])
    watch = result.get("watch")
    if watch:
        print(f"  watching daemon ready in {watch['ready_seconds']:.1f} s")
        idle = watch.get("idle")
        if idle:
            print(
                f"  idle daemon: RSS {idle['rss_mib']} MiB, peak {idle['peak_rss_mib']} MiB, "
                f"{idle['threads']} threads ({idle['seconds']:.0f} s sampled)"
            )
        latency = watch.get("latency")
        if latency and latency["p50_seconds"] is not None:
            print(
                f"  change to reconcile start: p50 {latency['p50_seconds']:.2f} s, "
                f"max {latency['max_seconds']:.2f} s "
                f"over {latency['observed']} writes (file watcher reported the change at p50 "
                f"{latency['detect_p50_seconds']} s); peak RSS after the changes "
                f"{watch['peak_rss_after_changes_mib']} MiB"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, help="no-op runs to take the median of (default 3; --small 1)")
    parser.add_argument("--writes", type=int, help="stack file writes to time (default 9; --small 3)")
    parser.add_argument("--idle-seconds", type=float, help="idle RSS sampling time (default 10; --small 2)")
    parser.add_argument(
        "--phase", action="append", choices=("noop", "idle", "latency"), help="run only these (repeatable)"
    )
    parser.add_argument(
        "--keep", type=Path, help="work in this (new or earlier --keep) directory and keep it"
    )
    parser.add_argument("--profile", action="store_true", help="profile one in-process no-op cycle")
    parser.add_argument("--top", type=int, default=25, help="functions listed by --profile")
    parser.add_argument("--worker", choices=("cycle",), help=argparse.SUPPRESS)
    add_count_options(parser)
    args = parser.parse_args(argv)
    small = bool(args.small)
    args.runs = args.runs if args.runs is not None else (1 if small else 3)
    args.writes = args.writes if args.writes is not None else (3 if small else 9)
    args.idle_seconds = args.idle_seconds if args.idle_seconds is not None else (2.0 if small else 10.0)
    if args.worker == "cycle":
        common.emit(cycle_worker(args.keep / "project", args.keep / "state", args.runs, args.top))
        return 0
    if not 1 <= args.runs <= 20 or not 1 <= args.writes <= 100 or not 0 <= args.idle_seconds <= 600:
        parser.error("--runs 1..20, --writes 1..100, --idle-seconds 0..600")
    phases = set(args.phase or ("noop", "idle", "latency"))
    counts = counts_from(args)
    earlier = args.keep is not None and (args.keep / "set" / "manifest.json").exists()
    if args.keep and args.keep.exists() and any(args.keep.iterdir()) and not earlier:
        parser.error(f"--keep {args.keep}: not empty and not an earlier benchmark directory")

    with tempfile.TemporaryDirectory(prefix="driftless-bench-") as scratch:
        workdir = args.keep or Path(scratch)
        if args.keep:
            if workdir.exists():
                shutil.rmtree(workdir)  # an earlier benchmark directory (checked above)
            workdir.mkdir(parents=True)
        setup = prepare(workdir, counts)
        result: dict[str, Any] = {
            "benchmark": "daemon",
            "stacks": len(setup.stacks),
            "documents": counts.documents(),
            "machine": common.machine(),
        }
        # the watching phases need the reconciled state the first --once run leaves
        if phases & {"idle", "latency"} and "noop" not in phases:
            run_once(setup)
        if "noop" in phases:
            result["noop"] = noop_phase(setup, args.runs, args.top if args.profile else 0)
        if phases & {"idle", "latency"}:
            result["watch"] = watch_phases(
                setup, args.writes, args.idle_seconds, "idle" in phases, "latency" in phases
            )
        report(result)
        common.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
