"""Reconciliation is a pure function of the stored records (ARCHITECTURE.md, invariant 9).

Whatever order records arrive in, in whatever pages, whichever code is queued first, however the
work is cut into batches, wherever a reconciler dies with work in hand and however many take
part, the store must end with the same corrected records, dossier keys, mismatches, exclusions,
matches and period index as a reconcile of everything at once. Checked here with hypothesis over
records that share codes, alternate codes and fingerprints in every combination, through the
real store on the real Redis; a sweep over unchanged data must change nothing at all.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import Connector
from reconcile.model import Dossier, Source
from syncd.service import Syncer
from syncd.store import Store
from tests.conftest import REDIS_URL
from tests.strategies import dossiers, identities

T0 = datetime(2024, 7, 25, 9, tzinfo=UTC)

# A small pool of codes, used as codes and as alternate codes, and of identities: records of a
# draw link to each other in chains, stars and cycles, across sides and within one.
_POOL = tuple(f"000.00.45.H26-2407{day:02d}-{n:04d}" for day in (1, 2) for n in range(4))


@st.composite
def _record(draw: st.DrawFn, source: Source, code: str) -> Dossier:
    d = draw(dossiers(source, min_day=date(2024, 6, 28), max_day=date(2024, 7, 3)))
    return replace(
        d,
        code=code,
        alt_codes=tuple(draw(st.lists(st.sampled_from(_POOL), max_size=2, unique=True))),
        procedure_code=draw(st.sampled_from(("1.009876", "2.001234"))),
        identity=draw(identities),
        updated_at=T0 - timedelta(days=2),
    )


@st.composite
def _side(draw: st.DrawFn, source: Source) -> list[Dossier]:
    codes = draw(st.lists(st.sampled_from(_POOL), max_size=6, unique=True))
    return [draw(_record(source, code)) for code in codes]


@st.composite
def _world(draw: st.DrawFn) -> tuple[list[Dossier], list[Dossier], list[Dossier]]:
    """Both portals' records, and newer versions of some of them (updates arriving later)."""
    city, national = draw(_side(Source.CITY)), draw(_side(Source.NATIONAL))
    updates = []
    for d in (*city, *national):
        if draw(st.booleans()) and draw(st.booleans()):
            newer = draw(_record(d.source, d.code))
            updates.append(replace(newer, updated_at=T0 - timedelta(days=1)))
    return city, national, updates


def _finals(city: list[Dossier], national: list[Dossier], updates: list[Dossier]) -> list[Dossier]:
    latest = {(d.source, d.code): d for d in (*city, *national, *updates)}
    return list(latest.values())


async def outcome(store: Store) -> dict[str, Any]:
    """Everything reconciliation derives, less history: corrected records, exclusions, matches,
    the kinds and the present mismatches (values, detail, severity, state), the period index,
    the dossiers waiting for a complete view, and the deadline flags."""
    r = store.redis
    out: dict[str, Any] = {}
    for name in ("corrected", "excluded", "match", "mismatch:kinds", "pidx:span", "flags"):
        raw: Any = await r.hgetall(store.key(*name.split(":")))
        out[name] = {k.decode(): v.decode() for k, v in raw.items()}
    present = {}
    for record in await store.mismatches():
        fields = ("city", "national", "detail", "severity", "state", "city_code", "national_code")
        present[record["id"]] = {f: record.get(f) for f in fields}
    out["mismatches"] = present
    for source in Source:
        members: Any = await r.smembers(store.key("pending", source.value))
        out[f"pending:{source.value}"] = sorted(m.decode() for m in members)
    return out


async def _all_at_once(store: Store, records: Sequence[Dossier]) -> dict[str, Any]:
    for source in Source:
        await store.upsert(source, [d for d in records if d.source is source], None, now=T0)
        await store.mark_read(source, True, T0)
    syncer = Syncer(store, [], batch=5_000, clock=lambda: T0)
    await syncer.reconcile_pending()
    return await outcome(store)


