"""The write-back outbox: what is to be pushed to the national portal, and what was.

The decision to push is written with the decision itself, by the same script (`Store.apply_units`
calls `OUTBOX_LUA`): one entry per dossier, the `reconcile.writeback.Plan` with its state. The
pusher (syncd.pusher) drains it; an entry leaves it only when the portal confirmed it (or the
push had nothing left to do), when an operator cancels it, or when a later decision no longer
calls for it ("withdrawn"). Every way out is logged in the push log and the audit.

    {P}:outbox          HASH  dossier key -> entry (JSON): key, code, codes, action, changes
                              {field: [from, to]}, reasons, base_version (the national
                              record's version the plan was made from, as text), target (the
                              record as it should be, compact JSON, no personal data), steps,
                              sig (the plan's signature), state, attempts, created_at, next_at,
                              last_at, last_error, last_error_kind (why, in a word), answer
    {P}:outbox:due      ZSET  key -> when it is next due (epoch seconds); pending, failed and
                              in-flight entries (an in-flight one is due again if its pusher
                              died)
    {P}:outbox:cancelled  HASH  dossier key -> the signature of a plan an operator cancelled (the
                              same plan is not taken again; another one is)
    {P}:pushlog         STREAM  the entries that left the outbox: at, key, code, action, outcome
                              (created, updated, unchanged, superseded, withdrawn, cancelled),
                              changes, answer, by, versions (the national record's version before
                              and after a write, read back to confirm it: "before>after"); the
                              newest 10,000

States: `pending` (to push), `in_flight` (a pusher took it), `failed` (the last attempt failed:
`last_error` and the portal's `answer`; retried after a backoff), `dry_run` (write-back is off:
what would be pushed). A new plan for a dossier replaces its entry when it differs (another
signature, or the same changes planned from another version of the national record: the push must
start from the record the decision saw, or it would be dropped as superseded); the same plan again
leaves it as it is. An attempt is finished (or failed) only on the entry it took: a pusher that
took a plan now replaced leaves the new one in the outbox.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import FAILURES
from reconcile import codec
from reconcile.writeback import Plan

PUSHLOG_KEPT = 10_000
STATES = ("pending", "in_flight", "failed", "dry_run")
OUTCOMES = ("created", "updated", "unchanged", "superseded", "withdrawn", "cancelled")
# Why an attempt failed (`last_error_kind`): the portal's failures, a record read back that does
# not decode, or a portal record that moved past the plan.
FAILURE_KINDS = (*FAILURES, "bad_record", "stale")

# Lua shared by the scripts that write the outbox (here, and the apply script in syncd.store).
# o = {outbox, due, pushlog, audit, cancelled}
OUTBOX_LUA = f"""
local PUSHLOG_KEPT = {PUSHLOG_KEPT}
-- Whether entry `e` is the plan of signature `sig` made from national version `base` ('' for
-- none): the identity an attempt holds on to.
local function o_same(e, sig, base)
  local b = e.base_version
  if type(b) ~= 'string' then b = '' end
  return e.sig == sig and b == base
end
local function o_log(o, now, key, e, outcome, answer, by, versions)
  redis.call('XADD', o[3], 'MAXLEN', '~', PUSHLOG_KEPT, '*', 'at', now, 'key', key,
             'code', e.code or '', 'action', e.action or '', 'outcome', outcome,
             'changes', cjson.encode(e.changes or {{}}), 'answer', answer or '', 'by', by,
             'versions', versions or '')
end
local function o_audit(o, now, who, action, key, before, after)
  local entry = redis.call('XADD', o[4], '*', 'at', now, 'who', who, 'action', action,
                           'id', key .. '|writeback', 'before', before, 'after', after)
  local index = o[4] .. ':key:' .. key
  redis.call('RPUSH', index, entry)
  redis.call('LTRIM', index, -1000, -1)
end
-- A decision's plan for `key` (JSON, or '' for none), in mode 'push' or 'dry_run'. Returns
-- whether the outbox holds the plan (not when there is none, nor when an operator cancelled
-- this very plan).
local function o_drop(o, now, key)
  local raw = redis.call('HGET', o[1], key)
  if raw then
    local e = cjson.decode(raw)
    redis.call('HDEL', o[1], key)
    redis.call('ZREM', o[2], key)
    if e.state ~= 'dry_run' then o_log(o, now, key, e, 'withdrawn', '', 'syncd') end
  end
end
local function o_plan(o, now, now_epoch, key, plan, mode)
  if plan == '' then
    o_drop(o, now, key)
    redis.call('HDEL', o[5], key)
    return false
  end
  local p = cjson.decode(plan)
  if redis.call('HGET', o[5], key) == p.sig then
    o_drop(o, now, key)
    return false
  end
  redis.call('HDEL', o[5], key)
  local raw = redis.call('HGET', o[1], key)
  if raw then
    local e = cjson.decode(raw)
    local base = type(p.base_version) == 'string' and p.base_version or ''
    if o_same(e, p.sig, base) and (e.state == 'dry_run') == (mode == 'dry_run') then
      return true
    end
  end
  p.key = key
  p.state = mode == 'dry_run' and 'dry_run' or 'pending'
  p.attempts = 0
  p.created_at = now
  p.next_at = now_epoch
  redis.call('HSET', o[1], key, cjson.encode(p))
  if p.state == 'pending' then
    redis.call('ZADD', o[2], now_epoch, key)
  else
    redis.call('ZREM', o[2], key)
  end
  return true
