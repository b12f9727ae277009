"""Building blocks for typed stack-document specs.

Every spec model in every domain derives from :class:`SpecModel`: frozen (a spec is a value, not
a mutable bag), unknown fields rejected (a typo must never be silently ignored), camelCase on the
wire as in Kubernetes manifests. The annotated types here carry the validation rules that several
domains share, so the same mistake gets the same message everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails

if TYPE_CHECKING:
    from components.documents import Document


class SpecModel(BaseModel):
    """Base for every spec model: frozen, no unknown fields, camelCase aliases."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
    )


S = TypeVar("S", bound=SpecModel)


def spec_of(document: Document, model: type[S]) -> S:
    """``document``'s spec as ``model``: what a factory or a check narrows its document's spec with.

    The registry pairs each kind with its model, so a mismatch is a programming error; it raises
    TypeError naming the document rather than failing later on a missing attribute.
    """
    spec = document.spec
    if not isinstance(spec, model):
        raise TypeError(f"{document.subject}: spec is {type(spec).__name__}, not {model.__name__}")
    return spec


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Kubernetes resource.Quantity: a decimal number with an optional binary (Ki..Ei), decimal
# (n, u, m, k, M, G, T, P, E) or exponent suffix. Kubernetes also parses a leading "-", but no
# request, limit or volume size may be negative, so the sign may only be "+".
_QUANTITY = re.compile(r"^\+?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
_QUANTITY_NUMBER = re.compile(r"^\+?(\d+(\.\d*)?|\.\d+)")


def is_dns_label(value: str) -> bool:
    """Whether ``value`` is a DNS-1123 label: a namespace, most object names, one part of a host."""
    return len(value) <= 63 and _DNS_LABEL.match(value) is not None


def is_dns_subdomain(value: str) -> bool:
    """Whether ``value`` is a DNS-1123 subdomain: a Secret's name, a host, an annotation prefix."""
    return len(value) <= 253 and _DNS_SUBDOMAIN.match(value) is not None


def _dns_label(value: str) -> str:
    if not is_dns_label(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if not is_dns_subdomain(value):
        raise ValueError(f"{value!r} is not a DNS-1123 subdomain")
    return value


def _number_as_text(value: Any) -> Any:
    """``cpu: 1`` or ``cpu: 0.5``: YAML numbers, valid quantities in Kubernetes, taken as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _quantity(value: str) -> str:
    if value.startswith("-"):
        raise ValueError(f"{value!r} is negative; a request, limit or size must be zero or more")
    if not _QUANTITY.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (examples: 50Gi, 500Mi, 1.5, 250m)")
    return value


def _positive_size(value: str) -> str:
    match = _QUANTITY_NUMBER.match(value)
    if match is None or float(match.group(0)) <= 0:
        raise ValueError(f"{value!r} is not a positive size (examples: 20Gi, 500Mi)")
    return value


def _cron(value: str) -> str:
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a five-field cron schedule (example: '0 0 * * *')")
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
"""A DNS-1123 label: names of Kubernetes objects, namespaces, documents."""

DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
"""A DNS-1123 subdomain: hostnames, base domains, registry servers."""

Quantity = Annotated[str, BeforeValidator(_number_as_text), AfterValidator(_quantity)]
"""A Kubernetes resource quantity such as ``50Gi``, ``250m`` or ``1`` (a YAML number becomes text);
never negative."""

StorageSize = Annotated[Quantity, AfterValidator(_positive_size)]
"""A volume size: a Kubernetes quantity greater than zero."""

CronSchedule = Annotated[str, AfterValidator(_cron)]
"""A standard five-field cron schedule, as a CronJob takes it."""


class ResourceRequirements(SpecModel):
    """Container requests and limits, as in a Kubernetes container spec."""

    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None

    def to_kubernetes(self) -> dict[str, dict[str, str]]:
        """The ``resources`` block of a container."""
        block: dict[str, dict[str, str]] = {}
        if self.requests:
            block["requests"] = dict(self.requests)
        if self.limits:
            block["limits"] = dict(self.limits)
        return block


def rule_beside_item_errors(rule: Callable[[Any], str | None]) -> WrapValidator:
    """A rule over a whole list, reported together with its items' own errors.

    pydantic runs a list's validators only once every item is valid, so a duplicate name beside a
    bad item would surface a run later. ``rule`` reads the list as written (items are mappings,
    or models when built in code) and returns its problem, or None.
    """

    def validate(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        problem = rule(value)
        try:
            validated = handler(value)
        except ValidationError as exc:
            if problem is None:
                raise
            items = [
                InitErrorDetails(type=e["type"], loc=e["loc"], input=e["input"], ctx=e.get("ctx", {}))
                for e in exc.errors()
            ]
            whole = InitErrorDetails(
                type="value_error", loc=(), input=value, ctx={"error": ValueError(problem)}
            )
            raise ValidationError.from_exception_data(exc.title, [*items, whole]) from None
        if problem is not None:
            raise ValueError(problem)
        return validated

    return WrapValidator(validate)
