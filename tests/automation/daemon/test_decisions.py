"""The decision rules as tables: what to do with a stack now, when to retry, when to stall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from automation.daemon import transitions
from automation.daemon.decisions import (
    ACKNOWLEDGED,
    DRIFT_CHECK,
    DRIFT_TIMER,
    FORCE_RECONCILE,
    HOLD,
    INITIAL,
    INPUT_CHANGED,
    INVALID,
    NOTHING,
    REQUEUE,
    RESUME,
    RETRY,
    UP,
    WAIT,
    Decision,
    Stall,
    decide,
    requeue_after,
    retry_delay,
    stall_for,
)
from automation.daemon.driver import InvalidSpecError, ProgramError, StackLockedError
from automation.daemon.fingerprint import Fingerprint
from automation.daemon.inputs import StackInputs
from automation.daemon.settings import BackoffPolicy, DeletionGuard, DriftPolicy, SettingsError, load_settings
from automation.daemon.status import STALLED, Attention, Backoff, DeletionHold, Operation, StackStatus
from components.documents import load_stack_text
from tests.automation.daemon.helpers import REGISTRY, note

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(seconds=1)
LATER = NOW + timedelta(seconds=1)
APPLIED = "sha256:applied"
CHANGED = "sha256:changed"
DRIFT_ON = DriftPolicy()
DRIFT_OFF = DriftPolicy(enabled=False)


def inputs(
    value: str = APPLIED, *, tokens: dict[str, str] | None = None, invalid: bool = False
) -> StackInputs:
    error = InvalidSpecError("1 problem(s) in dev.yaml: spec.colour: unknown field") if invalid else None
    return StackInputs("dev", Path("stacks/dev.yaml"), None, error, Fingerprint(value, {}), tokens or {})


def status(
    fingerprint: str | None = APPLIED,
    *,
    failed_input: str | None = None,
    stalled: bool = False,
    backoff: Backoff | None = None,
    requeue_at: datetime | None = None,
    next_drift_check_at: datetime | None = LATER,
    handled: dict[str, str] | None = None,
    partially_applied: bool = False,
    attention: Attention | None = None,
    handled_deletions: dict[str, str] | None = None,
) -> StackStatus:
    made = StackStatus(
        "dev",
        fingerprint=fingerprint,
        failed_input=failed_input,
        backoff=backoff,
        requeue_at=requeue_at,
        next_drift_check_at=next_drift_check_at,
        handled_tokens=handled or {},
        partially_applied=partially_applied,
        attention=attention,
        handled_deletion_tokens=handled_deletions or {},
    )
    made.ensure_conditions(NOW)
    if stalled:
        made.set_condition(STALLED, True, "ProgramError", "program failed", NOW)
    if attention is not None:
        made.set_condition(STALLED, True, "NeedsAttention", "crash recovery needs a person", NOW)
    return made


def needs_attention(seen: dict[str, str] | None = None) -> Attention:
    return Attention(EARLIER, ["interrupted create of a Fivetran connector"], seen or {})


def retry(at: datetime, operation: str = UP, refresh: bool = False) -> Backoff:
    return Backoff(at, 10, "StackLocked", "locked", operation=operation, refresh=refresh)


CASES = [
    # (what, status, inputs, drift policy, expected action, trigger, refresh)
    ("never applied", status(None), inputs(), DRIFT_ON, UP, INITIAL, False),
    ("nothing changed, no timer due", status(), inputs(), DRIFT_ON, NOTHING, "", False),
    ("the inputs changed", status(), inputs(CHANGED), DRIFT_ON, UP, INPUT_CHANGED, False),
    ("a new force token", status(), inputs(tokens={"Note/a": "t1"}), DRIFT_ON, UP, FORCE_RECONCILE, True),
    (
        "a handled force token",
        status(handled={"Note/a": "t1"}),
        inputs(tokens={"Note/a": "t1"}),
        DRIFT_ON,
        NOTHING,
        "",
        False,
    ),
    ("a requeue hint due", status(requeue_at=EARLIER), inputs(), DRIFT_ON, UP, REQUEUE, False),
    ("a requeue hint not due yet", status(requeue_at=LATER), inputs(), DRIFT_ON, NOTHING, "", False),
    (
        "the drift check due",
        status(next_drift_check_at=EARLIER),
        inputs(),
        DRIFT_ON,
        DRIFT_CHECK,
        DRIFT_TIMER,
        False,
    ),
    (
        "no drift check yet",
        status(next_drift_check_at=None),
        inputs(),
        DRIFT_ON,
        DRIFT_CHECK,
        DRIFT_TIMER,
        False,
    ),
    ("drift checks off", status(next_drift_check_at=EARLIER), inputs(), DRIFT_OFF, NOTHING, "", False),
    (
        "backing off, not due",
        status(failed_input=CHANGED, backoff=retry(LATER)),
        inputs(CHANGED),
        DRIFT_ON,
        WAIT,
        "",
        False,
    ),
    (
        "backing off, due",
        status(failed_input=CHANGED, backoff=retry(EARLIER, refresh=True)),
        inputs(CHANGED),
        DRIFT_ON,
        UP,
        RETRY,
        True,
    ),
    (
        "a failed drift check, due",
        status(failed_input=APPLIED, backoff=retry(EARLIER, operation=DRIFT_CHECK)),
        inputs(),
        DRIFT_ON,
        DRIFT_CHECK,
        RETRY,
        False,
    ),
    (
        "a force token while backing off, due",
        status(failed_input=inputs(tokens={"Note/a": "t1"}).input_key({}), backoff=retry(EARLIER)),
        inputs(tokens={"Note/a": "t1"}),
        DRIFT_ON,
        UP,
        RETRY,
        True,
    ),
    (
        "backing off, but the input changed again",
        status(failed_input=CHANGED, backoff=retry(LATER)),
        inputs("sha256:changed-again"),
        DRIFT_ON,
        UP,
        INPUT_CHANGED,
        False,
    ),
    (
        "stalled, same input",
        status(failed_input=CHANGED, stalled=True, next_drift_check_at=EARLIER),
        inputs(CHANGED),
        DRIFT_ON,
        WAIT,
        "",
        False,
    ),
    (
        "stalled, the input changed",
        status(failed_input=CHANGED, stalled=True),
        inputs("sha256:fixed"),
        DRIFT_ON,
        UP,
        INPUT_CHANGED,
        False,
    ),
    (
        "stalled, back to the applied inputs (nothing changed by the failure)",
        status(failed_input=CHANGED, stalled=True, next_drift_check_at=EARLIER),
        inputs(APPLIED),
        DRIFT_ON,
        RESUME,
        INPUT_CHANGED,
        False,
    ),
    (
        "stalled, back to the applied inputs after an up that may have changed resources",
        status(failed_input=CHANGED, stalled=True, partially_applied=True),
        inputs(APPLIED),
        DRIFT_ON,
        UP,
        INPUT_CHANGED,
        False,
    ),
    (
        "an up cut short (cancelled, or a crash) on the applied inputs",
        status(partially_applied=True),
        inputs(APPLIED),
        DRIFT_ON,
        UP,
        RETRY,
        False,
    ),
    (
        "backing off, back to the applied inputs",
        status(failed_input=CHANGED, backoff=retry(LATER)),
        inputs(APPLIED),
        DRIFT_ON,
        RESUME,
        INPUT_CHANGED,
        False,
    ),
    (
        "stalled on an input an earlier daemon forgot",
        status(failed_input=None, stalled=True, next_drift_check_at=EARLIER),
        inputs(APPLIED),
        DRIFT_ON,
        RESUME,
        INPUT_CHANGED,
        False,
    ),
    (
        "needs attention: the inputs changed",
        status(attention=needs_attention()),
        inputs(CHANGED),
        DRIFT_ON,
        WAIT,
        "",
        False,
    ),
    (
        "needs attention: a token that was there when recovery asked",
        status(attention=needs_attention({"Note/a": "t1"})),
        inputs(tokens={"Note/a": "t1"}),
        DRIFT_ON,
        WAIT,
        "",
        False,
    ),
    (
        "needs attention: a new force token acknowledges it",
        status(attention=needs_attention({"Note/a": "t1"})),
        inputs(CHANGED, tokens={"Note/a": "t2"}),
        DRIFT_ON,
        UP,
        ACKNOWLEDGED,
        True,
    ),
    (
        "needs attention: the stack file does not load",
        status(attention=needs_attention()),
        inputs("sha256:bad", invalid=True),
        DRIFT_ON,
        WAIT,
        "",
        False,
    ),
    (
        "the stack file does not load",
        status(),
        inputs("sha256:bad", invalid=True),
        DRIFT_ON,
        INVALID,
        INPUT_CHANGED,
        False,
    ),
    (
        "the stack file still does not load",
        status(failed_input="sha256:bad", stalled=True),
        inputs("sha256:bad", invalid=True),
        DRIFT_ON,
        WAIT,
        "",
        False,
    ),
]


@pytest.mark.parametrize(
    ("current", "stack", "drift", "action", "trigger", "refresh"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_decide(current, stack, drift, action, trigger, refresh):
    decision = decide(current, stack, NOW, drift)

    assert (decision.action, decision.trigger, decision.refresh) == (action, trigger, refresh)


def test_a_driver_without_drift_detection_is_never_asked_for_a_drift_check():
    assert decide(
        status(next_drift_check_at=EARLIER), inputs(), NOW, DRIFT_ON, drift_supported=False
    ) == Decision(NOTHING)


def test_wait_and_force_decisions_say_why():
    backing_off = decide(status(failed_input=CHANGED, backoff=retry(LATER)), inputs(CHANGED), NOW, DRIFT_ON)
    stalled = decide(status(failed_input=CHANGED, stalled=True), inputs(CHANGED), NOW, DRIFT_ON)
    forced = decide(status(), inputs(tokens={"Note/b": "t2", "Note/a": "t1"}), NOW, DRIFT_ON)

    assert backing_off.detail == "backing off (StackLocked); retry at 2026-11-21T12:00:01Z"
    assert stalled.detail == "stalled (ProgramError): waiting for an input to change"
    assert forced.detail == "Note/a, Note/b"


# --- after a failure -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "failures", "expected"),
    [
        (
            ProgramError("program failed: KeyError: 'x'"),
            1,
            Stall("ProgramError", "program failed: KeyError: 'x'"),
        ),
        (StackLockedError("locked by pid 4242"), 4, None),
        (
            StackLockedError("locked by pid 4242"),
            5,
            Stall("TooManyFailures", "5 consecutive failures; last: StackLocked: locked by pid 4242"),
        ),
    ],
    ids=["permanent: at once", "retryable: below the limit", "retryable: at the limit"],
)
def test_stall_for(error, failures, expected):
    assert stall_for(error, failures, max_failures=5) == expected


def test_the_backoff_grows_by_the_factor_up_to_the_cap():
    delays = [retry_delay(n, BackoffPolicy(), jitter=lambda delay: delay) for n in range(1, 9)]

    assert delays == [10, 30, 90, 270, 810, 2430, 3600, 3600]


def test_jitter_applies_to_the_delay_and_never_makes_it_negative():
    assert retry_delay(2, BackoffPolicy(), jitter=lambda delay: delay * 0.8) == pytest.approx(24)
    assert retry_delay(2, BackoffPolicy(), jitter=lambda delay: -delay) == 0


# --- after a success -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ({}, None),
        ({"WazuhCluster/siem": {"phase": "Ready"}}, None),
        ({"WazuhCluster/siem": {"requeueAfterSeconds": 120}}, 120),
        ({"A/a": {"requeueAfterSeconds": 300}, "B/b": {"requeueAfterSeconds": 90}}, 90),
        ({"WandB/ml": {"requeueAfterSeconds": 5}}, 60),
        ({"WandB/ml": {"requeueAfterSeconds": "90"}}, 90),
        ({"WandB/ml": {"requeueAfterSeconds": 90.7}}, 90),
        ({"WandB/ml": {"requeueAfterSeconds": True}}, None),
        # 0: as soon as the minimum interval allows, not "no hint"
        ({"WandB/ml": {"requeueAfterSeconds": 0}}, 60),
        ({"WandB/ml": {"requeueAfterSeconds": "0"}}, 60),
        ({"WandB/ml": {"requeueAfterSeconds": 0}, "A/a": {"requeueAfterSeconds": 300}}, 60),
        # not hints at all
        ({"WandB/ml": {"requeueAfterSeconds": -5}}, None),
        ({"WandB/ml": {"requeueAfterSeconds": "-5"}}, None),
        ({"WandB/ml": {"requeueAfterSeconds": "soon"}}, None),
        ({"WandB/ml": {"requeueAfterSeconds": float("inf")}}, None),
        ({"WandB/ml": {"requeueAfterSeconds": float("nan")}}, None),
        ({"WandB/ml": {"requeueAfterSeconds": None}}, None),
        ({"WandB/ml": {"requeueAfterSeconds": -5}, "A/a": {"requeueAfterSeconds": 120}}, 120),
        ({"WandB/ml": "not a mapping"}, None),
    ],
)
def test_requeue_after_takes_the_soonest_hint_no_sooner_than_the_minimum_interval(outputs, expected):
    assert requeue_after(outputs, min_interval_seconds=60) == expected


@pytest.mark.parametrize(
    ("hint", "min_interval", "expected"),
    [
        # the seeds' hints, under the default minimum interval of 10 s
        (30, 10, 30),
        (10, 10, 10),
        (0, 10, 10),
        (5, 10, 10),
        # a driftless.yaml that sets a longer minimum interval still raises them
        (30, 60, 60),
        (0, 1, 1),
    ],
)
def test_a_requeue_hint_is_kept_unless_the_minimum_interval_is_longer(hint, min_interval, expected):
    outputs = {"WandB/ml": {"requeueAfterSeconds": hint}}
    assert requeue_after(outputs, min_interval_seconds=min_interval) == expected


def test_the_minimum_requeue_interval_defaults_to_10_seconds_and_old_files_still_set_it(tmp_path):
    assert load_settings(None).requeue_floor_seconds == 10
    settings_file = tmp_path / "driftless.yaml"
    settings_file.write_text("requeueFloorSeconds: 60\n", encoding="utf-8")
    assert load_settings(settings_file).requeue_floor_seconds == 60


@pytest.mark.parametrize("value", [0, -1, "soon"])
def test_a_minimum_requeue_interval_below_one_second_is_an_error_naming_the_file_and_field(tmp_path, value):
    settings_file = tmp_path / "driftless.yaml"
    settings_file.write_text(f"requeueFloorSeconds: {value}\n", encoding="utf-8")
    with pytest.raises(SettingsError) as raised:
        load_settings(settings_file)
    assert f"{settings_file}: requeueFloorSeconds:" in str(raised.value)


# --- transitions the decisions rely on ----------------------------------------------------------------


def test_a_drift_check_on_a_stalled_stack_keeps_the_stall_and_its_input():
    stalled = status(failed_input=CHANGED, stalled=True)
    stalled.failures = 1

    transitions.drift_checked(
        stalled,
        Operation(DRIFT_CHECK, "succeeded", NOW, NOW),
        [],
        remediate=False,
        next_drift_check_at=LATER,
        history=20,
        now=NOW,
    )

    assert (stalled.failed_input, stalled.failures) == (CHANGED, 1)
    assert stalled.is_true(STALLED)
    assert decide(stalled, inputs(CHANGED), NOW, DRIFT_ON).action == WAIT
    assert decide(stalled, inputs("sha256:fixed"), NOW, DRIFT_ON).action == UP


# --- the deletion guard ----------------------------------------------------------------------------

GUARD = DeletionGuard()  # at most half of the applied documents in one up
ABCD = ["Note/a", "Note/b", "Note/c", "Note/d"]


def documents(*names: str, allow: str | None = None) -> StackInputs:
    """Inputs of a file holding Notes ``names``; ``allow`` puts an allow-deletions token on the first."""
    data = [note(name) for name in names]
    if allow is not None and data:
        data[0]["metadata"]["annotations"] = {"driftless.dev/allow-deletions": allow}
    text = yaml.safe_dump_all(data, sort_keys=False)
    loaded = load_stack_text(text, "stacks/dev.yaml", REGISTRY)
    tokens = {
        d.subject: t for d in loaded if (t := d.metadata.annotations.get("driftless.dev/allow-deletions"))
    }
    return StackInputs(
        "dev", Path("stacks/dev.yaml"), loaded, None, Fingerprint(CHANGED, {}), deletion_tokens=tokens
    )


def applied(**fields) -> StackStatus:
    made = status(**fields)
    made.applied_documents = list(ABCD)
    return made


@pytest.mark.parametrize(
    ("what", "made", "given", "action"),
    [
        ("no documents left", applied(), documents(), HOLD),
        ("three of four lost", applied(), documents("a"), HOLD),
        ("half lost: within the share", applied(), documents("a", "b"), UP),
        ("renamed: all four lost", applied(), documents("e", "f", "g", "h"), HOLD),
        ("a new allow-deletions token", applied(), documents("a", allow="t1"), UP),
        (
            "an allow-deletions token already used",
            applied(handled_deletions={"Note/a": "t1"}),
            documents("a", allow="t1"),
            HOLD,
        ),
        ("never applied", status(None), documents(), UP),
    ],
)
def test_the_deletion_guard(what, made, given, action):
    decision = decide(made, given, NOW, DRIFT_ON, guard=GUARD)

    assert decision.action == action, what
    if action == HOLD:
        assert decision.deletions is not None


def test_run_allow_deletions_lets_the_up_through():
    decision = decide(applied(), documents(), NOW, DRIFT_ON, guard=GUARD, deletions_allowed=True)

    assert decision.action == UP
    assert decision.deletions.lost == tuple(ABCD)


def test_a_crash_hold_is_not_replaced_by_a_deletion_hold():
    made = applied(attention=needs_attention())

    assert decide(made, documents(), NOW, DRIFT_ON, guard=GUARD).action == WAIT


def test_a_held_stack_whose_file_is_restored_resumes_without_an_operation():
    made = applied(fingerprint=CHANGED, stalled=True, failed_input="sha256:the-empty-file")
    made.deletion_hold = DeletionHold(EARLIER, "stacks/dev.yaml", 0, 4, list(ABCD))

    decision = decide(made, documents("a", "b", "c", "d"), NOW, DRIFT_ON, guard=GUARD)

    assert decision.action == RESUME
