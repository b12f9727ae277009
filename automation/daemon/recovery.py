"""Crash recovery: on start for the stacks a crash may have touched, and mid-run when an ``up``
finds pending operations.

Everything a restart needs is in the status store, written before an operation starts (its
``inFlight`` record) and after it ends, so :func:`recover_on_start` can tell a crash mid-``up``
from a clean stop. It records the interrupted operation, then asks the driver to clear what the
crash left behind (stale locks, pending operations) — only for stacks with an ``inFlight``
record or a lock file in a local backend (:meth:`~.driver.Driver.locked_stacks`), never for a
removed stack, so a start with nothing to recover does not call Pulumi once per stack.

What recovery found is kept in the stack's ``recovery`` list, apart from its operations. What it
leaves for a person holds the stack (Stalled, ``NeedsAttention``) until a person acknowledges
with a new ``driftless.dev/force-reconcile`` token: re-running ``up`` after, say, an interrupted
create of a resource outside Kubernetes could create it twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from automation.daemon import transitions
from automation.daemon.clock import Clock
from automation.daemon.driver import Driver, RecoveryReport, StackTarget, classify_error
from automation.daemon.layout import ProjectLayout
from automation.daemon.logs import EventLog
from automation.daemon.status import PHASE_REMOVED, iso
from automation.daemon.status_book import StatusBook

STARTUP = "Startup"
PENDING_OPERATIONS = "PendingOperations"

ForceTokens = Callable[[str], Mapping[str, str]]
"""A stack's force-reconcile tokens as its file says now (``"Kind/name" -> token``)."""


def recover_on_start(
    layout: ProjectLayout,
    book: StatusBook,
    driver: Driver,
    *,
    clock: Clock,
    log: EventLog,
    history: int,
    tokens: ForceTokens,
    only: Collection[str] | None = None,
) -> list[RecoveryReport]:
    """Record operations a crash interrupted and let the driver clear locks and pending operations.

    ``only``: just these stacks (a replica sharing the stacks recovers each when it takes it).
    Returns a report for each stack the driver was asked about.
    """
    try:
        locked = set(driver.locked_stacks())
    except Exception as exc:  # noqa: BLE001 (recovery must not stop the daemon from starting)
        log.error("recovery.locks_unreadable", message=f"{type(exc).__name__}: {exc}")
        locked = set()
    reports = []
    skipped: set[str] = set()  # reasons already logged: a missing CLI is said once, not per stack
    names = set(layout.stack_names()) | book.names()
    for name in sorted(names if only is None else names & set(only)):
        now = clock.now()
        with book.edit(name) as status:
            removed = status.phase == PHASE_REMOVED
            interrupted = transitions.interrupted(status, history=history, now=now)
        if removed or (interrupted is None and name not in locked):
            continue
        observations = layout.observations_file(name)
        target = StackTarget(name, layout.stack_file(name), observations if observations.exists() else None)
        try:
            report = driver.recover(target)
        except Exception as exc:  # noqa: BLE001 (recovery must not stop the daemon from starting)
            error = classify_error(exc)
            if error.retryable:
                report = RecoveryReport(
                    name, manual=(f"recovery could not run: {error.reason}: {error.message}",)
                )
            else:  # e.g. no Pulumi CLI: every operation stalls with this reason; say it once here
                if error.reason not in skipped:
                    skipped.add(error.reason)
                    log.warning("recovery.skipped", reason=error.reason, message=error.message)
                report = RecoveryReport(name)
        if interrupted is not None:
            found = f"{interrupted.kind} started at {iso(interrupted.started_at)} was interrupted"
            report = RecoveryReport(name, (found, *report.found), report.actions, report.manual)
        reports.append(report)
        if not report.clean:
            _record(book, name, report, STARTUP, tokens, clock=clock, history=history, log=log)
    return reports


def recover_pending_operations(
    target: StackTarget,
    book: StatusBook,
    driver: Driver,
    *,
    tokens: Mapping[str, str],
    clock: Clock,
    history: int,
    log: EventLog,
) -> None:
    """After an operation failed on pending operations: clear them now, so the retry can succeed."""
    try:
        report = driver.recover(target)
    except Exception as exc:  # noqa: BLE001
        log.error("recovery.failed", stack=target.name, message=classify_error(exc).message)
        return
    if not report.clean:
        _record(
            book,
            target.name,
            report,
            PENDING_OPERATIONS,
            lambda _: tokens,
            clock=clock,
            history=history,
            log=log,
        )


def _record(
    book: StatusBook,
    name: str,
    report: RecoveryReport,
    trigger: str,
    tokens: ForceTokens,
    *,
    clock: Clock,
    history: int,
    log: EventLog,
) -> None:
    current = tokens(name) if report.manual else {}
    with book.edit(name) as status:
        transitions.recovered(status, report, trigger, tokens=current, history=history, now=clock.now())
    log.warning(
        "recovery",
        stack=name,
        trigger=trigger,
        found=list(report.found),
        actions=list(report.actions),
        manual=list(report.manual),
        needs_attention=bool(report.manual) or None,
    )
