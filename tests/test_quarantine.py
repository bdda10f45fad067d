"""Quarantine that heals itself: one entry per record, automatic retries by code, release when
the record decodes (through a retry, a later poll or a re-read)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from connectors.base import Connector
from connectors.dataset import Dataset
from connectors.fault_settings import FaultSettings
from connectors.faults import FAULTS
from connectors.mockserver import MockPortals
from reconcile.model import Source
from syncd.config import Config
from syncd.service import QUARANTINE_RETRY_BASE, Syncer
from syncd.store import QUARANTINE_FIRST_RETRY_SECONDS, Store
from tests.conftest import UNKNOWN_WORD, Clock, make_connectors

T0 = datetime(2026, 11, 28, 9, tzinfo=UTC)


async def test_a_record_malformed_every_time_keeps_one_entry_and_a_growing_retry_interval(
    store: Store, odd_portals: MockPortals, odd_dataset: Dataset, config: Config
) -> None:
    clock = Clock(T0)
    everything = timedelta(days=3650)  # every poll re-reads the whole feed (an overlap)
    connectors: list[Connector] = list(make_connectors(odd_portals, config, overlap=everything))
    syncer = Syncer(store, connectors, clock=clock)
    try:
        for _ in range(4):
            await syncer.cycle()
            clock.now += timedelta(seconds=10)
        entries = await store.quarantined()
        assert len(entries) == 3 == await store.quarantine_count()
        assert {e["count"] for e in entries} == {"4"}
        assert {e["attempts"] for e in entries} == {"0"}
        first_retry = T0 + timedelta(seconds=QUARANTINE_FIRST_RETRY_SECONDS)
        assert {e["next_retry"] for e in entries} == {first_retry.isoformat()}

        # Due: fetched again by code, still malformed: the next try waits longer.
        clock.now = first_retry + timedelta(seconds=1)
        await syncer.cycle()
        entries = await store.quarantined()
        assert {e["attempts"] for e in entries} == {"1"}
        assert {e["next_retry"] for e in entries} == {
            (clock.now + QUARANTINE_RETRY_BASE * 2).isoformat()
        }
        assert len(entries) == 3

        # The status word is added to the map: the next due retry releases them, stored and
        # reconciled, with nobody running `quarantine retry`.
        words = {**config.status_map.city, UNKNOWN_WORD: 4}
        fixed = replace(config, status_map=replace(config.status_map, city=words))
        await connectors[0].close()
        connectors[0] = make_connectors(odd_portals, fixed, overlap=everything)[0]
        syncer.connectors = connectors  # what a restart with the new map does
        clock.now += QUARANTINE_RETRY_BASE * 2 + timedelta(seconds=1)
        await syncer.cycle()
        assert await store.quarantine_count() == 0
        assert await store.quarantine_counts() == {}
        assert await store.count(Source.CITY) == len(odd_dataset.city)
        odd = [e["code"] for e in entries]
        assert all(await store.redis.hmget(store.key("corrected"), odd))
    finally:
        for c in connectors:
            await c.close()


async def test_records_corrupted_in_a_listing_are_healed_by_their_retry(
    store: Store, portals: MockPortals, dataset: Dataset, config: Config
) -> None:
    faults = portals.national_app[FAULTS]
    faults.settings = FaultSettings(seed=4, malformed_rate=0.1)
    clock = Clock(T0)
    connectors = make_connectors(portals, config)
    syncer = Syncer(store, connectors, clock=clock)
    try:
        await syncer.cycle()
        quarantined = await store.quarantined(1000, Source.NATIONAL)
        coded = [e for e in quarantined if e["code"]]
        assert coded
        assert await store.count(Source.NATIONAL) < len(dataset.national)
        faults.settings = FaultSettings()
        await syncer.cycle()  # the cursor has moved past them: polling alone will not heal
        assert await store.quarantine_count() == len(quarantined)

        clock.now += timedelta(seconds=QUARANTINE_FIRST_RETRY_SECONDS + 1)
        await syncer.cycle()
        left = await store.quarantined(1000)
        assert all(not e["code"] for e in left)  # only records whose code was unreadable
        stored = {d.code async for d in store.iter_records("rec:national")}
        assert {e["code"] for e in coded} <= stored
    finally:
        for c in connectors:
            await c.close()
