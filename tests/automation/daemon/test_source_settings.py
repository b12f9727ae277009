"""``sources`` in ``driftless.yaml``: the hard timeouts of the git and Vault polls."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.daemon.settings import SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftless.yaml"
    path.write_text(text)
    return path


def test_the_documented_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "driftless.yaml")

    assert (settings.sources.git_timeout_seconds, settings.sources.vault_timeout_seconds) == (20, 10)


def test_timeouts_are_read(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "sources: {gitTimeoutSeconds: 45, vaultTimeoutSeconds: 2.5}\n"))

    assert (settings.sources.git_timeout_seconds, settings.sources.vault_timeout_seconds) == (45, 2.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources: {gitTimeoutSeconds: 0}\n", "sources.gitTimeoutSeconds: Input should be greater than 0"),
        (
            "sources: {vaultTimeoutSeconds: -1}\n",
            "sources.vaultTimeoutSeconds: Input should be greater than 0",
        ),
        (
            "sources: {vaultTimeoutSeconds: soon}\n",
            "sources.vaultTimeoutSeconds: Input should be a valid number",
        ),
        ("sources: {gitTimeout: 5}\n", "sources.gitTimeout: unknown field"),
        ("sources: 20\n", "sources:"),
    ],
)
def test_invalid_timeouts_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)

    with pytest.raises(SettingsError) as caught:
        load_settings(path)

    assert f"{path}: {message}" in str(caught.value)
