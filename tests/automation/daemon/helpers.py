"""Test doubles for the daemon: a tiny document kind, a fault-injecting driver, fake observations.

The kind (``Note``) and its render function let the offline driver run the real loader, program
runner and renderer on small stacks, without depending on any domain package. The fake driver
implements the :class:`~automation.daemon.driver.Driver` protocol, records every call, and raises
whatever a test queues — including the Automation API's own ``CommandError`` with realistic
stderr, so the reconciler's error mapping is exercised end to end.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.automation._cmd import CommandResult
from pulumi.automation.errors import create_command_error
from pydantic import Field

from automation.daemon.driver import (
    ChangeCounts,
    DriftResult,
    OperationCancelledError,
    OperationResult,
    Progress,
    RecoveryReport,
    ResourceChange,
    StackTarget,
)
from automation.render.render import RenderResult, render_program
from components.common.spec import SpecModel
from components.context import ProgramSettings, StackContext
from components.documents import Document, StackDocuments, load_stack_file
from components.observations import Observations
from components.program import run_stack
from components.registry import KindRegistration, KindRegistry

# --- a small kind ------------------------------------------------------------------------------


class NoteSpec(SpecModel):
    """A document that registers one resource holding ``data``."""

    data: dict[str, str] = Field(default_factory=dict)
    requeue_after_seconds: int | None = Field(default=None, ge=1)


class Note(pulumi.ComponentResource):
    def __init__(self, name: str, args: NoteSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("driftless:test:Note", name, None, opts)
        pulumi.CustomResource(
            "driftless-test:index:Item",
            f"{name}-item",
            {"data": dict(args.data)},
            pulumi.ResourceOptions(parent=self),
        )
        status: dict[str, Any] = {"phase": "Ready"}
        if args.requeue_after_seconds is not None:
            status["requeueAfterSeconds"] = args.requeue_after_seconds
        self.status = pulumi.Output.from_input(status)
        self.register_outputs({"status": self.status})


def _create_note(document: Document, context: StackContext) -> pulumi.ComponentResource:
    assert isinstance(document.spec, NoteSpec)
    return Note(document.name, document.spec)


REGISTRY = KindRegistry([KindRegistration(kind="Note", spec_model=NoteSpec, create=_create_note)])


def note(name: str, force: str | None = None, **data: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if force is not None:
        metadata["annotations"] = {"driftless.dev/force-reconcile": force}
    return {"kind": "Note", "metadata": metadata, "spec": {"data": data}}


def write_stack(path: Path, *documents: Mapping[str, Any]) -> Path:
    """Save a stack file as an editor does, whole, some time ago (past any debounce window)."""
    return saved(path, yaml.safe_dump_all(list(documents), sort_keys=False) if documents else "# empty\n")


def saved(path: Path, content: str | bytes, *, seconds_ago: float = 3600) -> Path:
    """Write ``content`` with an mtime ``seconds_ago``: a file nobody is writing any more."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    when = time.time_ns() - int(seconds_ago * 1e9)
    os.utime(path, ns=(when, when))
    return path


def render_with(registry: KindRegistry) -> Callable[[StackTarget], RenderResult]:
    """The offline driver's render seam: the real runner and renderer, with ``registry``'s kinds."""

    def render(target: StackTarget) -> RenderResult:
        def program() -> None:
            context = StackContext(
                stack=target.name,
                documents=load_stack_file(target.stack_file, registry),
                observations=Observations.load(target.observations_file),
                settings=ProgramSettings(project_dir=target.stack_file.parent),
            )
            run_stack(context, registry)

        return render_program(program, stack=target.name)

    return render


render_notes = render_with(REGISTRY)


# --- realistic Automation API failures ---------------------------------------------------------


def command_error(stderr: str, stdout: str = "", code: int = 255) -> Exception:
    """What ``pulumi.automation`` raises for a failed CLI command with this output."""
    return create_command_error(CommandResult(stdout=stdout, stderr=stderr, code=code))


