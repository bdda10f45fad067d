"""Operations routes (syncd.web.ops, syncd.metrics) and the mismatch queue's sorted views, against
the real Redis and the mock portals."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from connectors.base import Connector, Rejected
from connectors.city.client import CityConnector, CitySettings
from connectors.dataset import Dataset
from connectors.http import BreakerState
from connectors.mockserver import CITY_API_KEY
from reconcile.compare import Decision, Mismatch, MismatchKind, Severity
from reconcile.flags import Flag
from reconcile.model import VN_TZ, Source
from reconcile.writeback import Plan
from syncd import store as store_module
from syncd.config import Config
from syncd.queue import MismatchQueue, stored_id
from syncd.queue_states import ACTIVE_STATES
from syncd.service import Syncer
from syncd.store import Store, Unit, WorkItem
from syncd.web.app import make_app
from syncd.web.auth import ROLES, Users
from syncd.web.ops import METRICS, RESYNCS
from tests.conftest import FAST_HTTP, Clock
from tests.test_store import T0, dossier

ClientFactory = Callable[..., Any]
Client = TestClient[web.Request, web.Application]
PASSWORD = "correct horse battery"
KINDS = list(MismatchKind)


@dataclass
class Ops:
    client: Client
    app: web.Application
    store: Store
    tokens: dict[str, str]

    def auth(self, role: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    async def get(self, path: str, role: str | None = "viewer") -> tuple[int, Any]:
        resp = await self.client.get(path, headers=self.auth(role))
        body = await resp.json() if "json" in resp.content_type else await resp.text()
        return resp.status, body


async def make_ops(
    aiohttp_client: ClientFactory,
    store: Store,
    config: Config,
    syncer: Syncer | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Ops:
    users = Users(store)
    tokens = {}
    for role in ROLES:
        await users.add(f"{role}1", role, PASSWORD)
        tokens[role] = await users.add_token(f"{role}1", "tests")
    app = make_app(store, config, syncer, clock)
    return Ops(await aiohttp_client(app), app, store, tokens)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------
# Health and readiness


async def test_healthz_answers_anyone(
    aiohttp_client: ClientFactory, store: Store, config: Config
) -> None:
    ops = await make_ops(aiohttp_client, store, config)
    assert await ops.get("/healthz", role=None) == (200, {"status": "ok"})


async def test_readyz_turns_503_when_a_poller_stalls(
    aiohttp_client: ClientFactory, store: Store, config: Config
) -> None:
    clock = Clock(datetime(2024, 7, 1, 8, 0, tzinfo=UTC))
    ops = await make_ops(aiohttp_client, store, config, clock=clock)
    limit = config.http.stalled_after_intervals * config.runtime.poll_interval_seconds
    # Never polled, just started: ready (the first poll is running).
    status, body = await ops.get("/readyz", role=None)
    assert status == 200
    idle = {
        "stalled": False,
        "last_success_at": None,
        "last_progress_at": None,
        "role": "none",
        "holder": None,
    }
    assert body == {
        "ready": True,
        "redis": True,
        "redis_state": "ok",
        "pollers": {"city": idle, "national": idle},
    }
    for source in Source:
        await store.record_status(source, last_success_at=clock.now.isoformat())
    clock.now += timedelta(seconds=limit)
    assert (await ops.get("/readyz", role=None))[0] == 200  # exactly at the limit: not stalled
    await store.record_status(Source.CITY, last_success_at=clock.now.isoformat())
    clock.now += timedelta(seconds=1)
    status, body = await ops.get("/readyz", role=None)
    assert status == 503
    assert body["ready"] is False
    assert body["redis"] is True
    assert body["pollers"]["city"]["stalled"] is False
    assert body["pollers"]["national"]["stalled"] is True
    assert (
        body["pollers"]["national"]["last_success_at"]
        == (clock.now - timedelta(seconds=limit + 1)).isoformat()
    )
    # A long but healthy poll writes pages: progress, not the last finished poll, counts.
    await store.upsert(Source.NATIONAL, [], None, now=clock.now)
    status, body = await ops.get("/readyz", role=None)
    assert status == 200
    assert body["pollers"]["national"]["last_progress_at"] == clock.now.isoformat()


async def test_a_portal_never_polled_stalls_once_the_app_is_old_enough(
    aiohttp_client: ClientFactory, store: Store, config: Config
) -> None:
    clock = Clock(datetime(2024, 7, 1, 8, 0, tzinfo=UTC))
    ops = await make_ops(aiohttp_client, store, config, clock=clock)
    await store.record_status(Source.CITY, last_success_at=clock.now.isoformat())
    clock.now += timedelta(
        seconds=config.http.stalled_after_intervals * config.runtime.poll_interval_seconds + 1
    )
    await store.record_status(Source.CITY, last_success_at=clock.now.isoformat())
    status, body = await ops.get("/readyz", role=None)
    assert status == 503
    assert body["pollers"]["national"]["stalled"] is True
    assert body["pollers"]["national"]["last_success_at"] is None
    assert body["pollers"]["city"]["stalled"] is False


async def test_without_redis_readyz_is_503_and_health_and_metrics_still_answer(
    aiohttp_client: ClientFactory, config: Config
) -> None:
    client = aioredis.from_url(f"redis://127.0.0.1:{closed_port()}/0", socket_connect_timeout=0.5)
    try:
        app = make_app(Store(client, "nowhere"), config)
        http = await aiohttp_client(app)
        started = time.monotonic()
        resp = await http.get("/readyz")
        assert resp.status == 503
        body = await resp.json()
        assert body["ready"] is False
        assert body["redis"] is False
        assert time.monotonic() - started < 3
        assert (await http.get("/healthz")).status == 200
        resp = await http.get("/metrics")
        assert resp.status == 200
        found = samples(await resp.text())
        assert found[("syncd_redis_up", ())] == 0
        assert ("syncd_queue_depth", ()) not in found
    finally:
        await client.aclose()


# --------------------------------------------------------------------------------------------
# Metrics, status, resync and quarantine after real cycles


async def test_metrics_after_a_real_cycle(
    aiohttp_client: ClientFactory,
    store: Store,
    config: Config,
    connectors: list[Connector],
    dataset: Dataset,
) -> None:
    syncer = Syncer(store, connectors)
    ops = await make_ops(aiohttp_client, store, config, syncer)
    assert syncer.observer is ops.app[METRICS]
    cycle = await syncer.cycle()
    assert not cycle.failed_portals
    resp = await ops.client.get("/metrics")
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    found = samples(await resp.text())

    def value(name: str, **labels: str) -> float:
        return found[(name, tuple(sorted(labels.items())))]

    written = {p.source.value: p.written for p in cycle.polls}
    assert written["city"] == len(dataset.city)
    for portal in ("city", "national"):
        assert value("syncd_polls_total", portal=portal, outcome="ok") == 1
        assert value("syncd_polls_total", portal=portal, outcome="error") == 0
        assert value("syncd_poll_errors_total", portal=portal) == 0
        assert value("syncd_records_written_total", portal=portal) == written[portal]
        assert value("syncd_poll_duration_seconds_count", portal=portal) == 1
        assert 0 < value("syncd_poll_duration_seconds_sum", portal=portal) < 60
        assert 0 <= value("syncd_portal_lag_seconds", portal=portal) < 60
        assert value("syncd_portal_circuit", portal=portal, state="closed") == 1
        assert value("syncd_portal_circuit", portal=portal, state="open") == 0
        quarantined = (await store.quarantine_counts()).get(portal, 0)
        assert value("syncd_quarantined_records", portal=portal) == quarantined
    assert value("syncd_reconciled_dossiers_total") == cycle.reconciled > 0
    assert value("syncd_reconcile_batches_total") >= 1
    assert value("syncd_queue_depth") == 0
    assert value("syncd_redis_up") == 1
    records = await store.mismatches(include_gone=True)
    expected = Counter((r["kind"], r["state"]) for r in records)
    got = {
        (dict(labels)["kind"], dict(labels)["state"]): v
        for (name, labels), v in found.items()
        if name == "syncd_mismatches"
    }
    assert got == expected
    assert sum(got.values()) > 10
    for flag in Flag:
        members = await store.redis.scard(store.key("flag", flag.value))
        assert value("syncd_flagged_dossiers", flag=flag.value) == members

    # A failed poll counts as an error, and its circuit state is recorded.
    city = next(c for c in connectors if c.source is Source.CITY)
    breaker = getattr(city, "http").breaker  # noqa: B009
    for _ in range(breaker.threshold):
        breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    poll = await syncer.poll(city)
    assert poll.error
    found = samples(await (await ops.client.get("/metrics")).text())
    assert value("syncd_polls_total", portal="city", outcome="error") == 1
    assert value("syncd_poll_errors_total", portal="city") == 1
    assert value("syncd_portal_circuit", portal="city", state="open") == 1
    assert value("syncd_portal_circuit", portal="city", state="closed") == 0


async def test_sync_status(
    aiohttp_client: ClientFactory,
    store: Store,
    config: Config,
    connectors: list[Connector],
) -> None:
    clock = Clock(datetime(2024, 7, 1, 8, 0, tzinfo=UTC))
    syncer = Syncer(store, connectors, clock=clock)
    ops = await make_ops(aiohttp_client, store, config, syncer, clock=clock)
    status, body = await ops.get("/api/v1/sync/status")
    assert status == 200
    assert body["portals"]["city"] == {
        "last_success_at": None,
        "last_error": None,
        "last_error_kind": None,
        "last_error_at": None,
        "recent_errors": [],
        "lag_seconds": None,
        "cursor": None,
        "circuit": "unknown",
        "quarantined": 0,
        "resync": {"started_at": None, "finished_at": None, "error": None, "error_kind": None},
        "complete": False,
        "last_complete_at": None,
        "waiting": 0,
        "late_updates": 0,
        "rereads": {"recent": None, "deep": None, "full": None},
        "poller": None,
    }
    assert (body["dead_letters"], body["retrying"]) == (0, 0)
    assert (await ops.get("/api/v1/sync/status", role=None))[0] == 401
    await syncer.cycle()
    polled_at = clock.now
    clock.now += timedelta(seconds=90)
    await store.upsert(
        Source.NATIONAL, [], None, [Rejected(Source.NATIONAL, "X1", "bad date", {"a": 1})]
    )
    body = (await ops.get("/api/v1/sync/status"))[1]
    for source in Source:
        portal = body["portals"][source.value]
        cursor = await store.cursor(source)
        assert cursor is not None
        assert portal["last_success_at"] == polled_at.isoformat()
        assert portal["lag_seconds"] == 90
        assert portal["cursor"] == {
            "updated_at": cursor.updated_at.isoformat(),
            "code": cursor.code,
        }
        assert portal["circuit"] == "closed"
        assert portal["last_error"] is None
        assert portal["complete"] is True
        assert portal["last_complete_at"] == polled_at.isoformat()
    assert body["portals"]["national"]["quarantined"] == 1
    assert body["portals"]["city"]["quarantined"] == 0

    # A portal that cannot be reached: its failures are listed, newest first.
    down = CityConnector(
        CitySettings("http://127.0.0.1:9", CITY_API_KEY, 50, FAST_HTTP), config.city_statuses()
    )
    try:
        for _ in range(2):
            clock.now += timedelta(seconds=1)
            assert (await Syncer(store, [down], clock=clock).poll(down)).error
    finally:
        await down.close()
    city = (await ops.get("/api/v1/sync/status"))[1]["portals"]["city"]
    assert [e["at"] for e in city["recent_errors"]] == [
        clock.now.isoformat(),
        (clock.now - timedelta(seconds=1)).isoformat(),
    ]
    assert city["last_error"] == city["recent_errors"][0]["error"]
    assert (
        {e["kind"] for e in city["recent_errors"]} == {city["last_error_kind"]} == {"unreachable"}
    )
    assert city["last_success_at"] == polled_at.isoformat()


async def test_resync_is_for_admins_and_writes_the_records(
    aiohttp_client: ClientFactory,
    store: Store,
    config: Config,
    connectors: list[Connector],
    dataset: Dataset,
) -> None:
    syncer = Syncer(store, connectors)
    ops = await make_ops(aiohttp_client, store, config, syncer)
    body = {"portal": "city", "since": None}
    url = "/api/v1/sync/resync"
    assert (await ops.client.post(url, json=body)).status == 401
    for role in ("viewer", "operator"):
        assert (await ops.client.post(url, json=body, headers=ops.auth(role))).status == 403
    assert await store.count(Source.CITY) == 0

    resp = await ops.client.post(url, json=body, headers=ops.auth("admin"))
    assert resp.status == 202
    assert await resp.json() == {"started": True}
    await ops.app[RESYNCS]["city"]
    assert await store.count(Source.CITY) == len(dataset.city)
    assert await store.cursor(Source.CITY) is None  # a resync leaves the cursor where it was
    assert await store.queue_depth() == 0
    assert len(await store.load_corrected([dataset.city[0].code])) == 1  # reconciled
    portal = (await ops.get("/api/v1/sync/status"))[1]["portals"]["city"]
    assert portal["resync"]["started_at"] is not None
    assert portal["resync"]["finished_at"] is not None
    assert portal["resync"]["error"] is None
    first = await MismatchQueue(store).audit(1, since="0-0")  # before what it reconciled
    assert [(e["who"], e["action"], e["id"], e["after"]) for e in first] == [
        ("admin1", "resync", "portal:city", {"since": None})
    ]

    # From a day on.
    resp = await ops.client.post(
        url, json={"portal": "national", "since": "2024-07-01"}, headers=ops.auth("admin")
    )
    assert resp.status == 202
    await ops.app[RESYNCS]["national"]
    assert await store.count(Source.NATIONAL) > 0

    # One at a time per portal.
    gate = asyncio.Event()

    async def running() -> None:
        await gate.wait()

    ops.app[RESYNCS]["national"] = asyncio.create_task(running())
    resp = await ops.client.post(url, json={"portal": "national"}, headers=ops.auth("admin"))
    assert resp.status == 409
    gate.set()
    await ops.app[RESYNCS]["national"]

    for bad in (
        {"portal": "elsewhere"},
        {"portal": "city", "since": "2024-13-01"},
        {"portal": "city", "since": 20240701},
        {"portal": "city", "until": "2024-07-01"},
        ["city"],
    ):
        resp = await ops.client.post(url, json=bad, headers=ops.auth("admin"))
        assert resp.status == 400, bad
        assert resp.content_type == "application/problem+json"
    resp = await ops.client.post(url, data=b"{not json", headers=ops.auth("admin"))
    assert resp.status == 400


async def test_resync_without_a_syncer_is_503(
    aiohttp_client: ClientFactory, store: Store, config: Config
) -> None:
    ops = await make_ops(aiohttp_client, store, config)
    resp = await ops.client.post(
        "/api/v1/sync/resync", json={"portal": "city"}, headers=ops.auth("admin")
    )
    assert resp.status == 503


async def test_quarantine_list_and_counts(
    aiohttp_client: ClientFactory, store: Store, config: Config
) -> None:
    ops = await make_ops(aiohttp_client, store, config)
    for i in range(4):
        source = Source.CITY if i % 2 else Source.NATIONAL
        stamp = T0 + timedelta(minutes=i)
        await store.upsert(
            source, [], None, [Rejected(source, f"Q{i}", f"reason {i}", {"n": i}, stamp)]
        )
    status, body = await ops.get("/api/v1/quarantine")
    assert status == 200
    assert [e["code"] for e in body["items"]] == ["Q3", "Q2", "Q1", "Q0"]
    assert body["counts"] == {"city": 2, "national": 2}
    first = body["items"][0]
    assert first["portal"] == "city"
    assert first["reason"] == "reason 3"
    assert first["raw"] == {"n": 3}
    assert first["updated_at"] == (T0 + timedelta(minutes=3)).isoformat()
    assert datetime.fromisoformat(first["at"]).tzinfo is not None
    body = (await ops.get("/api/v1/quarantine?portal=national&limit=1"))[1]
    assert [e["code"] for e in body["items"]] == ["Q2"]
    for bad in ("limit=0", "limit=501", "limit=x", "portal=elsewhere"):
        assert (await ops.get(f"/api/v1/quarantine?{bad}"))[0] == 400, bad
    assert (await ops.get("/api/v1/quarantine", role=None))[0] == 401

    await store.release_quarantined([first["id"], "1-1"])
    assert await store.quarantine_counts() == {"city": 1, "national": 2}


async def test_quarantine_counts_follow_trimming_and_older_streams(store: Store) -> None:
    small = store_module.QUARANTINE_LUA.replace(
        "local QUARANTINE_KEPT = 100000", "local QUARANTINE_KEPT = 3"
    )
    assert small != store_module.QUARANTINE_LUA
    script = store_module._UPSERT.replace(store_module.QUARANTINE_LUA, small)
    store._upsert = store.redis.register_script(script)
    for i in range(5):
        source = Source.CITY if i < 2 else Source.NATIONAL
        await store.upsert(source, [], None, [Rejected(source, f"Q{i}", "bad", {})])
    assert await store.quarantine_count() == 3
    assert await store.quarantine_counts() == {"national": 3}
    assert [e["code"] for e in await store.quarantined()] == ["Q4", "Q3", "Q2"]

    # A quarantine stream written by an older syncd (an entry per sighting) is folded into one
    # entry per record, its counts rebuilt.
    legacy = store_module.Store(store.redis, store.prefix + "-legacy")
    try:
        for code in ("A", "B", "A"):
            await legacy.redis.xadd(
                legacy.key("quarantine"),
                {"source": "city", "code": code, "reason": "bad", "raw": "{}", "updated_at": ""},
            )
        await legacy.ensure_indexes()
        assert await legacy.redis.type(legacy.key("quarantine")) in (b"none", "none")
        entries = {e["code"]: e for e in await legacy.quarantined()}
        assert sorted(entries) == ["A", "B"]
        assert entries["A"]["count"] == "2"
        assert await legacy.quarantine_counts() == {"city": 2}
    finally:
        await legacy.delete_all()


async def test_a_record_quarantined_again_updates_its_entry_and_heals_when_it_decodes(
    store: Store, dataset: Dataset
) -> None:
    """One entry per (portal, record): seen again it counts, keeps its first time and its
    retry schedule; the same record stored whole later releases it."""
    good = dataset.city[0]
    bad = Rejected(Source.CITY, good.code, "dossierStatus: unknown", {"x": 1}, good.updated_at)
    await store.upsert(Source.CITY, [], None, [bad], now=T0)
    await store.upsert(
        Source.CITY,
        [],
        None,
        [replace(bad, reason="receiveDate: bad")],
        now=T0 + timedelta(hours=1),
    )
    [entry] = await store.quarantined()
    assert entry["id"] == f"city:{good.code}"
    assert (entry["count"], entry["reason"]) == ("2", "receiveDate: bad")
    assert entry["first_at"] == T0.isoformat()
    assert entry["last_at"] == (T0 + timedelta(hours=1)).isoformat()
    assert datetime.fromisoformat(entry["next_retry"]) == T0 + timedelta(
        seconds=store_module.QUARANTINE_FIRST_RETRY_SECONDS
    )
    assert await store.quarantine_counts() == {"city": 1}
    # A record of the same code on the other portal is another entry.
    await store.upsert(Source.NATIONAL, [], None, [replace(bad, source=Source.NATIONAL)], now=T0)
    assert await store.quarantine_counts() == {"city": 1, "national": 1}
    assert await store.quarantine_due(T0) == []
    due = await store.quarantine_due(T0 + timedelta(minutes=5))
    assert {e["id"] for e in due} == {f"city:{good.code}", f"national:{good.code}"}

    await store.upsert(Source.CITY, [good], None, now=T0 + timedelta(hours=2))
    assert [e["id"] for e in await store.quarantined()] == [f"national:{good.code}"]
    assert await store.quarantine_counts() == {"national": 1}


# --------------------------------------------------------------------------------------------
# The mismatch queue's sorted views


def mismatch(key: str, kind: MismatchKind, value: str = "9", auto: bool = False) -> Mismatch:
    return Mismatch(key, kind, Severity.MEDIUM, value, "4", "", auto_resolvable=auto)


def decision(key: str, *mismatches: Mismatch, field: str = "DT") -> Decision:
    return Decision(
        key=key,
        matches=(),
        corrected=replace(dossier(key), field_code=field),
        mismatches=mismatches,
    )


async def apply(store: Store, at: datetime, *decisions: Decision) -> None:
    await store.apply(decisions, WorkItem((), ()), at)


def brute_force(
    records: list[dict[str, Any]], state: str, kind: str | None, field_of: dict[str, str]
) -> list[str]:
    """What `search` returned before the views: filter every record, sort in Python."""
    found = [
        r
        for r in records
        if r["state"] == state and (kind is None or r["kind"] == kind) and r["key"] in field_of
    ]
    found.sort(key=lambda r: (datetime.fromisoformat(r["detected_at"]), r["id"]))
    return [r["id"] for r in found]


async def assert_views_match(store: Store) -> None:
    """The views equal what the records say: sorted sets (members and scores) and counts."""
    records = await store.mismatches(include_gone=True)
    for state in ACTIVE_STATES:
        for kind in [None, *KINDS]:
            wanted = sorted(
                (
                    (r["id"], datetime.fromisoformat(r["detected_at"]).timestamp())
                    for r in records
                    if r["state"] == state and (kind is None or r["kind"] == kind)
                ),
                key=lambda pair: (pair[1], pair[0]),
            )
            name = store.key("mismatch", "by_time", state, *((kind.value,) if kind else ()))
            got: Any = await store.redis.zrange(name, 0, -1, withscores=True)
            assert [m.decode() for m, _ in got] == [i for i, _ in wanted]
            assert [s for _, s in got] == pytest.approx([s for _, s in wanted], abs=1e-6)
    counts = Counter((r["state"], r["kind"]) for r in records)
    assert await store.mismatch_counts() == dict(counts)
    active = {r["id"] for r in records if r["state"] in ACTIVE_STATES}
    members: Any = await store.redis.smembers(store.key("mismatch", "open"))
    assert {m.decode() for m in members} == active


async def generate(store: Store, queue: MismatchQueue, seed: int) -> None:
    """Mismatches detected at times that collide (the same instant under two offsets), in
    random kinds, with operators' claims, resolutions and reopenings on some."""
    rng = random.Random(seed)
    base = datetime(2024, 7, 1, 1, 0, tzinfo=UTC)
    for batch in range(12):
        at = base + timedelta(seconds=rng.choice([0, 1, 1, 2, 5]) * batch, microseconds=batch % 3)
        if rng.random() < 0.5:
            at = at.astimezone(VN_TZ)  # the same instant, written with another offset
        decisions = []
        for _ in range(rng.randint(3, 12)):
            key = f"K{rng.randrange(60):03d}"
            kinds = rng.sample(KINDS[:6], rng.randint(1, 3))
            field = rng.choice(["DT", "TP"])
            decisions.append(decision(key, *(mismatch(key, k) for k in kinds), field=field))
        unique = {d.key: d for d in decisions}
        await apply(store, at, *unique.values())
        ids = [r["id"] for r in await store.mismatches()]
        for mismatch_id in rng.sample(ids, min(len(ids), 4)):
            record = await queue.get(mismatch_id)
            if record["state"] == "open":
                op = rng.choice(["claim", "resolve", "none"])
                if op == "claim":
                    await queue.claim(mismatch_id, "lan")
                elif op == "resolve":
                    await queue.resolve(mismatch_id, "lan", "ignore", "x")
            elif record["state"] in ("resolved", "claimed") and rng.random() < 0.5:
                await queue.reopen(mismatch_id, "lan", "again")


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_search_from_the_views_equals_the_old_sort(store: Store, seed: int) -> None:
    queue = MismatchQueue(store)
    await generate(store, queue, seed)
    assert await store.mismatch_index_ready()  # a fresh store: the views from the first record
    await assert_views_match(store)
    records = await store.mismatches(include_gone=True)
    corrected = await store.load_corrected(sorted({r["key"] for r in records}))
    fields = {k: d.field_code for k, d in corrected.items()}
    for state in ACTIVE_STATES:
        for kind in [None, "status", "channel", "nothing"]:
            for field in [None, "DT"]:
                kept = fields if field is None else {k: f for k, f in fields.items() if f == field}
                expected = brute_force(records, state, kind, kept)
                whole = await queue.search(kind, state, field, limit=10_000)
                assert [stored_id(r["id"]) for r in whole.items] == expected
                assert whole.total == len(expected)
                for offset, limit in (
                    (0, 3),
                    (2, 5),
                    (max(len(expected) - 1, 0), 5),
                    (500, 5),
                    (1, 0),
                ):
                    page = await queue.search(kind, state, field, limit, offset)
                    assert [stored_id(r["id"]) for r in page.items] == expected[
                        offset : offset + limit
                    ]
                    assert page.total == len(expected)
    # The same without the views (data of an older syncd): the records are read one by one.
    await store.redis.delete(store.key("mismatch", "indexed"))
    assert await store.mismatch_counts() is None
    page = await queue.search(None, "open", None, 7, 2)
    assert [stored_id(r["id"]) for r in page.items] == brute_force(records, "open", None, fields)[
        2:9
    ]


