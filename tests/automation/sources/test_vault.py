"""Vault rotations, against a local server speaking Vault's KV v2 metadata endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hvac
import pytest

from automation.observation_store import ObservationStore
from automation.sources.vault import VaultSource, client_from_environment
from tests.automation.sources.fakes import FakeVault
from tests.automation.sources.stacks import connector, load

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TOKEN = "hvs.test-token-0123456789"
SALESFORCE = "vault://secret/fivetran/salesforce#password"
WORKDAY = "vault://secret/fivetran/workday#client_secret"


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    server = FakeVault(TOKEN)
    server.write("secret", "fivetran/salesforce")
    server.write("secret", "fivetran/workday")
    yield server
    server.close()


@pytest.fixture
def stacks():
    return {
        "sales": load("sales", [connector("sfdc", SALESFORCE)]),
        "hr": load("hr", [connector("workday", WORKDAY)]),
        "crm": load(
            "crm", [connector("sfdc-copy", SALESFORCE, SALESFORCE.replace("#password", "#username"))]
        ),
        "plain": load("plain", [connector("nothing")]),
    }


def test_a_rotated_secret_changes_exactly_the_stacks_that_use_it(
    tmp_path: Path, vault: FakeVault, stacks
) -> None:
    store = ObservationStore(tmp_path / "observations.json")
    source = VaultSource(stacks, store, client=hvac.Client(url=vault.url, token=TOKEN), interval_seconds=60)
    first = source.poll(T0)
    assert {c.stacks for c in first} == {frozenset({"sales", "crm"}), frozenset({"hr"})}
    before = {name: store.fingerprint_material(docs, T0) for name, docs in stacks.items()}

    vault.write("secret", "fivetran/salesforce")  # rotation: version 1 -> 2
    assert source.poll(T0 + timedelta(seconds=30)) == []  # not due yet
    changes = source.poll(T0 + timedelta(seconds=60))

    assert [(c.source, c.stacks) for c in changes] == [("vault", frozenset({"sales", "crm"}))]
    assert "1 -> 2" in changes[0].detail
    after = {name: store.fingerprint_material(docs, T0) for name, docs in stacks.items()}
    assert {name for name in stacks if before[name] != after[name]} == {"sales", "crm"}
    # one read per secret, however many references point at it
    assert len(vault.requests) == 4
    assert all(headers["x-vault-token"] == TOKEN for _, headers in vault.requests)
    source.close()


def test_no_rotation_means_no_change(tmp_path: Path, vault: FakeVault, stacks) -> None:
    store = ObservationStore(tmp_path / "observations.json")
    source = VaultSource(stacks, store, client=hvac.Client(url=vault.url, token=TOKEN), interval_seconds=60)
    source.poll(T0)

    assert source.poll(T0 + timedelta(seconds=60)) == []
    assert source.next_due(T0 + timedelta(seconds=60)) == T0 + timedelta(seconds=120)


def test_permission_denied_keeps_the_last_version(tmp_path: Path, vault: FakeVault, stacks) -> None:
    store = ObservationStore(tmp_path / "observations.json")
    VaultSource(stacks, store, client=hvac.Client(url=vault.url, token=TOKEN)).poll(T0)
    vault.write("secret", "fivetran/salesforce")

    wrong = VaultSource(stacks, store, client=hvac.Client(url=vault.url, token="hvs.revoked"))
    assert wrong.poll(T0 + timedelta(minutes=5)) == []

    assert store.vault_version("secret/fivetran/salesforce") == 1
    assert "permission denied" in wrong.errors["secret/fivetran/salesforce"]


def test_a_missing_secret_is_reported_not_raised(tmp_path: Path, vault: FakeVault) -> None:
    stacks = {"dev": load("dev", [connector("c", "vault://secret/does/not-exist#key")])}
    source = VaultSource(
        stacks, ObservationStore(tmp_path / "o.json"), client=hvac.Client(url=vault.url, token=TOKEN)
    )

    assert source.poll(T0) == []
    assert "no such secret" in source.errors["secret/does/not-exist"]


def test_an_unreachable_vault_is_reported_not_raised(tmp_path: Path, stacks) -> None:
    client = hvac.Client(url="http://127.0.0.1:1", token=TOKEN, timeout=2)
    source = VaultSource(stacks, ObservationStore(tmp_path / "o.json"), client=client)

    assert source.poll(T0) == []
    assert "unreachable" in source.errors["secret/fivetran/salesforce"]


def test_a_new_reference_is_read_at_once(tmp_path: Path, vault: FakeVault) -> None:
    store = ObservationStore(tmp_path / "o.json")
    source = VaultSource(
        {"hr": load("hr", [connector("w", WORKDAY)])}, store, client=hvac.Client(url=vault.url, token=TOKEN)
    )
    source.poll(T0)
    assert source.next_due(T0) == T0 + timedelta(seconds=60)

    source.update_stacks({"hr": load("hr", [connector("w", WORKDAY), connector("s", SALESFORCE)])})

    assert source.next_due(T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=1)
    changes = source.poll(T0 + timedelta(seconds=1))
    assert [c.detail for c in changes] == ["secret/fivetran/salesforce: first observed at version 1"]


def test_without_references_or_client_nothing_is_due(tmp_path: Path, vault: FakeVault, stacks) -> None:
    store = ObservationStore(tmp_path / "o.json")
    no_refs = VaultSource({"plain": stacks["plain"]}, store, client=hvac.Client(url=vault.url, token=TOKEN))
    no_client = VaultSource(stacks, store, client=None)

    assert no_refs.next_due(T0) is None
    assert no_client.next_due(T0) is None
    assert no_client.poll(T0) == []
    assert vault.requests == []


def test_the_client_comes_from_vault_addr_and_vault_token(
    monkeypatch: pytest.MonkeyPatch, vault: FakeVault, tmp_path: Path, stacks
) -> None:
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)

    source = VaultSource(stacks, ObservationStore(tmp_path / "o.json"), client=client_from_environment())

    assert len(source.poll(T0)) == 2
    monkeypatch.delenv("VAULT_ADDR")
    assert client_from_environment() is None
