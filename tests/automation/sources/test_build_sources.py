"""The standard set of sources for a project."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import hvac

from automation.observation_store import ObservationStore
from automation.sources import GitClient, Source, SourceSettings, build_sources, merge_changes, update_stacks
from automation.sources.base import Change
from tests.automation.sources.stacks import kapsa, load

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_every_source_of_change_is_built_and_polls(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    store = ObservationStore(tmp_path / ".driftless" / "observations.json")
    sources = build_sources(
        tmp_path,
        {},
        store,
        vault_client=hvac.Client(url="http://127.0.0.1:1", token="t"),
        git=GitClient(),
        settings=SourceSettings(debounce_ms=50),
    )
    try:
        assert sorted(s.name for s in sources) == [
            "files",
            "git",
            "registry",
            "registry-secret",
            "ttl",
            "vault",
        ]
        assert all(isinstance(s, Source) for s in sources)
        # No stack yet: nothing is due and nothing changes.
        assert [s.next_due(T0) for s in sources] == [None] * 6
        assert [c for s in sources for c in s.poll(T0)] == []

        update_stacks(sources, {"dev": load("dev", kapsa())})

        due = {s.name for s in sources if s.next_due(T0) == T0}
        # a new repository and Registry are read and verified at once
        assert due == {"git", "registry", "registry-secret"}
    finally:
        for source in sources:
            source.close()


def test_without_file_watching_no_watcher_runs(tmp_path: Path) -> None:
    sources = build_sources(
        tmp_path, {}, ObservationStore(tmp_path / "o.json"), settings=SourceSettings(watch_files=False)
    )

    assert "files" not in {s.name for s in sources}


def test_without_remote_polling_only_local_sources_run(tmp_path: Path) -> None:
    sources = build_sources(
        tmp_path,
        {"dev": load("dev", kapsa())},
        ObservationStore(tmp_path / "o.json"),
        settings=SourceSettings(watch_files=False, poll_remotes=False),
    )

    assert [s.name for s in sources] == ["ttl"]  # no git, Vault or registry traffic


def test_merge_changes_gives_one_change_per_source() -> None:
    merged = merge_changes(
        [
            Change("git", frozenset({"a"}), "repo a moved"),
            Change("git", frozenset({"b"}), "repo b moved"),
            Change("program", None, "components changed"),
            Change("files", frozenset({"a"}), "stacks/a.yaml"),
            Change("program", None, "__main__.py changed"),
        ]
    )

    assert {c.source: c.stacks for c in merged} == {
        "git": frozenset({"a", "b"}),
        "program": None,
        "files": frozenset({"a"}),
    }
    assert Change("program", None, "").affects("anything")
