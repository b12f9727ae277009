"""Stacks shared between daemon replicas through Kubernetes Leases (``run --shard-by-lease``).

Each replica has an identity (the pod name, or ``--identity``) and keeps, in one namespace:

- a member Lease ``driftless-member-<identity>``, renewed every ``renewSeconds``: the replicas
  whose member Lease is not expired are the live ones;
- one Lease per stack it owns, ``driftless-stack-<stack>``, holder = its identity.

At each renewal it renews what it holds, gives back stacks above its fair share (stacks ÷ live
replicas, rounded up) that have no operation running, and takes free or expired stack Leases up
to that share. Every write carries the ``resourceVersion`` it read, so of two replicas racing for
one Lease the apiserver lets exactly one win; the loser reads again next time. A replica that
dies stops renewing: its Leases expire after ``durationSeconds`` and the survivors take them. As
in controller-runtime's leader election, a Lease is only as good as its last renewal: a replica
that cannot renew in time stops counting the stack as its own, and Pulumi's stack lock remains
the second fence. The daemon never starts an operation on a stack it does not own
(:meth:`StackLeases.owns`). Every change of owner is logged.

The stack Leases double as the status store the replicas share: at every renewal the owner writes
the stack's status (``describe``, secret-free, without its history) into the Lease's
``driftless.dev/status`` annotation, and every replica reads the others' from the list it takes
anyway (:meth:`StackLeases.published`). So each replica's ``/stacks`` shows the whole fleet, at
most one renewal behind, with no store or write of its own.
"""

from __future__ import annotations

import json
import math
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from automation import times
from automation.daemon.clock import Clock, SystemClock
from automation.daemon.logs import EventLog
from automation.kube import ConflictError, KubernetesClient, KubernetesError
from automation.sources.base import Change

STACK_PREFIX = "driftless-stack-"
MEMBER_PREFIX = "driftless-member-"
MANAGED_BY = {"app.kubernetes.io/managed-by": "driftless"}
ROLE_LABEL = "driftless.dev/lease"  # "stack" | "member"
STATUS_ANNOTATION = "driftless.dev/status"
# Annotations of one object may total 256 KiB; a status past this is published as its summary.
PUBLISHED_STATUS_LIMIT = 64 * 1024
SUMMARY_FIELDS = ("name", "phase", "conditions", "lastOperation", "fingerprint", "nextCheckAt")

StatusOf = Callable[[str], "dict[str, Any] | None"]
"""The status this replica publishes for a stack it owns (secret-free), or None."""


@dataclass(frozen=True)
class LeaseSettings:
    namespace: str
    duration_seconds: int = 30
    renew_seconds: int = 10


@dataclass(frozen=True)
class _Lease:
    name: str
    holder: str | None
    renewed: datetime | None
    duration: int
    version: str
    transitions: int
    body: dict[str, Any]

    def expired(self, now: datetime) -> bool:
        return self.renewed is None or now >= self.renewed + timedelta(seconds=self.duration)


