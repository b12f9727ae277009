"""A request budget read from ``X-RateLimit-Limit/Remaining/Reset``: slow down before the source says 429.

Sources such as Virtuous give every organization one budget per window (5,000 requests an hour),
shared by every integration that uses it, and report it on every response: the window's limit, the
requests left, and when the window resets (a Unix time in seconds). :class:`RateBudget` keeps the
latest report and is asked before every request (:meth:`RateBudget.acquire`):

- while plenty is left, the request goes at once;
- below ``low_water`` of the limit, requests are spread over the time left in the window (the
  wait is the time to the reset divided by the requests left), so the sync slows down smoothly;
- with nothing left, it waits for the reset, or raises :class:`RateBudgetExhaustedError` when the
  reset is further away than ``max_wait`` (the sync then fails with its checkpoint in place).

Parallel requests each take one request off the count as they start, so eight threads never spend
one remaining request eight times. A later report corrects the count: it can only go down within a
window (other integrations spend the budget too) and starts afresh when the reset moves on.
``clock`` and ``sleep`` are parameters so tests run without waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from common.errors import TransientError

log = logging.getLogger("connector.rate_budget")

LIMIT_HEADER = "X-RateLimit-Limit"
REMAINING_HEADER = "X-RateLimit-Remaining"
RESET_HEADER = "X-RateLimit-Reset"
LOW_WATER = 0.1
# Reset is whole seconds; waiting a little past it makes sure the source has opened the new window.
RESET_MARGIN_SECONDS = 1.0
MAX_WAIT_SECONDS = 3600.0


class RateBudgetExhaustedError(TransientError):
    """The window's budget is spent and its reset is further away than the sync may wait."""

    shrinkable = False


def _header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


class RateBudget:
    """The source's request budget as last reported, shared by every thread of a sync."""

    def __init__(
        self,
        *,
        low_water: float = LOW_WATER,
        max_wait: float = MAX_WAIT_SECONDS,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 <= low_water < 1:
            raise ValueError("low_water must be between 0 and 1")
        self._low_water = low_water
        self._max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._limit: int | None = None
        self._remaining: int | None = None
        self._reset: float | None = None
        self.waited = 0.0  # seconds spent waiting, for the sync's log line

    def observe(self, headers: Mapping[str, str]) -> None:
        """Takes in a response's rate-limit headers (any response, errors included)."""
        limit = _header(headers, LIMIT_HEADER)
        remaining = _header(headers, REMAINING_HEADER)
        reset = _header(headers, RESET_HEADER)
        if remaining is None or reset is None:
            return
        with self._lock:
            new_window = self._reset is None or reset > self._reset
            if new_window or self._remaining is None:
                self._remaining = remaining
            else:  # in-flight requests were already counted: keep the lower figure
                self._remaining = min(self._remaining, remaining)
            self._limit = limit if limit is not None else self._limit
            self._reset = float(reset)

    def acquire(self) -> None:
        """Waits as long as the budget asks for, then counts one request against it."""
        while True:
            with self._lock:
                wait, counted = self._decide()
                self.waited += wait
            if wait > 0:
                self._sleep(wait)
            if counted:
                return

    def _decide(self) -> tuple[float, bool]:
        """(seconds to wait, whether the request is counted and may go once they have passed)."""
        if self._remaining is None or self._reset is None:
            return 0.0, True  # nothing reported yet: the first answer tells
        to_reset = self._reset - self._clock()
        if to_reset <= -RESET_MARGIN_SECONDS or (to_reset <= 0 and self._remaining > 0):
            # The window has rolled over: the next answer reports the new one.
            self._remaining, self._reset = None, None
            return 0.0, True
        if self._remaining <= 0:
            if to_reset > self._max_wait:
                raise RateBudgetExhaustedError(
                    f"the source's request budget is spent for the next {to_reset:.0f}s, longer than "
                    f"rate_limit_max_wait_seconds ({self._max_wait:.0f}s); the next sync continues "
                    "from the checkpoint"
                )
            log.info("request budget spent: waiting %.1fs for the window to reset", to_reset)
            return to_reset + RESET_MARGIN_SECONDS, False
        self._remaining -= 1
        if self._limit and self._remaining < self._low_water * self._limit:
            # Spread what is left over what remains of the window.
            return to_reset / (self._remaining + 1), True
        return 0.0, True
