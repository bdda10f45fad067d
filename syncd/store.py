"""Redis store: what each portal says, cursors, the reconcile work queue, and its results.

Key schema (P is `redis.key_prefix`; the braces make P a hash tag, so in Redis Cluster every key
of one agency lives in one slot and the scripts below may touch them together):

    {P}:rec:city, {P}:rec:national   HASH  code -> dossier (compact JSON, reconcile.codec)
    {P}:ver:city, {P}:ver:national   HASH  code -> version (updated_at, µs since the epoch)
    {P}:cursor                       HASH  source -> cursor "updated_at|code"
    {P}:dirty                        SET   codes queued for reconciliation, not yet taken
    {P}:work                         STREAM  {c: code}; consumer group "reconcilers"
    {P}:corrected                    HASH  code -> corrected dossier (compact JSON)
    {P}:mismatch                     HASH  "code|kind" -> mismatch (JSON)
    {P}:mismatch:since               HASH  "code|kind" -> first detection (ISO time)
    {P}:quarantine                   STREAM  {source, code, reason, raw, updated_at}: rejected
                                           records, the
                                           newest ~100,000 kept; personal fields removed
    {P}:status                       HASH  "<source>:<field>" -> last cycle facts
    {P}:procedure                    HASH  procedure code -> procedure (JSON)
    {P}:procedure:meta               HASH  fetched_at, count

Invariants: a page's records, its quarantined records and the cursor after it are written by
one Lua script, the cursor last (no lost update, no cursor ahead of its data); an upsert never
replaces a stored record with an older one, and replaying one changes nothing; a changed code
enters the work stream once however often it changes before it is reconciled (the dirty set).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as aioredis
import redis.exceptions

from connectors.base import Cursor, Rejected
from reconcile import codec
from reconcile.compare import Decision, Mismatch, MismatchKind
from reconcile.model import Dossier, Procedure, Source

GROUP = "reconcilers"

_UPSERT = """
-- KEYS: rec, ver, cursor, dirty, work, quarantine
-- ARGV: source, cursor, record count n, n x (code, version, blob),
--       then (code, reason, raw, updated_at) per quarantined record
-- The cursor is written last: if anything fails before it, the page is simply fetched again.
local n = tonumber(ARGV[3])
local written = 0
for i = 4, 3 + 3 * n, 3 do
  local code, version, blob = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local current = redis.call('HGET', KEYS[2], code)
  local newer = (not current) or tonumber(current) < tonumber(version)
  if not newer and tonumber(current) == tonumber(version) then
    newer = redis.call('HGET', KEYS[1], code) ~= blob
  end
  if newer then
    redis.call('HSET', KEYS[1], code, blob)
    redis.call('HSET', KEYS[2], code, version)
    if redis.call('SADD', KEYS[4], code) == 1 then
      redis.call('XADD', KEYS[5], '*', 'c', code)
    end
    written = written + 1
  end
