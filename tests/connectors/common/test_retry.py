"""HTTP retries: 429/5xx are retried with capped, jittered exponential backoff and the server's Retry-After."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from common.errors import ConnectionFailedError, PermanentError, RequestTimeoutError, ServerBusyError
from common.http import parse_retry_after
from common.retry import RetryPolicy, call_with_retries


def failing(*errors: Exception, result: str = "ok") -> tuple[Callable[[], str], list[int]]:
    """A call that raises ``errors`` in turn, then returns ``result``; and its call counter."""
    calls = [0]

    def call() -> str:
        calls[0] += 1
        if calls[0] <= len(errors):
            raise errors[calls[0] - 1]
        return result

    return call, calls


def busy(status: int = 503, retry_after: float | None = None) -> ServerBusyError:
    return ServerBusyError(f"HTTP {status}", status=status, retry_after=retry_after)


def test_server_errors_and_rate_limits_are_retried_until_success() -> None:
    call, calls = failing(busy(429), busy(500), ConnectionFailedError("reset"))
    waits: list[float] = []
    assert call_with_retries(call, RetryPolicy(max_attempts=5), sleep=waits.append, rng=lambda: 0.0) == "ok"
    assert calls[0] == 4
    assert waits == [1.0, 2.0, 4.0]


def test_backoff_is_capped_and_jittered_downwards() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.5)
    assert [policy.backoff(n, rng=lambda: 0.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert policy.backoff(3, rng=lambda: 1.0) == 2.0  # at most half taken off
    assert policy.backoff(10, rng=lambda: 0.999) >= 2.5


def test_retry_after_is_a_lower_bound_on_the_wait() -> None:
    call, _ = failing(busy(429, retry_after=7.0))
    waits: list[float] = []
    call_with_retries(call, RetryPolicy(base_delay=0.1), sleep=waits.append, rng=lambda: 0.0)
    assert waits == [7.0]


def test_a_retry_after_beyond_the_limit_is_not_waited_out() -> None:
    call, calls = failing(busy(429, retry_after=3600.0))
    waits: list[float] = []
    with pytest.raises(ServerBusyError):
        call_with_retries(call, RetryPolicy(max_retry_after=600), sleep=waits.append)
    assert calls[0] == 1
    assert waits == []


def test_the_last_error_is_raised_when_attempts_run_out() -> None:
    call, calls = failing(busy(500), busy(502), busy(504))
    with pytest.raises(ServerBusyError, match="504"):
        call_with_retries(call, RetryPolicy(max_attempts=3), sleep=lambda s: None)
    assert calls[0] == 3


def test_permanent_errors_are_not_retried() -> None:
    call, calls = failing(PermanentError("HTTP 401", status=401))
    with pytest.raises(PermanentError):
        call_with_retries(call, RetryPolicy(), sleep=lambda s: None)
    assert calls[0] == 1


def test_timeouts_are_retried_only_when_the_policy_says_so() -> None:
    call, calls = failing(RequestTimeoutError("slow"))
    with pytest.raises(RequestTimeoutError):
        call_with_retries(call, RetryPolicy(), sleep=lambda s: None)
    assert calls[0] == 1
    call, calls = failing(RequestTimeoutError("slow"))
    assert call_with_retries(call, RetryPolicy(retry_timeouts=True), sleep=lambda s: None) == "ok"


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
