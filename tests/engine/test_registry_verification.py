"""Registry verification reads the Registry's credentials Secret from the real apiserver.

The daemon's registry source reads ``credentialsSecret`` through the sandbox's kube-apiserver with
the kubeconfig a daemon would have, and logs in to a loopback registry with exactly those
credentials: accepted, refused once the registry's password changes, accepted again once the
Secret in the cluster is rotated.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from automation.observation_store import ObservationStore
from automation.sources.registry import RegistrySource
from tests.automation.sources.fakes import FakeRegistry
from tests.automation.sources.stacks import kapsa, load
from tests.automation.sources.test_registry import PASSWORD, USER, docker_config, settle
from tests.engine.conftest import Sandbox

pytestmark = pytest.mark.engine

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
NAMESPACE = "kapsa-registry-engine"


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    server = FakeRegistry(USER, PASSWORD)
    yield server
    server.close()


def write_secret(sandbox: Sandbox, config: str) -> None:
    if sandbox.kube.get("Secret", "harbor-push", NAMESPACE) is not None:
        sandbox.kube.delete("Secret", "harbor-push", NAMESPACE)
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "harbor-push", "namespace": NAMESPACE},
        "stringData": {".dockerconfigjson": config},
    }
    sandbox.kube.create("Secret", body, NAMESPACE)


def test_the_registry_is_verified_with_the_secret_the_real_apiserver_holds(
    sandbox: Sandbox, registry: FakeRegistry, tmp_path: Path
) -> None:
    if sandbox.kube.get("Namespace", NAMESPACE) is None:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        sandbox.kube.create("Namespace", namespace)
    write_secret(sandbox, docker_config(registry.address))
    documents = kapsa("api", server=registry.address)
    documents[1]["spec"] |= {"insecure": True, "credentialsNamespace": NAMESPACE}  # plain HTTP, loopback
    store = ObservationStore(tmp_path / "observations.json")
    source = RegistrySource(
        {"shop": load("shop", documents)},
        store,
        project_dir=tmp_path,
        environ={"KUBECONFIG": sandbox.env["KUBECONFIG"]},
    )
    try:
        settle(source, T0)
        check = store.registry_checks()[registry.address]
        assert check["verified"] is True, check
        assert check["message"].startswith(f"credentials Secret {NAMESPACE}/harbor-push: ")

        registry.password = "rotated-by-the-registry-admin"
        settle(source, T0 + timedelta(seconds=300))
        assert store.registry_checks()[registry.address]["verified"] is False

        write_secret(sandbox, docker_config(registry.address, password=registry.password))
        settle(source, T0 + timedelta(seconds=600))
        assert store.registry_checks()[registry.address]["verified"] is True
    finally:
        source.close()
