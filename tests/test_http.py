"""The portal HTTP layer's parts that do not need a network: clocks are injected."""

from __future__ import annotations

import pytest

from connectors.http import (
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    RateLimiter,
    _retry_after_seconds,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read through a call: mypy would otherwise keep the property narrowed across mutations."""
    return breaker.state


def test_breaker_opens_after_n_consecutive_failures_then_probes_once_and_closes() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures=3, cooldown=30, name="city", clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    breaker.before_call()
    breaker.record_success()  # a success in between resets the count
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()
    assert state_of(breaker) is BreakerState.OPEN
    with pytest.raises(CircuitOpen, match="next probe in 30s"):
        breaker.before_call()
    clock.now += 30
    assert state_of(breaker) is BreakerState.HALF_OPEN
    breaker.before_call()  # the probe
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # only one probe at a time
    breaker.record_success()
    assert state_of(breaker) is BreakerState.CLOSED
    breaker.before_call()


def test_a_failed_probe_opens_the_breaker_for_another_full_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures=1, cooldown=10, name="national", clock=clock)
    breaker.before_call()
    breaker.record_failure()
    clock.now += 10
    breaker.before_call()
    breaker.record_failure()
    clock.now += 9
    assert state_of(breaker) is BreakerState.OPEN
    clock.now += 1
    assert state_of(breaker) is BreakerState.HALF_OPEN


async def test_rate_limiter_spaces_acquisitions_evenly(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds

    monkeypatch.setattr("connectors.http.asyncio.sleep", fake_sleep)
    limiter = RateLimiter(4.0, clock)
    times = []
    for _ in range(9):
        await limiter.acquire()
        times.append(clock.now)
    assert times == pytest.approx([1000.0 + 0.2525 * i for i in range(9)])
    clock.now += 10  # idle time does not build up a burst
    await limiter.acquire()
    await limiter.acquire()
    assert slept[-1] == pytest.approx(0.2525)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), ("0.5", 0.5), ("-4", 0.0), ("100000", 120.0), ("soon", None), ("", None)],
)
def test_retry_after_is_read_as_seconds_and_capped(header: str, seconds: float | None) -> None:
    assert _retry_after_seconds(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    assert _retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
