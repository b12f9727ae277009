"""Registry verification against a local server speaking the registry API's /v2/ handshake."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from automation.observation_store import ObservationStore
from automation.sources.registry import RegistrySource
from tests.automation.sources.fakes import FakeRegistry
from tests.automation.sources.stacks import connector, kapsa, load

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
USER = "robot$push"
PASSWORD = "pa55-w0rd-never-logged"


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    server = FakeRegistry(USER, PASSWORD)
    yield server
    server.close()


def auth_file(path: Path, server: str, username: str = USER, password: str = PASSWORD) -> Path:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {server: {"auth": auth}}}))
    return path


def stacks_on(server: str):
    def registry_insecure(name: str):
        documents = kapsa("api", server=server)
        documents[1]["spec"]["insecure"] = True  # the fake registry speaks plain HTTP
        return load(name, documents)

    return {
        "shop": registry_insecure("shop"),
        "blog": registry_insecure("blog"),
        "other": load("other", [connector("c")]),
    }


def test_results_are_recorded_for_status_and_a_flip_is_logged(
    tmp_path: Path, registry: FakeRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    stacks = stacks_on(registry.address)
    store = ObservationStore(tmp_path / "observations.json")
    auth = auth_file(tmp_path / "auth.json", registry.address)
    source = RegistrySource(
        {k: stacks[k] for k in ("shop", "blog")}, store, auth_file=auth, interval_seconds=300
    )

    assert source.poll(T0) == []
    check = store.registry_checks()[registry.address]
    assert check["verified"] is True
    assert check["checkedAt"] == "2026-11-21T12:00:00Z"
    assert source.next_due(T0) == T0 + timedelta(seconds=300)

    registry.password = "rotated-by-the-registry-admin"  # the credentials are revoked
    assert source.poll(T0 + timedelta(seconds=299)) == []  # not due
    caplog.clear()
    # A flip is status and a warning, never a change: nothing a stack renders depends on it.
    assert source.poll(T0 + timedelta(seconds=300)) == []

    assert store.registry_checks()[registry.address]["verified"] is False
    [flip] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert registry.address in flip.getMessage()
    assert "blog, shop" in flip.getMessage()

    # Still failing: recorded again, not a flip.
    caplog.clear()
    assert source.poll(T0 + timedelta(seconds=600)) == []
    assert store.registry_checks()[registry.address]["checkedAt"] == "2026-11-21T12:10:00Z"
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []

    registry.password = PASSWORD
    assert source.poll(T0 + timedelta(seconds=900)) == []
    assert store.registry_checks()[registry.address]["verified"] is True


def test_a_verification_flip_changes_no_stacks_fingerprint(tmp_path: Path, registry: FakeRegistry) -> None:
    stacks = stacks_on(registry.address)
    store = ObservationStore(tmp_path / "observations.json")
    wrong = auth_file(tmp_path / "auth.json", registry.address, password="wrong")
    before = {name: store.fingerprint_material(docs, T0) for name, docs in stacks.items()}

    assert RegistrySource(stacks, store, auth_file=wrong).poll(T0) == []

    assert store.registry_checks()[registry.address]["verified"] is False
    after = {name: store.fingerprint_material(docs, T0) for name, docs in stacks.items()}
    assert after == before


def test_missing_credentials_are_a_failed_check(tmp_path: Path, registry: FakeRegistry) -> None:
    stacks = stacks_on(registry.address)
    store = ObservationStore(tmp_path / "observations.json")
    auth = auth_file(tmp_path / "auth.json", "some-other-registry.example.test")

    RegistrySource({"shop": stacks["shop"]}, store, auth_file=auth).poll(T0)

    check = store.registry_checks()[registry.address]
    assert check["verified"] is False
    assert "no credentials" in check["message"]
    assert registry.requests == []


def test_the_auth_file_comes_from_the_environment(
    tmp_path: Path, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    stacks = stacks_on(registry.address)
    store = ObservationStore(tmp_path / "observations.json")
    monkeypatch.setenv(
        "DRIFTLESS_REGISTRY_AUTH_FILE", str(auth_file(tmp_path / "auth.json", registry.address))
    )

    RegistrySource({"shop": stacks["shop"]}, store).poll(T0)

    assert store.registry_checks()[registry.address]["verified"] is True


def test_without_an_auth_file_nothing_is_checked(
    tmp_path: Path, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRIFTLESS_REGISTRY_AUTH_FILE", raising=False)
    source = RegistrySource(stacks_on(registry.address), ObservationStore(tmp_path / "o.json"))

    assert source.next_due(T0) is None
    assert source.poll(T0) == []
    assert registry.requests == []


def test_an_unreadable_auth_file_is_reported_without_its_content(
    tmp_path: Path, registry: FakeRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "auth.json"
    broken.write_text('{"auths": {"x": {"auth": "' + PASSWORD)  # truncated mid-write
    store = ObservationStore(tmp_path / "o.json")

    assert RegistrySource(stacks_on(registry.address), store, auth_file=broken).poll(T0) == []

    assert "not valid JSON" in caplog.text
    assert PASSWORD not in caplog.text
    assert store.registry_checks() == {}
