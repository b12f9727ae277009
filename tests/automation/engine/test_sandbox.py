"""The sandbox for real: etcd, kube-apiserver, kube-controller-manager and OpenBao started by
``python -m automation sandbox up`` (needs ``python -m automation engine build`` and
``pip install -r requirements-engine.txt``; run with ``pytest -m engine``).

One sandbox serves the module, in a temporary state directory on free ports, so a developer's own
sandbox is never touched. The last two tests run `up` again and `down`, so they stay last.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from automation.engine.sandbox import (
    APISERVER,
    COMPONENTS,
    OPENBAO,
    Sandbox,
    load_crds,
    sandbox_environment,
)

pytestmark = pytest.mark.engine

PROJECT = Path(__file__).resolve().parents[3]
CRDS = Path(os.environ.get("DRIFTLESS_CRDS") or PROJECT.parent / "shared" / "crds").resolve()
WAIT = 60.0


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "automation", "sandbox", *args],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def free_ports() -> dict[str, int]:
    """Five ports the kernel hands out, the last with its successor free too (OpenBao's cluster port)."""
    holders: list[socket.socket] = []
    try:
        while True:
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            holders.append(probe)
            port = probe.getsockname()[1]
            if len(holders) >= 5 and port < 65535:
                with socket.socket() as successor:
                    try:
                        successor.bind(("127.0.0.1", port + 1))
                    except OSError:
                        continue
                break
        ports = [h.getsockname()[1] for h in holders]
        return {"etcd": ports[0], "etcd_peer": ports[1], "apiserver": ports[2], "controller_manager": ports[3],
                "openbao": ports[-1]}  # fmt: skip
    finally:
        for holder in holders:
            holder.close()


@dataclass
class Running:
    state: Path
    ports: dict[str, int]
    up: subprocess.CompletedProcess[str]
    sandbox: Sandbox
    kube: requests.Session

    @property
    def api(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    if not CRDS.is_dir():
        pytest.fail(f"CRDs not found at {CRDS}: set DRIFTLESS_CRDS to the folder of CRD manifests")
    state = tmp_path_factory.mktemp("sandbox-state")
    ports = free_ports()
    flags = [f"--{name.replace('_', '-')}-port={port}" for name, port in ports.items()]
    up = cli("up", "--state-dir", str(state), "--crds", str(CRDS), "--timeout", "240", *flags)
    try:
        assert up.returncode == 0, f"sandbox up failed:\n{up.stderr}"
        sandbox = Sandbox(state)
        yield Running(state, ports, up, sandbox, sandbox.kube(sandbox.require_config()))
    finally:
        down = cli("down", "--state-dir", str(state), "--purge")
        assert down.returncode == 0, down.stderr


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {WAIT:.0f} s")
        time.sleep(0.25)


def status_pids(state: Path) -> dict[str, int]:
    return {row.name: row.pid for row in Sandbox(state).status() if row.pid is not None}


def processes_mentioning(needles: list[str]) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(needle in command for needle in needles):
            found.append(f"{entry.name}: {command}")
    return found


def test_up_starts_every_process_healthy_with_every_crd_established(running):
    assert running.kube.get(f"{running.api}/readyz", timeout=10).status_code == 200
    assert running.kube.get(f"{running.api}/version", timeout=10).json()["gitVersion"] == "v1.37.2"
    for crd in load_crds(CRDS):
        found = running.kube.get(
            f"{running.api}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd.name}"
        )
        conditions = {c["type"]: c["status"] for c in found.json()["status"]["conditions"]}
        assert conditions["Established"] == "True", crd.name
    kafkas = running.kube.get(f"{running.api}/apis/kafka.strimzi.io/v1/namespaces/default/kafkas", timeout=10)
    assert kafkas.status_code == 200
    assert kafkas.json()["items"] == []

    status = cli("status", "--state-dir", str(running.state))
    assert status.returncode == 0, status.stdout
    assert [line.split()[0] for line in status.stdout.splitlines()] == list(COMPONENTS)
    assert all(line.endswith("healthy") for line in status.stdout.splitlines())


def test_a_deleted_namespace_disappears_after_getting_its_default_service_account(running):
    name = f"ns-{uuid.uuid4().hex[:8]}"
    namespaces = f"{running.api}/api/v1/namespaces"
    assert running.kube.post(namespaces, json={"metadata": {"name": name}}).status_code == 201
    eventually(
        lambda: running.kube.get(f"{namespaces}/{name}/serviceaccounts/default").status_code == 200,
        "the serviceaccount controller did not create the namespace's default ServiceAccount",
    )
    config_map = {"metadata": {"name": "inside"}, "data": {"k": "v"}}
    assert running.kube.post(f"{namespaces}/{name}/configmaps", json=config_map).status_code == 201

    assert running.kube.delete(f"{namespaces}/{name}").status_code == 200

    eventually(
        lambda: running.kube.get(f"{namespaces}/{name}").status_code == 404,
        "the namespace controller did not finish deleting the namespace",
    )


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
            },
        },
    }


