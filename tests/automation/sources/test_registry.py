"""Registry verification with the cluster's credentials Secret, against a loopback apiserver and registry."""

from __future__ import annotations

import base64
import functools
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from automation.observation_store import ObservationStore
from automation.sources.base import Change
from automation.sources.registry import RegistrySource
from components.kapsa.registry_check import verify_registry
from tests.automation.fake_apiserver import FakeApiserver
from tests.automation.sources.fakes import FakeRegistry
from tests.automation.sources.hung import HungServer
from tests.automation.sources.stacks import connector, kapsa, load

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
USER = "robot$push"
PASSWORD = "pa55-w0rd-never-logged"
KUBE_TOKEN = "kube-token-registry-checks"


def settle(source: RegistrySource, now: datetime) -> list[Change]:
    """A poll as the daemon's loop sees it over a few ticks: start what is due, record the results."""
    changes = source.poll(now)
    assert source.wait(timeout=30)
    return changes + source.poll(now)


def docker_config(server: str, username: str = USER, password: str = PASSWORD, *, plain: bool = False) -> str:
    if plain:  # the username/password form some tools write
        return json.dumps({"auths": {f"https://{server}/v1/": {"username": username, "password": password}}})
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    return json.dumps({"auths": {server: {"auth": auth}}})


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    server = FakeRegistry(USER, PASSWORD)
    yield server
    server.close()


@pytest.fixture
def apiserver() -> Iterator[FakeApiserver]:
    server = FakeApiserver(KUBE_TOKEN, forbidden_namespaces=("locked",))
    yield server
    server.close()


def stacks_on(server: str, **registry_spec):
    def registry_insecure(name: str):
        documents = kapsa("api", server=server)
        documents[1]["spec"] |= {"insecure": True, **registry_spec}  # the fake registry speaks plain HTTP
        return load(name, documents)

    return {
        "shop": registry_insecure("shop"),
        "blog": registry_insecure("blog"),
        "other": load("other", [connector("c")]),
    }


def source_for(tmp_path: Path, stacks, store, apiserver: FakeApiserver, **kwargs) -> RegistrySource:
    environ = {"KUBECONFIG": str(apiserver.kubeconfig(tmp_path / "kubeconfig"))}
    return RegistrySource(stacks, store, project_dir=tmp_path, environ=environ, **kwargs)


def test_the_secret_in_the_cluster_is_verified_and_a_flip_is_logged(
    tmp_path: Path, registry: FakeRegistry, apiserver: FakeApiserver, caplog: pytest.LogCaptureFixture
) -> None:
    apiserver.write_secret("default", "harbor-push", {".dockerconfigjson": docker_config(registry.address)})
    stacks = stacks_on(registry.address)
    store = ObservationStore(tmp_path / "observations.json")
    source = source_for(tmp_path, {k: stacks[k] for k in ("shop", "blog")}, store, apiserver)

    assert settle(source, T0) == []
    check = store.registry_checks()[registry.address]
    assert check["verified"] is True, check["message"]
    assert check["message"].startswith("credentials Secret default/harbor-push: ")
    assert check["checkedAt"] == "2026-11-21T12:00:00Z"
    assert source.next_due(T0) == T0 + timedelta(seconds=300)
    secret_reads = [path for path, _ in apiserver.requests]
    assert secret_reads == ["/api/v1/namespaces/default/secrets/harbor-push"]

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

    # The Secret is rotated to the new password: the next check reads it, no restart.
    apiserver.write_secret(
        "default",
        "harbor-push",
        {".dockerconfigjson": docker_config(registry.address, password=registry.password)},
    )
    assert settle(source, T0 + timedelta(seconds=900)) == []
    assert store.registry_checks()[registry.address]["verified"] is True
    source.close()


