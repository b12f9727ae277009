"""The reconciler's promises: act on exactly what changed, back off, stall, recover, stay bounded."""

from __future__ import annotations

import threading

import pytest

from automation.daemon.decisions import DRIFT_CHECK, UP
from automation.daemon.driver import CliMissingError, ProgramError, ResourceChange, StackLockedError
from automation.daemon.offline_driver import OfflineDriver
from automation.daemon.settings import DaemonSettings
from automation.daemon.status import DRIFTED, READY, RECONCILING, STALLED
from tests.automation.daemon.helpers import (
    LOCKED_STDERR,
    PROGRAM_STDOUT,
    UNAVAILABLE_STDERR,
    FakeDriver,
    SimulatedCrash,
    command_error,
    note,
    render_notes,
    saved,
    write_stack,
)


def states(outcomes):
    return {o.stack: o.state for o in outcomes}


@pytest.fixture
def two_stacks(layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="red"))
    write_stack(layout.stacks_dir / "beta.yaml", note("b", color="blue"))


# --- change detection ----------------------------------------------------------------------------


@pytest.mark.usefixtures("two_stacks")
def test_a_cycle_with_nothing_changed_starts_no_operation(make_reconciler, driver):
    reconciler = make_reconciler(driver)
    assert states(reconciler.cycle()) == {"alpha": "reconciled", "beta": "reconciled"}
    driver.calls.clear()

    outcomes = reconciler.cycle()

    assert states(outcomes) == {"alpha": "unchanged", "beta": "unchanged"}
    assert driver.calls == []


@pytest.mark.usefixtures("two_stacks")
def test_reformatting_a_stack_file_is_not_a_change(make_reconciler, driver, layout):
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    driver.calls.clear()
    path = layout.stacks_dir / "alpha.yaml"
    saved(
        path,
        "# a comment, other quoting and key order\n---\nspec: {data: {color: 'red'}}\nmetadata: {name: a}\nkind: Note\n",
    )

    assert states(reconciler.cycle())["alpha"] == "unchanged"
    assert driver.calls == []


@pytest.mark.usefixtures("two_stacks")
def test_a_changed_file_reconciles_only_its_stack(make_reconciler, driver, layout):
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    driver.calls.clear()

    write_stack(layout.stacks_dir / "beta.yaml", note("b", color="green"))
    outcomes = states(reconciler.cycle())

    assert driver.ops() == [("up", "beta", {"refresh": False})]
    assert outcomes == {"alpha": "unchanged", "beta": "reconciled"}


@pytest.mark.usefixtures("two_stacks")
def test_a_program_change_reconciles_every_stack(make_reconciler, driver, layout):
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    driver.calls.clear()

    (layout.project_dir / "components" / "new_kind.py").write_text("KINDS = ()\n")
    reconciler.cycle()

    assert driver.stacks_operated() == ["alpha", "beta"]


@pytest.mark.usefixtures("two_stacks")
def test_a_new_observation_reconciles_the_stack_that_uses_it(make_reconciler, driver, observations):
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    driver.calls.clear()

    observations.material["alpha"] = {"git": {"https://git.example/api.git": {"main": "abc123"}}}
    reconciler.cycle()

    assert driver.stacks_operated() == ["alpha"]


def test_a_new_force_token_runs_up_refresh_once(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="red"))
    write_stack(layout.stacks_dir / "beta.yaml", note("b"))
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    driver.calls.clear()

    write_stack(layout.stacks_dir / "alpha.yaml", note("a", force="2026-11-21-1", color="red"))
    first = reconciler.cycle()
    second = reconciler.cycle()

    assert driver.ops() == [("up", "alpha", {"refresh": True})]
    assert states(first)["alpha"] == "reconciled"
    assert states(second)["alpha"] == "unchanged"
    assert reconciler.status("alpha").last_operation.trigger == "ForceReconcile"

    write_stack(layout.stacks_dir / "alpha.yaml", note("a", force="2026-11-21-2", color="red"))
    reconciler.cycle()
    assert driver.ops() == [("up", "alpha", {"refresh": True}), ("up", "alpha", {"refresh": True})]


