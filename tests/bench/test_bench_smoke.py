"""Smoke tests of the benchmarks: the small mode runs, and its JSON line has the right shape and counts.

Nothing here asserts on a timing: figures vary with the machine and its load. What must hold on
any machine is asserted instead: the generated set is valid, the render renders every stack
without a problem and the floor registers as many resources, a no-op cycle starts no operation,
every stack file write leads to that stack's reconcile.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.common import child_environment, last_json_line
from bench.generate import Counts, generate, stack_name
from components.documents import load_stack_file
from components.observations import Observations

PROJECT_DIR = Path(__file__).resolve().parents[2]
SMALL = Counts.small()


def run_benchmark(script: str, *args: str, timeout: float = 240) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "bench" / script), "--small", *args],
        cwd=PROJECT_DIR,
        env=child_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, (
        f"{script} failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}"
    )
    # the JSON line is the last line of stdout, after the figures for people
    assert completed.stdout.strip().splitlines()[-1].startswith("{")
    return last_json_line(completed.stdout)


def is_seconds(value: Any) -> bool:
    return isinstance(value, int | float) and value >= 0


def test_generated_set_is_valid_and_as_counted(tmp_path: Path) -> None:
    manifest = generate(tmp_path, SMALL)

    stack_files = sorted((tmp_path / "stacks").glob("*.yaml"))
    assert [f.stem for f in stack_files] == [stack_name(i) for i in range(SMALL.stacks)]
    kinds: dict[str, int] = {}
    for stack_file in stack_files:
        documents = load_stack_file(stack_file)  # raises StackFileError on any invalid document
        for document in documents:
            kinds[document.kind] = kinds.get(document.kind, 0) + 1
        observations = Observations.load(tmp_path / "observations" / f"{stack_file.stem}.json")
        for project in documents.of_kind("Project"):
            heads = observations.git[project.spec.repo.url]
            assert "main" in heads
            assert len(heads) == 1 + SMALL.previews
            assert sum(key.startswith(f"{project.name}/") for key in observations.previews) == SMALL.previews
    assert kinds == {
        "DomainPool": SMALL.stacks,
        "Registry": SMALL.stacks,
        "Project": SMALL.projects,
        "WazuhCluster": SMALL.wazuh,
        "FivetranConnector": SMALL.fivetran,
        "WandB": SMALL.wandb,
    }
    assert manifest.documents == sum(kinds.values())
    store = json.loads((tmp_path / "observation-store.json").read_text())
    assert len(store["git"]) == SMALL.projects


def test_generated_set_spreads_kinds_over_stacks(tmp_path: Path) -> None:
    counts = Counts(stacks=10, projects=25, environments=2, previews=1, wazuh=3, fivetran=0, wandb=1)
    generate(tmp_path, counts)

    per_stack = [
        len(load_stack_file(f).of_kind("Project")) for f in sorted((tmp_path / "stacks").glob("*.yaml"))
    ]
    assert sum(per_stack) == 25
    assert max(per_stack) - min(per_stack) <= 1


def test_generator_refuses_the_project_stacks_dir() -> None:
    completed = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "bench" / "generate.py"), str(PROJECT_DIR), "--small"],
        cwd=PROJECT_DIR,
        env=child_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode != 0
    assert "stacks/" in completed.stderr


@pytest.mark.slow
def test_render_benchmark_small() -> None:
    result = run_benchmark("render.py")

    assert result["benchmark"] == "render"
    assert result["stacks"] == SMALL.stacks
    assert result["runs"] == 1
    assert result["problems"] == 0  # the generated set renders and validates cleanly
    assert result["resources"] > SMALL.documents()  # components and their children
    assert result["floor_resources"] == result["resources"]
    for side in ("ours", "floor"):
        assert is_seconds(result[side]["seconds"])
        assert len(result[side]["seconds_runs"]) == 1
        assert result[side]["peak_rss_mib"] >= result[side]["baseline_rss_mib"] > 0
    assert result["ratio"] > 0
    assert result["target_ratio"] == 1.5
    # render --all: every stack written by two workers, then all but the changed one from the cache
    assert result["parallel"]["workers"] == 2
    assert result["parallel"]["stacks"] == SMALL.stacks
    assert result["parallel"]["invalid"] is False
    assert is_seconds(result["parallel"]["seconds"])
    assert is_seconds(result["cached"]["seconds"])
    assert is_seconds(result["cached"]["cli_seconds"])
    assert (result["cached"]["rendered"], result["cached"]["from_cache"]) == (1, SMALL.stacks - 1)
    assert result["targets"] == {"ratio_over_replay": 1.5, "parallel_seconds": 15.0, "cached_seconds": 1.0}


@pytest.mark.slow
def test_daemon_benchmark_small() -> None:
    result = run_benchmark("daemon.py", "--writes", "2", "--idle-seconds", "1", timeout=280)

    stacks = SMALL.stacks
    assert result["benchmark"] == "daemon"
    assert result["stacks"] == stacks
    noop = result["noop"]
    assert noop["first_run"]["operations_started"] == stacks
    assert noop["first_run"]["reconciled"] == stacks
    for variant in ("with_sources", "no_sources"):
        assert noop[variant]["operations_started"] == 0
        assert noop[variant]["unchanged"] == stacks
        assert noop[variant]["exit_codes"] == [0]
    assert noop["in_process"]["operations_started"] == 0
    assert is_seconds(noop["in_process"]["no_sources_seconds"])
    assert noop["resync_peer_estimate"]["estimate"] is True
    watch = result["watch"]
    assert watch["operations_started_at_start"] == 0  # a restart over unchanged stacks does nothing
    assert watch["idle"]["rss_mib"] > 0
    latency = watch["latency"]
    assert latency["observed"] == latency["writes"] == 2
    assert latency["missed"] == 0
    assert all(is_seconds(s) for s in latency["seconds_runs"])


@pytest.mark.engine
@pytest.mark.timeout(900)
def test_fleet_benchmark_small() -> None:
    # its own sandbox on free ports, so it runs beside the engine tier's
    result = run_benchmark("fleet.py", timeout=840)

    assert result["benchmark"] == "fleet"
    assert (result["stacks"], result["replicas"]) == (30, 3)
    assert sorted(result["startup"]["replicas"]) == ["r1", "r2", "r3"]
    steady = result["steady"]
    assert steady["expected_writes_per_minute"] == (30 + 3) * 60 / 2
    assert steady["member_lease_writes"] > 0
    assert steady["stack_lease_writes"] > 0
    assert sorted(steady["replicas"]) == ["r1", "r2", "r3"]
    for replica in steady["replicas"].values():
        assert replica["noop_cycles"] >= 1  # cycles that started no operation
        assert is_seconds(replica["noop_cycle_seconds"])
    failover = result["failover"]
    assert failover["killed"] == "r1"
    assert failover["stacks_moved"] > 0
    assert failover["held_by_killed_after"] == 0
    assert isinstance(failover["moved_not_ready"], list)
    assert failover["fair_after"] is True
    assert sum(failover["shares_after"].values()) == 30
    assert all(is_seconds(failover[key]) for key in ("leases_seconds", "ready_seconds"))
