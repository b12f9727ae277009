"""Wiring for the command line: build the layout, driver, stores and reconciler from options.

Kept out of :mod:`automation.cli` so the command line stays a thin argument parser, and so the
wiring (which state directory ``--dry-run`` uses, which driver, which observation store) is
one readable place.

``--dry-run`` keeps all of its state in ``<state dir>/dry-run/``: its "applied" fingerprints
describe offline renders, not deployments, and must never make the real daemon believe a stack
is already up to date.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automation.daemon.automation_driver import AutomationDriver, AutomationOptions
from automation.daemon.deletions import DeletionRisk, deletion_risk, subjects
from automation.daemon.driver import Driver, OperationResult, Progress, StackTarget
from automation.daemon.health import OFFLINE
from automation.daemon.interfaces import ObservationSource
from automation.daemon.layout import ProjectLayout, write_bytes_atomically
from automation.daemon.offline_driver import OfflineDriver
from automation.daemon.settings import SETTINGS_FILE, DaemonSettings, load_settings
from automation.daemon.state_lock import StateDirectoryError
from automation.daemon.status import READY, StackStatus, iso
from automation.daemon.store import StatusStore, read_statuses
from automation.files import atomic_write
from automation.observation_store import ObservationStore
from automation.render.batch import default_jobs
from automation.stack_inputs import StackSet
from components.documents import SpecError, StackFileError, load_stack_file

DRY_RUN_DIR = "dry-run"
OBSERVATIONS_FILE = "observations.json"
STATE_DB = "state.db"


@dataclass(frozen=True)
class AppOptions:
    """What the command line says about where things are and how to reach Pulumi."""

    project_dir: Path
    stacks_dir: Path | None = None
    state_dir: Path | None = None
    config_file: Path | None = None
    dry_run: bool = False
    backend_url: str | None = None
    secrets_provider: str | None = "passphrase"
    pulumi_home: str | None = None
    extra_config: Mapping[str, str] = field(default_factory=dict)
    # --dry-run: stacks rendered at once (this process, and worker processes beyond one); None: by
    # the number of stacks (see ``render_jobs_for``)
    render_jobs: int | None = 1

    def layout(self) -> ProjectLayout:
        base = ProjectLayout.at(self.project_dir, stacks_dir=self.stacks_dir, state_dir=self.state_dir)
        if self.dry_run:
            return ProjectLayout(base.project_dir, base.stacks_dir, base.state_dir / DRY_RUN_DIR)
        return base

    def settings(self) -> DaemonSettings:
        return load_settings(self.config_file or self.project_dir / SETTINGS_FILE)


# Below this many stacks a dry run renders them one at a time: starting a worker process (a fresh
# interpreter importing the program, about 1.5 s) costs more than rendering the few stacks it would take.
RENDER_WORKERS_FROM_STACKS = 16


def render_jobs_for(stacks: int) -> int:
    """How many stacks a dry run renders at once by default: one per CPU for a large set."""
    return default_jobs() if stacks >= RENDER_WORKERS_FROM_STACKS else 1


def build_driver(options: AppOptions, layout: ProjectLayout, settings: DaemonSettings) -> Driver:
    if options.dry_run:
        jobs = options.render_jobs or render_jobs_for(len(layout.stack_names()))
        return OfflineDriver(layout.state_dir, jobs=jobs)
    return AutomationDriver(
        AutomationOptions(
            project_dir=layout.project_dir,
            state_dir=layout.state_dir,
            backend_url=options.backend_url,
            secrets_provider=options.secrets_provider,
            pulumi_home=options.pulumi_home,
            config=dict(options.extra_config),
            operation_timeout=settings.operation_timeout_seconds,
        )
    )


def observation_store(layout: ProjectLayout) -> ObservationStore:
    """What the sources observed (git heads, preview first-seen times, images, Vault versions)."""
    return ObservationStore(layout.state_dir / OBSERVATIONS_FILE)


def stack_target(
    layout: ProjectLayout, stack: str, observations: ObservationSource, now: datetime
) -> StackTarget:
    """A one-shot command's target: the stack file validated, its observations written."""
    stack_file = layout.stack_file(stack)
    content = _read_bytes(stack_file)
    # raises StackFileError, with any namespace another stack owns too: nothing is touched
    documents = StackSet(layout.project_dir, layout.stacks_dir).load(stack_file)
    if _read_bytes(stack_file) != content:
        raise StackFileError(
            [SpecError(str(stack_file), 0, "", "", "changed while it was being read; run the command again")]
        )
    path = layout.observations_file(stack)
    atomic_write(path, observations.for_stack(documents, now).to_json())
    observations.save()
    # the operation applies the content validated here, whatever happens to the file meanwhile
    validated = layout.validated_stack_file(stack, stack_file)
    write_bytes_atomically(validated, content)
    return StackTarget(stack, validated, path, source_file=stack_file)


