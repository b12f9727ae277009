"""The driftless command line: render, diff, the Pulumi commands, the daemon, status, the engine."""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.daemon.app import (
    STATE_DB,
    AppOptions,
    build_driver,
    deletions_to_allow,
    observation_store,
    preview_markdown,
    read_status_view,
    record_applied,
    record_destroyed,
    stack_target,
    status_json,
    status_table,
    stderr_progress,
)
from automation.daemon.clock import SystemClock
from automation.daemon.driver import DriverError
from automation.daemon.layout import ProjectLayout
from automation.daemon.leases import LeaseSettings, StackLeases
from automation.daemon.logs import EventLog, configure_logging
from automation.daemon.reconciler import Reconciler
from automation.daemon.runner import Daemon, install_signal_handlers, poll_sources_once, run_once
from automation.daemon.settings import DaemonSettings, SettingsError
from automation.daemon.state_lock import StateDirectoryBusyError, StateDirectoryError, StateLock
from automation.daemon.status import stacks_in_error
from automation.daemon.store import StatusStore
from automation.engine.commands import add_commands as add_engine_commands
from automation.engine.commands import add_sandbox_commands
from automation.files import atomic_write
from automation.kube import KubeconfigMissingError, KubernetesClient, KubernetesError, cluster_access
from automation.metrics import Metrics
from automation.observation_store import ObservationStore
from automation.render.batch import BatchSettings, default_jobs, render_many, stacks_in, with_conflicts
from automation.render.cache import CACHE_ENV as RENDER_CACHE_ENV
from automation.render.cache import RenderCache, default_cache_dir
from automation.render.diff import diff_files
from automation.render.render import PROJECT_DIR, Problem, RenderOptions, render_stack
from automation.render.report import as_json, as_text
from automation.render.schemas import CRD_SCHEMAS_ENV, KUBERNETES_VERSION_ENV, SchemaValidator
from automation.stack_format import DOCUMENT as STACK_FORMAT_DOCUMENT
from automation.stack_format import render_stack_format
from automation.stack_inputs import StackSet
from components.documents import StackFileError
from components.registry import default_registry

