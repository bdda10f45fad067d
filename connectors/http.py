"""JSON over HTTP to one portal: timeouts, retries, a rate limit, bounded concurrency, a breaker.

Every request to a portal goes through that portal's `PortalHttp`, which owns one reused aiohttp
`ClientSession` and applies, in this order:

1. the circuit breaker: after `breaker_failures` consecutive failed attempts the portal is not
   called for `breaker_cooldown_seconds` (logged once); then one probe is let through, and a
   success closes the breaker again;
2. bounded concurrency (`max_concurrency` requests in flight) and a rate limit (`rate_per_second`,
   requests evenly spaced, so no window of one second ever holds more than the limit);
3. the request, with connect, read and total timeouts;
4. retries with exponential backoff and jitter (tenacity) on connection errors, timeouts,
   truncated or unparsable bodies, HTTP 5xx and 429 (waiting at least what `Retry-After` asks);
   no retry on other 4xx, which raise `PortalError` at once with the portal's own message.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from connectors.base import PortalError

log = structlog.get_logger(__name__)

RETRY_AFTER_CAP_SECONDS = 120.0


class RetryableError(Exception):
    """A transient failure worth another attempt."""

    def __init__(self, message: str, kind: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # PortalError's kind once the attempts run out
        self.retry_after = retry_after


class Unauthorized(PortalError):
    """HTTP 401: the caller's credentials or session were refused."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "unauthorized")


class NotFound(PortalError):
    """HTTP 404: the portal has no such resource."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "not_found")


class CircuitOpen(PortalError):
    """The portal failed too often lately: not called until the cool-down ends."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "circuit_open")


@dataclass(frozen=True, slots=True)
class HttpSettings:
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 20.0
    attempts: int = 4
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 10.0
    rate_per_second: float = 10.0
    max_concurrency: int = 4
    breaker_failures: int = 5
    breaker_cooldown_seconds: float = 30.0

    def timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=self.timeout_seconds,
            sock_connect=self.connect_timeout_seconds,
            sock_read=self.read_timeout_seconds,
        )


class RateLimiter:
    """At most `rate` acquisitions per second, evenly spaced (no bursts).

    Slots are 1% further apart than 1/rate: at exactly 1/rate, a closed one-second window of a
    server that counts strictly holds rate + 1 requests whenever the network jitters by a
    millisecond.
    """

    HEADROOM = 1.01

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = self.HEADROOM / rate
        self._clock = clock
        self._next = 0.0

    async def acquire(self) -> None:
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failures: int,
        cooldown: float,
        name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self.name = name
        self._clock = clock
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self.opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self) -> None:
        """Raise `CircuitOpen` unless a call may go through now."""
        state = self.state
        if state is BreakerState.OPEN or (state is BreakerState.HALF_OPEN and self._probing):
            assert self.opened_at is not None
            remaining = self.cooldown - (self._clock() - self.opened_at)
            raise CircuitOpen(
                f"{self.name}: circuit open after {self.consecutive_failures} consecutive "
                f"failures; next probe in {max(remaining, 0):.0f}s"
            )
        if state is BreakerState.HALF_OPEN:
            self._probing = True

    def record_success(self) -> None:
        if self.opened_at is not None:
            log.info("circuit_closed", portal=self.name)
        self.consecutive_failures = 0
        self.opened_at = None
        self._probing = False

    def abandon(self) -> None:
        """A call ended without a verdict (cancelled): let the next call probe."""
        self._probing = False

    def record_failure(self) -> None:
        self.consecutive_failures += 1
        was_probing, self._probing = self._probing, False
        if was_probing:
            self.opened_at = self._clock()  # the probe failed: another full cool-down
        elif self.opened_at is None and self.consecutive_failures >= self.threshold:
            self.opened_at = self._clock()
            log.warning(
                "circuit_opened",
                portal=self.name,
                failures=self.consecutive_failures,
                cooldown_seconds=self.cooldown,
            )


