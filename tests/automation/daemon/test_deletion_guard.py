"""The deletion guard: a stack file that lost its content never deletes the stack's resources.

An empty file, or one that lost more than ``deletionGuard.maxDocumentLossShare`` of the documents
the last up applied, holds the stack (Stalled, NeedsAttention) naming the file and the documents
an up would delete — until the file is restored or a person allows the deletions.
"""

from __future__ import annotations

import json

import pytest

from automation.daemon.offline_driver import OfflineDriver
from automation.daemon.settings import DaemonSettings, DeletionGuardOverride, StackPolicy
from automation.daemon.status import READY, STALLED, StackStatus
from tests.automation.daemon.helpers import note, render_notes, saved, write_stack

ALLOW = "driftless.dev/allow-deletions"


def states(outcomes):
    return {o.stack: o.state for o in outcomes}


def allowing(document: dict, token: str) -> dict:
    document["metadata"].setdefault("annotations", {})[ALLOW] = token
    return document


FOUR = [note("a"), note("b"), note("c"), note("d")]
FOUR_SUBJECTS = ["Note/a", "Note/b", "Note/c", "Note/d"]


@pytest.fixture
def applied(make_reconciler, driver, layout):
    """alpha applied with four Notes, beta with one."""
    write_stack(layout.stacks_dir / "alpha.yaml", *FOUR)
    write_stack(layout.stacks_dir / "beta.yaml", note("x"))
    reconciler = make_reconciler(driver)
    assert states(reconciler.cycle()) == {"alpha": "reconciled", "beta": "reconciled"}
    assert reconciler.status("alpha").applied_documents == FOUR_SUBJECTS
    driver.calls.clear()
    return reconciler


def test_an_empty_stack_file_holds_the_stack_and_deletes_nothing(applied, driver, layout):
    path = saved(layout.stacks_dir / "alpha.yaml", "")

    outcomes = {o.stack: o for o in applied.cycle()}

    assert driver.ops("up") == []
    assert outcomes["alpha"].state == "held"
    assert outcomes["alpha"].failed
    status = applied.status("alpha")
    assert status.phase == "Stalled"
    stalled = status.condition(STALLED)
    assert stalled.reason == "NeedsAttention"
    assert str(path) in stalled.message
    assert "Note/a, Note/b, Note/c, Note/d" in stalled.message
    assert "--allow-deletions alpha" in stalled.message
    assert status.condition(READY).reason == "NeedsAttention"
    held = status.to_json()["deletionsHeld"]
    assert held["file"] == str(path)
    assert held["documents"] == 0
    assert held["appliedDocuments"] == 4
    assert held["wouldDelete"] == FOUR_SUBJECTS
    assert states(applied.cycle())["beta"] == "unchanged"  # the other stack is not affected


def test_a_truncated_file_past_the_share_is_held_naming_the_lost_documents(applied, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))  # 3 of 4 lost: 0.75 > 0.5

    assert states(applied.cycle())["alpha"] == "held"
    assert states(applied.cycle())["alpha"] == "stalled"  # said once, then waiting

    assert driver.ops("up") == []
    status = applied.status("alpha")
    assert status.deletion_hold.lost == ["Note/b", "Note/c", "Note/d"]
    message = status.condition(STALLED).message
    assert "has 1 document(s), the last up applied 4: an up would delete 3 of them" in message
    assert "Note/b, Note/c, Note/d" in message
    assert ALLOW in message  # a document is left to annotate


