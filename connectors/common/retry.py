"""Retries on 429/5xx with capped exponential backoff, jitter and Retry-After.

:func:`call_with_retries` runs one source call again while it raises a retryable error: a
:class:`~common.errors.ServerBusyError` (408/425/429/5xx), a :class:`~common.errors.ConnectionFailedError`,
and a :class:`~common.errors.RequestTimeoutError` only when the policy says so (for a query, a timeout
means "ask for less", which the cursor and window layers do instead of asking again).

The wait before retry *n* is ``min(max_delay, base_delay * 2**(n-1))`` scaled by a random factor
in ``[1 - jitter, 1]`` (so parallel requests do not retry in lockstep), and never less than the
server's Retry-After. A Retry-After longer than ``max_retry_after`` is not waited out inside the
sync: the error is raised, the sync fails, and Fivetran schedules the next one.

``sleep`` and ``rng`` are parameters so tests run without waiting.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from common.errors import ConnectionFailedError, RequestTimeoutError, ServerBusyError

T = TypeVar("T")
log = logging.getLogger("connector.retry")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one call is retried."""

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.5
    max_retry_after: float = 600.0
    retry_timeouts: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """The jittered, capped wait after failed attempt number ``attempt`` (1-based)."""
        capped = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return capped * (1 - self.jitter * rng())

    def is_retryable(self, error: BaseException) -> bool:
        """Whether ``error`` is worth sending the same request again for."""
        if isinstance(error, (ServerBusyError, ConnectionFailedError)):
            return True
        return self.retry_timeouts and isinstance(error, RequestTimeoutError)


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """``call()``, retried per ``policy``; the last error is raised when the attempts run out."""
    attempt = 1
    while True:
        try:
            return call()
        except Exception as error:
            if not policy.is_retryable(error) or attempt >= policy.max_attempts:
                raise
            wait = policy.backoff(attempt, rng)
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                if retry_after > policy.max_retry_after:
                    log.warning(
                        "not retrying: the source asks to wait %.0fs (more than %.0fs): %s",
                        retry_after,
                        policy.max_retry_after,
                        error,
                    )
                    raise
                wait = max(wait, retry_after)
            log.warning(
                "attempt %d/%d failed, retrying in %.2fs: %s", attempt, policy.max_attempts, wait, error
            )
            sleep(wait)
            attempt += 1
