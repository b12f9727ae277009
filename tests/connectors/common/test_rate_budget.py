"""The request budget from X-RateLimit-* headers, on an injected clock (no real waiting)."""

from __future__ import annotations

import pytest
from common.rate_budget import RateBudget, RateBudgetExhaustedError


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(reset)),
    }


def test_requests_go_at_once_while_plenty_is_left():
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    budget.acquire()  # nothing reported yet
    budget.observe(headers(5000, 4000, clock.now + 3600))
    for _ in range(100):
        budget.acquire()
    assert clock.sleeps == []


def test_below_the_low_water_mark_requests_are_spread_over_the_window():
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    budget.observe(headers(5000, 100, clock.now + 1000))
    budget.acquire()
    # 99 left after this one, 1000 s to go: about 10 s apart.
    assert clock.sleeps == [pytest.approx(1000 / 100)]
    budget.acquire()
    assert len(clock.sleeps) == 2
    assert sum(clock.sleeps) < 1000


def test_a_spent_budget_waits_for_the_reset_then_goes():
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    reset = clock.now + 120
    budget.observe(headers(5000, 0, reset))
    budget.acquire()
    assert clock.now >= reset
    assert budget.waited >= 120


def test_parallel_requests_each_count_against_what_is_left():
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep, low_water=0)
    reset = clock.now + 60
    budget.observe(headers(5000, 2, reset))
    budget.acquire()
    budget.acquire()
    assert clock.sleeps == []
    budget.acquire()  # the third would be over: it waits for the new window
    assert clock.now >= reset


def test_a_later_report_in_the_same_window_only_lowers_the_count():
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep, low_water=0)
    reset = clock.now + 60
    budget.observe(headers(5000, 1, reset))
    budget.observe(headers(5000, 3000, reset))  # an answer sent before others spent the budget
    budget.acquire()
    budget.acquire()
    assert clock.now >= reset


def test_a_reset_too_far_away_ends_the_sync_with_a_clear_error():
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep, max_wait=60)
    budget.observe(headers(5000, 0, clock.now + 1800))
    with pytest.raises(RateBudgetExhaustedError, match="rate_limit_max_wait_seconds"):
        budget.acquire()
    assert clock.sleeps == []


def test_answers_without_the_headers_change_nothing():
    clock = Clock()
    budget = RateBudget(clock=clock, sleep=clock.sleep)
    budget.observe({"Content-Type": "application/json"})
    budget.observe(headers(5000, 0, clock.now + 10) | {"X-RateLimit-Remaining": "soon"})
    budget.acquire()
    assert clock.sleeps == []
