"""``python -m automation engine build|status`` and ``python -m automation sandbox up|down|status|env``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from automation.engine.build import PieceState, binary_path, build, cache_root, table
from automation.engine.pieces import PIECES
from automation.render.render import PROJECT_DIR


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    engine = commands.add_parser(
        "engine", help="build the Pulumi engine, providers and control plane from Go modules"
    )
    actions = engine.add_subparsers(dest="engine_command", required=True)
    build_command = actions.add_parser(
        "build", help="build every piece not yet in the cache, then print the table"
    )
    build_command.add_argument(
        "--only", action="append", choices=[p.name for p in PIECES], help="build only this piece (repeatable)"
    )
    build_command.add_argument("-j", "--jobs", type=int, help="Go build parallelism (default: the CPU count)")
    build_command.set_defaults(handler=_build)
    status = actions.add_parser("status", help="print the table without building anything")
    status.set_defaults(handler=_status)


def _build(args: argparse.Namespace) -> int:
    pieces = [p for p in PIECES if not args.only or p.name in args.only]
    states = build(pieces, jobs=args.jobs, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"engine cache: {cache_root()}")
    print(table(states))
    failed = [s for s in states if s.status == "failed"]
    for state in failed:
        print(f"\n{state.detail}", file=sys.stderr)
    return 1 if failed else 0


def _status(args: argparse.Namespace) -> int:
    paths = {p: binary_path(p) for p in PIECES}
    states = [PieceState(p, path, "cached" if path.exists() else "missing") for p, path in paths.items()]
    print(f"engine cache: {cache_root()}")
    print(table(states))
    return 0 if all(s.status == "cached" for s in states) else 1


def add_sandbox_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from automation.engine.sandbox import DEFAULT_START_TIMEOUT, DEFAULT_STOP_TIMEOUT, PORT_FLAGS, Ports

    sandbox = commands.add_parser(
        "sandbox", help="local etcd, kube-apiserver, kube-controller-manager and OpenBao for the real engine"
    )
    actions = sandbox.add_subparsers(dest="sandbox_command", required=True)
    up = actions.add_parser("up", help="start what is not running, install CRDs, wait until all is healthy")
    defaults = Ports()
    for field_name, flag in PORT_FLAGS.items():
        up.add_argument(
            flag,
            type=int,
            metavar="PORT",
            dest=f"port_{field_name}",
            help=f"default: the port it last ran on, else {getattr(defaults, field_name)}",
        )
    up.add_argument(
        "--crds", type=Path, metavar="DIR", help="apply every CRD in DIR/*.yaml (default: $DRIFTLESS_CRDS)"
    )
    up.add_argument("--no-openbao", action="store_true", help="do not start OpenBao even if it is installed")
    up.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_START_TIMEOUT,
        help=f"seconds to wait for everything to be healthy (default {DEFAULT_START_TIMEOUT:.0f})",
    )
    up.set_defaults(handler=_sandbox_up)
    down = actions.add_parser("down", help="stop the processes `sandbox up` started")
    down.add_argument(
        "--purge", action="store_true", help="also remove <state dir>/sandbox (etcd data, certificates)"
    )
    down.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_STOP_TIMEOUT,
        help=f"seconds after SIGTERM before SIGKILL (default {DEFAULT_STOP_TIMEOUT:.0f})",
    )
    down.set_defaults(handler=_sandbox_down)
    status = actions.add_parser("status", help="each process: pid, address, healthy (exit 0 when all are)")
    status.set_defaults(handler=_sandbox_status)
    env = actions.add_parser("env", help='export lines for eval "$(python -m automation sandbox env)"')
    env.set_defaults(handler=_sandbox_env)
    for command in (up, down, status, env):
        command.add_argument(
            "--project-dir", type=Path, default=PROJECT_DIR, help="the folder with Pulumi.yaml"
        )
        command.add_argument("--state-dir", type=Path, help="daemon state (default: <project>/.driftless)")


def _sandbox_state_dir(args: argparse.Namespace) -> Path:
    from automation.engine.sandbox import default_state_dir

    return (args.state_dir or default_state_dir(args.project_dir)).resolve()


def _sandbox_failed(exc: Exception) -> int:
    for line in str(exc).splitlines():
        print(f"error: {line}", file=sys.stderr)
    return 1


def _sandbox_up(args: argparse.Namespace) -> int:
    from automation.engine.sandbox import CRDS_ENV, PORT_FLAGS, Sandbox, SandboxError, load_crds, up_summary

    crds_dir, source = args.crds, "--crds"
    if crds_dir is None and os.environ.get(CRDS_ENV):
        crds_dir, source = Path(os.environ[CRDS_ENV]), f"${CRDS_ENV}"
    try:
        crds = load_crds(crds_dir.resolve(), source) if crds_dir is not None else []
        report = Sandbox(_sandbox_state_dir(args)).up(
            ports={name: getattr(args, f"port_{name}") for name in PORT_FLAGS},
            crds=crds,
            openbao=not args.no_openbao,
            timeout=args.timeout,
            say=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except SandboxError as exc:
        return _sandbox_failed(exc)
    print(up_summary(report, str(crds_dir) if crds_dir else None))
    return 0


def _sandbox_down(args: argparse.Namespace) -> int:
    from automation.engine.sandbox import Sandbox, SandboxError

    try:
        stopped = Sandbox(_sandbox_state_dir(args)).down(purge=args.purge, timeout=args.timeout)
    except SandboxError as exc:
        return _sandbox_failed(exc)
    return 0 if stopped else 1


def _sandbox_status(args: argparse.Namespace) -> int:
    from automation.engine.sandbox import Sandbox, SandboxError, status_table

    try:
        rows = Sandbox(_sandbox_state_dir(args)).status()
    except SandboxError as exc:
        return _sandbox_failed(exc)
    print(status_table(rows))
    return 0 if all(row.healthy or row.detail.startswith("not started") for row in rows) else 1


def _sandbox_env(args: argparse.Namespace) -> int:
    from automation.engine.sandbox import SandboxError, sandbox_environment, shell_exports

    try:
        print(shell_exports(sandbox_environment(_sandbox_state_dir(args))), end="")
    except SandboxError as exc:
        return _sandbox_failed(exc)
    return 0
