"""Stack Leases on a real kube-apiserver: its resourceVersion fencing is what keeps two replicas
from ever holding one stack, so it is checked here and not only against the loopback fake."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from automation.daemon.leases import LeaseSettings, StackLeases
from automation.kube import ConflictError, KubernetesClient, cluster_access
from tests.engine.conftest import Sandbox

pytestmark = pytest.mark.engine

STACKS = ["alpha", "beta", "gamma", "delta"]
NAMESPACE = "driftless-leases"


def replica(sandbox: Sandbox, identity: str, stacks: list[str]) -> StackLeases:
    client = KubernetesClient(cluster_access({}, environ={"KUBECONFIG": sandbox.env["KUBECONFIG"]}))
    settings = LeaseSettings(NAMESPACE, duration_seconds=6, renew_seconds=2)
    return StackLeases(client, settings, identity, stacks=lambda: stacks, busy=set)


def holders(sandbox: Sandbox) -> dict[str, str]:
    found = sandbox.kube.session.get(
        f"{sandbox.kube.server}/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases", timeout=30
    ).json()["items"]
    return {
        lease["metadata"]["name"].removeprefix("driftless-stack-"): lease["spec"]["holderIdentity"]
        for lease in found
        if lease["metadata"]["name"].startswith("driftless-stack-")
    }


def test_replicas_share_stacks_and_take_over_a_silent_ones_on_a_real_apiserver(sandbox: Sandbox) -> None:
    if sandbox.kube.get("Namespace", NAMESPACE) is None:
        sandbox.kube.create(
            "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        )
    a, b = replica(sandbox, "a", STACKS), replica(sandbox, "b", STACKS)

    a.sync(datetime.now(UTC))
    assert holders(sandbox) == dict.fromkeys(STACKS, "a")
    b.sync(datetime.now(UTC))  # joins: everything is held and fresh
    a.sync(datetime.now(UTC))  # gives back above its share of 2
    b.sync(datetime.now(UTC))
    assert (len(a.owned()), len(b.owned())) == (2, 2)
    assert a.owned().isdisjoint(b.owned())
    assert holders(sandbox) == {**dict.fromkeys(a.owned(), "a"), **dict.fromkeys(b.owned(), "b")}

    # a falls silent; once its Leases expire b takes them, each with a new transition recorded
    time.sleep(7)
    b.sync(datetime.now(UTC))
    assert b.owned() == set(STACKS)
    assert not any(a.owns(stack, datetime.now(UTC)) for stack in STACKS)
    assert holders(sandbox) == dict.fromkeys(STACKS, "b")

    b.release_all()
    assert holders(sandbox) == {}


def test_a_write_with_an_old_resource_version_is_refused_by_the_real_apiserver(sandbox: Sandbox) -> None:
    """What two replicas racing for one expired Lease amount to: both read it, both write it back
    naming themselves; the apiserver lets the first write through and refuses the second."""
    if sandbox.kube.get("Namespace", NAMESPACE) is None:
        sandbox.kube.create(
            "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        )
    owner = replica(sandbox, "first", ["race"])
    owner.sync(datetime.now(UTC))
    client = KubernetesClient(cluster_access({}, environ={"KUBECONFIG": sandbox.env["KUBECONFIG"]}))
    path = f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/driftless-stack-race"
    read_by_both = client.get(path)

    for identity, expected in (("second", None), ("third", ConflictError)):
        claim = {**read_by_both, "spec": {**read_by_both["spec"], "holderIdentity": identity}}
        if expected is None:
            client.replace(path, claim)
        else:
            with pytest.raises(expected):
                client.replace(path, claim)
    assert client.get(path)["spec"]["holderIdentity"] == "second"

    owner.sync(datetime.now(UTC))  # the old owner sees it lost the Lease, and no longer acts on it
    assert not owner.owns("race", datetime.now(UTC))
    client.delete(path)
