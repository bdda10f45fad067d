"""Reconciliation through the real store, mocks and queue: auto-resolution, write-back, operator
resolutions feeding the corrected record, and the periodic sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.base import Connector
from connectors.dataset import Dataset
from reconcile.compare import MismatchKind
from syncd.queue import MismatchQueue
from syncd.service import Syncer
from syncd.store import Store


async def test_in_a_dry_run_safe_mismatches_wait_for_operators_and_the_outbox_shows_the_plan(
    store: Store, connectors: list[Connector]
) -> None:
    await Syncer(store, connectors).cycle()
    records = await store.mismatches()
    assert records
    assert {r["state"] for r in records} == {"open"}
    safe = {r["key"] for r in records if r["auto_resolvable"]}
    assert {r["kind"] for r in records if r["auto_resolvable"]} == {"missing_national", "status"}
    entries = await store.outbox.entries()
    assert {e["key"] for e in entries} == safe
    assert {e["state"] for e in entries} == {"dry_run"}


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
