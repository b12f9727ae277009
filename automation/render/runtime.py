"""Run a Pulumi program under Pulumi's own mock runtime and record what it registers.

This is how driftless renders offline: the program is the real one, resources are registered with
a :class:`RecordingMonitor` (a :class:`pulumi.runtime.mocks.MockMonitor` that keeps every
registration), and no engine, CLI or provider is involved. By default it runs as a *preview*: a
value that only a provider could compute (a generated key, a server-assigned id, live status)
stays unknown, which is honest about what review can know. Tests pass realistic per-type outputs
instead, through :class:`OfflineMocks`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import mocks, rpc
from pulumi.runtime import resource as pulumi_resource
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2, source_pb2
from pulumi.runtime.settings import ROOT, SETTINGS, get_project, get_stack
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from components.common import live

STACK_TYPE = "pulumi:pulumi:Stack"

OutputsFor = Callable[[mocks.MockResourceArgs], Mapping[str, Any]]
"""Given a registration, the output properties a provider would report (beyond its inputs)."""

CallResult = Callable[[mocks.MockCallArgs], Mapping[str, Any]]
"""Given a provider function call, its result."""


@dataclass(frozen=True)
class RecordedResource:
    """One registration as the engine would have received it."""

    type: str
    name: str
    urn: str
    parent_urn: str | None
    custom: bool
    inputs: Mapping[str, Any]  # deserialized: secrets wrapped, unknowns as pulumi Unknown
    read_id: str | None = None  # set for a read of an existing resource (``Resource.get``)
    retain_on_delete: bool = False  # the ``retain_on_delete`` resource option (reads have none)
    import_id: str | None = None  # the ``import_`` option: an existing resource adopted, not created
    replace_on_changes: tuple[str, ...] = ()  # the ``replace_on_changes`` option
    dependencies: tuple[str, ...] = ()  # URNs it depends on, explicitly or through its inputs


@dataclass
class Recording:
    """Everything one program run registered."""

    stack: str
    resources: list[RecordedResource] = field(default_factory=list)
    # URN -> outputs registered with register_outputs (components and the stack itself)
    outputs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    calls: list[mocks.MockCallArgs] = field(default_factory=list)
    # the program's stack transforms: kept, never run (the engine runs them, the mock monitor does not)
    transforms: list[pulumi.ResourceTransform] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # the program's pulumi.log.warn messages

    def stack_outputs(self) -> Mapping[str, Any]:
        return next((outs for urn, outs in self.outputs.items() if urn.split("::")[2] == STACK_TYPE), {})


class OfflineMocks(mocks.Mocks):
    """Mocks that echo inputs and add per-type outputs; calls are answered per function token.

    With no entry for a type, a resource's outputs are its inputs: under a preview every other
    output property is then unknown, as the engine would report it before the provider runs.
    An unanswered call is unknown under a preview (offline, nothing can answer it: a Vault read,
    a lookup of a live object) and an empty result otherwise.
    """

    def __init__(
        self,
        outputs: Mapping[str, OutputsFor] | None = None,
        calls: Mapping[str, CallResult] | None = None,
    ):
        self._outputs = dict(outputs or {})
        self._calls = dict(calls or {})

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        extra = self._outputs.get(args.typ)
        if extra is not None:
            state.update(extra(args))
        return self.id_for(args.name, args.resource_id), state

    @staticmethod
    def id_for(name: str, import_id: str | None) -> str:
        """The id a resource gets: the one it is imported with, else one made from its name."""
        return import_id or f"{name}-id"

    def answers(self, token: str) -> bool:
        return token in self._calls

    def adds_nothing_to(self, type_token: str) -> bool:
        """Whether the answer for a resource of this type is exactly its inputs: no outputs are
        given for the type, and no subclass answers in a way of its own."""
        return type_token not in self._outputs and type(self).new_resource is OfflineMocks.new_resource

    def call(self, args: mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        answer = self._calls.get(args.token)
        return dict(answer(args)) if answer else {}


class _ProgramLog(logging.Logger):
    """The engine's log under the mock runtime: the program's warnings are kept for the render."""

    def __init__(self, recording: Recording):
        # The SDK logs a debug line per resource; below WARNING nothing is kept, so none is built.
        super().__init__("driftless.render.program", level=logging.WARNING)
        self._recording = recording

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self._recording.warnings.append(str(msg))


class RecordingMonitor(mocks.MockMonitor):
    """A mock monitor that keeps every registration, read, call and registered output."""

    def __init__(self, mock: mocks.Mocks, recording: Recording):
        super().__init__(mock)
        self.recording = recording
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        if request.type == STACK_TYPE:
            return super().RegisterResource(request)
        _ensure_event_loop()  # deserializing a resource reference needs one on this thread
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        mock = self.mocks
        # The mocks' answer is exactly the inputs when they add no outputs of their own to the type
        # and no input is unknown (the mock monitor would drop it from the answer).
        if (
            isinstance(mock, OfflineMocks)
            and mock.adds_nothing_to(request.type)
            and not rpc.contains_unknowns(inputs)
        ):
            # What the mock monitor answers (the inputs, as they came) without turning them into
            # Python values and back once more: the same bytes, for a third less of a registration.
            urn = self.make_urn(request.parent, request.type, request.name)
            id_ = mock.id_for(request.name, request.importId)
            self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, id_, inputs)
            response = resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=request.object)
        else:
            response = super().RegisterResource(request)
        self._record(request, response.urn, read_id=None, inputs=inputs)
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        response = super().ReadResource(request)
        self._record(request, response.urn, read_id=request.id)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802
        outputs = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
        with self._lock:
            self.recording.outputs[request.urn] = outputs
        return super().RegisterResourceOutputs(request)

    def Invoke(self, request: Any) -> Any:  # noqa: N802
        if SETTINGS.dry_run and isinstance(self.mocks, OfflineMocks) and not self.mocks.answers(request.tok):
            response = resource_pb2.ResourceInvokeResponse(unknown=True)
        else:
            response = super().Invoke(request)
        with self._lock:
            self.recording.calls.append(
                mocks.MockCallArgs(
                    token=request.tok,
                    args=rpc.deserialize_properties(request.args),
                    provider=request.provider,
                )
            )
        return response

    def _record(
        self, request: Any, urn: str, read_id: str | None, inputs: Mapping[str, Any] | None = None
    ) -> None:
        if inputs is None:
            source = request.properties if read_id is not None else request.object
            inputs = rpc.deserialize_properties(source, keep_unknowns=True)
        resource = RecordedResource(
            type=request.type,
            name=request.name,
            urn=urn,
            parent_urn=request.parent or None,
            custom=read_id is not None or bool(request.custom),
            inputs=inputs,
            read_id=read_id,
            retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
            import_id=getattr(request, "importId", "") or None,
            replace_on_changes=tuple(getattr(request, "replaceOnChanges", ())),
            dependencies=tuple(getattr(request, "dependencies", ())),
        )
        with self._lock:
            self.recording.resources.append(resource)


@dataclass(frozen=True)
class _PendingRead:
    name: str
    type: str
    id: Any
    properties: Mapping[str, Any]
    parent: pulumi.Resource | None
    depends_on: Any  # the ``depends_on`` option as given


class _UnansweredReads:
    """The reads of live objects that nothing offline answers, recorded as the monitor would have
    received them (:func:`components.common.live.reads_recorded_by`).

    Under a preview with no realistic outputs for a type, the monitor's answer could only be
    unknown: the read is kept aside instead of registered, and its URN, id and inputs are settled
    once the program is done, when every Output they come from is resolved.
    """

    def __init__(self, mock: OfflineMocks, recording: Recording):
        self._mock = mock
        self._recording = recording
        self._pending: list[_PendingRead] = []

    def answers(self, type_token: str) -> bool:
        return not self._mock.adds_nothing_to(type_token)

    def record(
        self,
        resource_name: str,
        type_token: str,
        id: pulumi.Input[str],
        properties: Mapping[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> None:
        self._pending.append(
            _PendingRead(resource_name, type_token, id, properties, opts.parent, opts.depends_on)
        )

    def settle(self) -> None:
        if self._pending:
            _sync_await(asyncio.gather(*(self._settle(read) for read in self._pending)))
        self._pending.clear()

    async def _settle(self, read: _PendingRead) -> None:
        parent_urn = await _resolved(read.parent.urn) if read.parent is not None else ""
        object_id = await _resolved(read.id)
        inputs = {key: await _resolved(value) for key, value in read.properties.items()}
        # As the SDK sends them: the resources named in ``depends_on`` and those its inputs come from.
        depended_on = await _resources_of(read.depends_on)
        for value in read.properties.values():
            if isinstance(value, pulumi.Output):
                depended_on |= await value.resources()
        dependencies = sorted({await _resolved(resource.urn) for resource in depended_on})
        resource = RecordedResource(
            type=read.type,
            name=read.name,
            urn=_urn(parent_urn, read.type, read.name),
            parent_urn=parent_urn or None,
            custom=True,
            inputs=inputs,
            read_id=rpc.UNKNOWN if isinstance(object_id, Unknown) else str(object_id),
            dependencies=tuple(dependencies),
        )
        self._recording.resources.append(resource)  # the program is done: no monitor thread is left


async def _resources_of(depends_on: Any) -> set[pulumi.Resource]:
    """The resources a ``depends_on`` option names, in any of the forms the option takes."""
    if depends_on is None:
        return set()
    if isinstance(depends_on, pulumi.Output):
        depends_on = await depends_on.future()
    elif inspect.isawaitable(depends_on):
        depends_on = await depends_on
    items = [depends_on] if isinstance(depends_on, pulumi.Resource) else list(depends_on or ())
    found: set[pulumi.Resource] = set()
    for item in items:
        if isinstance(item, pulumi.Output):
            item = await item.future()
        elif inspect.isawaitable(item):
            item = await item
        if isinstance(item, pulumi.Resource):
            found.add(item)
    return found


async def _resolved(value: Any) -> Any:
    """An input's value, unknowns kept as :class:`pulumi.output.Unknown`."""
    if isinstance(value, str | int | float | bool | None):
        return value
    return await pulumi.Output.from_input(value).future(with_unknowns=True)