if TYPE_CHECKING:
    from automation.sources import SourceSettings

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_SIGNAL_BASE = 128  # stopped by a signal: 128 + its number (SIGINT 130, SIGTERM 143)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return int(args.handler(args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m automation", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    render = commands.add_parser("render", help="render a stack offline and validate every object")
    target = render.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="stack name: renders stacks/<NAME>.yaml")
    target.add_argument("--file", type=Path, help="a stack file to render")
    target.add_argument(
        "--all", action="store_true", help="every stack of --stacks-dir, in parallel: JSON Lines, or --out"
    )
    render.add_argument(
        "--observations", type=Path, help="observations JSON (the format is in docs/stack-format.md)"
    )
    render.add_argument("--format", choices=("json", "text"), help="default text; --all prints JSON")
    render.add_argument(
        "--crd-schemas", type=Path, help=f"directory of CRD schemas (default: ${CRD_SCHEMAS_ENV})"
    )
    render.add_argument(
        "--kubernetes-version",
        help=f"Kubernetes version to validate against (default: ${KUBERNETES_VERSION_ENV} or 1.33)",
    )
    every = render.add_argument_group("with --all")
    every.add_argument("--stacks-dir", type=Path, help="the stack files (default: <project>/stacks)")
    every.add_argument(
        "--observations-dir", type=Path, help="observations per stack: <DIR>/<stack>.json where there is one"
    )
    every.add_argument("-j", "--jobs", type=int, help="worker processes (default: one per CPU)")
    every.add_argument(
        "--out", type=Path, help="write <DIR>/<stack>.json (as --format json prints it) instead of JSON Lines"
    )
    every.add_argument(
        "--cache-dir",
        type=Path,
        help=f"keep renders here (default: ${RENDER_CACHE_ENV}, else $XDG_CACHE_HOME/driftless/render)",
    )
    every.add_argument("--no-cache", action="store_true", help="render every stack, keep nothing")
    render.set_defaults(handler=_render)

    diff = commands.add_parser("diff", help="Markdown review of two render --format json outputs")
    diff.add_argument("old", help="render output before the change")
    diff.add_argument("new", help="render output after the change")
    diff.set_defaults(handler=_diff)

    stack_format = commands.add_parser(
        "stack-format", help="print the reference of every document kind and field (docs/stack-format.md)"
    )
    stack_format.add_argument("--write", action="store_true", help="rewrite docs/stack-format.md instead")
    stack_format.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR, help="the folder with Pulumi.yaml"
    )
    stack_format.set_defaults(handler=_stack_format)

    for name, summary in (
        ("preview", "show what `up` would change (real Pulumi)"),
        ("up", "create or update the stack's resources (real Pulumi)"),
        ("refresh", "read live state into the stack's Pulumi state (real Pulumi)"),
        ("destroy", "delete every resource of the stack (real Pulumi)"),
    ):
        command = commands.add_parser(name, help=summary)
        command.add_argument("--stack", required=True, help="stack name: stacks/<NAME>.yaml")
        _project_options(command)
        _pulumi_options(command)
        if name == "preview":
            command.add_argument(
                "--markdown", action="store_true", help="print a Markdown summary for review"
            )
        if name == "up":
            command.add_argument("--refresh", action="store_true", help="refresh live state first")
            command.add_argument(
                "--allow-deletions",
                action="store_true",
                help="apply even when the stack file lost documents the last up applied (they are deleted)",
            )
        if name == "destroy":
            command.add_argument(
                "--yes",
                action="store_true",
                help="do not ask for confirmation (required when stdin is not a terminal)",
            )
        command.set_defaults(handler=_pulumi_command)

    run = commands.add_parser("run", help="the daemon: reconcile every stack whose inputs changed")
    run.add_argument(
        "--shard-by-lease",
        action="store_true",
        help="share the stacks with other replicas through Kubernetes Leases (driftless.yaml: leases)",
    )
    run.add_argument(
        "--identity", help="this replica's name with --shard-by-lease (default: $POD_NAME, else host-pid)"
    )
    run.add_argument("--once", action="store_true", help="one cycle, then exit (non-zero if a stack failed)")
    run.add_argument(
        "--dry-run", action="store_true", help="reconcile against the offline render, not Pulumi"
    )
    run.add_argument(
        "-j",
        "--jobs",
        type=int,
        help="with --dry-run: stacks rendered at once, on worker processes beyond the first "
        "(default: one per CPU from 16 stacks on, else 1)",
    )
    run.add_argument(
        "--no-sources", action="store_true", help="with --once: do not poll git, Vault, registries"
    )
    run.add_argument(
        "--poll-remotes",
        action="store_true",
        help="with --dry-run: poll git remotes, Vault and registries too (off by default)",
    )
    run.add_argument(
        "--http-port", type=int, default=9464, help="status/metrics endpoint port (0 disables; default 9464)"
    )
    run.add_argument("--http-host", default="127.0.0.1", help="status/metrics endpoint address")
    run.add_argument(
        "--allow-deletions",
        action="append",
        default=[],
        metavar="STACK",
        help="let STACK's up delete the documents its file lost, as the file is when first read "
        "(repeatable; a later edit that loses documents is held again)",
    )
    _project_options(run)
    _pulumi_options(run)
    run.set_defaults(handler=_run)

    status = commands.add_parser("status", help="every stack's status")
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.add_argument("--dry-run", action="store_true", help="the status of `run --dry-run`")
    _project_options(status)
    status.set_defaults(handler=_status)

    for registration in default_registry().registrations():
        if registration.add_commands is not None:
            registration.add_commands(commands, PROJECT_DIR)
    add_engine_commands(commands)
    add_sandbox_commands(commands)
    return parser


def _project_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="the folder with Pulumi.yaml")
    command.add_argument("--stacks-dir", type=Path, help="stack files (default: <project>/stacks)")
    command.add_argument("--state-dir", type=Path, help="daemon state (default: <project>/.driftless)")
    command.add_argument("--config", type=Path, help="daemon settings (default: <project>/driftless.yaml)")
    command.add_argument("--log-format", choices=("kv", "json"), default="kv", help="structured log lines")
    command.add_argument("--verbose", "-v", action="store_true", help="debug logs")


