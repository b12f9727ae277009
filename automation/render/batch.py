"""Render many stacks at once: ``render --all``, on worker processes, with the render cache.

Each stack renders exactly as ``render --stack <name> --format json`` renders it: the same
function, the same checks across the stack set (computed once here, not once per stack), the same
text. Stacks are handed out one at a time to ``jobs`` worker processes, so a slow stack holds up
no other; results come back in stack-name order whatever order they finish in.

A worker that dies (a crash, a kill, running out of memory) fails the stack it was rendering, and
only that one: the stack's render says what happened, a new worker takes the next stack.

With ``jobs`` 1 everything renders in this process, in order, with no worker at all.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from automation.render.cache import CachedRender, RenderCache, StackToRender
from automation.render.render import PROJECT_DIR, Problem, RenderOptions, RenderResult, render_stack
from automation.render.report import as_json
from automation.render.schemas import SchemaValidator
from automation.stack_inputs import StackSet
from components.documents import SpecError
from components.registry import KindRegistry

__all__ = [
    "BatchSettings",
    "RenderPool",
    "StackRender",
    "StackToRender",
    "render_many",
    "render_one",
    "stacks_in",
]

# What a worker imports before it forks off renderers: the renderer and every domain.
_PRELOAD = ["automation.render.batch", "automation.render.preload"]
_STOP_SECONDS = 5.0


@dataclass(frozen=True)
class BatchSettings:
    """What every render of a batch shares (sent to each worker once)."""

    project_dir: Path = PROJECT_DIR
    stacks_dir: Path | None = None  # the stack set checked across; None: each file alone
    kubernetes_version: str | None = None
    crd_schema_dir: Path | None = None
    config: Mapping[str, str] = field(default_factory=dict)  # extra driftless:* stack config
    # stack file -> its conflicts with the other files of its cluster (computed once per batch)
    conflicts: Mapping[str, Sequence[SpecError]] = field(default_factory=dict)

    def conflicts_of(self, stack: StackToRender) -> list[SpecError]:
        target = stack.stack_file.resolve()
        return [
            replace(error, file=str(stack.stack_file))
            for file, errors in self.conflicts.items()
            if Path(file).resolve() == target
            for error in errors
        ]


@dataclass(frozen=True)
class StackRender:
    """One stack's render: the text ``render --format json`` prints, and whether it is valid."""

    stack: str
    text: str
    ok: bool
    cached: bool = False  # taken from the cache, not rendered
    worker_died: bool = False  # its worker died while rendering it (never kept in the cache)


RenderOne = Callable[[StackToRender, BatchSettings, SchemaValidator], StackRender]


def stacks_in(stacks_dir: Path, observations_dir: Path | None = None) -> list[StackToRender]:
    """Every stack file of a directory by name, each with ``<observations_dir>/<name>.json`` if any."""
    found = []
    for stack_file in StackSet(PROJECT_DIR, stacks_dir).files():
        observations = observations_dir / f"{stack_file.stem}.json" if observations_dir else None
        found.append(
            StackToRender(
                stack_file.stem, stack_file, observations if observations and observations.is_file() else None
            )
        )
    return found


def with_conflicts(settings: BatchSettings, registry: KindRegistry | None = None) -> BatchSettings:
    """The settings with the conflicts across their stack set, found once for every stack."""
    if settings.stacks_dir is None:
        return settings
    conflicts = StackSet(settings.project_dir, settings.stacks_dir).conflicts(registry)
    return replace(settings, conflicts=conflicts)


def render_one(stack: StackToRender, settings: BatchSettings, validator: SchemaValidator) -> StackRender:
    """One stack, exactly as ``render --stack`` (or ``--file``, outside a stack set) renders it."""
    stack_set = (
        _KnownConflicts(settings.project_dir, settings.stacks_dir, settings.conflicts)
        if settings.stacks_dir is not None
        else None
    )
    result = render_stack(
        stack.stack_file,
        stack=stack.name,
        observations=stack.observations,
        options=RenderOptions(validator=validator, config=dict(settings.config)),
        stack_set=stack_set,
    )
    return StackRender(stack.name, as_json(result), result.ok)


