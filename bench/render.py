"""Render benchmark: the whole generated stack set through the offline renderer, against a floor.

``python bench/render.py [--small] [--runs N] [--dir DIR] [--profile]``

Each run starts three fresh worker processes, so each one's peak RSS is its own:

- **ours**: every stack rendered in-process with :func:`automation.render.render.render_stack`,
  the path ``python -m automation render`` and the daemon's ``--dry-run`` driver take (the stack
  file loaded and validated, the real ``__main__.py`` run under Pulumi's mock runtime, every
  Kubernetes object and custom resource validated against its schema, the display view built).
- **floor**: for every stack, the same number of bare resources (one ``pulumi.CustomResource``
  each, a one-field input, no parents) registered under the same mock runtime
  (:func:`automation.render.runtime.run_program` with the same mocks): the cost of Pulumi alone.
- **same inputs**: the resources ours rendered, registered again flat (same types and inputs, no
  parents, no reads, no component logic, no validation): what Pulumi charges for objects of this
  size, to tell the size of the objects from the work of our code.

Then the whole set the way review renders it, ``render --all``:

- **parallel**: ``python -m automation render --all -j 2`` over the set with an empty cache, timed
  from the command's start to its exit (interpreter, imports, worker start-up included);
- **cached**: the set again with that cache warm and one stack file changed, in a process that
  has rendered before (imports done: what a daemon's next cycle or a second ``render --all`` in
  one process pays); the same through the command, start to exit, is ``cli_seconds``.

Every worker warms up before the clock starts (imports, and one render of the first stack: the
one-off work a daemon does once per process, reported as ``warmup_seconds``); the timed pass then
covers every stack, the first one included. Reported: median wall seconds over the runs and CPU
seconds (steadier on a busy machine), microseconds per resource, peak RSS, ours ÷ floor and
ours ÷ same inputs, and the targets: ours ≤ 1.5× same inputs, the parallel set ≤ 15 s, the
cached set ≤ 1 s. ``--profile`` adds one cProfile'd pass of ours and says where its time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
if str(PROJECT_DIR) not in sys.path:  # run as `python bench/render.py`
    sys.path.insert(0, str(PROJECT_DIR))

from bench import common  # noqa: E402
from bench.generate import Counts, add_count_options, counts_from, generate  # noqa: E402

TARGET_RATIO = 1.5  # ours over the same inputs, in one process
TARGET_PARALLEL_SECONDS = 15.0  # the whole set, render --all -j 2, cold cache
TARGET_CACHED_SECONDS = 1.0  # the whole set, warm cache, one stack changed
PARALLEL_WORKERS = 2
CHANGED_STACK_NOTE = "\n# changed by the render benchmark: {what}\n"
WORKER_TIMEOUT_SECONDS = 900.0
BARE_TYPE = "bench:index:Bare"


# --- workers (each in its own process) ------------------------------------------------------------


def stacks_of(directory: Path) -> list[tuple[str, Path, Path]]:
    """(name, stack file, observations file) of every stack of a generated set, by name."""
    found = []
    for stack_file in sorted((directory / "stacks").glob("*.yaml")):
        observations = directory / "observations" / f"{stack_file.stem}.json"
        found.append((stack_file.stem, stack_file, observations))
    return found


def render_all(directory: Path, limit: int | None = None, save_inputs: Path | None = None) -> dict[str, Any]:
    """Render every stack (or the first ``limit``); counts per stack and the time spent rendering.

    ``seconds``/``cpu_seconds`` cover the ``render_stack`` calls only: with ``save_inputs``, each
    stack's resources are written there for the same-inputs floor, outside the timing.
    """
    from automation.render.render import RenderOptions, render_stack
    from automation.render.schemas import SchemaValidator

    options = RenderOptions(validator=SchemaValidator())
    counts: dict[str, int] = {}
    problems = 0
    seconds = cpu = 0.0
    for name, stack_file, observations in stacks_of(directory)[:limit]:
        began, began_cpu = time.perf_counter(), time.process_time()
        result = render_stack(stack_file, stack=name, observations=observations, options=options)
        seconds += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        counts[name] = len(result.resources)
        problems += len(result.problems)
        if save_inputs is not None:
            resources = [{"type": r.type, "name": r.name, "inputs": r.inputs} for r in result.resources]
            (save_inputs / f"{name}.json").write_text(json.dumps(resources, default=str), encoding="utf-8")
    return {"per_stack": counts, "problems": problems, "seconds": seconds, "cpu_seconds": cpu}


def warm_up(directory: Path) -> float:
    """Import everything and render the first stack once, untimed: one-off work of a process.

    Importing the domain packages, pulumi_kubernetes' lazily imported modules and compiling each
    schema's validator happen once per process; a daemon pays them at its first render and never
    again. Returns how long it took.
    """
    started = time.perf_counter()
    import automation.render.render  # noqa: F401
    from components.registry import default_registry

    default_registry()
    render_all(directory, limit=1)
    return time.perf_counter() - started


def worker_ours(directory: Path, save_inputs: Path | None) -> dict[str, Any]:
    warmup = warm_up(directory)
    baseline = common.peak_rss_bytes()
    if save_inputs is not None:
        save_inputs.mkdir(parents=True, exist_ok=True)
    rendered = render_all(directory, save_inputs=save_inputs)
    return {
        "warmup_seconds": warmup,
        "seconds": rendered["seconds"],
        "cpu_seconds": rendered["cpu_seconds"],
        "resources": sum(rendered["per_stack"].values()),
        "per_stack": rendered["per_stack"],
        "problems": rendered["problems"],
        "baseline_rss": baseline,
        "peak_rss": common.peak_rss_bytes(),
    }


def bare_program(count: int) -> Any:
    """``count`` bare resources: one type, a one-field input, no parent, no logic."""
    import pulumi

    def program() -> None:
        for index in range(count):
            pulumi.CustomResource(BARE_TYPE, f"r{index}", {"index": index})

    return program


def replay_program(resources: list[dict[str, Any]]) -> Any:
    """The rendered resources again, flat: same types and inputs, no parents, no logic, no reads."""
    import pulumi

    def program() -> None:
        for index, resource in enumerate(resources):
            pulumi.CustomResource(resource["type"], f"{resource['name']}-{index}", dict(resource["inputs"]))

    return program


def worker_floor(directory: Path, kind: str) -> dict[str, Any]:
    """The bare floor (``kind`` "floor") or the same-inputs floor ("replay") over every stack."""
    from automation.render.runtime import OfflineMocks, run_program

    inputs_dir = directory / "replay"

    def program_of(name: str) -> Any:
        if kind == "replay":
            return replay_program(json.loads((inputs_dir / f"{name}.json").read_text(encoding="utf-8")))
        return bare_program(per_stack[name])

    per_stack: dict[str, int] = json.loads((directory / "floor-counts.json").read_text(encoding="utf-8"))
    warmup = time.perf_counter()
    first = min(per_stack)
    run_program(program_of(first), stack=first, mock=OfflineMocks())
    warmup = time.perf_counter() - warmup
    baseline = common.peak_rss_bytes()
    seconds = cpu = 0.0
    registered = 0
    for name in sorted(per_stack):
        program = program_of(name)  # reading the replay file stays outside the timing
        began, began_cpu = time.perf_counter(), time.process_time()
        recording = run_program(program, stack=name, mock=OfflineMocks())
        seconds += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        registered += len(recording.resources)
    return {
        "warmup_seconds": warmup,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "resources": registered,
        "baseline_rss": baseline,
        "peak_rss": common.peak_rss_bytes(),
    }


def run_worker(kind: str, directory: Path, *extra: str) -> dict[str, Any]:
    """One worker process; returns its JSON line."""
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--dir", str(directory), *extra],
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_SECONDS,
        env=common.child_environment(),
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{kind} worker failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    return common.last_json_line(completed.stdout)


# --- render --all: in parallel, and from the cache -------------------------------------------------


def render_all_command(
    directory: Path, cache_dir: Path, out_dir: Path
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """``render --all -j 2`` over the set; its wall seconds, start to exit."""
    command = [
        sys.executable,
        "-m",
        "automation",
        "render",
        "--all",
        "--stacks-dir",
        str(directory / "stacks"),
        "--observations-dir",
        str(directory / "observations"),
        "-j",
        str(PARALLEL_WORKERS),
        "--cache-dir",
        str(cache_dir),
        "--out",
        str(out_dir),
    ]
    started = time.perf_counter()
    completed = subprocess.run(
        command,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_SECONDS,
        env=common.child_environment(),
        check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode not in (0, 1):  # 1: a stack is invalid, reported as problems
        raise RuntimeError(f"render --all failed ({completed.returncode}):\n{completed.stderr[-4000:]}")
    return seconds, completed


def changed_stack(directory: Path) -> Path:
    """The stack file the cached runs change: the one in the middle of the set."""
    files = sorted((directory / "stacks").glob("*.yaml"))
    return files[len(files) // 2]


def render_set_with_cache(directory: Path, cache_dir: Path) -> dict[str, Any]:
    """The whole set as ``render --all -j 2`` renders it, with the cache in ``cache_dir``."""
    from automation.render.batch import BatchSettings, render_many, stacks_in, with_conflicts
    from automation.render.cache import RenderCache
    from automation.render.schemas import SchemaValidator

    validator = SchemaValidator()
    settings = with_conflicts(
        BatchSettings(
            project_dir=PROJECT_DIR,
            stacks_dir=directory / "stacks",
            kubernetes_version=validator.kubernetes_version,
            crd_schema_dir=validator.crd_schema_dir,
        )
    )
    cache = RenderCache(cache_dir, project_dir=PROJECT_DIR, validator=validator)
    stacks = stacks_in(directory / "stacks", directory / "observations")
    rendered = list(render_many(stacks, settings, jobs=PARALLEL_WORKERS, cache=cache))
    return {
        "rendered": sum(not r.cached for r in rendered),
        "from_cache": sum(r.cached for r in rendered),
        "invalid": sum(not r.ok for r in rendered),
    }


def worker_cached(directory: Path, cache_dir: Path) -> dict[str, Any]:
    """Warm up, change one stack, time the whole set against the warm cache; the file is put back."""
    warm_up(directory)
    render_set_with_cache(directory, cache_dir)  # what the last cycle did: every stack file loaded once
    changed = changed_stack(directory)
    original = changed.read_bytes()
    try:
        changed.write_bytes(original + CHANGED_STACK_NOTE.format(what="in process").encode())
        started = time.perf_counter()
        counts = render_set_with_cache(directory, cache_dir)
        seconds = time.perf_counter() - started
    finally:
        changed.write_bytes(original)
    return {"seconds": seconds, **counts}


def parallel_and_cached(directory: Path, scratch: Path) -> dict[str, Any]:
    """The set with ``render --all -j 2``, cold; then with one stack changed, warm."""
    cache_dir, out_dir = scratch / "render-cache", scratch / "render-out"
    cold, completed = render_all_command(directory, cache_dir, out_dir)
    written = len(list(out_dir.glob("*.json")))
    changed = changed_stack(directory)
    original = changed.read_bytes()
    try:
        changed.write_bytes(original + CHANGED_STACK_NOTE.format(what="command").encode())
        cli_seconds, _ = render_all_command(directory, cache_dir, out_dir)
    finally:
        changed.write_bytes(original)
    cached = run_worker("cached", directory, "--cache-dir", str(cache_dir))
    return {
        "parallel": {
            "workers": PARALLEL_WORKERS,
            "seconds": round(cold, 3),
            "stacks": written,
            "invalid": completed.returncode != 0,
        },
        "cached": {
            "seconds": round(cached["seconds"], 3),
            "rendered": cached["rendered"],
            "from_cache": cached["from_cache"],
            "cli_seconds": round(cli_seconds, 3),
        },
    }


# --- profile --------------------------------------------------------------------------------------


def profile(directory: Path, top: int) -> dict[str, Any]:
    """One cProfile'd pass over the set, in this process: time per owner and the top functions."""
    warm_up(directory)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    render_all(directory)
    profiler.disable()
    return common.profile_summary(profiler, time.perf_counter() - started, top)