async def _piecemeal(
    store: Store,
    world: tuple[list[Dossier], list[Dossier], list[Dossier]],
    rng: random.Random,
) -> dict[str, Any]:
    """The same records through pages in random order and sizes, updates after, reconcile
    batches of random sizes in between, reconcilers dying with work in hand and others
    finishing it, on-demand reconciles of random codes, and a view completed late."""
    city, national, updates = world
    arrivals = [*city, *national]
    rng.shuffle(arrivals)
    arrivals += updates
    complete: set[Source] = set()
    consumers = [f"worker-{n}" for n in range(3)]
    while arrivals:
        size = rng.randint(1, 4)
        page, arrivals = arrivals[:size], arrivals[size:]
        for source in Source:
            part = [d for d in page if d.source is source]
            if part:
                await store.upsert(source, part, None, now=T0)
        if rng.random() < 0.3 and len(complete) < 2:
            source = rng.choice([s for s in Source if s not in complete])
            complete.add(source)
            await store.mark_read(source, True, T0)
        await store.ensure_group()
        action = rng.random()
        worker = Syncer(store, [], batch=rng.randint(1, 6), consumer=rng.choice(consumers))
        worker.clock = lambda: T0
        if action < 0.2:
            await store.take_work(f"dead-{rng.randint(0, 9)}", rng.randint(1, 5))  # dies
        elif action < 0.4:
            work = await store.take_work(worker.consumer, worker.batch, reclaim_idle_ms=0)
            if work.entry_ids:
                await worker._reconcile(work.codes, work)
        elif action < 0.5:
            codes = rng.sample(_POOL, rng.randint(1, 3))
            await worker.reconcile_codes(codes)
    for source in Source:
        await store.mark_read(source, True, T0)
    await store.ensure_group()
    # The rest of the work, taken over from the dead ones.
    while True:
        work = await store.take_work("last", 3, reclaim_idle_ms=0)
        if not work.entry_ids:
            break
        finisher = Syncer(store, [], batch=3, consumer="last", clock=lambda: T0)
        await finisher._reconcile(work.codes, work)
    return await outcome(store)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_world(), st.randoms(use_true_random=False))
def test_any_order_partition_and_crash_gives_the_result_of_everything_at_once(
    world: tuple[list[Dossier], list[Dossier], list[Dossier]], rng: random.Random
) -> None:
    asyncio.run(_compare(world, rng))


async def _compare(
    world: tuple[list[Dossier], list[Dossier], list[Dossier]], rng: random.Random
) -> None:
    client = aioredis.from_url(REDIS_URL)
    reference = Store(client, f"test-{uuid.uuid4().hex[:12]}")
    trial = Store(client, f"test-{uuid.uuid4().hex[:12]}")
    try:
        expected = await _all_at_once(reference, _finals(*world))
        assert await _piecemeal(trial, world, rng) == expected
        # A sweep over unchanged data changes nothing (history included).
        before = await trial.redis.xlen(trial.key("audit"))
        sweeper = Syncer(trial, [], batch=rng.randint(1, 7), clock=lambda: T0)
        await sweeper.sweep()
        await sweeper.reconcile_pending()
        assert await outcome(trial) == expected
        assert await trial.redis.xlen(trial.key("audit")) == before
    finally:
        await reference.delete_all()
        await trial.delete_all()
        await client.aclose()


async def test_a_sweep_after_a_sync_changes_nothing(
    store: Store, connectors: list[Connector]
) -> None:
    """Against the mock portals: after a sync, a full sweep writes no mismatch, no audit entry,
    no record and no report cell; only the mismatches' `last_seen_at` moves."""
    syncer = Syncer(store, connectors, batch=37)
    await syncer.cycle()
    before = await outcome(store)
    records = await _mismatch_records(store)
    audit = await store.redis.xlen(store.key("audit"))
    assert before["mismatches"]
    await syncer.sweep()
    await syncer.reconcile_pending()
    assert await outcome(store) == before
    assert await store.redis.xlen(store.key("audit")) == audit
    assert await _mismatch_records(store) == records


async def _mismatch_records(store: Store) -> dict[str, Any]:
    raw: Any = await store.redis.hgetall(store.key("mismatch"))
    records = {k.decode(): json.loads(v) for k, v in raw.items()}
    for record in records.values():
        record.pop("last_seen_at", None)
    return records
