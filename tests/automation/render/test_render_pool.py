"""The render pool: worker processes shared by callers on many threads (the daemon's operations)."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.render.batch import BatchSettings, RenderPool, StackRender
from automation.render.cache import StackToRender
from automation.render.schemas import SchemaValidator


# Module-level renders: workers import them by name. They stand in for a render that kills its
# process, which no valid program does on purpose, and for one that takes a while.
def _slow_and_exits_on_b(
    stack: StackToRender, settings: BatchSettings, validator: SchemaValidator
) -> StackRender:
    if stack.name == "b":
        os._exit(3)
    time.sleep(0.5)
    return StackRender(stack.name, json.dumps({"stack": stack.name, "pid": os.getpid()}), True)


@pytest.fixture
def pool() -> Iterator[RenderPool]:
    pool = RenderPool(BatchSettings(), jobs=2, render=_slow_and_exits_on_b)
    try:
        yield pool
    finally:
        pool.close()


def _render_at_once(pool: RenderPool, names: list[str], tmp_path: Path) -> dict[str, StackRender]:
    rendered: dict[str, StackRender] = {}

    def render(name: str) -> None:
        rendered[name] = pool.render(StackToRender(name, tmp_path / f"{name}.yaml"))

    threads = [threading.Thread(target=render, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return rendered


def test_callers_on_many_threads_share_the_workers(pool: RenderPool, tmp_path: Path) -> None:
    rendered = _render_at_once(pool, ["a", "c", "d", "e"], tmp_path)

    assert {name: r.ok for name, r in rendered.items()} == {"a": True, "c": True, "d": True, "e": True}
    workers = {json.loads(r.text)["pid"] for r in rendered.values()}
    assert len(workers) == 2  # at most jobs workers, each rendering one stack at a time
    assert os.getpid() not in workers


def test_a_worker_that_dies_fails_only_its_stack_and_is_replaced(pool: RenderPool, tmp_path: Path) -> None:
    rendered = _render_at_once(pool, ["a", "b", "c"], tmp_path)

    assert {name: r.ok for name, r in rendered.items()} == {"a": True, "b": False, "c": True}
    problem = json.loads(rendered["b"].text)["problems"][0]["message"]
    assert problem.startswith("the render worker stopped (exit code 3) while rendering this stack")
    assert pool.render(StackToRender("d", tmp_path / "d.yaml")).ok  # a new worker took its place


def test_a_closed_pool_renders_nothing(tmp_path: Path) -> None:
    pool = RenderPool(BatchSettings(), jobs=1, render=_slow_and_exits_on_b)
    assert pool.render(StackToRender("a", tmp_path / "a.yaml")).ok
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.render(StackToRender("c", tmp_path / "c.yaml"))
