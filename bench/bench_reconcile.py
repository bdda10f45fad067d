"""Reconcile throughput on dossier pairs already in Redis, and datacompy as the peer.

    .venv/bin/python bench/bench_reconcile.py [--sizes 100000 1000000] [--redis-url URL]

For each size N a child process generates a scenario of N dossiers and writes both portals'
views into a fresh key prefix (so this process's memory holds only what reconciling needs).
Then, in this process:

- full reconcile: every queued dossier through the engine and the store (batches of 500);
- incremental: 1% of the city records change, and are reconciled again;
- peer: both sides exported from Redis into pandas data frames and compared with datacompy on
  the dossier code (export and comparison timed apart). datacompy compares rows by one key and
  column by column; syncd also matches by alternate code and fingerprint, keeps a queue and
  writes the results, so the two are peers in data volume, not in work done.

Prints figures and this process's peak RSS after each step; asserts nothing. Needs pandas and
datacompy (`pip install pandas datacompy`), which the project itself does not depend on.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.scenario import generate  # noqa: E402
from reconcile.model import Source, local_date  # noqa: E402
from syncd import logs  # noqa: E402
from syncd.service import Syncer  # noqa: E402
from syncd.store import Store  # noqa: E402

PAGE = 500


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def load(url: str, prefix: str, size: int) -> None:
    """Child process: generate and write both sides, pages of PAGE."""
    scenario = generate(size, seed=5, city_words=False)
    data = scenario.views(scenario.now, salt="")
    store = Store(aioredis.from_url(url), prefix)
    for source, records in ((Source.CITY, data.city), (Source.NATIONAL, data.national)):
        for start in range(0, len(records), PAGE):
            await store.upsert(source, records[start : start + PAGE], None)
    await store.redis.aclose()


def frame(records: list, source: str):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.DataFrame(
        {
            "code": [d.code for d in records],
            "status": [int(d.status) for d in records],
            "channel": [int(d.channel) for d in records],
            "procedure": [d.procedure_code for d in records],
            "field": [d.field_code for d in records],
            "received": [local_date(d.received_at) for d in records],
            "due": [local_date(d.due_at) if d.due_at else None for d in records],
            "finished": [local_date(d.finished_at) if d.finished_at else None for d in records],
        }
    )


async def measure(url: str, size: int) -> None:
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--load", str(size), "--prefix", prefix, "--redis-url", url
    )
    if await child.wait():
        raise RuntimeError("loading failed")
    loaded = time.perf_counter() - started
    print(f"{size:>9,} dossiers: generated and loaded by a child in {loaded:.0f}s")
    client = aioredis.from_url(url)
    store = Store(client, prefix)
    try:
        syncer = Syncer(store, [], batch=PAGE)
        before = peak_mib()
        started = time.perf_counter()
        reconciled, mismatches = await syncer.reconcile_pending()
        elapsed = time.perf_counter() - started
        print(
            f"   full reconcile: {reconciled:,} dossiers in {elapsed:.1f}s = "
            f"{reconciled / elapsed:,.0f}/s, {mismatches:,} mismatches; "
            f"peak RSS {peak_mib():,.0f} MiB (before {before:,.0f} MiB)"
        )

        city_codes = []
        async for chunk in store.all_codes(Source.CITY):
            city_codes.extend(chunk)
            if len(city_codes) >= size // 100:
                break
        changed = [
            replace(d, updated_at=d.updated_at + timedelta(seconds=1))
            for d in (await store.load(Source.CITY, city_codes[: size // 100])).values()
        ]
        started = time.perf_counter()
        for start in range(0, len(changed), PAGE):
            await store.upsert(Source.CITY, changed[start : start + PAGE], None)
        reconciled, _ = await syncer.reconcile_pending()
        print(
            f"   incremental (1% changed): {reconciled:,} dossiers upserted and reconciled in "
            f"{time.perf_counter() - started:.2f}s"
        )

        try:
            import datacompy
        except ImportError:
            print("   datacompy: not installed (pip install pandas datacompy)")
            return
        started = time.perf_counter()
        city = [d async for d in store.iter_records("rec:city")]
        national = [d async for d in store.iter_records("rec:national")]
        left, right = frame(city, "city"), frame(national, "national")
        del city, national
        exported = time.perf_counter() - started
        started = time.perf_counter()
        comparison = datacompy.PandasCompare(
            left, right, join_columns="code", df1_name="city", df2_name="national"
        )
        differing = len(comparison.all_mismatch())
        compared = time.perf_counter() - started
        print(
            f"   datacompy: export to data frames {exported:.1f}s, compare {compared:.1f}s "
            f"({differing:,} rows differ, {len(comparison.df1_unq_rows):,} only in city, "
            f"{len(comparison.df2_unq_rows):,} only in national); peak RSS {peak_mib():,.0f} MiB"
        )
    finally:
        await store.delete_all()
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logs.configure("console", "warning")
    if args.load:
        asyncio.run(load(args.redis_url, args.prefix, args.load))
        return
    for size in args.sizes:
        asyncio.run(measure(args.redis_url, size))


if __name__ == "__main__":
    main()
