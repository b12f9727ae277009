"""Reading the connector configuration.

Fivetran passes the configuration as a flat dict of strings (``fivetran debug`` refuses anything
else), so numbers and lists arrive as text. These helpers convert them and raise
:class:`~common.errors.ConfigurationError` naming the key (never the value: it may be a secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from common.errors import ConfigurationError
from common.retry import RetryPolicy


def required(configuration: Mapping[str, object], key: str) -> str:
    """The non-empty string under ``key``."""
    value = configuration.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"configuration key {key!r} is required")
    return value.strip()


def optional(configuration: Mapping[str, object], key: str, default: str) -> str:
    """The string under ``key``, or ``default`` when it is absent or empty."""
    value = configuration.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if not isinstance(value, str):
        raise ConfigurationError(f"configuration key {key!r} must be a string")
    return value.strip()


def number(
    configuration: Mapping[str, object],
    key: str,
    default: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    """The number under ``key`` (given as a string), within ``[minimum, maximum]``."""
    text = optional(configuration, key, "")
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigurationError(f"configuration key {key!r} must be a number") from None
    if minimum is not None and value < minimum:
        raise ConfigurationError(f"configuration key {key!r} must be at least {minimum:g}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"configuration key {key!r} must be at most {maximum:g}")
    return value


def integer(
    configuration: Mapping[str, object],
    key: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """The whole number under ``key``, within ``[minimum, maximum]``."""
    value = number(configuration, key, default, minimum=minimum, maximum=maximum)
    if value != int(value):
        raise ConfigurationError(f"configuration key {key!r} must be a whole number")
    return int(value)


def date(configuration: Mapping[str, object], key: str, default: str) -> datetime:
    """The date (``YYYY-MM-DD``) or ISO datetime under ``key`` as an aware UTC datetime."""
    text = optional(configuration, key, default)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(f"configuration key {key!r} must be a date (YYYY-MM-DD)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def base_url(configuration: Mapping[str, object], default: str) -> str:
    """The source's base URL (``base_url``), without a trailing slash."""
    url = optional(configuration, "base_url", default).rstrip("/")
    if not url.startswith(("https://", "http://")):
        raise ConfigurationError("configuration key 'base_url' must start with https:// or http://")
    return url


def retry_policy(configuration: Mapping[str, object]) -> RetryPolicy:
    """The HTTP retry policy, tunable through ``max_attempts``, ``backoff_base_seconds``,
    ``backoff_max_seconds`` and ``max_retry_after_seconds``."""
    return RetryPolicy(
        max_attempts=integer(configuration, "max_attempts", 5, minimum=1, maximum=20),
        base_delay=number(configuration, "backoff_base_seconds", 1.0, minimum=0),
        max_delay=number(configuration, "backoff_max_seconds", 60.0, minimum=0),
        max_retry_after=number(configuration, "max_retry_after_seconds", 600.0, minimum=0),
    )
