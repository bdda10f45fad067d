"""Latency of the operator API with 100,000 open mismatches in Redis, under 50 concurrent clients.

    .venv/bin/python bench/bench_api.py [--mismatches 100000] [--clients 50] [--requests 2000]
                                        [--redis-url URL] [--keep]

Seeds a fresh key prefix with synthetic decisions applied through `Store.apply` (batches of
1,000 dossiers, one or two mismatches each, every batch detected one second after the one
before), both portals' records of every dossier (`Store.upsert`) and a viewer with an API token.
A child process serves the real application (`make_app` through `syncd.web.server.serving`, on a
free port); this process runs the clients (one aiohttp `ClientSession`, `--clients` requests in
flight at a time) and prints p50, p99 and the throughput of:

- GET /api/v1/mismatches?state=open&limit=50, the first page;
- the same, a deep page (offset = mismatches - 1,000);
- GET /api/v1/dossiers/{key}, one dossier's data (random keys);
- the pages operators open: /mismatches?state=open and /dossiers/{key} (HTML, same token);
- GET /metrics, under the same load, and then one scrape at a time (its Redis reads do not
  depend on the data size).

When the application has no such route yet (the JSON API is written apart from this bench), the
child adds a stand-in with the same access rule, marked "(stand-in)" in the output: for the
list, `MismatchQueue.search` as JSON; for a dossier, its records of both portals, the corrected
record and its mismatches read with the store (no audit history). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reconcile.compare import Decision, Match, MatchMethod, Mismatch, MismatchKind  # noqa: E402
from reconcile.engine import SEVERITY  # noqa: E402
from reconcile.model import VN_TZ, Channel, Dossier, Source, Status  # noqa: E402
from syncd import config as config_module  # noqa: E402
from syncd import logs  # noqa: E402
from syncd.store import Store, WorkItem  # noqa: E402
from syncd.web.app import allow, ctx, make_app  # noqa: E402
from syncd.web.auth import Users  # noqa: E402
from syncd.web.server import serving  # noqa: E402

T0 = datetime(2024, 7, 1, 8, 0, tzinfo=VN_TZ)
BATCH = 1000
LIST = "/api/v1/mismatches"
DOSSIER = "/api/v1/dossiers/{key}"
KINDS = list(MismatchKind)


def key_of(i: int) -> str:
    return f"BENCH{i:07d}"


def record(source: Source, key: str, i: int) -> Dossier:
    return Dossier(
        source=source,
        code=key,
        procedure_code=f"1.{i % 997:06d}",
        field_code=("DT", "TP", "XD")[i % 3],
        channel=Channel.ONLINE if i % 2 else Channel.DIRECT,
        status=Status.PROCESSING if source is Source.CITY else Status.ACCEPTED,
        received_at=T0 - timedelta(days=i % 300),
        updated_at=T0 + timedelta(seconds=i),
    )


def decision_of(i: int) -> Decision:
    key = key_of(i)
    kinds = [KINDS[i % len(KINDS)]] + ([KINDS[(i + 5) % len(KINDS)]] if i % 3 == 0 else [])
    mismatches = tuple(
        Mismatch(key, kind, SEVERITY[kind], f"c{i}", f"n{i}", "", auto_resolvable=False)
        for kind in kinds
    )
    return Decision(
        key=key,
        matches=(Match(key, key, MatchMethod.CODE),),
        corrected=record(Source.CITY, key, i),
        mismatches=mismatches,
    )


async def seed(store: Store, wanted: int) -> int:
    """Apply decisions until `wanted` open mismatches exist; returns the number of dossiers."""
    made = i = 0
    batch_no = 0
    while made < wanted:
        decisions: list[Decision] = []
        while len(decisions) < BATCH and made < wanted:
            d = decision_of(i)
            if made + len(d.mismatches) > wanted:
                d = Decision(d.key, d.matches, d.corrected, d.mismatches[:1])
            decisions.append(d)
            made += len(d.mismatches)
            i += 1
        for source in (Source.CITY, Source.NATIONAL):
            await store.upsert(
                source, [record(source, d.key, int(d.key[5:])) for d in decisions], None
            )
        await store.apply(decisions, WorkItem((), ()), T0 + timedelta(seconds=batch_no))
        batch_no += 1
    # The upserts queued every code for reconciliation: nothing here reconciles.
    await store.redis.delete(store.key("dirty"), store.key("work"))
    return i


def has_route(app: web.Application, path: str) -> bool:
    return any(r.canonical == path for r in app.router.resources())


@allow("viewer")
async def stand_in_list(request: web.Request) -> web.Response:
    q = request.query
    found = await ctx(request).queue.search(
        q.get("kind"),
        q.get("state"),
        q.get("field"),
        int(q.get("limit", 50)),
        int(q.get("offset", 0)),
    )
    return web.json_response({"items": found.items, "total": found.total})


@allow("viewer")
async def stand_in_dossier(request: web.Request) -> web.Response:
    store = ctx(request).store
    key = request.match_info["key"]
    city, national = await store.load_both([key])
    corrected = (await store.load_corrected([key])).get(key)
    records = await store.mismatch_records([f"{key}|{k.value}" for k in KINDS])
    return web.json_response(
        {
            "city": [repr(d) for d in city.values()],
            "national": [repr(d) for d in national.values()],
            "corrected": repr(corrected) if corrected else None,
            "mismatches": list(records.values()),
        }
    )


def serve_child(redis_url: str, prefix: str, out: Any, stop: Any) -> None:
    logs.configure("console", "critical")  # failures are counted by the clients

    async def main() -> None:
        client = aioredis.from_url(redis_url)
        store = Store(client, prefix)
        app = make_app(store, config_module.load(env={}))
        stand_ins = []
        if not has_route(app, LIST):
            app.router.add_get(LIST, stand_in_list)
            stand_ins.append(LIST)
        if not has_route(app, DOSSIER):
            app.router.add_get(DOSSIER, stand_in_dossier)
            stand_ins.append(DOSSIER)
        async with serving(app, "127.0.0.1", 0) as url:
            out.send((url, stand_ins))
            await asyncio.to_thread(stop.wait)
        await client.aclose()

    asyncio.run(main())


async def measure(
    session: aiohttp.ClientSession, urls: list[str], clients: int, token: str
) -> tuple[list[float], float, int]:
    """Latencies (seconds) of GETs of `urls`, `clients` at a time; wall time; failures."""
    pending = iter(urls)
    latencies: list[float] = []
    failures = 0
    headers = {"Authorization": f"Bearer {token}"}

    async def worker() -> None:
        nonlocal failures
        for url in pending:
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    failures += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, time.perf_counter() - started, failures


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    prefix = f"bench-api-{uuid.uuid4().hex[:8]}"
    client = aioredis.from_url(args.redis_url)
    store = Store(client, prefix)
    try:
        await bench(args, store)
    finally:
        if not args.keep:
            await store.delete_all()
        await client.aclose()


async def bench(args: argparse.Namespace, store: Store) -> None:
    started = time.perf_counter()
    dossiers = await seed(store, args.mismatches)
    open_count = await store.redis.scard(store.key("mismatch", "open"))
    print(
        f"seeded {open_count:,} open mismatches on {dossiers:,} dossiers "
        f"in {time.perf_counter() - started:.1f}s (prefix {store.prefix})"
    )
    users = Users(store)
    await users.add("bench", "viewer", "bench-password-1")
    token = await users.add_token("bench", "bench")

    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    stop = context.Event()
    child = context.Process(target=serve_child, args=(args.redis_url, store.prefix, send, stop))
    child.start()
    try:
        while not receive.poll(0.5):
            if not child.is_alive():
                raise RuntimeError("the server process failed (see above)")
        base, stand_ins = receive.recv()
        rng = random.Random(7)
        deep = max(0, args.mismatches - 1000)
        cases = {
            "mismatches?state=open, first page": [f"{base}{LIST}?state=open&limit=50"]
            * args.requests,
            f"mismatches?state=open, offset {deep:,}": [
                f"{base}{LIST}?state=open&limit=50&offset={deep}"
            ]
            * args.requests,
            "dossiers/{key}": [
                f"{base}{DOSSIER.format(key=key_of(rng.randrange(dossiers)))}"
                for _ in range(args.requests)
            ],
            "page /mismatches?state=open (HTML)": [f"{base}/mismatches?state=open"] * args.requests,
            "page /dossiers/{key} (HTML)": [
                f"{base}/dossiers/{key_of(rng.randrange(dossiers))}" for _ in range(args.requests)
            ],
            "metrics": [f"{base}/metrics"] * args.requests,
        }
        connector = aiohttp.TCPConnector(limit=args.clients)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(
                f"{base}{LIST}?state=open&limit=1", headers={"Authorization": f"Bearer {token}"}
            ) as response:
                body = await response.json()
                print(f"GET {LIST}?state=open: HTTP {response.status}, total {body.get('total')}")
            print(f"{args.clients} concurrent clients, {args.requests} requests per case")
            for name, urls in cases.items():
                await measure(session, urls[: args.clients], args.clients, token)  # warm-up
                latencies, wall, failures = await measure(session, urls, args.clients, token)
                route = LIST if name.startswith("mismatches") else DOSSIER if "{" in name else ""
                note = " (stand-in)" if route in stand_ins else ""
                print(
                    f"  {name + note:<48} p50 {percentile(latencies, 50) * 1000:8.1f} ms   "
                    f"p99 {percentile(latencies, 99) * 1000:8.1f} ms   "
                    f"mean {statistics.fmean(latencies) * 1000:8.1f} ms   "
                    f"{len(latencies) / wall:7.1f} req/s"
                    + (f"   {failures} failed" if failures else "")
                )
            latencies, _, _ = await measure(session, [f"{base}/metrics"] * 50, 1, token)
            print(
                f"  {'metrics, one client':<48} p50 {percentile(latencies, 50) * 1000:8.1f} ms   "
                f"p99 {percentile(latencies, 99) * 1000:8.1f} ms"
            )
    finally:
        stop.set()
        child.join(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mismatches", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--keep", action="store_true", help="leave the seeded keys in Redis")
    args = parser.parse_args()
    logs.configure("console", "warning")
    print(json.dumps({k: v for k, v in vars(args).items() if k != "redis_url"}))
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
