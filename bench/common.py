"""What every benchmark shares: paths, the stack set, memory readings, medians and the JSON line.

Benchmarks print figures for people, then exactly one JSON line (the last line of stdout) for
machines. They never assert on timings; the CI smoke test only checks the JSON line's shape and
its counts.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
SHARED_CRDS = PROJECT_DIR.parent / "shared" / "schemas" / "crds"
CRD_SCHEMAS_ENV = "DRIFTLESS_CRD_SCHEMAS"
MIB = 1024 * 1024


def crd_schemas() -> str | None:
    """The CRD schema directory renders validate against: ``$DRIFTLESS_CRD_SCHEMAS``, else ../shared."""
    configured = os.environ.get(CRD_SCHEMAS_ENV)
    if configured:
        return configured
    return str(SHARED_CRDS) if SHARED_CRDS.is_dir() else None


def child_environment(**extra: str) -> dict[str, str]:
    """The environment for benchmark subprocesses: the project importable, schemas set, nothing remote.

    Vault and registry verification stay off (their variables are removed), so nothing leaves
    the machine whatever the caller's shell has set.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VAULT_ADDR", "VAULT_TOKEN", "DRIFTLESS_REGISTRY_AUTH_FILE", "PULUMI_BACKEND_URL")
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_DIR), env.get("PYTHONPATH")) if p)
    schemas = crd_schemas()
    if schemas:
        env[CRD_SCHEMAS_ENV] = schemas
    env.update(extra)
    return env


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def proc_memory(pid: int) -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident memory of another process, in bytes (Linux)."""
    found: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return found
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found


def median(values: Iterable[float]) -> float:
    items = list(values)
    return statistics.median(items) if items else float("nan")


def percentile(values: Iterable[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a small sample."""
    items = sorted(values)
    if not items:
        return float("nan")
    rank = max(1, round(fraction * len(items) + 0.5 - 1e-9))
    return items[min(rank, len(items)) - 1]


def mib(value: float) -> float:
    return round(value / MIB, 1)


def emit(result: Mapping[str, Any]) -> None:
    """The benchmark's one JSON line: always the last line of stdout."""
    print(json.dumps(result, sort_keys=True), flush=True)


def last_json_line(output: str) -> dict[str, Any]:
    """The JSON line a benchmark (or a benchmark worker) printed last."""
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            parsed: dict[str, Any] = json.loads(line)
            return parsed
    raise ValueError("no JSON line in the output")


def machine() -> dict[str, Any]:
    """Where the figures come from."""
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": sys.platform}


# --- profiles -------------------------------------------------------------------------------------

# Where a function's own time is charged, by the path of its source file (first match wins).
OWNERS = (
    ("ours: components/", "/components/"),
    ("ours: automation/render", "/automation/render/"),
    ("ours: automation/daemon", "/automation/daemon/"),
    ("ours: automation (sources, store, other)", "/automation/"),
    ("pulumi runtime", "/pulumi/"),
    ("pulumi providers (kubernetes, tls, …)", "/pulumi_"),
    ("jsonschema / referencing", "/jsonschema"),
    ("jsonschema / referencing", "/referencing/"),
    ("jsonschema / referencing", "/rpds"),
    ("grpc / protobuf", "/grpc/"),
    ("grpc / protobuf", "/google/protobuf/"),
    ("pydantic", "/pydantic"),
    ("yaml", "/yaml/"),
    ("asyncio", "/asyncio/"),
    ("sqlite3", "/sqlite3/"),
)


def owner_of(filename: str) -> str:
    """Who a function belongs to, for "where does the time go"."""
    for owner, marker in OWNERS:
        if marker in filename:
            return owner
    if filename.startswith(("~", "<")):
        return "builtins (json, hashing, I/O, …)"
    return "python stdlib / other"


def short_path(filename: str) -> str:
    for marker in ("site-packages/", f"{PROJECT_DIR}/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def profile_summary(profiler: Any, wall: float, top: int) -> dict[str, Any]:
    """Self time by owner, the top functions by self time, and our functions by cumulative time."""
    import pstats

    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    by_owner: dict[str, float] = {}
    own: list[tuple[float, float, int, str]] = []
    ours: list[tuple[float, int, str]] = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.items():
        owner = owner_of(filename)
        by_owner[owner] = by_owner.get(owner, 0.0) + tottime
        label = f"{short_path(filename)}:{line}({name})"
        own.append((tottime, cumtime, calls, label))
        if owner.startswith("ours"):
            ours.append((cumtime, calls, label))
    total = sum(by_owner.values()) or 1.0
    own.sort(reverse=True)
    ours.sort(reverse=True)
    return {
        "wall_seconds": round(wall, 3),
        "share_by_owner": {k: round(v / total, 3) for k, v in sorted(by_owner.items(), key=lambda i: -i[1])},
        "top_self": [
            {"function": f, "self_s": round(t, 3), "cum_s": round(c, 3), "calls": n}
            for t, c, n, f in own[:top]
        ],
        "top_cumulative_ours": [{"function": f, "cum_s": round(c, 3), "calls": n} for c, n, f in ours[:top]],
    }


def report_profile(what: str, data: Mapping[str, Any]) -> None:
    print(
        f"profile of {what} (cProfile, {data['wall_seconds']:.2f} s wall under the profiler); "
        "self time by owner:"
    )
    for owner, share in data["share_by_owner"].items():
        if share >= 0.001:
            print(f"  {share * 100:5.1f} %  {owner}")
    print("  top functions by self time:")
    for entry in data["top_self"]:
        print(
            f"    {entry['self_s']:7.3f} s self {entry['cum_s']:7.3f} s cum "
            f"{entry['calls']:>9}  {entry['function']}"
        )
    print("  our functions by cumulative time:")
    for entry in data["top_cumulative_ours"]:
        print(f"    {entry['cum_s']:7.3f} s cum {entry['calls']:>9}  {entry['function']}")