LOCKED_STDERR = (
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or "
    "delete the lock file with `pulumi cancel`.\n"
    "  file:///srv/driftless/.driftless/pulumi-state/.pulumi/locks/organization/driftless/dev/"
    "5f1c0a3e-9a57-4c5b-8d0c-2d7b0c5f7a11.json: created by root@daemon-7c9 (pid 4242) at 2026-11-21T11:58:03Z"
)
UNAVAILABLE_STDERR = (
    "error: update failed\n"
    "error: kubernetes:apps/v1:Deployment resource 'api-dev' failed: the server responded with the status "
    "code 503 but did not return more information (get deployments.apps api-dev): Service Unavailable"
)
PROGRAM_STDOUT = (
    "Updating (dev):\n"
    "     Type                 Name           Status                  Info\n"
    " +   pulumi:pulumi:Stack  driftless-dev  **failed**              1 error\n"
    "Diagnostics:\n"
    "  pulumi:pulumi:Stack (driftless-dev):\n"
    "    error: Program failed with an unhandled exception:\n"
    "    Traceback (most recent call last):\n"
    '      File "/srv/driftless/__main__.py", line 44, in <module>\n'
    "        main()\n"
    '      File "/srv/driftless/components/wazuh/component.py", line 88, in __init__\n'
    "        replicas = args.indexer.replicas // 0\n"
    "    ZeroDivisionError: integer division or modulo by zero\n"
)


class SimulatedCrash(BaseException):
    """Stands for the process dying mid-operation: nothing in the daemon may catch it."""


# --- the fault-injecting driver ----------------------------------------------------------------


