"""Vault KV v2 secrets referenced by stacks: a rotated secret redeploys exactly its stacks.

For every ``vault://<mount>/<path>#<key>`` reference in a stack, this source reads the secret's
KV v2 *metadata* (``GET /v1/<mount>/metadata/<path>``) on an interval and records its
``current_version``. It never reads the secret's data: the version is enough to know that the
value changed, and the daemon never holds secret values (the program resolves them at deploy time
into Pulumi secrets). The version is part of the fingerprint material of every stack that uses the
secret, so a rotation makes exactly those stacks run ``up``.

The reads run on a background thread, never on the daemon's loop: ``poll`` starts a sweep over
every referenced secret when one is due and returns at once with what the previous sweep found
(applied to the store on the caller's thread; ``wake`` is called when a sweep ends). Each request
has the client's timeout (``sources.vaultTimeoutSeconds`` in ``driftless.yaml``, default 10 s);
when one fails to reach Vault at all (refused, timed out), the rest of the sweep is skipped with
the same reason, so a hung Vault costs one timeout per interval, not one per secret. ``close``
abandons a sweep under way.

A failed read (Vault down, permission denied, missing path) keeps the last known version and is
logged with the path only; the token is never logged. A secret whose reads keep failing is
reported stale in :meth:`VaultSource.health`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import hvac
import hvac.exceptions
import requests

from automation.observation_store import ObservationStore
from automation.sources.background import BackgroundJob
from automation.sources.base import Change, HealthBook, TargetHealth, Wake
from automation.stack_inputs import split_secret_key, stacks_using, vault_secrets
from components.documents import StackDocuments

log = logging.getLogger("driftless.sources.vault")

DEFAULT_INTERVAL_SECONDS = 60
DEFAULT_TIMEOUT_SECONDS = 10.0  # connect and read timeout of each metadata request
VAULT_ADDR_ENV = "VAULT_ADDR"
VAULT_TOKEN_ENV = "VAULT_TOKEN"


def client_from_environment(timeout: float = DEFAULT_TIMEOUT_SECONDS) -> hvac.Client | None:
    """An hvac client for ``VAULT_ADDR``/``VAULT_TOKEN``, or None when ``VAULT_ADDR`` is unset."""
    address = os.environ.get(VAULT_ADDR_ENV)
    if not address:
        return None
    return hvac.Client(url=address, token=os.environ.get(VAULT_TOKEN_ENV), timeout=timeout)


_Read = int | str  # a secret's current version, or why it could not be read


class VaultSource:
    """Polls the KV v2 metadata version of every secret any stack references, in the background."""

    name = "vault"

    def __init__(
        self,
        stacks: Mapping[str, StackDocuments],
        store: ObservationStore,
        *,
        client: hvac.Client | None = None,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        owns_client: bool = False,
        wake: Wake | None = None,
    ):
        self._store = store
        self._client = client
        self._owns_client = owns_client  # close() closes only a client this source was given to own
        self._interval = timedelta(seconds=interval_seconds)
        self._next: datetime | None = None
        self._warned_no_client = False
        self._sweep: BackgroundJob[tuple[datetime, dict[str, _Read]]] = BackgroundJob("vault", wake)
        self._health = HealthBook(self.name)
        self.update_stacks(stacks)

    @property
    def errors(self) -> dict[str, str]:
        """``"<mount>/<path>"`` → why its last read failed, for every secret whose last read failed."""
        return self._health.errors()

    def health(self) -> list[TargetHealth]:
        return self._health.report()

    def update_stacks(self, stacks: Mapping[str, StackDocuments]) -> None:
        """Watch the secrets these stacks reference; new ones are read at the next poll."""
        self._users: dict[str, frozenset[str]] = stacks_using(stacks, vault_secrets)
        self._health.track(self._users)
        if any(self._store.vault_version(secret) is None for secret in self._users):
            self._next = None  # a secret never read: read it now rather than after an interval

    def next_due(self, now: datetime) -> datetime | None:
        if self._sweep.ready:
            return now
        if not self._users or self._client is None:
            return None
        if self._sweep.running:
            return self._next  # the sweep's end wakes the loop
        return self._next or now

    def poll(self, now: datetime) -> list[Change]:
        """Apply the last sweep's versions; start a sweep if one is due. Never waits for Vault."""
        changes = self._apply(self._sweep.take())
        if not self._users:
            return changes
        client = self._client
        if client is None:
            if not self._warned_no_client:
                log.warning(
                    "stacks reference Vault secrets but %s is not set: rotations will not be detected",
                    VAULT_ADDR_ENV,
                )
                self._warned_no_client = True
            return changes
        if self._sweep.running or (self._next is not None and now < self._next):
            return changes
        secrets = sorted(self._users)
        if self._sweep.start(lambda: (now, _read_versions(client, secrets))):
            self._next = now + self._interval
            for secret in secrets:
                self._health.started(secret, now)
        return changes

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no sweep is under way (for one-shot callers and tests)."""
        return self._sweep.wait(timeout)

    def _apply(self, swept: tuple[datetime, dict[str, _Read]] | None) -> list[Change]:
        """Record a sweep's versions, on the caller's thread; one change per rotated secret."""
        if swept is None:
            return []
        started, reads = swept
        changes = []
        for secret, read in sorted(reads.items()):
            stacks = self._users.get(secret)
            if stacks is None:
                continue  # no stack references it any more
            if isinstance(read, str):
                # Only the path and a fixed reason: exception texts can quote request details.
                self._health.failed(secret, read)
                log.warning("vault poll failed for %s: %s", secret, read, extra={"secret": secret})
                continue
            self._health.succeeded(secret, started)
            previous = self._store.vault_version(secret)
            if self._store.set_vault_version(secret, read):
                detail = (
                    f"{secret}: first observed at version {read}"
                    if previous is None
                    else f"{secret}: version {previous} -> {read}"
                )
                log.info("vault secret changed: %s", detail, extra={"secret": secret})
                changes.append(Change("vault", stacks, detail))
        return changes

    def close(self) -> None:
        """Abandon a sweep under way (its thread ends with its request's timeout) and stop."""
        self._sweep.close()
        if self._owns_client and self._client is not None:
            self._client.adapter.close()


def _read_versions(client: hvac.Client, secrets: list[str]) -> dict[str, _Read]:
    """On the sweep's thread: each secret's current version or the reason it could not be read."""
    reads: dict[str, _Read] = {}
    for index, secret in enumerate(secrets):
        read, unreachable = _read_version(client, secret)
        reads[secret] = read
        if unreachable:
            # Vault itself did not answer: the other reads would each wait for the same timeout.
            for skipped in secrets[index + 1 :]:
                reads[skipped] = read
            break
    return reads


def _read_version(client: hvac.Client, secret: str) -> tuple[_Read, bool]:
    """The secret's version or why not, and whether Vault was unreachable."""
    mount, path = split_secret_key(secret)
    try:
        response: Any = client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)
        return int(response["data"]["current_version"]), False
    except hvac.exceptions.Forbidden:
        return "permission denied reading its metadata (check the token's policy)", False
    except hvac.exceptions.InvalidPath:
        return "no such secret (KV v2 metadata not found)", False
    except hvac.exceptions.VaultError as exc:
        return f"Vault error: {type(exc).__name__}", False
    except (requests.ConnectionError, requests.Timeout) as exc:
        return f"Vault unreachable: {type(exc).__name__}", True
    except requests.RequestException as exc:
        return f"Vault unreachable: {type(exc).__name__}", False
    except (KeyError, TypeError, ValueError):
        return "unexpected metadata response (is the mount KV version 2?)", False