def test_a_deployment_deleted_with_foreground_propagation_disappears(running):
    name = f"deploy-{uuid.uuid4().hex[:8]}"
    deployments = f"{running.api}/apis/apps/v1/namespaces/default/deployments"
    assert running.kube.post(deployments, json=deployment(name)).status_code == 201

    deleted = running.kube.delete(
        f"{deployments}/{name}",
        json={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"},
    )
    assert deleted.status_code in (200, 202)
    assert "foregroundDeletion" in deleted.json()["metadata"].get("finalizers", [])

    eventually(
        lambda: running.kube.get(f"{deployments}/{name}").status_code == 404,
        "the garbage collector did not remove the foregroundDeletion finalizer",
    )


def test_env_points_a_shell_at_the_cluster_pulumi_and_openbao(running):
    printed = cli("env", "--state-dir", str(running.state))
    assert printed.returncode == 0, printed.stderr
    shell = subprocess.run(
        ["bash", "-c", 'eval "$1"; printf "%s\\n" "$KUBECONFIG" "$VAULT_ADDR" "$VAULT_TOKEN" "$PULUMI_BACKEND_URL"',
         "-", printed.stdout],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    kubeconfig_path, vault_addr, vault_token, backend = shell.stdout.splitlines()
    assert {kubeconfig_path, vault_addr, vault_token, backend} <= set(
        sandbox_environment(running.state).values()
    )

    kubeconfig = yaml.safe_load(Path(kubeconfig_path).read_text())
    assert kubeconfig["clusters"][0]["cluster"]["server"] == running.api
    session = requests.Session()
    session.trust_env = False
    ca = running.state / "ca.pem"
    ca.write_bytes(base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]))
    answer = session.get(
        f"{running.api}/api/v1/namespaces/default",
        headers={"Authorization": f"Bearer {kubeconfig['users'][0]['user']['token']}"},
        verify=str(ca),
        timeout=10,
    )
    assert answer.status_code == 200

    assert Path(backend.removeprefix("file://")).is_dir()
    assert session.get(f"{vault_addr}/v1/sys/health", timeout=10).status_code == 200
    headers = {"X-Vault-Token": vault_token}
    written = session.post(f"{vault_addr}/v1/secret/data/driftless/db", json={"data": {"password": "s3cret"}},
                           headers=headers, timeout=10)  # fmt: skip
    assert written.status_code == 200, written.text
    read = session.get(f"{vault_addr}/v1/secret/data/driftless/db", headers=headers, timeout=10).json()
    assert read["data"]["data"] == {"password": "s3cret"}
    assert read["data"]["metadata"]["version"] == 1
    assert session.get(f"{vault_addr}/v1/secret/data/driftless/db", timeout=10).status_code == 403


def test_up_again_changes_nothing(running):
    before = status_pids(running.state)
    kafkas_crd = (
        f"{running.api}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/kafkas.kafka.strimzi.io"
    )
    version = running.kube.get(kafkas_crd).json()["metadata"]["resourceVersion"]
    flags = [f"--{name.replace('_', '-')}-port={port}" for name, port in running.ports.items()]

    again = cli("up", "--state-dir", str(running.state), "--crds", str(CRDS), *flags)

    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "sandbox already up: nothing to do"
    assert all(line.split()[1] == "running" for line in again.stdout.splitlines()[: len(COMPONENTS)])
    assert status_pids(running.state) == before
    assert running.kube.get(kafkas_crd).json()["metadata"]["resourceVersion"] == version


def test_down_stops_every_process_and_up_brings_the_same_cluster_back(running):
    namespaces = f"{running.api}/api/v1/namespaces"
    kept = {"metadata": {"name": "kept"}, "data": {"survives": "down"}}
    assert running.kube.post(f"{namespaces}/default/configmaps", json=kept).status_code == 201
    pids = status_pids(running.state)
    assert set(pids) == set(COMPONENTS)
    addresses = [f"127.0.0.1:{port}" for port in running.ports.values()]

    down = cli("down", "--state-dir", str(running.state))

    assert down.returncode == 0, down.stderr
    assert down.stdout.splitlines() == [
        f"{name}: stopped (pid {pids[name]})" for name in reversed(COMPONENTS)
    ]
    assert processes_mentioning([str(running.state), *addresses]) == []
    status = cli("status", "--state-dir", str(running.state))
    assert status.returncode == 1
    assert all(line.endswith("stopped") for line in status.stdout.splitlines())

    flags = [f"--{name.replace('_', '-')}-port={port}" for name, port in running.ports.items()]
    again = cli("up", "--state-dir", str(running.state), *flags)
    assert again.returncode == 0, again.stderr
    assert running.kube.get(f"{namespaces}/default/configmaps/kept").json()["data"] == {"survives": "down"}
    assert json.loads((running.state / "sandbox" / "sandbox.json").read_text())["components"][-1] == OPENBAO
    assert APISERVER in status_pids(running.state)