def _urn(parent_urn: str, type_token: str, name: str) -> str:
    """The URN the mock monitor gives: the parent's own type, then this one's, as the engine does."""
    qualified = f"{parent_urn.split('::')[2].split('$')[-1]}${type_token}" if parent_urn else type_token
    return f"urn:pulumi:{get_stack()}::{get_project()}::{qualified}::{name}"


def run_program(
    program: Callable[[], None],
    *,
    stack: str,
    project: str = "driftless",
    config: Mapping[str, str] | None = None,
    mock: mocks.Mocks | None = None,
    preview: bool = True,
) -> Recording:
    """Run ``program`` once under the mock runtime and return what it registered.

    Exceptions raised by the program propagate unchanged. Each run starts from a clean runtime,
    so runs in one process do not see each other's resources.
    """
    recording = Recording(stack=stack)
    mock = mock or OfflineMocks()
    monitor = RecordingMonitor(mock, recording)
    set_all_config(dict(config or {}), [])
    ROOT.set(None)
    mocks.set_mocks(
        mock, project=project, stack=stack, preview=preview, logger=_ProgramLog(recording), monitor=monitor
    )
    # set_mocks creates and finishes a root stack at once; run our own so exports are registered
    ROOT.set(None)
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    unanswered = _UnansweredReads(mock, recording) if preview and isinstance(mock, OfflineMocks) else None
    try:
        reads = live.reads_recorded_by(unanswered) if unanswered is not None else nullcontext()
        with _offline_sdk(recording), reads:
            _sync_await(run_in_stack(program))
        if unanswered is not None:
            unanswered.settle()
    finally:
        ROOT.set(None)
        SETTINGS.rpc_manager.clear()
        SETTINGS.outputs.clear()
    return recording