# --- the benchmark --------------------------------------------------------------------------------


def benchmark(directory: Path, runs: int, scratch: Path) -> dict[str, Any]:
    """``runs`` rounds of ours, the bare floor and the same-inputs floor, each in a fresh process."""
    sides: dict[str, list[dict[str, Any]]] = {"ours": [], "floor": [], "replay": []}
    replay_dir = directory / "replay"
    for run in range(runs):
        # the first round also saves each stack's rendered resources for the same-inputs floor
        ours = run_worker("ours", directory, *(("--save-inputs", str(replay_dir)) if run == 0 else ()))
        (directory / "floor-counts.json").write_text(json.dumps(ours["per_stack"]), encoding="utf-8")
        sides["ours"].append(ours)
        sides["floor"].append(run_worker("floor", directory))
        sides["replay"].append(run_worker("replay", directory))
        print(
            f"  run {run + 1}/{runs}: "
            + ", ".join(f"{side} {data[-1]['seconds']:.2f} s" for side, data in sides.items()),
            file=sys.stderr,
            flush=True,
        )
    resources = sides["ours"][0]["resources"]
    summary = {side: _summary(data, resources) for side, data in sides.items()}
    batch = parallel_and_cached(directory, scratch)
    print(
        f"  render --all: -j {batch['parallel']['workers']} cold {batch['parallel']['seconds']:.2f} s, "
        f"cached {batch['cached']['seconds']:.2f} s",
        file=sys.stderr,
        flush=True,
    )

    def ratio(key: str, over: str) -> float | None:
        below = summary[over][key]
        return round(summary["ours"][key] / below, 2) if below > 0 else None

    return {
        "benchmark": "render",
        "stacks": len(sides["ours"][0]["per_stack"]),
        "resources": resources,
        "floor_resources": sides["floor"][0]["resources"],
        "replay_resources": sides["replay"][0]["resources"],
        "problems": sides["ours"][0]["problems"],
        "runs": runs,
        **summary,
        "ratio": ratio("seconds", "floor"),
        "ratio_cpu": ratio("cpu_seconds", "floor"),
        "ratio_over_replay": ratio("seconds", "replay"),
        "target_ratio": TARGET_RATIO,
        **batch,
        "targets": {
            "ratio_over_replay": TARGET_RATIO,
            "parallel_seconds": TARGET_PARALLEL_SECONDS,
            "cached_seconds": TARGET_CACHED_SECONDS,
        },
        "crd_schemas": common.crd_schemas() is not None,
        "machine": common.machine(),
    }


