"""The real driver: ``pulumi.automation`` over the project folder, behind :class:`~.driver.Driver`.

Defaults, each overridable through :class:`AutomationOptions` (and the command line):

- a :class:`~pulumi.automation.LocalWorkspace` over the project directory (``Pulumi.yaml``);
- ``create_or_select_stack`` per stack name, one at a time in the process: selecting a stack
  rewrites the workspace's current-stack file, and those calls must not run concurrently
  (pulumi/pulumi#8186); every later command names its stack (``--stack``) and runs in parallel;
- a local file backend, ``file://<state dir>/pulumi-state`` (``.driftless/`` beside ``Pulumi.yaml``),
  unless ``PULUMI_BACKEND_URL`` or ``backend_url`` says otherwise;
- the passphrase secrets provider, its passphrase from ``PULUMI_CONFIG_PASSPHRASE`` (or
  ``PULUMI_CONFIG_PASSPHRASE_FILE``) in the environment — never stored by driftless;
- stack config ``driftless:stackFile`` and ``driftless:observationsFile`` pointing at the stack file
  and the observations the daemon wrote, so ``__main__.py`` renders what the daemon decided on.

Everything the CLI raises goes through :func:`~.driver.classify_error`. No Pulumi CLI on PATH →
:class:`~.driver.CliMissingError` with a one-line install hint, before anything else runs.

Crash recovery (:meth:`AutomationDriver.recover`) selects the stack without creating it (a stack
that does not exist has nothing to recover) and does exactly this, and nothing more:

- **automatic**: a lock file of a local (``file://``) backend whose owner ran on this host and
  whose pid is dead is removed; pending operations in the stack's state are cleared by exporting
  the state (secrets stay encrypted), dropping ``pending_operations`` and importing it back, then
  the stack is refreshed so Pulumi's state matches what actually exists;
- **reported for a person**: a lock held by a live process or by another host (it may be a real
  update: run ``pulumi cancel`` only if you know it is dead); and every interrupted *create* of a
  non-Kubernetes resource, which may now exist outside Pulumi's state (import or delete it).
  Interrupted Kubernetes creates need nothing: pulumi-kubernetes applies server-side, so the next
  ``up`` adopts an object that already exists.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from automation.daemon.driver import (
    ChangeCounts,
    CliMissingError,
    ConfigurationError,
    DriftResult,
    DriverError,
    OperationCancelledError,
    OperationResult,
    OperationTimeoutError,
    PendingOperationsError,
    ProgramError,
    Progress,
    RecoveryReport,
    ResourceChange,
    StackLockedError,
    StackTarget,
    classify_error,
)
from automation.files import atomic_write, lock_holder

PASSPHRASE_VARIABLES = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")
_NOT_RESOURCES = ("pulumi:pulumi:Stack", "pulumi:providers:")
_CHANGED_OPS = {"create", "update", "replace", "delete", "create-replacement", "delete-replaced"}
_DRIFT_OPS = {"update", "delete", "replace"}
_PENDING_WARNING = re.compile(r"with \d+ pending operations?|pending operations? from (?:a )?previous", re.I)

PROJECT_NAME = "driftless"  # Pulumi.yaml's name


@contextlib.contextmanager
def _stack_selection(state_dir: Path) -> Iterator[None]:
    """`pulumi stack select` (and `stack init`) rewrite the workspace's current-stack file, so
    never two at once, across the engine workers of one state directory."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "stack-selection.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _inline_program(project_dir: Path) -> Callable[[], None]:
    """The project's ``__main__.py``, as ``pulumi up`` in that folder would run it."""

    def program() -> None:
        if str(project_dir) not in sys.path:
            sys.path.insert(0, str(project_dir))
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    return program


class _NoSuchStackError(ConfigurationError):
    """Recovery selected a stack that does not exist (it is never created just to be inspected)."""


@dataclass(frozen=True)
class AutomationOptions:
    """How to reach Pulumi. ``None`` means the documented default."""

    project_dir: Path
    state_dir: Path
    backend_url: str | None = None  # default: $PULUMI_BACKEND_URL, else file://<state_dir>/pulumi-state
    secrets_provider: str | None = "passphrase"  # None: whatever the stack already uses
    pulumi_home: str | None = None
    pulumi_root: str | None = None  # a directory with bin/pulumi; default: `pulumi` on PATH
    env: Mapping[str, str] = field(default_factory=dict)  # extra environment for the CLI
    config: Mapping[str, str] = field(default_factory=dict)  # extra stack config, "driftless:key" -> value
    parallel: int | None = None
    operation_timeout: float | None = None  # seconds; cancel and raise OperationTimeoutError after

    def resolved_backend_url(self, environ: Mapping[str, str]) -> str:
        if self.backend_url:
            return self.backend_url
        if environ.get("PULUMI_BACKEND_URL"):
            return environ["PULUMI_BACKEND_URL"]
        return f"file://{(self.state_dir / 'pulumi-state').resolve()}"