async def test_the_views_follow_every_state_change(store: Store) -> None:
    queue = MismatchQueue(store)
    status, channel = MismatchKind.STATUS, MismatchKind.CHANNEL

    async def open_ids(kind: str | None = None) -> list[str]:
        return [stored_id(r["id"]) for r in (await queue.search(kind, "open", limit=100)).items]

    await apply(store, T0, decision("A", mismatch("A", status), mismatch("A", channel)))
    await apply(store, T0 + timedelta(minutes=1), decision("B", mismatch("B", status)))
    await assert_views_match(store)
    assert await open_ids() == ["A|channel", "A|status", "B|status"]
    assert await store.mismatch_counts() == {("open", "status"): 2, ("open", "channel"): 1}

    await queue.claim("A|status", "lan")  # claim
    await assert_views_match(store)
    assert await open_ids("status") == ["B|status"]
    assert [stored_id(r["id"]) for r in await queue.list(state="claimed")] == ["A|status"]

    await queue.resolve("A|status", "lan", "ignore", "x")  # resolve
    await assert_views_match(store)
    assert await queue.list(state="claimed") == []

    await queue.reopen("A|status", "lan", "again")  # reopen
    await assert_views_match(store)
    assert await open_ids() == ["A|channel", "A|status", "B|status"]

    # Seen again later: only last_seen_at moves, the place in the order stays.
    await apply(store, T0 + timedelta(minutes=5), decision("A", mismatch("A", status)))
    await assert_views_match(store)  # A|channel no longer detected: auto-resolved
    assert await open_ids() == ["A|status", "B|status"]
    assert await store.mismatch_counts() == {
        ("open", "status"): 2,
        ("auto_resolved", "channel"): 1,
    }

    # Detected again: reopened, still at its first detection time.
    await apply(
        store,
        T0 + timedelta(minutes=6),
        decision("A", mismatch("A", status), mismatch("A", channel)),
    )
    await assert_views_match(store)
    assert await open_ids() == ["A|channel", "A|status", "B|status"]

    # Write-back will fix it: being pushed, in its own view, not the open one.
    c = decision("C", mismatch("C", status, auto=True))
    plan = Plan("C", "C", ("C",), "update", {"status": ("4", "9")}, (), 1, c.corrected)
    unit = Unit(("C",), (c,), plans={"C": plan})
    await store.apply_units([unit], WorkItem((), ()), T0 + timedelta(minutes=7), writeback="push")
    await assert_views_match(store)
    assert "C|status" not in await open_ids()
    assert [r["id"] for r in await queue.list(state="pushing")] == ["C~status"]

    # New values on a claimed one keep it claimed; on a resolved one reopen it.
    await queue.claim("B|status", "lan")
    await apply(store, T0 + timedelta(minutes=8), decision("B", mismatch("B", status, "7")))
    await assert_views_match(store)
    await queue.resolve("B|status", "lan", "ignore", "x")
    await apply(store, T0 + timedelta(minutes=9), decision("B", mismatch("B", status, "6")))
    await assert_views_match(store)
    assert await open_ids("status") == ["A|status", "B|status"]

    # A retired key's mismatches close.
    await store.apply([], WorkItem((), ()), T0 + timedelta(minutes=10), retired=["B"])
    await assert_views_match(store)
    assert await open_ids("status") == ["A|status"]


