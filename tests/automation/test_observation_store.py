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
    store.set_first_seen("api", "api/feature-new-api", T0)
    store.set_first_seen("web", "web/feature-css", T0)
    store.record_images(
        "api",
        "api",
        {"main": {"image": "harbor.example.test/acme/api@sha256:" + "1" * 64, "commit": "a" * 40}},
    )
    store.record_images(
        "web",
        "web",
        {"main": {"image": "harbor.example.test/acme/web@sha256:" + "2" * 64, "commit": "c" * 40}},
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
    # recorded once, with the identity it keeps: branch, slug and expiry (ttlHours 24)
    assert data["previews"] == {
        "api/feature-new-api": {
            "firstSeen": "2026-11-21T12:00:00Z",
            "branch": "feature/new-api",
            "slug": "feature-new-api",
            "expiresAt": "2026-11-22T12:00:00Z",
        }
    }
    assert Observations.load(path) == store.for_stack(stacks["api"], T0)


def test_fingerprint_material_ignores_the_clock_until_a_preview_expires(
    store: ObservationStore, stacks
) -> None:
    one = store.fingerprint_material(stacks["api"], T0 + timedelta(minutes=1))
    two = store.fingerprint_material(stacks["api"], T0 + timedelta(hours=23))
    expired = store.fingerprint_material(stacks["api"], T0 + timedelta(hours=24))

    assert one == two
    assert expired["expiredPreviews"] == ["api/feature-new-api"]
    # the expired preview is no longer built: its identity and its branch's head drop out
    assert expired["previews"] == {}
    assert expired["git"] == {API: {"main": "a" * 40}}
    assert one["git"] == {API: {"main": "a" * 40, "feature/new-api": "b" * 40}}
    unchanged = {"images", "vault"}
    assert {k: expired[k] for k in unchanged} == {k: one[k] for k in unchanged}
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
    store.record_images(
        "api", "api", {"feature/new-api": {"image": "harbor.example.test/acme/api:feature-new-api"}}
    )
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

    assert store.first_seen("api", "api/feature-new-api") == T0
    assert later["previews"] == {
        "api/feature-new-api": {
            "firstSeen": "2026-11-21T12:00:00Z",
            "branch": "feature/new-api",
            "slug": "feature-new-api",
            "expiresAt": "2026-11-22T12:00:00Z",
        }
    }


def test_record_images_reports_whether_anything_changed(tmp_path: Path) -> None:
    store = ObservationStore(tmp_path / "o.json")
    image = {"image": "harbor.example.test/acme/api@sha256:" + "1" * 64, "commit": "a" * 40}

    assert store.record_images("s", "api", {"main": image}) is True
    assert store.record_images("s", "api", {"main": dict(image)}) is False
    assert store.record_images("s", "api", {"main": {**image, "commit": "f" * 40}}) is True
    # a branch missing from one status keeps its last good image
    assert store.record_images("s", "api", {"feature/x": {"image": "harbor.example.test/acme/api:x"}}) is True
    assert store.record_images("s", "api", {}) is False


def test_a_project_status_records_last_good_and_pinned_images(tmp_path: Path) -> None:
    store = ObservationStore(tmp_path / "o.json")
    good = {"image": "harbor.example.test/acme/api@sha256:" + "1" * 64, "commit": "a" * 40}
    pinned = {"image": "harbor.example.test/acme/api@sha256:" + "9" * 64, "commit": "9" * 40}
    status = {"phase": "Running", "lastGoodImages": {"main": good}, "pinnedImages": {"@{prod}": pinned}}

    assert store.record_outputs("s", "Project", "api", status) is True
    assert store.record_outputs("s", "Project", "api", status) is False

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


def test_a_registry_check_is_status_only_never_fingerprint_material(tmp_path: Path, stacks) -> None:
    # The program never reads a registry's verification, so an up would render the same: a flip
    # must not change the fingerprint (it shows in status, through registry_checks()).
    store = ObservationStore(tmp_path / "o.json")
    base = store.fingerprint_material(stacks["api"], T0)

    assert store.record_registry_check("harbor.example.test", RegistryCheck(True, "ok", T0)) is False
    assert store.fingerprint_material(stacks["api"], T0) == base
    assert store.record_registry_check("harbor.example.test", RegistryCheck(False, "denied", T0)) is True
    assert store.fingerprint_material(stacks["api"], T0) == base
    assert store.registry_checks()["harbor.example.test"]["verified"] is False


# --- one stack's observations never leak into another's -----------------------------------------

PINNED = [{"name": "dev", "branch": "main"}, {"name": "prod", "branch": "main", "autoSync": False}]


@pytest.fixture
def twins():
    """staging.yaml and live.yaml both define Project/api on the same repository."""
    return {
        name: load(name, kapsa("api", API, previews=PREVIEWS, environments=PINNED))
        for name in ("staging", "live")
    }


def image(digit: str) -> dict[str, str]:
    return {"image": "harbor.example.test/acme/api@sha256:" + digit * 64, "commit": digit * 40}


def test_two_stacks_with_the_same_project_keep_their_own_images(tmp_path: Path, twins) -> None:
    store = ObservationStore(tmp_path / "o.json")
    store.set_git_heads(API, {"main": "a" * 40})
    live_before = store.fingerprint_material(twins["live"], T0)

    staging = {"lastGoodImages": {"main": image("1")}, "pinnedImages": {"@{prod}": image("1")}}
    live = {"lastGoodImages": {"main": image("2")}, "pinnedImages": {"@{prod}": image("2")}}
    assert store.record_outputs("live", "Project", "api", live) is True
    live_recorded = store.fingerprint_material(twins["live"], T0)
    assert store.record_outputs("staging", "Project", "api", staging) is True

    # each stack reads its own, under the observations format's keys
    assert store.for_stack(twins["staging"], T0).images["api/@{prod}"].commit == "1" * 40
    assert store.for_stack(twins["live"], T0).images["api/@{prod}"].commit == "2" * 40
    assert store.for_stack(twins["live"], T0).images["api/main"].commit == "2" * 40
    # staging's up moved nothing of live's: not its pin, not its fingerprint
    assert live_recorded != live_before
    assert store.fingerprint_material(twins["live"], T0) == live_recorded

    store.save()
    reopened = ObservationStore(store.path)
    for documents in twins.values():
        assert reopened.for_stack(documents, T0) == store.for_stack(documents, T0)


def test_two_stacks_with_the_same_project_keep_their_own_preview_times(tmp_path: Path, twins) -> None:
    store = ObservationStore(tmp_path / "o.json")
    store.set_git_heads(API, {"main": "a" * 40, "feature/new-api": "b" * 40})
    later = T0 + timedelta(hours=20)

    store.for_stack(twins["staging"], T0)  # staging sees the branch first...
    live_at_first_use = store.fingerprint_material(twins["live"], later)  # ...live only 20 h later
    store.forget_preview("staging", "api/feature-new-api")  # and staging's entry goes away

    assert store.first_seen("staging", "api/feature-new-api") is None
    assert store.first_seen("live", "api/feature-new-api") == later
    assert store.fingerprint_material(twins["live"], later) == live_at_first_use
    # staging's preview expires at T0 + 24 h; live's keeps running until later + 24 h
    store.for_stack(twins["staging"], T0)
    assert store.fingerprint_material(twins["staging"], T0 + timedelta(hours=24))["expiredPreviews"] == [
        "api/feature-new-api"
    ]
    assert store.fingerprint_material(twins["live"], T0 + timedelta(hours=24))["expiredPreviews"] == []


def test_the_stack_defaults_to_the_stack_files_name(tmp_path: Path, twins) -> None:
    store = ObservationStore(tmp_path / "o.json")
    store.record_outputs("live", "Project", "api", {"pinnedImages": {"@{prod}": image("2")}})

    assert store.for_stack(twins["live"], T0) == store.for_stack(twins["staging"], T0, stack="live")
    assert store.for_stack(twins["staging"], T0).images == {}


def version_1_file(path: Path) -> Path:
    """An observations file as written before previews and images were kept per stack."""
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "git": {API: {"main": "a" * 40, "feature/new-api": "b" * 40}},
                "previews": {"api/feature-new-api": {"firstSeen": "2026-11-21T12:00:00Z"}},
                "images": {"api/main": image("1"), "api/@{prod}": image("9"), "web/main": image("3")},
                "vault": {"secret/api/db": 3},
                "registries": {},
            }
        )
    )
    return path


