"""Replicas share the stacks through Leases: fair shares, take-over of a dead replica's stacks,
rebalancing that spares running operations, and no operation without the Lease."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.cli import main
from automation.daemon.clock import ManualClock
from automation.daemon.leases import LeaseSettings, StackLeases
from automation.daemon.logs import EventLog
from automation.kube import KubernetesClient, KubernetesError, cluster_access
from tests.automation.daemon.helpers import FakeDriver, SimulatedCrash, eventually, note, write_stack
from tests.automation.fake_apiserver import FakeApiserver

STACKS = ["alpha", "beta", "gamma", "delta"]
SETTINGS = LeaseSettings("driftless", duration_seconds=30, renew_seconds=10)


TOKEN = "fake-apiserver-token"


@pytest.fixture
def apiserver() -> Iterator[FakeApiserver]:
    server = FakeApiserver(TOKEN)
    yield server
    server.close()


@pytest.fixture
def kubeconfig(apiserver: FakeApiserver, tmp_path: Path) -> Path:
    return apiserver.kubeconfig(tmp_path / "kubeconfig")


class _Recorder(logging.Handler):
    """Keeps each logged event with its fields, as the structured log would print them."""

    def __init__(self, events: list[tuple[str, dict]]):
        super().__init__()
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append((record.getMessage(), dict(getattr(record, "fields", {}))))


class Replica:
    """One daemon's Lease keeper, with the stacks it sees and the ones it is running."""

    def __init__(self, identity: str, kubeconfig: Path, clock: ManualClock, stacks: list[str]):
        self.stacks = stacks
        self.busy: set[str] = set()
        self.statuses: dict[str, dict] = {}  # what it publishes of the stacks it owns
        self.events: list[tuple[str, dict]] = []
        logger = logging.getLogger(f"driftless.test.leases.{identity}.{id(self)}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        logger.addHandler(_Recorder(self.events))
        log = EventLog(logger)
        self.leases = StackLeases(
            KubernetesClient(cluster_access({}, environ={"KUBECONFIG": str(kubeconfig)})),
            SETTINGS,
            identity,
            stacks=lambda: self.stacks,
            busy=lambda: self.busy,
            clock=clock,
            log=log,
            describe=self.statuses.get,
        )

    def sync(self, clock: ManualClock) -> set[str]:
        self.leases.sync(clock.now())
        return self.leases.owned()


def stack_holders(apiserver: FakeApiserver) -> dict[str, str | None]:
    return {
        name.removeprefix("driftless-stack-"): holder
        for name, holder in apiserver.holders().items()
        if name.startswith("driftless-stack-")
    }


def test_a_lone_replica_owns_every_stack_and_says_so_in_leases(apiserver, kubeconfig):
    clock = ManualClock()
    a = Replica("a", kubeconfig, clock, STACKS)
    assert a.sync(clock) == set(STACKS)
    assert stack_holders(apiserver) == dict.fromkeys(STACKS, "a")
    assert apiserver.holders()["driftless-member-a"] == "a"
    lease = apiserver.lease("driftless-stack-alpha")
    assert lease["spec"]["leaseDurationSeconds"] == 30
    assert lease["spec"]["renewTime"].endswith("Z")
    assert all(a.leases.owns(s, clock.now()) for s in STACKS)


def test_each_replica_reads_the_status_the_owner_of_every_other_stack_published(apiserver, kubeconfig):
    clock = ManualClock()
    a, b = Replica("a", kubeconfig, clock, STACKS), Replica("b", kubeconfig, clock, STACKS)
    for stack in STACKS:
        a.statuses[stack] = {"name": stack, "phase": "Ready", "by": "a"}
        b.statuses[stack] = {"name": stack, "phase": "Failed", "by": "b"}
    a.sync(clock)
    b.sync(clock)
    clock.advance(10)
    a.sync(clock)
    clock.advance(1)
    b.sync(clock)
    a.sync(clock)  # reads what b wrote when it took its share

    published_to_a, published_to_b = a.leases.published(), b.leases.published()
    assert set(published_to_a) == b.leases.owned()
    assert set(published_to_b) == a.leases.owned()
    assert {status["by"] for status in published_to_a.values()} == {"b"}
    assert {status["phase"] for status in published_to_b.values()} == {"Ready"}


def test_a_status_too_large_for_an_annotation_is_published_as_its_summary(apiserver, kubeconfig):
    clock = ManualClock()
    a, b = Replica("a", kubeconfig, clock, ["alpha"]), Replica("b", kubeconfig, clock, ["alpha"])
    a.statuses["alpha"] = {"name": "alpha", "phase": "Ready", "history": ["x" * 1000] * 100}
    a.sync(clock)
    b.sync(clock)

    assert b.leases.published() == {"alpha": {"name": "alpha", "phase": "Ready"}}


def test_a_joining_replica_gets_a_fair_share_and_only_that_many_stacks_move(apiserver, kubeconfig):
    clock = ManualClock()
    a, b = Replica("a", kubeconfig, clock, STACKS), Replica("b", kubeconfig, clock, STACKS)
    a.sync(clock)
    assert b.sync(clock) == set()  # all held and fresh: nothing to take yet

    clock.advance(10)
    kept = a.sync(clock)  # a sees two live replicas: gives back what is above 2
    clock.advance(1)
    taken = b.sync(clock)

    assert (len(kept), len(taken)) == (2, 2)
    assert kept.isdisjoint(taken)
    assert stack_holders(apiserver) == {**dict.fromkeys(kept, "a"), **dict.fromkeys(taken, "b")}
    released = [fields["stack"] for event, fields in a.events if event == "leases.released"]
    assert sorted(released) == sorted(taken)


def test_a_stack_with_an_operation_running_is_never_given_away(apiserver, kubeconfig):
    clock = ManualClock()
    a, b = Replica("a", kubeconfig, clock, STACKS), Replica("b", kubeconfig, clock, STACKS)
    a.sync(clock)
    b.sync(clock)
    a.busy = set(STACKS)  # every stack has an up running

    clock.advance(10)
    assert a.sync(clock) == set(STACKS)
    assert b.sync(clock) == set()


def test_a_dead_replicas_stacks_move_to_the_survivor_once_its_leases_expire(apiserver, kubeconfig):
    clock = ManualClock()
    a, b = Replica("a", kubeconfig, clock, STACKS), Replica("b", kubeconfig, clock, STACKS)
    a.sync(clock)
    b.sync(clock)
    clock.advance(10)
    a.sync(clock)
    b.sync(clock)
    of_a = set(stack for stack, holder in stack_holders(apiserver).items() if holder == "a")

    # a dies: it renews nothing from now on
    clock.advance(20)
    assert b.sync(clock) & of_a == set()  # not expired yet
    clock.advance(15)
    assert b.sync(clock) == set(STACKS)
    assert not any(a.leases.owns(s, clock.now()) for s in STACKS)  # a would not act on them either
    for stack in of_a:
        lease = apiserver.lease(f"driftless-stack-{stack}")
        assert lease["spec"]["holderIdentity"] == "b"
        assert lease["spec"]["leaseTransitions"] == 1
    taken_over = [f for e, f in b.events if e == "leases.acquired" and f["previous_owner"] == "a"]
    assert sorted(f["stack"] for f in taken_over) == sorted(of_a)
    assert {f["reason"] for f in taken_over} == {"expired"}


def test_of_two_replicas_racing_for_a_lease_exactly_one_wins(apiserver, kubeconfig):
    clock = ManualClock()
    a, b = Replica("a", kubeconfig, clock, ["alpha"]), Replica("b", kubeconfig, clock, ["alpha"])
    a.sync(clock)
    clock.advance(40)  # a's Lease expired; both see it free at once
    lease = apiserver.lease("driftless-stack-alpha")
    a.leases.sync(clock.now())
    b.leases.sync(clock.now())
    winners = [r for r in (a, b) if r.leases.owns("alpha", clock.now())]
    assert len(winners) == 1
    assert (
        apiserver.lease("driftless-stack-alpha")["metadata"]["resourceVersion"]
        != lease["metadata"]["resourceVersion"]
    )


def test_a_replica_that_cannot_renew_stops_counting_the_stacks_as_its_own(apiserver, kubeconfig):
    clock = ManualClock()
    a = Replica("a", kubeconfig, clock, STACKS)
    a.sync(clock)
    apiserver.down = True
    clock.advance(10)
    assert a.leases.poll(clock.now()) == []  # the failure is logged, not raised
    assert all(a.leases.owns(s, clock.now()) for s in STACKS)  # renewed 10 s ago: still safe
    assert a.leases.trouble(clock.now()) == []
    clock.advance(25)
    assert not any(a.leases.owns(s, clock.now()) for s in STACKS)

    (change,) = a.leases.poll(clock.now())  # a cycle follows: every stack is now elsewhere
    assert change.stacks == frozenset(STACKS)
    assert [f["stacks"] for e, f in a.events if e == "leases.expired"] == [sorted(STACKS)]
    (reason,) = a.leases.trouble(clock.now())
    assert reason.startswith("leases: cannot renew since 2026-11-21T12:00:00Z (")
    assert "HTTP 503" in reason
    assert reason.endswith("they have expired, no operation starts")


def test_stopping_gives_every_lease_back(apiserver, kubeconfig):
    clock = ManualClock()
    a = Replica("a", kubeconfig, clock, STACKS)
    a.sync(clock)
    a.leases.release_all()
    assert apiserver.holders() == {}
    assert a.leases.owned() == set()


def test_a_wrong_token_is_a_clear_error_without_the_token(apiserver, tmp_path):
    path = apiserver.kubeconfig(tmp_path / "kubeconfig", token="s3cret-wrong-token")
    client = KubernetesClient(cluster_access({}, environ={"KUBECONFIG": str(path)}))
    with pytest.raises(KubernetesError) as caught:
        client.get("/apis/coordination.k8s.io/v1/namespaces/driftless/leases")
    assert "HTTP 401" in str(caught.value)
    assert "s3cret" not in str(caught.value)


# --- the reconciler acts only on what it owns -------------------------------------------------------


def test_the_reconciler_never_operates_on_a_stack_it_does_not_own(
    apiserver, kubeconfig, make_reconciler, driver: FakeDriver, layout, clock
):
    for stack in STACKS:
        write_stack(layout.stacks_dir / f"{stack}.yaml", note(stack))
    other = Replica("other", kubeconfig, clock, ["alpha", "beta"])
    other.sync(clock)  # another replica holds alpha and beta
    mine = Replica("me", kubeconfig, clock, STACKS)
    mine.sync(clock)

    reconciler = make_reconciler(driver, ownership=mine.leases)
    outcomes = {o.stack: o for o in reconciler.cycle()}

    assert sorted(driver.stacks_operated()) == ["delta", "gamma"]
    assert (outcomes["alpha"].state, outcomes["alpha"].message) == ("elsewhere", "owned by other")
    document = {s["name"]: s for s in reconciler.status_document()["stacks"]}
    assert document["gamma"]["owner"] == "me"


def test_sharding_refuses_a_local_pulumi_backend(tmp_path, kubeconfig, capsys, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    (tmp_path / "stacks").mkdir()
    code = main(
        [
            "run",
            "--shard-by-lease",
            "--stacks-dir",
            str(tmp_path / "stacks"),
            "--state-dir",
            str(tmp_path / "s"),
        ]
    )
    assert code == 2
    assert "replicas need one backend they all reach" in capsys.readouterr().err


def test_a_stack_taken_from_a_replica_that_crashed_mid_up_is_recovered_by_its_new_owner(
    apiserver, kubeconfig, make_reconciler, driver: FakeDriver, layout, clock
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    driver.crash_next_up.add("alpha")
    with pytest.raises(SimulatedCrash):
        make_reconciler(driver).cycle()  # the replica died mid-up: its state has a pending operation

    waiting = Replica("next", kubeconfig, clock, [])  # not owning alpha yet
    waiting.sync(clock)
    restarted = make_reconciler(driver, ownership=waiting.leases)
    assert restarted.recover() == []  # nothing at start: the stacks are not ours yet
    assert [o.state for o in restarted.cycle()] == ["elsewhere"]
    assert driver.recovered == []
    assert driver.pending == {"alpha"}

    waiting.stacks = ["alpha"]
    waiting.sync(clock)
    outcomes = {o.stack: o.state for o in restarted.cycle()}

    assert driver.recovered == ["alpha"]
    assert driver.pending == set()
    assert outcomes == {"alpha": "reconciled"}
    assert restarted.status("alpha").recovery[0].trigger == "Startup"


def test_a_stack_taken_back_while_this_replicas_own_up_still_runs_is_not_recovered_as_a_crash(
    apiserver, kubeconfig, make_reconciler, driver: FakeDriver, layout, clock
):
    write_stack(layout.stacks_dir / "alpha.yaml", note("a"))
    mine, other = Replica("me", kubeconfig, clock, ["alpha"]), Replica("other", kubeconfig, clock, ["alpha"])
    mine.sync(clock)
    driver.gate = threading.Event()  # the up runs until the gate opens
    reconciler = make_reconciler(driver, ownership=mine.leases)
    reconciler.cycle(wait=False)
    eventually(lambda: driver.active == 1, 10)

    clock.advance(31)  # a renewal came too late: the other replica takes the expired Lease ...
    other.sync(clock)
    mine.sync(clock)
    assert [o.state for o in reconciler.cycle(wait=False)] == ["elsewhere"]
    clock.advance(31)  # ... and, gone quiet itself, loses it to this one again
    mine.sync(clock)
    reconciler.cycle(wait=False)

    assert driver.recovered == []  # the in-flight record and the lock are this replica's own up
    driver.gate.set()
    eventually(lambda: reconciler.busy() == [], 10)
    reconciler.cycle()
    status = reconciler.status("alpha")
    assert status is not None
    assert (status.phase, status.recovery) == ("Ready", [])


def test_a_token_file_is_read_again_for_every_request(apiserver, tmp_path):
    """A pod's service-account token is rotated on disk: a long-running daemon must follow it."""
    token = tmp_path / "token"
    token.write_text("the-token-before-rotation\n")
    path = apiserver.kubeconfig(tmp_path / "kubeconfig")
    text = path.read_text().replace(f"token: {TOKEN}", f"tokenFile: {token}")
    assert "tokenFile" in text
    path.write_text(text)
    client = KubernetesClient(cluster_access({}, environ={"KUBECONFIG": str(path)}))
    leases = "/apis/coordination.k8s.io/v1/namespaces/driftless/leases"

    with pytest.raises(KubernetesError):
        client.get(leases)  # the apiserver does not know that token
    token.write_text(f"{TOKEN}\n")  # the kubelet writes the rotated one
    assert client.get(leases)["kind"] == "LeaseList"