def _pulumi_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--backend-url",
        help="Pulumi backend (default: $PULUMI_BACKEND_URL, else file://<state>/pulumi-state)",
    )
    command.add_argument(
        "--secrets-provider", default="passphrase", help="Pulumi secrets provider (default: passphrase)"
    )
    command.add_argument("--pulumi-home", help="PULUMI_HOME for the CLI")


def stack_path(stack: str) -> Path:
    return PROJECT_DIR / "stacks" / f"{stack}.yaml"


def _render(args: argparse.Namespace) -> int:
    batch_only = ("stacks_dir", "observations_dir", "jobs", "out", "cache_dir")
    if args.all:
        return _render_all(args)
    given = [f"--{name.replace('_', '-')}" for name in batch_only if getattr(args, name) is not None]
    if given or args.no_cache:
        print(f"error: {', '.join(given or ['--no-cache'])} only go with --all", file=sys.stderr)
        return EXIT_USAGE
    path = args.file if args.file else stack_path(args.stack)
    validator = SchemaValidator(args.kubernetes_version, args.crd_schemas)
    stacks = StackSet(PROJECT_DIR, PROJECT_DIR / "stacks")  # a file elsewhere is rendered on its own
    result = render_stack(
        path,
        stack=args.stack,
        observations=args.observations,
        options=RenderOptions(validator=validator),
        stack_set=stacks if path.resolve().parent == stacks.stacks_dir.resolve() else None,
    )
    print(as_json(result) if args.format == "json" else as_text(result))
    if not result.ok:
        for problem in result.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _render_all(args: argparse.Namespace) -> int:
    """``render --all``: every stack, one JSON line each in stack order (or a file each)."""
    if args.format == "text" or args.observations is not None:
        option = "--format text" if args.format == "text" else "--observations"
        print(f"error: {option} does not go with --all (see --observations-dir)", file=sys.stderr)
        return EXIT_USAGE
    if args.jobs is not None and args.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    stacks_dir = args.stacks_dir or PROJECT_DIR / "stacks"
    validator = SchemaValidator(args.kubernetes_version, args.crd_schemas)
    settings = with_conflicts(
        BatchSettings(
            project_dir=PROJECT_DIR,
            stacks_dir=stacks_dir,
            kubernetes_version=validator.kubernetes_version,
            crd_schema_dir=validator.crd_schema_dir,
        )
    )
    cache = (
        None
        if args.no_cache
        else RenderCache(args.cache_dir or default_cache_dir(), project_dir=PROJECT_DIR, validator=validator)
    )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    counts = {"rendered": 0, "cached": 0, "invalid": 0}
    for rendered in render_many(
        stacks_in(stacks_dir, args.observations_dir),
        settings,
        jobs=args.jobs or default_jobs(),
        cache=cache,
    ):
        counts["cached" if rendered.cached else "rendered"] += 1
        if args.out is not None:
            (args.out / f"{rendered.stack}.json").write_text(rendered.text + "\n", encoding="utf-8")
        else:
            line = json.dumps(
                json.loads(rendered.text), sort_keys=True, ensure_ascii=False, separators=(",", ":")
            )
            print(line, flush=True)
        if not rendered.ok:
            counts["invalid"] += 1
            for problem in json.loads(rendered.text)["problems"]:
                print(f"error: {rendered.stack}: {Problem.from_json(problem)}", file=sys.stderr)
    print(
        f"{counts['rendered'] + counts['cached']} stack(s): {counts['rendered']} rendered, "
        f"{counts['cached']} from the cache, {counts['invalid']} invalid",
        file=sys.stderr,
    )
    return EXIT_INVALID if counts["invalid"] else EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    print(diff_files(args.old, args.new), end="")
    return EXIT_OK


def _stack_format(args: argparse.Namespace) -> int:
    text = render_stack_format(default_registry())
    if args.write:
        path = args.project_dir / STACK_FORMAT_DOCUMENT
        path.parent.mkdir(exist_ok=True)
        atomic_write(path, text, mode=0o644)
    else:
        print(text, end="")
    return EXIT_OK