def test_a_version_1_file_is_adopted_by_each_stack_using_the_project(tmp_path: Path, twins) -> None:
    store = ObservationStore(version_1_file(tmp_path / "o.json"))

    # Each stack renders what it rendered before the upgrade: no pin moves, no TTL restarts.
    for name in ("staging", "live"):
        observed = store.for_stack(twins[name], T0 + timedelta(hours=1))
        assert set(observed.images) == {"api/main", "api/@{prod}"}
        assert observed.images["api/@{prod}"].commit == "9" * 40
        assert observed.previews["api/feature-new-api"].first_seen == T0
    # From then on each stack's entries are its own.
    store.record_outputs("staging", "Project", "api", {"pinnedImages": {"@{prod}": image("5")}})
    assert store.for_stack(twins["live"], T0).images["api/@{prod}"].commit == "9" * 40

    store.save()
    saved = json.loads(store.path.read_text())
    assert saved["version"] == 3
    assert set(saved["stacks"]) == {"staging", "live"}
    # the adopted first-seen time now carries the identity it was rendered with
    assert saved["stacks"]["live"]["previews"]["api/feature-new-api"] == {
        "firstSeen": "2026-11-21T12:00:00Z",
        "branch": "feature/new-api",
        "slug": "feature-new-api",
        "expiresAt": "2026-11-22T12:00:00Z",
    }
    assert saved["stacks"]["staging"]["images"]["api/@{prod}"]["commit"] == "5" * 40
    assert "previews" not in saved
    assert "images" not in saved
    # A stack not read yet (another project's, or one only run later) still finds its entries.
    web = load("web", kapsa("web", API))
    assert ObservationStore(store.path).for_stack(web, T0).images["web/main"].commit == "3" * 40


