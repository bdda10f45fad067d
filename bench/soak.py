"""The soak: two replicas of `syncd run` through a fault storm, kills and Redis restarts, then
compared with a clean single run. Prints figures; the suite runs a small version
(tests/test_soak.py) and checks them.

    .venv/bin/python bench/soak.py [--dossiers 20000] [--kills 20] [--redis-restarts 3]
                                   [--storm-seconds 600] [--seed 5] [--writeback]

Everything is real and separate: its own redis-server (append-only file on) on a free port, the
mock portals (`syncd mock-portals`) serving a generated scenario whose clock runs (the portals'
data changes, lagging national records catch up with back-dated stamps) under a storm of 5xx,
429, connection resets, hangs, 2% malformed records and expiring sessions, and two `syncd run`
processes on one key prefix. During the storm, replicas are killed with SIGKILL at random
times and started again, and the Redis server is killed and restarted from its append-only file.
Then the storm stops, the mock clock stops, and the replicas run on until they are quiet: both
views complete, a full re-read of each portal finished after the calm, nothing queued. A clean
`syncd run --once` into a fresh prefix against the calm portals is the reference. Printed:

    kills survived, Redis restarts      what happened
    records lost / duplicated / stale   per portal, stored records against the reference
    mismatches differing                present mismatches (kind, values, detail, state)
    report cells differing              every cell of every form of the covered periods
    (with --writeback) pushes           needed, made, duplicated, regressed

All zero but the first two, or the run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reconcile.engine import REACHABLE
from reconcile.model import Source, Status
from reconcile.period import Period
from syncd import config as config_module
from syncd.embedded import redis_server_binary
from syncd.outbox import PUSHLOG_KEPT
from syncd.reports import gather, to_json
from syncd.store import GROUP, Store

SYNCD = [sys.executable, "-m", "syncd"]
PERIODS = ("2024-05", "2024-06", "2024-07", "2024-08")


@dataclass
class SoakParams:
    dossiers: int = 20_000
    seed: int = 5
    kills: int = 20
    redis_restarts: int = 3
    storm_seconds: float = 600.0
    clock_speed: float = 1800.0  # scenario seconds per real second
    lease_seconds: float = 3.0
    poll_interval: float = 1.0
    full_reread_seconds: float = 60.0
    quiet_timeout: float = 900.0
    error_rate: float = 0.05
    throttle_rate: float = 0.05
    reset_rate: float = 0.02
    timeout_rate: float = 0.005
    malformed_rate: float = 0.02
    session_expiry_rate: float = 0.02
    writeback: bool = False
    log: bool = True


@dataclass
class SoakReport:
    kills: int = 0
    redis_restarts: int = 0
    lost: dict[str, int] = field(default_factory=dict)
    duplicated: dict[str, int] = field(default_factory=dict)
    stale: dict[str, int] = field(default_factory=dict)
    mismatches_differing: int = 0
    cells_differing: int = 0
    records: dict[str, int] = field(default_factory=dict)
    late_updates: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    pushes: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (
            any(self.lost.values())
            or any(self.duplicated.values())
            or any(self.stale.values())
            or self.mismatches_differing
            or self.cells_differing
            or self.pushes.get("duplicated")
            or self.pushes.get("regressed")
            or self.pushes.get("left in the outbox")
        )

    def lines(self) -> list[str]:
        out = [
            f"kills survived          {self.kills}",
            f"Redis restarts          {self.redis_restarts}",
        ]
        for side in ("city", "national"):
            out.append(
                f"{side:<9} records {self.records.get(side, 0):>7}: lost {self.lost.get(side, 0)}, "
                f"duplicated {self.duplicated.get(side, 0)}, stale {self.stale.get(side, 0)}"
                f" (late updates caught by re-reads: {self.late_updates.get(side, 0)})"
            )
        out.append(f"mismatches differing    {self.mismatches_differing}")
        out.append(f"report cells differing  {self.cells_differing}")
        if self.pushes:
            out.append(
                "write-back              " + ", ".join(f"{k} {v}" for k, v in self.pushes.items())
            )
        out += [f"{name:<24}{value:.1f} s" for name, value in self.seconds.items()]
        for name, codes in self.examples.items():
            if codes:
                out.append(f"e.g. {name}: {', '.join(codes[:5])}")
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Redis:
    """A redis-server of the soak's own, with its append-only file in `data`."""

    def __init__(self, data: Path) -> None:
        self.data, self.port = data, free_port()
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            str(redis_server_binary()),
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data),
            "--appendonly", "yes", "--save", "",
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        client = aioredis.from_url(self.url)
        try:
            for _ in range(600):
                try:
                    await client.ping()
                    return
                except Exception:
                    await asyncio.sleep(0.05)
            raise RuntimeError("the soak's redis-server did not start")
        finally:
            await client.aclose()

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