# --- the daemon and the Pulumi commands --------------------------------------------------------


def _app_options(args: argparse.Namespace) -> AppOptions:
    return AppOptions(
        project_dir=args.project_dir.resolve(),
        stacks_dir=args.stacks_dir.resolve() if args.stacks_dir else None,
        state_dir=args.state_dir.resolve() if args.state_dir else None,
        config_file=args.config,
        dry_run=bool(getattr(args, "dry_run", False)),
        backend_url=getattr(args, "backend_url", None),
        secrets_provider=getattr(args, "secrets_provider", "passphrase"),
        pulumi_home=getattr(args, "pulumi_home", None),
        render_jobs=_render_jobs(args),
    )


def _render_jobs(args: argparse.Namespace) -> int | None:
    if args.command != "run" or not getattr(args, "dry_run", False):
        return 1
    jobs: int | None = getattr(args, "jobs", None)
    return jobs  # None: by the number of stacks


def _logging(args: argparse.Namespace) -> EventLog:
    configure_logging(args.log_format, logging.DEBUG if args.verbose else logging.INFO)
    return EventLog()


def _pulumi_command(args: argparse.Namespace) -> int:
    """preview | up | refresh | destroy on one stack, with the real driver; progress on stderr."""
    if args.command == "destroy" and not args.yes and not sys.stdin.isatty():
        print(
            f"error: destroy deletes every resource of stack {args.stack!r} and stdin is not a terminal "
            "to confirm on; pass --yes to destroy without confirmation",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return _with_state_lock(args, f"{args.command} --stack {args.stack}", _pulumi_operation)


def _pulumi_operation(
    args: argparse.Namespace,
    log: EventLog,
    options: AppOptions,
    settings: DaemonSettings,
    layout: ProjectLayout,
) -> int:
    driver = build_driver(options, layout, settings)
    if args.command == "destroy" and not args.yes:
        answer = input(f"destroy every resource of stack {args.stack!r}? type the stack name to confirm: ")
        if answer.strip() != args.stack:
            print("not confirmed; nothing destroyed", file=sys.stderr)
            return EXIT_USAGE
    try:
        target = stack_target(layout, args.stack, observation_store(layout), SystemClock().now())
    except StackFileError as exc:
        for error in exc.errors:
            print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    if args.command == "up" and not args.allow_deletions:
        risk = deletions_to_allow(layout, target, settings)
        if risk is not None:
            print(f"error: {risk.describe()}", file=sys.stderr)
            print(f"nothing applied; {risk.how_to_allow(args.stack)}", file=sys.stderr)
            return EXIT_USAGE
    progress = stderr_progress(args.stack)
    log.info("operation.started", stack=args.stack, kind=args.command, driver=driver.name)
    try:
        if args.command == "preview":
            result = driver.preview(target, progress)
        elif args.command == "up":
            result = driver.up(target, refresh=args.refresh, progress=progress)
        elif args.command == "refresh":
            result = driver.refresh(target, progress)
        else:
            result = driver.destroy(target, progress)
    except DriverError as exc:
        log.error(
            "operation.finished", stack=args.stack, kind=args.command, result="failed", reason=exc.reason
        )
        print(f"error: {exc.reason}: {target.for_people(exc.message)}", file=sys.stderr)
        return EXIT_INVALID
    if args.command in ("up", "destroy"):
        if args.command == "up":
            unrecorded = record_applied(layout, target)
        else:
            unrecorded = record_destroyed(layout, args.stack)
        if unrecorded is not None:
            print(f"warning: the deletion guard's record was not updated: {unrecorded}", file=sys.stderr)
    log.info(
        "operation.finished",
        stack=args.stack,
        kind=args.command,
        result="succeeded",
        **result.changes.to_json(),
    )
    if args.command == "preview" and args.markdown:
        print(preview_markdown(args.stack, result), end="")
    else:
        print(
            f"{args.stack}: {args.command} succeeded in {result.duration:.1f} s: {result.changes.describe()}"
        )
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    """The daemon: ``--once`` for one cycle, otherwise until SIGINT/SIGTERM."""
    if args.jobs is not None and (args.jobs < 1 or not args.dry_run):
        print("error: --jobs is a number of renders at once, at least 1, for --dry-run", file=sys.stderr)
        return EXIT_USAGE
    holder = "run" + (" --once" if args.once else "") + (" --dry-run" if args.dry_run else "")
    return _with_state_lock(args, holder, _run_locked)


LockedCommand = Callable[[argparse.Namespace, EventLog, AppOptions, DaemonSettings, ProjectLayout], int]


def _with_state_lock(args: argparse.Namespace, holder: str, command: LockedCommand) -> int:
    """Load the settings, take the state directory's lock as ``holder``, run ``command``."""
    log = _logging(args)
    options = _app_options(args)
    try:
        settings = options.settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    layout = options.layout()
    lock = _lock_state(layout, holder)
    if lock is None:
        return EXIT_USAGE
    try:
        return command(args, log, options, settings, layout)
    finally:
        lock.release()


def _run_locked(
    args: argparse.Namespace,
    log: EventLog,
    options: AppOptions,
    settings: DaemonSettings,
    layout: ProjectLayout,
) -> int:
    observations = observation_store(layout)
    metrics = Metrics()
    try:
        store = StatusStore(layout.state_dir / STATE_DB)
    except StateDirectoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    reconciler = Reconciler(
        layout,
        build_driver(options, layout, settings),
        store,
        settings=settings,
        observations=observations,
        metrics=metrics,
        log=log,
        progress=lambda stack: lambda line: log.info("operation.progress", stack=stack, line=line),
        allow_deletions=args.allow_deletions,
    )
    if args.once:
        try:
            return _run_once(args, layout, reconciler, observations, log)
        finally:
            store.close()
    leases = None
    if args.shard_by_lease:
        try:
            leases = _stack_leases(args, options, settings, layout, reconciler, log)
        except (KubeconfigMissingError, KubernetesError, ValueError) as exc:
            print(f"error: --shard-by-lease: {exc}", file=sys.stderr)
            store.close()
            return EXIT_USAGE
        reconciler.ownership = leases

    from automation.http import StatusServer
    from automation.sources import build_sources, update_stacks

    stop = threading.Event()
    daemon = Daemon(
        reconciler,
        sources=lambda documents, wake: [
            *build_sources(
                layout.project_dir,
                documents,
                observations,
                wake=wake,
                settings=_source_settings(
                    settings,
                    poll_remotes=_poll_remotes(args),
                    debounce_ms=round(settings.debounce_seconds * 1000),
                ),
            ),
            *([leases] if leases is not None else []),
        ],
        update_sources=update_stacks,
        log=log,
    )
    server = None
    if args.http_port:
        server = StatusServer(
            lambda: {
                **reconciler.status_document(),
                "registries": observations.registry_checks(),
                "sources": daemon.source_health(),
                "dryRun": options.dry_run,
            },
            metrics,
            daemon.ready,
            stacks_in_error=lambda: stacks_in_error(reconciler.statuses()),
            unready_reasons=(lambda: leases.trouble(SystemClock().now())) if leases is not None else None,
            host=args.http_host,
            port=args.http_port,
            allowed_hosts=settings.http.allowed_hosts,
            timeout=settings.http.timeout_seconds,
            max_connections=settings.http.max_connections,
        )
        try:
            log.info("http.listening", url=f"http://{args.http_host}:{server.start()}")
        except OSError as exc:
            print(
                f"error: cannot serve on {args.http_host}:{args.http_port}: {exc.strerror} "
                "(choose another --http-port, or 0 to disable)",
                file=sys.stderr,
            )
            store.close()
            return EXIT_USAGE
    if leases is not None:
        leases.start(daemon.wake)
    restore = install_signal_handlers(stop, on_second=reconciler.cancel_all, on_first=daemon.wake)
    try:
        left = daemon.run(stop)
    finally:
        restore()
        if server is not None:
            server.stop()
        if leases is not None:  # after the operations finished: only now may another replica take them
            leases.release_all()
    if left:  # operations that would not stop: exit anyway, the next start recovers them
        log.error("daemon.abandoned", stacks=left)
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    store.close()
    return EXIT_OK


def _stack_leases(
    args: argparse.Namespace,
    options: AppOptions,
    settings: DaemonSettings,
    layout: ProjectLayout,
    reconciler: Reconciler,
    log: EventLog,
) -> StackLeases:
    """This replica's Lease keeper; refuses a state only this machine can see."""
    backend = options.backend_url or os.environ.get("PULUMI_BACKEND_URL") or "file://"
    if backend.startswith("file://") and not settings.leases.shared_file_backend and not options.dry_run:
        raise ValueError(
            f"the Pulumi backend {backend!r} is a local folder: replicas need one backend they all reach "
            "(S3-compatible, or the Pulumi Cloud URL), or set leases.sharedFileBackend: true in "
            "driftless.yaml when every replica mounts the same volume"
        )
    identity = args.identity or os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    policy = settings.leases
    return StackLeases(
        KubernetesClient(cluster_access({})),
        LeaseSettings(policy.namespace, policy.duration_seconds, policy.renew_seconds),
        identity,
        stacks=layout.stack_names,
        busy=reconciler.busy,
        clock=SystemClock(),
        log=log,
        describe=reconciler.published_status,
    )


def _lock_state(layout: ProjectLayout, command: str) -> StateLock | None:
    """The state directory's lock, or None (said on stderr) when another process holds it or the
    directory cannot be written."""
    try:
        return StateLock(layout.state_dir, command).acquire()
    except (StateDirectoryBusyError, StateDirectoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def _source_settings(settings: DaemonSettings, **overrides: Any) -> SourceSettings:
    """The sources' settings, with the timeouts ``driftless.yaml`` sets."""
    from automation.sources import SourceSettings

    return SourceSettings(
        git_timeout_seconds=settings.sources.git_timeout_seconds,
        vault_timeout_seconds=settings.sources.vault_timeout_seconds,
        **overrides,
    )


def _poll_remotes(args: argparse.Namespace) -> bool:
    """Dry runs poll git, Vault and registries only when asked (``--poll-remotes``)."""
    return bool(args.poll_remotes or not args.dry_run)


def _run_once(
    args: argparse.Namespace,
    layout: ProjectLayout,
    reconciler: Reconciler,
    observations: ObservationStore,
    log: EventLog,
) -> int:
    """One cycle. Exit 1 when a stack failed or is Retrying or Stalled after it; 128 + the signal
    (130 for SIGINT, 143 for SIGTERM) when one stopped it."""

    def prepare(stop: threading.Event) -> None:
        _poll_sources_once(layout, reconciler, observations, log, stop, poll_remotes=_poll_remotes(args))

    def abandon(left: list[str], signum: int) -> None:  # past the deadline: exit, the next start recovers
        log.error("daemon.abandoned", stacks=left)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_SIGNAL_BASE + signum)

    result = run_once(reconciler, prepare=None if args.no_sources else prepare, abandon=abandon)
    for outcome in result.outcomes:
        print(outcome.line())
    if not result.outcomes:
        print(f"no stacks in {layout.stacks_dir}")
    if result.signal is not None:
        return EXIT_SIGNAL_BASE + result.signal
    return EXIT_INVALID if result.failed else EXIT_OK


def _poll_sources_once(
    layout: ProjectLayout,
    reconciler: Reconciler,
    observations: ObservationStore,
    log: EventLog,
    stop: threading.Event,
    *,
    poll_remotes: bool,
) -> None:
    """One poll of git, Vault, TTLs and registries before the single cycle of ``--once``."""
    from automation.sources import build_sources

    documents = {name: s.documents for name, s in reconciler.load_inputs().items() if s.documents is not None}
    sources = build_sources(
        layout.project_dir,
        documents,
        observations,
        settings=_source_settings(reconciler.settings, watch_files=False, poll_remotes=poll_remotes),
    )
    try:
        poll_sources_once(sources, SystemClock().now(), stop, log)
    finally:
        observations.save()


def _status(args: argparse.Namespace) -> int:
    try:  # read-only: never creates, migrates or changes the database
        view = read_status_view(_app_options(args))
    except StateDirectoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "json":
        print(json.dumps(status_json(view), indent=2))
    else:
        print(status_table(view))
    return EXIT_OK
