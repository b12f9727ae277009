"""Deterministic deployment packages for Connector SDK connectors.

A ``FivetranConnector`` with ``service: connector_sdk`` and ``package: connectors/<name>`` uploads a
zip of the connector's folder, with the shared primitives (``connectors/common``) copied in beside
``connector.py``. The provider detects changes by the zip's SHA-256, so the zip must depend on the
code only: entries are sorted by path, every entry has the same timestamp (1980-01-01, the
earliest a zip can hold) and a fixed mode (0644, or 0755 for an executable source file), the
archive has no comment and no directory entries, and the files are stored uncompressed, because
deflate output differs between zlib builds (zlib-ng, for one) and the same code would then hash
differently on two machines. The package is small: uncompressed costs nothing that matters.

Left out, wherever they are: ``configuration.json`` (local secrets), ``__pycache__`` and compiled
files, hidden files and folders (``.env``, ``.venv``, tool caches) and virtual environments; and at
the connector's root, what ``fivetran debug`` writes: ``files/`` (the DuckDB warehouse, the state)
and ``crash-reports/``.

Run as a module to build (and optionally unpack) a package by hand, for instance to debug exactly
what is deployed::

    python -m components.common.archive connectors/virtuous --unpack .driftless/debug/virtuous
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o644
_EXECUTABLE_MODE = 0o755
EXCLUDED_FILES = frozenset({"configuration.json", "tmp_requirements.txt"})
EXCLUDED_DIRS = frozenset({"__pycache__"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
# At the connector's root only: where `fivetran debug` keeps its warehouse and state, and its crash reports.
OUTPUT_DIRS = frozenset({"files", "crash-reports"})


def _is_virtualenv(directory: Path) -> bool:
    return (directory / "pyvenv.cfg").is_file()


def _package_files(root: Path, prefix: PurePosixPath, *, connector_root: bool) -> dict[str, Path]:
    """The files under ``root`` to package, by their path inside the zip."""
    found: dict[str, Path] = {}
    for directory, subdirectories, files in os.walk(root):
        here = Path(directory)
        subdirectories[:] = [
            name
            for name in subdirectories
            if not name.startswith(".")
            and name not in EXCLUDED_DIRS
            and not (connector_root and here == root and name in OUTPUT_DIRS)
            and not _is_virtualenv(here / name)
        ]
        for name in files:
            if name.startswith(".") or name in EXCLUDED_FILES or name.endswith(EXCLUDED_SUFFIXES):
                continue
            relative = (here / name).relative_to(root)
            found[str(prefix / PurePosixPath(*relative.parts))] = here / name
    return found


def package_entries(connector_dir: Path, shared_dirs: list[Path]) -> dict[str, Path]:
    """What the package of ``connector_dir`` holds: archive path -> source file, in archive order.

    Each shared folder is copied in under its own name (``connectors/common`` -> ``common/``).
    Raises ValueError when the connector has no ``connector.py`` or a shared file would overwrite
    one of the connector's own.
    """
    connector_dir = Path(connector_dir)
    if not (connector_dir / "connector.py").is_file():
        raise ValueError(f"{connector_dir} has no connector.py: not a Connector SDK connector folder")
    entries = _package_files(connector_dir, PurePosixPath(), connector_root=True)
    for shared in shared_dirs:
        shared = Path(shared)
        if not shared.is_dir():
            raise ValueError(f"shared folder {shared} does not exist")
        for path, source in _package_files(shared, PurePosixPath(shared.name), connector_root=False).items():
            if path in entries:
                raise ValueError(f"{shared}: {path} would overwrite the connector's own {path}")
            entries[path] = source
    return dict(sorted(entries.items()))


def _mode(source: Path) -> int:
    executable = source.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return _EXECUTABLE_MODE if executable else _FILE_MODE


def build_connector_package(connector_dir: Path, shared_dirs: list[Path], out_dir: Path) -> Path:
    """Writes ``<out_dir>/<connector name>.zip`` and returns its path.

    The same code always gives the same bytes (see the module docstring). The file is written
    to a temporary name and renamed, so a reader never sees half a zip.
    """
    connector_dir = Path(connector_dir)
    entries = package_entries(connector_dir, shared_dirs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{connector_dir.resolve().name}.zip"
    handle, temporary = tempfile.mkstemp(dir=out_dir, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_STORED) as archive:
            for path, source in entries.items():
                info = zipfile.ZipInfo(path, date_time=FIXED_TIMESTAMP)
                info.create_system = 3  # Unix, so the mode below is what unzip applies
                info.external_attr = (stat.S_IFREG | _mode(source)) << 16
                info.compress_type = zipfile.ZIP_STORED
                archive.writestr(info, source.read_bytes())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of a file (what the Fivetran provider compares to detect a changed package)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Command line: build a connector's package, print its path and SHA-256, optionally unpack it."""
    import argparse
    import zipfile

    parser = argparse.ArgumentParser(prog="python -m components.common.archive", description=main.__doc__)
    parser.add_argument("connector_dir", type=Path, help="the connector folder, e.g. connectors/virtuous")
    parser.add_argument(
        "--shared",
        type=Path,
        action="append",
        help="a shared folder to copy in (repeatable); default: the connector's sibling 'common' folder",
    )
    parser.add_argument(
        "--out", type=Path, default=Path(".driftless/packages"), help="where to write the zip"
    )
    parser.add_argument("--unpack", type=Path, help="also unpack the package into this folder")
    args = parser.parse_args(argv)
    shared = args.shared
    if shared is None:
        sibling = args.connector_dir.resolve().parent / "common"
        shared = [sibling] if sibling.is_dir() else []
    package = build_connector_package(args.connector_dir, shared, args.out)
    print(f"{package} sha256={sha256_of(package)}")
    if args.unpack:
        with zipfile.ZipFile(package) as archive:
            archive.extractall(args.unpack)
        print(f"unpacked into {args.unpack}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
