"""Turn recorded property values into what people may see, and into what validators check.

Recorded inputs carry Pulumi's wire forms: secrets wrapped in a signature map, unknowns as
``pulumi.output.Unknown``, numbers as floats (protobuf has no integers). Two views are derived:

- the *display* view, printed by ``render``: secrets become ``"[secret]"``, unknowns
  ``"[computed]"``, whole floats integers. No secret value survives it.
- the *validation* view, checked against schemas: unknowns are dropped (they cannot be judged
  yet) and every secret leaf is replaced by a placeholder of the same JSON type, so a schema error
  can name the field but never echo the value.

"Secret" means marked by Pulumi *or* a credential by name that nobody marked: a literal under a
credential-named key, and the credential parts of URLs and ``password=…`` shapes inside strings
(:mod:`components.common.masking`, the rule the components use too).
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import rpc

from components.common import masking

SECRET = masking.SECRET
COMPUTED = "[computed]"


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown) or (isinstance(value, str) and value == rpc.UNKNOWN)


def display(value: Any, *, credential: bool = False) -> Any:
    """The printable form of a recorded value (``credential``: it sits under a credential name)."""
    if is_secret(value):
        return SECRET
    if is_unknown(value):
        return COMPUTED
    if isinstance(value, dict):
        named = masking.credential_fields(value)
        return {key: display(item, credential=key in named) for key, item in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [display(item, credential=credential) for item in value]
    if credential and masking.can_carry_credential(value):
        return SECRET
    if isinstance(value, str):
        return masking.mask_text(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, pulumi.Resource):
        return "[resource]"
    if isinstance(value, pulumi.asset.Asset | pulumi.asset.Archive):
        return _describe_asset(value)
    return value


_DROP = object()


def for_validation(value: Any) -> Any:
    """The schema-checkable form of a recorded value (see the module docstring)."""
    result = _validation_view(value, inside_secret=False)
    return None if result is _DROP else result


def _validation_view(value: Any, inside_secret: bool, credential: bool = False) -> Any:
    if is_secret(value):
        return _validation_view(value["value"], inside_secret=True)
    if is_unknown(value):
        return _DROP
    if isinstance(value, dict):
        named = masking.credential_fields(value)
        out = {}
        for key, item in value.items():
            converted = _validation_view(item, inside_secret, credential=key in named)
            if converted is not _DROP:
                out[key] = converted
        return out
    if isinstance(value, (list, tuple)):
        return [c for item in value if (c := _validation_view(item, inside_secret, credential)) is not _DROP]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if inside_secret or (credential and masking.can_carry_credential(value)):
        return _placeholder(value)
    if isinstance(value, str):
        return masking.mask_text(value)  # a schema error may quote the string
    return value


def _placeholder(value: Any) -> Any:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return 0
    if isinstance(value, str):
        return SECRET
    return value


def _describe_asset(value: Any) -> dict[str, Any]:
    for attribute in ("path", "uri"):
        if getattr(value, attribute, None):
            return {type(value).__name__: getattr(value, attribute)}
    return {type(value).__name__: "[inline]"}
