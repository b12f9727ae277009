"""What the command line prints: the Markdown preview for review, the status table."""

from __future__ import annotations

from datetime import UTC, datetime

from automation.daemon.app import AppOptions, preview_markdown, status_table
from automation.daemon.driver import ChangeCounts, OperationResult, ResourceChange
from automation.daemon.status import STALLED, Operation, StackStatus

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_preview_markdown_lists_every_change_with_its_fields():
    result = OperationResult(
        "preview",
        ChangeCounts(create=1, update=1, delete=0, same=40),
        3.2,
        resources=(
            ResourceChange("create", "kubernetes:networking.k8s.io/v1:Ingress", "api-feature-x"),
            ResourceChange("update", "kubernetes:apps/v1:Deployment", "api-dev", fields=("spec.replicas",)),
        ),
    )

    text = preview_markdown("dev", result)

    assert text.splitlines()[0] == "### driftless preview: stack `dev`"
    assert "**1 to create, 1 to update, 0 to delete, 40 unchanged**" in text
    assert "| create | `kubernetes:networking.k8s.io/v1:Ingress` | **api-feature-x** |  |" in text
    assert "| update | `kubernetes:apps/v1:Deployment` | **api-dev** | `spec.replicas` |" in text


def test_preview_markdown_says_which_deletions_stay_in_the_cluster():
    result = OperationResult(
        "preview",
        ChangeCounts(delete=2),
        1.0,
        resources=(
            ResourceChange("delete", "kubernetes:core/v1:Namespace", "siem", retained=True),
            ResourceChange("delete", "kubernetes:apps/v1:StatefulSet", "siem-indexer"),
        ),
    )

    text = preview_markdown("prod", result)

    assert (
        "| delete (**retained**: stays in the cluster) | `kubernetes:core/v1:Namespace` | **siem** |" in text
    )
    assert "| delete | `kubernetes:apps/v1:StatefulSet` | **siem-indexer** |  |" in text


def test_preview_markdown_without_changes_says_so():
    text = preview_markdown("prod", OperationResult("preview", ChangeCounts(same=12), 1.0))

    assert text == "### driftless preview: stack `prod`\n\nNo changes (12 resources unchanged).\n"


def test_the_status_table_leads_with_what_needs_attention():
    stalled = StackStatus("prod")
    stalled.ensure_conditions(NOW)
    stalled.set_condition(
        STALLED, True, "InvalidSpec", "stacks/prod.yaml:3: Note/a: spec.x: unknown field", NOW
    )
    stalled.record(Operation("up", "failed", NOW, NOW, ChangeCounts()), limit=5)
    stalled.update_phase()

    table = status_table([stalled]).splitlines()

    assert table[1].split()[:2] == ["prod", "Stalled"]
    assert table[1].endswith("InvalidSpec: stacks/prod.yaml:3: Note/a: spec.x: unknown field")


def test_dry_run_state_lives_in_its_own_directory(tmp_path):
    real = AppOptions(project_dir=tmp_path).layout()
    dry = AppOptions(project_dir=tmp_path, dry_run=True).layout()

    assert real.state_dir == tmp_path / ".driftless"
    assert dry.state_dir == tmp_path / ".driftless" / "dry-run"
    assert dry.stacks_dir == real.stacks_dir == tmp_path / "stacks"
