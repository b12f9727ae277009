"""``render --all``: every stack of a directory on worker processes, as each renders alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from automation.render.batch import BatchSettings, StackRender, render_many, stacks_in, with_conflicts
from automation.render.cache import StackToRender
from automation.render.schemas import SchemaValidator
from tests.automation.render.stacks import DOMAIN_POOL, REGISTRY, project, write_stack
from tests.harness import SHARED_CRDS

PROJECT = Path(__file__).resolve().parents[3]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRIFTLESS_CRD_SCHEMAS": str(SHARED_CRDS)}
    return subprocess.run(
        [sys.executable, "-m", "automation", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_each_stack_renders_on_workers_exactly_as_it_renders_alone(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    write_stack(stacks, "beta", DOMAIN_POOL, REGISTRY, project("shop"))
    write_stack(stacks, "alpha")

    out = tmp_path / "out"
    every = run_cli(
        "render", "--all", "--stacks-dir", str(stacks), "-j", "2", "--no-cache", "--out", str(out)
    )
    lines = run_cli("render", "--all", "--stacks-dir", str(stacks), "-j", "2", "--no-cache")

    assert every.returncode == 0, every.stderr
    assert lines.returncode == 0, lines.stderr
    assert sorted(p.name for p in out.iterdir()) == ["alpha.json", "beta.json"]
    alone = {
        name: run_cli("render", "--file", str(stacks / f"{name}.yaml"), "--format", "json")
        for name in ("alpha", "beta")
    }
    for name, rendered in alone.items():
        assert rendered.returncode == 0, rendered.stderr
        assert (out / f"{name}.json").read_text(encoding="utf-8") == rendered.stdout  # byte for byte
    # JSON Lines: one line per stack, in stack order, each the same render
    parsed = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [p["stack"] for p in parsed] == ["alpha", "beta"]
    assert parsed == [json.loads(alone[name].stdout) for name in ("alpha", "beta")]
    assert "2 stack(s): 2 rendered, 0 from the cache, 0 invalid" in lines.stderr


def test_an_invalid_stack_fails_the_run_and_the_others_still_render(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    write_stack(stacks, "good")
    write_stack(stacks, "bad", DOMAIN_POOL, {**REGISTRY, "spec": {"server": "registry.example.test"}})

    result = run_cli("render", "--all", "--stacks-dir", str(stacks), "-j", "1", "--no-cache")

    assert result.returncode == 1
    by_stack = {json.loads(line)["stack"]: json.loads(line) for line in result.stdout.splitlines()}
    assert by_stack["good"]["problems"] == []
    assert by_stack["good"]["resources"]
    assert by_stack["bad"]["problems"][0]["path"] == "spec.credentialsSecret"
    assert f"error: bad: {stacks / 'bad.yaml'}:" in result.stderr
    assert "2 stack(s): 2 rendered, 0 from the cache, 1 invalid" in result.stderr


def test_options_of_all_are_refused_without_it() -> None:
    result = run_cli("render", "--stack", "dev", "--no-cache")
    assert result.returncode == 2
    assert "--no-cache only go with --all" in result.stderr


# Module-level renders: workers import them by name. They stand in for a render that kills its
# process, which no valid program does on purpose.
def _exits_on_b(stack: StackToRender, settings: BatchSettings, validator: SchemaValidator) -> StackRender:
    if stack.name == "b":
        os._exit(3)
    return StackRender(stack.name, json.dumps({"stack": stack.name, "pid": os.getpid()}), True)


def _killed_on_a(stack: StackToRender, settings: BatchSettings, validator: SchemaValidator) -> StackRender:
    if stack.name == "a":
        os.kill(os.getpid(), signal.SIGKILL)
    return StackRender(stack.name, json.dumps({"stack": stack.name, "pid": os.getpid()}), True)


def test_a_worker_that_dies_fails_only_its_stack(tmp_path: Path) -> None:
    stacks = [StackToRender(name, tmp_path / f"{name}.yaml") for name in ("d", "c", "b", "a", "e")]

    exited = list(render_many(stacks, BatchSettings(), jobs=2, render=_exits_on_b))
    killed = list(render_many(stacks, BatchSettings(), jobs=2, render=_killed_on_a))

    assert [r.stack for r in exited] == ["a", "b", "c", "d", "e"]
    assert [r.ok for r in exited] == [True, False, True, True, True]
    problem = json.loads(exited[1].text)["problems"][0]["message"]
    assert problem.startswith("the render worker stopped (exit code 3) while rendering this stack")
    assert [r.ok for r in killed] == [False, True, True, True, True]
    assert "killed by SIGKILL" in json.loads(killed[0].text)["problems"][0]["message"]
    assert len({json.loads(r.text)["pid"] for r in killed[1:]}) >= 1  # the rest went on, on live workers


def test_stacks_in_a_directory_come_with_their_observations(tmp_path: Path) -> None:
    write_stack(tmp_path / "stacks", "one")
    write_stack(tmp_path / "stacks", "two")
    (tmp_path / "observations").mkdir()
    (tmp_path / "observations" / "two.json").write_text('{"now": "2026-01-01T00:00:00Z"}', encoding="utf-8")

    found = stacks_in(tmp_path / "stacks", tmp_path / "observations")

    assert [(s.name, s.observations) for s in found] == [
        ("one", None),
        ("two", tmp_path / "observations" / "two.json"),
    ]


def test_conflicts_across_the_set_are_found_once_and_reported_per_stack(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    write_stack(stacks, "left", DOMAIN_POOL, REGISTRY, project("shop"))
    write_stack(stacks, "right", DOMAIN_POOL, REGISTRY, project("shop"))

    rendered = list(render_many(stacks_in(stacks), with_conflicts(BatchSettings(stacks_dir=stacks))))

    for render, other in zip(rendered, ("right", "left"), strict=True):
        assert not render.ok
        messages = [p["message"] for p in json.loads(render.text)["problems"]]
        assert any(f"also owned by {stacks / other}.yaml" in m for m in messages), messages


def test_a_process_with_threads_renders_on_workers_too(tmp_path: Path) -> None:
    # A daemon has threads of its own, and must not fork: its workers come from a fork server.
    stacks = [StackToRender(name, tmp_path / f"{name}.yaml") for name in ("b", "a", "c")]
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait, daemon=True)
    busy.start()
    try:
        rendered = list(render_many(stacks, BatchSettings(), jobs=2, render=_exits_on_b))
    finally:
        stop.set()
        busy.join()

    assert [(r.stack, r.ok) for r in rendered] == [("a", True), ("b", False), ("c", True)]
    assert os.getpid() not in {json.loads(r.text).get("pid") for r in rendered}
