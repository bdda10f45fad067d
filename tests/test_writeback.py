"""Write-back an agency can switch on (issue: an outbox, merge instead of overwrite, every push on
the record), against the real national and city mocks and the real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors import scenario as scenario_module
from connectors.base import Connector
from connectors.city import mock as city_mock
from connectors.city.client import CityConnector
from connectors.dataset import Dataset
from connectors.fault_settings import FaultSettings
from connectors.faults import FAULTS
from connectors.mockserver import MockPortals, start_mock_portals
from connectors.national import mock as national_mock
from connectors.national import wire as national_wire
from connectors.national.client import ALREADY_EXISTS, NationalConnector
from reconcile import codec
from reconcile.engine import REACHABLE, Policy
from reconcile.model import Source, Status
from syncd.config import Config
from syncd.i18n import failure_text
from syncd.metrics import Metrics
from syncd.operators import os_user
from syncd.pusher import Pusher, PushSettings
from syncd.queue import MismatchQueue
from syncd.service import Syncer
from syncd.store import Store
from tests.commandline import run_cli
from tests.conftest import FAST_HTTP, REDIS_URL, Clock, make_connectors
from tests.test_ops import samples

T0 = datetime(2026, 11, 28, 9, tzinfo=UTC)
PERSONAL = ("ChuHoSo", "SoGiayTo", "SoDienThoai")
APPLICANT = (*PERSONAL, "LoaiDoiTuong", "TenTTHC", "DonViXuLy")


@dataclass
class Rig:
    portals: MockPortals
    store: Store
    syncer: Syncer
    pusher: Pusher
    clock: Clock
    connectors: list[Connector]

    def national(self) -> dict[str, dict[str, Any]]:
        """The national portal's records as it serves them (personal data included)."""
        return dict(self.portals.national_app[national_mock.FEED].records())

    def city(self) -> dict[str, dict[str, Any]]:
        return dict(self.portals.city_app[city_mock.FEED].records())

    def faults(self, settings: FaultSettings) -> None:
        self.portals.national_app[FAULTS].set(settings)


async def make_rig(
    store: Store,
    portals: MockPortals,
    config: Config,
    policy: Policy | None = None,
    settings: PushSettings | None = None,
    page_size: int = 37,
) -> Rig:
    http = replace(FAST_HTTP, breaker_cooldown_seconds=0.2)
    connectors: list[Connector] = list(
        make_connectors(portals, config, page_size=page_size, http=http)
    )
    city, national = connectors
    assert isinstance(city, CityConnector)
    assert isinstance(national, NationalConnector)
    clock = Clock(T0)
    syncer = Syncer(
        store,
        connectors,
        clock=clock,
        policy=policy or Policy(),
        writeback=True,
        catalogue=national,
    )
    pusher = Pusher(
        store,
        national,
        city,
        settings or PushSettings(agency_name="Ban Quản lý Khu kinh tế Hải Phòng"),
        clock=clock,
        procedures=lambda: syncer.procedures,
    )
    syncer.pusher = pusher
    return Rig(portals, store, syncer, pusher, clock, connectors)


@pytest.fixture
async def seed_portals(config: Config) -> AsyncIterator[MockPortals]:
    scenario = scenario_module.load(scenario_module.seed_scenario_path())
    running = await start_mock_portals(scenario, config.city_statuses())
    yield running
    await running.stop()


@pytest.fixture
async def rig(store: Store, seed_portals: MockPortals, config: Config) -> AsyncIterator[Rig]:
    made = await make_rig(store, seed_portals, config)
    yield made
    for c in made.connectors:
        await c.close()


