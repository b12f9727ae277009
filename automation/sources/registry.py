"""Registry verification: does each registry accept the credentials its documents push with?

The registries are what the stacks' kinds declare (``KindRegistration.observes_registries``, e.g.
a Kapsa Registry document): a server and a ``credentialsSecret`` (a docker-registry Secret in
``credentialsNamespace``), with the kind's own functions to read the Secret and verify. On an
interval (default 300 s) this source reads that Secret through the Kubernetes API
(:mod:`automation.kube`: the daemon's kubeconfig, with the context the stack's config names,
exactly as :mod:`automation.sources.registry_secrets` reads its version), takes the entry for
the server from its ``.dockerconfigjson`` (``auths[server]``: ``auth`` or
``username``/``password``) and logs in to the server's ``/v2/`` with exactly those credentials
through the kind's verification function (for Kapsa: Basic, or the Bearer token flow the
registry's ``WWW-Authenticate`` asks for). So a stale Secret shows as not verified, whatever else
would work.

The result (verified, message, checkedAt) goes to the store for status (``registries`` in the
status document, ``/stacks`` and ``driftless status``). The program never reads it (it is in no
stack's observations), so it is in no fingerprint and ``poll`` never reports a change. A flip
(credentials revoked, or fixed) is logged as a warning naming the stacks holding that Registry;
other results at info. Without a kubeconfig nothing is checked (one warning says so).

The checks run on a background thread, never on the daemon's loop (each request has its timeout,
10 s): ``poll`` starts the checks that are due and records the results of the previous ones, so
a registry or apiserver that never answers delays nothing but its own result. The Secret is read
at each check, so a rotation is picked up without a restart. Its data stays on the checks' thread:
only the server, the Secret's name and the username are ever logged, stored or shown.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from automation.kube import DEFAULT_TIMEOUT_SECONDS, KubeconfigMissingError, KubernetesError
from automation.observation_store import ObservationStore, RegistryCheck
from automation.sources.background import BackgroundJob
from automation.sources.base import Change, Schedule, Wake
from automation.sources.registry_secrets import ClusterClients, SecretTarget, registry_secrets
from components.documents import StackDocuments
from components.inputs import CredentialsFromDockerConfig, VerifyRegistry

log = logging.getLogger("driftless.sources.registry")

DEFAULT_INTERVAL_SECONDS = 300
DOCKER_CONFIG_KEY = ".dockerconfigjson"


Verify = VerifyRegistry  # verify(server, username, password, scheme="https"|"http")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


class CredentialsError(Exception):
    """The Secret holds no usable credentials for the server; the message never quotes its data."""


def credentials_in_secret(
    secret_type: str,
    data: Mapping[str, bytes],
    server: str,
    where: str,
    read_credentials: CredentialsFromDockerConfig,
) -> Credentials:
    """The credentials a docker-registry Secret's ``.dockerconfigjson`` holds for ``server``."""
    document = data.get(DOCKER_CONFIG_KEY)
    if document is None:
        raise CredentialsError(
            f"credentials Secret {where} has no {DOCKER_CONFIG_KEY} (type {secret_type}); "
            "create it with kubectl create secret docker-registry"
        )
    try:
        found = read_credentials(document, server)
    except ValueError as exc:  # not JSON, or a malformed base64 "auth": the type only
        raise CredentialsError(
            f"credentials Secret {where}: {DOCKER_CONFIG_KEY} cannot be read ({type(exc).__name__})"
        ) from exc
    if found is None:
        raise CredentialsError(f"credentials Secret {where} has no auths entry for {server}")
    return Credentials(*found)


@dataclass(frozen=True)
class _Target:
    """One server checked with one Secret on one cluster."""

    secret: SecretTarget
    server: str
    scheme: str
    verify: VerifyRegistry = field(compare=False, repr=False)
    read_credentials: CredentialsFromDockerConfig = field(compare=False, repr=False)

    @property
    def key(self) -> str:
        return json.dumps([self.server, self.scheme, self.secret.cluster, self.secret.key])


# server, verified (None: no kubeconfig, nothing known), message, when the check started
_Check = tuple[str, bool | None, str, datetime]