def render_many(
    stacks: Sequence[StackToRender],
    settings: BatchSettings,
    *,
    jobs: int = 1,
    cache: RenderCache | None = None,
    render: RenderOne = render_one,
) -> Iterator[StackRender]:
    """Every stack's render, in stack-name order; those the cache holds are not rendered again.

    ``render`` must be a module-level function (workers import it by name).
    """
    ordered = sorted(stacks, key=lambda s: s.name)
    keys: dict[str, str | None] = {}
    done: dict[str, StackRender] = {}
    to_render: list[StackToRender] = []
    for stack in ordered:
        key = (
            cache.key(stack, settings.conflicts_of(stack), across_stacks=settings.stacks_dir is not None)
            if cache is not None
            else None
        )
        keys[stack.name] = key
        kept = cache.get(key) if cache is not None and key is not None else None
        if kept is not None:
            done[stack.name] = StackRender(stack.name, kept.text, kept.ok, cached=True)
        else:
            to_render.append(stack)

    if jobs <= 1 or len(to_render) <= 1:
        validator = _validator(settings)
        fresh: Iterator[StackRender] = (render(stack, settings, validator) for stack in to_render)
    else:
        fresh = _render_in_workers(to_render, settings, jobs, render)

    position = 0
    for rendered in fresh:
        key = keys[rendered.stack]
        if cache is not None and key is not None and not rendered.worker_died:
            cache.put(key, CachedRender(rendered.text, rendered.ok))
        done[rendered.stack] = rendered
        while position < len(ordered) and ordered[position].name in done:
            yield done.pop(ordered[position].name)
            position += 1
    while position < len(ordered):  # every stack came from the cache
        yield done.pop(ordered[position].name)
        position += 1


def _validator(settings: BatchSettings) -> SchemaValidator:
    return SchemaValidator(settings.kubernetes_version, settings.crd_schema_dir)


class _KnownConflicts(StackSet):
    """The stack set, with the conflicts across it already found for the whole batch."""

    def __init__(self, project_dir: Path, stacks_dir: Path, conflicts: Mapping[str, Sequence[SpecError]]):
        super().__init__(project_dir, stacks_dir)
        object.__setattr__(self, "_known", {file: list(errors) for file, errors in conflicts.items()})

    def conflicts(self, registry: KindRegistry | None = None) -> dict[str, list[SpecError]]:
        known: dict[str, list[SpecError]] = self.__dict__["_known"]
        return known


# --- workers --------------------------------------------------------------------------------------


def _crash_render(stack: str, exitcode: int | None) -> StackRender:
    if exitcode is not None and exitcode < 0:
        try:
            how = f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"killed by signal {-exitcode}"
    else:
        how = f"exit code {exitcode}"
    message = (
        f"the render worker stopped ({how}) while rendering this stack; the other stacks are not affected"
    )
    result = RenderResult(stack, problems=[Problem("", "", message)])
    return StackRender(stack, as_json(result), False, worker_died=True)


def _context() -> Any:
    """How workers start: forked from this process when that is safe, else from a fork server.

    A process with one thread (the command line) forks its workers directly, after importing
    what a render needs, so they start with it all in memory. A process with other threads (the
    daemon) must not fork (a lock held by another thread would stay held in the child forever): a
    fork server, a fresh interpreter that imports the renderer once, forks the workers instead.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        importlib.import_module("automation.render.preload")
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def _serve(connection: Connection, settings: BatchSettings, render: RenderOne) -> None:
    """A worker: render each stack it is sent, answer with its render; stop when sent None."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    validator = _validator(settings)
    while True:
        try:
            stack = connection.recv()
        except (EOFError, OSError):
            return
        if stack is None:  # no more stacks
            return
        connection.send(render(stack, settings, validator))


@dataclass
class _Worker:
    process: BaseProcess
    connection: Connection
    stack: StackToRender | None = None


