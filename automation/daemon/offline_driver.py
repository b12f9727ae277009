"""The offline driver: the renderer stands in for Pulumi, for ``run --dry-run``, demos and tests.

``up`` renders the stack (the real ``__main__.py`` under Pulumi's mock runtime, every object
schema-checked), diffs the render against the last one kept for that stack, reports the
differences as change counts and keeps the new render. Nothing leaves the machine, and there is
no live state, so there is never drift.

It imitates the parts of a real backend that crash recovery deals with: while an operation runs
it holds a lock file (owner pid and host) and a pending-operation marker, both removed when the
operation finishes. A process that dies mid-``up`` leaves both behind, exactly like an interrupted
``pulumi up`` leaves a lock and pending operations; :meth:`OfflineDriver.recover` clears them.

The Pulumi runtime keeps process-wide state and wants an asyncio event loop, so a render in this
process runs on one dedicated thread that owns a loop. With ``jobs`` above one, renders that come
while that thread is busy (the daemon runs several operations at once) go to up to ``jobs - 1``
worker processes instead, so a cycle with many stacks to render uses every CPU.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from automation.daemon.driver import (
    ChangeCounts,
    DriftResult,
    InvalidSpecError,
    OperationResult,
    PendingOperationsError,
    ProgramError,
    Progress,
    RecoveryReport,
    ResourceChange,
    StackLockedError,
    StackTarget,
    UpdateFailedError,
)
from automation.daemon.fingerprint import ProgramSource
from automation.files import atomic_write, hostname, lock_holder, process_start
from automation.render.batch import BatchSettings, RenderPool, StackToRender
from automation.render.diff import diff_renders
from automation.render.render import PROJECT_DIR, RenderOptions, RenderResult, render_stack
from automation.render.schemas import SchemaValidator
from automation.times import now_iso

RenderFunction = Callable[[StackTarget], RenderResult]


def _give_thread_a_loop() -> None:
    asyncio.set_event_loop(asyncio.new_event_loop())


# One thread for every render: the Pulumi mock runtime is process-global and needs an event loop.
_RENDERER = ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="driftless-render", initializer=_give_thread_a_loop
)


class OfflineDriver:
    """A :class:`~automation.daemon.driver.Driver` over the offline renderer."""

    name = "offline"
    drift_detection = False
    reads_live_status = False

    def __init__(
        self,
        state_dir: Path,
        *,
        render: RenderFunction | None = None,
        validator: SchemaValidator | None = None,
        project_dir: Path = PROJECT_DIR,
        jobs: int = 1,
    ):
        self.root = state_dir / "offline"
        # One validator for every render of this process: it judges each shape of object once.
        self._validator = validator or SchemaValidator()
        self._render = render
        self.project_dir = project_dir
        self._in_process = threading.Lock()  # the render thread of this process is busy
        self._workers = (
            RenderPool(
                BatchSettings(
                    project_dir=project_dir,
                    kubernetes_version=self._validator.kubernetes_version,
                    crd_schema_dir=self._validator.crd_schema_dir,
                ),
                jobs - 1,
                # While this process renders, ``__main__`` is the program: a worker started then
                # would run it as it starts.
                starting=self._in_process,
            )
            if jobs > 1 and render is None
            else None
        )
        # The source as this process imports it (the domain modules load with the first stack).
        self._program = ProgramSource(project_dir)
        self._loaded_program = self._program.digest()

    # --- operations

    def preview(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        started = time.monotonic()
        rendered = self._rendered(target)
        return self._result("preview", self._last(target), rendered, started, progress)

    def up(
        self, target: StackTarget, *, refresh: bool = False, progress: Progress | None = None
    ) -> OperationResult:
        started = time.monotonic()
        with self._operation(target, "up"):
            rendered = self._rendered(target)
            result = self._result("up", self._last(target), rendered, started, progress)
            atomic_write(self._dir(target) / "last-render.json", json.dumps(rendered, sort_keys=True))
        return result

    def refresh(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        last = self._last(target)
        return OperationResult(
            "refresh", ChangeCounts(same=len(last.get("resources", []))), 0.0, last.get("outputs", {})
        )

    def check_drift(self, target: StackTarget, progress: Progress | None = None) -> DriftResult:
        return DriftResult((), 0.0)  # no live state offline

    def destroy(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        started = time.monotonic()
        with self._operation(target, "destroy"):
            last = self._last(target)
            result = self._result("destroy", last, {"stack": target.name, "resources": []}, started, progress)
            (self._dir(target) / "last-render.json").unlink(missing_ok=True)
        return result

    def outputs(self, target: StackTarget) -> Mapping[str, Any]:
        return dict(self._last(target).get("outputs", {}))

    def cancel(self, target: StackTarget) -> None:
        return None  # a render takes a moment; it is simply allowed to finish

    def locked_stacks(self) -> set[str]:
        """Stacks whose lock file is there: an operation is running, or a crash left it."""
        if not self.root.is_dir():
            return set()
        return {lock.parent.name for lock in self.root.glob("*/lock.json")}

    def recover(self, target: StackTarget) -> RecoveryReport:
        found: list[str] = []
        actions: list[str] = []
        manual: list[str] = []
        lock = self._dir(target) / "lock.json"
        holder = lock_holder(lock)
        if holder is not None:
            pid, since = holder.pid, holder.record.get("timestamp", "?")
            held = f"lock held by pid {pid} on {holder.host or 'an unknown host'} since {since}"
            if holder.gone:
                lock.unlink(missing_ok=True)
                found.append(f"stale {held}")
                actions.append(f"removed the stale lock of dead pid {pid}")
            else:
                found.append(held)
                manual.append(f"{held}: the owner may still be running; if it is not, remove {lock}")
        pending = self._dir(target) / "pending.json"
        operation = _read_json(pending)
        if operation is not None and not manual:
            pending.unlink(missing_ok=True)
            found.append(
                f"pending {operation.get('operation', 'operation')} "
                f"started at {operation.get('startedAt', '?')}"
            )
            actions.append(
                "cleared the pending operation; the last completed render is kept "
                "and the next cycle re-renders"
            )
        return RecoveryReport(target.name, tuple(found), tuple(actions), tuple(manual))

    # --- internals

    def _dir(self, target: StackTarget) -> Path:
        return self.root / target.name

    def _last(self, target: StackTarget) -> dict[str, Any]:
        return _read_json(self._dir(target) / "last-render.json") or {"stack": target.name, "resources": []}

    @contextmanager
    def _operation(self, target: StackTarget, kind: str) -> Any:
        directory = self._dir(target)
        directory.mkdir(parents=True, exist_ok=True)
        lock = directory / "lock.json"
        owner = {"pid": os.getpid(), "hostname": hostname(), "timestamp": now_iso(), **process_start()}
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            holder = _read_json(lock) or {}
            raise StackLockedError(
                f"the stack is currently locked by 1 lock(s): pid {holder.get('pid', '?')} on "
                f"{holder.get('hostname', '?')} since {holder.get('timestamp', '?')}"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(owner, handle)
        try:
            pending = directory / "pending.json"
            if pending.exists():
                previous = _read_json(pending) or {}
                raise PendingOperationsError(
                    f"the stack has a pending {previous.get('operation', 'operation')} "
                    f"from an interrupted run started at {previous.get('startedAt', '?')}"
                )
            atomic_write(pending, json.dumps({"operation": kind, "startedAt": now_iso(), "pid": os.getpid()}))
            try:
                yield
            except Exception:
                pending.unlink(missing_ok=True)  # a failed operation is over; only a crash leaves it pending
                raise
            pending.unlink(missing_ok=True)
        finally:
            lock.unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the render worker processes, if any."""
        if self._workers is not None:
            self._workers.close()

    def _rendered(self, target: StackTarget) -> dict[str, Any]:
        if self._render is not None:
            result = _RENDERER.submit(self._render, target).result()
        else:
            result = self._render_program(target)
        if not result.ok:
            problems = [str(p) for p in result.problems]
            message = f"{len(problems)} problem(s): {problems[0]}"
            if all(p.file is not None for p in result.problems):
                raise InvalidSpecError(message, detail="\n".join(problems))
            if any(p.message.startswith("program failed") for p in result.problems):
                raise ProgramError(problems[0], detail="\n".join(problems))
            raise InvalidSpecError(f"rendered objects are invalid: {message}", detail="\n".join(problems))
        # a JSON round trip: the same shape diff_renders reads back from disk
        rendered: dict[str, Any] = json.loads(json.dumps(result.to_json(), default=str))
        return rendered

    def _render_program(self, target: StackTarget) -> RenderResult:
        if self.program_changed():
            return self.render_in_subprocess(target)
        if self._in_process.acquire(blocking=self._workers is None):
            try:
                return _RENDERER.submit(self._render_here, target).result()
            finally:
                self._in_process.release()
        assert self._workers is not None
        rendered = self._workers.render(
            StackToRender(target.name, target.stack_file, target.observations_file)
        )
        result = RenderResult.from_json(json.loads(rendered.text))
        if rendered.worker_died:  # not the stack's fault (killed, out of memory): retried with backoff
            raise UpdateFailedError(str(result.problems[0]))
        result.stack = target.name
        return result

    def _render_here(self, target: StackTarget) -> RenderResult:
        return render_stack(
            target.stack_file,
            stack=target.name,
            observations=target.observations_file,
            options=RenderOptions(validator=self._validator),
        )

    def program_changed(self) -> bool:
        """Whether the program's source differs from what this process imported.

        Python keeps the modules it imported, so once ``components/`` (or a connector) changes
        under a long-running dry-run daemon, an in-process render would show the old code.
        """
        return self._program.digest() != self._loaded_program

    def render_in_subprocess(self, target: StackTarget) -> RenderResult:
        """The same render in a fresh interpreter, which imports the program as it is now."""
        command = [sys.executable, "-m", "automation", "render", "--file", str(target.stack_file)]
        command += ["--format", "json"]
        if target.observations_file is not None:
            command += ["--observations", str(target.observations_file)]
        command += ["--kubernetes-version", self._validator.kubernetes_version]
        if self._validator.crd_schema_dir is not None:
            command += ["--crd-schemas", str(self._validator.crd_schema_dir)]
        done = subprocess.run(
            command, cwd=self.project_dir, capture_output=True, text=True, timeout=600, check=False
        )
        try:
            data = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise ProgramError(f"render of {target.name} failed: {done.stderr.strip()[-500:]}") from None
        result = RenderResult.from_json(data)
        result.stack = target.name
        return result

    @staticmethod
    def _result(
        kind: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        started: float,
        progress: Progress | None,
    ) -> OperationResult:
        diff = diff_renders(old, new)
        changes = [ResourceChange("create", str(r.get("type")), str(r.get("name"))) for r in diff.added]
        changes += [
            ResourceChange(
                "update", str(r.get("type")), str(r.get("name")), fields=tuple(c.path for c in fields)
            )
            for r, fields in diff.updated
        ]
        changes += [
            ResourceChange(
                "delete", str(r.get("type")), str(r.get("name")), retained=bool(r.get("retainOnDelete"))
            )
            for r in diff.removed
        ]
        if progress is not None:
            for change in changes:
                progress(f"  {change.describe()}")
            for read in diff.reads:  # looked up, never changed: not a change, and not counted
                progress(f"  read {read.get('type')} {read.get('name')}")
        counts = ChangeCounts(
            create=len(diff.added),
            update=len(diff.updated),
            delete=len(diff.removed),
            same=diff.unchanged,
        )
        return OperationResult(
            kind, counts, time.monotonic() - started, dict(new.get("outputs", {})), tuple(changes)
        )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
