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
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Mapping
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
    Progress,
    RecoveryReport,
    ResourceChange,
    StackTarget,
    classify_error,
)
from automation.files import atomic_write, hostname, pid_alive

PASSPHRASE_VARIABLES = ("PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")
_NOT_RESOURCES = ("pulumi:pulumi:Stack", "pulumi:providers:")
_CHANGED_OPS = {"create", "update", "replace", "delete", "create-replacement", "delete-replaced"}
_DRIFT_OPS = {"update", "delete", "replace"}

# `pulumi stack select` (and `stack init`) rewrite the workspace's current-stack file: never two at once.
_STACK_SELECTION = threading.Lock()


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


class AutomationDriver:
    """A :class:`~automation.daemon.driver.Driver` over the Pulumi Automation API."""

    name = "pulumi"
    drift_detection = True

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
        found: list[str] = []
        actions: list[str] = []
        manual: list[str] = []
        live_lock = self._recover_locks(target, found, actions, manual)
        if live_lock:
            manual.append("pending operations were not inspected while another process may hold the stack")
            return RecoveryReport(target.name, tuple(found), tuple(actions), tuple(manual))
        try:
            self._run(
                target, lambda stack: self._recover_pending(stack, found, actions, manual), create=False
            )
        except _NoSuchStackError:
            pass  # never deployed: no state, so no pending operations
        except DriverError as exc:
            if not (found or actions):
                raise  # nothing found and nothing can be checked (e.g. no CLI): the caller decides
            manual.append(f"pending operations could not be inspected: {exc.reason}: {exc.message}")
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

    def _check_secrets_provider(self) -> None:
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
        self._check_secrets_provider()
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
        with _STACK_SELECTION:
            try:
                stack = select(target.name, work_dir=str(self.options.project_dir), opts=options)
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
            raise classify_error(exc) from exc
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
            try:
                owner = json.loads(lock.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                owner = {}
            pid, host = int(owner.get("pid", 0) or 0), str(owner.get("hostname", ""))
            who = (
                f"{owner.get('username', '?')}@{host or '?'} (pid {pid}) since {owner.get('timestamp', '?')}"
            )
            if host == hostname() and not pid_alive(pid):
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


# --- engine events -----------------------------------------------------------------------------


class _EventCollector:
    """Turns engine events into progress lines and a list of resource changes."""

    def __init__(self, progress: Progress | None):
        self._progress = progress
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
        change = ResourceChange(op, metadata.type, _name(metadata.urn), metadata.urn, fields)
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
