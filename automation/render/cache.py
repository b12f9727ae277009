"""Finished renders kept by the fingerprint of everything a render is made from.

A stack's key covers its stack file (path and bytes), its observations file (path and bytes),
its ``Pulumi.<stack>.yaml``, the render's ``driftless:*`` config, its conflicts with the other
stack files of its cluster, the schemas objects are validated against (the Kubernetes version,
strictness, and every file of the CRD schema directory), and the code that renders it: the
project files, ``__main__.py``, ``components/``, ``connectors/``, the renderer itself and the
versions of the packages it renders with. Equal key: the render printed last time, byte for byte,
at the cost of hashing those files.

An observations file without ``now`` is rendered against the clock (a preview's expiry depends on
it), so such a render is never kept. Without any observations file nothing is observed, no
preview exists and the clock plays no part.

The cache lives outside the work tree (``$DRIFTLESS_RENDER_CACHE``, else
``$XDG_CACHE_HOME/driftless/render``, else ``~/.cache/driftless/render``); entries are written
atomically, so a reader never sees half of one, and one that cannot be read is rendered again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from automation.render.schemas import SchemaValidator
from components.documents import SpecError

CACHE_ENV = "DRIFTLESS_RENDER_CACHE"
# Bumped when an entry's layout changes, so older entries are simply never found.
ENTRY_FORMAT = 1
# Files whose change changes what any stack renders, besides the sources found below.
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml", "requirements.txt", "__main__.py")
SOURCE_DIRS = ("components", "connectors", "automation/render")
RENDERER_MODULES = ("automation/stack_inputs.py",)
# Packages whose version can change a render: the SDKs, the schemas and the validators.
PACKAGES = (
    "pulumi",
    "pulumi-kubernetes",
    "pulumi-tls",
    "pulumi-random",
    "pulumi-vault",
    "pulumi-provider-fivetran",
    "kubernetes-validate",
    "jsonschema",
    "pydantic",
    "pyyaml",
)


@dataclass(frozen=True)
class StackToRender:
    """One stack of a batch: its name, its file and the observations it is rendered with."""

    name: str
    stack_file: Path
    observations: Path | None = None


@dataclass(frozen=True)
class CachedRender:
    text: str  # what ``render --format json`` prints
    ok: bool


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "driftless" / "render"


class RenderCache:
    """Renders by key; the parts every stack shares are hashed once, when the cache is opened."""

    def __init__(
        self,
        directory: Path,
        *,
        project_dir: Path,
        validator: SchemaValidator,
        config: Mapping[str, str] | None = None,
    ):
        self.directory = directory
        self.project_dir = project_dir
        self._shared = _digest(
            {
                "format": ENTRY_FORMAT,
                "code": code_digest(project_dir),
                "packages": package_versions(),
                "schemas": schema_material(validator),
                "config": dict(config or {}),
            }
        )

    def key(
        self, stack: StackToRender, conflicts: Sequence[SpecError] = (), *, across_stacks: bool
    ) -> str | None:
        """The stack's key, or None when its render must not be kept (see the module docstring)."""
        try:
            content = stack.stack_file.read_bytes()
            observations = stack.observations.read_bytes() if stack.observations is not None else None
        except OSError:  # the render reports what cannot be read
            return None
        if observations is not None and not _pins_now(observations):
            return None
        parts = {
            "shared": self._shared,
            "stack": stack.name,
            "file": str(stack.stack_file),
            "content": _sha(content),
            "observationsFile": str(stack.observations) if stack.observations is not None else None,
            "observations": _sha(observations) if observations is not None else None,
            "stackConfig": {n: self._stack_config(n) for n in sorted({stack.name, stack.stack_file.stem})},
            "acrossStacks": across_stacks,
            "conflicts": [str(error) for error in conflicts],
        }
        return _digest(parts).removeprefix("sha256:")

    def get(self, key: str) -> CachedRender | None:
        try:
            header, _, text = self._path(key).read_text(encoding="utf-8").partition("\n")
            return CachedRender(text, bool(json.loads(header)["ok"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, render: CachedRender) -> None:
        """Keep a render; a cache that cannot be written costs a render next time, nothing else."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, scratch = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(json.dumps({"ok": render.ok}) + "\n" + render.text)
                os.replace(scratch, path)
            except BaseException:
                Path(scratch).unlink(missing_ok=True)
                raise
        except OSError:
            return

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def _stack_config(self, stack: str) -> str | None:
        for suffix in (".yaml", ".yml", ".json"):
            try:
                return _sha((self.project_dir / f"Pulumi.{stack}{suffix}").read_bytes())
            except FileNotFoundError:
                continue
        return None


def code_digest(project_dir: Path) -> str:
    """Every file of the program and of the renderer, by path relative to the project and content."""
    files = [project_dir / name for name in (*PROJECT_FILES, *RENDERER_MODULES)]
    for folder in SOURCE_DIRS:
        files.extend(_files_under(project_dir / folder))
    return _digest(
        [
            (os.path.relpath(path, project_dir), _sha(path.read_bytes()))
            for path in sorted(set(files))
            if path.is_file()
        ]
    )


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def schema_material(validator: SchemaValidator) -> dict[str, Any]:
    """What objects are validated against: the Kubernetes version and each CRD schema file."""
    crds = validator.crd_schema_dir
    files = sorted(p for p in crds.iterdir() if p.is_file()) if crds is not None and crds.is_dir() else []
    return {
        "kubernetesVersion": validator.kubernetes_version,
        "strict": validator.strict,
        "crdSchemaDir": str(crds) if crds is not None else None,
        "crdSchemas": [(p.name, _sha(p.read_bytes())) for p in files],
    }


def _files_under(folder: Path) -> Iterable[Path]:
    if not folder.is_dir():
        return []
    return (p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _pins_now(observations: bytes) -> bool:
    try:
        data = json.loads(observations)
    except ValueError:
        return True  # the render reports the broken file, whatever the clock says
    return not isinstance(data, dict) or "now" in data


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return _sha(text.encode("utf-8"))
