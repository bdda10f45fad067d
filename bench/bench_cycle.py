"""Throughput of the store and the reconcile loop on a real Redis. Prints figures; asserts nothing.

    .venv/bin/python bench/bench_cycle.py [--dossiers 100000] [--redis-url redis://127.0.0.1:6379/0]

Without --redis-url it uses an embedded redis-server in a temporary directory (what a laptop
runs). Keys go under a throw-away prefix that is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.base import Cursor
from connectors.dataset import generate
from reconcile.model import Source
from reconcile.period import Period
from syncd.embedded import EmbeddedRedis
from syncd.reports import ReportSettings, gather
from syncd.service import Syncer
from syncd.store import Store

PAGE = 500


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()

    started = time.perf_counter()
    data = generate(args.dossiers, seed=3)
    print(
        f"dataset: {len(data.city)} city + {len(data.national)} national records "
        f"generated in {time.perf_counter() - started:.1f}s"
    )

    async with AsyncExitStack() as stack:
        url = args.redis_url or await stack.enter_async_context(
            EmbeddedRedis(tempfile.mkdtemp(prefix="syncd-bench-"))
        )
        client = aioredis.from_url(url)
        stack.push_async_callback(client.aclose)
        store = Store(client, f"bench-{uuid.uuid4().hex[:8]}")
        stack.push_async_callback(store.delete_all)
        print(f"redis: {url}")

        for source, records in ((Source.CITY, data.city), (Source.NATIONAL, data.national)):
            ordered = sorted(records, key=lambda d: (d.updated_at, d.code))
            t0 = time.perf_counter()
            for i in range(0, len(ordered), PAGE):
                page = ordered[i : i + PAGE]
                await store.upsert(source, page, Cursor(page[-1].updated_at, page[-1].code))
            elapsed = time.perf_counter() - t0
            print(
                f"upsert {source.value}: {len(ordered) / elapsed:,.0f} records/s "
                f"(pages of {PAGE}, one script call each)"
            )
        t0 = time.perf_counter()
        for i in range(0, len(data.city), PAGE):
            await store.upsert(Source.CITY, data.city[i : i + PAGE], None)
        print(
            f"replay city (nothing newer): {len(data.city) / (time.perf_counter() - t0):,.0f} "
            "records/s"
        )

        syncer = Syncer(store, [], batch=PAGE)
        t0 = time.perf_counter()
        reconciled, mismatches = await syncer.reconcile_pending()
        elapsed = time.perf_counter() - t0
        print(
            f"reconcile: {reconciled:,} dossiers in {elapsed:.2f}s = "
            f"{reconciled / elapsed:,.0f} dossiers/s ({mismatches:,} mismatches)"
        )

        changed = [
            replace(d, updated_at=d.updated_at.replace(second=30))
            for d in data.city[: max(1, len(data.city) // 100)]
        ]
        t0 = time.perf_counter()
        await store.upsert(Source.CITY, changed, None)
        reconciled, _ = await syncer.reconcile_pending()
        print(
            f"incremental, 1% changed: {reconciled:,} dossiers upserted and reconciled in "
            f"{time.perf_counter() - t0:.3f}s"
        )

        t0 = time.perf_counter()
        settings = ReportSettings("bench", "bench", "bench", 20, {})
        await gather(store, Period.parse("2024-07"), settings, datetime.now(UTC))
        print(f"report (corrected + both raw sides, streamed): {time.perf_counter() - t0:.2f}s")
        memory = await client.info("memory")
        print(
            f"redis used_memory: {memory['used_memory'] / 2**20:,.1f} MiB; "
            f"process peak RSS: {rss_mib():,.0f} MiB"
        )


if __name__ == "__main__":
    asyncio.run(main())