def micro_time(moment: datetime) -> str:
    """A Lease's MicroTime: RFC 3339 with exactly six fractional digits."""
    return times.utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class StackLeases:
    """One replica's share of the stacks, kept in Leases.

    Once started, it renews on a thread of its own; the daemon loop polls it like a source of change
    for the stacks it took or lost, and asks :meth:`owns` before every operation.
    """

    name = "leases"

    def __init__(
        self,
        client: KubernetesClient,
        settings: LeaseSettings,
        identity: str,
        *,
        stacks: Callable[[], Iterable[str]],
        busy: Callable[[], Iterable[str]],
        clock: Clock | None = None,
        log: EventLog | None = None,
        describe: StatusOf | None = None,
    ):
        self.client = client
        self.settings = settings
        self.identity = identity
        self._stacks = stacks
        self._busy = busy
        self._describe = describe
        self.clock = clock or SystemClock()
        self.log = log or EventLog()
        self._lock = threading.Lock()
        self._owned: dict[str, datetime] = {}  # stack -> when our Lease on it was last renewed
        self._owners: dict[str, str] = {}  # stack -> holder, as last read
        self._published: dict[str, dict[str, Any]] = {}  # stack -> status its (other) holder published
        self._next_sync: datetime | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._pending: list[Change] = []  # found by the renewing thread, not yet polled
        self._synced: datetime | None = None  # the last round that reached the apiserver
        self._error: str | None = None  # why the rounds since then failed
        self._path = f"/apis/coordination.k8s.io/v1/namespaces/{settings.namespace}/leases"

    # --- what the reconciler asks

    def owns(self, stack: str, now: datetime) -> bool:
        """Ours, and renewed recently enough that no other replica can have taken it."""
        with self._lock:
            renewed = self._owned.get(stack)
        return renewed is not None and now < renewed + timedelta(seconds=self.settings.duration_seconds)

    def owner(self, stack: str) -> str | None:
        with self._lock:
            return self.identity if stack in self._owned else self._owners.get(stack)

    def owned(self) -> set[str]:
        with self._lock:
            return set(self._owned)

    def published(self) -> dict[str, dict[str, Any]]:
        """Stack → the status its owner published, for the stacks other live replicas hold."""
        with self._lock:
            return {stack: dict(status) for stack, status in self._published.items()}

    # --- the Source protocol

    def poll(self, now: datetime) -> list[Change]:
        """What changed since the last poll: renewed here, or by the renewing thread once started."""
        if self._thread is not None:
            with self._lock:
                changes, self._pending = self._pending, []
            return changes
        if self._next_sync is not None and now < self._next_sync:
            return []
        return self.renew(now)

    def start(self, wake: Callable[[], None]) -> None:
        """Renew on a thread of its own, every ``renewSeconds``, whatever the daemon's loop is doing:
        a long cycle must not cost a replica its Leases. ``wake`` asks the loop for a cycle."""

        def renewing() -> None:
            while True:
                began = time.monotonic()
                try:
                    changes = self.renew(self.clock.now())
                except Exception as exc:  # noqa: BLE001 (a bug here must not end the renewals)
                    self.log.error("leases.renew_failed", error=f"{type(exc).__name__}: {exc}")
                    changes = []
                if changes:
                    with self._lock:
                        self._pending.extend(changes)
                    wake()
                # every renewSeconds from the start of one round to the next: a round of many writes
                # must not stretch the period, or a Lease's last renewal ages towards its expiry
                if self._stop.wait(max(0.0, self.settings.renew_seconds - (time.monotonic() - began))):
                    return

        self._thread = threading.Thread(target=renewing, name="driftless-leases", daemon=True)
        self._thread.start()

    def renew(self, now: datetime) -> list[Change]:
        """One round (:meth:`sync`), its failure logged; the stacks whose ownership changed."""
        before = self.owned()
        try:
            self.sync(now)
        except KubernetesError as exc:
            self._error = str(exc)
            self.log.error("leases.sync_failed", error=str(exc), identity=self.identity)
            expired = sorted(stack for stack in before if not self.owns(stack, now))
            if expired:  # said once: they are no longer counted as ours from here on
                self.log.error("leases.expired", identity=self.identity, stacks=expired)
                self._forget_all(expired)
        finally:
            self._next_sync = now + timedelta(seconds=self.settings.renew_seconds)
        changed = before ^ self.owned()
        return [Change("leases", frozenset(changed), "stack ownership changed")] if changed else []

    def trouble(self, now: datetime) -> list[str]:
        """Why this replica cannot do its share (for ``/readyz``): Leases it could not renew in time."""
        if self._error is None:
            return []
        last = self._synced
        if last is not None and now < last + timedelta(seconds=self.settings.duration_seconds):
            return []  # the Leases renewed last still hold
        since = f"since {times.iso(last)}" if last else "since the start"
        return [f"leases: cannot renew {since} ({self._error}); they have expired, no operation starts"]

    def next_due(self, now: datetime) -> datetime | None:
        return self._next_sync or now

    def close(self) -> None:
        """Nothing: the daemon closes its sources before its operations finish, and a stack is given
        back only once no operation of ours runs on it (:meth:`release_all`)."""

    def release_all(self) -> None:
        """Give every stack back and leave the fleet: the daemon's last step, after its operations."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.client.timeout + 1)
        for stack in sorted(self.owned()):
            self._release(stack, reason="stopping")
        try:
            self.client.delete(f"{self._path}/{MEMBER_PREFIX}{self.identity}")
        except KubernetesError as exc:
            self.log.error("leases.leave_failed", error=str(exc), identity=self.identity)

    # --- one round

    def sync(self, now: datetime) -> None:
        """Renew, give back above the fair share, take free or expired Leases up to it."""
        self._renew_member(now)
        leases = self._list()
        live = {self.identity} | {
            lease.holder
            for lease in leases.values()
            if lease.name.startswith(MEMBER_PREFIX) and lease.holder and not lease.expired(now)
        }
        stacks = sorted(set(self._stacks()))
        share = math.ceil(len(stacks) / len(live)) if stacks else 0
        with self._lock:
            self._owners = {
                lease.name.removeprefix(STACK_PREFIX): lease.holder
                for lease in leases.values()
                if lease.name.startswith(STACK_PREFIX) and lease.holder and not lease.expired(now)
            }
            self._published = {
                stack: status
                for stack, holder in self._owners.items()
                if holder != self.identity
                and (status := _published_status(leases[STACK_PREFIX + stack])) is not None
            }
        held = [
            s for s in stacks if (lease := leases.get(STACK_PREFIX + s)) and lease.holder == self.identity
        ]
        for stack in set(self.owned()) - set(held):
            self._forget(stack, "lost: another replica holds its Lease")
        for stack in held:
            self._renew(leases[STACK_PREFIX + stack], stack, now)
        for stack in set(self.owned()) - set(stacks):  # its file is gone
            self._release(stack, reason="stack removed")
        busy = set(self._busy())
        surplus = len(self.owned()) - share
        for stack in sorted(self.owned() - busy, key=self._spread, reverse=True):
            if surplus <= 0:
                break
            self._release(stack, reason=f"rebalancing: fair share is {share} of {len(stacks)}")
            surplus -= 1
        for stack in sorted(stacks, key=self._spread):
            if len(self.owned()) >= share:
                break
            lease = leases.get(STACK_PREFIX + stack)
            if (
                lease is None
                or lease.holder is None
                or (lease.holder != self.identity and lease.expired(now))
            ):
                self._acquire(stack, lease, now)
        self._synced, self._error = now, None

    def _list(self) -> dict[str, _Lease]:
        selector = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
        data = self.client.get(f"{self._path}?labelSelector={quote(selector)}")
        leases = [_parse(item) for item in data.get("items") or []]
        return {lease.name: lease for lease in leases}

    def _renew_member(self, now: datetime) -> None:
        name = MEMBER_PREFIX + self.identity
        current = self.client.find(f"{self._path}/{name}")
        if current is None:
            self.client.create(self._path, self._body(name, "member", now, None))
            self.log.info("leases.joined", identity=self.identity, namespace=self.settings.namespace)
            return
        lease = _parse(current)
        self.client.replace(f"{self._path}/{name}", self._body(name, "member", now, lease))

    def _renew(self, lease: _Lease, stack: str, now: datetime) -> None:
        try:
            self.client.replace(f"{self._path}/{lease.name}", self._body(lease.name, "stack", now, lease))
        except ConflictError:
            self._forget(stack, "lost: its Lease changed under us")
            return
        with self._lock:
            self._owned[stack] = now

    def _acquire(self, stack: str, lease: _Lease | None, now: datetime) -> None:
        name = STACK_PREFIX + stack
        body = self._body(name, "stack", now, lease, acquired=True)
        try:
            if lease is None:
                self.client.create(self._path, body)
            else:
                self.client.replace(f"{self._path}/{name}", body)
        except ConflictError:
            return  # another replica was quicker; the next round reads again
        with self._lock:
            self._owned[stack] = now
            self._owners[stack] = self.identity
            self._published.pop(stack, None)
        previous = lease.holder if lease is not None else None
        self.log.info(
            "leases.acquired",
            stack=stack,
            identity=self.identity,
            previous_owner=previous,
            reason="expired" if previous and previous != self.identity else "free",
        )

    def _release(self, stack: str, *, reason: str) -> None:
        with self._lock:
            self._owned.pop(stack, None)
            self._owners.pop(stack, None)
        try:
            self.client.delete(f"{self._path}/{STACK_PREFIX}{stack}")
        except KubernetesError as exc:  # it expires anyway
            self.log.error("leases.release_failed", stack=stack, error=str(exc))
        self.log.info("leases.released", stack=stack, identity=self.identity, reason=reason)

    def _spread(self, stack: str) -> int:
        """A pseudo-random order of its own per replica, so replicas reach for different stacks first."""
        return zlib.crc32(f"{self.identity}/{stack}".encode())

    def _forget_all(self, stacks: Iterable[str]) -> None:
        """Expired: neither ours nor, as far as anyone here can tell, anybody else's."""
        with self._lock:
            for stack in stacks:
                self._owned.pop(stack, None)
                self._owners.pop(stack, None)

    def _forget(self, stack: str, reason: str) -> None:
        with self._lock:
            self._owned.pop(stack, None)
        self.log.info("leases.lost", stack=stack, identity=self.identity, reason=reason)

    def _body(
        self, name: str, role: str, now: datetime, current: _Lease | None, *, acquired: bool = False
    ) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": name,
            "namespace": self.settings.namespace,
            "labels": {**MANAGED_BY, ROLE_LABEL: role},
        }
        spec: dict[str, Any] = dict(current.body.get("spec") or {}) if current is not None else {}
        if current is not None:
            metadata["resourceVersion"] = current.version
        if role == "stack" and self._describe is not None:
            status = self._describe(name.removeprefix(STACK_PREFIX))
            if status is not None:
                metadata["annotations"] = {STATUS_ANNOTATION: _publishable(status)}
        if current is None or acquired:
            spec["acquireTime"] = micro_time(now)
        if acquired and current is not None and current.holder != self.identity:
            spec["leaseTransitions"] = current.transitions + 1
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=self.settings.duration_seconds,
            renewTime=micro_time(now),
        )
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}


