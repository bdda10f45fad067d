"""JSON over HTTP with timeouts and bounded retries, shared by both portal clients.

Retried (exponential backoff with jitter): connection errors, timeouts, HTTP 5xx and 429.
Not retried: other 4xx, which raise `PortalError` at once with the portal's own message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
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


class RetryableError(Exception):
    """A transient failure worth another attempt."""


class Unauthorized(PortalError):
    """HTTP 401: the caller's credentials or session were refused."""


@dataclass(frozen=True, slots=True)
class HttpSettings:
    timeout_seconds: float = 30.0
    connect_timeout_seconds: float = 10.0
    attempts: int = 4
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 10.0

    def timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=self.timeout_seconds, sock_connect=self.connect_timeout_seconds
        )


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "portal_retry",
        attempt=state.attempt_number,
        error=str(error) or type(error).__name__,
    )


async def request_json(
    session: aiohttp.ClientSession,
    settings: HttpSettings,
    method: str,
    url: str,
    **kwargs: Any,
) -> Any:
    """One JSON request with retries; raises `PortalError` when it cannot succeed."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(settings.attempts),
        wait=wait_random_exponential(
            multiplier=settings.backoff_seconds, max=settings.backoff_max_seconds
        ),
        retry=retry_if_exception_type(RetryableError),
        before_sleep=_log_retry,
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                return await _once(session, settings, method, url, **kwargs)
    except RetryableError as exc:
        raise PortalError(f"{method} {url}: {exc} (after {settings.attempts} attempts)") from exc
    raise AssertionError("unreachable")  # pragma: no cover


async def _once(
    session: aiohttp.ClientSession, settings: HttpSettings, method: str, url: str, **kwargs: Any
) -> Any:
    try:
        async with session.request(method, url, timeout=settings.timeout(), **kwargs) as response:
            if response.status == 429 or response.status >= 500:
                raise RetryableError(f"HTTP {response.status}")
            if response.status == 401:
                raise Unauthorized(f"{method} {url}: HTTP 401 {await response.text()}")
            if response.status >= 400:
                raise PortalError(f"{method} {url}: HTTP {response.status} {await response.text()}")
            try:
                return await response.json(content_type=None)
            except ValueError as exc:
                raise PortalError(f"{method} {url}: response is not JSON") from exc
    except (TimeoutError, aiohttp.ClientConnectionError) as exc:
        raise RetryableError(str(exc) or type(exc).__name__) from exc
