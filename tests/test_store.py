"""The Redis store against the machine's real Redis."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
import redis.exceptions

from connectors.base import Cursor, Rejected
from reconcile.compare import compare
from reconcile.model import VN_TZ, Channel, Dossier, Source, Status
from syncd.store import Store

T0 = datetime(2024, 7, 1, 8, 30, tzinfo=VN_TZ)


def dossier(code: str, status: Status = Status.PROCESSING, minutes: int = 0) -> Dossier:
    return Dossier(
        source=Source.CITY,
        code=code,
        procedure_code="1.009876",
        field_code="DT",
        channel=Channel.ONLINE,
        status=status,
        received_at=T0,
        updated_at=T0 + timedelta(minutes=minutes),
    )


async def snapshot(store: Store) -> dict[bytes, object]:
    """Every key under the store's prefix with its full content (streams by entry), less the
    processes' own bookkeeping (leases and heartbeats: which process does what, not data)."""
    out: dict[bytes, object] = {}
    async for key in store.redis.scan_iter(match=f"{{{store.prefix}}}:*"):
        if b":lease:" in key or b":alive:" in key or key.endswith(b":heartbeat"):
            continue
        kind = await store.redis.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "hash":
            out[key] = await store.redis.hgetall(key)
        elif kind == "set":
            out[key] = await store.redis.smembers(key)
        elif kind == "stream":
            out[key] = await store.redis.xrange(key)
        elif kind == "zset":
            out[key] = await store.redis.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            out[key] = await store.redis.lrange(key, 0, -1)
        else:
            out[key] = await store.redis.get(key)
    return out


async def test_upsert_writes_records_and_cursor_together(store: Store) -> None:
    page = [dossier("A"), dossier("B", minutes=1)]
    cursor = Cursor(page[-1].updated_at, "B")
    assert await store.upsert(Source.CITY, page, cursor) == 2
    assert await store.cursor(Source.CITY) == cursor
    assert await store.load(Source.CITY, ["A", "B", "C"]) == {"A": page[0], "B": page[1]}


async def test_replaying_a_page_changes_nothing(store: Store) -> None:
    page = [dossier("A"), dossier("B", minutes=1)]
    cursor = Cursor(page[-1].updated_at, "B")
    await store.upsert(Source.CITY, page, cursor)
    before = await snapshot(store)
    assert await store.upsert(Source.CITY, page, cursor) == 0
    assert await snapshot(store) == before


async def test_an_older_record_never_overwrites_a_newer_one(store: Store) -> None:
    newer = dossier("A", Status.RETURNED, minutes=10)
    older = dossier("A", Status.PROCESSING, minutes=5)
    await store.upsert(Source.CITY, [newer], None)
    assert await store.upsert(Source.CITY, [older], None) == 0
    assert (await store.load(Source.CITY, ["A"]))["A"].status is Status.RETURNED


async def test_same_version_with_new_content_is_taken(store: Store) -> None:
    """A portal that changes a record without touching its timestamp still gets through."""
    await store.upsert(Source.CITY, [dossier("A", Status.PROCESSING)], None)
    assert await store.upsert(Source.CITY, [dossier("A", Status.STOPPED)], None) == 1
    assert (await store.load(Source.CITY, ["A"]))["A"].status is Status.STOPPED


async def test_a_failed_page_write_leaves_the_cursor_behind(store: Store) -> None:
    first = Cursor(T0, "A")
    await store.upsert(Source.CITY, [dossier("A")], first)
    await store.redis.set(store.key("ver", "city"), "not a hash")
    with pytest.raises(redis.exceptions.ResponseError):
        await store.upsert(Source.CITY, [dossier("B", minutes=1)], Cursor(T0, "B"))
    assert await store.cursor(Source.CITY) == first


async def test_rejected_records_are_quarantined_with_their_page(store: Store) -> None:
    bad = Rejected(Source.NATIONAL, "X-1", "TrangThaiHoSo: '42' is not a valid code", {"a": 1})
    await store.upsert(Source.NATIONAL, [], Cursor(T0, "X-1"), [bad])
    [entry] = await store.quarantined()
    assert entry["source"] == "national"
    assert entry["code"] == "X-1"
    assert entry["reason"] == bad.reason
    assert entry["raw"] == '{"a": 1}'
    assert await store.cursor(Source.NATIONAL) == Cursor(T0, "X-1")