def _render_in_workers(
    stacks: Sequence[StackToRender], settings: BatchSettings, jobs: int, render: RenderOne
) -> Iterator[StackRender]:
    """Renders in the order they finish; a worker that dies fails its stack and is replaced."""
    context = _context()
    pending = list(reversed(stacks))
    workers: list[_Worker] = []

    def start() -> _Worker:
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve, args=(theirs, settings, render), name="driftless-render", daemon=True
        )
        process.start()
        theirs.close()
        return _Worker(process, ours)

    try:
        workers.extend(start() for _ in range(min(jobs, len(stacks))))
        while pending or any(w.stack is not None for w in workers):
            for index, worker in enumerate(workers):
                if worker.stack is None and pending and not worker.process.is_alive():
                    worker.connection.close()  # it died between two stacks: nothing of ours is lost
                    workers[index] = worker = start()
                if worker.stack is None and pending:
                    worker.stack = pending.pop()
                    with suppress(OSError):  # it died idle: found below, through its sentinel
                        worker.connection.send(worker.stack)
            busy = [w for w in workers if w.stack is not None]
            ready = set(wait([w.connection for w in busy] + [w.process.sentinel for w in busy]))
            for worker in busy:
                if worker.connection not in ready and worker.process.sentinel not in ready:
                    continue
                stack = worker.stack
                assert stack is not None
                answer = _answer(worker)
                if answer is not None:
                    worker.stack = None
                    yield answer
                    continue
                worker.process.join(_STOP_SECONDS)
                yield _crash_render(stack.name, worker.process.exitcode)
                worker.connection.close()
                workers.remove(worker)
                if pending:
                    workers.append(start())
    finally:
        _stop(workers)


class RenderPool:
    """Worker processes that render stacks one at a time each, for callers on many threads.

    The daemon's offline driver renders through it while several operations run at once: each
    call takes an idle worker (starting one, up to ``jobs``, or waiting for one), sends it the stack
    and waits for the render. A worker that dies fails the stack it was rendering, and only that
    one; the next call starts a new worker in its place. Workers start from a fork server, as in a
    process with threads they must (see :func:`_context`), so the first render pays for one.
    """

    def __init__(
        self,
        settings: BatchSettings,
        jobs: int,
        render: RenderOne = render_one,
        starting: AbstractContextManager[Any] | None = None,
    ):
        """``starting`` is held while a worker starts: a process that also renders in-process must
        not start one mid-render, when ``__main__`` is the program (a new process would run it)."""
        if jobs < 1:
            raise ValueError("a render pool needs at least one worker")
        self._settings = settings
        self._render = render
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._free_slots = threading.Semaphore(jobs)  # workers not busy rendering, started or not
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._context: Any = None
        self._closed = False
        self._starting = starting if starting is not None else nullcontext()

    def render(self, stack: StackToRender) -> StackRender:
        self._free_slots.acquire()
        try:
            worker = self._take()
            answer = self._ask(worker, stack)
            if answer is not None:
                self._idle.put(worker)
                return answer
            worker.process.join(_STOP_SECONDS)
            self._forget(worker)
            return _crash_render(stack.name, worker.process.exitcode)
        finally:
            self._free_slots.release()

    def close(self) -> None:
        """Stop every worker (each finishes the stack it is rendering first)."""
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
        _stop(workers)

    def _take(self) -> _Worker:
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker.process.is_alive():
                return worker
            self._forget(worker)  # it died between two stacks: nothing of ours is lost
        with self._starting, self._lock:
            if self._closed:
                raise RuntimeError("the render pool is closed")
            if self._context is None:
                self._context = _context()
            ours, theirs = self._context.Pipe()
            process = self._context.Process(
                target=_serve,
                args=(theirs, self._settings, self._render),
                name="driftless-render",
                daemon=True,
            )
            process.start()
            theirs.close()
            worker = _Worker(process, ours)
            self._workers.append(worker)
            return worker

    def _ask(self, worker: _Worker, stack: StackToRender) -> StackRender | None:
        with suppress(OSError):  # it died idle: found through its sentinel
            worker.connection.send(stack)
        wait([worker.connection, worker.process.sentinel])
        return _answer(worker)

    def _forget(self, worker: _Worker) -> None:
        worker.connection.close()
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)


def _stop(workers: Sequence[_Worker]) -> None:
    # Said in so many words: a forked worker holds a copy of this end of its pipe, so it would
    # never see the end of its input.
    for worker in workers:
        with suppress(OSError):
            worker.connection.send(None)
        worker.connection.close()
    for worker in workers:
        worker.process.join(_STOP_SECONDS)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()


def _answer(worker: _Worker) -> StackRender | None:
    """The worker's render, or None when it died instead of answering."""
    try:
        if worker.connection.poll():
            answer = worker.connection.recv()
            if isinstance(answer, StackRender):
                return answer
    except (EOFError, OSError):
        pass
    return None


def default_jobs() -> int:
    """One worker per CPU this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
