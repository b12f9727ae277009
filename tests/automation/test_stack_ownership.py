"""Two stack files on one cluster never own one namespace: both are refused, each naming the other.

Through every place that loads stacks: the daemon's cycle (``run --once --dry-run``), the Pulumi
commands (``up --stack``), and the renderer given the project's stack files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.cli import main
from automation.render.render import RenderOptions, render_stack
from automation.stack_inputs import StackSet
from components.documents import StackFileError

WANDB = "kind: WandB\nmetadata:\n  name: ml\n  namespace: {namespace}\nspec: {{{spec}}}\n"


def wandb(namespace: str = "ml", spec: str = "") -> str:
    """A WandB document whose namespace is on line 4."""
    return WANDB.format(namespace=namespace, spec=spec)


@pytest.fixture
def stacks(tmp_path: Path) -> StackSet:
    (tmp_path / "stacks").mkdir()
    return StackSet(tmp_path, tmp_path / "stacks")


def write(stacks: StackSet, name: str, text: str) -> Path:
    path = stacks.stacks_dir / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(stacks: StackSet, path: Path) -> list[str]:
    with pytest.raises(StackFileError) as caught:
        stacks.load(path)
    return [str(e) for e in caught.value.errors]


def test_both_stacks_owning_one_namespace_are_refused_and_the_others_load(stacks):
    alpha = write(stacks, "alpha", wandb())
    beta = write(stacks, "beta", "# beta\n" + wandb())
    gamma = write(stacks, "gamma", wandb(namespace="ml-gamma"))

    (alpha_error,) = refusal(stacks, alpha)
    (beta_error,) = refusal(stacks, beta)

    assert alpha_error.startswith(
        f"{alpha}:4: WandB/ml: metadata.namespace: namespace 'ml' is also owned by {beta}:5 WandB/ml, "
        "on the same cluster: "
    )
    assert beta_error.startswith(
        f"{beta}:5: WandB/ml: metadata.namespace: namespace 'ml' is also owned by {alpha}:4 WandB/ml, "
    )
    assert "none of these stacks is applied" in alpha_error
    assert "none of these stacks is applied" in beta_error
    assert len(stacks.load(gamma)) == 1


def test_stacks_whose_pulumi_config_names_different_clusters_may_each_own_a_namespace(stacks):
    alpha = write(stacks, "alpha", wandb())
    beta = write(stacks, "beta", wandb())
    (stacks.project_dir / "Pulumi.alpha.yaml").write_text("config:\n  kubernetes:context: east\n")
    (stacks.project_dir / "Pulumi.beta.yaml").write_text("config:\n  kubernetes:context: west\n")

    assert len(stacks.load(alpha)) == len(stacks.load(beta)) == 1

    (stacks.project_dir / "Pulumi.beta.yaml").write_text("config:\n  kubernetes:context: east\n")
    assert "also owned by" in refusal(stacks, alpha)[0]
    assert "also owned by" in refusal(stacks, beta)[0]


def test_a_conflict_comes_with_the_files_other_errors_and_holds_the_valid_partner(stacks):
    ds = wandb(namespace="ds").replace("name: ml", "name: ds")
    broken = write(stacks, "broken", wandb(spec="retainOnDelete: maybe") + "---\n" + ds)
    partner = write(stacks, "partner", ds)

    broken_errors = refusal(stacks, broken)
    partner_errors = refusal(stacks, partner)

    assert [e.split(": ")[:3] for e in broken_errors] == [
        [f"{broken}:5", "WandB/ml", "spec.retainOnDelete"],
        [f"{broken}:10", "WandB/ds", "metadata.namespace"],
    ]
    assert f"namespace 'ds' is also owned by {partner}:4 WandB/ds" in broken_errors[1]
    # the broken file's valid document would own 'ds' once the file is fixed: not applied either
    assert partner_errors == [e for e in partner_errors if f"also owned by {broken}:10 WandB/ds" in e]
    assert len(partner_errors) == 1


def test_a_file_that_does_not_parse_holds_no_other_stack(stacks):
    write(stacks, "garbage", "kind: [unclosed\n")
    alpha = write(stacks, "alpha", wandb())
    assert len(stacks.load(alpha)) == 1


def test_the_renderer_refuses_a_stack_in_conflict_and_renders_a_lone_file(stacks):
    alpha = write(stacks, "alpha", wandb())
    write(stacks, "beta", wandb())

    refused = render_stack(alpha, options=RenderOptions(), stack_set=stacks)
    alone = render_stack(alpha, options=RenderOptions())

    assert refused.resources == []
    assert [(p.file, p.line, p.path) for p in refused.problems] == [(str(alpha), 4, "metadata.namespace")]
    assert "also owned by" in refused.problems[0].message
    assert alone.problems == []
    assert alone.resources


def dirs(stacks: StackSet) -> list[str]:
    return [
        "--project-dir",
        str(stacks.project_dir),
        "--stacks-dir",
        str(stacks.stacks_dir),
        "--state-dir",
        str(stacks.project_dir / "state"),
    ]


def outcomes(text: str) -> dict[str, str]:
    return dict(line.partition(": ")[::2] for line in text.strip().splitlines())


def test_the_daemon_applies_neither_stack_until_one_declares_the_namespace_external(stacks, capsys):
    alpha = write(stacks, "alpha", wandb())
    beta = write(stacks, "beta", wandb())
    write(stacks, "gamma", wandb(namespace="ml-gamma"))

    assert main(["run", "--once", "--dry-run", "--http-port", "0", *dirs(stacks)]) == 1
    first = outcomes(capsys.readouterr().out)

    assert first["gamma"].startswith("reconciled: up (Initial)")
    assert first["alpha"].startswith("failed: stalled (InvalidSpec): 1 problem(s) in alpha.yaml: ")
    assert f"namespace 'ml' is also owned by {beta}:4 WandB/ml" in first["alpha"]
    assert first["beta"].startswith("failed: stalled (InvalidSpec): 1 problem(s) in beta.yaml: ")
    assert f"namespace 'ml' is also owned by {alpha}:4 WandB/ml" in first["beta"]

    write(stacks, "beta", wandb(spec="createNamespace: false"))  # alpha's file is unchanged
    assert main(["run", "--once", "--dry-run", "--http-port", "0", *dirs(stacks)]) == 0
    second = outcomes(capsys.readouterr().out)

    assert second["alpha"].startswith("reconciled: up (Initial)")
    assert second["beta"].startswith("reconciled: up (Initial)")
    assert second["gamma"] == "unchanged"


def test_up_on_a_stack_in_conflict_touches_nothing(stacks, capsys):
    write(stacks, "alpha", wandb())
    beta = write(stacks, "beta", wandb())

    assert main(["up", "--stack", "alpha", *dirs(stacks)]) == 1

    err = capsys.readouterr().err
    assert f"namespace 'ml' is also owned by {beta}:4 WandB/ml" in err
    assert "PulumiCliMissing" not in err  # refused before Pulumi is even looked for


def test_render_file_outside_the_stacks_folder_is_checked_on_its_own(tmp_path, capsys):
    # The project's own stacks/dev.yaml and stacks/prod.yaml create namespace 'security'.
    lone = tmp_path / "siem.yaml"
    lone.write_text("kind: WazuhCluster\nmetadata: {name: siem, namespace: security}\n")

    assert main(["render", "--file", str(lone), "--format", "json"]) == 0
    assert "also owned by" not in capsys.readouterr().err