class PulumiSession:
    """The Automation API in this process, running the project's ``__main__.py`` as an inline program.

    The daemon never runs it itself: :class:`AutomationDriver` starts one engine worker process per
    operation (``automation.daemon.engine_worker``), which runs a session. An inline program needs no
    Python language host (the CLI talks to this process over ``--client``), and a fresh interpreter
    per operation always runs the program source as it is on disk.
    """

    name = "pulumi"
    drift_detection = True
    reads_live_status = True

    def __init__(self, options: AutomationOptions, *, environ: Mapping[str, str] | None = None):
        self.options = options
        self._environ = dict(os.environ if environ is None else environ)
        self._command: Any = None
        self._lock = threading.Lock()
        self._interrupted: dict[str, str] = {}  # stack -> "cancelled" | "timeout"

    # --- operations

    def preview(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        events = _EventCollector(progress)

        def run(stack: Any) -> OperationResult:
            result = stack.preview(on_event=events, parallel=self.options.parallel, color="never")
            return OperationResult("preview", _counts(result.change_summary), 0.0, {}, events.changes())

        return self._run(target, run)

    def up(
        self, target: StackTarget, *, refresh: bool = False, progress: Progress | None = None
    ) -> OperationResult:
        events = _EventCollector(progress)

        def run(stack: Any) -> OperationResult:
            result = stack.up(
                on_event=events, refresh=refresh or None, parallel=self.options.parallel, color="never"
            )
            if events.pending_operations:
                # The engine only warns and goes on; the interrupted creates it found may exist
                # outside its state, so the daemon's pending-operations recovery must see them.
                raise PendingOperationsError(
                    "the update ran with pending operations from an interrupted update",
                    detail=events.pending_operations,
                )
            return OperationResult(
                "up",
                _counts(result.summary.resource_changes or {}),
                0.0,
                _plain_outputs(result.outputs),
                events.changes(),
            )

        return self._run(target, run)

    def refresh(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        events = _EventCollector(progress)

        def run(stack: Any) -> OperationResult:
            result = stack.refresh(on_event=events, parallel=self.options.parallel, color="never")
            return OperationResult(
                "refresh", _counts(result.summary.resource_changes or {}), 0.0, {}, events.changes()
            )

        return self._run(target, run)

    def check_drift(self, target: StackTarget, progress: Progress | None = None) -> DriftResult:
        events = _EventCollector(progress)
        started = time.monotonic()

        def run(stack: Any) -> DriftResult:
            result = stack.preview_refresh(on_event=events, parallel=self.options.parallel, color="never")
            drifted = events.drifted()
            counts = _counts(result.change_summary)
            missing = counts.update + counts.delete - len(drifted)
            if missing > 0:  # the summary saw more than the events named
                drifted += (ResourceChange("update", "unknown", f"{missing} more resource(s)"),)
            if drifted:
                # What the program only reads (a source Secret, an operator's live status) is
                # somebody else's to change: it differs from the last read, but it is no drift.
                read_only = _read_only_urns(stack.export_stack())
                drifted = tuple(change for change in drifted if change.urn not in read_only)
            return DriftResult(drifted, time.monotonic() - started)

        return self._run(target, run)

    def destroy(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        events = _EventCollector(progress)

        def run(stack: Any) -> OperationResult:
            result = stack.destroy(on_event=events, parallel=self.options.parallel, color="never")
            return OperationResult(
                "destroy", _counts(result.summary.resource_changes or {}), 0.0, {}, events.changes()
            )

        return self._run(target, run)

    def outputs(self, target: StackTarget) -> Mapping[str, Any]:
        return self._run(target, lambda stack: _plain_outputs(stack.outputs()))

    def cancel(self, target: StackTarget) -> None:
        """SIGINT this stack's running ``pulumi`` child: the engine stops at a safe point and saves state."""
        with self._lock:
            self._interrupted.setdefault(target.name, "cancelled")
        for pid in _pulumi_children(target.name):
            with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
                os.kill(pid, signal.SIGINT)

    def recover(self, target: StackTarget) -> RecoveryReport:
        return self.recover_with(target, self.recover_pending)

    def recover_with(
        self, target: StackTarget, inspect_pending: Callable[[StackTarget], RecoveryReport]
    ) -> RecoveryReport:
        """Stale locks here (no CLI needed), then pending operations through ``inspect_pending``."""
        found: list[str] = []
        actions: list[str] = []
        manual: list[str] = []
        live_lock = self._recover_locks(target, found, actions, manual)
        if live_lock:
            manual.append("pending operations were not inspected while another process may hold the stack")
            return RecoveryReport(target.name, tuple(found), tuple(actions), tuple(manual))
        try:
            pending = inspect_pending(target)
        except DriverError as exc:
            if not (found or actions):
                raise  # nothing found and nothing can be checked (e.g. no CLI): the caller decides
            manual.append(f"pending operations could not be inspected: {exc.reason}: {exc.message}")
        else:
            found += pending.found
            actions += pending.actions
            manual += pending.manual
        return RecoveryReport(target.name, tuple(found), tuple(actions), tuple(manual))

    def recover_pending(self, target: StackTarget) -> RecoveryReport:
        found: list[str] = []
        actions: list[str] = []
        manual: list[str] = []
        with contextlib.suppress(_NoSuchStackError):  # never deployed: no state, no pending operations
            self._run(
                target, lambda stack: self._recover_pending(stack, found, actions, manual), create=False
            )
        return RecoveryReport(target.name, tuple(found), tuple(actions), tuple(manual))

    def locked_stacks(self) -> set[str]:
        """Stacks with a lock file in a ``file://`` backend (``.pulumi/locks/**/<stack>/*.json``)."""
        locks_dir = self._locks_dir()
        if locks_dir is None or not locks_dir.is_dir():
            return set()
        return {lock.parent.name for lock in locks_dir.rglob("*.json")}

    # --- plumbing

    def pulumi_command(self) -> Any:
        """The CLI, found once; :class:`CliMissingError` with an install hint when it is not there."""
        with self._lock:
            if self._command is not None:
                return self._command
            root = self.options.pulumi_root
            binary = (
                Path(root, "bin", "pulumi")
                if root
                else shutil.which("pulumi", path=self._environ.get("PATH"))
            )
            if binary is None or not Path(binary).exists():
                raise CliMissingError()
            from pulumi.automation import PulumiCommand

            try:
                self._command = PulumiCommand(root=root) if root else PulumiCommand()
            except Exception as exc:
                raise classify_error(exc) from exc
            return self._command

    def backend_url(self) -> str:
        return self.options.resolved_backend_url(self._environ)

    def _env(self) -> dict[str, str]:
        return {
            "PULUMI_BACKEND_URL": self.backend_url(),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            **self.options.env,
        }

    def check_secrets_provider(self) -> None:
        provider = self.options.secrets_provider
        if provider == "passphrase" and not any(
            v in self._environ or v in self.options.env for v in PASSPHRASE_VARIABLES
        ):
            raise ConfigurationError(
                "the passphrase secrets provider needs PULUMI_CONFIG_PASSPHRASE (or "
                "PULUMI_CONFIG_PASSPHRASE_FILE) in the environment"
            )

    def _locks_dir(self) -> Path | None:
        backend = self.backend_url()
        if not backend.startswith("file://"):
            return None
        return Path(urlparse(backend).path) / ".pulumi" / "locks"

    def _stack(self, target: StackTarget, *, create: bool = True) -> Any:
        command = self.pulumi_command()
        self.check_secrets_provider()
        from pulumi import automation as auto

        backend = self.backend_url()
        if backend.startswith("file://"):
            Path(urlparse(backend).path).mkdir(parents=True, exist_ok=True)
        options = auto.LocalWorkspaceOptions(
            work_dir=str(self.options.project_dir),
            pulumi_home=self.options.pulumi_home,
            env_vars=self._env(),
            secrets_provider=self.options.secrets_provider,
            pulumi_command=command,
        )
        select = auto.create_or_select_stack if create else auto.select_stack
        with _stack_selection(self.options.state_dir):
            try:
                stack = select(
                    target.name,
                    project_name=PROJECT_NAME,
                    program=_inline_program(self.options.project_dir),
                    opts=options,
                )
            except auto.StackNotFoundError as exc:
                if create:
                    raise
                raise _NoSuchStackError(f"stack {target.name} does not exist", detail=str(exc)) from exc
        wanted = {"driftless:stackFile": str(target.stack_file.resolve()), **self.options.config}
        if target.observations_file is not None:
            wanted["driftless:observationsFile"] = str(target.observations_file.resolve())
        current = stack.get_all_config()
        changed = {
            k: auto.ConfigValue(value=v)
            for k, v in wanted.items()
            if getattr(current.get(k), "value", None) != v
        }
        if changed:  # written only when different, so Pulumi.<stack>.yaml is not rewritten every cycle
            stack.set_all_config(changed)
        return stack

    def _run(self, target: StackTarget, operation: Callable[[Any], Any], *, create: bool = True) -> Any:
        started = time.monotonic()
        timer = None
        if self.options.operation_timeout:
            timer = threading.Timer(self.options.operation_timeout, self._time_out, args=(target,))
            timer.daemon = True
            timer.start()
        try:
            result = operation(self._stack(target, create=create))
        except DriverError:
            raise
        except Exception as exc:  # KeyboardInterrupt and SystemExit are not failures of the stack
            with self._lock:
                interrupted = self._interrupted.pop(target.name, None)
            if interrupted == "timeout":
                raise OperationTimeoutError(
                    f"cancelled after {self.options.operation_timeout:g} s", detail=str(exc)
                ) from exc
            if interrupted == "cancelled":
                raise OperationCancelledError("cancelled on shutdown", detail=str(exc)) from exc
            error = classify_error(exc)
            if isinstance(error, StackLockedError) and self._locks_dir() is None:
                error.person_step = (
                    f"stack {target.name} stays locked in {self.backend_url()}; once you know the update "
                    f"holding it is gone, run `pulumi cancel --stack {target.name}` "
                    f"in {self.options.project_dir}"
                )
            raise error from exc
        finally:
            if timer is not None:
                timer.cancel()
        with self._lock:
            self._interrupted.pop(target.name, None)
        if isinstance(result, OperationResult):
            return OperationResult(
                result.kind, result.changes, time.monotonic() - started, result.outputs, result.resources
            )
        return result

    def _time_out(self, target: StackTarget) -> None:
        with self._lock:
            self._interrupted[target.name] = "timeout"
        self.cancel(target)

    # --- recovery

    def _recover_locks(
        self, target: StackTarget, found: list[str], actions: list[str], manual: list[str]
    ) -> bool:
        """Remove stale local-backend locks; True when a lock that may be live remains."""
        locks_dir = self._locks_dir()
        if locks_dir is None:
            return False
        live = False
        for lock in sorted(locks_dir.rglob("*.json")) if locks_dir.is_dir() else []:
            if lock.parent.name != target.name:
                continue
            holder = lock_holder(lock)
            if holder is None:  # released since the listing
                continue
            pid, owner = holder.pid, holder.record
            user, since = owner.get("username", "?"), owner.get("timestamp", "?")
            who = f"{user}@{holder.host or '?'} (pid {pid}) since {since}"
            if holder.gone:
                lock.unlink(missing_ok=True)
                found.append(f"stale lock by {who}")
                actions.append(f"removed stale lock {lock.name}: its owner pid {pid} is no longer running")
            else:
                live = True
                found.append(f"lock by {who}")
                manual.append(
                    f"stack {target.name} is locked by {who}; if that update is really gone, run "
                    f"`pulumi cancel --stack {target.name}`"
                )
        return live

    def _recover_pending(self, stack: Any, found: list[str], actions: list[str], manual: list[str]) -> None:
        command = self.pulumi_command()
        env = {
            **self._env(),
            **({"PULUMI_HOME": self.options.pulumi_home} if self.options.pulumi_home else {}),
        }
        cwd = str(self.options.project_dir)
        # Exported without --show-secrets: secret values stay ciphertext, on disk and in memory.
        exported = command.run(["stack", "export", "--stack", stack.name], cwd, env)
        state = json.loads(exported.stdout or "{}")
        deployment = state.get("deployment") or {}
        pending = deployment.get("pending_operations") or []
        if not pending:
            return
        described = [f"{p.get('type', '?')} {p.get('resource', {}).get('urn', '?')}" for p in pending]
        found.append(f"{len(pending)} pending operation(s): {'; '.join(described)}")
        for operation in pending:
            resource = operation.get("resource", {})
            if operation.get("type") == "creating" and not str(resource.get("type", "")).startswith(
                "kubernetes:"
            ):
                manual.append(
                    f"interrupted create of {resource.get('urn', '?')}: it may exist outside Pulumi's state; "
                    "import it (`pulumi import`) or delete it"
                )
        deployment["pending_operations"] = []
        state["deployment"] = deployment
        scratch = self.options.state_dir / "recovery" / f"{stack.name}.json"
        atomic_write(scratch, json.dumps(state), mode=0o600)
        try:
            command.run(["stack", "import", "--file", str(scratch), "--stack", stack.name], cwd, env)
        finally:
            scratch.unlink(missing_ok=True)
        actions.append(f"cleared {len(pending)} pending operation(s) (export, drop, import)")
        stack.refresh(color="never")
        actions.append("refreshed the stack so its state matches what exists")


class AutomationDriver:
    """A :class:`~automation.daemon.driver.Driver` over the Pulumi Automation API, one engine worker
    process per operation (see :mod:`automation.daemon.engine_worker`).

    What needs no engine (finding the CLI, the passphrase check, the backend, lock files) is
    answered here, so a missing CLI fails at once without starting a worker.
    """

    name = "pulumi"
    drift_detection = True
    reads_live_status = True

    def __init__(self, options: AutomationOptions, *, environ: Mapping[str, str] | None = None):
        self.options = options
        self._environ = dict(os.environ if environ is None else environ)
        self._session = PulumiSession(options, environ=self._environ)
        self._workers: dict[str, subprocess.Popen[str]] = {}
        self._lock = threading.Lock()

    def preview(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        return self._call("preview", target, progress)  # type: ignore[no-any-return]

    def up(
        self, target: StackTarget, *, refresh: bool = False, progress: Progress | None = None
    ) -> OperationResult:
        return self._call("up", target, progress, refresh=refresh)  # type: ignore[no-any-return]

    def refresh(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        return self._call("refresh", target, progress)  # type: ignore[no-any-return]

    def check_drift(self, target: StackTarget, progress: Progress | None = None) -> DriftResult:
        return self._call("check_drift", target, progress)  # type: ignore[no-any-return]

    def destroy(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        return self._call("destroy", target, progress)  # type: ignore[no-any-return]

    def outputs(self, target: StackTarget) -> Mapping[str, Any]:
        return self._call("outputs", target, None)  # type: ignore[no-any-return]

    def recover(self, target: StackTarget) -> RecoveryReport:
        return self._session.recover_with(
            target,
            lambda stack: self._call("recover_pending", stack, None),  # type: ignore[no-any-return]
        )

    def cancel(self, target: StackTarget) -> None:
        """SIGINT the stack's worker: its engine stops at a safe point and saves state."""
        with self._lock:
            worker = self._workers.get(target.name)
        if worker is not None and worker.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                worker.send_signal(signal.SIGINT)

    def locked_stacks(self) -> set[str]:
        return self._session.locked_stacks()

    def pulumi_command(self) -> Any:
        return self._session.pulumi_command()

    def backend_url(self) -> str:
        return self._session.backend_url()

    def _call(self, operation: str, target: StackTarget, progress: Progress | None, **extra: Any) -> Any:
        from automation.daemon import engine_worker

        self._session.pulumi_command()
        self._session.check_secrets_provider()
        request = {
            "operation": operation,
            "options": engine_worker.options_to_json(self.options),
            "target": engine_worker.target_to_json(target),
            "environ": self._environ,
            **extra,
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "automation.daemon.engine_worker"],
            cwd=str(_SOURCE_ROOT),
            # The worker's own environment is this process's, as the CLI's was when operations ran
            # here; the driver's view of it (``environ``) travels in the request.
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(
                    filter(None, (str(_SOURCE_ROOT), os.environ.get("PYTHONPATH")))
                ),
            },
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with self._lock:
            self._workers[target.name] = worker
        stderr_tail: list[str] = []
        reader = threading.Thread(target=_keep_tail, args=(worker.stderr, stderr_tail), daemon=True)
        reader.start()
        outcome: dict[str, Any] | None = None
        try:
            assert worker.stdin is not None
            assert worker.stdout is not None
            worker.stdin.write(json.dumps(request))
            worker.stdin.close()
            for line in worker.stdout:
                try:
                    message = json.loads(line)
                except ValueError:  # not the protocol: something wrote to the worker's stdout early
                    stderr_tail.append(line)
                    continue
                if "progress" in message:
                    if progress is not None:
                        progress(message["progress"])
                else:
                    outcome = message
            worker.wait()
        finally:
            with self._lock:
                self._workers.pop(target.name, None)
            reader.join(timeout=5)
        if outcome is None:
            raise ProgramError(
                f"the engine worker exited with code {worker.returncode} before it answered",
                detail="".join(stderr_tail),
            )
        if "error" in outcome:
            raise engine_worker.error_from_json(outcome["error"])
        return engine_worker.result_from_json(outcome["result"])


_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _keep_tail(stream: Any, tail: list[str], limit: int = 50) -> None:
    for line in stream:
        tail.append(line)
        del tail[:-limit]


# --- engine events -----------------------------------------------------------------------------


class _EventCollector:
    """Turns engine events into progress lines and a list of resource changes."""

    def __init__(self, progress: Progress | None):
        self._progress = progress
        self.pending_operations = ""  # the engine's warning, when it found some
        self._ops: dict[str, ResourceChange] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        for attribute in ("resource_pre_event", "res_outputs_event"):
            step = getattr(event, attribute, None)
            if step is not None:
                self._step(step.metadata, attribute == "resource_pre_event")
        failed = getattr(event, "res_op_failed_event", None)
        if failed is not None:
            self._say(f"  failed {failed.metadata.type} {_name(failed.metadata.urn)}")
        diagnostic = getattr(event, "diagnostic_event", None)
        if (
            diagnostic is not None
            and diagnostic.severity in ("error", "warning")
            and not diagnostic.ephemeral
        ):
            if _PENDING_WARNING.search(diagnostic.message):
                self.pending_operations = " ".join(diagnostic.message.split())
            where = f" {_name(diagnostic.urn)}" if diagnostic.urn else ""
            self._say(f"  {diagnostic.severity}{where}: {' '.join(diagnostic.message.split())}")
        summary = getattr(event, "summary_event", None)
        if summary is not None:
            counts = _counts(summary.resource_changes or {})
            self._say(f"  done in {summary.duration_seconds} s: {counts.describe()}")

    def _step(self, metadata: Any, announce: bool) -> None:
        op = str(getattr(metadata.op, "value", metadata.op))
        if metadata.type.startswith(_NOT_RESOURCES) or op not in _CHANGED_OPS:
            return
        fields = tuple(sorted((metadata.detailed_diff or {}).keys())) or tuple(metadata.diffs or ())
        retained = op == "delete" and bool(getattr(metadata.old, "retain_on_delete", False))
        change = ResourceChange(op, metadata.type, _name(metadata.urn), metadata.urn, fields, retained)
        with self._lock:
            self._ops[metadata.urn] = change
        if announce:
            self._say(f"  {change.describe()}")

    def _say(self, line: str) -> None:
        if self._progress is not None:
            self._progress(line)

    def changes(self) -> tuple[ResourceChange, ...]:
        with self._lock:
            return tuple(self._ops.values())

    def drifted(self) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes() if c.op in _DRIFT_OPS)


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


def _counts(summary: Mapping[Any, int]) -> ChangeCounts:
    by_op = {str(getattr(k, "value", k)): int(v) for k, v in summary.items()}
    return ChangeCounts(
        create=by_op.get("create", 0),
        update=by_op.get("update", 0) + by_op.get("replace", 0),
        delete=by_op.get("delete", 0),
        same=by_op.get("same", 0),
    )


def _read_only_urns(deployment: Any) -> set[str]:
    """URNs of the resources a stack reads (``Resource.get``) rather than manages."""
    resources = (getattr(deployment, "deployment", None) or {}).get("resources") or []
    return {r["urn"] for r in resources if r.get("external")}


def _plain_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Stack outputs without secret ones (status never carries secrets)."""
    return {k: v.value for k, v in outputs.items() if not getattr(v, "secret", False)}


def _pulumi_children(stack: str) -> list[int]:
    """Pids of this process's ``pulumi`` children that operate on ``stack`` (Linux /proc)."""
    found = []
    me = os.getpid()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent != me or not argv or Path(argv[0].decode(errors="replace")).name != "pulumi":
            continue
        args = [a.decode(errors="replace") for a in argv]
        if any(a == "--stack" and i + 1 < len(args) and args[i + 1] == stack for i, a in enumerate(args)):
            found.append(int(entry.name))
    return found
