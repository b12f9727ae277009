"""Building a connector_sdk package: which folder, where the zip goes, what the provider is told."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from components.common.archive import sha256_of
from components.context import ProgramSettings
from components.fivetran.package import CONNECTORS_DIR_OPTION, PackageError, build_package


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with connectors/echo, connectors/common and a non-connector folder."""
    connectors = tmp_path / "project" / "connectors"
    (connectors / "echo").mkdir(parents=True)
    (connectors / "echo" / "connector.py").write_text("import common.util\n", encoding="utf-8")
    (connectors / "echo" / "configuration.json").write_text('{"token": "t0ken"}', encoding="utf-8")
    (connectors / "common").mkdir()
    (connectors / "common" / "util.py").write_text("X = 1\n", encoding="utf-8")
    (connectors / "docs").mkdir()
    (connectors / "docs" / "README.md").write_text("notes\n", encoding="utf-8")
    return tmp_path / "project"


def test_the_zip_is_written_under_the_project_and_named_relative_to_it(project: Path):
    package = build_package("echo", ProgramSettings(project_dir=project))
    assert package.name == "echo"
    zip_path = project / package.file_path
    assert package.sha256 == sha256_of(zip_path)
    assert package.file_path == f".driftless/packages/echo-{package.sha256[:16]}.zip"
    assert [p.name for p in (project / ".driftless" / "packages").iterdir()] == [zip_path.name]
    with zipfile.ZipFile(zip_path) as archive:
        assert sorted(archive.namelist()) == ["common/util.py", "connector.py"]


def test_a_connectors_folder_elsewhere_is_taken_from_the_stack_config(project: Path, tmp_path: Path):
    elsewhere = tmp_path / "other"
    (project / "connectors").rename(elsewhere)
    for configured in (str(elsewhere), "../other"):
        settings = ProgramSettings(project_dir=project, options={CONNECTORS_DIR_OPTION: configured})
        package = build_package("echo", settings)
        # The zip still goes into the project, so the provider's path stays relative to it.
        assert package.file_path.startswith(".driftless/packages/echo-")
        assert (project / package.file_path).is_file()


def test_a_missing_folder_is_refused_naming_the_connectors_there(project: Path):
    with pytest.raises(
        PackageError, match=r"no connector folder 'ech0' in connectors/ \(connectors there: echo\)"
    ):
        build_package("ech0", ProgramSettings(project_dir=project))
    assert not (project / ".driftless").exists()


def test_a_folder_without_connector_py_is_refused(project: Path):
    with pytest.raises(PackageError, match=r"connectors/docs/ has no connector.py"):
        build_package("docs", ProgramSettings(project_dir=project))


def test_a_shared_file_clashing_with_the_connectors_own_is_refused(project: Path):
    (project / "connectors" / "echo" / "common").mkdir()
    (project / "connectors" / "echo" / "common" / "util.py").write_text("X = 2\n", encoding="utf-8")
    with pytest.raises(PackageError, match="would overwrite"):
        build_package("echo", ProgramSettings(project_dir=project))


def test_a_connector_without_shared_folder_is_packaged_alone(project: Path):
    (project / "connectors" / "common" / "util.py").unlink()
    (project / "connectors" / "common").rmdir()
    package = build_package("echo", ProgramSettings(project_dir=project))
    with zipfile.ZipFile(project / package.file_path) as archive:
        assert archive.namelist() == ["connector.py"]