def test_a_handled_force_token_is_remembered_across_restarts(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", force="t1"))
    make_reconciler(driver).cycle()
    driver.calls.clear()

    restarted = make_reconciler(driver)
    restarted.recover()
    restarted.cycle()

    assert driver.ops("up") == []


# --- failures ------------------------------------------------------------------------------------


def test_retryable_failures_back_off_exponentially_with_a_cap(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    settings = DaemonSettings(max_failures=10)
    driver.fail("alpha", *[command_error(UNAVAILABLE_STDERR) for _ in range(8)])
    reconciler = make_reconciler(driver, settings=settings)

    delays = []
    for _ in range(8):
        assert states(reconciler.cycle())["alpha"] == "failed"
        backoff = reconciler.status("alpha").backoff
        assert backoff.reason == "ProviderUnavailable"
        delays.append(backoff.delay_seconds)
        clock.advance(backoff.delay_seconds - 1)
        calls = len(driver.calls)
        assert states(reconciler.cycle())["alpha"] == "waiting"  # not yet due: no operation
        assert len(driver.calls) == calls
        clock.advance(1)

    assert delays == [10, 30, 90, 270, 810, 2430, 3600, 3600]
    assert states(reconciler.cycle())["alpha"] == "reconciled"
    status = reconciler.status("alpha")
    assert status.backoff is None
    assert status.failures == 0
    assert status.is_true(READY)


def test_jitter_is_applied_to_the_schedule(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.fail("alpha", command_error(UNAVAILABLE_STDERR))
    reconciler = make_reconciler(driver, jitter=lambda delay: delay * 0.8)

    reconciler.cycle()

    assert reconciler.status("alpha").backoff.delay_seconds == pytest.approx(8.0)


def test_a_new_input_bypasses_the_backoff(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.fail("alpha", command_error(UNAVAILABLE_STDERR), command_error(UNAVAILABLE_STDERR))
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    reconciler.cycle()  # backing off: nothing runs
    assert len(driver.ops("up")) == 1

    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="fixed"))
    reconciler.cycle()

    assert len(driver.ops("up")) == 2
    status = reconciler.status("alpha")
    assert status.failures == 1  # the count starts over for the new input


def test_a_lock_conflict_is_retried_not_stalled(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.fail("alpha", command_error(LOCKED_STDERR))  # a plain CommandError, as the SDK raises it
    reconciler = make_reconciler(driver)

    reconciler.cycle()
    status = reconciler.status("alpha")
    assert status.phase == "Retrying"
    assert not status.is_true(STALLED)
    assert status.condition(READY).reason == "StackLocked"
    assert status.condition(RECONCILING).reason == "RetryScheduled"

    clock.advance(10)
    assert states(reconciler.cycle())["alpha"] == "reconciled"
    assert reconciler.status("alpha").phase == "Ready"


def test_a_permanent_error_stalls_until_an_input_changes(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.fail("alpha", command_error("error: update failed", stdout=PROGRAM_STDOUT))
    reconciler = make_reconciler(driver)

    reconciler.cycle()
    status = reconciler.status("alpha")
    assert status.phase == "Stalled"
    assert status.condition(STALLED).reason == "ProgramError"
    assert "ZeroDivisionError" in status.condition(STALLED).message
    assert status.backoff is None

    clock.advance(24 * 3600)
    assert states(reconciler.cycle())["alpha"] == "stalled"
    assert len(driver.ops("up")) == 1

    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="fixed"))
    assert states(reconciler.cycle())["alpha"] == "reconciled"
    assert not reconciler.status("alpha").is_true(STALLED)


def test_n_consecutive_retryable_failures_stall(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.fail("alpha", *[command_error(LOCKED_STDERR) for _ in range(5)])
    reconciler = make_reconciler(driver)  # default maxFailures: 5

    for attempt in range(1, 6):
        reconciler.cycle()
        status = reconciler.status("alpha")
        assert status.failures == attempt
        if attempt < 5:
            assert status.phase == "Retrying"
            clock.advance(status.backoff.delay_seconds)

    assert status.phase == "Stalled"
    assert status.condition(STALLED).reason == "TooManyFailures"
    clock.advance(7200)
    reconciler.cycle()
    assert len(driver.ops("up")) == 5


def test_a_lock_in_a_remote_backend_that_never_clears_waits_for_a_person(
    make_reconciler, driver, layout, clock
):
    """Nothing here can tell whether the update holding a remote backend's lock is alive: once
    retries run out the stack is held with the step to take, and a changed input does not retry."""
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    step = "stack alpha stays locked in s3://state; run `pulumi cancel --stack alpha`"
    driver.fail("alpha", *[StackLockedError("locked", person_step=step) for _ in range(6)])
    reconciler = make_reconciler(driver)

    for _ in range(5):
        reconciler.cycle()
        backoff = reconciler.status("alpha").backoff
        if backoff is not None:
            clock.advance(backoff.delay_seconds)

    status = reconciler.status("alpha")
    assert status.condition(STALLED).reason == "NeedsAttention"
    assert "pulumi cancel --stack alpha" in status.condition(STALLED).message
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="changed"))
    reconciler.cycle()
    assert len(driver.ops("up")) == 5


def test_an_invalid_stack_file_stalls_without_touching_pulumi(make_reconciler, driver, layout):
    saved(layout.stacks_dir / "alpha.yaml", "kind: Note\nmetadata: {name: a}\nspec: {colour: red}\n")
    reconciler = make_reconciler(driver)

    outcome = reconciler.cycle()[0]

    assert outcome.state == "failed"
    assert driver.calls == []
    stalled = reconciler.status("alpha").condition(STALLED)
    assert stalled.reason == "InvalidSpec"
    assert "alpha.yaml:3: Note/a: spec.colour: unknown field" in stalled.message
    assert states(reconciler.cycle())["alpha"] == "stalled"

    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="red"))
    assert states(reconciler.cycle())["alpha"] == "reconciled"


