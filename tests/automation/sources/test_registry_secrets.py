"""Registry credentials Secrets: their resourceVersion, read from a loopback apiserver, is fingerprinted."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from automation.observation_store import ObservationStore
from automation.sources.base import Change
from automation.sources.registry_secrets import RegistrySecretSource
from tests.automation.fake_apiserver import FakeApiserver
from tests.automation.sources.stacks import connector, kapsa, load

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
TOKEN = "kube-token-0123456789abcdef"
PASSWORD = "registry-password-never-read"
SECRET = "default/harbor-push"  # kapsa()'s Registry: credentialsSecret harbor-push, namespace default


@pytest.fixture
def apiserver() -> Iterator[FakeApiserver]:
    server = FakeApiserver(TOKEN, forbidden_namespaces=("locked",))
    server.write_secret("default", "harbor-push", {".dockerconfigjson": PASSWORD})
    yield server
    server.close()


@pytest.fixture
def stacks():
    return {"apps": load("apps", kapsa()), "other": load("other", [connector("nothing")])}


@pytest.fixture
def store(tmp_path: Path) -> ObservationStore:
    return ObservationStore(tmp_path / "state" / "observations.json")


def source_for(tmp_path: Path, stacks, store, environ: dict[str, str]) -> RegistrySecretSource:
    return RegistrySecretSource(stacks, store, project_dir=tmp_path, environ=environ)


def settle(source: RegistrySecretSource, now: datetime) -> list[Change]:
    changes = source.poll(now)
    assert source.wait(timeout=30)
    return changes + source.poll(now)


def test_a_rotation_changes_the_fingerprint_of_exactly_the_stacks_holding_the_registry(
    tmp_path: Path, apiserver: FakeApiserver, stacks, store: ObservationStore
) -> None:
    environ = {"KUBECONFIG": str(apiserver.kubeconfig(tmp_path / "kubeconfig"))}
    before = {name: store.fingerprint_material(docs, T0) for name, docs in stacks.items()}
    source = source_for(tmp_path, stacks, store, environ)

    first = settle(source, T0)
    version = apiserver.secrets[("default", "harbor-push")]["metadata"]["resourceVersion"]
    assert [(c.stacks, c.detail) for c in first] == [
        (frozenset({"apps"}), f"{SECRET}: resourceVersion {version}")
    ]
    known = store.fingerprint_material(stacks["apps"], T0)
    assert known["registrySecrets"] == {SECRET: version}
    assert store.fingerprint_material(stacks["other"], T0) == before["other"]

    # read again, nothing rotated: no change, same fingerprint
    assert settle(source, T0 + timedelta(seconds=60)) == []
    assert store.fingerprint_material(stacks["apps"], T0) == known

    rotated = apiserver.write_secret("default", "harbor-push", {".dockerconfigjson": "new-" + PASSWORD})
    changes = settle(source, T0 + timedelta(seconds=120))

    assert [c.stacks for c in changes] == [frozenset({"apps"})]
    assert store.fingerprint_material(stacks["apps"], T0)["registrySecrets"] == {SECRET: rotated}
    assert store.registry_checks()["harbor.example.test"]["credentialsSecret"]["resourceVersion"] == rotated
    source.close()


def test_only_the_metadata_is_asked_for_and_nothing_of_the_data_is_kept(
    tmp_path: Path, apiserver: FakeApiserver, stacks, store: ObservationStore
) -> None:
    environ = {"KUBECONFIG": str(apiserver.kubeconfig(tmp_path / "kubeconfig"))}
    source = source_for(tmp_path, stacks, store, environ)
    settle(source, T0)
    store.save()

    ((path, headers),) = apiserver.requests
    assert path == "/api/v1/namespaces/default/secrets/harbor-push"
    assert "as=PartialObjectMetadata" in headers["accept"]
    assert headers["authorization"] == f"Bearer {TOKEN}"
    saved = store.path.read_text()
    assert PASSWORD not in saved
    assert TOKEN not in saved
    source.close()


def test_without_a_kubeconfig_the_fingerprint_is_unchanged_and_status_says_the_version_is_unknown(
    tmp_path: Path, stacks, store: ObservationStore
) -> None:
    before = store.fingerprint_material(stacks["apps"], T0)
    source = source_for(tmp_path, stacks, store, {"KUBECONFIG": str(tmp_path / "absent")})

    assert settle(source, T0) == []

    assert store.fingerprint_material(stacks["apps"], T0) == before
    assert "registrySecrets" not in before
    status = store.registry_checks()["harbor.example.test"]["credentialsSecret"]
    assert status["secret"] == SECRET
    assert status["resourceVersion"] is None
    assert "no kubeconfig" in status["message"]
    (health,) = source.health()
    assert health.last_error is not None
    assert "no kubeconfig" in health.last_error
    source.close()


def test_a_failed_read_keeps_the_last_known_version(
    tmp_path: Path, apiserver: FakeApiserver, stacks, store: ObservationStore
) -> None:
    environ = {"KUBECONFIG": str(apiserver.kubeconfig(tmp_path / "kubeconfig"))}
    source = source_for(tmp_path, stacks, store, environ)
    settle(source, T0)
    known = store.fingerprint_material(stacks["apps"], T0)

    apiserver.close()  # the apiserver goes away
    assert settle(source, T0 + timedelta(seconds=60)) == []

    assert store.fingerprint_material(stacks["apps"], T0) == known
    status = store.registry_checks()["harbor.example.test"]["credentialsSecret"]
    assert status["resourceVersion"] == known["registrySecrets"][SECRET]
    assert "unreachable" in status["message"]
    assert "last known version kept" in status["message"]
    source.close()


def test_the_version_survives_a_restart_without_a_change(
    tmp_path: Path, apiserver: FakeApiserver, stacks, store: ObservationStore
) -> None:
    environ = {"KUBECONFIG": str(apiserver.kubeconfig(tmp_path / "kubeconfig"))}
    source = source_for(tmp_path, stacks, store, environ)
    settle(source, T0)
    store.save()
    source.close()

    reopened = ObservationStore(store.path)
    again = source_for(tmp_path, stacks, reopened, environ)
    assert settle(again, T0 + timedelta(minutes=5)) == []
    assert reopened.fingerprint_material(stacks["apps"], T0) == store.fingerprint_material(stacks["apps"], T0)
    again.close()


def test_the_stacks_kubernetes_context_picks_the_cluster(
    tmp_path: Path, apiserver: FakeApiserver, stacks, store: ObservationStore
) -> None:
    kubeconfig = yaml.safe_load(apiserver.kubeconfig(tmp_path / "kubeconfig", context="prod").read_text())
    # the current context is another cluster, unreachable: only the stack's own context works
    kubeconfig["clusters"].append({"name": "elsewhere", "cluster": {"server": "https://127.0.0.1:1"}})
    kubeconfig["contexts"].append(
        {"name": "elsewhere", "context": {"cluster": "elsewhere", "user": "daemon"}}
    )
    kubeconfig["current-context"] = "elsewhere"
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    (tmp_path / "Pulumi.apps.yaml").write_text(yaml.safe_dump({"config": {"kubernetes:context": "prod"}}))
    environ = {"KUBECONFIG": str(tmp_path / "kubeconfig")}

    source = source_for(tmp_path, stacks, store, environ)
    changes = settle(source, T0)

    assert [c.stacks for c in changes] == [frozenset({"apps"})]
    assert [h.target for h in source.health()] == [f"{SECRET} (context prod)"]
    source.close()


def kubeconfig_variant(tmp_path: Path, apiserver: FakeApiserver, change) -> dict[str, str]:
    document = yaml.safe_load(apiserver.kubeconfig(tmp_path / "kubeconfig").read_text())
    change(document)
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(document) if isinstance(document, dict) else document)
    return {"KUBECONFIG": str(tmp_path / "kubeconfig")}


def _wrong_token(document: dict) -> None:
    document["users"][0]["user"]["token"] = "not-the-token"


def _other_ca(document: dict) -> None:
    other = FakeApiserver("x")  # a CA that did not sign the apiserver's certificate
    document["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(other.ca_pem).decode()
    other.close()


def _exec_plugin(document: dict) -> None:
    document["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "aws"}
    }


def _no_context(document: dict) -> None:
    del document["current-context"]


def _missing_context(document: dict) -> None:
    document["current-context"] = "nowhere"


def _bad_ca_data(document: dict) -> None:
    document["clusters"][0]["cluster"]["certificate-authority-data"] = "not base64!"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (_wrong_token, "HTTP 401 (Unauthorized): the kubeconfig's credentials were not accepted"),
        (_other_ca, "apiserver unreachable (SSLError)"),
        (_exec_plugin, "exec plugin, which driftless does not run"),
        (_no_context, "no context"),
        (_missing_context, "no context named 'nowhere'"),
        (_bad_ca_data, "certificate-authority-data is not base64"),
    ],
)
def test_an_unusable_kubeconfig_leaves_the_version_unknown_and_says_why(
    tmp_path: Path, apiserver: FakeApiserver, stacks, store: ObservationStore, change, said: str
) -> None:
    before = store.fingerprint_material(stacks["apps"], T0)
    source = source_for(tmp_path, stacks, store, kubeconfig_variant(tmp_path, apiserver, change))

    assert settle(source, T0) == []

    assert store.fingerprint_material(stacks["apps"], T0) == before
    status = store.registry_checks()["harbor.example.test"]["credentialsSecret"]
    assert status["resourceVersion"] is None
    assert said in status["message"]
    assert TOKEN not in status["message"]
    source.close()


def test_a_kubeconfig_that_is_not_yaml_is_named_with_its_line(
    tmp_path: Path, stacks, store: ObservationStore
) -> None:
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nclusters: [\n  - {name: a\n")
    source = source_for(tmp_path, stacks, store, {"KUBECONFIG": str(tmp_path / "kubeconfig")})
    settle(source, T0)

    message = store.registry_checks()["harbor.example.test"]["credentialsSecret"]["message"]
    assert message.startswith(f"{tmp_path / 'kubeconfig'}:")
    assert "not valid YAML" in message
    source.close()


@pytest.mark.parametrize(
    ("namespace", "name", "said"),
    [("locked", "harbor-push", "HTTP 403 (Forbidden)"), ("default", "missing", "HTTP 404 (NotFound)")],
)
def test_a_secret_the_daemon_cannot_get_is_unknown_and_says_why(
    tmp_path: Path, apiserver: FakeApiserver, store: ObservationStore, namespace: str, name: str, said: str
) -> None:
    documents = kapsa()
    documents[1]["spec"] |= {"credentialsSecret": name, "credentialsNamespace": namespace}
    stacks = {"apps": load("apps", documents)}
    environ = {"KUBECONFIG": str(apiserver.kubeconfig(tmp_path / "kubeconfig"))}
    source = source_for(tmp_path, stacks, store, environ)

    assert settle(source, T0) == []

    status = store.registry_checks()["harbor.example.test"]["credentialsSecret"]
    assert status["secret"] == f"{namespace}/{name}"
    assert status["resourceVersion"] is None
    assert said in status["message"]
    source.close()