class RegistrySource:
    """Verifies every Registry with its credentials Secret, periodically and in the background."""

    name = "registry"

    def __init__(
        self,
        stacks: Mapping[str, StackDocuments],
        store: ObservationStore,
        *,
        project_dir: Path | None = None,
        environ: Mapping[str, str] | None = None,
        verify: Verify | None = None,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        wake: Wake | None = None,
    ):
        self._store = store
        self._project_dir = project_dir
        self._environ = environ
        self._verify = verify  # None: each registry's own (its kind's) verification
        self._interval = timedelta(seconds=interval_seconds)
        self._timeout = timeout
        self._schedule = Schedule()
        self._warned: set[str] = set()
        self._checks: BackgroundJob[list[_Check]] = BackgroundJob("registry", wake)
        self.update_stacks(stacks)

    def update_stacks(self, stacks: Mapping[str, StackDocuments]) -> None:
        self._users: dict[str, set[str]] = {}  # server -> stacks
        self._targets: dict[str, _Target] = {}
        for stack, registry, secret in registry_secrets(self._project_dir, stacks, self._store.registry):
            verify = self._verify or registry.verify
            if verify is None or registry.read_credentials is None:
                continue  # its kind declares no way to verify it; its Secret's version is still watched
            scheme = "http" if registry.insecure else "https"
            target = _Target(secret, registry.server, scheme, verify, registry.read_credentials)
            self._users.setdefault(registry.server, set()).add(stack)
            self._targets[target.key] = target
        self._schedule.set_keys({key: self._interval for key in self._targets})

    def next_due(self, now: datetime) -> datetime | None:
        if self._checks.ready:
            return now
        if not self._targets:
            return None
        return self._schedule.next_due(now)

    def poll(self, now: datetime) -> list[Change]:
        """Record the checks that finished, start those due; never a change (nothing a stack
        renders) and never a wait for a registry or an apiserver."""
        self._record(self._checks.take())
        due = self._schedule.due(now)
        if not due or self._checks.running:
            return []
        for key in due:
            self._schedule.done(key, now)
        work = [self._targets[key] for key in due]
        self._checks.start(lambda: self._check_all(work, now))
        return []

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no check is under way (for one-shot callers and tests)."""
        return self._checks.wait(timeout)

    def _check_all(self, targets: list[_Target], started: datetime) -> list[_Check]:
        """On the checks' thread: read each Secret, verify, and keep only the verdicts."""
        clusters = ClusterClients(self._environ, self._timeout)
        checks: list[_Check] = []
        for target in targets:
            verdict: bool | None
            try:
                verdict, message = self._check(clusters, target)
            except KubeconfigMissingError as exc:
                verdict, message = None, str(exc)
            checks.append((target.server, verdict, message, started))
        return checks

    def _check(self, clusters: ClusterClients, target: _Target) -> tuple[bool, str]:
        where = target.secret.label()
        try:
            client = clusters.client(target.secret.cluster)
            secret_type, data = client.secret_data(target.secret.namespace, target.secret.name)
            credentials = credentials_in_secret(
                secret_type, data, target.server, where, target.read_credentials
            )
        except KubernetesError as exc:
            return False, f"cannot read credentials Secret {where}: {exc}"
        except CredentialsError as exc:
            return False, str(exc)
        try:
            result = target.verify(
                target.server, credentials.username, credentials.password, scheme=target.scheme
            )
        except Exception as exc:  # noqa: BLE001 - a failing check must never stop the daemon
            # Only the exception type: its text could quote the request, credentials included.
            return False, f"credentials Secret {where}: verification error: {type(exc).__name__}"
        return bool(result.verified), _scrub(f"credentials Secret {where}: {result.message}", credentials)

    def _record(self, checks: list[_Check] | None) -> None:
        """Record finished checks on the caller's thread, one verdict per server (every Secret
        checked against it must be accepted); a flip is a warning."""
        verdicts: dict[str, tuple[list[str], list[str], datetime]] = {}
        for server, verified, message, started in checks or []:
            if server not in self._users:
                continue  # no stack holds this Registry any more
            if verified is None:  # no Secret can be read at all: nothing is known, nothing recorded
                self._warn_once("kubeconfig", f"registry verification is off: {message}")
                continue
            accepted, refused, _ = verdicts.setdefault(server, ([], [], started))
            (accepted if verified else refused).append(message)
        for server, (accepted, refused, started) in sorted(verdicts.items()):
            verified = not refused
            message = "; ".join(refused or accepted)
            flipped = self._store.record_registry_check(server, RegistryCheck(verified, message, started))
            state = "verified" if verified else f"not verified: {message}"
            stacks = sorted(self._users[server])
            if flipped:
                log.warning(
                    "registry %s is now %s (stacks: %s)",
                    server,
                    state,
                    ", ".join(stacks),
                    extra={"registry": server, "verified": verified, "stacks": stacks},
                )
            else:
                log.info("registry %s: %s", server, state, extra={"registry": server, "verified": verified})

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