def test_a_force_token_on_a_stalled_stack_retries_it(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.fail("alpha", ProgramError("program failed: KeyError: 'x'"))
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    assert reconciler.status("alpha").phase == "Stalled"

    write_stack(layout.stacks_dir / "alpha.yaml", note("a", force="retry-please"))
    reconciler.cycle()

    assert driver.ops("up")[-1] == ("up", "alpha", {"refresh": True})
    assert reconciler.status("alpha").phase == "Ready"


# --- crashes -------------------------------------------------------------------------------------


def test_a_crash_mid_up_is_recovered_on_restart(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.crash_next_up.add("alpha")
    with pytest.raises(SimulatedCrash):
        make_reconciler(driver).cycle()
    assert driver.pending == {"alpha"}  # the "state" now has a pending operation

    restarted = make_reconciler(driver)
    reports = restarted.recover()
    outcomes = states(restarted.cycle())

    assert [r.stack for r in reports if not r.clean] == ["alpha"]
    report = next(r for r in reports if r.stack == "alpha")
    assert any("interrupted" in found for found in report.found)
    assert driver.pending == set()
    assert outcomes["alpha"] == "reconciled"
    status = restarted.status("alpha")
    assert [(op.kind, op.result) for op in status.history] == [("up", "succeeded"), ("up", "interrupted")]
    assert status.last_operation.kind == "up"
    (record,) = status.recovery
    assert record.trigger == "Startup"
    assert any("interrupted" in found for found in record.found)
    assert record.actions == ["cleared 1 pending operation(s) (export, drop, import)", "refreshed the stack"]


def test_recovery_that_cannot_run_without_a_cli_is_not_recorded_per_stack(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    write_stack(layout.stacks_dir / "beta.yaml", note("b"))
    driver.recover_error = CliMissingError()
    driver.fail("alpha", CliMissingError())
    reconciler = make_reconciler(driver)

    reports = reconciler.recover()
    reconciler.cycle()

    assert all(report.clean for report in reports)
    alpha = reconciler.status("alpha")
    assert [op.kind for op in alpha.history] == ["up"]  # no "recover" entry for what could not run
    assert alpha.condition(STALLED).reason == "PulumiCliMissing"  # the up says it, once, per stack


def test_pending_operations_found_during_an_up_are_recovered_and_retried(
    make_reconciler, driver, layout, clock
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.pending.add("alpha")
    reconciler = make_reconciler(driver)

    reconciler.cycle()
    assert reconciler.status("alpha").backoff.reason == "PendingOperations"
    assert driver.recovered == ["alpha"]

    clock.advance(10)
    assert states(reconciler.cycle())["alpha"] == "reconciled"


# --- drift ---------------------------------------------------------------------------------------

DRIFTED_DEPLOYMENT = ResourceChange(
    "update", "kubernetes:apps/v1:Deployment", "api-dev", fields=("spec.replicas",)
)


def test_drift_is_checked_on_its_interval_and_reported_detect_only(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    driver.drift["alpha"] = (DRIFTED_DEPLOYMENT,)

    clock.advance(599)
    reconciler.cycle()
    assert driver.ops("drift") == []

    clock.advance(1)
    outcome = reconciler.cycle()[0]

    assert outcome.state == "drifted"
    status = reconciler.status("alpha")
    assert status.phase == "Drifted"
    drifted = status.condition(DRIFTED)
    assert (drifted.status, drifted.reason) == ("True", "DriftDetected")
    assert "kubernetes:apps/v1:Deployment api-dev (spec.replicas)" in drifted.message
    assert status.drift.resources == ["update kubernetes:apps/v1:Deployment api-dev (spec.replicas)"]
    assert len(driver.ops("up")) == 1  # detect-only: no remediation


def test_drift_is_remediated_with_up_refresh_when_the_stack_policy_says_so(
    make_reconciler, driver, layout, clock
):
    write_stack(layout.stacks_dir / "prod.yaml", note("a"))
    write_stack(layout.stacks_dir / "dev.yaml", note("b"))
    settings = DaemonSettings.model_validate(
        {"stacks": {"prod": {"drift": {"intervalSeconds": 300, "remediate": True}}}}
    )
    reconciler = make_reconciler(driver, settings=settings)
    reconciler.cycle()
    driver.calls.clear()
    driver.drift["prod"] = (DRIFTED_DEPLOYMENT,)

    clock.advance(300)
    reconciler.cycle()

    assert driver.ops() == [("drift", "prod", {}), ("up", "prod", {"refresh": True})]
    status = reconciler.status("prod")
    assert status.condition(DRIFTED).reason == "Remediated"
    assert status.last_operation.trigger == "DriftRemediation"
    assert status.phase == "Ready"


def test_no_drift_sets_drifted_false(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    clock.advance(600)

    assert states(reconciler.cycle())["alpha"] == "drift-checked"
    assert reconciler.status("alpha").condition(DRIFTED).status == "False"


def test_a_failed_drift_check_is_retried_as_a_drift_check(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    clock.advance(600)
    driver.fail(
        "alpha", command_error('error: Get "https://10.0.0.1:6443/api": dial tcp 10.0.0.1:6443: i/o timeout')
    )
    reconciler.cycle()
    assert reconciler.status("alpha").backoff.operation == DRIFT_CHECK

    clock.advance(10)
    reconciler.cycle()
    assert [c[0] for c in driver.calls] == ["up", "drift", "drift"]


# --- requeue hints and images ----------------------------------------------------------------------


def test_a_requeue_hint_sets_the_next_check(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.stack_outputs["alpha"] = {"WazuhCluster/siem": {"phase": "Creating", "requeueAfterSeconds": 120}}
    reconciler = make_reconciler(driver)
    start = clock.now()
    reconciler.cycle()
    status = reconciler.status("alpha")
    assert (status.requeue_at - start).total_seconds() == 120
    assert status.next_check_at == status.requeue_at

    clock.advance(119)
    reconciler.cycle()
    assert len(driver.ops("up")) == 1
    clock.advance(1)
    reconciler.cycle()
    assert driver.ops("up")[-1] == ("up", "alpha", {"refresh": False})
    assert reconciler.status("alpha").last_operation.trigger == "Requeue"


def test_frequent_requeue_hints_never_starve_the_drift_check(make_reconciler, driver, layout, clock):
    """An hour of a stack whose component asks to be looked at every minute: the requeue ups run
    as often as asked, and the drift checks still come at their interval."""
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.stack_outputs["alpha"] = {"WazuhCluster/siem": {"phase": "Running", "requeueAfterSeconds": 60}}
    settings = DaemonSettings.model_validate({"drift": {"enabled": True, "intervalSeconds": 600}})
    reconciler = make_reconciler(driver, settings=settings)

    for _ in range(360):  # one cycle every 10 s for an hour
        reconciler.cycle()
        clock.advance(10)

    drift_checks = len(driver.ops("drift"))
    requeue_ups = len(driver.ops("up")) - 1  # the first one applied the stack
    assert drift_checks >= 5, driver.calls
    assert requeue_ups >= 45, driver.calls


def test_a_requeue_hint_below_the_floor_is_raised_to_it(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.stack_outputs["alpha"] = {
        "WandB/ml": {"requeueAfterSeconds": 5},
        "WandB/other": {"phase": "Ready"},
    }
    reconciler = make_reconciler(driver)
    start = clock.now()
    reconciler.cycle()

    assert (reconciler.status("alpha").requeue_at - start).total_seconds() == 10  # the default minimum


def test_a_requeue_hint_of_0_brings_the_next_up_after_the_minimum_interval(
    make_reconciler, driver, layout, clock
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.stack_outputs["alpha"] = {"WandB/ml": {"requeueAfterSeconds": 0}}
    settings = DaemonSettings.model_validate({"requeueFloorSeconds": 30, "drift": {"enabled": False}})
    reconciler = make_reconciler(driver, settings=settings)
    reconciler.cycle()
    assert len(driver.ops("up")) == 1

    clock.advance(29)
    reconciler.cycle()
    assert len(driver.ops("up")) == 1  # not before the minimum interval

    clock.advance(1)
    reconciler.cycle()
    assert len(driver.ops("up")) == 2


def test_last_good_and_pinned_images_are_copied_into_the_observation_store(
    make_reconciler, driver, layout, observations
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    images = {"main": {"image": "harbor.corp.com/myapp/api@sha256:abc", "commit": "abc123"}}
    pinned = {"@{prod}": {"image": "harbor.corp.com/myapp/api@sha256:old", "commit": "old123"}}
    driver.stack_outputs["alpha"] = {
        "Project/api": {"lastGoodImages": images, "pinnedImages": pinned},
        "Registry/harbor": {"ok": True},
    }
    reconciler = make_reconciler(driver)

    reconciler.cycle()

    assert observations.images == {"api": {**images, **pinned}}


# --- concurrency ---------------------------------------------------------------------------------


def test_the_concurrency_bound_holds(make_reconciler, layout):
    for index in range(6):
        write_stack(layout.stacks_dir / f"s{index}.yaml", note("a", n=str(index)))
    driver = FakeDriver(op_seconds=0.05)
    reconciler = make_reconciler(driver, settings=DaemonSettings(concurrency=2))

    outcomes = reconciler.cycle()

    assert all(o.state == "reconciled" for o in outcomes)
    assert len(driver.ops("up")) == 6
    assert driver.max_active == 2


def test_one_operation_per_stack_at_a_time(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.gate = threading.Event()
    reconciler = make_reconciler(driver)

    first = reconciler.cycle(wait=False)
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="changed-meanwhile"))
    second = reconciler.cycle(wait=False)

    assert states(first) == {"alpha": "started"}
    assert states(second) == {"alpha": "busy"}
    assert reconciler.status("alpha").phase == "Reconciling"
    driver.gate.set()
    assert reconciler.wait_idle(5)
    reconciler.cycle()  # the change made during the operation is applied next
    assert len(driver.ops("up")) == 2


def test_shutdown_lets_running_operations_finish_and_starts_none(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.gate = threading.Event()
    reconciler = make_reconciler(driver)
    reconciler.cycle(wait=False)
    threading.Timer(0.1, driver.gate.set).start()

    left = reconciler.shutdown(grace=5)
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="after-stop"))
    outcome = reconciler.cycle()[0]

    assert left == []
    assert driver.cancelled == []
    assert reconciler.status("alpha").last_operation.result == "succeeded"
    assert outcome.state == "waiting"
    assert len(driver.ops("up")) == 1


def test_shutdown_cancels_what_outlives_the_grace_period(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.gate = threading.Event()  # never set: the operation only ends when cancelled
    reconciler = make_reconciler(driver)
    reconciler.cycle(wait=False)

    left = reconciler.shutdown(grace=0.1)

    assert left == []
    assert driver.cancelled == ["alpha"]
    status = reconciler.status("alpha")
    assert status.last_operation.result == "cancelled"
    assert status.failures == 0
    assert status.backoff is None


# --- the offline driver in the loop ----------------------------------------------------------------


def test_offline_dry_run_reconciles_then_reports_unchanged(make_reconciler, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="red"), note("b"))
    write_stack(layout.stacks_dir / "beta.yaml")
    offline = OfflineDriver(layout.state_dir, render=render_notes)
    reconciler = make_reconciler(offline)

    first = {o.stack: o for o in reconciler.cycle()}
    second = states(reconciler.cycle())
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="green"), note("b"))
    third = {o.stack: o for o in reconciler.cycle()}

    assert first["alpha"].operation.changes.create == 4  # two Notes, each with one Item
    assert second == {"alpha": "unchanged", "beta": "unchanged"}
    changes = third["alpha"].operation.changes
    assert (changes.create, changes.update, changes.delete, changes.same) == (0, 1, 0, 3)
    assert third["beta"].state == "unchanged"


def test_a_removed_stack_file_touches_nothing_and_a_restored_one_is_applied_again(
    make_reconciler, driver, layout
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    (layout.stacks_dir / "alpha.yaml").unlink()

    outcome = reconciler.cycle()[0]

    assert outcome.state == "removed"
    status = reconciler.status("alpha")
    assert status.phase == "Removed"
    assert "destroy --stack alpha" in status.condition(READY).message
    assert driver.ops("destroy") == []

    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    assert states(reconciler.cycle())["alpha"] == "reconciled"
    assert reconciler.status("alpha").phase == "Ready"


def test_status_survives_a_restart(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    before = make_reconciler(driver)
    before.cycle()
    saved = before.status_document()

    after = make_reconciler(driver)

    assert after.status_document() == saved
    assert saved["stacks"][0]["phase"] == "Ready"
    assert saved["stacks"][0]["lastOperation"]["kind"] == UP
    driver.calls.clear()
    after.cycle()
    assert driver.calls == []


# --- timers: the loop cycles when next_due() passes, so it must never be past for a stack at rest ----


def test_a_stalled_stack_has_no_timer_even_when_its_drift_check_was_due(
    make_reconciler, driver, layout, clock
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    reconciler = make_reconciler(driver)
    reconciler.cycle()  # applied; a drift check is due in 600 s
    driver.fail("alpha", ProgramError("program failed: KeyError: 'x'"))
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="broken"))
    reconciler.cycle()

    clock.advance(3600)
    assert states(reconciler.cycle())["alpha"] == "stalled"

    assert reconciler.status("alpha").next_check_at is None
    assert reconciler.next_due() is None  # a past time here made the daemon loop run cycles non-stop


def test_while_backing_off_the_next_check_is_the_retry(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    settings = DaemonSettings.model_validate({"backoff": {"baseSeconds": 300}})
    reconciler = make_reconciler(driver, settings=settings)
    reconciler.cycle()  # applied; a drift check is due in 600 s
    clock.advance(500)
    driver.fail("alpha", command_error(UNAVAILABLE_STDERR))
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="new"))
    reconciler.cycle()  # fails; retry in 300 s, after the drift check was due

    clock.advance(200)
    assert states(reconciler.cycle())["alpha"] == "waiting"

    retry_at = reconciler.status("alpha").backoff.retry_at
    assert reconciler.next_due() == retry_at
    assert retry_at > clock.now()


def test_turning_drift_checks_off_drops_a_pending_drift_timer(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    make_reconciler(driver).cycle()  # drift checks on: one is due in 600 s
    restarted = make_reconciler(driver, settings=DaemonSettings.model_validate({"drift": {"enabled": False}}))

    clock.advance(600)
    assert states(restarted.cycle())["alpha"] == "unchanged"

    assert restarted.status("alpha").next_drift_check_at is None
    assert restarted.next_due() is None


def test_a_drift_check_that_succeeds_on_retry_makes_the_stack_ready_again(
    make_reconciler, driver, layout, clock
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    clock.advance(600)
    driver.fail("alpha", command_error(UNAVAILABLE_STDERR))
    reconciler.cycle()
    assert reconciler.status("alpha").condition(READY).status == "False"

    clock.advance(10)
    assert states(reconciler.cycle())["alpha"] == "drift-checked"

    status = reconciler.status("alpha")
    assert status.phase == "Ready"
    assert status.condition(READY).status == "True"
    assert "ProviderUnavailable" not in status.condition(READY).reason


# --- a failing stack whose inputs go back to the applied ones ----------------------------------------


def test_a_stack_file_reverted_after_being_invalid_is_ready_again_without_an_operation(
    make_reconciler, driver, layout, clock
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="red"))
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    driver.calls.clear()
    saved(layout.stacks_dir / "alpha.yaml", "kind: Note\nmetadata: {name: a}\nspec: {colour: red}\n")
    assert states(reconciler.cycle())["alpha"] == "failed"

    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="red"))
    outcome = reconciler.cycle()[0]

    assert (outcome.state, outcome.failed) == ("resumed", False)
    assert driver.calls == []
    status = reconciler.status("alpha")
    assert status.phase == "Ready"
    assert not status.is_true(STALLED)
    assert status.condition(READY).reason == "InputsReverted"
    assert "no longer stalled (InvalidSpec)" in status.condition(READY).message
    assert states(reconciler.cycle())["alpha"] == "unchanged"


def test_a_stall_whose_inputs_go_back_to_the_applied_ones_ends_and_never_wedges(
    make_reconciler, driver, layout, clock
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", v="1"))
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    driver.fail("alpha", command_error("error: update failed", stdout=PROGRAM_STDOUT))
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", v="2"))
    reconciler.cycle()
    assert reconciler.status("alpha").phase == "Stalled"

    write_stack(layout.stacks_dir / "alpha.yaml", note("a", v="1"))  # the user reverts
    reverted = reconciler.cycle()[0]

    # the failed up may have changed resources before the program raised: v1 is applied again
    assert (reverted.state, reverted.operation.trigger) == ("reconciled", "InputChanged")
    assert reconciler.status("alpha").phase == "Ready"
    clock.advance(600)
    assert states(reconciler.cycle())["alpha"] == "drift-checked"
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", v="3"))
    assert states(reconciler.cycle())["alpha"] == "reconciled"  # it kept working afterwards
    assert [c[0] for c in driver.calls] == ["up", "up", "up", "drift", "up"]


def test_a_stack_stalled_by_failures_that_changed_nothing_resumes_when_reverted(
    make_reconciler, driver, layout, clock
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", v="1"))
    reconciler = make_reconciler(driver, settings=DaemonSettings(max_failures=2))
    reconciler.cycle()
    driver.fail("alpha", command_error(LOCKED_STDERR), command_error(LOCKED_STDERR))
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", v="2"))
    reconciler.cycle()
    clock.advance(10)
    reconciler.cycle()
    assert reconciler.status("alpha").condition(STALLED).reason == "TooManyFailures"

    write_stack(layout.stacks_dir / "alpha.yaml", note("a", v="1"))
    assert states(reconciler.cycle())["alpha"] == "resumed"

    assert len(driver.ops("up")) == 3  # the lock refused both tries: nothing to put back
    status = reconciler.status("alpha")
    assert (status.phase, status.failures, status.failed_input) == ("Ready", 0, None)
    clock.advance(600)
    assert states(reconciler.cycle())["alpha"] == "drift-checked"


# --- what crash recovery leaves for a person holds the stack ------------------------------------------

CONNECTOR_URN = "urn:pulumi:alpha::driftless::fivetran:index/connector:Connector::salesforce"
INTERRUPTED_CREATE = (
    f"interrupted create of {CONNECTOR_URN}: it may exist outside Pulumi's state; "
    "import it (`pulumi import`) or delete it"
)


def test_an_interrupted_create_holds_the_stack_until_a_person_acknowledges(
    make_reconciler, driver, layout, clock
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", force="t1"))
    driver.crash_next_up.add("alpha")
    with pytest.raises(SimulatedCrash):
        make_reconciler(driver).cycle()
    driver.recover_manual["alpha"] = (INTERRUPTED_CREATE,)

    restarted = make_reconciler(driver)
    restarted.recover()
    held = restarted.cycle()[0]

    assert (held.state, held.failed) == ("stalled", True)
    assert driver.ops("up") == [("up", "alpha", {"refresh": True})]  # only the crashed one
    status = restarted.status("alpha")
    assert status.phase == "Stalled"
    stalled = status.condition(STALLED)
    assert stalled.reason == "NeedsAttention"
    assert INTERRUPTED_CREATE in stalled.message
    assert status.attention.items == [INTERRUPTED_CREATE]
    assert status.next_check_at is None

    write_stack(layout.stacks_dir / "alpha.yaml", note("a", force="t1", color="new"))  # not an answer
    clock.advance(3600)
    assert states(restarted.cycle())["alpha"] == "stalled"
    assert len(driver.ops("up")) == 1

    write_stack(layout.stacks_dir / "alpha.yaml", note("a", force="t2", color="new"))  # acknowledged
    assert states(restarted.cycle())["alpha"] == "reconciled"

    assert driver.ops("up")[-1] == ("up", "alpha", {"refresh": True})
    status = restarted.status("alpha")
    assert (status.phase, status.attention) == ("Ready", None)
    assert status.last_operation.trigger == "Acknowledged"
    (record,) = status.recovery  # what was found stays on record, apart from the operations
    assert record.manual == [INTERRUPTED_CREATE]
    assert [(op.kind, op.result) for op in status.history] == [("up", "succeeded"), ("up", "interrupted")]


def test_a_hold_survives_a_restart(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.crash_next_up.add("alpha")
    with pytest.raises(SimulatedCrash):
        make_reconciler(driver).cycle()
    driver.recover_manual["alpha"] = (INTERRUPTED_CREATE,)
    first = make_reconciler(driver)
    first.recover()
    first.cycle()

    again = make_reconciler(driver)
    again.recover()

    assert states(again.cycle())["alpha"] == "stalled"
    assert again.status("alpha").attention.items == [INTERRUPTED_CREATE]
    assert len(driver.ops("up")) == 1


def test_pending_operations_that_need_a_person_hold_the_stack(make_reconciler, driver, layout, clock):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.pending.add("alpha")
    driver.recover_manual["alpha"] = (INTERRUPTED_CREATE,)
    reconciler = make_reconciler(driver)

    reconciler.cycle()
    clock.advance(3600)
    reconciler.cycle()

    assert len(driver.ops("up")) == 1
    status = reconciler.status("alpha")
    assert status.condition(STALLED).reason == "NeedsAttention"
    assert [record.trigger for record in status.recovery] == ["PendingOperations"]


# --- start-up recovery looks only where a crash can have left something ---------------------------------


def test_start_up_recovery_inspects_only_interrupted_or_locked_stacks(make_reconciler, driver, layout):
    for name in ("alpha", "beta", "gamma", "delta"):
        write_stack(layout.stacks_dir / f"{name}.yaml", note(name[0]))
    make_reconciler(driver).cycle()
    (layout.stacks_dir / "delta.yaml").unlink()
    make_reconciler(driver).cycle()  # delta is Removed now
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", color="new"))
    driver.crash_next_up.add("alpha")
    with pytest.raises(SimulatedCrash):
        make_reconciler(driver).cycle()
    driver.locked = {"gamma", "delta", "not-ours"}

    reports = make_reconciler(driver).recover()

    assert driver.recovered == ["alpha", "gamma"]  # beta: nothing to look at; delta: removed
    assert [r.stack for r in reports] == ["alpha", "gamma"]


def test_an_up_cut_short_runs_again_even_when_the_inputs_went_back_meanwhile(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", v="1"))
    make_reconciler(driver).cycle()
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", v="2"))
    driver.crash_next_up.add("alpha")
    with pytest.raises(SimulatedCrash):
        make_reconciler(driver).cycle()
    write_stack(layout.stacks_dir / "alpha.yaml", note("a", v="1"))  # reverted while the daemon was down

    restarted = make_reconciler(driver)
    restarted.recover()
    outcome = restarted.cycle()[0]

    # the interrupted up for v2 may have changed resources: v1 is applied again, not taken as is
    assert (outcome.state, outcome.operation.trigger) == ("reconciled", "Retry")
    assert restarted.status("alpha").partially_applied is False
    assert states(restarted.cycle())["alpha"] == "unchanged"
