"""Fault injection for the mock portals: what real networks and real portals do to a client.

Each mock app carries a `Faults` (the settings in force and the random source they draw from,
seeded, so a run is reproducible) and records when each request arrived (`REQUEST_TIMES`), so
tests can measure the client's behaviour at the server instead of assuming it.

Request-level faults (`fault_middleware`), drawn per request in this order, each independently:

- latency: every request waits a uniform delay in [0, latency_ms] first;
- hang (`timeout_rate`): no answer for `hang_seconds` (stopped early when the client gives up and
  closes the connection), then the request goes on to the other faults and its handler;
- reset (`reset_rate`): the connection is closed without an answer (the client sees the server
  disconnect);
- throttle (`throttle_rate`): HTTP 429 with `Retry-After: <retry_after_seconds>`;
- error (`error_rate`): HTTP 500, 502 or 503.

When several are drawn for one request the first of reset, throttle, error wins. Exempt paths
(`/healthz`, the national `/api/login`) only get the latency.

Record- and page-level faults are applied by the mocks' listing handlers through the hooks
below, on copies of the records (never on the feed's stored dicts):

- `overlap(size)`: how many records from just before the page's position to serve again
  (`duplicate_page_rate`); at most `size - 1`, so a page always moves the position on;
- `distort_page(records, shape)`: corrupts records (`malformed_rate`, one kind of
  `malformed_kinds` per record) and shuffles the page (`shuffle_rate`);
- `expire_session(first_use)`: the national mock's session check (`session_expiry_rate`): the
  call is answered as an expired session and the session really ends (never on its first call);
- `listing_fails()`: whether a listing request fails while the rest of the API works
  (`listing_fails_after`: that many listing pages are answered, then every one fails), as a
  portal whose list service is down while look-ups and writes go on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from connectors.fault_settings import FaultSettings

# Wrong-type values: none of them is a string or an integer (which portals legitimately send for
# numeric codes), so a strict decoder must refuse each.
_WRONG_TYPES: tuple[Callable[[Any], Any], ...] = (
    lambda value: {"value": value},
    lambda value: [value],
    lambda _: True,
    lambda _: 12.5,
)
_BAD_DATES = ("not a date", "2024-07-01T08:30:00", "99/99/9999 99:99:99", "20241345256161")
_ERROR_STATUSES = (500, 502, 503)


@dataclass(frozen=True, slots=True)
class RecordShape:
    """Where a portal's record keeps what the malformed kinds corrupt."""

    code: str
    timestamp: str
    status: str
    unknown_status: str
    dates: tuple[str, ...]  # dates other than the change timestamp
    texts: tuple[str, ...]  # string fields other than the code and the change timestamp


@dataclass(frozen=True, slots=True)
class Corruption:
    code: str | None  # the record's code as the feed holds it
    kind: str
    field: str


