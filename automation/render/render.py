"""Offline render: the stack's program run under mocks, every object checked against its schema.

``render_stack`` is what ``python -m automation render`` prints and what the daemon's offline
(``--dry-run``) driver diffs between runs. It runs the same ``__main__.py`` that ``pulumi up``
runs, with the stack file and observations handed over as stack config, so review sees exactly
what an update would register.
"""

from __future__ import annotations

import runpy
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi.runtime import mocks

from automation.render import values
from automation.render.runtime import RecordedResource, Recording, run_program
from automation.render.schemas import SchemaValidator
from automation.stack_inputs import ContextOf, StackSet, check_stack_file
from components.common import masking
from components.context import ProgramSettings, StackContext
from components.documents import (
    SpecError,
    StackDocuments,
    StackFileError,
    load_stack_file,
    stack_name_problem,
)
from components.observations import Observations

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROGRAM = PROJECT_DIR / "__main__.py"

# Types that are Kubernetes objects of their own; the provider itself and helpers are not.
_KUBERNETES_PREFIX = "kubernetes:"
_NOT_OBJECTS = ("kubernetes:yaml", "kubernetes:helm", "kubernetes:kustomize")


@dataclass(frozen=True)
class Problem:
    """Something that makes the stack unfit to apply."""

    resource: str
    path: str
    message: str
    file: str | None = None
    line: int | None = None

    def __post_init__(self) -> None:
        # A program's exception or a schema message may quote a value: never a credential.
        object.__setattr__(self, "message", masking.mask_text(self.message))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"resource": self.resource, "path": self.path, "message": self.message}
        if self.file is not None:
            data["file"] = self.file
            data["line"] = self.line
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Problem:
        return cls(data["resource"], data["path"], data["message"], data.get("file"), data.get("line"))

    def __str__(self) -> str:
        if self.file is not None:
            return str(SpecError(self.file, self.line, self.resource, self.path, self.message))
        where = ": ".join(p for p in (self.resource, self.path) if p)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class RenderedResource:
    type: str
    name: str
    parent: str | None
    inputs: Mapping[str, Any]  # display view: secrets masked
    read: str | None = None
    retain_on_delete: bool = False
    import_id: str | None = None  # adopted through Pulumi's import: the existing resource's id
    replace_on_changes: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()  # names of the resources it depends on

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "inputs": self.inputs,
        }
        if self.read is not None:
            data["read"] = self.read
        if self.retain_on_delete:
            data["retainOnDelete"] = True
        if self.import_id is not None:
            data["importId"] = self.import_id
        if self.replace_on_changes:
            data["replaceOnChanges"] = list(self.replace_on_changes)
        return data


@dataclass
class RenderResult:
    """The desired state of one stack, or why there is none."""

    stack: str
    resources: list[RenderedResource] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    outputs: Mapping[str, Any] = field(default_factory=dict)  # stack outputs, display view
    documents: StackDocuments | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RenderResult:
        """Read back what :meth:`to_json` (``render --format json``) wrote."""
        return cls(
            stack=data["stack"],
            resources=[
                RenderedResource(
                    type=r["type"],
                    name=r["name"],
                    parent=r["parent"],
                    inputs=r["inputs"],
                    read=r.get("read"),
                    retain_on_delete=bool(r.get("retainOnDelete", False)),
                    import_id=r.get("importId"),
                    replace_on_changes=tuple(r.get("replaceOnChanges", ())),
                )
                for r in data["resources"]
            ],
            problems=[Problem.from_json(p) for p in data["problems"]],
            warnings=[Problem.from_json(w) for w in data.get("warnings", [])],
            outputs=data.get("outputs", {}),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [r.to_json() for r in self.resources],
            "problems": [p.to_json() for p in self.problems],
            "warnings": [w.to_json() for w in self.warnings],
            "outputs": self.outputs,
        }


@dataclass(frozen=True)
class RenderOptions:
    """How to render: schema checks, and (for tests) mocks with realistic outputs."""

    validator: SchemaValidator | None = None
    mock: mocks.Mocks | None = None
    preview: bool = True
    config: Mapping[str, str] = field(default_factory=dict)  # extra driftless:* stack config


def render_stack(
    stack_file: str | Path,
    *,
    stack: str | None = None,
    observations: Observations | str | Path | None = None,
    options: RenderOptions | None = None,
    stack_set: StackSet | None = None,
) -> RenderResult:
    """Render a stack file by running ``__main__.py`` under the mock runtime.

    With ``stack_set`` (the project's stack files) the file is rejected, too, when it owns a
    namespace that another stack of its cluster owns.
    """
    stack_file = Path(stack_file)
    name_problem = stack_name_problem(stack) if stack else None  # a file's own name is checked as it loads
    stack = stack or stack_file.stem
    options = options or RenderOptions()
    if name_problem is not None:
        return _rejected(stack, StackFileError([SpecError(str(stack_file), None, "", "", name_problem)]))
    context_of = _context_of(stack, observations, options)
    try:
        if stack_set is not None:
            documents = stack_set.load(stack_file, context_of=context_of)
        else:
            documents = check_stack_file(lambda: load_stack_file(stack_file), (), context_of)
    except StackFileError as exc:
        return _rejected(stack, exc)

    with tempfile.TemporaryDirectory(prefix="driftless-render-") as scratch:
        config = {f"driftless:{key}": value for key, value in options.config.items()}
        config["driftless:stackFile"] = str(stack_file.resolve())
        if observations is not None:
            config["driftless:observationsFile"] = _observations_file(observations, Path(scratch))
        result = render_program(
            lambda: runpy.run_path(str(PROGRAM), run_name="__main__"),
            stack=stack,
            config=config,
            options=options,
        )
    result.documents = documents
    return result