async def test_views_of_older_data_are_rebuilt_once_at_start(store: Store) -> None:
    queue = MismatchQueue(store)
    await generate(store, queue, 5)
    before = [stored_id(r["id"]) for r in (await queue.search(None, "open", limit=1000)).items]
    assert before
    # As an older syncd left it: no views, no marker.
    stale = [k async for k in store.redis.scan_iter(match=store.key("mismatch", "by_time", "*"))]
    await store.redis.delete(
        *stale, store.key("mismatch", "counts"), store.key("mismatch", "indexed")
    )
    assert not await store.mismatch_index_ready()
    # Writes before the rebuild keep the store usable, and the marker stays absent.
    await apply(
        store, T0 - timedelta(days=1), decision("NEW", mismatch("NEW", MismatchKind.STATUS))
    )
    assert not await store.mismatch_index_ready()
    assert [stored_id(r["id"]) for r in (await queue.search(None, "open", limit=1000)).items] == [
        "NEW|status",
        *before,
    ]
    await Syncer(store, []).run(0, once=True)
    assert await store.mismatch_index_ready()
    await assert_views_match(store)
    assert [stored_id(r["id"]) for r in (await queue.search(None, "open", limit=1000)).items] == [
        "NEW|status",
        *before,
    ]


async def test_scores_match_python_timestamps(store: Store) -> None:
    odd = [
        datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=VN_TZ),
        datetime(2024, 3, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2099, 12, 31, 12, 30, 15, 500000, tzinfo=VN_TZ),
    ]
    for i, at in enumerate(odd):
        await apply(store, at, decision(f"S{i}", mismatch(f"S{i}", MismatchKind.STATUS)))
    got: Any = await store.redis.zrange(
        store.key("mismatch", "by_time", "open"), 0, -1, withscores=True
    )
    scores = dict(got)
    for i, at in enumerate(odd):
        assert scores[f"S{i}|status".encode()] == pytest.approx(at.timestamp(), abs=1e-6)
