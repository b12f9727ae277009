"""Two daemons share the stacks through Leases; when one is killed, the other takes its stacks.

Real ``run --dry-run --shard-by-lease`` processes against a loopback apiserver that speaks the
Lease API at the wire; each replica has its own state folder, as each pod would.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.automation.daemon.helpers import eventually
from tests.automation.fake_apiserver import FakeApiserver
from tests.automation.fleet import Fleet, overlapping_operations

STACKS = ("alpha", "beta", "gamma", "delta")


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    apiserver = FakeApiserver("fake-apiserver-token")
    fleet = Fleet(tmp_path, apiserver.kubeconfig(tmp_path / "kubeconfig"))
    fleet.write_stacks(STACKS)
    try:
        yield fleet
    finally:
        fleet.stop()
        apiserver.close()


def test_two_replicas_split_the_stacks_and_a_survivor_takes_over_a_killed_ones(fleet):
    a = fleet.start("a")
    eventually(lambda: set(a.applied()) == set(STACKS), 60)
    b = fleet.start("b")
    eventually(lambda: len(a.owns()) == 2 and len(b.owns()) == 2 and a.owns().isdisjoint(b.owns()), 90)

    a.process.send_signal(signal.SIGKILL)  # no release: its Leases must expire
    a.process.wait()
    eventually(lambda: b.applied() == dict.fromkeys(STACKS, "b"), 90)
    log = b.log.read_text()
    assert "leases.acquired" in log
    assert "previous_owner=a" in log
    assert overlapping_operations([a, b]) == []


def test_a_stopped_replica_gives_its_stacks_back_at_once(fleet):
    a = fleet.start("a")
    eventually(lambda: set(a.applied()) == set(STACKS), 60)
    b = fleet.start("b")
    eventually(lambda: len(b.owns()) == 2, 90)

    a.process.send_signal(signal.SIGTERM)
    assert a.process.wait(timeout=30) == 0
    assert "leases.released" in a.log.read_text()
    eventually(lambda: b.applied() == dict.fromkeys(STACKS, "b"), 30)
    assert {s["owner"] for s in b.stacks()} == {"b"}