def render_program(
    program: Callable[[], Any],
    *,
    stack: str,
    config: Mapping[str, str] | None = None,
    options: RenderOptions | None = None,
) -> RenderResult:
    """Render any program callable (the harness uses it with a test registry)."""
    options = options or RenderOptions()
    try:
        recording = run_program(
            program, stack=stack, config=config, mock=options.mock, preview=options.preview
        )
    except StackFileError as exc:
        return _rejected(stack, exc)
    except Exception as exc:  # noqa: BLE001 (a failing program is a problem to report, not a crash)
        return RenderResult(stack, problems=[Problem("", "", f"program failed: {type(exc).__name__}: {exc}")])
    return _result(recording, options.validator or SchemaValidator())


def _rejected(stack: str, exc: StackFileError) -> RenderResult:
    return RenderResult(
        stack,
        problems=[Problem(e.subject, e.path, e.message, e.file, e.line) for e in exc.errors],
    )


def _context_of(
    stack: str, observations: Observations | str | Path | None, options: RenderOptions
) -> ContextOf:
    """The context the program would check a file's documents in, for a file it never gets to."""

    def context(documents: StackDocuments) -> StackContext | None:
        try:
            observed = (
                observations if isinstance(observations, Observations) else Observations.load(observations)
            )
        except (OSError, ValueError):  # the program reports an unreadable observations file
            return None
        settings = ProgramSettings(PROJECT_DIR, options=dict(options.config))
        return StackContext(stack, documents, observed, settings)

    return context


def _observations_file(observations: Observations | str | Path, scratch: Path) -> str:
    if isinstance(observations, Observations):
        path = scratch / "observations.json"
        path.write_text(observations.to_json(), encoding="utf-8")
        return str(path)
    return str(Path(observations).resolve())


def _result(recording: Recording, validator: SchemaValidator) -> RenderResult:
    names = {r.urn: r.name for r in recording.resources}
    ordered = _tree_order(recording.resources)
    result = RenderResult(recording.stack)
    result.problems.extend(_duplicate_urns(recording.resources))
    for recorded in ordered:
        result.resources.append(
            RenderedResource(
                type=recorded.type,
                name=recorded.name,
                parent=names.get(recorded.parent_urn or ""),
                inputs=values.display(dict(recorded.inputs)),
                read=recorded.read_id,
                retain_on_delete=recorded.retain_on_delete,
                import_id=recorded.import_id,
                replace_on_changes=recorded.replace_on_changes,
                depends_on=tuple(sorted(names[urn] for urn in recorded.dependencies if urn in names)),
            )
        )
        if recorded.read_id is None and _is_kubernetes_object(recorded):
            for finding in validator.validate(values.for_validation(dict(recorded.inputs))):
                target = result.problems if finding.severity == "error" else result.warnings
                target.append(Problem(recorded.name, finding.path, finding.message))
    result.warnings.extend(Problem("", "", message) for message in recording.warnings)
    result.outputs = values.display(dict(recording.stack_outputs()))
    return result


def _duplicate_urns(resources: Iterable[RecordedResource]) -> list[Problem]:
    """A URN holds the parent's type, not its name: two components of one kind can collide, and
    the engine then rejects the whole update. Report it here, before any update is tried."""
    counts: dict[str, int] = {}
    for resource in resources:
        counts[resource.urn] = counts.get(resource.urn, 0) + 1
    return [
        Problem(
            urn.rsplit("::", 1)[-1],
            "",
            f"{count} resources have the URN {urn}; resource names must be unique per type and parent type",
        )
        for urn, count in sorted(counts.items())
        if count > 1
    ]


def _is_kubernetes_object(resource: RecordedResource) -> bool:
    return (
        resource.custom
        and resource.type.startswith(_KUBERNETES_PREFIX)
        and not resource.type.startswith(_NOT_OBJECTS)
        and "apiVersion" in resource.inputs
    )


def _tree_order(resources: Iterable[RecordedResource]) -> list[RecordedResource]:
    """Depth first from the stack, siblings by (type, name): stable whatever the thread timing."""
    children: dict[str | None, list[RecordedResource]] = {}
    urns = {r.urn for r in resources}
    for resource in resources:
        parent = resource.parent_urn if resource.parent_urn in urns else None
        children.setdefault(parent, []).append(resource)
    ordered: list[RecordedResource] = []

    def visit(parent: str | None) -> None:
        for resource in sorted(children.get(parent, []), key=lambda r: (r.type, r.name, r.urn)):
            ordered.append(resource)
            visit(resource.urn)

    visit(None)
    return ordered