def test_a_version_1_preview_of_a_deleted_branch_is_not_adopted_later(tmp_path: Path, twins) -> None:
    store = ObservationStore(version_1_file(tmp_path / "o.json"))
    store.for_stack(twins["staging"], T0)

    store.forget_preview("staging", "api/feature-new-api")  # the git source: the branch is gone
    store.set_git_heads(API, {"main": "a" * 40, "feature/new-api": "c" * 40})  # and pushed again
    later = T0 + timedelta(days=2)

    assert store.for_stack(twins["live"], later).previews["api/feature-new-api"].first_seen == later


def test_a_file_from_a_newer_version_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"version": 99, "git": {}}))

    with pytest.raises(ObservationStoreError, match="newer"):
        ObservationStore(path)


# --- only the heads the program reads ------------------------------------------------------------


def test_a_push_to_a_branch_no_project_uses_changes_nothing_the_stack_sees(tmp_path: Path) -> None:
    environments = [{"name": "dev"}, {"name": "prod", "branch": "release/1.x"}]
    plain = load("plain", kapsa("api", API, environments=environments))  # previews disabled
    previews = load("previews", kapsa("api", API, previews=PREVIEWS, environments=environments))
    store = ObservationStore(tmp_path / "o.json")
    heads = {"main": "a" * 40, "release/1.x": "b" * 40, "feature/x": "c" * 40, "hotfix": "d" * 40}
    store.set_git_heads(API, heads)

    def seen() -> dict[str, tuple[dict, dict]]:
        return {
            d.file: (store.fingerprint_material(d, T0), store.for_stack(d, T0).model_dump())
            for d in (plain, previews)
        }

    def changed(**moved: str) -> set[str]:
        before = seen()
        store.set_git_heads(API, {**(store.git_heads(API) or {}), **moved})
        after = seen()
        return {Path(name).stem for name in before if before[name] != after[name]}

    assert store.for_stack(plain, T0).git == {API: {"main": "a" * 40, "release/1.x": "b" * 40}}
    assert changed(hotfix="e" * 40) == set()  # no environment, no preview glob
    assert changed(**{"feature/x": "f" * 40}) == {"previews"}  # a preview branch, where enabled
    assert changed(**{"feature/y": "1" * 40}) == {"previews"}  # a new preview branch
    assert changed(**{"release/1.x": "2" * 40}) == {"plain", "previews"}  # an environment's branch
    assert changed(main="3" * 40) == {"plain", "previews"}  # the default branch (dev)


