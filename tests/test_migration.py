"""Migrated dossiers found by evidence, not by their code (DOMAIN.md §1, §5.1; issue 11).

The engine's signals one by one (pure), the store's receipt index that the burst signal needs
(real Redis: whatever order the cut-over batch arrives in, every dossier of it ends excluded),
operators marking and unmarking dossiers (queue, CLI, API), and the recoded seed scenario: the
old system's dossiers given new codes at the cut-over, so the code-date rule sees none of them,
and the reconciled figures still reach the truth.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.mockserver import MockPortals, start_mock_portals
from connectors.scenario import Scenario, load
from reconcile.engine import (
    MismatchKind,
    Policy,
    code_date,
    decide,
    migration_evidence,
    migration_signals,
    receipt_second,
)
from reconcile.model import VN_TZ, Channel, Dossier, Source, Status, local_date
from reconcile.period import Period
from syncd import config as config_module
from syncd.config import Config, ConfigError
from syncd.queue import MismatchQueue, QueueError
from syncd.reports import gather, to_json
from syncd.service import Syncer
from syncd.store import Store
from tests.conftest import make_connectors
from tests.test_cli_ops import cli, env_for

ROOT = Path(__file__).resolve().parent.parent
RECODED = ROOT / "scenarios" / "heza-2024-07-recoded.json"
SEED = ROOT / "scenarios" / "heza-2024-07.json"
PERIOD = Period.parse("2024-07")
CUTOVER = datetime(2024, 6, 24, tzinfo=VN_TZ)
BURST = Policy(migration_burst_size=5, migration_burst_minutes=10)


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=VN_TZ)


def record(code: str = "HS-0001", source: Source = Source.CITY, **changes: object) -> Dossier:
    base = Dossier(
        source=source,
        code=code,
        procedure_code="1.009007",
        field_code="DT",
        channel=Channel.ONLINE,
        status=Status.RETURNED,
        received_at=CUTOVER,
        updated_at=CUTOVER,
        finished_at=CUTOVER,
        returned_at=CUTOVER,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def names(city: Dossier, policy: Policy, **kw: object) -> dict[str, bool]:
    return {s.name: s.strong for s in migration_signals(city, policy, **kw)}  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# The signals


def test_a_record_finished_before_it_was_received_is_migrated() -> None:
    old = record(received_at=CUTOVER, finished_at=at(3, 7, 15), returned_at=at(3, 8))
    assert names(old, Policy()) == {"finished_before_received": True}
    assert migration_evidence(old, Policy()) == "finished_before_received=2024-03-07"
    same_day = record(received_at=at(7, 1, 9), finished_at=at(7, 1, 16), returned_at=None)
    assert names(same_day, Policy()) == {}


def test_the_cut_over_batch_is_a_burst_of_receipts_at_one_instant_finished_within_minutes() -> None:
    old = record()
    second = receipt_second(old)
    assert names(old, BURST, receipt_counts={second: 11}) == {"burst": True}
    assert migration_evidence(old, BURST, receipt_counts={second: 11}) == (
        "burst=2024-06-24 00:00:00"
    )
    # Below the size, or with the signal off, a lone quick record is only a weak sign.
    assert names(old, BURST, receipt_counts={second: 4}) == {"instant": False}
    assert names(old, Policy(), receipt_counts={second: 11}) == {"instant": False}
    assert migration_evidence(old, BURST, receipt_counts={second: 4}) == ""
    # Eleven real dossiers accepted in one go, but worked on for days: no burst.
    real = record(
        status=Status.PROCESSING, finished_at=None, returned_at=None, received_at=at(7, 1)
    )
    assert names(real, BURST, receipt_counts={receipt_second(real): 11}) == {}
    slow = record(finished_at=CUTOVER + timedelta(minutes=11), returned_at=None)
    assert names(slow, BURST, receipt_counts={second: 11}) == {}


def test_the_national_portal_holding_it_from_before() -> None:
    new = record(code="000.00.45.H26-240624-0005", alt_codes=("000.00.45.H26-240226-0001",))
    pushed = record(
        code="000.00.45.H26-240226-0001",
        source=Source.NATIONAL,
        received_at=at(2, 26),
        finished_at=at(3, 7),
        returned_at=at(3, 8),
        updated_at=at(3, 8),
    )
    assert names(new, Policy(), national=pushed) == {"national": True, "instant": False}
    decision = decide([new], [pushed], Policy())
    assert decision.excluded == "migrated"
    detail = next(m for m in decision.mismatches if m.kind is MismatchKind.MIGRATED).detail
    assert detail == "instant=0 min; national=2024-02-26..2024-03-07"
    # An earlier national receipt alone (a shifted date looks the same) is a weak sign...
    shifted = replace(pushed, finished_at=None, returned_at=None, status=Status.PROCESSING)
    open_city = record(status=Status.PROCESSING, finished_at=None, returned_at=None)
    assert names(open_city, Policy(), national=shifted) == {"national": False}
    assert migration_evidence(open_city, Policy(), national=shifted) == ""
    # ...which the cut-over window completes.
    window = Policy(migration_window=(date(2024, 6, 24), date(2024, 6, 24)))
    assert migration_evidence(open_city, window, national=shifted) == (
        "national=2024-02-26..; window=2024-06-24..2024-06-24"
    )


def test_an_operator_has_the_last_word() -> None:
    old = record(code="000.00.45.H26-240415-0003")  # code dated 15/4: the engine says migrated
    assert decide([old], [], Policy()).excluded == "migrated"
    kept = decide([old], [], Policy(), overrides={"migrated": "false"})
    assert kept.excluded is None
    assert [m.kind for m in kept.mismatches] == [MismatchKind.MISSING_NATIONAL]
    real = record(received_at=at(7, 1), finished_at=at(7, 9), returned_at=None)
    marked = decide([real], [], Policy(), overrides={"migrated": "true"})
    assert marked.excluded == "migrated"
    assert [(m.kind, m.detail) for m in marked.mismatches] == [(MismatchKind.MIGRATED, "operator")]
    assert marked.corrected == real  # the verdict is no field of the record


def test_policy_and_configuration_refuse_a_bad_window(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ends before"):
        Policy(migration_window=(date(2024, 6, 25), date(2024, 6, 24)))
    for toml, shown in (
        ('[reconcile]\nmigration_window = ["2024-06-25", "2024-06-24"]\n', "2024-06-25"),
        ('[reconcile]\nmigration_window = ["2024-06-24"]\n', "2024-06-24"),
        ('[reconcile]\nmigration_window = ["24/6/2024", "2024-06-25"]\n', "24/6/2024"),
        ("[reconcile]\nmigration_burst_size = 1\n", "1"),
        ("[reconcile]\nmigration_burst_minutes = -1\n", "-1"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(toml, encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            config_module.load(bad, env={})
        assert caught.value.key.startswith("reconcile.migration_"), toml
        assert caught.value.where == str(bad)
        assert shown in str(caught.value)
    # The old blunt rule's key says what replaced it.
    old = tmp_path / "old.toml"
    old.write_text('[reconcile]\nmigration_cutover = "2024-06-24"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config_module.load(old, env={})
    assert caught.value.key == "reconcile.migration_cutover"
    assert "reconcile.migration_window" in str(caught.value)
    good = tmp_path / "good.toml"
    good.write_text(
        '[reconcile]\nmigration_window = ["2024-06-24", "2024-06-25"]\nmigration_burst_size = 8\n',
        encoding="utf-8",
    )
    policy = config_module.load(good, env={}).policy()
    assert policy.migration_window == (date(2024, 6, 24), date(2024, 6, 25))
    assert policy.migration_burst_size == 8


# --------------------------------------------------------------------------------------------
# The store's receipt index


async def queued(store: Store) -> set[str]:
    work = await store.take_work("test", 1000)
    if work.entry_ids:
        await store.redis.xack(store.key("work"), "reconcilers", *work.entry_ids)
    return set(work.codes)


async def test_crossing_the_burst_size_queues_the_whole_instant_again(store: Store) -> None:
    store.burst_size = 3
    await store.ensure_group()
    batch = [record(code=f"HS-{n:04d}") for n in range(1, 5)]
    await store.upsert(Source.CITY, batch[:2], None)
    assert await queued(store) == {"HS-0001", "HS-0002"}
    assert await store.receipt_counts([receipt_second(batch[0])]) == {receipt_second(batch[0]): 2}
    await store.upsert(Source.CITY, batch[2:3], None)  # 2 -> 3: the batch is a burst now
    assert await queued(store) == {"HS-0001", "HS-0002", "HS-0003"}
    await store.upsert(Source.CITY, batch[3:], None)  # 3 -> 4: still a burst, only the new one
    assert await queued(store) == {"HS-0004"}
    await store.upsert(Source.CITY, batch, None)  # replayed: nothing moves
    assert await queued(store) == set()
    # An older version of a record changes nothing, its receipt included.
    stale = replace(batch[0], received_at=at(7, 1), updated_at=CUTOVER - timedelta(days=1))
    await store.upsert(Source.CITY, [stale], None)
    assert await queued(store) == set()
    # Two records move away: 4 -> 3 (still a burst), then 3 -> 2 (no longer: all queued).
    for n in (0, 1):
        moved = replace(batch[n], received_at=at(7, 1), updated_at=at(7, 2))
        await store.upsert(Source.CITY, [moved], None)
        got = await queued(store)
        assert got == ({"HS-0001"} if n == 0 else {"HS-0002", "HS-0003", "HS-0004"})
    second = receipt_second(batch[0])
    assert await store.receipt_counts([second, receipt_second(record(received_at=at(7, 1)))]) == {
        second: 2,
        receipt_second(record(received_at=at(7, 1))): 2,
    }
    # National records are not counted; a store written before the index is rebuilt once.
    await store.upsert(Source.NATIONAL, [record(code="N-1", source=Source.NATIONAL)], None)
    assert (await store.receipt_counts([second]))[second] == 2
    await store.redis.delete(store.key("receipt", "city"))
    await store.ensure_indexes()
    assert (await store.receipt_counts([second]))[second] == 2


@pytest.fixture(scope="module")
def recoded() -> Scenario:
    return load(RECODED)


def migrated_keys(s: Scenario) -> set[str]:
    return {d.migrated_code for d in s.dossiers if d.migrated is not None}


async def test_the_verdict_does_not_depend_on_the_order_the_batch_arrives_in(
    store: Store, recoded: Scenario
) -> None:
    """The cut-over batch arrives one record at a time, in a random order, reconciled after
    each: every one of it ends excluded, with the same evidence as when they arrive together."""
    view = recoded.views(salt="order")
    city = list(view.city)
    random.Random(11).shuffle(city)
    syncer = Syncer(store, [], clock=lambda: recoded.now, policy=BURST)
    await store.upsert(Source.NATIONAL, list(view.national), None)
    for start in range(0, len(city), 3):
        await store.upsert(Source.CITY, city[start : start + 3], None)
        await syncer.reconcile_pending()
    excluded = await store.excluded()
    assert {k for k, why in excluded.items() if why == "migrated"} == migrated_keys(recoded)
    details = {r["key"]: r["detail"] for r in await store.mismatches() if r["kind"] == "migrated"}
    assert set(details) == migrated_keys(recoded)
    assert all("burst=2024-06-24 00:00:00" in d for d in details.values()), details


# --------------------------------------------------------------------------------------------
# The recoded seed scenario through the whole pipeline


def test_the_recoded_scenario_hides_the_migration_from_the_codes(recoded: Scenario) -> None:
    seed = load(SEED)
    assert recoded.truth["reconciled"] == seed.truth["reconciled"]
    assert recoded.truth["raw_city_columns"] == seed.truth["raw_city_columns"]
    view = recoded.views()
    city = {d.code: d for d in view.city}
    for key in migrated_keys(recoded):
        shown = city[key]
        assert code_date(key) == local_date(shown.received_at) == CUTOVER.date()
        assert migration_evidence(shown, Policy()) == ""  # neither the code nor a lone instant
    # Without the receipt index the engine counts them: the seed's distortion, back again.
    excluded = {
        decide([d], [], Policy()).key for d in view.city if decide([d], [], Policy()).excluded
    }
    assert excluded == set()


@pytest.fixture
async def recoded_portals(recoded: Scenario, config: Config) -> AsyncIterator[MockPortals]:
    running = await start_mock_portals(recoded, config.city_statuses())
    yield running
    await running.stop()


async def test_the_pipeline_reaches_the_reconciled_figures_with_recoded_dossiers(
    recoded: Scenario, recoded_portals: MockPortals, store: Store, config: Config
) -> None:
    connectors = make_connectors(recoded_portals, config)
    try:
        syncer = Syncer(
            store,
            connectors,
            clock=lambda: recoded.now,
            policy=config.policy(),
            catalogue=connectors[1],
        )
        await syncer.cycle()
        doc = to_json(await gather(store, PERIOD, config.report_settings(), recoded.now))
    finally:
        for c in connectors:
            await c.close()
    truth = recoded.truth
    # Raw figures distorted as in the seed report; reconciled figures the truth's.
    assert doc["raw"]["city"]["total"]["cells"] == truth["raw_city_columns"]
    assert doc["raw"]["city"]["total"]["cells"]["7"] == 77
    assert doc["raw"]["city"]["total"]["cells"]["10"] == 8
    assert doc["corrected"]["total"]["cells"] == truth["reconciled"]
    # Every migrated dossier is listed, under its new code, with its signals.
    reasons = {
        d["key"]: r["detail"]
        for d in doc["differences"]
        if d["source"] == "city"
        for r in d["reasons"]
        if r["kind"] == "migrated"
    }
    assert set(reasons) == migrated_keys(recoded)
    assert all("burst=2024-06-24 00:00:00" in why for why in reasons.values())
    pushed = next(
        d
        for d in recoded.dossiers
        if d.migrated and not any(x.kind == "missing" for x in d.national)
    )
    assert "national=2024-02-26..2024-03-07" in reasons[pushed.migrated_code]
    # The old system's push is part of the migrated dossier, not a dossier of its own.
    assert pushed.code not in {m["key"] for m in await store.mismatches()}


# --------------------------------------------------------------------------------------------
# Operators mark and unmark


def keys_counted(doc: dict[str, Any], column: str = "3") -> set[str]:
    return {k for cells in doc["ledger"]["corrected"].values() for k in cells.get(column, [])}


async def reconciled_report(syncer: Syncer, config: Config, now: datetime) -> dict[str, Any]:
    await syncer.reconcile_pending()
    return to_json(await gather(syncer.store, PERIOD, config.report_settings(), now))


async def test_an_operator_marks_and_unmarks_a_dossier_as_migrated(
    store: Store, config: Config
) -> None:
    now = at(7, 25)
    real = record(
        code="000.00.45.H26-240701-0001",
        received_at=at(7, 1),
        finished_at=at(7, 9),
        returned_at=None,
        status=Status.FINISHED,
        updated_at=at(7, 9),
    )
    old = record(code="000.00.45.H26-240415-0003")  # the engine: migrated (code_date)
    await store.upsert(Source.CITY, [real, old], None)
    syncer = Syncer(store, [], clock=lambda: now)
    queue = MismatchQueue(store, clock=lambda: now)
    doc = await reconciled_report(syncer, config, now)
    assert keys_counted(doc) == {real.code}

    marked = await queue.set_migrated(real.code, "lan", True, "đã trả kết quả trên hệ thống cũ")
    assert (marked["state"], marked["resolution"]["action"]) == ("resolved", "mark_migrated")
    unmarked = await queue.set_migrated(old.code, "lan", False, "hồ sơ thật của hệ thống mới")
    assert unmarked["resolution"]["overrides"] == {"migrated": "false"}
    doc = await reconciled_report(syncer, config, now)
    assert keys_counted(doc) == {old.code}
    records = {r["id"]: r for r in await store.mismatches(include_gone=True)}
    # The verdicts stay resolved: the engine's own detection does not reopen them.
    assert records[f"{real.code}|migrated"]["state"] == "resolved"
    assert records[f"{real.code}|migrated"]["detail"] == "operator"
    assert records[f"{old.code}|migrated"]["state"] == "resolved"
    assert not records[f"{old.code}|migrated"]["present"]
    reasons = {d["key"]: {r["kind"] for r in d["reasons"]} for d in doc["differences"]}
    assert {"migrated", "override"} <= reasons[real.code]
    audit = [e for e in await queue.audit(50) if e["action"].endswith("migrated")]
    assert [(e["who"], e["action"], e["id"]) for e in audit] == [
        ("lan", "mark_migrated", f"{real.code}~migrated"),
        ("lan", "unmark_migrated", f"{old.code}~migrated"),
    ]
    # Reopening gives the engine its say back.
    await queue.reopen(f"{old.code}|migrated", "lan", "xem lại")
    doc = await reconciled_report(syncer, config, now)
    assert keys_counted(doc) == set()
    cases: list[tuple[tuple[str, str, bool, str], str]] = [
        (("nope", "lan", True, "x"), "queue.no_dossier"),
        ((real.code, "lan", True, " "), "queue.no_reason"),
        ((real.code, "", True, "x"), "queue.no_who"),
    ]
    for bad, message in cases:
        with pytest.raises(QueueError) as caught:
            await queue.set_migrated(*bad)
        assert caught.value.message == message


async def test_the_verdict_verbs_of_the_command_line(
    recoded_portals: MockPortals, store: Store
) -> None:
    env = env_for(recoded_portals, store)
    code, _, err = await cli("run", "--once", env=env)
    assert code == 0, err
    key = "000.00.45.H26-240624-0001"  # received on the cut-over day, for real
    code, out, err = await cli(
        "mismatches", "mark-migrated", key, "--reason", "trùng hồ sơ cũ", env=env
    )
    assert code == 0, err
    assert key in out
    assert (await store.overrides([key]))[key] == {"migrated": "true"}
    code, _, err = await cli("mismatches", "unmark-migrated", key, env=env)
    assert code == 2
    assert "--reason" in err
    code, _, err = await cli("mismatches", "mark-migrated", "nope", "--reason", "x", env=env)
    assert code == 2
    assert "nope" in err
    code, out, _ = await cli("mismatches", "audit", "--format", "csv", env=env)
    assert f"mark_migrated,{key}~migrated" in out
