"""Vault rotations, against a local server speaking Vault's KV v2 metadata endpoints."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import hvac
import pytest

from automation.observation_store import ObservationStore
from automation.sources.base import Change
from automation.sources.vault import VaultSource, client_from_environment
from tests.automation.sources.fakes import FakeVault
from tests.automation.sources.hung import HungServer
from tests.automation.sources.stacks import connector, load

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TOKEN = "hvs.test-token-0123456789"
SALESFORCE = "vault://secret/fivetran/salesforce#password"
WORKDAY = "vault://secret/fivetran/workday#client_secret"


def settle(source: VaultSource, now: datetime) -> list[Change]:
    """A poll as the daemon's loop sees it over a few ticks: start what is due, get the results."""
    changes = source.poll(now)
    assert source.wait(timeout=30)
    return changes + source.poll(now)


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
    first = settle(source, T0)
    assert {c.stacks for c in first} == {frozenset({"sales", "crm"}), frozenset({"hr"})}
    before = {name: store.fingerprint_material(docs, T0) for name, docs in stacks.items()}

    vault.write("secret", "fivetran/salesforce")  # rotation: version 1 -> 2
    assert settle(source, T0 + timedelta(seconds=30)) == []  # not due yet
    changes = settle(source, T0 + timedelta(seconds=60))

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
    settle(source, T0)

    assert settle(source, T0 + timedelta(seconds=60)) == []
    assert source.next_due(T0 + timedelta(seconds=60)) == T0 + timedelta(seconds=120)


def test_permission_denied_keeps_the_last_version(tmp_path: Path, vault: FakeVault, stacks) -> None:
    store = ObservationStore(tmp_path / "observations.json")
    settle(VaultSource(stacks, store, client=hvac.Client(url=vault.url, token=TOKEN)), T0)
    vault.write("secret", "fivetran/salesforce")

    wrong = VaultSource(stacks, store, client=hvac.Client(url=vault.url, token="hvs.revoked"))
    assert settle(wrong, T0 + timedelta(minutes=5)) == []

    assert store.vault_version("secret/fivetran/salesforce") == 1
    assert "permission denied" in wrong.errors["secret/fivetran/salesforce"]


def test_a_missing_secret_is_reported_not_raised(tmp_path: Path, vault: FakeVault) -> None:
    stacks = {"dev": load("dev", [connector("c", "vault://secret/does/not-exist#key")])}
    source = VaultSource(
        stacks, ObservationStore(tmp_path / "o.json"), client=hvac.Client(url=vault.url, token=TOKEN)
    )

    assert settle(source, T0) == []
    assert "no such secret" in source.errors["secret/does/not-exist"]


def test_an_unreachable_vault_is_reported_not_raised(tmp_path: Path, stacks) -> None:
    client = hvac.Client(url="http://127.0.0.1:1", token=TOKEN, timeout=2)
    source = VaultSource(stacks, ObservationStore(tmp_path / "o.json"), client=client)

    assert settle(source, T0) == []
    assert "unreachable" in source.errors["secret/fivetran/salesforce"]


def test_a_new_reference_is_read_at_once(tmp_path: Path, vault: FakeVault) -> None:
    store = ObservationStore(tmp_path / "o.json")
    source = VaultSource(
        {"hr": load("hr", [connector("w", WORKDAY)])}, store, client=hvac.Client(url=vault.url, token=TOKEN)
    )
    settle(source, T0)
    assert source.next_due(T0) == T0 + timedelta(seconds=60)

    source.update_stacks({"hr": load("hr", [connector("w", WORKDAY), connector("s", SALESFORCE)])})

    assert source.next_due(T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=1)
    changes = settle(source, T0 + timedelta(seconds=1))
    assert [c.detail for c in changes] == ["secret/fivetran/salesforce: first observed at version 1"]


def test_without_references_or_client_nothing_is_due(tmp_path: Path, vault: FakeVault, stacks) -> None:
    store = ObservationStore(tmp_path / "o.json")
    no_refs = VaultSource({"plain": stacks["plain"]}, store, client=hvac.Client(url=vault.url, token=TOKEN))
    no_client = VaultSource(stacks, store, client=None)

    assert no_refs.next_due(T0) is None
    assert no_client.next_due(T0) is None
    assert settle(no_client, T0) == []
    assert vault.requests == []