def _publishable(status: dict[str, Any]) -> str:
    """The annotation's value: the status as compact JSON, cut to its summary when too large."""
    for fields in (None, SUMMARY_FIELDS, ("name", "phase")):
        shown = status if fields is None else {key: status[key] for key in fields if key in status}
        text = json.dumps(shown, sort_keys=True, separators=(",", ":"))
        if len(text) <= PUBLISHED_STATUS_LIMIT:
            break
    return text  # cut to fewer fields, never mid-way: a reader gets valid JSON or nothing


def _published_status(lease: _Lease) -> dict[str, Any] | None:
    """The status a Lease's holder wrote into it; None when there is none or it does not parse."""
    annotations = (lease.body.get("metadata") or {}).get("annotations") or {}
    try:
        status = json.loads(annotations.get(STATUS_ANNOTATION) or "null")
    except ValueError:
        return None
    return status if isinstance(status, dict) else None


def _parse(item: dict[str, Any]) -> _Lease:
    metadata, spec = item.get("metadata") or {}, item.get("spec") or {}
    renew = spec.get("renewTime")
    try:
        renewed = times.parse(renew) if renew else None
    except ValueError:
        renewed = None
    return _Lease(
        name=str(metadata.get("name", "")),
        holder=spec.get("holderIdentity") or None,
        renewed=renewed,
        duration=int(spec.get("leaseDurationSeconds") or 0),
        version=str(metadata.get("resourceVersion", "")),
        transitions=int(spec.get("leaseTransitions") or 0),
        body=item,
    )
