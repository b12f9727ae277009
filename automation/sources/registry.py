"""Registry verification: are the push credentials of each Registry still accepted?

Every Registry document names a server. On an interval (default 300 s) this source logs in to it
with the credentials of a docker config file (``$DRIFTLESS_REGISTRY_AUTH_FILE``, the standard
``{"auths": {server: {"auth": base64(user:pass)}}}`` format) through the Kapsa domain's
verification function, and records the result (verified, message, checkedAt) in the store for
status (``registries`` in the status document and ``driftless status``). The program never reads
the result (it is in no stack's observations), so it is in no fingerprint either and ``poll``
never reports a change: an ``up`` would render exactly the same. A flip (credentials revoked, or
fixed) is logged as a warning naming the stacks holding that Registry; other results at info.

The checks run on a background thread, never on the daemon's loop (each request has the
verification's timeout, 10 s): ``poll`` starts the checks that are due and records the results of
the previous ones, so a registry that never answers delays nothing but its own result.

The file is read at each check, so rotated credentials are picked up without a restart. Neither the
password nor the encoded ``auth`` value is ever logged or stored: only the server and the username.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from automation.observation_store import ObservationStore, RegistryCheck
from automation.sources.background import BackgroundJob
from automation.sources.base import Change, Schedule, Wake
from automation.stack_inputs import RegistryInputs, registries
from components.documents import StackDocuments
from components.kapsa.registry_check import credentials_from_docker_config, verify_registry

log = logging.getLogger("driftless.sources.registry")

AUTH_FILE_ENV = "DRIFTLESS_REGISTRY_AUTH_FILE"
DEFAULT_INTERVAL_SECONDS = 300


class VerificationResult(Protocol):
    @property
    def verified(self) -> bool: ...

    @property
    def message(self) -> str: ...


# verify(server, username, password, scheme="https"|"http") -> an object with .verified and .message
Verify = Callable[..., VerificationResult]


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


class AuthFileError(Exception):
    """The registry auth file is unusable; the message never quotes its content."""


def read_auth_file(path: Path) -> dict[str, Any]:
    """The docker config document (``{"auths": {...}}``) of the registry auth file."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AuthFileError(f"{path}: cannot read the registry auth file: {exc.strerror}") from exc
    except ValueError as exc:
        # only the position: a decoder message could quote the document
        raise AuthFileError(
            f"{path}: the registry auth file is not valid JSON ({type(exc).__name__})"
        ) from exc
    if not isinstance(document, dict) or not isinstance(document.get("auths"), dict):
        raise AuthFileError(f'{path}: the registry auth file has no "auths" object')
    return document


def credentials_for(document: Mapping[str, Any], server: str) -> Credentials | None:
    """The credentials the auth file holds for ``server`` (keys may be hosts or URLs)."""
    try:
        found = credentials_from_docker_config(document, server)
    except ValueError:  # a malformed base64 "auth" (binascii.Error and UnicodeDecodeError are ValueErrors)
        return None
    return Credentials(*found) if found is not None else None


_Check = tuple[str, bool, str, datetime]  # server, verified, message, when the check started


class RegistrySource:
    """Periodically verifies every Registry's credentials, in the background, for status and the log."""

    name = "registry"

    def __init__(
        self,
        stacks: Mapping[str, StackDocuments],
        store: ObservationStore,
        *,
        verify: Verify | None = None,
        auth_file: Path | None = None,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        wake: Wake | None = None,
    ):
        self._store = store
        self._verify: Verify = verify if verify is not None else verify_registry
        env_file = os.environ.get(AUTH_FILE_ENV)
        self._auth_file = auth_file if auth_file is not None else (Path(env_file) if env_file else None)
        self._interval = timedelta(seconds=interval_seconds)
        self._schedule = Schedule()
        self._warned: set[str] = set()
        self._checks: BackgroundJob[list[_Check]] = BackgroundJob("registry", wake)
        self.update_stacks(stacks)

    def update_stacks(self, stacks: Mapping[str, StackDocuments]) -> None:
        self._users: dict[str, set[str]] = {}
        self._registries: dict[str, RegistryInputs] = {}
        for stack, documents in stacks.items():
            for registry in registries(documents):
                self._users.setdefault(registry.server, set()).add(stack)
                self._registries.setdefault(registry.server, registry)
        self._schedule.set_keys({server: self._interval for server in self._users})

    def _enabled(self) -> bool:
        if self._auth_file is None:
            self._warn_once("auth", f"registry verification is off: {AUTH_FILE_ENV} is not set")
            return False
        return True

    def next_due(self, now: datetime) -> datetime | None:
        if self._checks.ready:
            return now
        if not self._users or self._auth_file is None:
            return None
        return self._schedule.next_due(now)

    def poll(self, now: datetime) -> list[Change]:
        """Record the checks that finished, start those due; never a change (nothing a stack
        renders) and never a wait for a registry."""
        self._record(self._checks.take())
        due = self._schedule.due(now)
        if not due or self._checks.running or not self._enabled() or self._auth_file is None:
            return []
        try:
            auth = read_auth_file(self._auth_file)
        except AuthFileError as exc:
            log.warning("%s", exc)
            for server in due:
                self._schedule.done(server, now)
            return []
        work = []
        for server in due:
            self._schedule.done(server, now)
            registry = self._registries.get(server)
            scheme = "http" if registry is not None and registry.insecure else "https"
            work.append((server, credentials_for(auth, server), scheme))
        self._checks.start(
            lambda: [
                (server, *self._check(server, credentials, scheme), now)
                for server, credentials, scheme in work
            ]
        )
        return []

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no check is under way (for one-shot callers and tests)."""
        return self._checks.wait(timeout)

    def _record(self, checks: list[_Check] | None) -> None:
        """Record finished checks on the caller's thread; a flip is a warning."""
        for server, verified, message, started in checks or []:
            if server not in self._users:
                continue  # no stack holds this Registry any more
            flipped = self._store.record_registry_check(server, RegistryCheck(verified, message, started))
            state = "verified" if verified else f"not verified: {message}"
            if flipped:
                log.warning(
                    "registry %s is now %s (stacks: %s)",
                    server,
                    state,
                    ", ".join(sorted(self._users[server])),
                    extra={"registry": server, "verified": verified, "stacks": sorted(self._users[server])},
                )
            else:
                log.info("registry %s: %s", server, state, extra={"registry": server, "verified": verified})

    def _check(self, server: str, credentials: Credentials | None, scheme: str) -> tuple[bool, str]:
        """On the checks' thread: only the verification, nothing shared is touched."""
        if credentials is None:
            return False, f"no credentials for {server} in the registry auth file"
        try:
            result = self._verify(server, credentials.username, credentials.password, scheme=scheme)
        except Exception as exc:  # noqa: BLE001 - a failing check must never stop the daemon
            # Only the exception type: its text could quote the request, credentials included.
            return False, f"verification error: {type(exc).__name__}"
        return bool(result.verified), _scrub(str(result.message), credentials)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(message)

    def close(self) -> None:
        """Abandon a check under way (its thread ends with its request's timeout)."""
        self._checks.close()


def _scrub(message: str, credentials: Credentials) -> str:
    """Remove the password (and its basic-auth encoding) should a message ever quote it."""
    secrets = [credentials.password]
    secrets.append(base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode())
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message