def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), RETRY_AFTER_CAP_SECONDS)
    except ValueError:
        pass
    try:
        delta = parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None
    return min(max(delta, 0.0), RETRY_AFTER_CAP_SECONDS)


class _WaitHonouringRetryAfter:
    """Exponential backoff with jitter, but never shorter than the server's Retry-After."""

    def __init__(self, settings: HttpSettings) -> None:
        self._backoff = wait_random_exponential(
            multiplier=settings.backoff_seconds, max=settings.backoff_max_seconds
        )

    def __call__(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RetryableError) and error.retry_after is not None:
            return max(backoff, error.retry_after)
        return backoff


class PortalHttp:
    """One portal's HTTP client: see the module docstring for what each request goes through."""

    def __init__(
        self, name: str, base_url: str, settings: HttpSettings, headers: dict[str, str]
    ) -> None:
        self.name = name
        self.settings = settings
        self.session = aiohttp.ClientSession(
            base_url=base_url.rstrip("/") + "/",
            headers={"Accept": "application/json", **headers},
            timeout=settings.timeout(),
        )
        # aiohttp re-sends an idempotent request by itself once when a kept-alive connection
        # drops; that second send would bypass the rate limit, the breaker and the retry count.
        # Retries are ours alone (aiohttp's own test client turns it off the same way).
        if hasattr(self.session, "_retry_connection"):
            self.session._retry_connection = False
        self.limiter = RateLimiter(settings.rate_per_second)
        self.breaker = CircuitBreaker(
            settings.breaker_failures, settings.breaker_cooldown_seconds, name
        )
        self._in_flight = asyncio.Semaphore(settings.max_concurrency)
        self.requests_sent = 0

    async def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """One JSON request with retries; raises `PortalError` when it cannot succeed."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.attempts),
            wait=_WaitHonouringRetryAfter(self.settings),
            retry=retry_if_exception_type(RetryableError),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(method, path, **kwargs)
        except RetryableError as exc:
            raise PortalError(
                f"{self.name}: {method} {path}: {exc} (after {self.settings.attempts} attempts)",
                exc.kind,
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, method: str, path: str, **kwargs: Any) -> Any:
        self.breaker.before_call()
        async with self._in_flight:
            await self.limiter.acquire()
            self.requests_sent += 1
            try:
                result = await self._send(method, path, **kwargs)
            except RetryableError:
                self.breaker.record_failure()
                raise
            except PortalError:
                self.breaker.record_success()  # it answered (4xx): the portal is up
                raise
            except BaseException:
                self.breaker.abandon()  # cancelled: neither verdict, but free the probe slot
                raise
        self.breaker.record_success()
        return result

    async def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            async with self.session.request(method, path, **kwargs) as response:
                if response.status == 429 or response.status >= 500:
                    raise RetryableError(
                        f"HTTP {response.status}",
                        "overloaded" if response.status == 429 else "server_error",
                        _retry_after_seconds(response.headers.get("Retry-After")),
                    )
                if response.status == 401:
                    raise Unauthorized(f"{self.name}: {method} {path}: HTTP 401")
                if response.status == 404:
                    raise NotFound(f"{self.name}: {method} {path}: HTTP 404")
                if response.status >= 400:
                    body = (await response.text())[:300]
                    raise PortalError(
                        f"{self.name}: {method} {path}: HTTP {response.status}: {body}", "refused"
                    )
                try:
                    return await response.json(content_type=None, loads=orjson.loads)
                except ValueError as exc:
                    raise RetryableError("response body is not valid JSON", "bad_answer") from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
            raise RetryableError(str(exc) or type(exc).__name__, "unreachable") from exc

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "portal_retry",
            portal=self.name,
            attempt=state.attempt_number,
            error=str(error) or type(error).__name__,
            wait_seconds=round(state.upcoming_sleep, 2),
        )

    async def close(self) -> None:
        await self.session.close()
