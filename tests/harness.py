"""Test harness: render a spec (a stack file or documents as dicts) and query what it registered.

Every domain's component tests go through :func:`render_spec`, so they exercise the same program,
loader and schema validation as ``python -m automation render``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import mocks

from automation.render.render import RenderedResource, RenderOptions, RenderResult, render_stack
from automation.render.runtime import CallResult, OfflineMocks, OutputsFor
from automation.render.schemas import SchemaValidator
from components.observations import Observations

SHARED_CRDS = Path(__file__).resolve().parents[2] / "shared" / "schemas" / "crds"


class ResourceNotFoundError(AssertionError):
    pass


@dataclass
class RenderedGraph:
    """A render result with queries by type, by name, by parent, and inputs by path."""

    result: RenderResult

    @property
    def resources(self) -> list[RenderedResource]:
        return self.result.resources

    @property
    def problems(self) -> list[str]:
        return [str(p) for p in self.result.problems]

    @property
    def warnings(self) -> list[str]:
        return [str(w) for w in self.result.warnings]

    def of_type(self, type_token: str) -> list[RenderedResource]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str, type_token: str | None = None) -> RenderedResource:
        found = [r for r in self.resources if r.name == name and type_token in (None, r.type)]
        if len(found) != 1:
            known = ", ".join(sorted(f"{r.type} {r.name}" for r in self.resources))
            raise ResourceNotFoundError(
                f"expected one resource named {name!r} ({type_token}), found {len(found)}; have: {known}"
            )
        return found[0]

    def children(self, parent: str) -> list[RenderedResource]:
        return [r for r in self.resources if r.parent == parent]

    def input(self, name: str, path: str, type_token: str | None = None) -> Any:
        """The input at a dotted path (``spec.template.spec.containers[0].image``)."""
        return get_path(self.named(name, type_token).inputs, path)

    def kubernetes_objects(self) -> list[RenderedResource]:
        return [r for r in self.resources if r.type.startswith("kubernetes:") and "apiVersion" in r.inputs]

    def outputs(self) -> Mapping[str, Any]:
        return self.result.outputs


def get_path(data: Any, path: str) -> Any:
    """Follow a dotted path with ``[i]`` indices; raise KeyError naming the missing step."""
    current = data
    for part in _split(path):
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            raise KeyError(f"{path}: no {part!r}") from None
    return current


def _split(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in path.replace("]", "").split("."):
        name, *indices = piece.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indices)
    return parts


def write_stack(documents: Iterable[Mapping[str, Any]], path: Path) -> Path:
    """Write documents as a multi-document stack file."""
    path.write_text(yaml.safe_dump_all(list(documents), sort_keys=False), encoding="utf-8")
    return path


def render_spec(
    spec: str | Path | Iterable[Mapping[str, Any]],
    tmp_path: Path,
    *,
    stack: str = "test",
    observations: Observations | Mapping[str, Any] | None = None,
    outputs: Mapping[str, OutputsFor] | None = None,
    calls: Mapping[str, CallResult] | None = None,
    mock: mocks.Mocks | None = None,
    preview: bool | None = None,
    config: Mapping[str, str] | None = None,
) -> RenderedGraph:
    """Render a stack file path or a list of documents.

    With ``outputs`` or ``calls`` (realistic per-type provider outputs and function results) the
    render runs as an update (``preview=False``) so those values flow through the program; without
    them it runs as a preview, where provider-computed values are unknown.
    """
    if isinstance(spec, (str, Path)):
        stack_file = Path(spec)
    else:
        stack_file = write_stack(spec, tmp_path / f"{stack}.yaml")
    if isinstance(observations, Mapping):
        observations = Observations.model_validate(observations)
    if mock is None and (outputs or calls):
        mock = OfflineMocks(outputs=outputs, calls=calls)
    if preview is None:
        preview = mock is None
    options = RenderOptions(
        validator=SchemaValidator(crd_schema_dir=SHARED_CRDS),
        mock=mock,
        preview=preview,
        config=dict(config or {}),
    )
    return RenderedGraph(render_stack(stack_file, stack=stack, observations=observations, options=options))
