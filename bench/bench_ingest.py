"""Ingest throughput: both mock portals -> connectors -> Redis, against a bare floor.

    .venv/bin/python bench/bench_ingest.py [--sizes 10000 100000] [--redis-url URL]

For each size N, `syncd mock-portals --dossiers N` runs in its own process (so that serving JSON
does not share this process's core), then:

- syncd: a full first poll of both portals through the real connectors and store (pages of 500,
  decode, validation, idempotent upsert script, cursor, work queue);
- floor: the same pages fetched with a bare aiohttp session and written as raw JSON blobs with one
  pipelined HSET per page, no parsing, no logic.

Prints dossiers per second for both, their ratio, and this process's peak RSS. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.city.client import CityConnector, CitySettings  # noqa: E402
from connectors.dataset import AGENCY_CODE  # noqa: E402
from connectors.http import HttpSettings  # noqa: E402
from connectors.mockserver import CITY_API_KEY, NATIONAL_PASSWORD, NATIONAL_USERNAME  # noqa: E402
from connectors.national.client import NationalConnector, NationalSettings  # noqa: E402
from syncd import config as config_module  # noqa: E402
from syncd.service import Syncer  # noqa: E402
from syncd.store import Store  # noqa: E402

PAGE = 500
UNLIMITED = HttpSettings(rate_per_second=100_000, max_concurrency=8, timeout_seconds=120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_mocks(dossiers: int) -> tuple[asyncio.subprocess.Process, str, str]:
    city_port, national_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncd", "--lang", "en", "mock-portals",
        "--dossiers", str(dossiers), "--city-port", str(city_port),
        "--national-port", str(national_port),
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "SYNCD_LOG_LEVEL": "warning"},
    )  # fmt: skip
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), timeout=600)
    if b"Mock portals serving" not in line:
        raise RuntimeError(f"mock portals did not start: {line!r}")
    return process, f"http://127.0.0.1:{city_port}", f"http://127.0.0.1:{national_port}"


async def syncd_ingest(store: Store, city_url: str, national_url: str) -> tuple[int, float]:
    config = config_module.load(env={})
    connectors = [
        CityConnector(
            CitySettings(city_url, CITY_API_KEY, PAGE, UNLIMITED), config.city_statuses()
        ),
        NationalConnector(
            NationalSettings(
                national_url, NATIONAL_USERNAME, NATIONAL_PASSWORD, AGENCY_CODE, PAGE, UNLIMITED
            )
        ),
    ]
    syncer = Syncer(store, connectors)
    started = time.perf_counter()
    polls = await asyncio.gather(*(syncer.poll(c) for c in connectors))
    elapsed = time.perf_counter() - started
    for c in connectors:
        await c.close()
    for poll in polls:
        if poll.error:
            raise RuntimeError(poll.error)
    return sum(p.received for p in polls), elapsed


async def floor_ingest(
    client: Any, prefix: str, city_url: str, national_url: str
) -> tuple[int, float]:
    async def city(session: aiohttp.ClientSession) -> int:
        count, params = 0, {"pageSize": str(PAGE)}
        while True:
            async with session.get(
                f"{city_url}/api/v1/dossiers", params=params, headers={"X-Api-Key": CITY_API_KEY}
            ) as response:
                body = orjson.loads(await response.read())
            items = body["items"]
            if items:
                await client.hset(
                    f"{prefix}:city",
                    mapping={item["dossierNo"]: orjson.dumps(item) for item in items},
                )
            count += len(items)
            if not body["nextPageToken"]:
                return count
            params["pageToken"] = body["nextPageToken"]

    async def national(session: aiohttp.ClientSession) -> int:
        async with session.post(
            f"{national_url}/api/login",
            json={"username": NATIONAL_USERNAME, "password": NATIONAL_PASSWORD},
        ) as response:
            token = (await response.json())["session"]
        count, page = 0, 1
        while True:
            async with session.post(
                f"{national_url}/api/service",
                json={
                    "session": token,
                    "madonvi": AGENCY_CODE,
                    "service": "LayDanhSachHoSo",
                    "TuNgay": "",
                    "Trang": page,
                    "SoBanGhi": PAGE,
                },
            ) as response:
                body = orjson.loads(await response.read())
            data = body["data"]
            if data:
                await client.hset(
                    f"{prefix}:national",
                    mapping={item["MaHoSo"]: orjson.dumps(item) for item in data},
                )
            count += len(data)
            if len(data) < PAGE:
                return count
            page += 1

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        counts = await asyncio.gather(city(session), national(session))
        return sum(counts), time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    client = aioredis.from_url(args.redis_url)
    for size in args.sizes:
        process, city_url, national_url = await start_mocks(size)
        try:
            store = Store(client, f"bench-{uuid.uuid4().hex[:8]}")
            floor_prefix = f"bench-floor-{uuid.uuid4().hex[:8]}"
            floor_count, floor_seconds = await floor_ingest(
                client, floor_prefix, city_url, national_url
            )
            count, seconds = await syncd_ingest(store, city_url, national_url)
            await store.delete_all()
            await client.delete(f"{floor_prefix}:city", f"{floor_prefix}:national")
        finally:
            process.terminate()
            await process.wait()
        syncd_rate, floor_rate = count / seconds, floor_count / floor_seconds
        print(f"{size:>7} dossiers ({count} records from both portals):")
        print(f"   syncd  {syncd_rate:>9,.0f} records/s  ({seconds:.2f}s)")
        print(f"   floor  {floor_rate:>9,.0f} records/s  ({floor_seconds:.2f}s)")
        print(f"   syncd / floor = {syncd_rate / floor_rate:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:,.0f} MiB")
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
