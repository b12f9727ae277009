"""The observation store: per-stack observations, fingerprint material, persistence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from automation.observation_store import ObservationStore, ObservationStoreError, RegistryCheck
from components.observations import Observations
from tests.automation.sources.stacks import connector, kapsa, load

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
API = "https://git.example.test/acme/api.git"
WEB = "https://git.example.test/acme/web.git"
PREVIEWS = {"enabled": True, "include": ["feature/*"], "exclude": [], "ttlHours": 24}


@pytest.fixture
def stacks():
    return {
        "api": load(
            "api", [*kapsa("api", API, previews=PREVIEWS), connector("c", "vault://secret/api/db#password")]
        ),
        "web": load(
            "web", [*kapsa("web", WEB, previews=PREVIEWS), connector("c", "vault://secret/web/db#password")]
        ),
    }


@pytest.fixture
def store(tmp_path: Path) -> ObservationStore:
    store = ObservationStore(tmp_path / ".driftless" / "observations.json")
    store.set_git_heads(API, {"main": "a" * 40, "feature/new-api": "b" * 40})
    store.set_git_heads(WEB, {"main": "c" * 40, "feature/css": "d" * 40})
    store.set_first_seen("api/feature-new-api", T0)
    store.set_first_seen("web/feature-css", T0)
    store.record_images(
        "api", {"main": {"image": "harbor.example.test/acme/api@sha256:" + "1" * 64, "commit": "a" * 40}}
    )
    store.record_images(
        "web", {"main": {"image": "harbor.example.test/acme/web@sha256:" + "2" * 64, "commit": "c" * 40}}
    )
    store.set_vault_version("secret/api/db", 3)
    store.set_vault_version("secret/web/db", 7)
    return store


def test_for_stack_gives_the_program_only_what_that_stack_uses(store: ObservationStore, stacks) -> None:
    observations = store.for_stack(stacks["api"], T0 + timedelta(hours=1))

    assert isinstance(observations, Observations)
    assert observations.now == T0 + timedelta(hours=1)
    assert observations.git == {API: {"main": "a" * 40, "feature/new-api": "b" * 40}}
    assert set(observations.previews) == {"api/feature-new-api"}
    assert observations.previews["api/feature-new-api"].first_seen == T0
    assert set(observations.images) == {"api/main"}
    assert observations.images["api/main"].commit == "a" * 40


def test_for_stack_output_is_the_spec_observations_file_format(
    store: ObservationStore, stacks, tmp_path: Path
) -> None:
    path = tmp_path / "observations-api.json"
    path.write_text(store.for_stack(stacks["api"], T0).to_json())

    data = json.loads(path.read_text())
    assert data["previews"] == {"api/feature-new-api": {"firstSeen": "2026-11-21T12:00:00Z"}}
    assert Observations.load(path) == store.for_stack(stacks["api"], T0)


def test_fingerprint_material_ignores_the_clock_until_a_preview_expires(
    store: ObservationStore, stacks
) -> None:
    one = store.fingerprint_material(stacks["api"], T0 + timedelta(minutes=1))
    two = store.fingerprint_material(stacks["api"], T0 + timedelta(hours=23))
    expired = store.fingerprint_material(stacks["api"], T0 + timedelta(hours=24))

    assert one == two
    assert expired["expiredPreviews"] == ["api/feature-new-api"]
    assert {k: v for k, v in expired.items() if k != "expiredPreviews"} == {
        k: v for k, v in one.items() if k != "expiredPreviews"
    }
    json.dumps(one)  # it is hashed as JSON


def test_fingerprint_material_changes_only_for_the_stack_whose_inputs_changed(
    store: ObservationStore, stacks
) -> None:
    def materials() -> dict[str, dict]:
        return {name: store.fingerprint_material(docs, T0) for name, docs in stacks.items()}

    def changed(before: dict[str, dict], after: dict[str, dict]) -> set[str]:
        return {name for name in before if before[name] != after[name]}

    start = materials()
    store.set_git_heads(API, {"main": "e" * 40, "feature/new-api": "b" * 40})
    after_git = materials()
    store.set_vault_version("secret/web/db", 8)
    after_vault = materials()
    store.record_images("api", {"feature/new-api": {"image": "harbor.example.test/acme/api:feature-new-api"}})
    after_image = materials()

    assert changed(start, after_git) == {"api"}
    assert changed(after_git, after_vault) == {"web"}
    assert changed(after_vault, after_image) == {"api"}
    assert after_vault["web"]["vault"] == {"secret/web/db": 8}


def test_a_new_preview_branch_is_first_seen_when_first_used(tmp_path: Path, stacks) -> None:
    store = ObservationStore(tmp_path / "o.json")
    store.set_git_heads(API, {"main": "a" * 40, "feature/new-api": "b" * 40})

    store.for_stack(stacks["api"], T0)
    later = store.fingerprint_material(stacks["api"], T0 + timedelta(hours=3))

    assert store.first_seen("api/feature-new-api") == T0
    assert later["previews"] == {"api/feature-new-api": "2026-11-21T12:00:00Z"}


def test_record_images_reports_whether_anything_changed(tmp_path: Path) -> None:
    store = ObservationStore(tmp_path / "o.json")
    image = {"image": "harbor.example.test/acme/api@sha256:" + "1" * 64, "commit": "a" * 40}

    assert store.record_images("api", {"main": image}) is True
    assert store.record_images("api", {"main": dict(image)}) is False
    assert store.record_images("api", {"main": {**image, "commit": "f" * 40}}) is True
    # a branch missing from one status keeps its last good image
    assert store.record_images("api", {"feature/x": {"image": "harbor.example.test/acme/api:x"}}) is True
    assert store.record_images("api", {}) is False


def test_a_project_status_records_last_good_and_pinned_images(tmp_path: Path) -> None:
    store = ObservationStore(tmp_path / "o.json")
    good = {"image": "harbor.example.test/acme/api@sha256:" + "1" * 64, "commit": "a" * 40}
    pinned = {"image": "harbor.example.test/acme/api@sha256:" + "9" * 64, "commit": "9" * 40}
    status = {"phase": "Running", "lastGoodImages": {"main": good}, "pinnedImages": {"@{prod}": pinned}}

    assert store.record_project_status("api", status) is True
    assert store.record_project_status("api", status) is False

    observations = store.for_stack(load("s", kapsa("api", API)), T0)
    assert observations.images["api/main"].image == good["image"]
    assert observations.images["api/@{prod}"].commit == pinned["commit"]


def test_everything_survives_a_restart(store: ObservationStore, stacks) -> None:
    store.record_registry_check("harbor.example.test", RegistryCheck(False, "401 unauthorized", T0))
    store.save()

    reopened = ObservationStore(store.path)

    for documents in stacks.values():
        assert reopened.for_stack(documents, T0) == store.for_stack(documents, T0)
        assert reopened.fingerprint_material(documents, T0) == store.fingerprint_material(documents, T0)
    assert reopened.registry_checks() == store.registry_checks()


def test_save_replaces_the_file_atomically(store: ObservationStore) -> None:
    store.save()
    first = store.path.read_text()
    store.set_vault_version("secret/api/db", 4)
    store.save()

    assert store.path.read_text() != first
    assert json.loads(store.path.read_text())["vault"]["secret/api/db"] == 4
    assert [p.name for p in store.path.parent.iterdir()] == [store.path.name]  # no temporary left


def test_a_corrupt_file_is_an_error_not_a_silent_reset(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    path.write_text('{"git": {"https://x": ')

    with pytest.raises(ObservationStoreError, match=r"o\.json"):
        ObservationStore(path)


def test_a_missing_file_is_an_empty_store(tmp_path: Path, stacks) -> None:
    store = ObservationStore(tmp_path / "nothing-yet.json")

    assert store.for_stack(stacks["api"], T0) == Observations(now=T0)
    assert store.fingerprint_material(stacks["api"], T0)["git"] == {}


def test_only_a_failing_registry_enters_the_fingerprint(tmp_path: Path, stacks) -> None:
    store = ObservationStore(tmp_path / "o.json")
    base = store.fingerprint_material(stacks["api"], T0)

    assert store.record_registry_check("harbor.example.test", RegistryCheck(True, "ok", T0)) is False
    assert store.fingerprint_material(stacks["api"], T0) == base
    assert store.record_registry_check("harbor.example.test", RegistryCheck(False, "denied", T0)) is True
    assert store.fingerprint_material(stacks["api"], T0)["unverifiedRegistries"] == ["harbor.example.test"]
