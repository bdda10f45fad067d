"""Run both mock portals on loopback (or any host) from one dataset."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from connectors.city import mock as city_mock
from connectors.dataset import AGENCY_CODE, Dataset
from connectors.faults import FaultSettings
from connectors.national import mock as national_mock
from reconcile.statusmap import StatusMap

CITY_API_KEY = "demo-city-key"
NATIONAL_USERNAME = "syncd-demo"
NATIONAL_PASSWORD = "demo-password"


@dataclass
class MockPortals:
    city_url: str
    national_url: str
    runners: tuple[web.AppRunner, ...]

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
        for runner in self.runners:
            await runner.cleanup()


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, runner.addresses[0][1]


async def start_mock_portals(
    dataset: Dataset,
    statuses: StatusMap,
    host: str = "127.0.0.1",
    city_port: int = 0,
    national_port: int = 0,
    faults: FaultSettings | None = None,
) -> MockPortals:
    """Start both mocks; port 0 picks a free port. The credentials are the demo ones above.
    `faults` (none by default) are injected by both, each drawing from its own random source."""
    city_app = city_mock.make_app(dataset, statuses, CITY_API_KEY, faults)
    national_app = national_mock.make_app(
        dataset, NATIONAL_USERNAME, NATIONAL_PASSWORD, AGENCY_CODE, faults=faults
    )
    city_runner, city_bound = await _start(city_app, host, city_port)
    national_runner, national_bound = await _start(national_app, host, national_port)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    return MockPortals(
        f"http://{shown}:{city_bound}",
        f"http://{shown}:{national_bound}",
        (city_runner, national_runner),
    )