def _read_bytes(stack_file: Path) -> bytes:
    try:
        return stack_file.read_bytes()
    except OSError as exc:
        raise StackFileError([SpecError(str(stack_file), 0, "", "", f"cannot read: {exc.strerror}")]) from exc


def deletions_to_allow(
    layout: ProjectLayout, target: StackTarget, settings: DaemonSettings
) -> DeletionRisk | None:
    """What ``up`` of ``target`` would delete past the deletion guard (None: nothing held)."""
    status = _stored_status(layout, target.name)
    documents = load_stack_file(target.stack_file)
    risk = deletion_risk(
        documents,
        applied=status.applied_documents if status else None,
        anything_applied=status is not None and status.fingerprint is not None,
        max_loss_share=settings.deletion_guard_for(target.name).max_document_loss_share,
    )
    if risk is None or target.source_file is None:
        return risk
    return replace(risk, file=str(target.source_file))


def record_applied(layout: ProjectLayout, target: StackTarget) -> str | None:
    """After a successful ``up``: what is applied now, for the deletion guard. A problem, or None."""

    def applied(status: StackStatus) -> None:
        status.applied_documents = subjects(load_stack_file(target.stack_file))

    return _update_status(layout, target.name, applied, create=True)


def record_destroyed(layout: ProjectLayout, stack: str) -> str | None:
    """After ``destroy``: nothing is applied, so no document is left to lose. A problem, or None."""

    def destroyed(status: StackStatus) -> None:
        status.applied_documents = []

    return _update_status(layout, stack, destroyed, create=False)


def _update_status(
    layout: ProjectLayout, stack: str, change: Callable[[StackStatus], None], *, create: bool
) -> str | None:
    try:
        store = StatusStore(layout.state_dir / STATE_DB)
        try:
            status = store.load(stack) or (StackStatus(stack) if create else None)
            if status is not None:
                status.ensure_conditions(datetime.now(UTC))
                change(status)
                store.save(status)
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 (the operation itself succeeded; say what was not recorded)
        return f"{layout.state_dir / STATE_DB}: {type(exc).__name__}: {exc}"
    return None


def _stored_status(layout: ProjectLayout, stack: str) -> StackStatus | None:
    path = layout.state_dir / STATE_DB
    if not path.exists():
        return None
    store = StatusStore(path)
    try:
        return store.load(stack)
    finally:
        store.close()


def stderr_progress(stack: str) -> Progress:
    def say(line: str) -> None:
        print(f"[{stack}] {line}", file=sys.stderr, flush=True)

    return say


# --- presenting results ------------------------------------------------------------------------