class FakeDriver:
    """A :class:`~automation.daemon.driver.Driver` that records calls and injects faults."""

    name = "fake"
    drift_detection = True
    reads_live_status = True

    def __init__(self, *, op_seconds: float = 0.0):
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.targets: list[StackTarget] = []  # what each operation was handed, in order
        self.faults: dict[str, list[BaseException]] = {}  # stack -> errors for its next operations
        self.drift: dict[str, tuple[ResourceChange, ...]] = {}
        self.stack_outputs: dict[str, dict[str, Any]] = {}
        self.pending: set[str] = set()  # stacks whose state has pending operations (after a crash)
        self.crash_next_up: set[str] = set()
        self.gate: threading.Event | None = None  # when set up, operations wait for it
        self.cancelled: list[str] = []
        self.recovered: list[str] = []
        self.recover_error: BaseException | None = None
        self.recover_manual: dict[str, tuple[str, ...]] = {}  # stack -> what recovery leaves a person
        self.locked: set[str] = set()  # stacks whose backend holds a lock file
        self.on_operation: Any = None  # called with (kind, stack) as each operation starts
        self.ignore_cancel = False  # an operation that will not stop when asked
        self.op_seconds = op_seconds
        self.active = 0
        self.max_active = 0
        self._cancel_events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def ops(self, kind: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        return [c for c in self.calls if kind is None or c[0] == kind]

    def stacks_operated(self) -> list[str]:
        return sorted(c[1] for c in self.calls if c[0] in ("up", "drift"))

    def fail(self, stack: str, *errors: BaseException) -> None:
        self.faults.setdefault(stack, []).extend(errors)

    def _operate(self, kind: str, target: StackTarget, **kwargs: Any) -> None:
        with self._lock:
            self.calls.append((kind, target.name, kwargs))
            self.targets.append(target)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            cancel = self._cancel_events.setdefault(target.name, threading.Event())
            cancel.clear()
        try:
            if self.on_operation is not None:
                self.on_operation(kind, target.name)
            if self.op_seconds:
                time.sleep(self.op_seconds)
            if self.gate is not None:
                while not self.gate.wait(0.01):
                    if cancel.is_set() and not self.ignore_cancel:
                        raise OperationCancelledError("cancelled on shutdown")
            if target.name in self.crash_next_up and kind == "up":
                self.crash_next_up.discard(target.name)
                self.pending.add(target.name)
                raise SimulatedCrash(target.name)
            if target.name in self.pending:
                raise command_error(
                    "error: the current deployment has 1 resource(s) with pending operations:\n"
                    f"  * urn:pulumi:{target.name}::driftless::driftless:test:Note$driftless-test:index:Item::a-item, "
                    "interrupted while creating"
                )
            queued = self.faults.get(target.name)
            if queued:
                raise queued.pop(0)
        finally:
            with self._lock:
                self.active -= 1

    def preview(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        self._operate("preview", target)
        return OperationResult("preview", ChangeCounts(update=1), 0.0)

    def up(
        self, target: StackTarget, *, refresh: bool = False, progress: Progress | None = None
    ) -> OperationResult:
        self._operate("up", target, refresh=refresh)
        if progress is not None:
            progress("  update driftless-test:index:Item a-item")
        return OperationResult(
            "up", ChangeCounts(create=1, same=2), 0.0, dict(self.stack_outputs.get(target.name, {}))
        )

    def refresh(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        self._operate("refresh", target)
        return OperationResult("refresh", ChangeCounts(same=3), 0.0)

    def check_drift(self, target: StackTarget, progress: Progress | None = None) -> DriftResult:
        self._operate("drift", target)
        return DriftResult(self.drift.get(target.name, ()), 0.0)

    def destroy(self, target: StackTarget, progress: Progress | None = None) -> OperationResult:
        self._operate("destroy", target)
        return OperationResult("destroy", ChangeCounts(delete=3), 0.0)

    def outputs(self, target: StackTarget) -> Mapping[str, Any]:
        return dict(self.stack_outputs.get(target.name, {}))

    def cancel(self, target: StackTarget) -> None:
        with self._lock:
            self.cancelled.append(target.name)
            self._cancel_events.setdefault(target.name, threading.Event()).set()

    def recover(self, target: StackTarget) -> RecoveryReport:
        self.recovered.append(target.name)
        if self.recover_error is not None:
            raise self.recover_error
        self.locked.discard(target.name)
        manual = self.recover_manual.pop(target.name, ())
        if target.name in self.pending:
            self.pending.discard(target.name)
            return RecoveryReport(
                target.name,
                found=("1 pending operation(s): creating a-item",),
                actions=("cleared 1 pending operation(s) (export, drop, import)", "refreshed the stack"),
                manual=manual,
            )
        return RecoveryReport(target.name, manual=manual)

    def locked_stacks(self) -> set[str]:
        return set(self.locked)


# --- observations that a test controls ---------------------------------------------------------


class FakeObservations:
    """The observation store's interface, with material a test can change (e.g. a git head)."""

    def __init__(self) -> None:
        self.material: dict[str, dict[str, Any]] = {}  # stack file name -> fingerprint material
        self.images: dict[str, dict[str, Any]] = {}
        self.saves = 0

    def for_stack(self, documents: StackDocuments, now: Any) -> Observations:
        return Observations(now=now)

    def fingerprint_material(self, documents: StackDocuments, now: Any) -> dict[str, Any]:
        return dict(self.material.get(Path(documents.file).stem, {}))

    def record_outputs(self, stack: str, kind: str, name: str, outputs: Mapping[str, Any]) -> bool:
        if kind != "Project":
            return False
        images = {**outputs.get("lastGoodImages", {}), **outputs.get("pinnedImages", {})}
        changed = self.images.get(name) != images
        self.images[name] = images
        return changed

    def component_checks(self, documents: StackDocuments) -> dict[str, tuple[bool, str]]:
        return {}

    def save(self) -> None:
        self.saves += 1


# --- the real process -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def eventually(condition: Callable[[], bool], timeout: float = 10.0, *, interval: float = 0.05) -> None:
    """Wait until ``condition()`` holds, failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout:g} s")
        time.sleep(interval)
