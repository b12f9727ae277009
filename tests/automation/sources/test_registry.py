"""Registry verification against a local server speaking the registry API's /v2/ handshake."""

from __future__ import annotations

import base64
import functools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from automation.observation_store import ObservationStore
from automation.sources.base import Change
from automation.sources.registry import RegistrySource
from components.kapsa.registry_check import verify_registry
from tests.automation.sources.fakes import FakeRegistry
from tests.automation.sources.hung import HungServer
from tests.automation.sources.stacks import connector, kapsa, load

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
USER = "robot$push"
PASSWORD = "pa55-w0rd-never-logged"


def settle(source: RegistrySource, now: datetime) -> list[Change]:
    """A poll as the daemon's loop sees it over a few ticks: start what is due, record the results."""
    changes = source.poll(now)
    assert source.wait(timeout=30)
    return changes + source.poll(now)


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

    assert settle(source, T0) == []
    check = store.registry_checks()[registry.address]
    assert check["verified"] is True
    assert check["checkedAt"] == "2026-11-21T12:00:00Z"
    assert source.next_due(T0) == T0 + timedelta(seconds=300)

    registry.password = "rotated-by-the-registry-admin"  # the credentials are revoked
    assert settle(source, T0 + timedelta(seconds=299)) == []  # not due
    caplog.clear()
    # A flip is status and a warning, never a change: nothing a stack renders depends on it.
    assert settle(source, T0 + timedelta(seconds=300)) == []

    assert store.registry_checks()[registry.address]["verified"] is False
    [flip] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert registry.address in flip.getMessage()
    assert "blog, shop" in flip.getMessage()

    # Still failing: recorded again, not a flip.
    caplog.clear()
    assert settle(source, T0 + timedelta(seconds=600)) == []
    assert store.registry_checks()[registry.address]["checkedAt"] == "2026-11-21T12:10:00Z"
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []

    registry.password = PASSWORD
    assert settle(source, T0 + timedelta(seconds=900)) == []
    assert store.registry_checks()[registry.address]["verified"] is True


def test_a_verification_flip_changes_no_stacks_fingerprint(tmp_path: Path, registry: FakeRegistry) -> None:
    stacks = stacks_on(registry.address)
    store = ObservationStore(tmp_path / "observations.json")
    wrong = auth_file(tmp_path / "auth.json", registry.address, password="wrong")
    before = {name: store.fingerprint_material(docs, T0) for name, docs in stacks.items()}

    assert settle(RegistrySource(stacks, store, auth_file=wrong), T0) == []

    assert store.registry_checks()[registry.address]["verified"] is False
    after = {name: store.fingerprint_material(docs, T0) for name, docs in stacks.items()}
    assert after == before


def test_missing_credentials_are_a_failed_check(tmp_path: Path, registry: FakeRegistry) -> None:
    stacks = stacks_on(registry.address)
    store = ObservationStore(tmp_path / "observations.json")
    auth = auth_file(tmp_path / "auth.json", "some-other-registry.example.test")

    settle(RegistrySource({"shop": stacks["shop"]}, store, auth_file=auth), T0)

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

    settle(RegistrySource({"shop": stacks["shop"]}, store), T0)

    assert store.registry_checks()[registry.address]["verified"] is True


def test_without_an_auth_file_nothing_is_checked(
    tmp_path: Path, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRIFTLESS_REGISTRY_AUTH_FILE", raising=False)
    source = RegistrySource(stacks_on(registry.address), ObservationStore(tmp_path / "o.json"))

    assert source.next_due(T0) is None
    assert settle(source, T0) == []
    assert registry.requests == []


def test_an_unreadable_auth_file_is_reported_without_its_content(
    tmp_path: Path, registry: FakeRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "auth.json"
    broken.write_text('{"auths": {"x": {"auth": "' + PASSWORD)  # truncated mid-write
    store = ObservationStore(tmp_path / "o.json")

    assert settle(RegistrySource(stacks_on(registry.address), store, auth_file=broken), T0) == []

    assert "not valid JSON" in caplog.text
    assert PASSWORD not in caplog.text
    assert store.registry_checks() == {}


def test_a_hung_registry_never_blocks_poll(tmp_path: Path) -> None:
    hung = HungServer()
    try:
        server = f"127.0.0.1:{hung.port}"
        store = ObservationStore(tmp_path / "observations.json")
        source = RegistrySource(
            {k: v for k, v in stacks_on(server).items() if k == "shop"},
            store,
            auth_file=auth_file(tmp_path / "auth.json", server),
            verify=functools.partial(verify_registry, timeout=600),  # far past any bound below
        )
        polled: list[list[Change]] = []

        poll = threading.Thread(target=lambda: polled.append(source.poll(T0)))
        poll.start()
        poll.join(15)

        assert not poll.is_alive()
        assert polled == [[]]
        assert hung.connected.wait(15)  # the check is under way in the background
        assert not source.wait(timeout=0)
        assert store.registry_checks() == {}
        closing = threading.Thread(target=source.close)
        closing.start()
        closing.join(15)
        assert not closing.is_alive()  # close abandons the check instead of waiting for it
    finally:
        hung.close()
