"""A failure stays where it happened (ARCHITECTURE.md, invariant 11).

One dossier whose reconciliation raises (an operator's value that does not parse, a stored
record that does not decode) fails alone: the rest of its batch is written and acknowledged, it
is retried with backoff and counted, becomes a dead letter that operators see, and is healed
once it reconciles. A cycle that raises anything at all is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import structlog

from connectors.base import Connector
from reconcile.model import Procedure
from syncd.config import Config
from syncd.service import Syncer
from syncd.store import RetryPolicy, Store
from tests.commandline import run_cli
from tests.conftest import Clock
from tests.test_order import outcome

T0 = datetime(2026, 11, 28, 9, tzinfo=UTC)


async def test_a_dossier_that_raises_fails_alone_then_is_a_dead_letter_until_healed(
    store: Store, connectors: list[Connector]
) -> None:
    clock = Clock(T0)
    retries = RetryPolicy(dead_after=3, backoff_seconds=30, backoff_max_seconds=60)
    syncer = Syncer(store, connectors, batch=50, clock=clock, retries=retries)
    await syncer.cycle()
    before = await outcome(store)
    poisoned = sorted(before["corrected"])[7]
    # An operator's value that no longer parses (written by hand, or by an older syncd).
    await store.redis.hset(store.key("override"), f"{poisoned}|status", "banana")

    await syncer.sweep()
    await syncer.reconcile_pending()
    assert await store.queue_depth() == 0
    assert await store.redis.xlen(store.key("work")) == 0  # every entry acknowledged
    after = await outcome(store)
    for name, values in before.items():
        if isinstance(values, dict):
            assert {k: v for k, v in after[name].items() if k != poisoned} == {
                k: v for k, v in values.items() if k != poisoned
            }, name
    [failing] = await store.retrying()
    assert failing["code"] == poisoned
    assert failing["attempts"] == 1
    assert "override of status" in failing["error"]
    assert datetime.fromisoformat(failing["next_at"]) == T0 + timedelta(seconds=30)
    assert await store.dead_letters() == []

    # Not retried before its time; then with doubling waits, capped; then a dead letter.
    await syncer.reconcile_pending()
    assert (await store.retrying())[0]["attempts"] == 1
    clock.now += timedelta(seconds=31)
    await syncer.reconcile_pending()
    [failing] = await store.retrying()
    assert failing["attempts"] == 2
    assert datetime.fromisoformat(failing["next_at"]) == clock.now + timedelta(seconds=60)
    clock.now += timedelta(seconds=61)
    await syncer.reconcile_pending()
    assert await store.retrying() == []
    [dead] = await store.dead_letters()
    assert (dead["code"], dead["attempts"]) == (poisoned, 3)
    assert await store.failure_counts() == (0, 1)
    clock.now += timedelta(hours=2)
    await syncer.reconcile_pending()
    assert [d["attempts"] for d in await store.dead_letters()] == [3]  # no schedule any more

    # Fixed, and retried by hand: healed, and the dossier is what it was.
    await store.redis.hdel(store.key("override"), f"{poisoned}|status")
    assert await store.retry_failed([poisoned]) == 1
    await syncer.reconcile_pending()
    assert await store.failure_counts() == (0, 0)
    assert await outcome(store) == before


async def test_a_stored_record_that_does_not_decode_fails_only_its_dossier(
    store: Store, connectors: list[Connector]
) -> None:
    syncer = Syncer(store, connectors, batch=500, clock=Clock(T0))
    await syncer.cycle()
    before = await outcome(store)
    broken = sorted(before["corrected"])[3]
    await store.redis.hset(store.key("rec", "city"), broken, b"\xff not a record")
    await syncer.sweep()
    reconciled, _ = await syncer.reconcile_pending()
    assert reconciled > 100
    [failing] = await store.retrying()
    assert failing["code"] == broken
    assert failing["error"].startswith(f"stored record {broken}: ")
    assert {k: v for k, v in (await outcome(store))["corrected"].items() if k != broken} == {
        k: v for k, v in before["corrected"].items() if k != broken
    }


class FailingOnce:
    """A catalogue whose first answer is a bug (not a portal error)."""

    def __init__(self) -> None:
        self.calls = 0

    async def procedures(self) -> tuple[list[Procedure], list[str]]:
        self.calls += 1
        if self.calls == 1:
            raise KeyError("a bug in a cycle")
        return [], []


async def test_the_loop_survives_any_error_of_a_cycle(
    store: Store, connectors: list[Connector]
) -> None:
    catalogue = FailingOnce()
    syncer = Syncer(store, connectors, catalogue=catalogue)
    failed: list[int] = []
    syncer.observer.cycle_failed = lambda: failed.append(1)  # type: ignore[method-assign]
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(syncer.run(0.05, redis_retry_max=0.1))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if any(e["event"] == "cycle_done" for e in logs):
                break
        syncer.stopping.set()
        last = await task
    assert failed == [1]
    assert [e["event"] for e in logs].count("cycle_failed") == 1
    assert last is not None
    assert not last.failed_portals
    assert await store.redis.hlen(store.key("corrected")) > 0


async def test_deadletters_verb_lists_and_retries(
    store: Store, connectors: list[Connector], config: Config
) -> None:
    env = {"SYNCD_REDIS_URL": "redis://127.0.0.1:6379/0", "SYNCD_KEY_PREFIX": store.prefix}
    code, out, _ = await asyncio.to_thread(run_cli, "deadletters", env=env)
    assert code == 0
    assert out.startswith("0 hồ sơ đối chiếu lỗi")
    syncer = Syncer(store, connectors, retries=RetryPolicy(dead_after=1))
    await syncer.cycle()
    victim = sorted((await outcome(store))["corrected"])[0]
    await store.redis.hset(store.key("override"), f"{victim}|channel", "9")
    await store.enqueue([victim])
    await syncer.reconcile_pending()

    code, out, _ = await asyncio.to_thread(run_cli, "--lang", "en", "deadletters", "list", env=env)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "1 dossiers failed too often (dead letters), 0 to be retried."
    assert lines[1].startswith(victim)
    assert "override of channel" in lines[1]
    code, out, _ = await asyncio.to_thread(
        run_cli, "deadletters", "list", "--format", "json", env=env
    )
    assert [d["code"] for d in json.loads(out)["dead"]] == [victim]
    # `list` is the default: its options work without it, as the README writes them.
    code, alone, _ = await asyncio.to_thread(run_cli, "deadletters", "--format", "json", env=env)
    assert (code, json.loads(alone)) == (0, json.loads(out))
    code, _, err = await asyncio.to_thread(run_cli, "deadletters", "retry", "NOPE", env=env)
    assert code == 2
    assert err.strip() == "Không phải thư chết: NOPE"
    code, _, err = await asyncio.to_thread(run_cli, "deadletters", "retry", env=env)
    assert code == 2
    code, out, _ = await asyncio.to_thread(run_cli, "deadletters", "retry", "--all", env=env)
    assert (code, out.strip()) == (0, "Đã xếp 1 hồ sơ vào hàng đợi đối chiếu.")
    assert await store.queue_depth() == 1
