"""Which image an environment runs: kpack status, last good images, auto-sync, promotion."""

from __future__ import annotations

from typing import Any

from components.kapsa.images import (
    BuildState,
    BuildStatus,
    GoodImage,
    build_condition,
    choose_image,
    latest_good,
    parse_build_status,
)

OLD = "harbor.corp.com/myapp/api@sha256:" + "a" * 64
NEW = "harbor.corp.com/myapp/api@sha256:" + "b" * 64
PROMOTED = "harbor.corp.com/myapp/api@sha256:" + "c" * 64


def kpack_status(ready: str, latest: str | None = None, message: str = "", **extra: Any) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [
            {
                "type": "Ready",
                "status": ready,
                "reason": "BuildFailed" if ready == "False" else "",
                "message": message,
            },
            {"type": "BuilderReady", "status": "True"},
        ],
        **extra,
    }
    if latest is not None:
        status["latestImage"] = latest
    return status


def test_the_ready_condition_decides_the_build_state():
    assert parse_build_status(kpack_status("True", NEW)).state is BuildState.SUCCEEDED
    failed = parse_build_status(kpack_status("False", OLD, "npm install failed"))
    assert (failed.state, failed.message) == (BuildState.FAILED, "npm install failed")
    assert parse_build_status(kpack_status("Unknown", OLD)).state is BuildState.BUILDING
    assert parse_build_status({}).state is BuildState.NOT_BUILT


def test_a_status_of_an_older_generation_counts_as_building():
    status = kpack_status("True", OLD, observedGeneration=1)
    assert parse_build_status(status, generation=2).state is BuildState.BUILDING
    assert parse_build_status(status, generation=1).state is BuildState.SUCCEEDED


def test_a_ready_build_is_the_latest_good_image_of_its_commit():
    good = latest_good(GoodImage(OLD, "abc"), BuildStatus(BuildState.SUCCEEDED, NEW), revision="def")
    assert good == GoodImage(NEW, "def")


def test_the_same_image_keeps_the_commit_it_was_recorded_with():
    good = latest_good(GoodImage(OLD, "abc"), BuildStatus(BuildState.SUCCEEDED, OLD), revision="def")
    assert good == GoodImage(OLD, "abc")


def test_a_failed_or_running_build_never_replaces_the_recorded_image():
    recorded = GoodImage(OLD, "abc")
    for state in (BuildState.FAILED, BuildState.BUILDING, BuildState.NOT_BUILT):
        assert latest_good(recorded, BuildStatus(state, NEW), revision="bad") == recorded


def test_without_a_record_kpacks_last_successful_image_is_used():
    assert latest_good(None, BuildStatus(BuildState.FAILED, OLD), revision="bad") == GoodImage(OLD, None)
    assert latest_good(None, BuildStatus(BuildState.BUILDING), revision="x") is None


def test_auto_sync_follows_the_latest_good_image():
    choice = choose_image(
        auto_sync=True, promoted=None, pinned=None, recorded=GoodImage(OLD), latest=GoodImage(NEW)
    )
    assert (choice.image, choice.source) == (NEW, "latest")


def test_a_pinned_environment_stays_on_the_recorded_image_until_promoted():
    pinned = choose_image(
        auto_sync=False, promoted=None, pinned=None, recorded=GoodImage(OLD), latest=GoodImage(NEW)
    )
    assert (pinned.image, pinned.source) == (OLD, "recorded")
    promoted = choose_image(
        auto_sync=False, promoted=PROMOTED, pinned=None, recorded=GoodImage(OLD), latest=GoodImage(NEW)
    )
    assert (promoted.image, promoted.source) == (PROMOTED, "promoted")


def test_a_pinned_environment_keeps_its_pin_while_its_branch_moves_on():
    choice = choose_image(
        auto_sync=False,
        promoted=None,
        pinned=GoodImage(OLD, "abc"),
        recorded=GoodImage(NEW),
        latest=GoodImage(NEW),
    )
    assert (choice.image, choice.source, choice.commit) == (OLD, "pinned", "abc")


def test_a_pinned_environment_takes_the_first_good_image_on_a_first_deploy():
    assert (
        choose_image(auto_sync=False, promoted=None, pinned=None, recorded=None, latest=GoodImage(NEW)).image
        == NEW
    )


def test_no_good_image_at_all_is_said_so():
    choice = choose_image(auto_sync=True, promoted=None, pinned=None, recorded=None, latest=None)
    assert (choice.image, choice.source) == (None, "none")


def test_build_succeeded_is_false_with_the_failed_builds_message():
    condition = build_condition(
        {
            "main": BuildStatus(BuildState.FAILED, OLD, "BuildFailed", "npm install failed: ENOENT"),
            "feature/a": BuildStatus(BuildState.SUCCEEDED, NEW),
        }
    )
    assert condition["status"] == "False"
    assert condition["reason"] == "BuildFailed"
    assert "main: npm install failed: ENOENT" in condition["message"]


def test_build_succeeded_is_true_only_when_every_build_is_good():
    assert build_condition({"main": BuildStatus(BuildState.SUCCEEDED, NEW)})["status"] == "True"
    building = build_condition(
        {"main": BuildStatus(BuildState.SUCCEEDED, NEW), "b": BuildStatus(BuildState.BUILDING)}
    )
    assert building["status"] == "Unknown"
    assert build_condition({})["status"] == "Unknown"