def preview_markdown(stack: str, result: OperationResult) -> str:
    """A pull-request comment for a real ``pulumi preview``."""
    title = f"### driftless preview: stack `{stack}`"
    if result.changes.total_changes == 0:
        return f"{title}\n\nNo changes ({result.changes.same} resources unchanged).\n"
    lines = [title, "", f"**{result.changes.describe()}**"]
    if result.resources:
        lines += ["", "| operation | type | name | fields |", "| --- | --- | --- | --- |"]
        for change in result.resources:
            fields = ", ".join(f"`{f}`" for f in change.fields)
            op = f"{change.op} (**retained**: stays in the cluster)" if change.retained else change.op
            lines.append(f"| {op} | `{change.type}` | **{change.name}** | {fields} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class StatusView:
    """What ``status`` shows: the stacks and registry checks of one state directory, and which."""

    statuses: list[StackStatus]
    registries: Mapping[str, Mapping[str, Any]]
    dry_run: bool = False  # the state of `run --dry-run` (offline renders), not of real operations
    only_state: bool = False  # shown without --dry-run because no real stack has a status yet


def read_status_view(options: AppOptions) -> StatusView:
    """The statuses ``status`` shows; read-only. Raises :class:`StateDirectoryError`.

    Without ``--dry-run``, a project whose only state is a dry run's (the README's first
    ``run --once --dry-run``) shows that state, marked as such, rather than nothing.
    """
    layout = options.layout()
    statuses = read_statuses(layout.state_dir / STATE_DB)
    if statuses or options.dry_run:
        return StatusView(statuses, observation_store(layout).registry_checks(), dry_run=options.dry_run)
    dry_layout = replace(options, dry_run=True).layout()
    try:
        dry_statuses = read_statuses(dry_layout.state_dir / STATE_DB)
    except StateDirectoryError:  # `status --dry-run` reports it; the real state read fine
        dry_statuses = []
    if not dry_statuses:
        return StatusView(statuses, observation_store(layout).registry_checks())
    registries = observation_store(dry_layout).registry_checks()
    return StatusView(dry_statuses, registries, dry_run=True, only_state=True)


def _dry_run_notice(view: StatusView) -> str:
    notice = "DRY-RUN state: what `run --dry-run` reconciled against the offline render, not Pulumi"
    if view.only_state:
        notice += " (no stack has been reconciled for real yet)"
    return notice


def status_table(
    statuses: list[StackStatus] | StatusView, registries: Mapping[str, Mapping[str, Any]] | None = None
) -> str:
    """``status`` for people: one line per stack, then each registry's last verification.

    A dry run's state is said so on the first line.
    """
    view = statuses if isinstance(statuses, StatusView) else StatusView(statuses, registries or {})
    table = _stacks_table(view.statuses, view.registries)
    return f"{_dry_run_notice(view)}\n{table}" if view.dry_run else table


def _stacks_table(statuses: list[StackStatus], registries: Mapping[str, Mapping[str, Any]]) -> str:
    registry_lines = [
        f"registry {server}: {_registry_text(check)}" for server, check in sorted(registries.items())
    ]
    if not statuses:
        return "\n".join(["no stacks have been reconciled yet", *registry_lines])
    header = ("STACK", "PHASE", "COMPONENTS READY", "LAST OPERATION", "CHANGES", "NEXT CHECK", "MESSAGE")
    rows = [header]
    for status in sorted(statuses, key=lambda s: s.name):
        last = status.last_operation
        operation = f"{last.kind} {last.result} {iso(last.finished_at or last.started_at)}" if last else "-"
        changes = last.changes if last and last.changes else None
        counts = f"+{changes.create} ~{changes.update} -{changes.delete} ={changes.same}" if changes else "-"
        rows.append(
            (
                status.name,
                status.phase,
                _components_ready(status),
                operation,
                counts,
                iso(status.next_check_at) or "-",
                _headline(status),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]
    return "\n".join([*lines, *registry_lines])


def _registry_text(check: Mapping[str, Any]) -> str:
    """A registry's verification and its credentials Secret's version, as one line of text."""
    parts = []
    if "verified" in check:
        verified = "verified" if check.get("verified") else "NOT verified"
        parts.append(f"{verified} at {check.get('checkedAt')}: {check.get('message')}")
    secret = check.get("credentialsSecret")
    if isinstance(secret, Mapping):
        version = secret.get("resourceVersion")
        state = f"resourceVersion {version}" if version else "version unknown"
        parts.append(f"credentials Secret {secret.get('secret')}: {state} ({secret.get('message')})")
    return "; ".join(parts) or "not checked yet"


def _components_ready(status: StackStatus) -> str:
    """``ready/total``; ``?`` for a count only a dry run left unknown."""
    if not status.components:
        return "-"
    if all(c.reason == OFFLINE for c in status.components):
        return f"?/{len(status.components)}"
    return f"{sum(c.ready == 'True' for c in status.components)}/{len(status.components)}"


def _headline(status: StackStatus) -> str:
    """The one condition message that matters most right now."""
    for type_ in ("Stalled", "Reconciling", "Drifted", READY):
        condition = status.condition(type_)
        if condition is not None and condition.status == "True" and type_ != READY and condition.message:
            return f"{condition.reason}: {condition.message}"
    ready = status.condition(READY)
    if ready is not None and ready.message:
        return f"{ready.reason}: {ready.message}"
    return ""


def status_json(
    statuses: list[StackStatus] | StatusView, registries: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """The status object (as ``/stacks`` serves it), plus ``registries``: each Registry's last
    verification, and ``dryRun``: true when the stacks are the state of ``run --dry-run``."""
    from automation.daemon.status import status_document

    view = statuses if isinstance(statuses, StatusView) else StatusView(statuses, registries or {})
    return {
        **status_document(view.statuses),
        "registries": dict(view.registries),
        "dryRun": view.dry_run,
    }