def test_the_client_comes_from_vault_addr_and_vault_token(
    monkeypatch: pytest.MonkeyPatch, vault: FakeVault, tmp_path: Path, stacks
) -> None:
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)

    source = VaultSource(stacks, ObservationStore(tmp_path / "o.json"), client=client_from_environment())

    assert len(settle(source, T0)) == 2
    monkeypatch.delenv("VAULT_ADDR")
    assert client_from_environment() is None


# --- a Vault that accepts the connection and never answers -------------------------------------

TEN_SECRETS = [f"vault://secret/team/app-{n}#password" for n in range(10)]


@pytest.fixture
def hung() -> Iterator[HungServer]:
    server = HungServer()
    yield server
    server.close()


def test_a_hung_vault_never_blocks_poll(tmp_path: Path, hung: HungServer) -> None:
    stacks = {"app": load("app", [connector("c", *TEN_SECRETS)])}
    client = hvac.Client(url=hung.url, token=TOKEN, timeout=600)
    woken = threading.Event()
    source = VaultSource(stacks, ObservationStore(tmp_path / "o.json"), client=client, wake=woken.set)
    polled: list[list[Change]] = []

    poll = threading.Thread(target=lambda: polled.append(source.poll(T0)))
    poll.start()
    poll.join(15)  # far less than the 600 s a read may take

    assert not poll.is_alive()
    assert polled == [[]]
    assert hung.connected.wait(15)  # the read is under way in the background...
    assert not source.wait(timeout=0)
    assert source.poll(T0 + timedelta(seconds=1)) == []  # ...and not started twice
    assert hung.connections == 1
    assert not woken.is_set()

    closing = threading.Thread(target=source.close)
    closing.start()
    closing.join(15)
    assert not closing.is_alive()  # close abandons the read instead of waiting for it
    assert source.poll(T0 + timedelta(hours=1)) == []


def test_a_hung_vault_costs_one_timeout_per_poll_and_turns_stale(tmp_path: Path, hung: HungServer) -> None:
    stacks = {"app": load("app", [connector("c", *TEN_SECRETS)])}
    store = ObservationStore(tmp_path / "o.json")
    store.set_vault_version("secret/team/app-3", 7)  # known from before Vault hung
    client = hvac.Client(url=hung.url, token=TOKEN, timeout=1)
    source = VaultSource(stacks, store, client=client, interval_seconds=60)

    assert settle(source, T0) == []

    # The first read timed out; the nine others were not tried, since each would wait as long.
    assert hung.connections == 1
    assert source.errors == {f"secret/team/app-{n}": "Vault unreachable: ReadTimeout" for n in range(10)}
    assert store.vault_version("secret/team/app-3") == 7  # the last known version stays
    assert not any(health.stale for health in source.health())

    settle(source, T0 + timedelta(minutes=1))
    settle(source, T0 + timedelta(minutes=2))

    assert hung.connections == 3
    health = source.health()
    assert [h.target for h in health] == sorted(f"secret/team/app-{n}" for n in range(10))
    assert all(h.stale and h.failures == 3 and h.last_success is None for h in health)
    assert health[0].to_json() == {
        "source": "vault",
        "target": "secret/team/app-0",
        "stale": True,
        "consecutiveFailures": 3,
        "lastSuccessAt": None,
        "lastError": "Vault unreachable: ReadTimeout",
        "pollingSince": None,
    }
    source.close()


def test_a_secret_read_again_after_failures_is_healthy_again(tmp_path: Path, vault: FakeVault) -> None:
    stacks = {"sales": load("sales", [connector("sfdc", SALESFORCE)])}
    source = VaultSource(
        stacks, ObservationStore(tmp_path / "o.json"), client=hvac.Client(url=vault.url, token=TOKEN)
    )
    vault.token = "hvs.rotated-server-side"  # the daemon's token stopped working
    for minute in range(3):
        settle(source, T0 + timedelta(minutes=minute))
    [stale] = source.health()
    assert (stale.stale, stale.failures) == (True, 3)

    vault.token = TOKEN
    settle(source, T0 + timedelta(minutes=3))

    [healthy] = source.health()
    assert (healthy.stale, healthy.failures, healthy.last_success) == (False, 0, T0 + timedelta(minutes=3))
    assert healthy.last_error is None
    assert source.errors == {}