def test_losing_no_more_than_the_share_is_an_ordinary_change(applied, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"), note("b"))  # 2 of 4: exactly the share

    assert states(applied.cycle())["alpha"] == "reconciled"
    assert applied.status("alpha").applied_documents == ["Note/a", "Note/b"]


def test_the_share_is_set_per_stack(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", *FOUR)
    write_stack(layout.stacks_dir / "beta.yaml", *FOUR)
    settings = DaemonSettings(
        stacks={"alpha": StackPolicy(deletion_guard=DeletionGuardOverride(max_document_loss_share=0.2))}
    )
    reconciler = make_reconciler(driver, settings=settings)
    reconciler.cycle()

    for name in ("alpha", "beta"):
        write_stack(layout.stacks_dir / f"{name}.yaml", note("a"), note("b"), note("c"))  # 1 of 4 lost

    assert states(reconciler.cycle()) == {"alpha": "held", "beta": "reconciled"}


def test_restoring_the_file_ends_the_hold_without_an_operation(applied, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml")
    assert states(applied.cycle())["alpha"] == "held"

    write_stack(layout.stacks_dir / "alpha.yaml", *FOUR)

    assert states(applied.cycle())["alpha"] == "resumed"
    status = applied.status("alpha")
    assert status.phase == "Ready"
    assert status.deletion_hold is None
    assert driver.ops("up") == []


def test_a_new_allow_deletions_token_lets_one_up_delete(make_reconciler, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", *FOUR)
    reconciler = make_reconciler(OfflineDriver(layout.state_dir, render=render_notes))
    assert states(reconciler.cycle())["alpha"] == "reconciled"
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    assert states(reconciler.cycle())["alpha"] == "held"

    write_stack(layout.stacks_dir / "alpha.yaml", allowing(note("a"), "remove-b-c-d"))
    outcome = {o.stack: o for o in reconciler.cycle()}["alpha"]

    assert outcome.state == "reconciled"
    assert outcome.operation.changes.delete == 6  # three Notes, each a component and its item
    status = reconciler.status("alpha")
    assert status.applied_documents == ["Note/a"]
    assert status.deletion_hold is None
    assert status.phase == "Ready"


def test_an_allow_deletions_token_already_used_allows_nothing_later(applied, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", allowing(note("a"), "t1"), note("b"), note("c"))
    assert states(applied.cycle())["alpha"] == "reconciled"  # nothing held: the token is used up

    write_stack(layout.stacks_dir / "alpha.yaml", allowing(note("a"), "t1"))  # 2 of 3 lost

    assert states(applied.cycle())["alpha"] == "held"
    assert len(driver.ops("up")) == 1


def test_an_intended_removal_with_its_token_in_the_same_edit_runs_at_once(applied, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", allowing(note("a"), "drop-bcd"))

    assert states(applied.cycle())["alpha"] == "reconciled"
    assert applied.status("alpha").applied_documents == ["Note/a"]


def test_run_allow_deletions_allows_the_file_as_first_read(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", *FOUR)
    make_reconciler(driver).cycle()
    write_stack(layout.stacks_dir / "alpha.yaml")
    assert states(make_reconciler(driver).cycle())["alpha"] == "held"

    allowed = make_reconciler(driver, allow_deletions=["alpha"])  # `run --allow-deletions alpha`
    assert states(allowed.cycle())["alpha"] == "reconciled"
    assert allowed.status("alpha").applied_documents == []

    write_stack(layout.stacks_dir / "alpha.yaml", *FOUR)
    allowed.cycle()
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))  # another edit: not what was allowed
    assert states(allowed.cycle())["alpha"] == "held"


def test_a_hold_survives_a_restart(applied, make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml")
    applied.cycle()

    restarted = make_reconciler(driver)
    restarted.recover()

    assert states(restarted.cycle())["alpha"] == "stalled"
    assert restarted.status("alpha").deletion_hold.lost == FOUR_SUBJECTS
    assert driver.ops("up") == []


def test_a_removed_file_restored_empty_is_held(applied, driver, layout):
    (layout.stacks_dir / "alpha.yaml").unlink()
    assert states(applied.cycle())["alpha"] == "removed"

    write_stack(layout.stacks_dir / "alpha.yaml")

    assert states(applied.cycle())["alpha"] == "held"
    assert driver.ops("up") == []


def test_a_status_from_before_applied_documents_holds_an_empty_file(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml", *FOUR)
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    older = reconciler.status("alpha").to_json()
    for key in ("appliedDocuments", "handledAllowDeletionsTokens", "deletionsHeld"):
        del older[key]  # as an earlier daemon wrote it
    reconciler.store.save(StackStatus.from_json(json.loads(json.dumps(older))))
    restarted = make_reconciler(driver)
    assert restarted.status("alpha").applied_documents is None

    write_stack(layout.stacks_dir / "alpha.yaml")

    assert states(restarted.cycle())["alpha"] == "held"
    assert "an up would delete every resource" in restarted.status("alpha").condition(STALLED).message


def test_a_never_applied_empty_stack_is_not_held(make_reconciler, driver, layout):
    write_stack(layout.stacks_dir / "alpha.yaml")

    assert states(make_reconciler(driver).cycle())["alpha"] == "reconciled"
