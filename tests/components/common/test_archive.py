"""Deterministic connector packages: same code, same bytes; secrets and local output left out."""

from __future__ import annotations

import os
import stat
import time
import zipfile
from pathlib import Path

import pytest

from components.common.archive import build_connector_package, main, package_entries, sha256_of


@pytest.fixture
def connector(tmp_path: Path) -> tuple[Path, Path]:
    """A connector folder with local-only clutter, and a shared folder."""
    root = tmp_path / "connectors"
    own = root / "demo"
    shared = root / "common"
    for path, text in {
        own / "connector.py": "from common import x\n",
        own / "api.py": "API = 1\n",
        own / "requirements.txt": "# none\n",
        own / "configuration.json": '{"token": "secret"}\n',
        own / "files" / "state.json": "{}\n",
        own / "files" / "warehouse.db": "db",
        own / "crash-reports" / "crash_20240101-000000.log": "configuration: ****",
        own / "__pycache__" / "api.cpython-311.pyc": "bytecode",
        own / ".env": "TOKEN=secret\n",
        own / ".venv" / "pyvenv.cfg": "home = /usr\n",
        own / "myenv" / "pyvenv.cfg": "home = /usr\n",
        own / "myenv" / "lib" / "site.py": "x = 1\n",
        own / "drivers" / "installation.sh": "#!/bin/sh\n",
        own / "sub" / "files" / "kept.py": "# a package folder named files, below the root\n",
        shared / "__init__.py": "",
        shared / "x.py": "x = 1\n",
        shared / "__pycache__" / "x.cpython-311.pyc": "bytecode",
    }.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (own / "drivers" / "installation.sh").chmod(0o755)
    return own, shared


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_two_builds_are_byte_identical(connector: tuple[Path, Path], tmp_path: Path) -> None:
    own, shared = connector
    first = build_connector_package(own, [shared], tmp_path / "a")
    time.sleep(1.1)  # a build a second later, with newer mtimes on the sources
    for path in own.rglob("*.py"):
        os.utime(path)
    second = build_connector_package(own, [shared], tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()
    assert sha256_of(first) == sha256_of(second)


def test_the_hash_changes_only_when_the_code_does(connector: tuple[Path, Path], tmp_path: Path) -> None:
    own, shared = connector
    before = sha256_of(build_connector_package(own, [shared], tmp_path / "a"))
    (own / "configuration.json").write_text('{"token": "rotated"}\n')
    (own / "files" / "state.json").write_text('{"cursor": 5}\n')
    assert sha256_of(build_connector_package(own, [shared], tmp_path / "b")) == before
    (shared / "x.py").write_text("x = 2\n")
    assert sha256_of(build_connector_package(own, [shared], tmp_path / "c")) != before


def test_secrets_caches_and_local_output_are_left_out(connector: tuple[Path, Path], tmp_path: Path) -> None:
    own, shared = connector
    assert names(build_connector_package(own, [shared], tmp_path)) == [
        "api.py",
        "common/__init__.py",
        "common/x.py",
        "connector.py",
        "drivers/installation.sh",
        "requirements.txt",
        "sub/files/kept.py",
    ]


def test_entries_have_a_fixed_timestamp_and_mode(connector: tuple[Path, Path], tmp_path: Path) -> None:
    own, shared = connector
    with zipfile.ZipFile(build_connector_package(own, [shared], tmp_path)) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    assert {info.date_time for info in infos.values()} == {(1980, 1, 1, 0, 0, 0)}
    assert stat.S_IMODE(infos["api.py"].external_attr >> 16) == 0o644
    assert stat.S_IMODE(infos["drivers/installation.sh"].external_attr >> 16) == 0o755


def test_a_shared_file_may_not_overwrite_the_connectors_own(connector: tuple[Path, Path]) -> None:
    own, shared = connector
    (own / "common").mkdir()
    (own / "common" / "x.py").write_text("mine\n")
    with pytest.raises(ValueError, match="would overwrite"):
        package_entries(own, [shared])


def test_a_folder_without_connector_py_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no connector\.py"):
        package_entries(tmp_path, [])


def test_the_real_connectors_carry_the_shared_primitives(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[3]
    for name in ("virtuous", "ongage"):
        entries = names(
            build_connector_package(repo / "connectors" / name, [repo / "connectors" / "common"], tmp_path)
        )
        assert {"connector.py", "api.py", "sync.py", "models.py", "requirements.txt"} <= set(entries)
        assert {"common/__init__.py", "common/cursor.py", "common/windows.py", "common/logs.py"} <= set(
            entries
        )
        assert not any(entry.endswith("configuration.json") for entry in entries)


def test_the_command_line_builds_and_unpacks_a_package(
    connector: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own, _ = connector
    assert main([str(own), "--out", str(tmp_path / "out"), "--unpack", str(tmp_path / "debug")]) == 0
    package = tmp_path / "out" / "demo.zip"
    assert f"sha256={sha256_of(package)}" in capsys.readouterr().out
    assert (tmp_path / "debug" / "common" / "x.py").read_text() == "x = 1\n"  # the sibling common/ by default
    assert not (tmp_path / "debug" / "configuration.json").exists()