def _summary(runs: list[dict[str, Any]], resources: int) -> dict[str, Any]:
    seconds = common.median(r["seconds"] for r in runs)
    return {
        "seconds": round(seconds, 3),
        "seconds_runs": [round(r["seconds"], 3) for r in runs],
        "cpu_seconds": round(common.median(r["cpu_seconds"] for r in runs), 3),
        "us_per_resource": round(seconds / resources * 1e6, 1) if resources else None,
        "peak_rss_mib": common.mib(max(r["peak_rss"] for r in runs)),
        "baseline_rss_mib": common.mib(min(r["baseline_rss"] for r in runs)),
        "warmup_seconds": round(common.median(r["warmup_seconds"] for r in runs), 3),
    }


def report(result: dict[str, Any]) -> None:
    print(
        f"render: {result['stacks']} stacks, {result['resources']} resources, "
        f"median of {result['runs']} run(s)"
    )
    for label, side in (
        ("ours         ", "ours"),
        ("floor (bare) ", "floor"),
        ("same inputs  ", "replay"),
    ):
        data = result[side]
        print(
            f"  {label}: {data['seconds']:6.2f} s ({data['cpu_seconds']:6.2f} s CPU, "
            f"{data['us_per_resource']:5.0f} µs/resource), peak RSS {data['peak_rss_mib']:.0f} MiB "
            f"(after imports {data['baseline_rss_mib']:.0f} MiB)"
        )
    print(
        f"  ours / floor: {result['ratio']}× wall, {result['ratio_cpu']}× CPU; "
        f"ours / same inputs: {result['ratio_over_replay']}×"
    )
    parallel, cached = result["parallel"], result["cached"]
    print(
        f"  render --all -j {parallel['workers']}, cold cache: {parallel['seconds']:.2f} s "
        f"({parallel['stacks']} stacks written, command start to exit)"
    )
    print(
        f"  render --all, warm cache, one stack changed: {cached['seconds']:.2f} s in a warm process "
        f"({cached['rendered']} rendered, {cached['from_cache']} from the cache); "
        f"{cached['cli_seconds']:.2f} s as a command, start to exit"
    )
    print("  targets:")
    for label, value, target, unit in (
        ("ours / same inputs, one process", result["ratio_over_replay"], TARGET_RATIO, "×"),
        ("whole set, -j 2, cold cache", parallel["seconds"], TARGET_PARALLEL_SECONDS, " s"),
        ("whole set, warm cache, one stack changed", cached["seconds"], TARGET_CACHED_SECONDS, " s"),
    ):
        verdict = "met" if value is not None and value <= target else "NOT met"
        print(f"    {label}: {value}{unit} against ≤ {target}{unit}: {verdict}")
    if result["problems"]:
        print(f"  WARNING: {result['problems']} render problem(s): the set is not valid")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, help="runs to take the median of (default 3; --small 1)")
    parser.add_argument("--dir", type=Path, help="an existing generated set, or where to generate one")
    parser.add_argument("--profile", action="store_true", help="also profile one pass and report it")
    parser.add_argument("--top", type=int, default=25, help="functions listed by --profile")
    parser.add_argument("--worker", choices=("ours", "floor", "replay", "cached"), help=argparse.SUPPRESS)
    parser.add_argument("--save-inputs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", type=Path, help=argparse.SUPPRESS)
    add_count_options(parser)
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.small else 3
    if args.runs < 1 or args.runs > 50:
        parser.error("--runs must be between 1 and 50")

    if args.worker == "ours":
        common.emit(worker_ours(args.dir, args.save_inputs))
        return 0
    if args.worker == "cached":
        common.emit(worker_cached(args.dir, args.cache_dir))
        return 0
    if args.worker in ("floor", "replay"):
        common.emit(worker_floor(args.dir, args.worker))
        return 0

    with tempfile.TemporaryDirectory(prefix="driftless-bench-") as scratch:
        directory = args.dir or Path(scratch)
        if not (directory / "manifest.json").exists():
            counts: Counts = counts_from(args)
            generate(directory, counts)
        result = benchmark(directory, args.runs, Path(scratch))
        report(result)
        if args.profile:
            data = profile(directory, args.top)
            common.report_profile("render", data)
            result["profile_share_by_owner"] = data["share_by_owner"]
        common.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