@contextmanager
def _replaced(owner: Any, name: str, value: Any) -> Iterator[None]:
    """``owner.name`` is ``value`` while a render runs, and what it was afterwards.

    Renders are the only programs this process runs under the mock runtime, one at a time, so the
    SDK's own function is back as soon as the program is done.
    """
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _offline_sdk(recording: Recording) -> ExitStack:
    """What the SDK does for an engine, and nothing offline needs, left out while a render runs.

    - **Source positions**: the SDK walks and formats the whole Python stack of every resource it
      registers; nothing offline reads them, and on a component's deep stacks that walk was a
      fifth of a render.
    - **Debug messages**: built and sent for most steps of every registration, to a log that keeps
      warnings only. Warnings and errors still reach the render.
    - **Serving stack transforms**: registering one makes the SDK start a gRPC server for the engine
      to call the transform back, for the rest of the program. The mock monitor never runs a
      transform, so nothing would call; that idle server made every render about a tenth slower.
      The transforms are kept in the recording instead.
    """

    def keep(t: pulumi.ResourceTransform) -> None:  # the SDK's own signature
        recording.transforms.append(t)

    skipped = ExitStack()
    if hasattr(pulumi_resource, "_get_stack_trace"):  # an SDK without it: nothing to skip
        skipped.enter_context(_replaced(pulumi_resource, "_get_stack_trace", source_pb2.StackTrace))
    skipped.enter_context(_replaced(pulumi.log, "debug", _ignore_debug))
    skipped.enter_context(_replaced(pulumi.runtime, "register_resource_transform", keep))
    return skipped


def _ignore_debug(msg: str, resource: Any = None, stream_id: Any = None, ephemeral: Any = None) -> None:
    return None
