"""Vault KV v2 secrets referenced by stacks: a rotated secret redeploys exactly its stacks.

For every ``vault://<mount>/<path>#<key>`` reference in a stack, this source reads the secret's
KV v2 *metadata* (``GET /v1/<mount>/metadata/<path>``) on an interval and records its
``current_version``. It never reads the secret's data: the version is enough to know that the
value changed, and the daemon never holds secret values (the program resolves them at deploy time
into Pulumi secrets). The version is part of the fingerprint material of every stack that uses the
secret, so a rotation makes exactly those stacks run ``up``.

A failed read (Vault down, permission denied, missing path) keeps the last known version and is
logged with the path only; the token is never logged.
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
from automation.sources.base import Change
from automation.stack_inputs import split_secret_key, stacks_using, vault_secrets
from components.documents import StackDocuments

log = logging.getLogger("driftless.sources.vault")

DEFAULT_INTERVAL_SECONDS = 60
VAULT_ADDR_ENV = "VAULT_ADDR"
VAULT_TOKEN_ENV = "VAULT_TOKEN"


def client_from_environment(timeout: float = 10.0) -> hvac.Client | None:
    """An hvac client for ``VAULT_ADDR``/``VAULT_TOKEN``, or None when ``VAULT_ADDR`` is unset."""
    address = os.environ.get(VAULT_ADDR_ENV)
    if not address:
        return None
    return hvac.Client(url=address, token=os.environ.get(VAULT_TOKEN_ENV), timeout=timeout)


class VaultSource:
    """Polls the KV v2 metadata version of every secret any stack references."""

    name = "vault"

    def __init__(
        self,
        stacks: Mapping[str, StackDocuments],
        store: ObservationStore,
        *,
        client: hvac.Client | None = None,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        owns_client: bool = False,
    ):
        self._store = store
        self._client = client
        self._owns_client = owns_client  # close() closes only a client this source was given to own
        self._interval = timedelta(seconds=interval_seconds)
        self._next: datetime | None = None
        self._warned_no_client = False
        self.errors: dict[str, str] = {}  # "<mount>/<path>" -> last error, for status
        self.update_stacks(stacks)

    def update_stacks(self, stacks: Mapping[str, StackDocuments]) -> None:
        """Watch the secrets these stacks reference; new ones are read at the next poll."""
        self._users: dict[str, frozenset[str]] = stacks_using(stacks, vault_secrets)
        if any(self._store.vault_version(secret) is None for secret in self._users):
            self._next = None  # a secret never read: read it now rather than after an interval

    def next_due(self, now: datetime) -> datetime | None:
        if not self._users or self._client is None:
            return None
        return self._next or now

    def poll(self, now: datetime) -> list[Change]:
        """Read every referenced secret's current version if due; one change per rotated secret."""
        if not self._users:
            return []
        client = self._client
        if client is None:
            if not self._warned_no_client:
                log.warning(
                    "stacks reference Vault secrets but %s is not set: rotations will not be detected",
                    VAULT_ADDR_ENV,
                )
                self._warned_no_client = True
            return []
        if self._next is not None and now < self._next:
            return []
        self._next = now + self._interval
        changes = []
        for secret, stacks in sorted(self._users.items()):
            version = self._read_version(client, secret)
            if version is None:
                continue
            previous = self._store.vault_version(secret)
            if self._store.set_vault_version(secret, version):
                detail = (
                    f"{secret}: first observed at version {version}"
                    if previous is None
                    else f"{secret}: version {previous} -> {version}"
                )
                log.info("vault secret changed: %s", detail, extra={"secret": secret})
                changes.append(Change("vault", stacks, detail))
        return changes

    def _read_version(self, client: hvac.Client, secret: str) -> int | None:
        mount, path = split_secret_key(secret)
        try:
            response: Any = client.secrets.kv.v2.read_secret_metadata(path=path, mount_point=mount)
            version = int(response["data"]["current_version"])
        except hvac.exceptions.Forbidden:
            reason = "permission denied reading its metadata (check the token's policy)"
        except hvac.exceptions.InvalidPath:
            reason = "no such secret (KV v2 metadata not found)"
        except hvac.exceptions.VaultError as exc:
            reason = f"Vault error: {type(exc).__name__}"
        except requests.RequestException as exc:
            reason = f"Vault unreachable: {type(exc).__name__}"
        except (KeyError, TypeError, ValueError):
            reason = "unexpected metadata response (is the mount KV version 2?)"
        else:
            self.errors.pop(secret, None)
            return version
        # Only the path and a fixed reason: exception texts can quote request details.
        self.errors[secret] = reason
        log.warning("vault poll failed for %s: %s", secret, reason, extra={"secret": secret})
        return None

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.adapter.close()
