"""``vault://<mount>/<path>#<key>`` references (KV v2): parse, find, and resolve into secrets.

A reference is resolved at deploy time with pulumi-vault's KV v2 read, so the value is a Pulumi
secret from the first moment it exists. The daemon uses :func:`find_references` to learn which
Vault paths feed which stack, and watches their metadata versions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from components.context import StackContext

if TYPE_CHECKING:
    import pulumi

SCHEME = "vault://"
_REFERENCE = re.compile(r"^vault://(?P<mount>[A-Za-z0-9_.-]+)/(?P<path>[A-Za-z0-9_./-]+)#(?P<key>[^#\s]+)$")


@dataclass(frozen=True, order=True)
class VaultReference:
    """One key of one KV v2 secret."""

    mount: str
    path: str
    key: str

    def __str__(self) -> str:
        return f"{SCHEME}{self.mount}/{self.path}#{self.key}"


def is_reference(value: object) -> bool:
    """True for any string that claims to be a Vault reference, well-formed or not."""
    return isinstance(value, str) and value.startswith(SCHEME)


def parse_reference(value: str) -> VaultReference:
    """Parse a reference; raise ValueError naming the expected form when it is malformed."""
    match = _REFERENCE.match(value)
    if not match or match["path"].startswith("/") or match["path"].endswith("/") or "//" in match["path"]:
        raise ValueError(f"{value!r} is not a Vault reference of the form vault://<mount>/<path>#<key>")
    return VaultReference(match["mount"], match["path"], match["key"])


def find_references(value: Any) -> Iterator[VaultReference]:
    """Every well-formed reference anywhere inside a nested dict/list/str structure."""
    if isinstance(value, str):
        if is_reference(value):
            yield parse_reference(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from find_references(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from find_references(item)


def validate_references(value: Any) -> Any:
    """A pydantic after-validator: every ``vault://`` string inside ``value`` is well-formed."""
    for path, text in _strings(value, ()):
        if is_reference(text):
            try:
                parse_reference(text)
            except ValueError as exc:
                where = ".".join(str(p) for p in path)
                raise ValueError(f"{where}: {exc}" if where else str(exc)) from None
    return value


def _strings(value: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def vault_provider(context: StackContext) -> pulumi.ProviderResource:
    """The stack's one Vault provider, created on first use (so only when a reference exists)."""
    import pulumi_vault

    def create() -> pulumi.ProviderResource:
        settings = context.settings
        return pulumi_vault.Provider(
            "vault",
            address=settings.vault_address,  # None: the provider reads VAULT_ADDR
            token=settings.vault_token,  # None: the provider reads VAULT_TOKEN
            skip_child_token=True,
        )

    return context.shared("vault-provider", create)


def resolve(
    reference: VaultReference, context: StackContext, parent: pulumi.Resource | None = None
) -> pulumi.Output[str]:
    """The referenced value as a Pulumi secret (never a plain string)."""
    import pulumi
    import pulumi_vault

    secret = pulumi_vault.kv.get_secret_v2_output(
        mount=reference.mount,
        name=reference.path,
        opts=pulumi.InvokeOutputOptions(provider=vault_provider(context), parent=parent),
    )

    def pick(data: dict[str, Any] | None) -> str:
        if not data or reference.key not in data:
            raise KeyError(f"{reference}: key {reference.key!r} not found in the Vault secret")
        return str(data[reference.key])

    return pulumi.Output.secret(secret.data.apply(pick))


def resolve_tree(value: Any, context: StackContext, parent: pulumi.Resource | None = None) -> Any:
    """Replace every reference inside a nested structure with its secret value.

    The result is a plain structure with Outputs at the replaced leaves; callers that send it to a
    provider as one value should wrap it with ``pulumi.Output.secret(pulumi.Output.from_input(...))``.
    """
    if is_reference(value):
        return resolve(parse_reference(value), context, parent)
    if isinstance(value, dict):
        return {key: resolve_tree(item, context, parent) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_tree(item, context, parent) for item in value]
    return value
