"""Reconciliation through the real store, mocks and queue: auto-resolution, write-back, operator
resolutions feeding the corrected record, and the periodic sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.base import Connector
from connectors.dataset import Dataset
from connectors.mockserver import MockPortals
from connectors.national import mock as national_mock
from connectors.national.client import NationalConnector
from reconcile.compare import MismatchKind
from syncd.config import Config
from syncd.queue import MismatchQueue
from syncd.service import Syncer
from syncd.store import Store
from tests.conftest import make_connectors


async def test_safe_mismatches_are_auto_resolved_and_the_rest_wait_for_operators(
    store: Store, connectors: list[Connector]
) -> None:
    await Syncer(store, connectors).cycle()
    records = await store.mismatches()
    assert records
    for record in records:
        expected = "auto_resolved" if record["auto_resolvable"] else "open"
        assert record["state"] == expected, record["id"]
    assert {r["kind"] for r in records if r["auto_resolvable"]} <= {"missing_national", "status"}


async def test_write_back_pushes_safe_fixes_and_the_portals_then_agree(
    store: Store, portals: MockPortals, config: Config, dataset: Dataset
) -> None:
    city, national = make_connectors(portals, config)
    assert isinstance(national, NationalConnector)
    syncer = Syncer(store, [city, national], pusher=national)
    try:
        await syncer.cycle()
        pushes = await store.writebacks()
        assert pushes
        assert {p["mode"] for p in pushes.values()} <= {"created", "updated"}
        feed = portals.national_app[national_mock.FEED]
        for key, push in pushes.items():
            served = feed.get(push["code"])
            assert served is not None, key
            assert served["TrangThaiHoSo"] == push["status"]
        await syncer.cycle()  # the pushed records come back on the next poll
    finally:
        await city.close()
        await national.close()
    open_safe = [
        r
        for r in await store.mismatches()
        if r["kind"] in ("missing_national", "status") and r.get("detail") in ("", "behind")
    ]
    assert open_safe == []
    assert await store.writebacks() == {}


async def test_an_operators_resolution_becomes_the_corrected_value(
    store: Store, connectors: list[Connector]
) -> None:
    syncer = Syncer(store, connectors)
    await syncer.cycle()
    queue = MismatchQueue(store)
    candidates = [
        r
        for r in await store.mismatches()
        if r["kind"] in ("status", "collapsed_status") and r["state"] == "open"
    ]
    assert candidates
    record = min(candidates, key=lambda r: r["id"])
    key = record["key"]
    await queue.resolve(record["id"], "tester", "accept_national", "the portal is right")
    await syncer.reconcile_pending()
    corrected = (await store.load_corrected([key]))[key]
    assert str(int(corrected.status)) == record["national"]
    resolved = await queue.get(record["id"])
    assert resolved["state"] == "resolved"
    assert resolved["resolution"]["by"] == "tester"


async def test_the_sweep_requeues_everything_once_per_interval(
    store: Store, connectors: list[Connector], dataset: Dataset
) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    syncer = Syncer(store, connectors, clock=lambda: now[0], sweep_interval=timedelta(hours=24))
    await syncer.cycle()
    assert await syncer._sweep_due()
    queued = await syncer.sweep()
    assert queued == len({d.code for d in (*dataset.city, *dataset.national)})
    await syncer.reconcile_pending()
    assert not await syncer._sweep_due()
    fresh = Syncer(store, connectors, clock=lambda: now[0], sweep_interval=timedelta(hours=24))
    assert not await fresh._sweep_due()  # the time of the last sweep is kept in the store
    now[0] += timedelta(hours=25)
    assert await fresh._sweep_due()


async def test_a_migrated_dossier_is_excluded_with_its_reason(
    store: Store, connectors: list[Connector]
) -> None:
    await Syncer(store, connectors).cycle()
    excluded = await store.excluded()
    assert excluded
    assert set(excluded.values()) == {"migrated"}
    migrated = {r["key"] for r in await store.mismatches() if r["kind"] == MismatchKind.MIGRATED}
    assert migrated == set(excluded)
    corrected = await store.load_corrected(sorted(migrated))
    assert set(corrected) == migrated  # kept, with a corrected record, only left out of counts