class Process:
    """A syncd child process (its stderr kept in a log file)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.args, self.env, self.logs = name, args, env, logs
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        self.starts += 1
        with (self.logs / f"{self.name}.{self.starts}.log").open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                *SYNCD,
                *self.args,
                env={**os.environ, **self.env},
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                await self.kill()


def _config(p: SoakParams, path: Path) -> Path:
    path.write_text(
        f"""[runtime]
poll_interval_seconds = {p.poll_interval}
lease_seconds = {p.lease_seconds}
retry_after_seconds = 2.0
retry_max_seconds = 20.0
[http]
enabled = false
[portals.city]
attempts = 3
backoff_max_seconds = 1.0
timeout_seconds = 5.0
read_timeout_seconds = 3.0
breaker_cooldown_seconds = 2.0
rate_per_second = 200.0
page_size = 500
[portals.national]
attempts = 3
backoff_max_seconds = 1.0
timeout_seconds = 5.0
read_timeout_seconds = 3.0
breaker_cooldown_seconds = 2.0
rate_per_second = 200.0
page_size = 500
[reread]
recent_window_hours = 72.0
recent_every_minutes = {max(p.full_reread_seconds / 3, 1) / 60}
deep_every_hours = 0.0
full_every_days = {p.full_reread_seconds / 86400}
[writeback]
enabled = {"true" if p.writeback else "false"}
""",
        encoding="utf-8",
    )
    return path


@asynccontextmanager
async def _mocks(p: SoakParams, scenario: Path, logs: Path) -> AsyncIterator[tuple[str, str]]:
    city, national = free_port(), free_port()
    mocks = Process(
        "mocks",
        [
            "mock-portals",
            "--scenario",
            str(scenario),
            "--city-port",
            str(city),
            "--national-port",
            str(national),
            "--clock-speed",
            str(p.clock_speed),
            "--fault-seed",
            str(p.seed),
        ],
        {"SYNCD_LOG_FORMAT": "json"},
        logs,
    )
    await mocks.start()
    urls = f"http://127.0.0.1:{city}", f"http://127.0.0.1:{national}"
    async with aiohttp.ClientSession() as http:
        for _ in range(1200):
            try:
                async with (
                    http.get(f"{urls[0]}/healthz") as r1,
                    http.get(f"{urls[1]}/healthz") as r2,
                ):
                    if r1.status == r2.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the mock portals did not start")
    try:
        yield urls
    finally:
        await mocks.stop()


async def _control(url: str, path: str, body: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{url}{path}", json=body) as resp:
        if resp.status != 200:
            raise RuntimeError(f"{path}: {resp.status} {await resp.text()}")


async def _storm(p: SoakParams, urls: tuple[str, str]) -> None:
    await _control(
        urls[0],
        "/_mock/faults",
        {
            "seed": p.seed,
            "error_rate": p.error_rate,
            "throttle_rate": p.throttle_rate,
            "retry_after_seconds": 0.5,
            "reset_rate": p.reset_rate,
            "timeout_rate": p.timeout_rate,
            "hang_seconds": 8.0,
            "malformed_rate": p.malformed_rate,
            "session_expiry_rate": p.session_expiry_rate,
        },
    )


async def _calm(urls: tuple[str, str]) -> None:
    await _control(urls[0], "/_mock/faults", {})
    await _control(urls[0], "/_mock/clock", {"speed": 0})


async def _quiet(store: Store, since: datetime, within: float) -> None:
    """Until both views are complete and a full re-read of each portal finished after `since`,
    nothing is queued or pending and nothing waits to be pushed, three times 2 s apart."""
    deadline = time.monotonic() + within
    settled = 0
    while time.monotonic() < deadline:
        try:
            status = await store.status()
            done = all(
                status.get(f"{s.value}:complete") == "1"
                and status.get(f"{s.value}:full:reread_at", "") > since.isoformat()
                and status.get(f"{s.value}:last_complete_at", "") > since.isoformat()
                for s in Source
            )
            info: Any = await store.redis.xpending(store.key("work"), GROUP)
            idle = await store.queue_depth() == 0 and int(info["pending"]) == 0
            waiting = await store.waiting()
            pushing = [e for e in await store.outbox.entries() if e["state"] != "dry_run"]
            idle = idle and not pushing
        except Exception:
            done, idle, waiting = False, False, {}
        if done and idle and not any(waiting.values()):
            settled += 1
            if settled >= 3:
                return
        else:
            settled = 0
        await asyncio.sleep(2)
    raise TimeoutError("the replicas did not go quiet")


async def _records(store: Store, side: str) -> dict[str, bytes]:
    raw: Any = await store.redis.hgetall(store.key("rec", side))
    return {k.decode(): v for k, v in raw.items()}


async def _mismatches(store: Store) -> dict[str, tuple[Any, ...]]:
    names = ("city", "national", "detail", "severity", "state")
    return {r["id"]: tuple(r.get(n) for n in names) for r in await store.mismatches()}


async def _cells(store: Store) -> dict[tuple[str, ...], int]:
    settings = config_module.load(env={}).report_settings()
    out: dict[tuple[str, ...], int] = {}
    for label in PERIODS:
        doc = to_json(await gather(store, Period.parse(label, 20), settings, datetime.now(UTC)))
        forms = {"corrected": doc["corrected"], **doc["raw"]}
        for form, body in forms.items():
            for row in (*body["rows"], body["total"]):
                for column, value in row["cells"].items():
                    out[(label, form, str(row["field_code"]), column)] = int(value)
    return out


def _diff(a: dict[Any, Any], b: dict[Any, Any]) -> list[Any]:
    return sorted((k for k in a.keys() | b.keys() if a.get(k) != b.get(k)), key=str)


async def soak(p: SoakParams) -> SoakReport:
    report = SoakReport()
    say = print if p.log else (lambda *_: None)
    with tempfile.TemporaryDirectory(prefix="syncd-soak-") as tmp:
        root = Path(tmp)
        (root / "redis").mkdir()
        (root / "logs").mkdir()
        scenario = root / "scenario.json"
        started = time.monotonic()
        done = await asyncio.create_subprocess_exec(
            *SYNCD, "scenario", "generate", "--dossiers", str(p.dossiers), "--seed", str(p.seed),
            "-o", str(scenario), stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if await done.wait() != 0:
            raise RuntimeError("scenario generate failed")
        redis = Redis(root / "redis")
        await redis.start()
        prefix = f"soak-{uuid.uuid4().hex[:8]}"
        client = aioredis.from_url(redis.url)
        try:
            async with _mocks(p, scenario, root / "logs") as urls:
                env = {
                    "SYNCD_REDIS_URL": redis.url,
                    "SYNCD_KEY_PREFIX": prefix,
                    "SYNCD_CITY_URL": urls[0],
                    "SYNCD_NATIONAL_URL": urls[1],
                    "SYNCD_CONFIG": str(_config(p, root / "soak.toml")),
                    "SYNCD_LOG_FORMAT": "json",
                }
                replicas = [Process(f"replica{n}", ["run"], env, root / "logs") for n in (1, 2)]
                await _storm(p, urls)
                for replica in replicas:
                    await replica.start()
                say(f"storm {p.storm_seconds:.0f} s: {p.kills} kills, {p.redis_restarts} restarts")
                rng = random.Random(p.seed)
                events = sorted(
                    [(rng.uniform(0.05, 0.95) * p.storm_seconds, "kill") for _ in range(p.kills)]
                    + [
                        (rng.uniform(0.1, 0.9) * p.storm_seconds, "redis")
                        for _ in range(p.redis_restarts)
                    ]
                )
                storm_start = time.monotonic()
                for at, what in events:
                    await asyncio.sleep(max(0.0, storm_start + at - time.monotonic()))
                    if what == "kill":
                        victim = rng.choice(replicas)
                        await victim.kill()
                        await asyncio.sleep(rng.uniform(0.2, 2.0))
                        await victim.start()
                        report.kills += 1
                    else:
                        await redis.kill()
                        await asyncio.sleep(rng.uniform(0.5, 2.0))
                        await redis.start()
                        report.redis_restarts += 1
                    say(f"  {time.monotonic() - storm_start:6.1f} s  {what}")
                await asyncio.sleep(max(0.0, storm_start + p.storm_seconds - time.monotonic()))
                report.seconds["storm"] = time.monotonic() - storm_start
                await _calm(urls)
                calm = datetime.now(UTC)
                quiet_start = time.monotonic()
                store = Store(client, prefix)
                await _quiet(store, calm, p.quiet_timeout)
                report.seconds["going quiet"] = time.monotonic() - quiet_start
                for replica in replicas:
                    await replica.stop()

                reference = Store(client, f"{prefix}-clean")
                clean_start = time.monotonic()
                # The reference: one `run --once` with the default timeouts and write-back off,
                # reading the calm portals as they are now.
                calm_config = root / "clean.toml"
                calm_config.write_text("[http]\nenabled = false\n", encoding="utf-8")
                clean_env = {
                    **env,
                    "SYNCD_KEY_PREFIX": reference.prefix,
                    "SYNCD_CONFIG": str(calm_config),
                }
                done = await asyncio.create_subprocess_exec(
                    *SYNCD, "run", "--once",
                    env={**os.environ, **clean_env},
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                _, said = await done.communicate()
                if done.returncode != 0:
                    tail = said.decode(errors="replace").strip().splitlines()[-5:]
                    raise RuntimeError("the clean run failed:\n" + "\n".join(tail))
                report.seconds["clean run"] = time.monotonic() - clean_start
                await _compare(store, reference, report, p.writeback)
                if not report.clean:
                    report.details = await _details(store, reference, report)
        finally:
            await client.aclose()
            await redis.kill()
        report.seconds["total"] = time.monotonic() - started
    return report


async def _pushes(store: Store, log_dupes: list[str]) -> dict[str, int]:
    """What write-back did: needed (dossiers it wrote), made (writes the portal confirmed),
    duplicated (a dossier written twice to the same state, or created while the portal held it
    under another code), regressed (a status moved backwards), left in the outbox."""
    log = await store.outbox.log(PUSHLOG_KEPT)
    written = [e for e in log if e["outcome"] in ("created", "updated")]
    created = {e["code"] for e in log if e["outcome"] == "created" and e["code"]}
    # The same change written again onto the very record syncd's last write left: a push
    # twice in effect. (Written again after the portal's record changed, by someone else's
    # late write, is a new fix, not a duplicate.)
    twice = 0
    last: dict[str, dict[str, str]] = {}
    for e in reversed(written):  # oldest first
        before = e.get("versions", "").partition(">")[0]
        previous = last.get(e["key"])
        if previous and previous["changes"] == e["changes"]:
            left = previous.get("versions", "").partition(">")[2]
            if left and left == before:
                twice += 1
                log_dupes.append(f"{e['key']} twice {e['changes']}")
        last[e["key"]] = e
    dupes = [
        m
        for m in await store.mismatches()
        if m["kind"] == "duplicate" and set((m.get("national") or "").split(", ")) & created
    ]
    under_other_code = len(dupes)
    log_dupes.extend(f"{m['key']} created as {m['national']}" for m in dupes)
    regressed = 0
    for e in written:
        status = json.loads(e["changes"] or "{}").get("status")
        if status and status[0] and Status(int(status[1])) not in REACHABLE[Status(int(status[0]))]:
            regressed += 1
    waiting = [e for e in await store.outbox.entries() if e["state"] != "dry_run"]
    return {
        "needed": len({e["key"] for e in written}),
        "made": len(written),
        "duplicated": twice + under_other_code,
        "regressed": regressed,
        "unchanged or superseded": sum(e["outcome"] in ("unchanged", "superseded") for e in log),
        "left in the outbox": len(waiting),
    }


async def _compare(
    store: Store, reference: Store, report: SoakReport, writeback: bool = False
) -> None:
    status = await store.status()
    for side in ("city", "national"):
        mine, clean = await _records(store, side), await _records(reference, side)
        report.records[side] = len(mine)
        lost = sorted(clean.keys() - mine.keys())
        extra = sorted(mine.keys() - clean.keys())
        stale = sorted(c for c in clean.keys() & mine.keys() if clean[c] != mine[c])
        report.lost[side], report.duplicated[side], report.stale[side] = (
            len(lost),
            len(extra),
            len(stale),
        )
        report.examples[f"{side} lost"] = lost
        report.examples[f"{side} stale"] = stale
        report.late_updates[side] = int(status.get(f"{side}:late_updates", 0))
    differing = _diff(await _mismatches(store), await _mismatches(reference))
    report.mismatches_differing = len(differing)
    report.examples["mismatches"] = [str(d) for d in differing]
    cells = _diff(await _cells(store), await _cells(reference))
    report.cells_differing = len(cells)
    report.examples["cells"] = [":".join(c) for c in cells]
    if writeback:
        report.pushes = await _pushes(store, report.examples.setdefault("duplicated", []))


async def _details(store: Store, reference: Store, report: SoakReport) -> dict[str, Any]:
    """What differs, both sides in full: each differing mismatch record (with its history),
    the corrected records and the push log entries of its dossier."""
    differing = {m.partition("|")[0] for m in report.examples.get("mismatches", [])}
    differing |= {c for s in ("city", "national") for c in report.examples.get(f"{s} stale", [])}
    keys = sorted(differing)

    async def hget(s: Store, *name: str) -> dict[str, str | None]:
        values = await s.redis.hmget(s.key(*name), *keys) if keys else []
        return {
            k: v.decode() if isinstance(v, bytes) else v for k, v in zip(keys, values, strict=True)
        }

    async def side(s: Store) -> dict[str, Any]:
        return {
            "mismatches": [m for m in await s.mismatches(include_gone=True) if m["code"] in keys],
            "corrected": await hget(s, "corrected"),
            "pushlog": [e for e in await s.outbox.log(PUSHLOG_KEPT) if e.get("key") in keys],
            "records": {src: await hget(s, "rec", src) for src in ("city", "national")},
        }

    return {"soak": await side(store), "clean": await side(reference)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    defaults = SoakParams()
    parser.add_argument("--dossiers", type=int, default=defaults.dossiers)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--kills", type=int, default=defaults.kills)
    parser.add_argument("--redis-restarts", type=int, default=defaults.redis_restarts)
    parser.add_argument("--storm-seconds", type=float, default=defaults.storm_seconds)
    parser.add_argument("--writeback", action="store_true")
    parser.add_argument(
        "--details", type=Path, help="on a difference, write both sides of it to this JSON file"
    )
    args = parser.parse_args()
    params = SoakParams(
        dossiers=args.dossiers,
        seed=args.seed,
        kills=args.kills,
        redis_restarts=args.redis_restarts,
        storm_seconds=args.storm_seconds,
        writeback=args.writeback,
    )
    report = asyncio.run(soak(params))
    print("\n".join(report.lines()))
    if args.details and report.details:
        body = json.dumps(report.details, ensure_ascii=False, indent=1, default=str)
        args.details.write_text(body, encoding="utf-8")
        print(f"details: {args.details}")
    print(json.dumps({"clean": report.clean}))
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
