"""``python -m automation engine build``: the engine's binaries, built from Go modules or found built.

Every binary lands in a cache outside the work tree, one folder per piece keyed by what decides
its bytes (the piece's row and its wrapper module's files), so a warm cache costs a hash per piece
and a changed pin builds exactly that piece again::

    ~/.cache/driftless/engine/            ($DRIFTLESS_ENGINE_CACHE)
      pulumi-v3.276.0-<key>/bin/pulumi
      pulumi-resource-kubernetes-4.25.0-<key>/bin/pulumi-resource-kubernetes
      src/<wrapper>-<key>/                 the wrapper copied, with generated files, for `go build`
      pulumi-home/                         PULUMI_HOME: providers installed as their SDKs ask

Go runs with ``GOTOOLCHAIN=local`` (never another toolchain fetched), ``CGO_ENABLED=0`` and the
module proxy for module downloads only. Nothing is downloaded when Pulumi runs: plugin acquisition
and update checks are switched off in :func:`engine_environment`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from automation.engine.pieces import PIECES, Piece, piece

CACHE_ENV = "DRIFTLESS_ENGINE_CACHE"
WRAPPERS_DIR = Path(__file__).resolve().parents[2] / "engine"
_ERROR_TAIL_LINES = 15


class EngineBuildError(Exception):
    def __init__(self, piece: Piece, output: str):
        tail = "\n".join(output.strip().splitlines()[-_ERROR_TAIL_LINES:])
        super().__init__(f"building {piece.name} from {piece.module}@{piece.served_version} failed:\n{tail}")
        self.piece = piece


class EngineMissingError(Exception):
    """A binary the caller needs is not built yet."""


@dataclass(frozen=True)
class PieceState:
    piece: Piece
    path: Path
    status: str  # built | cached | missing | failed
    seconds: float = 0.0
    detail: str = ""


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get(CACHE_ENV) or Path.home() / ".cache" / "driftless" / "engine").expanduser()


def piece_key(piece: Piece) -> str:
    digest = hashlib.sha256(
        repr(
            (piece.name, piece.package, piece.module, piece.served_version, piece.ldflags, piece.tags)
        ).encode()
    )
    if piece.generator:
        digest.update(repr(piece.generator).encode())
    for name, path in _wrapper_files(WRAPPERS_DIR / piece.wrapper):
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _wrapper_files(wrapper: Path) -> list[tuple[str, Path]]:
    """Every file of a wrapper (its go.mod, go.sum and own Go packages, a shim module's included)
    by relative path, in a stable order."""
    files = [path for path in wrapper.rglob("*") if path.is_file()]
    return sorted((path.relative_to(wrapper).as_posix(), path) for path in files)


def binary_path(piece: Piece, root: Path | None = None) -> Path:
    root = cache_root() if root is None else root
    return root / f"{piece.name}-{piece.version}-{piece_key(piece)}" / "bin" / piece.name


def pulumi_home(root: Path | None = None) -> Path:
    return (cache_root() if root is None else root) / "pulumi-home"


def locate(name: str, root: Path | None = None) -> Path:
    """The built binary ``name``; :class:`EngineMissingError` naming the command that builds it."""
    path = binary_path(piece(name), root)
    if not path.exists():
        raise EngineMissingError(f"{name} is not built: run `python -m automation engine build`")
    return path


def go_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    environ = dict(os.environ if environ is None else environ)
    return {
        **environ,
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "-mod=mod -buildvcs=false",
        "CGO_ENABLED": "0",
    }


def engine_environment(root: Path | None = None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables every Pulumi command needs here: the built CLI first on PATH, the isolated
    PULUMI_HOME, and no network use by the engine itself."""
    environ = os.environ if environ is None else environ
    cli_dir = binary_path(piece("pulumi"), root).parent
    return {
        "PATH": f"{cli_dir}{os.pathsep}{environ.get('PATH', '')}",
        "PULUMI_HOME": str(pulumi_home(root)),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
    }


def build(
    pieces: Iterable[Piece] = PIECES,
    *,
    root: Path | None = None,
    jobs: int | None = None,
    log: Callable[[str], None] = print,
) -> list[PieceState]:
    root = cache_root() if root is None else root
    states: list[PieceState] = []
    for item in pieces:
        path = binary_path(item, root)
        if path.exists():
            states.append(PieceState(item, path, "cached"))
            continue
        log(f"building {item.name} ({item.module}@{item.served_version}) ...")
        started = time.monotonic()
        try:
            _build_piece(item, path, root, jobs)
        except EngineBuildError as exc:
            states.append(PieceState(item, path, "failed", time.monotonic() - started, str(exc)))
            continue
        states.append(PieceState(item, path, "built", time.monotonic() - started))
    install_plugins(states, root)
    return states


def install_plugins(states: Iterable[PieceState], root: Path) -> None:
    """Each provider installed into the isolated PULUMI_HOME under the version its SDK requests."""
    cli = binary_path(piece("pulumi"), root)
    for state in states:
        plugin = state.piece.plugin
        if plugin is None or state.status not in ("built", "cached") or not cli.exists():
            continue
        version = plugin.requested_version()
        installed = pulumi_home(root) / "plugins" / f"resource-{plugin.name}-v{version}" / state.piece.name
        if installed.exists() and _same_file(installed, state.path):
            continue
        env = {**os.environ, **engine_environment(root)}
        # Without --reinstall the CLI keeps an older build installed under the same version.
        command = [
            "plugin",
            "install",
            "resource",
            plugin.name,
            version,
            "--file",
            str(state.path),
            "--reinstall",
        ]
        subprocess.run(
            [str(cli), *command],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )


def _build_piece(item: Piece, output: Path, root: Path, jobs: int | None) -> None:
    source = WRAPPERS_DIR / item.wrapper
    build_dir = root / "src" / f"{item.wrapper}-{piece_key(item)}"
    if not build_dir.exists():
        scratch = build_dir.with_name(build_dir.name + ".partial")
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(source, scratch)
        scratch.rename(build_dir)
    env = go_environment()
    if item.prepare is not None:
        module_dir = _go(
            ["go", "mod", "download", "-json", f"{item.module}@{item.served_version}"], build_dir, env, item
        )
        item.prepare(Path(json.loads(module_dir)["Dir"]), build_dir)
    flags = ["-trimpath", "-ldflags", " ".join(("-s", "-w", *item.ldflags))]
    if jobs:
        flags[:0] = ["-p", str(jobs)]
    if item.tags:
        flags += ["-tags", ",".join(item.tags)]
    if item.generator:
        package, *arguments = item.generator
        _go(["go", "run", *flags, package, *arguments], build_dir, env, item)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    _go(["go", "build", *flags, "-o", str(partial), item.package], build_dir, env, item)
    partial.rename(output)


def _go(command: list[str], cwd: Path, env: Mapping[str, str], item: Piece) -> str:
    if shutil.which("go", path=env.get("PATH")) is None:
        raise EngineBuildError(
            item, "the `go` command is not on PATH (Go 1.26 is needed to build the engine)"
        )
    result = subprocess.run(command, cwd=cwd, env=dict(env), capture_output=True, text=True)
    if result.returncode != 0:
        raise EngineBuildError(item, result.stderr or result.stdout)
    return result.stdout


def _same_file(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    return hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


def table(states: Iterable[PieceState]) -> str:
    rows = [("piece", "version", "module", "status", "path")]
    for state in states:
        status = f"{state.status} in {state.seconds:.0f} s" if state.status == "built" else state.status
        rows.append(
            (
                state.piece.name,
                state.piece.version,
                f"{state.piece.module}@{state.piece.served_version}",
                status,
                str(state.path),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)) + "  " + row[-1]
        for row in rows
    )