async def test_a_burst_of_changes_queues_a_code_once(store: Store) -> None:
    await store.ensure_group()
    for minutes in range(5):
        await store.upsert(Source.CITY, [dossier("A", minutes=minutes)], None)
    await store.upsert(Source.NATIONAL, [replace(dossier("A"), source=Source.NATIONAL)], None)
    assert await store.redis.xlen(store.key("work")) == 1
    work = await store.take_work("c1", 10)
    assert work.codes == ("A",)
    # Once taken, a new change queues the code again.
    await store.upsert(Source.CITY, [dossier("A", minutes=9)], None)
    again = await store.take_work("c1", 10)
    assert again.codes == ("A",)


async def test_work_taken_but_never_acknowledged_is_claimed_again(store: Store) -> None:
    await store.ensure_group()
    await store.upsert(Source.CITY, [dossier("A"), dossier("B", minutes=1)], None)
    lost = await store.take_work("crashed-consumer", 10)
    assert set(lost.codes) == {"A", "B"}
    assert (await store.take_work("survivor", 10, reclaim_idle_ms=60_000)).codes == ()
    reclaimed = await store.take_work("survivor", 10, reclaim_idle_ms=0)
    assert set(reclaimed.codes) == {"A", "B"}
    decisions = [compare(d, None) for d in (await store.load(Source.CITY, ["A", "B"])).values()]
    await store.apply(decisions, reclaimed, T0)
    assert (await store.take_work("survivor", 10, reclaim_idle_ms=0)).entry_ids == ()


async def test_applying_the_same_decisions_twice_changes_nothing(store: Store) -> None:
    await store.ensure_group()
    city = dossier("A", Status.RETURNED, minutes=3)
    national = replace(dossier("A", Status.PROCESSING), source=Source.NATIONAL)
    await store.upsert(Source.CITY, [city], None)
    await store.upsert(Source.NATIONAL, [national], None)
    work = await store.take_work("c1", 10)
    decision = compare(city, national)
    await store.apply([decision], work, T0)
    before = await snapshot(store)
    await store.apply([decision], work, T0)
    assert await snapshot(store) == before
    later = T0 + timedelta(hours=1)
    await store.apply([decision], work, later)
    [mismatch] = await store.mismatches()
    stored = before[store.key("mismatch").encode()]
    assert isinstance(stored, dict)
    [earlier] = [json.loads(v) for v in stored.values()]
    assert mismatch == {**earlier, "last_seen_at": later.isoformat()}
    assert {k: mismatch[k] for k in ("code", "kind", "city", "national")} == {
        "code": "A",
        "kind": "status",
        "city": "10",
        "national": "4",
    }
    # Safe to push, but write-back is off (a dry run): operators see it, open.
    assert decision.mismatches[0].auto_resolvable
    assert mismatch["state"] == "open"
    assert mismatch["detected_at"] == T0.isoformat()


async def test_a_mismatch_no_longer_detected_is_auto_resolved(store: Store) -> None:
    await store.ensure_group()
    city = dossier("A", Status.RETURNED, minutes=3)
    await store.upsert(Source.CITY, [city], None)
    work = await store.take_work("c1", 10)
    first = compare(city, None)
    await store.apply([first], work, T0)
    assert [m["kind"] for m in await store.mismatches()] == ["missing_national"]
    await store.apply([compare(city, replace(city, source=Source.NATIONAL))], work, T0)
    assert await store.mismatches() == []
    [gone] = await store.mismatches(include_gone=True)
    assert (gone["state"], gone["present"]) == ("auto_resolved", False)
    assert gone["history"][-1]["event"] in ("auto_resolved", "no longer detected")
    if not getattr(first.mismatches[0], "auto_resolvable", False):
        assert gone["resolution"]["reason"] == "auto: no longer detected"
    assert await store.redis.scard(store.key("mismatch", "open")) == 0
    assert await store.redis.hlen(store.key("mismatch", "kinds")) == 0
