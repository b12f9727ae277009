"""Crash recovery: on start for every stack, and mid-run when an ``up`` finds pending operations.

Everything a restart needs is in the status store, written before an operation starts (its
``inFlight`` record) and after it ends, so :func:`recover_on_start` can tell a crash mid-``up``
from a clean stop. It records the interrupted operation, then asks the driver to clear what the
crash left behind (stale locks, pending operations) and keeps what needs a person in the
stack's ``recovery`` list.
"""

from __future__ import annotations

from automation.daemon import transitions
from automation.daemon.clock import Clock
from automation.daemon.driver import Driver, RecoveryReport, StackTarget, classify_error
from automation.daemon.layout import ProjectLayout
from automation.daemon.logs import EventLog
from automation.daemon.status import iso
from automation.daemon.status_book import StatusBook


def recover_on_start(
    layout: ProjectLayout, book: StatusBook, driver: Driver, *, clock: Clock, log: EventLog, history: int
) -> list[RecoveryReport]:
    """Record operations a crash interrupted and let the driver clear locks and pending operations."""
    reports = []
    skipped: set[str] = set()  # reasons already logged: a missing CLI is said once, not per stack
    for name in sorted(set(layout.stack_names()) | book.names()):
        now = clock.now()
        with book.lock:
            interrupted = transitions.interrupted(book.get(name), history=history, now=now)
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
        with book.edit(name) as status:
            if not report.clean:
                transitions.recovered(status, report, now, history=history, now=clock.now())
                _log(log, name, report)
    return reports


def recover_pending_operations(
    target: StackTarget, book: StatusBook, driver: Driver, *, log: EventLog
) -> None:
    """After an operation failed on pending operations: clear them now, so the retry can succeed."""
    try:
        report = driver.recover(target)
    except Exception as exc:  # noqa: BLE001
        log.error("recovery.failed", stack=target.name, message=classify_error(exc).message)
        return
    if not report.clean:
        with book.edit(target.name) as status:
            status.recovery = list(report.manual)
        _log(log, target.name, report)


def _log(log: EventLog, stack: str, report: RecoveryReport) -> None:
    log.warning(
        "recovery",
        stack=stack,
        found=list(report.found),
        actions=list(report.actions),
        manual=list(report.manual),
    )
