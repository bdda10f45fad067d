"""Several `syncd run` processes on one prefix: one polls each portal, the others stand by.

Real processes against the real mocks and Redis: the standby polls nothing, says so in its log
and on /readyz, takes over within two lease periods when the holder is killed with -9, and the
end state is one daemon's. A process starting right after a crash claims the dead one's
unacknowledged work at once instead of waiting out the stream's idle time.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import uuid
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

from connectors.mockserver import MockPortals
from syncd.store import GROUP, Store
from tests.commandline import run_cli
from tests.test_cli import Daemon, free_port, start_daemon
from tests.test_order import outcome

LEASE = 2.0


def daemon_config(tmp_path: Path) -> Path:
    path = tmp_path / "replica.toml"
    path.write_text(
        f"[runtime]\nlease_seconds = {LEASE}\npoll_interval_seconds = 0.3\n", encoding="utf-8"
    )
    return path


def cycles(daemon: Daemon) -> list[dict[str, object]]:
    return [json.loads(line) for line in daemon.lines if '"cycle_done"' in line]


async def roles(port: int) -> dict[str, dict[str, str]]:
    """Each portal's poller as /readyz of the daemon on `port` tells it."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/readyz") as resp,
    ):
        body: dict[str, dict[str, dict[str, str]]] = await resp.json()
        return body["pollers"]


async def test_one_daemon_polls_the_other_stands_by_and_takes_over_after_kill_9(
    daemon_env: dict[str, str],
    prefixed_store: Store,
    redis_client: aioredis.Redis,
    portals: MockPortals,
    tmp_path: Path,
) -> None:
    config = str(daemon_config(tmp_path))
    ports = free_port(), free_port()
    first = await start_daemon(
        {**daemon_env, "SYNCD_CONFIG": config, "SYNCD_HTTP_PORT": str(ports[0])}
    )
    second: Daemon | None = None
    try:
        await first.wait_for('"cycle_done"')
        second = await start_daemon(
            {**daemon_env, "SYNCD_CONFIG": config, "SYNCD_HTTP_PORT": str(ports[1])}
        )
        await second.wait_for('"cycle_done"', times=3)
        assert second.count('"standby"') >= 3
        assert second.count('"lease_acquired"') == 0
        # The standby polls nothing: its cycles name no portal.
        assert all("city" not in c and "national" not in c for c in cycles(second))
        holder = f"{socket.gethostname()}-{first.process.pid}"
        pollers = await roles(ports[1])
        assert {p["role"] for p in pollers.values()} == {"standby"}
        assert {p["holder"] for p in pollers.values()} == {holder}
        assert {p["role"] for p in (await roles(ports[0])).values()} == {"polling"}

        first.process.kill()
        await first.process.wait()
        started = asyncio.get_running_loop().time()
        await second.wait_for('"lease_acquired"', times=3, within=4 * LEASE)
        taken_over = asyncio.get_running_loop().time() - started
        assert taken_over <= 2 * LEASE + 0.5, taken_over
        await second.wait_for('"city": "', within=10)
        assert {p["role"] for p in (await roles(ports[1])).values()} == {"polling"}
        assert await second.stop() == 0
        second = None
    finally:
        if first.process.returncode is None:
            first.process.kill()
            await first.process.wait()
        if second is not None:
            await second.stop()

    # The end state is one daemon's.
    alone = Store(redis_client, f"test-{uuid.uuid4().hex[:12]}")
    try:
        env = {**daemon_env, "SYNCD_KEY_PREFIX": alone.prefix}
        code, _, err = await asyncio.to_thread(run_cli, "run", "--once", env=env)
        assert code == 0, err
        assert await outcome(prefixed_store) == await outcome(alone)
    finally:
        await alone.delete_all()


async def test_a_process_started_after_a_crash_claims_the_dead_ones_work_at_once(
    daemon_env: dict[str, str], prefixed_store: Store
) -> None:
    code, _, err = await asyncio.to_thread(run_cli, "run", "--once", env=daemon_env)
    assert code == 0, err
    # A consumer on this host whose process is gone took work and never acknowledged it.
    gone = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await gone.wait()
    dead = f"{socket.gethostname()}-{gone.pid}"
    keys = sorted((await outcome(prefixed_store))["corrected"])[:25]
    await prefixed_store.enqueue(keys)
    work = await prefixed_store.take_work(dead, 100)
    assert len(work.codes) == 25
    pending = await prefixed_store.redis.xpending(prefixed_store.key("work"), GROUP)
    assert pending["pending"] == 25

    code, _, err = await asyncio.to_thread(run_cli, "run", "--once", env=daemon_env)
    assert code == 0, err
    assert '"work_claimed_from_dead_consumers"' in err
    pending = await prefixed_store.redis.xpending(prefixed_store.key("work"), GROUP)
    assert pending["pending"] == 0
    consumers = await prefixed_store.redis.xinfo_consumers(prefixed_store.key("work"), GROUP)
    assert dead not in {
        c["name"].decode() if isinstance(c["name"], bytes) else c["name"] for c in consumers
    }