def regressed(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    """Codes whose national status moved backwards."""
    out = []
    for code, old in before.items():
        new = after.get(code)
        if new is None:
            continue
        a, b = Status(int(old["TrangThaiHoSo"])), Status(int(new["TrangThaiHoSo"]))
        if a != b and b not in REACHABLE[a]:
            out.append(code)
    return out


async def test_the_seed_month_is_pushed_with_the_applicants_data_intact(rig: Rig) -> None:
    before, city = rig.national(), rig.city()
    await rig.syncer.cycle()
    waiting = await rig.store.outbox.entries()
    assert {e["state"] for e in waiting} == {"pending"}
    needed = {e["key"]: e for e in waiting}
    pushing = [r for r in await rig.store.mismatches() if r["state"] == "pushing"]
    assert {r["key"] for r in pushing} == set(needed)

    assert await rig.pusher.drain() == {
        outcome: n
        for outcome, n in (
            ("created", sum(e["action"] == "create" for e in waiting)),
            ("updated", sum(e["action"] == "update" for e in waiting)),
        )
        if n
    }
    after = rig.national()
    assert await rig.store.outbox.entries() == []
    for e in waiting:
        record = after[e["code"]]
        assert record["TrangThaiHoSo"] == str(json.loads(e["target"])["st"])
        if e["action"] == "update":
            old = before[e["code"]]
            # Only the planned fields changed: the applicant and everything else as it was.
            untouched = set(old) - {"TrangThaiHoSo", "NgayKetThucXuLy", "NgayTra", "NgayCapNhat"}
            assert {k: record[k] for k in untouched} == {k: old[k] for k in untouched}
        else:
            applicant = city[e["key"]]
            assert (record["ChuHoSo"], record["SoGiayTo"], record["SoDienThoai"]) == (
                applicant["applicantName"],
                applicant["applicantIdNo"],
                applicant["contactTelNo"],
            )
        assert all(record.get(name) for name in APPLICANT), e["code"]
    assert regressed(before, after) == []
    log = await rig.store.outbox.log()
    assert {x["outcome"] for x in log} <= {"created", "updated"}
    assert len(log) == len(needed)
    audit: Any = await rig.store.redis.xrange(rig.store.key("audit"))
    pushes = [
        {k.decode(): v.decode() for k, v in fields.items()}
        for _, fields in audit
        if fields[b"action"] == b"push"
    ]
    assert len(pushes) == len(needed)
    assert all(json.loads(p["after"])["answer"] for p in pushes)

    # The next read agrees: the mismatches resolve, and nothing more is pushed, ever.
    await rig.syncer.cycle()
    still = [r for r in await rig.store.mismatches() if r["state"] == "pushing"]
    assert still == []
    assert await rig.store.outbox.entries() == []
    assert await rig.pusher.drain() == {}
    await rig.syncer.sweep()
    await rig.syncer.reconcile_pending()
    assert await rig.pusher.drain() == {}

    # No personal data reached Redis.
    secrets = {
        v
        for record in (*after.values(), *city.values())
        for k, v in record.items()
        if k in (*PERSONAL, "applicantName", "applicantIdNo", "contactTelNo") and v
    }
    assert secrets
    async for key in rig.store.redis.scan_iter(match=f"{{{rig.store.prefix}}}:*"):
        dump = await rig.store.redis.dump(key)
        assert dump is not None
        text = dump.decode("utf-8", errors="replace")
        assert not any(s in text for s in secrets), key


@pytest.fixture
async def generated(config: Config) -> AsyncIterator[tuple[MockPortals, Dataset]]:
    scenario = scenario_module.generate(500, seed=13, city_words=False)
    dataset = scenario.views(scenario.now, salt="")
    running = await start_mock_portals(dataset, config.city_statuses())
    yield running, dataset
    await running.stop()


async def test_a_partial_national_read_pushes_nothing_until_the_read_completes(
    store: Store, generated: tuple[MockPortals, Dataset], config: Config
) -> None:
    portals, _ = generated
    rig = await make_rig(store, portals, config, page_size=25)
    try:
        before = rig.national()
        rig.faults(FaultSettings(listing_fails_after=5))
        result = await rig.syncer.cycle()
        assert result.failed_portals == [Source.NATIONAL]
        assert await rig.pusher.drain() == {}
        assert await rig.store.outbox.entries() == []
        assert rig.national() == before  # not one write
        assert await rig.pusher.held() == "national view incomplete"

        rig.faults(FaultSettings())
        result = await rig.syncer.cycle()
        assert result.failed_portals == []
        needed = await rig.store.outbox.entries()
        assert needed
        done = await rig.pusher.drain(limit=10_000)
        assert sum(done.values()) == len(needed)
        assert set(done) <= {"created", "updated"}
        after = rig.national()
        created = {e["code"] for e in needed if e["action"] == "create"}
        assert set(after) - set(before) == created  # no duplicate under another code
        assert regressed(before, after) == []
        changed = {c for c in before if after[c] != before[c]}
        assert changed == {e["code"] for e in needed if e["action"] == "update"}
        assert all(after[c]["TrangThaiHoSo"] != before[c]["TrangThaiHoSo"] for c in changed)
    finally:
        for c in rig.connectors:
            await c.close()


async def fail_every_push(rig: Rig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A cycle plans the seed month's pushes; the national portal answers 5xx to each: (the
    entries planned, the entries failed)."""
    await rig.syncer.cycle()
    needed = await rig.store.outbox.entries()
    assert needed
    rig.faults(FaultSettings(error_rate=1.0))
    assert await rig.pusher.drain() == {"failed": len(needed)}
    return needed, await rig.store.outbox.entries("failed")


async def test_failed_pushes_are_retried_within_minutes_not_at_the_sweep(rig: Rig) -> None:
    needed, failed = await fail_every_push(rig)
    assert len(failed) == len(needed)
    assert all(e["last_error"] for e in failed)
    assert {
        r["state"] for r in await rig.store.mismatches() if r["key"] in {e["key"] for e in needed}
    } >= {"pushing"}
    rig.faults(FaultSettings())
    assert await rig.pusher.drain() == {}  # not due yet
    await asyncio.sleep(0.3)  # the breaker's cool-down, in real time
    rig.clock.now += timedelta(seconds=31)
    done = await rig.pusher.drain()
    assert sum(done.values()) == len(needed)
    assert await rig.store.outbox.entries() == []


async def test_a_crash_between_decision_and_push_or_mid_push_pushes_once_in_effect(
    rig: Rig,
) -> None:
    await rig.syncer.cycle()
    needed = await rig.store.outbox.entries()
    update = next(e for e in needed if e["action"] == "update")
    # The process dies after deciding, before pushing: the outbox holds it all.
    fresh = Pusher(
        rig.store, rig.pusher.national, rig.pusher.city, rig.pusher.settings, clock=rig.clock
    )

    # Another dies mid-push, after the portal took the write, before it was recorded.
    original = fresh.outbox.finish

    async def die_once(entry: Any, outcome: str, *args: Any, **kwargs: Any) -> None:
        if entry["key"] == update["key"]:
            fresh.outbox.finish = original  # type: ignore[method-assign]
            raise RuntimeError("killed")
        await original(entry, outcome, *args, **kwargs)

    fresh.outbox.finish = die_once  # type: ignore[method-assign]
    taken = await fresh.outbox.start(update, rig.clock(), 120)
    assert taken is not None
    with pytest.raises(RuntimeError):
        await fresh.push_one(taken)
    written = rig.national()[update["code"]]
    assert written["TrangThaiHoSo"] == str(json.loads(update["target"])["st"])

    # Restarted: everything else is pushed; the one in flight is due again after its timeout,
    # finds the portal already written, and does not write it again.
    rig.clock.now += timedelta(seconds=1)
    done = await rig.pusher.drain()
    assert sum(done.values()) == len(needed) - 1
    rig.clock.now += timedelta(seconds=121)
    assert await rig.pusher.drain() == {"unchanged": 1}
    assert rig.national()[update["code"]] == written
    await rig.syncer.cycle()
    assert await rig.store.outbox.entries() == []
    assert [r for r in await rig.store.mismatches() if r["state"] == "pushing"] == []


async def test_the_national_status_authority_is_never_overwritten(
    store: Store, seed_portals: MockPortals, config: Config
) -> None:
    rig = await make_rig(store, seed_portals, config, Policy(authority={"status": Source.NATIONAL}))
    try:
        before = rig.national()
        await rig.syncer.cycle()
        await rig.pusher.drain()
        after = rig.national()
        assert {c: r["TrangThaiHoSo"] for c, r in after.items() if c in before} == {
            c: r["TrangThaiHoSo"] for c, r in before.items()
        }
    finally:
        for c in rig.connectors:
            await c.close()


async def test_a_create_that_meets_an_existing_record_is_told_by_its_error_code(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    await rig.syncer.cycle()
    create = next(e for e in await rig.store.outbox.entries() if e["action"] == "create")
    # Someone creates it between our look-up and our write.
    national = rig.pusher.national
    look_up = national.look_up
    calls: list[str] = []

    async def stale_once(code: str) -> dict[str, Any] | None:
        calls.append(code)
        if len(calls) == 1:
            target = replace(codec.loads(create["target"]), code=create["code"])
            await national.write_record(national_wire.encode(target, {"ChuHoSo": "x"}), False)
            return None
        return await look_up(code)

    monkeypatch.setattr(national, "look_up", stale_once)
    errors: list[str] = []
    write = national.write_record

    async def watch(record: Any, updating: bool) -> dict[str, Any]:
        try:
            return await write(record, updating)
        except Exception as exc:
            errors.append(getattr(exc, "code", ""))
            raise

    monkeypatch.setattr(national, "write_record", watch)
    taken = await rig.store.outbox.start(create, rig.clock(), 120)
    assert taken is not None
    assert await rig.pusher.push_one(taken) == "superseded"
    assert errors[:1] == ["05"]
    assert "05" in ALREADY_EXISTS
    assert rig.national()[create["code"]]["ChuHoSo"] == "x"  # not overwritten


async def test_a_burst_is_held_until_an_operator_releases_it(
    store: Store, seed_portals: MockPortals, config: Config
) -> None:
    rig = await make_rig(
        store, seed_portals, config, settings=PushSettings(burst_share=0.01, burst_min=1)
    )
    try:
        await rig.syncer.cycle()
        needed = await rig.store.outbox.entries()
        assert len(needed) > 1
        assert await rig.pusher.drain() == {}
        held = json.loads((await rig.store.status())["writeback:held"])
        assert f"{len(needed)} pushes waiting" in held["reason"]
        await rig.store.release_writeback("lan", "checked: the city is right", rig.clock())
        assert sum((await rig.pusher.drain()).values()) == len(needed)
        audit: Any = await rig.store.redis.xrange(rig.store.key("audit"))
        assert any(f[b"action"] == b"push_release" for _, f in audit)
    finally:
        for c in rig.connectors:
            await c.close()


async def test_pushes_and_the_outbox_are_in_the_metrics(rig: Rig) -> None:
    metrics = Metrics()
    rig.pusher.pushed = metrics.pushed
    await rig.syncer.cycle()
    waiting = len(await rig.store.outbox.entries())
    rig.clock.now += timedelta(minutes=5)
    await metrics.refresh(rig.store, rig.clock())
    found = samples(metrics.exposition().decode())
    assert found[("syncd_outbox_entries", (("state", "pending"),))] == waiting
    assert found[("syncd_outbox_oldest_seconds", ())] == 300
    assert found[("syncd_writeback_held", ())] == 0
    done = await rig.pusher.drain()
    await metrics.refresh(rig.store, rig.clock())
    found = samples(metrics.exposition().decode())
    for outcome, n in done.items():
        assert found[("syncd_pushes_total", (("outcome", outcome),))] == n
    assert found[("syncd_outbox_entries", (("state", "pending"),))] == 0


async def test_a_plan_decided_again_from_a_newer_national_record_is_pushed_from_it(
    rig: Rig,
) -> None:
    """The same changes planned again after the portal's record changed under them (another
    system rewrote it, same status): the outbox keeps the newer base, so the push is made, not
    dropped as superseded with its mismatch left 'pushing' and nothing in the outbox."""
    await rig.syncer.cycle()
    entry = next(e for e in await rig.store.outbox.entries() if e["action"] == "update")
    national = rig.pusher.national
    raw = await national.look_up(entry["code"])
    assert raw is not None
    await asyncio.sleep(1.1)  # the portal stamps writes to the second
    await national.write_record(raw, updating=True)
    await rig.syncer.cycle()
    again = await rig.store.outbox.entry(entry["key"])
    assert again is not None
    assert again["sig"] == entry["sig"]
    assert again["base_version"] != entry["base_version"]

    await rig.pusher.drain(limit=10_000)
    target = str(json.loads(entry["target"])["st"])
    assert rig.national()[entry["code"]]["TrangThaiHoSo"] == target
    await rig.syncer.cycle()
    planned = {e["key"] for e in await rig.store.outbox.entries()}
    pushing = {r["key"] for r in await rig.store.mismatches() if r["state"] == "pushing"}
    assert pushing <= planned


async def test_a_plan_the_portal_has_moved_past_is_decided_again_not_dropped(rig: Rig) -> None:
    """The portal serves a version of the record that is neither the plan's base nor newer than
    what the store holds (nothing new to store, so nothing would queue a new decision): the
    entry is not dropped with its mismatch left 'pushing'; the dossier is decided again and
    the new plan pushed."""
    await rig.syncer.cycle()
    entry = next(e for e in await rig.store.outbox.entries() if e["action"] == "update")
    stale = {**entry, "base_version": "1"}
    await rig.store.redis.hset(rig.store.key("outbox"), entry["key"], json.dumps(stale))

    await rig.pusher.drain(limit=10_000)
    left = await rig.store.outbox.entry(entry["key"])
    assert left is not None
    assert left["state"] == "failed"
    assert "1" in left["last_error"]
    assert left["last_error_kind"] == "stale"
    await rig.syncer.reconcile_pending()
    await rig.pusher.drain(limit=10_000)
    target = str(json.loads(entry["target"])["st"])
    assert rig.national()[entry["code"]]["TrangThaiHoSo"] == target
    await rig.syncer.cycle()
    pushing = {r["key"] for r in await rig.store.mismatches() if r["state"] == "pushing"}
    assert pushing <= {e["key"] for e in await rig.store.outbox.entries()}


async def test_the_writeback_verbs_say_why_a_push_failed_and_name_the_os_user(rig: Rig) -> None:
    _, failed = await fail_every_push(rig)
    kinds = {e["last_error_kind"] for e in failed}
    assert "server_error" in kinds <= {"server_error", "circuit_open"}  # the breaker may open
    # $USER is anyone's to set: the audit names the OS account instead.
    env = {
        "SYNCD_REDIS_URL": REDIS_URL,
        "SYNCD_KEY_PREFIX": rig.store.prefix,
        "USER": "mallory",
        "LOGNAME": "mallory",
    }

    def cli(*args: str) -> tuple[int, str, str]:
        return run_cli(*args, env=env)

    code, out, err = await asyncio.to_thread(cli, "writeback", "--state", "failed")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{len(failed)} mục chờ cập nhật lên Cổng DVCQG (chạy thử, chưa đẩy):"
    for e, line in zip(failed, lines[1:], strict=True):
        assert line.startswith(e["key"])
        assert f"({failure_text(e['last_error_kind'], e['last_error'], 'vi')})" in line
    assert any("Máy chủ của cổng gặp lỗi (HTTP 5xx) (chi tiết kỹ thuật: " in x for x in lines)
    code, out, _ = await asyncio.to_thread(cli, "--lang", "en", "writeback", "--format", "json")
    assert code == 0
    listed = {e["key"]: e for e in json.loads(out)}
    assert {k: e["last_error_kind"] for k, e in listed.items()} == {
        e["key"]: e["last_error_kind"] for e in failed
    }
    code, out, _ = await asyncio.to_thread(
        cli, "writeback", "list", "--state", "failed", "--format", "json"
    )
    assert (code, [e["key"] for e in json.loads(out)]) == (0, [e["key"] for e in failed])

    key = failed[0]["key"]
    assert (await asyncio.to_thread(cli, "writeback", "retry"))[0] == 2
    code, _, err = await asyncio.to_thread(cli, "writeback", "retry", "NO-SUCH-KEY")
    assert (code, err.strip()) == (2, "Không có trong hàng đợi: NO-SUCH-KEY")
    code, out, _ = await asyncio.to_thread(cli, "writeback", "retry", key)
    assert (code, out.strip()) == (0, "Sẽ thử lại ngay 1 mục.")

    code, out, _ = await asyncio.to_thread(cli, "writeback", "cancel", key, "--reason", "sai")
    assert (code, out.strip()) == (0, f"Đã hủy mục {key}.")
    assert await rig.store.outbox.entry(key) is None
    [logged] = await rig.store.outbox.log(1)
    assert (logged["key"], logged["outcome"], logged["by"]) == (key, "cancelled", os_user())
    audit = await MismatchQueue(rig.store).audit(1000)
    assert [e["who"] for e in audit if e["action"] == "push_cancel"] == [os_user()]
    assert os_user() != "mallory"

    code, out, _ = await asyncio.to_thread(cli, "writeback", "release", "--reason", "đã xem")
    assert (code, out.strip()) == (0, "Đã cho phép đẩy đợt đang giữ lại.")
    assert "writeback:released" in await rig.store.status()
