"""Mock portals served from a scenario: a clock that moves while clients poll."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest

from connectors import scenario as scenario_module
from connectors.dataset import DEFAULT_NOW
from connectors.mockserver import MockPortals, start_mock_portals
from connectors.national import mock as national_mock
from connectors.national.client import NationalConnector
from reconcile.model import Dossier, Source
from syncd.config import Config
from syncd.service import Syncer
from syncd.store import Store
from tests.commandline import run_cli
from tests.conftest import REDIS_URL, make_connectors
from tests.test_cli import free_port


async def stored(store: Store, source: Source) -> dict[str, Dossier]:
    return {d.code: d async for d in store.iter_records(f"rec:{source.value}")}


def without_native(records: dict[str, Dossier]) -> dict[str, Dossier]:
    """Scenario views leave the city's own status words to the mock."""
    return {code: replace(d, native_status="") for code, d in records.items()}


@pytest.fixture
async def live(config: Config) -> AsyncIterator[tuple[MockPortals, scenario_module.Scenario]]:
    scenario = scenario_module.generate(400, seed=21, city_words=False)
    portals = await start_mock_portals(scenario, config.city_statuses())
    yield portals, scenario
    await portals.stop()


async def test_changes_arriving_between_pages_are_neither_lost_nor_doubled(
    live: tuple[MockPortals, scenario_module.Scenario], config: Config, store: Store
) -> None:
    portals, scenario = live
    later = scenario.now + timedelta(days=2)
    assert scenario.views(later).city != scenario.views(scenario.now).city  # events to come
    connectors = make_connectors(portals, config, page_size=25)
    syncer = Syncer(store, connectors)
    try:
        for connector in connectors:
            pages = 0
            async for page in connector.pages(None):
                await store.upsert(connector.source, page.dossiers, page.cursor, page.rejected)
                pages += 1
                if pages == 3 and portals.at != later:
                    assert portals.set_time(later) > 0  # new events land mid-pass
        assert portals.at == later
        await syncer.cycle()  # the next regular poll
    finally:
        for connector in connectors:
            await connector.close()
    truth = scenario.views(later, salt="")
    assert without_native(await stored(store, Source.CITY)) == {d.code: d for d in truth.city}
    assert await stored(store, Source.NATIONAL) == {d.code: d for d in truth.national}


async def test_the_clock_endpoint_moves_both_portals(
    live: tuple[MockPortals, scenario_module.Scenario],
) -> None:
    portals, scenario = live
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{portals.national_url}/_mock/clock", json={"advance_seconds": 86_400}
        ) as response:
            body = await response.json()
            assert response.status == 200
        assert body["at"] == (scenario.now + timedelta(days=1)).isoformat()
        assert body["changed"] > 0
        assert portals.at == scenario.now + timedelta(days=1)
        async with session.post(
            f"{portals.city_url}/_mock/clock", json={"at": "2024-07-30T10:00:00"}
        ) as response:
            assert response.status == 400
            assert "UTC offset" in (await response.json())["error"]


async def test_a_fixed_dataset_has_no_clock(portals: MockPortals) -> None:
    with pytest.raises(RuntimeError, match="no clock"):
        portals.set_time(DEFAULT_NOW)


async def test_mock_portals_command_serves_a_scenario_with_faults(store: Store) -> None:
    city_port, national_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "mock-portals",
        "--scenario", "scenarios/example.json", "--city-port", str(city_port),
        "--national-port", str(national_port), "--error-rate", "0.3", "--fault-seed", "3",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert "Cổng giả lập đang phục vụ" in line.decode()
        env = {
            "SYNCD_REDIS_URL": REDIS_URL,
            "SYNCD_KEY_PREFIX": store.prefix,
            "SYNCD_CITY_URL": f"http://127.0.0.1:{city_port}",
            "SYNCD_NATIONAL_URL": f"http://127.0.0.1:{national_port}",
        }
        code, _, err = await asyncio.to_thread(run_cli, "run", "--once", env=env)
        assert code == 0, err
        assert '"portal_retry"' in err  # the faults were there, and were retried
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    truth = scenario_module.load("scenarios/example.json").views()
    assert set(await stored(store, Source.CITY)) == {d.code for d in truth.city}
    assert set(await stored(store, Source.NATIONAL)) == {d.code for d in truth.national}


async def test_the_harness_changes_faults_and_the_clock_speed_while_the_mocks_run(
    live: tuple[MockPortals, scenario_module.Scenario],
) -> None:
    portals, _ = live
    async with aiohttp.ClientSession() as http:
        url = f"{portals.national_url}/_mock/faults"
        async with http.post(url, json={"error_rate": 1.0}) as resp:
            assert resp.status == 200
            assert (await resp.json())["settings"]["error_rate"] == 1.0
        async with http.get(f"{portals.city_url}/api/v1/dossiers") as resp:
            assert resp.status in (500, 502, 503)  # both mocks storm now
        async with http.get(url) as resp:
            body = await resp.json()
            assert sum(body["injected"]["city"].values()) == 1
        for bad in ({"error_rate": 2}, {"nonsense": 1}, {"malformed_kinds": ["date"]}, [1]):
            async with http.post(url, json=bad) as resp:
                assert resp.status == 400, bad
        async with http.post(url, json={}) as resp:  # calm again
            assert (await resp.json())["settings"]["error_rate"] == 0.0
        async with http.get(f"{portals.city_url}/healthz") as resp:
            assert resp.status == 200

        clock = f"{portals.city_url}/_mock/clock"
        async with http.post(clock, json={"speed": 3600}) as resp:
            assert (await resp.json())["speed"] == 3600
        assert portals.speed == 3600
        async with http.post(clock, json={"speed": 0}) as resp:
            assert resp.status == 200
        at = portals.at
        await asyncio.sleep(1.2)
        assert portals.at == at  # stopped
        async with http.post(clock, json={"speed": -1}) as resp:
            assert resp.status == 400


async def test_a_record_written_to_the_national_mock_stays_until_its_story_moves_on(
    live: tuple[MockPortals, scenario_module.Scenario], config: Config
) -> None:
    portals, scenario = live
    feed = portals.national_app[national_mock.FEED]
    code, record = sorted(feed.records().items())[0]
    _, national = make_connectors(portals, config)
    assert isinstance(national, NationalConnector)
    try:
        flipped = "1" if record["HoSoCoThanhPhanSoHoa"] == "0" else "0"
        await national.write_record({**record, "HoSoCoThanhPhanSoHoa": flipped}, updating=True)
        written = feed.get(code)
        assert written is not None
        assert written["HoSoCoThanhPhanSoHoa"] == flipped
        later = scenario.now + timedelta(hours=1)
        unchanged = scenario.views(later).national
        assert any(d.code == code for d in unchanged)
        portals.set_time(later)
        assert feed.get(code) == written  # the portal kept what it was sent
    finally:
        await national.close()
