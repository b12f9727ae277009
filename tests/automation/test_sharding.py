"""Two daemons share the stacks through Leases; when one is killed, the other takes its stacks.

Real ``run --dry-run --shard-by-lease`` processes against a loopback apiserver that speaks the
Lease API at the wire; each replica has its own state folder, as each pod would.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.automation.daemon.helpers import eventually, get
from tests.automation.fake_apiserver import FakeApiserver
from tests.automation.fleet import Fleet, overlapping_operations

STACKS = ("alpha", "beta", "gamma", "delta")


@pytest.fixture
def apiserver() -> Iterator[FakeApiserver]:
    server = FakeApiserver("fake-apiserver-token")
    yield server
    server.close()


@pytest.fixture
def fleet(tmp_path: Path, apiserver: FakeApiserver) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path, apiserver.kubeconfig(tmp_path / "kubeconfig"))
    fleet.write_stacks(STACKS)
    try:
        yield fleet
    finally:
        fleet.stop()


def test_two_replicas_split_the_stacks_and_a_survivor_takes_over_a_killed_ones(fleet):
    a = fleet.start("a")
    eventually(lambda: set(a.applied()) == set(STACKS), 60)
    b = fleet.start("b")
    eventually(lambda: len(a.owns()) == 2 and len(b.owns()) == 2 and a.owns().isdisjoint(b.owns()), 90)
    # every replica shows the whole fleet: the other's stacks as that one published them
    eventually(
        lambda: (
            a.applied() == b.applied() == {**dict.fromkeys(a.owns(), "a"), **dict.fromkeys(b.owns(), "b")}
        ),
        30,
    )

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


def test_a_replica_cut_off_from_the_apiserver_stops_acting_and_says_so(fleet, apiserver):
    a = fleet.start("a")
    eventually(lambda: set(a.applied()) == set(STACKS), 60)
    assert get(f"http://127.0.0.1:{a.port}/readyz")[0] == 200

    apiserver.down = True  # every call now answers 503
    eventually(lambda: get(f"http://127.0.0.1:{a.port}/readyz")[0] == 503, 60)
    body = get(f"http://127.0.0.1:{a.port}/readyz")[1].decode()
    assert "leases: cannot renew since " in body
    assert "they have expired, no operation starts" in body
    eventually(lambda: "leases.expired" in a.log.read_text(), 30)  # said at the next failed renewal
    assert "leases.sync_failed" in a.log.read_text()
    eventually(lambda: a.owns() == set(), 30)  # no stack is counted as its own any more
