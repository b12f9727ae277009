"""The real engine's costs on this machine: `up`, a no-op `up` against the daemon's skip, `preview`.

Needs ``python -m automation engine build`` first. Starts a sandbox of its own (its own ports and
state, in a temporary folder), applies a stack of every Kubernetes-only kind ``--stacks`` times
under distinct names, and prints figures, then one JSON line. Engine build times are those that
``engine build`` printed (``built in N s``); run it on a cold cache to measure the cold build.

    python bench/engine.py                # 3 stacks
    python bench/engine.py --stacks 1     # quicker
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from automation.engine.sandbox import sandbox_environment
from bench.common import PROJECT_DIR, child_environment, emit
from tests.engine.kube import KubeApi
from tests.engine.stacks import create_prerequisites, kubernetes_only, program_copy

SHARED_CRDS = PROJECT_DIR.parent / "shared" / "crds"
_SUMMARY = re.compile(r"(\d+) to create, (\d+) to update, (\d+) to delete, (\d+) unchanged")
PORTS = [
    "--etcd-port",
    "32379",
    "--etcd-peer-port",
    "32380",
    "--apiserver-port",
    "36443",
    "--controller-manager-port",
    "40257",
    "--no-openbao",
]


def cli(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "automation", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"python -m automation {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return seconds, result.stdout


def resources(output: str) -> int:
    match = _SUMMARY.search(output)
    return sum(int(g) for g in match.groups()) if match else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stacks", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="driftless-engine-bench-") as scratch:
        root = Path(scratch)
        base = child_environment()
        started = time.monotonic()
        cli(["sandbox", "up", "--state-dir", str(root / "sandbox"), "--crds", str(SHARED_CRDS), *PORTS], base)
        sandbox_seconds = time.monotonic() - started
        env = {
            **base,
            **sandbox_environment(root / "sandbox", environ=base),
            "PULUMI_BACKEND_URL": f"file://{root / 'backend'}",
        }
        try:
            create_prerequisites(KubeApi(Path(env["KUBECONFIG"])))
            stacks = root / "stacks"
            stacks.mkdir()
            project = program_copy(root / "project")
            where = [
                "--project-dir",
                str(project),
                "--stacks-dir",
                str(stacks),
                "--state-dir",
                str(root / "state"),
            ]
            ups, noops, previews, counts = [], [], [], []
            for index in range(args.stacks):
                name = f"bench{index}"
                (stacks / f"{name}.yaml").write_text(kubernetes_only(name))
                seconds, output = cli(["up", "--stack", name, *where], env)
                ups.append(seconds)
                counts.append(resources(output))
                noops.append(cli(["up", "--stack", name, *where], env)[0])
                previews.append(cli(["preview", "--stack", name, *where], env)[0])
            cli(["run", "--once", *where], env)  # records every stack as applied
            skip = cli(["run", "--once", *where], env)[0]
        finally:
            cli(["sandbox", "down", "--state-dir", str(root / "sandbox")], base)

    up = statistics.median(ups)
    per_stack = statistics.median(counts)
    print(f"sandbox up (etcd, kube-apiserver, kube-controller-manager, CRDs): {sandbox_seconds:.1f} s")
    print(
        f"real up of a {per_stack:.0f}-resource stack: {up:.1f} s ({per_stack / up:.1f} resources/s), "
        f"median of {len(ups)}"
    )
    print(
        f"real no-op up: {statistics.median(noops):.1f} s; real preview: {statistics.median(previews):.1f} s"
    )
    print(
        f"daemon's no-op `run --once` over {args.stacks} unchanged stacks (no Pulumi operation): {skip:.1f} s"
    )
    emit(
        {
            "benchmark": "engine",
            "stacks": args.stacks,
            "resources_per_stack": per_stack,
            "sandbox_up_seconds": round(sandbox_seconds, 2),
            "up_seconds": round(up, 2),
            "noop_up_seconds": round(statistics.median(noops), 2),
            "preview_seconds": round(statistics.median(previews), 2),
            "daemon_noop_cycle_seconds": round(skip, 2),
        }
    )


if __name__ == "__main__":
    main()