def test_the_program_renders_the_same_from_the_heads_it_is_given(tmp_path: Path) -> None:
    from components.kapsa.builders.plan import plan_project

    environments = [{"name": "dev"}, {"name": "prod", "branch": "release/1.x", "autoSync": False}]
    # "main" is excluded from previews and "Feature/X" and "feature-x" share a slug: every rule
    # that decides which heads the program reads is exercised.
    previews = {**PREVIEWS, "include": ["feature/*", "Feature/*", "feature-*"], "exclude": ["feature/old*"]}
    documents = load("s", kapsa("api", API, previews=previews, environments=environments))
    heads = {
        b: c * 40
        for b, c in {
            "main": "a",
            "release/1.x": "b",
            "feature/x": "c",
            "Feature/X": "d",
            "feature-x": "e",
            "feature/old-thing": "f",
            "hotfix": "1",
            "dependabot/npm": "2",
        }.items()
    }
    store = ObservationStore(tmp_path / "o.json")
    store.set_git_heads(API, heads)
    given = store.for_stack(documents, T0)
    everything = given.model_copy(update={"git": {API: heads}})
    project = documents.get("Project", "api")
    pool = documents.get("DomainPool", "pool")
    registry = documents.get("Registry", "harbor")
    assert project is not None
    assert pool is not None
    assert registry is not None

    def plan(observations: Observations):
        return plan_project(
            project="api",
            namespace="api",
            spec=project.spec,  # type: ignore[arg-type]
            domain_pool=pool.spec,  # type: ignore[arg-type]
            registry=registry.spec,  # type: ignore[arg-type]
            observations=observations,
            cluster_builder="default",
        )

    assert set(given.git[API]) == {"main", "release/1.x", "feature/x", "Feature/X", "feature-x"}
    assert plan(given) == plan(everything)


def test_what_was_applied_is_kept_per_stack_for_its_own_documents_only(
    store: ObservationStore, stacks
) -> None:
    api, web = stacks["api"], stacks["web"]
    before = store.fingerprint_material(api, T0)
    assert store.for_stack(api, T0).applied == {}
    assert "applied" not in json.loads(store.for_stack(api, T0).to_json())  # files stay as they were

    assert store.record_applied("api", "Project/api", {"replicas": 3}) is True
    assert store.record_applied("api", "Project/api", {"replicas": 3}) is False
    assert store.record_applied("api", "Project/api", {}) is False  # no facts keep the last ones
    assert store.record_applied("api", "Project/gone", {"replicas": 1}) is True

    assert store.for_stack(api, T0).applied == {"Project/api": {"replicas": 3}}
    assert store.for_stack(web, T0).applied == {}
    # the result of the stack's own up, not a change in the world: no second up for it
    assert store.fingerprint_material(api, T0) == before

    store.save()
    assert ObservationStore(store.path).for_stack(api, T0).applied == {"Project/api": {"replicas": 3}}


def test_a_file_written_before_applied_was_recorded_reads_as_nothing_applied(tmp_path: Path, stacks) -> None:
    path = tmp_path / "o.json"
    path.write_text(
        json.dumps({"version": 3, "git": {}, "stacks": {"api": {"images": {}}}}), encoding="utf-8"
    )
    assert ObservationStore(path).for_stack(stacks["api"], T0).applied == {}
    assert Observations.model_validate({"now": "2026-11-21T12:00:00Z", "images": {}}).applied == {}
