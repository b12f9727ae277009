"""Replicas sharing stacks through Leases on a real kube-apiserver: three processes and 30 stacks,
one killed, one added. Each replica runs ``run --dry-run --shard-by-lease``: the stacks reconcile
offline, the Leases are the sandbox apiserver's."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.automation.daemon.helpers import eventually, get
from tests.automation.fleet import Fleet, Replica, overlapping_operations
from tests.engine.conftest import Sandbox
from tests.engine.relay import Relay

pytestmark = pytest.mark.engine

STACKS = [f"stack-{n:02d}" for n in range(30)]
NAMESPACE = "driftless-fleet"


@pytest.fixture
def fleet(sandbox: Sandbox, tmp_path: Path) -> Iterator[Fleet]:
    if sandbox.kube.get("Namespace", NAMESPACE) is None:
        sandbox.kube.create(
            "Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        )
    fleet = Fleet(tmp_path, Path(sandbox.env["KUBECONFIG"]), namespace=NAMESPACE)
    fleet.write_stacks(STACKS)
    try:
        yield fleet
    finally:
        fleet.stop()


def lease_holders(sandbox: Sandbox) -> dict[str, str]:
    items = sandbox.kube.session.get(
        f"{sandbox.kube.server}/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases", timeout=30
    ).json()["items"]
    return {
        lease["metadata"]["name"].removeprefix("driftless-stack-"): lease["spec"].get("holderIdentity")
        for lease in items
        if lease["metadata"]["name"].startswith("driftless-stack-")
    }


def fleet_view(replica: Replica) -> dict[str, str | None]:
    return {stack["name"]: stack.get("owner") for stack in replica.stacks() if stack["phase"] == "Ready"}


def fair(replicas: list[Replica]) -> bool:
    """Every stack applied by exactly one live replica, the shares differing by at most one."""
    shares = [replica.owns() for replica in replicas]
    owned = [stack for share in shares for stack in share]
    sizes = [len(share) for share in shares]
    return sorted(owned) == STACKS and max(sizes) - min(sizes) <= 1


def test_three_replicas_share_thirty_stacks_survive_a_kill_and_make_room_for_a_fourth(
    sandbox: Sandbox, fleet: Fleet
) -> None:
    replicas = [fleet.start(name) for name in ("r1", "r2", "r3")]
    eventually(lambda: fair(replicas), 300)
    assert set(lease_holders(sandbox).values()) == {"r1", "r2", "r3"}
    # every replica's /stacks shows the whole fleet, each stack with the owner its Lease names
    eventually(lambda: all(fleet_view(replica) == lease_holders(sandbox) for replica in replicas), 60)

    killed, survivors = replicas[0], replicas[1:]
    killed.process.send_signal(signal.SIGKILL)
    killed.process.wait()
    # re-owned within the Lease duration and a renewal, plus the survivors' cycle
    bound = fleet.duration_seconds + fleet.renew_seconds
    eventually(lambda: "r1" not in lease_holders(sandbox).values(), bound + 10)
    eventually(lambda: fair(survivors), 300)

    fourth = fleet.start("r4")
    everyone = [*survivors, fourth]
    eventually(lambda: fair(everyone), 300)
    assert overlapping_operations([killed, *everyone]) == []
    assert "previous_owner=r1" in "".join(r.log.read_text() for r in survivors)


def test_a_replica_cut_off_from_the_real_apiserver_stops_acting_once_its_leases_expire(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    server = urlsplit(sandbox.kube.server)
    relay = Relay(server.hostname or "127.0.0.1", server.port or 443)
    kubeconfig = relay.kubeconfig(Path(sandbox.env["KUBECONFIG"]), tmp_path / "relayed-kubeconfig")
    fleet = Fleet(tmp_path / "fleet", kubeconfig, namespace=NAMESPACE)
    stacks = [f"isolated-{n}" for n in range(3)]
    fleet.write_stacks(stacks)
    try:
        replica = fleet.start("cut-off")
        eventually(lambda: replica.owns() == set(stacks), 120)
        assert get(f"http://127.0.0.1:{replica.port}/readyz")[0] == 200

        relay.stop_answering()
        eventually(lambda: get(f"http://127.0.0.1:{replica.port}/readyz")[0] == 503, 90)
        assert (
            "they have expired, no operation starts"
            in get(f"http://127.0.0.1:{replica.port}/readyz")[1].decode()
        )
        eventually(lambda: "leases.expired" in replica.log.read_text(), 60)
        eventually(lambda: replica.owns() == set(), 30)
    finally:
        fleet.stop()
        relay.close()