@dataclass
class Faults:
    """The fault settings in force for one mock app, and what was injected so far.

    Tests may swap the settings while the app runs (`faults.settings = ...` or `faults.set`);
    `set` also reseeds the random source.
    """

    settings: FaultSettings = field(default_factory=FaultSettings)
    injected: Counter[str] = field(default_factory=Counter)
    corrupted: list[Corruption] = field(default_factory=list)
    throttled_at: list[float] = field(default_factory=list)  # arrival times answered 429
    listed: int = 0  # listing pages answered since the settings were set
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.settings.validate()
        self.rng = random.Random(self.settings.seed)

    def set(self, settings: FaultSettings) -> None:
        settings.validate()
        self.settings = settings
        self.listed = 0
        self.rng = random.Random(settings.seed)

    def listing_fails(self) -> bool:
        """Whether this listing request fails (`listing_fails_after`); counts it if not."""
        limit = self.settings.listing_fails_after
        if limit and self.listed >= limit:
            self.injected["listing_failed"] += 1
            return True
        self.listed += 1
        return False

    def draw(self, rate: float) -> bool:
        """One draw, made whatever the rate, so the sequence does not depend on the rates."""
        return self.rng.random() < rate

    # --- hooks the mocks call -------------------------------------------------------------

    def overlap(self, size: int) -> int:
        """How many records before the page's position this page repeats (0: a normal page)."""
        if not self.draw(self.settings.duplicate_page_rate) or size < 2:
            return 0
        self.injected["duplicate_page"] += 1
        return self.rng.randint(1, min(3, size - 1))

    def distort_page(
        self, records: Sequence[Mapping[str, Any]], shape: RecordShape
    ) -> list[Mapping[str, Any]]:
        """The page as served: some records corrupted (copies), maybe out of order."""
        out: list[Mapping[str, Any]] = []
        for record in records:
            if self.draw(self.settings.malformed_rate):
                out.append(self._corrupt(record, shape))
            else:
                out.append(record)  # served as is: nothing here writes to it
        if self.draw(self.settings.shuffle_rate) and len(out) > 1:
            self.injected["shuffled_page"] += 1
            self.rng.shuffle(out)
        return out

    def expire_session(self, first_use: bool) -> bool:
        """Whether this service call finds its session expired (the mock then forgets it).

        A session is never ended on its first call: one just issued has not lived out any time
        (a client re-sends the refused call once with a fresh session, and a portal refusing
        fresh sessions is a different fault: bad credentials)."""
        drawn = self.draw(self.settings.session_expiry_rate)
        if drawn and not first_use:
            self.injected["session_expired"] += 1
            return True
        return False

    def _corrupt(self, record: Mapping[str, Any], shape: RecordShape) -> dict[str, Any]:
        copy = dict(record)  # top-level values are replaced, never mutated: the feed's stay
        kind = self.rng.choice(self.settings.malformed_kinds)
        if kind == "date":
            name = self.rng.choice(shape.dates)
            copy[name] = self.rng.choice(_BAD_DATES)
        elif kind == "timestamp":
            name = shape.timestamp
            copy[name] = self.rng.choice(_BAD_DATES)
        elif kind == "status":
            name = shape.status
            copy[name] = shape.unknown_status
        elif kind == "code":
            name = shape.code
            del copy[name]
        else:
            name = self.rng.choice(shape.texts)
            copy[name] = self.rng.choice(_WRONG_TYPES)(copy.get(name))
        code = record.get(shape.code)
        self.corrupted.append(Corruption(code if isinstance(code, str) else None, kind, name))
        self.injected[f"malformed_{kind}"] += 1
        return copy


FAULTS = web.AppKey("faults", Faults)
# Arrival times (time.monotonic) of the latest requests, oldest first.
REQUEST_TIMES = web.AppKey("request_times", deque[float])
REQUEST_TIMES_KEPT = 100_000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _record_arrival(request: web.Request, handler: Handler) -> web.StreamResponse:
    request.app[REQUEST_TIMES].append(time.monotonic())
    return await handler(request)


def fault_middleware(
    faults: Faults | FaultSettings, exempt: Collection[str] = ("/healthz",)
) -> Middleware:
    """Middleware applying the request-level faults (see the module docstring) to every path
    but `exempt`, which only gets the latency. Settings are read per request, so a test may
    change them while the app runs."""
    state = faults if isinstance(faults, Faults) else Faults(faults)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = time.monotonic()
        s = state.settings
        delay = state.rng.uniform(0, s.latency_ms) / 1000
        hang, reset, throttle, error = (
            state.draw(rate)
            for rate in (s.timeout_rate, s.reset_rate, s.throttle_rate, s.error_rate)
        )
        status = state.rng.choice(_ERROR_STATUSES)
        if delay:
            await asyncio.sleep(delay)
        if request.path in exempt:
            return await handler(request)
        if hang:
            state.injected["hang"] += 1
            if not await _hang(request, s.hang_seconds):
                return web.Response()  # the client has gone: nobody reads this
        if reset:
            state.injected["reset"] += 1
            if request.transport is not None:
                request.transport.close()
            return web.Response()  # written to a closed transport: aiohttp drops it
        if throttle:
            state.injected["throttle"] += 1
            state.throttled_at.append(arrived)
            return web.json_response(
                {"error": "too many requests"},
                status=429,
                headers={"Retry-After": f"{s.retry_after_seconds:g}"},
            )
        if error:
            state.injected[f"error_{status}"] += 1
            return web.json_response({"error": "injected fault"}, status=status)
        return await handler(request)

    return middleware


async def _hang(request: web.Request, seconds: float) -> bool:
    """Wait `seconds` or until the client closes the connection; True if it is still there."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
        await asyncio.sleep(min(left, 0.02))
    return True


def install(
    app: web.Application, settings: FaultSettings | None, exempt: Collection[str]
) -> Faults:
    """Record request arrivals in `app[REQUEST_TIMES]` and inject `settings`' faults (none by
    default); the `Faults` is kept in `app[FAULTS]`."""
    faults = Faults(settings or FaultSettings())
    app[FAULTS] = faults
    app[REQUEST_TIMES] = deque(maxlen=REQUEST_TIMES_KEPT)
    app.middlewares.append(_record_arrival)
    app.middlewares.append(fault_middleware(faults, exempt))
    return faults
