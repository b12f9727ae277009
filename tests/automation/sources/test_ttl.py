"""Preview TTLs: the daemon wakes when a preview expires, exactly once, as the program sees it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from automation.observation_store import ObservationStore
from automation.sources.ttl import TtlSource
from components.kapsa.previews import plan_previews
from tests.automation.sources.stacks import kapsa, load

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
URL = "https://git.example.test/acme/api.git"
PREVIEWS = {"enabled": True, "include": ["feature/*"], "exclude": [], "ttlHours": 24}


def observed(tmp_path: Path, heads: dict[str, str], at: datetime) -> tuple[ObservationStore, dict]:
    stacks = {"dev": load("dev", kapsa("api", URL, previews=PREVIEWS)), "other": load("other", kapsa("web"))}
    store = ObservationStore(tmp_path / "observations.json")
    store.set_git_heads(URL, heads)
    store.note_previews(stacks["dev"], at)
    return store, stacks


def test_an_expiry_is_due_at_first_seen_plus_ttl_and_reported_once(tmp_path: Path) -> None:
    store, stacks = observed(tmp_path, {"main": "a" * 40, "feature/new-api": "b" * 40}, T0)
    source = TtlSource(stacks, store)
    expiry = T0 + timedelta(hours=24)

    assert source.next_due(T0) == expiry
    assert source.poll(expiry - timedelta(seconds=1)) == []

    changes = source.poll(expiry)

    assert [(c.source, c.stacks) for c in changes] == [("ttl", frozenset({"dev"}))]
    assert "api/feature-new-api" in changes[0].detail
    assert source.poll(expiry + timedelta(hours=1)) == []
    assert source.next_due(expiry) is None


def test_the_expiry_changes_the_fingerprint_exactly_once(tmp_path: Path) -> None:
    store, stacks = observed(tmp_path, {"main": "a" * 40, "feature/new-api": "b" * 40}, T0)
    expiry = T0 + timedelta(hours=24)

    before = store.fingerprint_material(stacks["dev"], T0 + timedelta(hours=1))
    just_before = store.fingerprint_material(stacks["dev"], expiry - timedelta(seconds=1))
    at = store.fingerprint_material(stacks["dev"], expiry)
    later = store.fingerprint_material(stacks["dev"], expiry + timedelta(days=3))

    assert before == just_before
    assert at != just_before
    assert at == later
    assert at["expiredPreviews"] == ["api/feature-new-api"]


def test_the_daemon_and_the_program_agree_on_the_expiry(tmp_path: Path) -> None:
    store, stacks = observed(tmp_path, {"main": "a" * 40, "feature/new-api": "b" * 40}, T0)
    source = TtlSource(stacks, store)
    due = source.next_due(T0)
    assert due is not None
    project = stacks["dev"].get("Project", "api")
    assert project is not None

    before = plan_previews("api", project.spec, store.for_stack(stacks["dev"], due - timedelta(seconds=1)))
    at = plan_previews("api", project.spec, store.for_stack(stacks["dev"], due))

    assert [p.slug for p in before.active] == ["feature-new-api"]
    assert [p.slug for p in at.expired] == ["feature-new-api"]
    assert at.active == ()


def test_each_preview_expires_in_its_own_time(tmp_path: Path) -> None:
    store, stacks = observed(tmp_path, {"main": "a" * 40, "feature/one": "b" * 40}, T0)
    later = T0 + timedelta(hours=5)
    store.set_git_heads(URL, {"main": "a" * 40, "feature/one": "b" * 40, "feature/two": "c" * 40})
    store.note_previews(stacks["dev"], later)
    source = TtlSource(stacks, store)

    first = source.poll(T0 + timedelta(hours=24))
    assert source.next_due(T0 + timedelta(hours=24)) == later + timedelta(hours=24)
    second = source.poll(later + timedelta(hours=24))

    assert "feature-one" in first[0].detail
    assert "feature-two" not in first[0].detail
    assert "feature-two" in second[0].detail


def test_a_branch_pushed_again_gets_a_new_ttl(tmp_path: Path) -> None:
    store, stacks = observed(tmp_path, {"main": "a" * 40, "feature/x": "b" * 40}, T0)
    source = TtlSource(stacks, store)
    assert source.poll(T0 + timedelta(hours=24)) != []

    # deleted, then pushed again two days later (the git source forgets, then records anew)
    store.forget_preview("dev", "api/feature-x")
    again = T0 + timedelta(days=2)
    store.note_previews(stacks["dev"], again)

    assert source.next_due(again) == again + timedelta(hours=24)
    assert source.poll(again + timedelta(hours=24)) != []


def test_disabled_previews_never_expire(tmp_path: Path) -> None:
    stacks = {"dev": load("dev", kapsa("api", URL))}  # previewEnvironments disabled by default
    store = ObservationStore(tmp_path / "observations.json")
    store.set_git_heads(URL, {"main": "a" * 40, "feature/x": "b" * 40})
    store.note_previews(stacks["dev"], T0)

    assert TtlSource(stacks, store).next_due(T0) is None
    assert store.first_seen("dev", "api/feature-x") is None


def test_two_stacks_with_the_same_project_expire_their_previews_in_their_own_time(tmp_path: Path) -> None:
    stacks = {name: load(name, kapsa("api", URL, previews=PREVIEWS)) for name in ("staging", "live")}
    store = ObservationStore(tmp_path / "observations.json")
    store.set_git_heads(URL, {"main": "a" * 40, "feature/x": "b" * 40})
    later = T0 + timedelta(hours=6)
    store.note_previews(stacks["staging"], T0)
    store.note_previews(stacks["live"], later)  # live.yaml enabled previews six hours later
    source = TtlSource(stacks, store)

    first = source.poll(T0 + timedelta(hours=24))
    assert [c.stacks for c in first] == [frozenset({"staging"})]
    assert source.next_due(T0 + timedelta(hours=24)) == later + timedelta(hours=24)
    second = source.poll(later + timedelta(hours=24))
    assert [c.stacks for c in second] == [frozenset({"live"})]
