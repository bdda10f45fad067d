"""No update is lost, whatever timestamps a portal writes (issue: updates stamped behind the
cursor).

A lagging national record that catches up moves to an older event and carries that event's time,
behind the polling cursor: polling alone never reads it again. The scheduled re-reads do, and
count what they find (late updates); an interrupted re-read resumes where it stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from connectors import scenario as scenario_module
from connectors.mockserver import MockPortals, start_mock_portals
from reconcile.model import VN_TZ, Dossier, Source
from syncd.config import Config
from syncd.service import Reread, Syncer
from syncd.store import Store
from tests.conftest import REDIS_URL, make_connectors
from tests.test_order import outcome

FULL = Reread("full", None, timedelta(days=7))
JUMP = timedelta(seconds=172_800)


@pytest.fixture
async def lagging(config: Config) -> AsyncIterator[MockPortals]:
    """Mocks serving a scenario whose national portal lags on many dossiers."""
    scenario = scenario_module.generate(600, seed=5, kinds=("lag",), city_words=False)
    portals = await start_mock_portals(scenario, config.city_statuses())
    yield portals
    await portals.stop()


async def records(store: Store, source: Source) -> dict[str, Dossier]:
    return {
        d.code: replace(d, native_status="")
        async for d in store.iter_records(f"rec:{source.value}")
    }


async def fresh_sync(portals: MockPortals, config: Config) -> tuple[Store, aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL)
    fresh = Store(client, f"test-{uuid.uuid4().hex[:12]}")
    connectors = make_connectors(portals, config)
    try:
        await Syncer(fresh, connectors).cycle()
    finally:
        for c in connectors:
            await c.close()
    return fresh, client


async def test_after_a_clock_jump_polling_misses_back_dated_updates_and_the_reread_finds_them(
    lagging: MockPortals, config: Config, store: Store
) -> None:
    connectors = make_connectors(lagging, config, overlap=timedelta(seconds=120))
    now = datetime(2026, 11, 28, tzinfo=UTC)
    syncer = Syncer(store, connectors, clock=lambda: now)
    fresh, client = None, None
    try:
        await syncer.cycle()
        assert lagging.at is not None
        assert lagging.set_time(lagging.at + JUMP) > 0
        await syncer.cycle()
        await syncer.cycle()
        fresh, client = await fresh_sync(lagging, config)
        truth = await records(fresh, Source.NATIONAL)
        polled = await records(store, Source.NATIONAL)
        behind = {c for c in truth if polled.get(c) != truth[c]}
        assert behind, "the jump must reveal updates stamped behind the cursor"
        cursor = await store.cursor(Source.NATIONAL)
        assert cursor is not None
        assert all(truth[c].updated_at < cursor.updated_at - timedelta(seconds=120) for c in behind)

        for connector in connectors:
            result = await syncer.reread(connector, FULL)
            assert result.complete
        await syncer.reconcile_pending()

        assert await records(store, Source.NATIONAL) == truth
        assert await records(store, Source.CITY) == await records(fresh, Source.CITY)
        assert await outcome(store) == await outcome(fresh)
        status = await store.status()
        assert int(status["national:late_updates"]) == len(behind)
        assert "city:late_updates" not in status
        assert status["national:full:reread_at"] == now.isoformat()
        assert await store.reread_position(Source.NATIONAL, "full") == (False, None)
    finally:
        for c in connectors:
            await c.close()
        if fresh is not None and client is not None:
            await fresh.delete_all()
            await client.aclose()


async def test_rereads_run_on_their_schedule_and_resume_after_an_interruption(
    lagging: MockPortals, config: Config, store: Store
) -> None:
    now = [datetime(2026, 11, 28, tzinfo=UTC)]
    connectors = make_connectors(lagging, config, page_size=50)
    recent = Reread("recent", timedelta(days=3), timedelta(hours=1))
    syncer = Syncer(store, connectors, clock=lambda: now[0], rereads=(recent, FULL))
    try:
        await syncer.cycle()  # the first poll read everything: the schedules start now
        status = await store.status()
        assert status["city:recent:reread_at"] == now[0].isoformat()
        assert status["national:full:reread_at"] == now[0].isoformat()

        now[0] += timedelta(minutes=30)
        await syncer.cycle()
        assert (await store.status())["city:recent:reread_at"] != now[0].isoformat()

        now[0] += timedelta(minutes=31)
        await syncer.cycle()
        status = await store.status()
        assert status["city:recent:reread_at"] == now[0].isoformat()
        assert status["national:recent:reread_at"] == now[0].isoformat()
        assert status["national:full:reread_at"] != now[0].isoformat()

        # A full re-read stopped after its first page keeps its position and resumes from it.
        national = connectors[1]
        pages: list[int] = []
        original = store.upsert

        async def stop_after_first_page(*args: object, **kwargs: object) -> int:
            written = await original(*args, **kwargs)  # type: ignore[arg-type]
            pages.append(1)
            syncer.stopping.set()
            return written

        store.upsert = stop_after_first_page  # type: ignore[method-assign]
        stopped = await syncer.reread(national, FULL)
        store.upsert = original  # type: ignore[method-assign]
        assert not stopped.complete
        under_way, position = await store.reread_position(Source.NATIONAL, "full")
        assert under_way
        assert position is not None
        syncer.stopping.clear()
        resumed = await syncer.reread(national, FULL)
        assert resumed.complete
        assert resumed.received < await store.count(Source.NATIONAL)  # not from the start
        assert await store.reread_position(Source.NATIONAL, "full") == (False, None)
    finally:
        for c in connectors:
            await c.close()


async def test_the_count_check_reads_again_only_the_days_whose_counts_differ(
    lagging: MockPortals, config: Config, store: Store
) -> None:
    connectors = make_connectors(lagging, config, overlap=timedelta(seconds=120))
    national = connectors[1]
    now = datetime(2026, 11, 28, tzinfo=UTC)
    syncer = Syncer(store, connectors, clock=lambda: now)
    fresh, client = None, None
    counts = Reread("counts", timedelta(days=62), timedelta(minutes=30), by_counts=True)
    try:
        await syncer.cycle()
        # Nothing moved: every day agrees, nothing is read.
        quiet = await syncer.reread_by_counts(national, counts)
        assert (quiet.complete, quiet.received) == (True, 0)
        assert (await store.status())["national:counts:days_differing"] == "0"

        assert lagging.at is not None
        assert lagging.set_time(lagging.at + JUMP) > 0
        await syncer.cycle()
        fresh, client = await fresh_sync(lagging, config)
        truth = await records(fresh, Source.NATIONAL)
        polled = await records(store, Source.NATIONAL)

        def day(d: Dossier) -> object:
            return d.updated_at.astimezone(VN_TZ).date()

        # Records polling missed that appeared, or moved to another day, behind the cursor.
        moved = {c for c in truth if c not in polled or day(polled[c]) != day(truth[c])}
        assert moved, "the jump must bring changes stamped on other days, behind the cursor"

        found = await syncer.reread_by_counts(national, counts)
        assert found.complete
        assert found.written >= len(moved)
        assert found.received < len(truth)  # only the days that differ were read
        after = await records(store, Source.NATIONAL)
        assert all(after[c] == truth[c] for c in moved)
        status = await store.status()
        assert int(status["national:counts:days_differing"]) > 0
        assert int(status["national:late_updates"]) >= len(moved)
        # The day index of the store agrees with the portal's counts again.
        days = sorted({truth[c].updated_at.astimezone(VN_TZ).date() for c in truth})
        stored = await store.day_counts(Source.NATIONAL, days)
        served = await fresh.day_counts(Source.NATIONAL, days)
        assert stored == served
    finally:
        for c in connectors:
            await c.close()
        if fresh is not None and client is not None:
            await fresh.delete_all()
            await client.aclose()
