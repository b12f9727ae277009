"""The cluster's credentials: generated with pulumi-random, or read from Vault; never upstream's.

Upstream ships fixed passwords (``SecretPassword``, ``MyS3cr37P450r.*-``, a published cluster key)
and bcrypt hashes of them in internal_users.yml. Here each credential is either a
``vault://`` reference from ``spec.credentials`` or a ``RandomPassword`` kept in Pulumi state, so
it is stable across runs and a secret from the first moment.

The indexer checks its users' passwords against bcrypt hashes in internal_users.yml. A generated
password comes with the provider's own ``bcrypt_hash``; a Vault password is hashed here with a
salt from a ``RandomBytes`` resource, so the hash (and the Secret that holds it) only changes
when the password does, not on every run.

Rotation. A pod reads its credentials at start (environment variables, files the image copies
into place), so a changed credential Secret alone changes nothing running. Every pod template that
reads a credential carries ``driftless.dev/credentials-hash``, a keyed hash of exactly the
credentials it reads (:class:`CredentialHasher`); a new value (a Vault rotation, which the daemon
notices and answers with an ``up``) rolls exactly those pods. The managers apply the API user's
password, the cluster key and the agent enrollment password when they start.

The indexer's own users. The indexer loads internal_users.yml into its security index only the
first time the cluster starts; later, restarting it changes nothing, so the indexer pods are not
rolled. A change to the ``indexer_admin`` or ``dashboard_user`` password names a new Job instead
(keyed hash of those two, see :mod:`components.wazuh.builders.indexer_users`), which sets the new
hashes through the security REST API, touching no other user; the managers and the dashboard
restart with the new passwords meanwhile, and log in once it has.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import bcrypt
import pulumi
import pulumi_random as random

from components.common.kubernetes import child
from components.common.vault import VaultReference, parse_reference
from components.wazuh.builders import credentials_hash
from components.wazuh.spec import CredentialsSpec

ResolveReference = Callable[[VaultReference, pulumi.Resource], pulumi.Output[str]]

BCRYPT_COST = 12
# Symbols the Wazuh API and the indexer both accept in passwords, and that need no quoting.
PASSWORD_SYMBOLS = ".*+?-"

_STANDARD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT_B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_TO_BCRYPT = str.maketrans(_STANDARD_B64, _BCRYPT_B64)


@dataclass(frozen=True)
class CredentialPolicy:
    """What a generated credential looks like."""

    field: str  # the CredentialsSpec attribute
    length: int
    symbols: bool  # the Wazuh API and the indexer require upper, lower, digit and symbol
    hashed: bool  # needs a bcrypt hash for internal_users.yml


POLICIES = (
    CredentialPolicy("indexer_admin", 32, symbols=True, hashed=True),
    CredentialPolicy("dashboard_user", 32, symbols=True, hashed=True),
    CredentialPolicy("api_user", 32, symbols=True, hashed=False),
    # wazuh-clusterd takes a key of exactly 32 characters; authd a plain password.
    CredentialPolicy("cluster_key", 32, symbols=False, hashed=False),
    CredentialPolicy("authd_password", 32, symbols=False, hashed=False),
)


@dataclass(frozen=True)
class Credential:
    """A secret value and, for indexer users, its bcrypt hash (also secret)."""

    value: pulumi.Output[str]
    bcrypt_hash: pulumi.Output[str] | None = None


def bcrypt_hash(password: str, salt: bytes, cost: int = BCRYPT_COST) -> str:
    """bcrypt of ``password`` with a given 16-byte salt: deterministic for a fixed salt.

    ``$2a$``, the variant OpenSearch's own hash tool writes.
    """
    if len(salt) != 16:
        raise ValueError("a bcrypt salt is 16 bytes")
    encoded = base64.b64encode(salt).decode().rstrip("=").translate(_TO_BCRYPT)
    return bcrypt.hashpw(password.encode(), f"$2a${cost:02d}${encoded}".encode()).decode()


def _kebab(field: str) -> str:
    return field.replace("_", "-")


def _generated(prefix: str, policy: CredentialPolicy, parent: pulumi.Resource) -> Credential:
    name = f"{prefix}-{_kebab(policy.field)}"
    if policy.symbols:
        password = random.RandomPassword(
            name,
            length=policy.length,
            special=True,
            override_special=PASSWORD_SYMBOLS,
            min_special=1,
            min_upper=1,
            min_lower=1,
            min_numeric=1,
            opts=child(parent),
        )
    else:
        password = random.RandomPassword(name, length=policy.length, special=False, opts=child(parent))
    hashed: pulumi.Output[str] | None = pulumi.Output.secret(password.bcrypt_hash) if policy.hashed else None
    return Credential(pulumi.Output.secret(password.result), hashed)


def _from_vault(
    prefix: str,
    policy: CredentialPolicy,
    reference: str,
    resolve: ResolveReference,
    parent: pulumi.Resource,
) -> Credential:
    value: pulumi.Output[str] = pulumi.Output.secret(resolve(parse_reference(reference), parent))
    if not policy.hashed:
        return Credential(value)
    salt = random.RandomBytes(f"{prefix}-{_kebab(policy.field)}-salt", length=16, opts=child(parent))
    hashed = pulumi.Output.all(value, salt.base64).apply(
        lambda args: bcrypt_hash(args[0], base64.b64decode(args[1]))
    )
    return Credential(value, pulumi.Output.secret(hashed))


def credentials(
    prefix: str,
    spec: CredentialsSpec,
    resolve: ResolveReference | None,
    parent: pulumi.Resource,
) -> dict[str, Credential]:
    """Every credential of the cluster by CredentialsSpec field name."""
    result: dict[str, Credential] = {}
    for policy in POLICIES:
        reference = getattr(spec, policy.field)
        if reference is None:
            result[policy.field] = _generated(prefix, policy, parent)
        elif resolve is None:
            raise ValueError(f"credentials.{policy.field}: a vault:// reference needs a Vault resolver")
        else:
            result[policy.field] = _from_vault(prefix, policy, reference, resolve, parent)
    return result


class CredentialHasher:
    """The ``driftless.dev/credentials-hash`` value of a pod, from the credentials it reads.

    The hash is keyed with 32 random bytes kept (secret) in the Pulumi state, one key per cluster.
    Computing it takes the secret values, so the result is a secret Output; it is then made
    non-secret on purpose: one secret inside a pod template makes the SDK mark the workload's whole
    ``spec`` secret, hiding every change to it from previews, renders and the state. That is safe
    because an HMAC reveals nothing about its inputs to whoever lacks the key, even for a weak
    password from Vault, which a plain sha256 would expose to an offline guess; the key itself stays
    secret. See :func:`components.wazuh.builders.credentials_hash`.
    """

    def __init__(self, prefix: str, creds: Mapping[str, Credential], parent: pulumi.Resource):
        key = random.RandomBytes(f"{prefix}-credentials-hash-key", length=32, opts=child(parent))
        self._key: pulumi.Output[str] = pulumi.Output.secret(key.base64)
        self._creds = creds

    def __call__(self, fields: Sequence[str]) -> pulumi.Output[str]:
        """The hash over the credentials ``fields`` (CredentialsSpec names), in that order."""
        values = [self._creds[field].value for field in fields]
        hashed = pulumi.Output.all(self._key, *values).apply(
            lambda args: credentials_hash(base64.b64decode(args[0]), args[1:])
        )
        return pulumi.Output.unsecret(hashed)
