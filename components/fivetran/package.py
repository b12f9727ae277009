"""The deployment package of a ``connector_sdk`` connection: a connector folder, zipped.

``package: virtuous`` names ``connectors/virtuous``. The factory builds its zip before the component
registers anything, with the shared primitives (``connectors/common``) copied in, deterministically (see
:mod:`components.common.archive`): the same code always gives the same bytes, so the provider's
SHA-256 comparison sees a change only when the code changes.

Where things are, and why:

- Connectors: ``<project>/connectors`` by default; stack config ``driftless:fivetranConnectorsDir``
  (relative to the project, or absolute) points elsewhere, e.g. tests with a throw-away connector.
- The zip: ``<project>/.driftless/packages/<name>-<sha256 prefix>.zip``. ``.driftless/`` is
  git-ignored, and the path is inside the project so it can be given to the provider **relative to
  the project**: the provider stores ``file_path`` in the state and diffs it like any input, so an
  absolute path would show a change from every other checkout or machine. It resolves because
  Pulumi starts providers with the project folder (where ``Pulumi.yaml`` and ``__main__.py`` are,
  i.e. ``ProgramSettings.project_dir``) as their working directory, whatever folder the command
  was run from. The zip itself is written at its absolute path, so the render works from anywhere.
- The hash in the name: the provider would see changed code by itself (it hashes the file while
  planning), but a render cannot; with the hash in ``file_path``, a code change shows in the
  rendered inputs that review and the daemon's dry-run diff. It also means a file never changes
  under a name: a run still reading an older version is not disturbed by a newer build. Older
  versions are left in place (a few kilobytes each; delete ``.driftless/packages`` at will).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field

from components.common.archive import build_connector_package, package_entries, sha256_of
from components.context import ProgramSettings

CONNECTORS_DIR_OPTION = "fivetranConnectorsDir"
DEFAULT_CONNECTORS_DIR = "connectors"
SHARED_DIR = "common"
PACKAGES_DIR = PurePosixPath(".driftless", "packages")
HASH_CHARS = 16  # of the SHA-256 in the zip's name: enough to never collide between versions


class PackageError(ValueError):
    """A ``package`` that cannot be built: missing folder, no ``connector.py``, clashing files."""


@dataclass(frozen=True)
class ConnectorPackage:
    """A built package: what the provider uploads, and what the status reports."""

    name: str  # the connector folder's name, e.g. "virtuous"
    file_path: str  # the zip, relative to the project folder (POSIX), as the provider gets it
    sha256: str  # the zip's SHA-256, what the provider compares to decide on an upload


class FivetranOptions(BaseModel):
    """Fivetran's stack config: ``driftless:fivetranConnectorsDir``, the folder of the connector
    packages (relative to the project folder)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    connectors_dir: str = Field(default=DEFAULT_CONNECTORS_DIR, alias="fivetranConnectorsDir")


def connectors_root(settings: ProgramSettings) -> Path:
    """The folder holding the connector folders and their shared ``common/``."""
    configured = Path(settings.options_for(FivetranOptions).connectors_dir or DEFAULT_CONNECTORS_DIR)
    return configured if configured.is_absolute() else settings.project_dir / configured


def connector_folder(name: str, settings: ProgramSettings) -> Path:
    """The folder ``package: <name>`` names; raises PackageError when it is not a connector."""
    root = connectors_root(settings)
    folder = root / name
    if not folder.is_dir():
        known = sorted(found.parent.name for found in root.glob("*/connector.py"))
        hint = f" (connectors there: {', '.join(known)})" if known else ""
        raise PackageError(f"no connector folder {name!r} in {_shown(root, settings)}{hint}")
    if not (folder / "connector.py").is_file():
        raise PackageError(
            f"{_shown(folder, settings)} has no connector.py: not a Connector SDK connector folder"
        )
    return folder


def check_package(name: str, settings: ProgramSettings) -> None:
    """Raise PackageError when ``package: <name>`` could not be built (nothing is written)."""
    folder = connector_folder(name, settings)
    shared = connectors_root(settings) / SHARED_DIR
    try:
        package_entries(folder, [shared] if shared.is_dir() else [])
    except ValueError as exc:  # a shared file clashing with the connector's own
        raise PackageError(str(exc)) from None


def build_package(name: str, settings: ProgramSettings) -> ConnectorPackage:
    """Zip ``package: <name>`` into ``.driftless/packages/`` and describe the result.

    Raises PackageError for anything the document's author must fix.
    """
    folder = connector_folder(name, settings)
    shared = connectors_root(settings) / SHARED_DIR
    out_dir = settings.project_dir / PACKAGES_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    # Built in a private folder, then renamed to its content's name: another program building
    # the same connector at the same time never sees (or renames) this build's file.
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=f".{name}.") as scratch:
        try:
            built = build_connector_package(folder, [shared] if shared.is_dir() else [], Path(scratch))
        except ValueError as exc:  # a shared file clashing with the connector's own
            raise PackageError(str(exc)) from None
        sha256 = sha256_of(built)
        zip_name = f"{name}-{sha256[:HASH_CHARS]}.zip"
        os.replace(built, out_dir / zip_name)
    return ConnectorPackage(name=name, file_path=(PACKAGES_DIR / zip_name).as_posix(), sha256=sha256)


def _shown(path: Path, settings: ProgramSettings) -> str:
    """``path`` relative to the project when inside it: messages read the same on every machine."""
    try:
        return path.relative_to(settings.project_dir).as_posix() + "/"
    except ValueError:
        return f"{path}/"
