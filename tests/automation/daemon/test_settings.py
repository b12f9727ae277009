"""``driftless.yaml``: optional, strict, with per-stack drift policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.daemon.settings import DaemonSettings, SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftless.yaml"
    path.write_text(text)
    return path


def test_no_file_means_the_documented_defaults(tmp_path: Path):
    settings = load_settings(tmp_path / "driftless.yaml")

    assert settings.concurrency == 4
    assert settings.max_failures == 5
    assert settings.drift_for("any").interval_seconds == 600
    assert settings.drift_for("any").remediate is False
    assert [settings.backoff.delay(n) for n in range(1, 8)] == [10, 30, 90, 270, 810, 2430, 3600]


def test_per_stack_drift_policy_overrides_only_what_it_sets(tmp_path: Path):
    settings = load_settings(
        write(
            tmp_path,
            "concurrency: 2\n"
            "drift: {intervalSeconds: 900, remediate: false}\n"
            "stacks:\n"
            "  prod: {drift: {intervalSeconds: 300, remediate: true}}\n"
            "  staging: {drift: {remediate: true}}\n",
        )
    )

    assert settings.concurrency == 2
    assert (settings.drift_for("prod").interval_seconds, settings.drift_for("prod").remediate) == (300, True)
    assert (settings.drift_for("staging").interval_seconds, settings.drift_for("staging").remediate) == (
        900,
        True,
    )
    assert (settings.drift_for("dev").interval_seconds, settings.drift_for("dev").remediate) == (900, False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("drift: {intervalSeconds: 30}\n", "drift.intervalSeconds: must be >= 60"),
        (
            "stacks: {prod: {drift: {intervalSeconds: 10}}}\n",
            "stacks.prod.drift.intervalSeconds: must be >= 60",
        ),
        ("concurency: 4\n", "concurency: unknown field"),
        ("concurrency: 0\n", "concurrency: Input should be greater than or equal to 1"),
        ("drift: [1, 2]\n", "drift:"),
    ],
)
def test_invalid_settings_name_the_file_and_field(tmp_path: Path, text: str, message: str):
    path = write(tmp_path, text)

    with pytest.raises(SettingsError) as caught:
        load_settings(path)

    assert f"{path}: {message}" in str(caught.value)


def test_invalid_yaml_is_reported(tmp_path: Path):
    with pytest.raises(SettingsError, match="invalid YAML"):
        load_settings(write(tmp_path, "drift: {intervalSeconds: [\n"))


def test_settings_are_frozen():
    with pytest.raises(ValueError, match="frozen"):
        DaemonSettings().concurrency = 8  # type: ignore[misc]


def test_the_deletion_guard_and_debounce_defaults_and_per_stack_share(tmp_path: Path):
    assert load_settings(tmp_path / "driftless.yaml").deletion_guard_for("any").max_document_loss_share == 0.5
    assert load_settings(tmp_path / "driftless.yaml").debounce_seconds == 1.6

    settings = load_settings(
        write(
            tmp_path,
            "debounceSeconds: 3\n"
            "deletionGuard: {maxDocumentLossShare: 0.3}\n"
            "stacks:\n"
            "  prod: {deletionGuard: {maxDocumentLossShare: 0.1}}\n"
            "  dev: {drift: {remediate: true}}\n",
        )
    )

    assert settings.debounce_seconds == 3
    assert settings.deletion_guard_for("prod").max_document_loss_share == 0.1
    assert settings.deletion_guard_for("dev").max_document_loss_share == 0.3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "deletionGuard: {maxDocumentLossShare: 1.5}\n",
            "deletionGuard.maxDocumentLossShare: Input should be",
        ),
        (
            "stacks: {prod: {deletionGuard: {maxDocumentLossShare: -1}}}\n",
            "stacks.prod.deletionGuard.maxDocumentLossShare: Input should be",
        ),
        ("deletionGuard: {maxLoss: 0.5}\n", "deletionGuard.maxLoss: unknown field"),
        ("debounceSeconds: -1\n", "debounceSeconds: Input should be greater than or equal to 0"),
    ],
)
def test_invalid_guard_settings_name_the_field(tmp_path: Path, text: str, message: str):
    path = write(tmp_path, text)

    with pytest.raises(SettingsError) as caught:
        load_settings(path)

    assert f"{path}: {message}" in str(caught.value)
