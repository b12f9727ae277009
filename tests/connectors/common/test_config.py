"""Configuration values arrive as strings; bad ones are named by key, never echoed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from common import config
from common.errors import ConfigurationError


def test_numbers_and_dates_are_read_from_strings() -> None:
    configuration = {"n": "8", "t": "0.25", "d": "2020-02-03", "empty": ""}
    assert config.integer(configuration, "n", 1, maximum=8) == 8
    assert config.number(configuration, "t", 1.0) == 0.25
    assert config.number(configuration, "empty", 1.5) == 1.5
    assert config.date(configuration, "d", "2010-01-01") == datetime(2020, 2, 3, tzinfo=UTC)


def test_a_retry_policy_is_built_from_the_tuning_keys() -> None:
    policy = config.retry_policy(
        {"max_attempts": "3", "backoff_base_seconds": "0.01", "backoff_max_seconds": "0.05"}
    )
    assert (policy.max_attempts, policy.base_delay, policy.max_delay) == (3, 0.01, 0.05)


@pytest.mark.parametrize(
    ("configuration", "call", "message"),
    [
        ({}, lambda c: config.required(c, "bearer_token"), "'bearer_token' is required"),
        ({"n": "nine"}, lambda c: config.integer(c, "n", 1), "'n' must be a number"),
        ({"n": "9"}, lambda c: config.integer(c, "n", 1, maximum=8), "'n' must be at most 8"),
        ({"n": "2.5"}, lambda c: config.integer(c, "n", 1), "'n' must be a whole number"),
        ({"base_url": "ftp://x"}, lambda c: config.base_url(c, "https://d"), "'base_url' must start with"),
        ({"d": "last year"}, lambda c: config.date(c, "d", "2010-01-01"), "'d' must be a date"),
    ],
)
def test_bad_values_name_the_key(configuration: dict[str, str], call: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        call(configuration)  # type: ignore[operator]


def test_a_secret_value_is_never_echoed_in_an_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        config.integer({"parallel_requests": "hunter2"}, "parallel_requests", 8)
    assert "hunter2" not in str(caught.value)


def test_the_base_url_loses_its_trailing_slash() -> None:
    assert config.base_url({"base_url": "http://127.0.0.1:8080/"}, "https://d") == "http://127.0.0.1:8080"
    assert config.base_url({}, "https://api.example.org") == "https://api.example.org"