def test_a_stale_secret_is_not_verified_even_where_a_host_file_would_work(
    tmp_path: Path,
    registry: FakeRegistry,
    apiserver: FakeApiserver,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    stale = "the-password-before-the-rotation"
    apiserver.write_secret(
        "default", "harbor-push", {".dockerconfigjson": docker_config(registry.address, password=stale)}
    )
    # the daemon's host still has working credentials: they are not what kpack pushes with
    host_file = tmp_path / "auth.json"
    host_file.write_text(docker_config(registry.address))
    monkeypatch.setenv("DRIFTLESS_REGISTRY_AUTH_FILE", str(host_file))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(docker_config(registry.address))
    store = ObservationStore(tmp_path / "observations.json")

    source = source_for(tmp_path, {"shop": stacks_on(registry.address)["shop"]}, store, apiserver)
    settle(source, T0)
    store.save()

    check = store.registry_checks()[registry.address]
    assert check["verified"] is False
    assert "rejected the credentials of 'robot$push'" in check["message"]
    sent = [headers.get("authorization") for _, headers in registry.requests]
    assert "Basic " + base64.b64encode(f"{USER}:{stale}".encode()).decode() in sent
    # the Secret's data is nowhere but in the request to the registry
    for secret in (stale, base64.b64encode(f"{USER}:{stale}".encode()).decode()):
        assert secret not in json.dumps(store.registry_checks())
        assert secret not in store.path.read_text()
        assert secret not in caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    source.close()


@pytest.mark.parametrize("plain", [False, True])
def test_the_bearer_token_flow_uses_the_secrets_credentials(
    tmp_path: Path, apiserver: FakeApiserver, plain: bool
) -> None:
    registry = FakeRegistry(USER, PASSWORD, bearer=True)
    try:
        config = docker_config(registry.address, plain=plain)
        apiserver.write_secret("default", "harbor-push", {".dockerconfigjson": config})
        store = ObservationStore(tmp_path / "observations.json")
        source = source_for(tmp_path, {"shop": stacks_on(registry.address)["shop"]}, store, apiserver)

        settle(source, T0)

        check = store.registry_checks()[registry.address]
        assert check["verified"] is True, check["message"]
        assert "a bearer token" in check["message"]
        assert [path.split("?")[0] for path, _ in registry.requests] == ["/v2/", "/service/token", "/v2/"]
        source.close()
    finally:
        registry.close()


@pytest.mark.parametrize(
    ("secret_spec", "data", "said"),
    [
        ({"credentialsNamespace": "locked"}, None, "cannot read credentials Secret locked/harbor-push: "),
        ({"credentialsSecret": "missing"}, None, "HTTP 404 (NotFound)"),
        ({}, {"username": USER}, "has no .dockerconfigjson"),
        (
            {},
            {".dockerconfigjson": '{"auths": {"x": {"auth": "' + PASSWORD},
            "cannot be read (JSONDecodeError)",
        ),
        ({}, {".dockerconfigjson": docker_config("other.example.test")}, "has no auths entry for"),
    ],
)
def test_a_secret_without_usable_credentials_is_not_verified_and_says_why(
    tmp_path: Path, registry: FakeRegistry, apiserver: FakeApiserver, secret_spec, data, said: str
) -> None:
    if data is not None:
        apiserver.write_secret("default", "harbor-push", data)
    apiserver.write_secret("locked", "harbor-push", {".dockerconfigjson": docker_config(registry.address)})
    store = ObservationStore(tmp_path / "observations.json")
    stacks = {"shop": stacks_on(registry.address, **secret_spec)["shop"]}

    settle(source_for(tmp_path, stacks, store, apiserver), T0)

    check = store.registry_checks()[registry.address]
    assert check["verified"] is False
    assert said in check["message"]
    assert PASSWORD not in check["message"]
    assert registry.requests == []  # nothing was sent without the Secret's credentials


def test_the_stacks_kubernetes_context_picks_the_cluster_the_secret_is_read_on(
    tmp_path: Path, registry: FakeRegistry, apiserver: FakeApiserver
) -> None:
    apiserver.write_secret("default", "harbor-push", {".dockerconfigjson": docker_config(registry.address)})
    kubeconfig = yaml.safe_load(apiserver.kubeconfig(tmp_path / "kubeconfig", context="prod").read_text())
    kubeconfig["clusters"].append({"name": "elsewhere", "cluster": {"server": "https://127.0.0.1:1"}})
    kubeconfig["contexts"].append(
        {"name": "elsewhere", "context": {"cluster": "elsewhere", "user": "daemon"}}
    )
    kubeconfig["current-context"] = "elsewhere"
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    (tmp_path / "Pulumi.shop.yaml").write_text(yaml.safe_dump({"config": {"kubernetes:context": "prod"}}))
    store = ObservationStore(tmp_path / "observations.json")
    source = RegistrySource(
        {"shop": stacks_on(registry.address)["shop"]},
        store,
        project_dir=tmp_path,
        environ={"KUBECONFIG": str(tmp_path / "kubeconfig")},
    )

    settle(source, T0)

    check = store.registry_checks()[registry.address]
    assert check["verified"] is True, check["message"]
    assert "(context prod)" in check["message"]
    source.close()


def test_a_verification_flip_changes_no_stacks_fingerprint(
    tmp_path: Path, registry: FakeRegistry, apiserver: FakeApiserver
) -> None:
    apiserver.write_secret(
        "default", "harbor-push", {".dockerconfigjson": docker_config(registry.address, password="wrong")}
    )
    stacks = stacks_on(registry.address)
    store = ObservationStore(tmp_path / "observations.json")
    before = {name: store.fingerprint_material(docs, T0) for name, docs in stacks.items()}

    assert settle(source_for(tmp_path, stacks, store, apiserver), T0) == []

    assert store.registry_checks()[registry.address]["verified"] is False
    after = {name: store.fingerprint_material(docs, T0) for name, docs in stacks.items()}
    assert after == before


def test_without_a_kubeconfig_nothing_is_checked_and_a_warning_says_so(
    tmp_path: Path, registry: FakeRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    store = ObservationStore(tmp_path / "o.json")
    source = RegistrySource(
        stacks_on(registry.address),
        store,
        project_dir=tmp_path,
        environ={"KUBECONFIG": str(tmp_path / "absent")},
    )

    assert settle(source, T0) == []
    assert settle(source, T0 + timedelta(seconds=300)) == []

    assert registry.requests == []
    assert store.registry_checks() == {}
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"registry verification is off: no kubeconfig: $KUBECONFIG ({tmp_path / 'absent'}) names no file"
    ]


def test_a_hung_registry_never_blocks_poll(tmp_path: Path, apiserver: FakeApiserver) -> None:
    hung = HungServer()
    try:
        server = f"127.0.0.1:{hung.port}"
        apiserver.write_secret("default", "harbor-push", {".dockerconfigjson": docker_config(server)})
        store = ObservationStore(tmp_path / "observations.json")
        source = source_for(
            tmp_path,
            {"shop": stacks_on(server)["shop"]},
            store,
            apiserver,
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