end
"""

_START = (
    OUTBOX_LUA
    + """
-- KEYS: outbox, due, pushlog, audit, cancelled; ARGV: key, sig, base version, now (epoch),
-- in-flight timeout (s)
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local e = cjson.decode(raw)
if not o_same(e, ARGV[2], ARGV[3]) or e.state == 'dry_run' then return false end
e.state = 'in_flight'
e.attempts = (e.attempts or 0) + 1
e.next_at = tonumber(ARGV[4]) + tonumber(ARGV[5])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
redis.call('ZADD', KEYS[2], e.next_at, ARGV[1])
return cjson.encode(e)
"""
)

_FINISH = (
    OUTBOX_LUA
    + """
-- KEYS: outbox, due, pushlog, audit, cancelled
-- ARGV: key, sig, now (ISO), outcome, changes applied (JSON), answer, by, before, after,
--       versions ("<the national record's version before>><after>", '' when unknown), the
--       national code written, the action (the entry pushed: the stored one may be newer),
--       base version
-- The entry leaves the outbox if it is still the plan that was pushed (a newer plan stays). A
-- cancelled plan is remembered, so that the same plan is not taken again.
local o = {KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local e = raw and cjson.decode(raw) or {}
local pushed = {code = ARGV[11], action = ARGV[12], changes = cjson.decode(ARGV[5])}
if raw and o_same(e, ARGV[2], ARGV[13]) then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  if ARGV[4] == 'cancelled' then redis.call('HSET', KEYS[5], ARGV[1], ARGV[2]) end
end
o_log(o, ARGV[3], ARGV[1], pushed, ARGV[4], ARGV[6], ARGV[7], ARGV[10])
o_audit(o, ARGV[3], ARGV[7], ARGV[4] == 'cancelled' and 'push_cancel' or 'push', ARGV[1],
        ARGV[8], ARGV[9])
return 1
"""
)

_FAIL = (
    OUTBOX_LUA
    + """
-- KEYS: outbox, due, pushlog, audit, cancelled
-- ARGV: key, sig, now (ISO), next attempt (epoch), error, answer, before, base version,
--       the error's kind
local o = {KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]}
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local e = cjson.decode(raw)
if not o_same(e, ARGV[2], ARGV[8]) then return 0 end
e.state = 'failed'
e.last_at = ARGV[3]
e.next_at = tonumber(ARGV[4])
e.last_error = ARGV[5]
e.last_error_kind = ARGV[9]
e.answer = ARGV[6]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
redis.call('ZADD', KEYS[2], e.next_at, ARGV[1])
o_audit(o, ARGV[3], 'syncd', 'push_failed', ARGV[1], ARGV[7],
        cjson.encode({error = ARGV[5], kind = ARGV[9], answer = ARGV[6], attempts = e.attempts}))