end
for i = 4 + 3 * n, #ARGV, 4 do
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', '100000', '*', 'source', ARGV[1], 'code', ARGV[i],
             'reason', ARGV[i + 1], 'raw', ARGV[i + 2], 'updated_at', ARGV[i + 3])
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
end
return written
"""


_APPLY = """
-- KEYS: corrected, mismatch, mismatch:since, work
-- ARGV: group, now, number of kinds k, k kinds, number of entry ids e, e ids,
--       then per decision: code, corrected blob ('' = none), m, m x (kind, mismatch json)
local k = tonumber(ARGV[3])
local kinds = {}
for i = 4, 3 + k do kinds[#kinds + 1] = ARGV[i] end
local at = 4 + k
local e = tonumber(ARGV[at])
local ids = {}
for i = at + 1, at + e do ids[#ids + 1] = ARGV[i] end
at = at + e + 1
while at <= #ARGV do
  local code, blob, m = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  if blob == '' then
    redis.call('HDEL', KEYS[1], code)
  else
    redis.call('HSET', KEYS[1], code, blob)
  end
  local present = {}
  for j = at + 3, at + 2 + 2 * m, 2 do
    local field = code .. '|' .. ARGV[j]
    present[ARGV[j]] = true
    redis.call('HSET', KEYS[2], field, ARGV[j + 1])
    redis.call('HSETNX', KEYS[3], field, ARGV[2])
  end
  for _, kind in ipairs(kinds) do
    if not present[kind] then
      redis.call('HDEL', KEYS[2], code .. '|' .. kind)
      redis.call('HDEL', KEYS[3], code .. '|' .. kind)
    end
  end
  at = at + 3 + 2 * m
end
if e > 0 then
  redis.call('XACK', KEYS[4], ARGV[1], unpack(ids))
  redis.call('XDEL', KEYS[4], unpack(ids))
end
return 1
"""


@dataclass(frozen=True, slots=True)
class WorkItem:
    entry_ids: tuple[str, ...]
    codes: tuple[str, ...]


class Store:
    def __init__(self, client: aioredis.Redis, prefix: str = "syncd") -> None:
        self.redis = client
        self.prefix = prefix
        self._upsert = client.register_script(_UPSERT)
        self._apply = client.register_script(_APPLY)

    def key(self, *parts: str) -> str:
        return ":".join((f"{{{self.prefix}}}", *parts))

    # --- portal side -------------------------------------------------------------------

    async def upsert(
        self,
        source: Source,
        dossiers: Sequence[Dossier],
        cursor: Cursor | None,
        rejected: Sequence[Rejected] = (),
    ) -> int:
        """Write one page, its quarantined records and its cursor in one script (atomic, one
        round trip); returns how many records were new or newer than what was stored."""
        args: list[Any] = [source.value, cursor.encode() if cursor else "", len(dossiers)]
        for d in dossiers:
            args += (d.code, d.version, codec.dumps(d))
        for r in rejected:
            raw = json.dumps(r.raw, ensure_ascii=False, default=str)
            stamp = r.updated_at.isoformat() if r.updated_at else ""
            args += (r.code or "", r.reason, raw, stamp)
        keys = [
            self.key("rec", source.value),
            self.key("ver", source.value),
            self.key("cursor"),
            self.key("dirty"),
            self.key("work"),
            self.key("quarantine"),
        ]
        return int(await self._upsert(keys=keys, args=args))

    async def cursor(self, source: Source) -> Cursor | None:
        raw = await self.redis.hget(self.key("cursor"), source.value)
        return Cursor.decode(_str(raw)) if raw else None

    async def load(self, source: Source, codes: Sequence[str]) -> dict[str, Dossier]:
        if not codes:
            return {}
        return _decode_many(
            codes, await self.redis.hmget(self.key("rec", source.value), list(codes))
        )

    async def load_both(
        self, codes: Sequence[str]
    ) -> tuple[dict[str, Dossier], dict[str, Dossier]]:
        """What the city and the national portal say about `codes`, in one round trip."""
        if not codes:
            return {}, {}
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.key("rec", Source.CITY.value), list(codes))
            pipe.hmget(self.key("rec", Source.NATIONAL.value), list(codes))
            city, national = await pipe.execute()
        return _decode_many(codes, city), _decode_many(codes, national)

    async def count(self, source: Source) -> int:
        return int(await self.redis.hlen(self.key("rec", source.value)))

    async def iter_records(self, name: str, batch: int = 2000) -> AsyncIterator[Dossier]:
        """Every dossier of one hash (`rec:city`, `rec:national`, `corrected`), in batches."""
        key = self.key(*name.split(":"))
        async for _, blob in self.redis.hscan_iter(key, count=batch):
            yield codec.loads(blob)

    async def quarantined(self, count: int = 100) -> list[dict[str, str]]:
        entries: Any = await self.redis.xrevrange(self.key("quarantine"), count=count)
        return [
            {"id": _str(entry_id), **{_str(k): _str(v) for k, v in fields.items()}}
            for entry_id, fields in entries
        ]

    async def quarantine_entry(self, entry_id: str) -> dict[str, str] | None:
        entries: Any = await self.redis.xrange(self.key("quarantine"), entry_id, entry_id)
        if not entries:
            return None
        entry_id_raw, fields = entries[0]
        return {"id": _str(entry_id_raw), **{_str(k): _str(v) for k, v in fields.items()}}

    async def quarantine_count(self) -> int:
        return int(await self.redis.xlen(self.key("quarantine")))

    async def release_quarantined(self, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            await self.redis.xdel(self.key("quarantine"), *entry_ids)

    async def save_procedures(self, procedures: Sequence[Procedure], fetched_at: datetime) -> None:
        """Replace the catalogue in one transaction."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.key("procedure"))
            if procedures:
                pipe.hset(
                    self.key("procedure"),
                    mapping={p.code: orjson.dumps(asdict(p)) for p in procedures},
                )
            pipe.hset(
                self.key("procedure", "meta"),
                mapping={"fetched_at": fetched_at.isoformat(), "count": len(procedures)},
            )
            await pipe.execute()

    async def procedures(self) -> dict[str, Procedure]:
        raw = await self.redis.hgetall(self.key("procedure"))
        return {_str(code): Procedure(**orjson.loads(blob)) for code, blob in raw.items()}

    async def procedures_fetched_at(self) -> datetime | None:
        raw = await self.redis.hget(self.key("procedure", "meta"), "fetched_at")
        return datetime.fromisoformat(_str(raw)) if raw else None

    async def record_status(self, source: Source, **facts: str | int) -> None:
        await self.redis.hset(
            self.key("status"), mapping={f"{source.value}:{k}": v for k, v in facts.items()}
        )

    # --- work queue ----------------------------------------------------------------------

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.key("work"), GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def take_work(self, consumer: str, count: int, reclaim_idle_ms: int = 60_000) -> WorkItem:
        """Up to `count` queued entries: first those another consumer took and never
        acknowledged for `reclaim_idle_ms`, then new ones. Codes are deduplicated."""
        work = self.key("work")
        reply: Any = await self.redis.xautoclaim(
            work, GROUP, consumer, min_idle_time=reclaim_idle_ms, start_id="0-0", count=count
        )
        entries = list(reply[1])
        if len(entries) < count:
            fresh: Any = await self.redis.xreadgroup(
                GROUP, consumer, {work: ">"}, count=count - len(entries)
            )
            for _, stream_entries in fresh:
                entries.extend(stream_entries)
        ids: list[str] = []
        codes: dict[str, None] = {}
        for entry_id, fields in entries:
            ids.append(_str(entry_id))
            if fields and b"c" in fields:
                codes[_str(fields[b"c"])] = None
        if codes:
            # From here on, a new change to these codes queues them again.
            await self.redis.srem(self.key("dirty"), *codes)
        return WorkItem(tuple(ids), tuple(codes))

    async def queue_depth(self) -> int:
        return int(await self.redis.scard(self.key("dirty")))

    # --- results -----------------------------------------------------------------------

    async def apply(self, decisions: Iterable[Decision], done: WorkItem, now: datetime) -> None:
        """Write decisions and acknowledge their work entries in one script (atomic, one round
        trip per batch).

        Idempotent: applying the same decisions again leaves Redis as it was (a mismatch keeps
        the time it was first detected).
        """
        kinds = [kind.value for kind in MismatchKind]
        args: list[Any] = [GROUP, now.isoformat(), len(kinds), *kinds, len(done.entry_ids)]
        args += done.entry_ids
        for decision in decisions:
            blob = codec.dumps(decision.corrected) if decision.corrected is not None else b""
            args += (decision.code, blob, len(decision.mismatches))
            for m in decision.mismatches:
                args += (m.kind.value, json.dumps(_mismatch_json(m), ensure_ascii=False))
        keys = [
            self.key("corrected"),
            self.key("mismatch"),
            self.key("mismatch", "since"),
            self.key("work"),
        ]
        await self._apply(keys=keys, args=args)

    async def mismatches(self) -> list[dict[str, Any]]:
        raw = await self.redis.hgetall(self.key("mismatch"))
        return [json.loads(v) for v in raw.values()]

    async def delete_all(self) -> int:
        """Remove every key under this prefix (tests, and a clean demo)."""
        removed = 0
        async for key in self.redis.scan_iter(match=f"{{{self.prefix}}}:*", count=1000):
            removed += int(await self.redis.unlink(key))
        return removed


def _decode_many(codes: Sequence[str], blobs: Sequence[Any]) -> dict[str, Dossier]:
    return {code: codec.loads(b) for code, b in zip(codes, blobs, strict=True) if b}


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _mismatch_json(m: Mismatch) -> dict[str, Any]:
    return {
        "code": m.code,
        "kind": m.kind.value,
        "severity": m.severity.value,
        "city": m.city_value,
        "national": m.national_value,
        "detail": m.detail,
    }
