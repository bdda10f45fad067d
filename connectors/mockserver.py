"""Run both mock portals on loopback (or any host) from one dataset or scenario.

Served from a scenario, the mocks have a clock: `MockPortals.set_time` (or a POST to
`/_mock/clock` on either mock, `{"advance_seconds": N}` or `{"at": "<ISO time>"}`) moves it, and
every dossier whose view changed changes in both feeds at once, as on live portals where new events
keep arriving while a client pages. `run_clock` advances it continuously (`{"speed": X}` on the
same path sets its speed, 0 stops it).

`/_mock/faults` changes the injected faults of both mocks while they run (a test harness storms
the portals, then calms them): GET answers the current settings and the faults injected so far;
POST `{"error_rate": 0.1, ...}` (any `FaultSettings` fields but malformed_kinds; those left out go
back to none) replaces them. Both control paths are exempt from the faults.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from connectors.base import Cursor
from connectors.city import mock as city_mock
from connectors.dataset import AGENCY_CODE, Dataset
from connectors.fault_settings import FaultSettings
from connectors.faults import FAULTS
from connectors.feed import CLOCK_PATH, FAULTS_PATH, Feed
from connectors.national import mock as national_mock
from connectors.scenario import Scenario
from reconcile.statusmap import StatusMap

CITY_API_KEY = "demo-city-key"
NATIONAL_USERNAME = "syncd-demo"
NATIONAL_PASSWORD = "demo-password"


@dataclass
class MockPortals:
    city_url: str
    national_url: str
    runners: tuple[web.AppRunner, ...]
    scenario: Scenario | None = None
    statuses: StatusMap | None = None
    at: datetime | None = None
    speed: float = 0.0
    _ticker: asyncio.Task[None] | None = field(default=None, repr=False)

    def set_time(self, at: datetime) -> int:
        """Move the scenario clock to `at`; returns how many records changed on both sides."""
        if self.scenario is None or self.statuses is None:
            raise RuntimeError("these mocks serve a fixed dataset, not a scenario: no clock")
        view = self.scenario.views(at)
        self.at = at
        return _sync(
            self.city_app[city_mock.FEED], city_mock.city_records(view.city, view, self.statuses)
        ) + _sync(
            self.national_app[national_mock.FEED],
            national_mock.national_records(view.national, view),
            self.national_app[national_mock.WRITTEN],
        )

    def run_clock(self, speed: float, tick: float = 1.0) -> None:
        """Advance the clock by `speed` scenario seconds per real second, every `tick` s (0:
        stop it)."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self.speed = speed
        if not speed:
            return

        async def ticking() -> None:
            while True:
                await asyncio.sleep(tick)
                assert self.at is not None
                self.set_time(self.at + timedelta(seconds=speed * tick))

        self._ticker = asyncio.create_task(ticking())

    @property
    def city_app(self) -> web.Application:
        """The city mock (its `FAULTS` and `REQUEST_TIMES`, for tests)."""
        return self._app(0)

    @property
    def national_app(self) -> web.Application:
        return self._app(1)

    def _app(self, index: int) -> web.Application:
        app = self.runners[index].app
        assert isinstance(app, web.Application)
        return app

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for runner in self.runners:
            await runner.cleanup()


def _sync(
    feed: Feed,
    records: list[tuple[Cursor, dict[str, Any]]],
    written: dict[str, dict[str, Any] | None] | None = None,
) -> int:
    """Make `feed` hold exactly `records`, touching only what changed. A record a client wrote
    (`written`: code -> what the feed held before the write) stays as written until the
    scenario's own record of it changes (the dossier's story moved on)."""
    old = feed.records()
    new = {key.code: (key, record) for key, record in records}
    kept = written if written is not None else {}
    changed = 0
    for code in old.keys() - new.keys() - kept.keys():
        feed.remove(code)
        changed += 1
    for code, (key, record) in new.items():
        if code in kept:
            if kept[code] == record:
                continue  # the portal keeps what it was sent
            del kept[code]
        if old.get(code) != record:
            feed.upsert(key, record)
            changed += 1
    return changed


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, runner.addresses[0][1]


async def start_mock_portals(
    source: Dataset | Scenario,
    statuses: StatusMap,
    host: str = "127.0.0.1",
    city_port: int = 0,
    national_port: int = 0,
    faults: FaultSettings | None = None,
) -> MockPortals:
    """Start both mocks; port 0 picks a free port. The credentials are the demo ones above.
    `faults` (none by default) are injected by both, each drawing from its own random source.
    A scenario is served as it is at its `now`, and its clock can be moved."""
    scenario = source if isinstance(source, Scenario) else None
    dataset = source.views(source.now) if isinstance(source, Scenario) else source
    agency = scenario.agency if scenario else AGENCY_CODE
    city_app = city_mock.make_app(dataset, statuses, CITY_API_KEY, faults)
    national_app = national_mock.make_app(
        dataset, NATIONAL_USERNAME, NATIONAL_PASSWORD, agency, faults=faults
    )
    portals = MockPortals("", "", (), scenario, statuses, scenario.now if scenario else None)

    async def clock(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if "speed" in body:
                speed = float(body["speed"])
                if not speed >= 0 or portals.scenario is None:
                    raise ValueError("speed: a number >= 0, on mocks serving a scenario")
                portals.run_clock(speed)
                return web.json_response({"at": str(portals.at), "speed": speed})
            if "at" in body:
                at = datetime.fromisoformat(str(body["at"]))
            else:
                at = (portals.at or datetime.now()) + timedelta(
                    seconds=float(body["advance_seconds"])
                )
            if at.tzinfo is None:
                raise ValueError("the time needs a UTC offset")
            changed = portals.set_time(at)
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"at": at.isoformat(), "changed": changed})

    async def set_faults(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise TypeError("expected an object of fault settings")
            unknown = set(body) - {f.name for f in fields(FaultSettings)} | (
                set(body) & {"malformed_kinds"}
            )
            if unknown:
                raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
            settings = FaultSettings(**body)
            settings.validate()
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        for app in (city_app, national_app):
            app[FAULTS].set(settings)
        return await show_faults(request)

    async def show_faults(request: web.Request) -> web.Response:
        injected = {
            name: dict(app[FAULTS].injected)
            for name, app in (("city", city_app), ("national", national_app))
        }
        current = asdict(city_app[FAULTS].settings)
        current.pop("malformed_kinds", None)
        return web.json_response({"settings": current, "injected": injected})

    for app in (city_app, national_app):
        app.router.add_post(CLOCK_PATH, clock)
        app.router.add_post(FAULTS_PATH, set_faults)
        app.router.add_get(FAULTS_PATH, show_faults)
    city_runner, city_bound = await _start(city_app, host, city_port)
    national_runner, national_bound = await _start(national_app, host, national_port)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    portals.city_url = f"http://{shown}:{city_bound}"
    portals.national_url = f"http://{shown}:{national_bound}"
    portals.runners = (city_runner, national_runner)
    return portals