return 1
"""
)

_RETRY = """
-- KEYS: outbox, due; ARGV: now (epoch), keys (none: every failed entry)
local keys = {}
for i = 2, #ARGV do keys[#keys + 1] = ARGV[i] end
if #keys == 0 then
  for _, key in ipairs(redis.call('HKEYS', KEYS[1])) do keys[#keys + 1] = key end
end
local n = 0
for _, key in ipairs(keys) do
  local raw = redis.call('HGET', KEYS[1], key)
  if raw then
    local e = cjson.decode(raw)
    if e.state == 'failed' or (e.state == 'pending' and #ARGV > 1) then
      e.next_at = tonumber(ARGV[1])
      redis.call('HSET', KEYS[1], key, cjson.encode(e))
      redis.call('ZADD', KEYS[2], e.next_at, key)
      n = n + 1
    end
  end
end
return n
"""


def signature(plan: Plan) -> str:
    """What makes two plans the same push: the record written, the action and the changes."""
    text = json.dumps(
        [plan.code, plan.action, {k: list(v) for k, v in plan.changes.items()}], sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan_json(plan: Plan) -> str:
    """A plan as the apply script writes it into the outbox."""
    return json.dumps(
        {
            "code": plan.code,
            "codes": list(plan.codes),
            "action": plan.action,
            "changes": {k: list(v) for k, v in plan.changes.items()},
            "reasons": list(plan.reasons),
            # Text: Redis's cjson keeps 14 significant digits of a number, not a version's 16.
            "base_version": None if plan.base_version is None else str(plan.base_version),
            "target": codec.dumps(plan.target).decode(),
            "steps": [[s.at.isoformat(), int(s.status)] for s in plan.steps],
            "sig": signature(plan),
        },
        ensure_ascii=False,
        sort_keys=True,
    )


@dataclass(frozen=True, slots=True)
class OutboxKeys:
    outbox: str
    due: str
    pushlog: str
    audit: str
    cancelled: str

    def all(self) -> list[str]:
        return [self.outbox, self.due, self.pushlog, self.audit, self.cancelled]


class Outbox:
    """Reading and moving outbox entries (writing plans is the apply script's)."""

    def __init__(self, redis: Any, keys: OutboxKeys) -> None:
        self.redis = redis
        self.keys = keys
        self._start = redis.register_script(_START)
        self._finish = redis.register_script(_FINISH)
        self._fail = redis.register_script(_FAIL)
        self._retry = redis.register_script(_RETRY)

    async def entries(self, state: str | None = None) -> list[dict[str, Any]]:
        """Every entry (of one state), oldest first."""
        raw = await self.redis.hgetall(self.keys.outbox)
        out = [json.loads(v) for v in raw.values()]
        out = [e for e in out if state is None or e.get("state") == state]
        return sorted(out, key=lambda e: (str(e.get("created_at", "")), e["key"]))

    async def entry(self, key: str) -> dict[str, Any] | None:
        raw = await self.redis.hget(self.keys.outbox, key)
        return json.loads(raw) if raw else None

    async def counts(self) -> dict[str, int]:
        """Entries by state."""
        counts = dict.fromkeys(STATES, 0)
        for e in await self.entries():
            counts[e["state"]] = counts.get(e["state"], 0) + 1
        return counts

    async def due(self, now: datetime, limit: int = 50) -> list[str]:
        keys: Any = await self.redis.zrangebyscore(
            self.keys.due, "-inf", now.timestamp(), start=0, num=limit
        )
        return [k.decode() if isinstance(k, bytes) else k for k in keys]

    async def start(
        self, entry: Mapping[str, Any], now: datetime, timeout_seconds: float
    ) -> dict[str, Any] | None:
        """Take the entry for a push attempt (None if it is gone or another plan now)."""
        raw = await self._start(
            keys=self.keys.all(),
            args=[entry["key"], *_identity(entry), now.timestamp(), timeout_seconds],
        )
        return json.loads(raw) if raw else None

    async def finish(
        self,
        entry: Mapping[str, Any],
        outcome: str,
        changes: Mapping[str, Sequence[str | None]],
        answer: str,
        now: datetime,
        by: str = "syncd",
        versions: str = "",
    ) -> None:
        """The entry is done with (`outcome`): out of the outbox, into the log and the audit.
        `versions`: the national record's version before and after the write ("a>b")."""
        before = {k: v[0] for k, v in changes.items()}
        after = {k: v[1] for k, v in changes.items()}
        await self._finish(
            keys=self.keys.all(),
            args=[
                entry["key"],
                entry["sig"],
                now.isoformat(),
                outcome,
                json.dumps({k: list(v) for k, v in changes.items()}, ensure_ascii=False),
                answer,
                by,
                json.dumps({"code": entry.get("code"), **before}, ensure_ascii=False),
                json.dumps({"outcome": outcome, **after, "answer": answer}, ensure_ascii=False),
                versions,
                entry.get("code") or "",
                entry.get("action") or "",
                _identity(entry)[1],
            ],
        )

    async def fail(
        self,
        entry: Mapping[str, Any],
        error: str,
        kind: str,
        answer: str,
        now: datetime,
        retry_at: datetime,
    ) -> None:
        """The attempt failed: `error` as the client wrote it, `kind` why in a word (the texts'
        `failure.<kind>`), `answer` the portal's own (JSON, or "")."""
        before = json.dumps(
            {"code": entry.get("code"), "changes": entry.get("changes")}, ensure_ascii=False
        )
        await self._fail(
            keys=self.keys.all(),
            args=[
                entry["key"],
                entry["sig"],
                now.isoformat(),
                retry_at.timestamp(),
                error,
                answer,
                before,
                _identity(entry)[1],
                kind,
            ],
        )

    async def retry(self, keys: Sequence[str], now: datetime) -> int:
        """Make these entries (none given: every failed one) due now; how many."""
        return int(await self._retry(keys=self.keys.all()[:2], args=[now.timestamp(), *keys]))

    async def log(self, limit: int = 100) -> list[dict[str, str]]:
        """The newest entries of the push log, newest first."""
        raw: Any = await self.redis.xrevrange(self.keys.pushlog, count=limit)
        out = []
        for entry_id, fields in raw:
            item = {_text(k): _text(v) for k, v in fields.items()}
            item["id"] = _text(entry_id)
            out.append(item)
        return out


def _identity(entry: Mapping[str, Any]) -> tuple[str, str]:
    """What an attempt holds on to: the plan's signature and the version it was made from."""
    base = entry.get("base_version")
    return str(entry["sig"]), base if isinstance(base, str) else ""


def epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
