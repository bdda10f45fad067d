"""Redis store: what each portal says, cursors, the reconcile work queue, and its results.

Key schema (P is `redis.key_prefix`; the braces make P a hash tag, so in Redis Cluster every key
of one agency lives in one slot and the scripts below may touch them together):

    {P}:rec:city, {P}:rec:national   HASH  code -> dossier (compact JSON, reconcile.codec)
    {P}:ver:city, {P}:ver:national   HASH  code -> version (updated_at, µs since the epoch)
    {P}:cursor                       HASH  source -> cursor "updated_at|code"
    {P}:dirty                        SET   codes queued for reconciliation, not yet taken
    {P}:work                         STREAM  {c: code}; consumer group "reconcilers"
    {P}:corrected                    HASH  code -> corrected dossier (compact JSON)
    {P}:mismatch                     HASH  "code|kind" -> mismatch record (JSON, sorted keys):
                                           id, key (= code), kind, severity, city, national,
                                           detail, auto_resolvable, city_code, national_code
                                           (the matched pair), present, state,
                                           detected_at, last_seen_at, resolution, claimed_by,
                                           claimed_at, history (the last 50 events)
    {P}:mismatch:open                SET   ids of mismatches open or claimed
    {P}:mismatch:by_time:<state>     ZSET  ids of mismatches in that state (open, claimed),
                                           score = detection time (epoch seconds), so that
                                           ZRANGE pages them oldest detection first, then by id
    {P}:mismatch:by_time:<state>:<kind>  ZSET  the same for one kind
    {P}:mismatch:counts              HASH  "<state>|<kind>" -> how many records are in that state
                                           (all four states, detected now or not)
    {P}:mismatch:indexed             STRING "1" once the three views above cover every record;
                                           absent on data written before they existed, until
                                           `Store.rebuild_mismatch_index` (run by Syncer.run)
    {P}:mismatch:kinds               HASH  code -> comma list of the kinds detected now
    {P}:audit                        STREAM  {at, who, action, id, before, after}: every change
                                           of a mismatch's state (syncd's and operators'), and
                                           operators' other actions (id "report:<period>",
                                           "user:<name>", "portal:<name>": publish, users,
                                           resync; syncd.web.data.record_action)
    {P}:audit:key:<key>              LIST  the audit entry ids about one dossier's mismatches,
                                           oldest first (the last 1000)
    {P}:excluded                     HASH  code -> why the dossier is excluded (e.g. migrated)
    {P}:override                     HASH  "code|field" -> operator's value for the corrected
                                           record ('' = no value); "code|migrated" -> "true" /
                                           "false", an operator's verdict on migration; see
                                           syncd.queue
    {P}:quarantine                   STREAM  {source, code, reason, raw, updated_at}: rejected
                                           records, the newest 100,000 kept; personal fields
                                           removed
    {P}:quarantine:counts            HASH  source -> entries of that portal in the stream (absent
                                           on a stream written before it existed, until
                                           `Store.quarantine_counts` counts them once)
    {P}:errors:<source>              LIST  a portal's last 20 poll failures, newest first (JSON:
                                           at, error, kind)
    {P}:status                       HASH  "<source>:<field>" -> last cycle facts:
                                           last_success_at, last_written, last_error,
                                           last_error_kind, last_error_at, circuit (closed,
                                           open, half_open, unknown); "sweep:last_at"
    {P}:receipt:city                 ZSET  city code -> its receipt instant (epoch seconds): how
                                           many city records share an instant, for the
                                           cut-over batch signal of migration (reconcile.engine)
    {P}:idx:<source>                 HASH  code -> "alt,codes|fingerprint" as last indexed
    {P}:alt:<source>                 HASH  alternate code (MaHoSoKhac) -> the code carrying it
    {P}:fp:<source>                  HASH  fingerprint -> codes having it ("a,b")
    {P}:match                        HASH  dossier key -> {city, national, method}: how the
                                           pair was matched (code, alt_code, fingerprint)
    {P}:pidx:m:<YYYY-MM>             SET   dossier keys whose dates span that calendar month (from
                                           the earliest receipt to the latest finish of the
                                           corrected record and its portal records)
    {P}:pidx:open                    SET   dossier keys with a record still open
    {P}:pidx:span                    HASH  key -> the index entries it is in ("2024-06,open")
    {P}:flags                        HASH  key -> deadline flags of the corrected record (JSON:
                                           flags, due, days_late, field); none: no entry
    {P}:flag:<flag>                  SET   keys having the flag (overdue, late, due_soon,
                                           late_no_apology)
    {P}:flags:as_of                  STRING the day the open dossiers' flags were last computed
    {P}:report:<period>              HASH  version number -> published report (JSON), immutable
    {P}:procedure                    HASH  procedure code -> procedure (JSON)
    {P}:procedure:meta               HASH  fetched_at, count

Invariants: a page's records, its quarantined records and the cursor after it are written by
one Lua script, the cursor last (no lost update, no cursor ahead of its data); an upsert never
replaces a stored record with an older one, and replaying one changes nothing; a changed code
enters the work stream once however often it changes before it is reconciled (the dirty set).

Mismatch states (one record per code and kind, never duplicated): a new detection is `open`,
or `auto_resolved` at once when compare marks it auto-resolvable; seen again with the same
values only `last_seen_at` moves; with other values an open/claimed one takes them, a
resolved/auto_resolved one reopens (and an operator override it wrote is withdrawn and the code
queued again); a kind no longer detected closes an open/claimed mismatch as `auto_resolved`
("auto: no longer detected") and leaves a resolved one as it is; such a closed one reopens if
it is detected again. Operators claim, resolve and reopen through syncd.queue. Every state
change goes to the audit stream.

The views of the mismatch records (`by_time`, `counts`) are kept by the scripts that write the
records, in the same script, when a record's state changes (a record's detection time never
changes). Data written before they existed has no `indexed` marker: readers then fall back to
the records themselves (syncd.queue) or leave the counts out (/metrics) until
`Store.rebuild_mismatch_index` has run; `Syncer.run` runs it once at start when the marker is
missing. A sweep alone would not rebuild them, since an unchanged state touches no view.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import orjson
import redis.asyncio as aioredis
import redis.exceptions
import structlog

from connectors.base import Cursor, Rejected
from reconcile import codec
from reconcile.compare import Decision, Mismatch
from reconcile.engine import MIGRATED_OVERRIDE, OVERRIDABLE_FIELDS, fingerprint, receipt_second
from reconcile.flags import Flag, Flags
from reconcile.model import Dossier, Procedure, Source, to_micros
from reconcile.period import Period, span
from reconcile.writeback import Plan
from syncd.outbox import OUTBOX_LUA, Outbox, OutboxKeys, plan_json

GROUP = "reconcilers"
RECENT_ERRORS = 20
log = structlog.get_logger("syncd")

QUARANTINE_KEPT = 100_000
QUARANTINE_FIRST_RETRY_SECONDS = 60
_EPOCH_DAY = date(1970, 1, 1).toordinal()
# Records one link component may hold before `Store.load_linked` stops following links.
LINKED_LIMIT = 2_000


class LeaseLost(RuntimeError):
    """A poller's fencing token is no longer its lease's: another process polls that portal
    now, and this one must stop writing."""


# Lua shared by the scripts that write the quarantine (`{P}:quarantined`, see the key schema).
QUARANTINE_LUA = (
    f"local QUARANTINE_KEPT = {QUARANTINE_KEPT}\n"
    + """
local function q_release(q, id)
  local old = redis.call('HGET', q[1], id)
  if not old then return 0 end
  local e = cjson.decode(old)
  if redis.call('HINCRBY', q[4], e.source, -1) <= 0 then redis.call('HDEL', q[4], e.source) end
  redis.call('HDEL', q[1], id)
  redis.call('ZREM', q[2], id)
  redis.call('ZREM', q[3], id)
  return 1
end
-- One entry per (portal, record): seen again, it keeps its first time and retry schedule and
-- takes the latest reason, raw form and change time. q = {hash, by_time, retry, counts}.
local function q_put(q, id, source, code, reason, raw, stamp, now, score, first_retry)
  local old = redis.call('HGET', q[1], id)
  local e
  if old then
    e = cjson.decode(old)
    e.count = (tonumber(e.count) or 1) + 1
  else
    if redis.call('HLEN', q[1]) >= QUARANTINE_KEPT then
      local oldest = redis.call('ZRANGE', q[2], 0, 0)
      if oldest[1] then q_release(q, oldest[1]) end
    end
    e = {id = id, source = source, code = code, first_at = now, count = 1, attempts = 0}
    redis.call('HINCRBY', q[4], source, 1)
    if code ~= '' then
      e.next_retry = score + tonumber(first_retry)
      redis.call('ZADD', q[3], e.next_retry, id)
    end
  end
  e.reason, e.raw, e.updated_at, e.last_at = reason, raw, stamp, now
  redis.call('HSET', q[1], id, cjson.encode(e))
  redis.call('ZADD', q[2], score, id)
end
"""
)

# The receipt index (`{P}:receipt:city`), kept with the records by the upsert's transaction.
# `receipt_move` is the whole of it, which the upsert script calls for each city record it writes.
#
# A record's decision depends on how many city records share its receipt second, so when that
# count crosses the burst threshold (up to it, or down from it) every record of the instant is
# queued again: the result never depends on the order in which records arrived.
RECEIPT_LUA = """
local function receipt_requeue(zset, dirty, work, second)
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', zset, second, second)) do
    if redis.call('SADD', dirty, member) == 1 then
      redis.call('XADD', work, '*', 'c', member)
    end
  end
end
-- Move `code` to receipt second `second` (a no-op when it is there already).
local function receipt_move(zset, dirty, work, code, second, threshold)
  local old = redis.call('ZSCORE', zset, code)
  if old and tonumber(old) == tonumber(second) then return end
  redis.call('ZADD', zset, second, code)
  if threshold <= 0 then return end
  if old and redis.call('ZCOUNT', zset, old, old) == threshold - 1 then
    receipt_requeue(zset, dirty, work, old)
  end
  if redis.call('ZCOUNT', zset, second, second) == threshold then
    receipt_requeue(zset, dirty, work, second)
  end
end
"""

_RECEIPTS_REBUILD = """
-- KEYS: receipt:city; ARGV: (code, second) pairs, indexed as they are (no queueing: a rebuild
-- runs before the reconciler, whose sweep reads the counts).
for i = 1, #ARGV, 2 do redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i]) end
return 1
"""


_UPSERT = (
    QUARANTINE_LUA
    + RECEIPT_LUA
    + """
-- KEYS: rec, ver, cursor, dirty, work, quarantined, idx, alt, fp, quarantine:counts,
--       quarantined:by_time, quarantined:retry, seq, status, lease (of this portal's poller),
--       heartbeat, receipt:city, days (of this portal), then fp of every other portal
-- ARGV: cursor field (the source, or "<source>:<re-read>" in `reread`), cursor, fencing token
--       ('' = none), late threshold (µs, '' = none), now (ISO),
--       now (epoch seconds), first retry delay (s), burst threshold, record count n,
--       n x (code, version, blob, alt codes "a,b", fingerprint, receipt second ('': none)),
--       then (id, code, reason, raw, updated_at) per quarantined record
-- Returns {written, late}, or {-1, 0} when the fencing token is not the lease's (nothing
-- written). The cursor is written last: if anything fails before it, the page is simply
-- fetched again.
local field, token = ARGV[1], ARGV[3]
local source = string.match(field, '^[^:]+')
if token ~= '' and redis.call('GET', KEYS[15]) ~= token then return {-1, 0} end
local q = {KEYS[6], KEYS[11], KEYS[12], KEYS[10]}
local function without(list, code)
  local kept = {}
  for c in string.gmatch(list or '', '[^,]+') do
    if c ~= code then kept[#kept + 1] = c end
  end
  return table.concat(kept, ',')
end
local function add(hash, name, code)
  local rest = without(redis.call('HGET', hash, name), code)
  redis.call('HSET', hash, name, rest == '' and code or (rest .. ',' .. code))
end
local function drop(hash, name, code)
  local rest = without(redis.call('HGET', hash, name), code)
  if rest == '' then redis.call('HDEL', hash, name) else redis.call('HSET', hash, name, rest) end
end
local function requeue(code)
  if redis.call('SADD', KEYS[4], code) == 1 then redis.call('XADD', KEYS[5], '*', 'c', code) end
end
-- The alternate-code and fingerprint indexes map a name to every code having it ("a,b").
local function index(code, alts, fp)
  local entry = alts .. '|' .. fp
  local old = redis.call('HGET', KEYS[7], code)
  if old == entry then return end
  if old then
    -- The record leaves its old link component: every code it was linked through is queued
    -- again, or a dossier once split off (or retired) by that link would stay so.
    local sep = string.find(old, '|', 1, true)
    for a in string.gmatch(string.sub(old, 1, sep - 1), '[^,]+') do
      drop(KEYS[8], a, code)
      requeue(a)
      for c in string.gmatch(redis.call('HGET', KEYS[8], a) or '', '[^,]+') do requeue(c) end
    end
    local ofp = string.sub(old, sep + 1)
    if ofp ~= '' then
      drop(KEYS[9], ofp, code)
      for k = 19, #KEYS do
        for c in string.gmatch(redis.call('HGET', KEYS[k], ofp) or '', '[^,]+') do requeue(c) end
      end
      for c in string.gmatch(redis.call('HGET', KEYS[9], ofp) or '', '[^,]+') do requeue(c) end
    end
  end
  for a in string.gmatch(alts, '[^,]+') do add(KEYS[8], a, code) end
  if fp ~= '' then add(KEYS[9], fp, code) end
  redis.call('HSET', KEYS[7], code, entry)
end
local late_after = tonumber(ARGV[4])
local now, score, first_retry = ARGV[5], tonumber(ARGV[6]), ARGV[7]
local threshold = tonumber(ARGV[8])
local n = tonumber(ARGV[9])
local healing = redis.call('EXISTS', KEYS[6]) == 1
local written, late = 0, 0
for i = 10, 9 + 6 * n, 6 do
  local code, version, blob = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local current = redis.call('HGET', KEYS[2], code)
  local newer = (not current) or tonumber(current) < tonumber(version)
  if not newer and tonumber(current) == tonumber(version) then
    newer = redis.call('HGET', KEYS[1], code) ~= blob
  end
  if newer then
    -- The count of records per local day of change (Asia/Ho_Chi_Minh, UTC+7), which the
    -- portal's own counts per day are checked against (Syncer.reread_by_counts).
    local day = math.floor((tonumber(version) / 1000000 + 25200) / 86400)
    if current then
      local was = math.floor((tonumber(current) / 1000000 + 25200) / 86400)
      if redis.call('HINCRBY', KEYS[18], was, -1) <= 0 then redis.call('HDEL', KEYS[18], was) end
    end
    redis.call('HINCRBY', KEYS[18], day, 1)
    redis.call('HSET', KEYS[1], code, blob)
    redis.call('HSET', KEYS[2], code, version)
    index(code, ARGV[i + 3], ARGV[i + 4])
    if ARGV[i + 5] ~= '' then
      receipt_move(KEYS[17], KEYS[4], KEYS[5], code, ARGV[i + 5], threshold)
    end
    requeue(code)
    written = written + 1
    if late_after and tonumber(version) <= late_after then late = late + 1 end
  end
  -- The record decodes now: a quarantine entry of its code is healed.
  if healing then q_release(q, source .. ':' .. code) end
end
for i = 10 + 6 * n, #ARGV, 5 do
  q_put(q, ARGV[i], source, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], now, score,
        first_retry)
end
if written > 0 then redis.call('INCR', KEYS[13]) end
if late > 0 then redis.call('HINCRBY', KEYS[14], source .. ':late_updates', late) end
redis.call('HSET', KEYS[16], 'poll:' .. source, now)
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[3], field, ARGV[2])
end
return {written, late}
"""
)


_REQUARANTINE = """
-- KEYS: quarantined, quarantined:by_time, quarantined:retry, quarantine:counts
-- ARGV: id, attempts made, next retry (epoch seconds)
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local e = cjson.decode(raw)
e.attempts = tonumber(ARGV[2])
e.next_retry = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
redis.call('ZADD', KEYS[3], e.next_retry, ARGV[1])
return 1
"""

_RELEASE = (
    QUARANTINE_LUA
    + """
-- KEYS: quarantined, quarantined:by_time, quarantined:retry, quarantine:counts; ARGV: ids
local q = {KEYS[1], KEYS[2], KEYS[3], KEYS[4]}
local released = 0
for _, id in ipairs(ARGV) do released = released + q_release(q, id) end
return released
"""
)

_MARK_READ = """
-- KEYS: status, pending set of this portal, dirty, work
-- ARGV: source, '1' the read completed / '0' it did not, at (ISO)
-- A completed read makes the portal's view complete: the dossiers waiting for it to judge
-- their absence are queued again.
redis.call('HSET', KEYS[1], ARGV[1] .. ':complete', ARGV[2])
if ARGV[2] ~= '1' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1] .. ':last_complete_at', ARGV[3])
local queued = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('SADD', KEYS[3], key) == 1 then
    redis.call('XADD', KEYS[4], '*', 'c', key)
    queued = queued + 1
  end
end
redis.call('DEL', KEYS[2])
return queued
"""

_PROMOTE = """
-- KEYS: retry, dirty, work; ARGV: now (epoch seconds), at most how many
-- Queue the codes whose retry is due.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, code in ipairs(due) do
  redis.call('ZREM', KEYS[1], code)
  if redis.call('SADD', KEYS[2], code) == 1 then redis.call('XADD', KEYS[3], '*', 'c', code) end
end
return #due
"""

_ENQUEUE = """
local queued = 0
for _, code in ipairs(ARGV) do
  if redis.call('SADD', KEYS[1], code) == 1 then
    redis.call('XADD', KEYS[2], '*', 'c', code)
    queued = queued + 1
  end
end
return queued
"""


# Lua shared by the scripts that write mismatch records (here and in syncd.queue).
MISMATCH_LUA = """
local NULL = cjson.null
local HISTORY = 50
local GONE = 'auto: no longer detected'

-- JSON with sorted object keys: a record always encodes to the same bytes (cjson's own order
-- follows the Lua table's layout). Arrays are non-empty tables with [1]; a record's history
-- always has an entry.
local function enc(v)
  if type(v) ~= 'table' then return cjson.encode(v) end
  if v[1] ~= nil then
    local parts = {}
    for i = 1, #v do parts[i] = enc(v[i]) end
    return '[' .. table.concat(parts, ',') .. ']'
  end
  local names = {}
  for name in pairs(v) do names[#names + 1] = name end
  table.sort(names)
  local parts = {}
  for i, name in ipairs(names) do parts[i] = cjson.encode(name) .. ':' .. enc(v[name]) end
  return '{' .. table.concat(parts, ',') .. '}'
end

local function state_of(r)
  return enc({state = r.state, resolution = r.resolution, claimed_by = r.claimed_by})
end

local function remember(r, entry)
  entry.state = r.state
  entry.city = r.city
  entry.national = r.national
  local h = r.history
  h[#h + 1] = entry
  while #h > HISTORY do table.remove(h, 1) end
end

local function audit(stream, at, who, action, id, before, after)
  local entry = redis.call('XADD', stream, '*', 'at', at, 'who', who, 'action', action, 'id', id,
                           'before', before, 'after', after)
  -- Each dossier's entries, for its history page (the last 1000; same hash tag as the stream).
  local key = string.match(id, '^(.*)|[^|]*$')
  if key then
    local index = stream .. ':key:' .. key
    redis.call('RPUSH', index, entry)
    redis.call('LTRIM', index, -1000, -1)
  end
end

local function requeue(dirty, work, key)
  if redis.call('SADD', dirty, key) == 1 then
    redis.call('XADD', work, '*', 'c', key)
  end
end

-- Withdraw the overrides an operator's resolution wrote, but not those replaced since.
local function withdraw(override, r)
  local res = r.resolution
  if type(res) ~= 'table' or type(res.overrides) ~= 'table' then return false end
  local any = false
  for field, value in pairs(res.overrides) do
    local name = r.key .. '|' .. field
    if redis.call('HGET', override, name) == value then
      redis.call('HDEL', override, name)
      any = true
    end
  end
  return any
end

local ACTIVE = {open = true, claimed = true, pushing = true}

-- A time as Python's isoformat writes it, as epoch seconds in decimal text (the score of the
-- sorted views): whole seconds computed exactly, the fraction copied as written, so a score is
-- exact to the microsecond and equal instants have equal scores whatever their offset. No
-- offset: UTC. Times before 1970 are not expected.
local function epoch_text(iso)
  local y, mo, d, h, mi, s, frac, zone = string.match(iso or '',
    '^(%d+)-(%d+)-(%d+)[T ](%d+):(%d+):(%d+)(%.?%d*)(.*)$')
  if not y then return '0' end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((mo + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local secs = (era * 146097 + doe - 719468) * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60
    + tonumber(s)
  local sign, zh, zm = string.match(zone, '^([+-])(%d+):(%d+)')
  if sign then
    local offset = tonumber(zh) * 3600 + tonumber(zm) * 60
    if sign == '+' then secs = secs - offset else secs = secs + offset end
  end
  return string.format('%d', secs) .. (frac == '.' and '' or frac)
end

-- The views of the records (see the key schema): counts by state and kind, and the sorted
-- indexes of the open and claimed ones. `was`: the state the views show the record in (nil:
-- in none). Only a change of state moves anything; the detection time never changes.
local function reindex(hash, r, was)
  if was == r.state then return end
  local counts = hash .. ':counts'
  local kind = r.kind or string.match(r.id, '|([^|]*)$') or ''
  if was ~= nil then
    local name = was .. '|' .. kind
    if redis.call('HINCRBY', counts, name, -1) <= 0 then redis.call('HDEL', counts, name) end
    if ACTIVE[was] then
      redis.call('ZREM', hash .. ':by_time:' .. was, r.id)
      redis.call('ZREM', hash .. ':by_time:' .. was .. ':' .. kind, r.id)
    end
  end
  if r.state ~= nil then
    redis.call('HINCRBY', counts, r.state .. '|' .. kind, 1)
    if ACTIVE[r.state] then
      local score = epoch_text(r.detected_at)
      redis.call('ZADD', hash .. ':by_time:' .. r.state, score, r.id)
      redis.call('ZADD', hash .. ':by_time:' .. r.state .. ':' .. kind, score, r.id)
    end
  end
end

-- Write a record (if it changed) and its place in the open set and the views; `was`: its
-- state before (nil for a new record).
local function save(hash, open, r, raw, was)
  local blob = enc(r)
  if blob ~= raw then redis.call('HSET', hash, r.id, blob) end
  if ACTIVE[r.state] then
    redis.call('SADD', open, r.id)
  else
    redis.call('SREM', open, r.id)
  end
  reindex(hash, r, was)
end
"""

_APPLY = (
    MISMATCH_LUA
    + OUTBOX_LUA
    + """
-- KEYS: corrected, mismatch, mismatch:open, mismatch:kinds, audit, excluded, override, dirty,
--       work, match, pidx (the period index's base name), stamp, pending (base name of the
--       sets "<base>:city", "<base>:national"), poison, deadletter, retry, outbox, outbox:due,
--       pushlog, outbox:cancelled
-- ARGV: group, now (ISO), now (epoch seconds), snapshot ('' = no check), dead-letter attempts,
--       backoff base (s), backoff cap (s), write-back mode ('push' or 'dry_run'),
--       number of entry ids e, e ids,
--       number of units u, per unit: number of codes k, k codes (every code the unit was
--       decided from), number of decisions d, d x (key, corrected blob ('' = none), facts):
--       facts: {"x": excluded reason or null, "c", "n": the matched pair's city and national
--               codes (or null), "m": [{kind, severity, city, national, detail, auto, rule}],
--               "p": months spanned ["YYYY-MM"], "o": still open (bool),
--               "w": portals whose complete read its absence waits for,
--               "wb": the write-back plan (JSON, syncd.outbox) or absent},
--       then the number of failed codes f, f x (code, error)
-- A unit is written only if none of its codes was written from a newer snapshot (`stamp`):
-- another reconciler saw newer data, and what it wrote stands. Returns the numbers (1-based)
-- of the units skipped.
local now, now_epoch = ARGV[2], tonumber(ARGV[3])
local snapshot = tonumber(ARGV[4])
local dead_after, backoff, backoff_cap = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local mode = ARGV[8]
local e = tonumber(ARGV[9])
-- No record yet: the views will cover every record from the first one on.
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2] .. ':indexed', '1') end
local ids = {}
for i = 10, 9 + e do ids[#ids + 1] = ARGV[i] end
local o = {KEYS[17], KEYS[18], KEYS[19], KEYS[5], KEYS[20]}
local poisoned = redis.call('EXISTS', KEYS[14]) == 1 or redis.call('EXISTS', KEYS[15]) == 1

local function auto_resolve(r, reason)
  local before = state_of(r)
  r.state = 'auto_resolved'
  r.claimed_by = NULL
  r.claimed_at = NULL
  r.resolution = {action = 'accept_city', value = NULL, reason = reason, by = 'syncd', at = now}
  remember(r, {at = now, event = 'auto_resolved', by = 'syncd', reason = reason})
  audit(KEYS[5], now, 'syncd', 'auto_resolve', r.id, before, state_of(r))
end

-- Write-back will fix it: it stays active, being pushed, until a later read agrees.
local function being_pushed(r)
  local before = state_of(r)
  r.state = 'pushing'
  r.claimed_by = NULL
  r.claimed_at = NULL
  remember(r, {at = now, event = 'being pushed', by = 'syncd'})
  audit(KEYS[5], now, 'syncd', 'push_planned', r.id, before, state_of(r))
end

local function reopen(r, event)
  local before = state_of(r)
  if withdraw(KEYS[7], r) then requeue(KEYS[8], KEYS[9], r.key) end
  r.state = 'open'
  r.resolution = NULL
  r.claimed_by = NULL
  r.claimed_at = NULL
  remember(r, {at = now, event = event, by = 'syncd'})
  audit(KEYS[5], now, 'syncd', 'reopen', r.id, before, state_of(r))
end

-- The period index: KEYS[11] .. ':m:YYYY-MM' (SET) per calendar month, ':open' (SET), ':span'
-- (HASH key -> the entries it is in, "YYYY-MM,...,open"). The names share KEYS[11]'s hash tag.
local function index(key, months, still_open)
  local base = KEYS[11]
  local parts = {}
  for _, m in ipairs(months) do parts[#parts + 1] = m end
  if still_open then parts[#parts + 1] = 'open' end
  local new = table.concat(parts, ',')
  local old = redis.call('HGET', base .. ':span', key) or ''
  if old == new then return end
  for m in string.gmatch(old, '[^,]+') do
    redis.call('SREM', m == 'open' and base .. ':open' or base .. ':m:' .. m, key)
  end
  for _, m in ipairs(parts) do
    redis.call('SADD', m == 'open' and base .. ':open' or base .. ':m:' .. m, key)
  end
  if new == '' then
    redis.call('HDEL', base .. ':span', key)
  else
    redis.call('HSET', base .. ':span', key, new)
  end
end

local function write(key, blob, facts)
  local planned = (facts.wb ~= nil and facts.wb ~= NULL) and facts.wb or ''
  local pushed = o_plan(o, now, now_epoch, key, planned, mode) and mode == 'push'
  if blob == '' then
    redis.call('HDEL', KEYS[1], key)
    index(key, {}, false)
  else
    redis.call('HSET', KEYS[1], key, blob)
    index(key, facts.p or {}, facts.o == true)
  end
  local waiting = {}
  for _, side in ipairs(facts.w or {}) do waiting[side] = true end
  for _, side in ipairs({'city', 'national'}) do
    if waiting[side] then
      redis.call('SADD', KEYS[13] .. ':' .. side, key)
    else
      redis.call('SREM', KEYS[13] .. ':' .. side, key)
    end
  end
  if facts.x == NULL then
    redis.call('HDEL', KEYS[6], key)
  else
    redis.call('HSET', KEYS[6], key, facts.x)
  end
  if facts.h == nil or facts.h == NULL then
    redis.call('HDEL', KEYS[10], key)
  else
    redis.call('HSET', KEYS[10], key, enc({city = facts.c, national = facts.n, method = facts.h}))
  end
  local seen, kinds = {}, {}
  for _, m in ipairs(facts.m) do
    if not seen[m.kind] then
      seen[m.kind] = true
      kinds[#kinds + 1] = m.kind
      local id = key .. '|' .. m.kind
      local raw = redis.call('HGET', KEYS[2], id)
      local r = raw and cjson.decode(raw) or nil
      local was = r and r.state
      if r ~= nil and r.state ~= nil then
        local changed = r.city ~= m.city or r.national ~= m.national
        local back = r.present == false and r.state == 'auto_resolved'
          and type(r.resolution) == 'table' and r.resolution.reason == GONE
        r.severity, r.detail, r.auto_resolvable = m.severity, m.detail, m.auto
        r.city_code, r.national_code = facts.c, facts.n
        r.present = true
        r.last_seen_at = now
        if changed then r.city, r.national = m.city, m.national end
        if r.state == 'resolved' or r.state == 'auto_resolved' then
          if changed then
            reopen(r, 'reopened: data changed')
          elseif back then
            reopen(r, 'reopened: detected again')
          end
        elseif changed then
          remember(r, {at = now, event = 'data changed', by = 'syncd'})
        end
      else
        r = {id = id, code = key, key = key, kind = m.kind, severity = m.severity,
             city = m.city, national = m.national, detail = m.detail, auto_resolvable = m.auto,
             city_code = facts.c, national_code = facts.n,
             present = true, state = 'open', detected_at = now, last_seen_at = now,
             resolution = NULL, claimed_by = NULL, claimed_at = NULL, history = {}}
        remember(r, {at = now, event = 'detected', by = 'syncd'})
        audit(KEYS[5], now, 'syncd', 'detect', id, 'null', state_of(r))
      end
      if m.auto and pushed and r.state == 'open' then
        being_pushed(r)
      elseif r.state == 'pushing' and not (m.auto and pushed) then
        reopen(r, 'reopened: no longer pushed')
      end
      save(KEYS[2], KEYS[3], r, raw, was)
    end
  end
  local previous = redis.call('HGET', KEYS[4], key)
  if previous then
    for kind in string.gmatch(previous, '[^,]+') do
      if not seen[kind] then
        local raw = redis.call('HGET', KEYS[2], key .. '|' .. kind)
        local r = raw and cjson.decode(raw) or nil
        if r ~= nil and r.state ~= nil and r.present ~= false then
          local was = r.state
          r.present = false
          remember(r, {at = now, event = 'no longer detected', by = 'syncd'})
          if ACTIVE[r.state] then auto_resolve(r, GONE) end
          save(KEYS[2], KEYS[3], r, raw, was)
        end
      end
    end
  end
  table.sort(kinds)
  if #kinds == 0 then
    redis.call('HDEL', KEYS[4], key)
  else
    redis.call('HSET', KEYS[4], key, table.concat(kinds, ','))
  end
end

local function fresh(codes)
  if snapshot == nil then return true end
  for _, code in ipairs(codes) do
    local stamp = redis.call('HGET', KEYS[12], code)
    if stamp and tonumber(stamp) > snapshot then return false end
  end
  return true
end

local function healed(code)
  redis.call('HDEL', KEYS[14], code)
  redis.call('HDEL', KEYS[15], code)
  redis.call('ZREM', KEYS[16], code)
end

local skipped = {}
local at = 10 + e
for unit = 1, tonumber(ARGV[at]) do
  at = at + 1
  local k = tonumber(ARGV[at])
  local codes = {}
  for i = at + 1, at + k do codes[#codes + 1] = ARGV[i] end
  at = at + k + 1
  local d = tonumber(ARGV[at])
  local ok = fresh(codes)
  if ok then
    for i = at + 1, at + 3 * d, 3 do write(ARGV[i], ARGV[i + 1], cjson.decode(ARGV[i + 2])) end
    for _, code in ipairs(codes) do
      if snapshot ~= nil then redis.call('HSET', KEYS[12], code, ARGV[4]) end
      if poisoned then healed(code) end
    end
  else
    skipped[#skipped + 1] = unit
  end
  at = at + 3 * d
end

-- Failed codes: retried with exponential backoff, dead letters after `dead_after` attempts
-- (a dead letter is tried again only when its data changes or a sweep queues it).
at = at + 1
for i = at + 1, at + 2 * tonumber(ARGV[at]), 2 do
  local code, err = ARGV[i], ARGV[i + 1]
  local raw = redis.call('HGET', KEYS[15], code) or redis.call('HGET', KEYS[14], code)
  local p = raw and cjson.decode(raw) or {code = code, attempts = 0, first_at = now}
  p.attempts = p.attempts + 1
  p.error, p.last_at = err, now
  if p.attempts >= dead_after then
    redis.call('HSET', KEYS[15], code, cjson.encode(p))
    redis.call('HDEL', KEYS[14], code)
    redis.call('ZREM', KEYS[16], code)
  else
    local delay = math.min(backoff_cap, backoff * 2 ^ (p.attempts - 1))
    p.next_at = now_epoch + delay
    redis.call('HSET', KEYS[14], code, cjson.encode(p))
    redis.call('ZADD', KEYS[16], p.next_at, code)
  end
end
if e > 0 then
  redis.call('XACK', KEYS[9], ARGV[1], unpack(ids))
  redis.call('XDEL', KEYS[9], unpack(ids))
end
return skipped
"""
)

_REINDEX = (
    MISMATCH_LUA
    + """
-- KEYS: mismatch, mismatch:open; ARGV: ids. Puts each record in the views as if new (the
-- views were emptied first), and in or out of the open set by its state.
local indexed = 0
for _, id in ipairs(ARGV) do
  local raw = redis.call('HGET', KEYS[1], id)
  local r = raw and cjson.decode(raw) or nil
  if r ~= nil and r.state ~= nil then
    save(KEYS[1], KEYS[2], r, raw, nil)
    indexed = indexed + 1
  end
end
return indexed
"""
)

# One page of a sorted view and its records, read in one go (so that the total, the ids and the
# records are of one moment).
_PAGE = """
-- KEYS: the sorted view, mismatch, mismatch:indexed; ARGV: offset, limit
-- Returns {-1} when the views are not complete yet, else {total, record...}.
if redis.call('EXISTS', KEYS[3]) == 0 then return {-1} end
local out = {redis.call('ZCARD', KEYS[1])}
local limit = tonumber(ARGV[2])
if limit > 0 then
  local first = tonumber(ARGV[1])
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], first, first + limit - 1)) do
    local raw = redis.call('HGET', KEYS[2], id)
    if raw then out[#out + 1] = raw end
  end
end
return out
"""

_SAVE_FLAGS = """
-- KEYS: flags, the base name of the per-flag sets ("{P}:flag", sets "{P}:flag:<name>")
-- ARGV: per dossier: key, flag names "a,b" ('' = none), facts JSON ('' = none)
local sets = KEYS[2]
for i = 1, #ARGV, 3 do
  local key, names, facts = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local old = redis.call('HGET', KEYS[1], key)
  if (old or '') ~= facts then
    if old then
      for _, name in ipairs(cjson.decode(old).flags) do
        redis.call('SREM', sets .. ':' .. name, key)
      end
    end
    if facts == '' then
      redis.call('HDEL', KEYS[1], key)
    else
      redis.call('HSET', KEYS[1], key, facts)
      for name in string.gmatch(names, '[^,]+') do
        redis.call('SADD', sets .. ':' .. name, key)
      end
    end
  end
end
return 1
"""

# Fields an operator may set on the corrected record (`{P}:override`, "<key>|<field>"): those the
# engine can override, less `digitised`, which no mismatch is about.
OVERRIDE_FIELDS = tuple(f for f in OVERRIDABLE_FIELDS if f != "digitised")


@dataclass(frozen=True, slots=True)
class ReadState:
    """One portal's reads as the store knows them (`Store.read_states`)."""

    source: Source
    last_complete_at: datetime | None
    failures_since: tuple[dict[str, str], ...]  # {"at", "error", "kind"}, newest first


@dataclass(frozen=True, slots=True)
class Linked:
    """Records loaded with everything linked to them (`Store.load_linked`).

    `broken`: codes whose stored record could not be decoded (their error); `snapshot`: the
    store's write sequence when the first records were read (`Store.apply_units` checks it);
    `complete`: the portals whose last read reached the end of their change feed."""

    city: dict[str, Dossier]
    national: dict[str, Dossier]
    broken: dict[str, str]
    snapshot: int
    complete: frozenset[Source]


@dataclass(frozen=True, slots=True)
class Unit:
    """Decisions made together from one link component: written together or not at all.

    `codes`: every code of the records they were decided from (their snapshot stamps);
    `retired`: keys that no longer name a dossier of their own; `plans`: the write-back plan
    of each decision that calls for one, by key."""

    codes: tuple[str, ...]
    decisions: tuple[Decision, ...]
    retired: tuple[str, ...] = ()
    plans: Mapping[str, Plan] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a dossier whose reconciliation fails is retried: after `backoff_seconds`, doubling
    up to `backoff_max_seconds`, and a dead letter after `dead_after` attempts."""

    dead_after: int = 5
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0


@dataclass(frozen=True, slots=True)
class WorkItem:
    entry_ids: tuple[str, ...]
    codes: tuple[str, ...]


class Store:
    def __init__(self, client: aioredis.Redis, prefix: str = "syncd") -> None:
        self.redis = client
        self.prefix = prefix
        self._upsert = client.register_script(_UPSERT)
        self._enqueue = client.register_script(_ENQUEUE)
        self._mark_read = client.register_script(_MARK_READ)
        self._promote = client.register_script(_PROMOTE)
        self._apply = client.register_script(_APPLY)
        self._save_flags = client.register_script(_SAVE_FLAGS)
        self._release = client.register_script(_RELEASE)
        self._requarantine = client.register_script(_REQUARANTINE)
        self._reindex = client.register_script(_REINDEX)
        self._page = client.register_script(_PAGE)
        self.outbox = Outbox(
            client,
            OutboxKeys(
                self.key("outbox"),
                self.key("outbox", "due"),
                self.key("pushlog"),
                self.key("audit"),
                self.key("outbox", "cancelled"),
            ),
        )
        self._receipts_rebuild = client.register_script(_RECEIPTS_REBUILD)
        # City records sharing a receipt second that make a cut-over batch (0: none); when a
        # count crosses it, the records of that instant are reconciled again. Syncer sets it
        # from its policy.
        self.burst_size = 0

    def key(self, *parts: str) -> str:
        return ":".join((f"{{{self.prefix}}}", *parts))

    # --- portal side -------------------------------------------------------------------

    async def upsert(
        self,
        source: Source,
        dossiers: Sequence[Dossier],
        cursor: Cursor | None,
        rejected: Sequence[Rejected] = (),
        *,
        token: str = "",
        late_after: Cursor | None = None,
        now: datetime | None = None,
        reread: str | None = None,
    ) -> int:
        """Write one page, its quarantined records and its cursor in one script (atomic, one
        round trip); returns how many records were new or newer than what was stored.

        `token`: the fencing token of this portal's polling lease (`syncd.leases`): when it is
        no longer the lease's, nothing is written and `LeaseLost` is raised. `late_after`: the
        cursor polling had reached; records written now whose change time is at or before it
        were missed by polling (stamped behind the cursor) and are counted as late updates
        (`{P}:status` "<source>:late_updates"). `reread`: the page belongs to that re-read of
        the portal, whose position `cursor` is (`Store.reread_position`), not the polling
        cursor's."""
        now = now or datetime.now(UTC)
        args: list[Any] = [
            f"{source.value}:{reread}" if reread else source.value,
            cursor.encode() if cursor else "",
            token,
            to_micros(late_after.updated_at) if late_after else "",
            now.isoformat(),
            now.timestamp(),
            QUARANTINE_FIRST_RETRY_SECONDS,
            self.burst_size,
            len(dossiers),
        ]
        city = source is Source.CITY
        for d in dossiers:
            args += (
                d.code,
                d.version,
                codec.dumps(d),
                ",".join(d.alt_codes),
                fingerprint(d) or "",
                receipt_second(d) if city else "",
            )
        for r in rejected:
            raw = json.dumps(r.raw, ensure_ascii=False, default=str)
            stamp = r.updated_at.isoformat() if r.updated_at else ""
            args += (quarantine_id(source, r.code, raw), r.code or "", r.reason, raw, stamp)
        keys = [
            self.key("rec", source.value),
            self.key("ver", source.value),
            self.key("reread") if reread else self.key("cursor"),
            self.key("dirty"),
            self.key("work"),
            self.key("quarantined"),
            self.key("idx", source.value),
            self.key("alt", source.value),
            self.key("fp", source.value),
            self.key("quarantine", "counts"),
            self.key("quarantined", "by_time"),
            self.key("quarantined", "retry"),
            self.key("seq"),
            self.key("status"),
            self.key("lease", f"poll:{source.value}"),
            self.key("heartbeat"),
            self.key("receipt", Source.CITY.value),
            self.key("days", source.value),
            *(self.key("fp", other.value) for other in Source if other is not source),
        ]
        written, _ = await self._upsert(keys=keys, args=args)
        if int(written) < 0:
            raise LeaseLost(f"poll:{source.value}")
        return int(written)

    async def day_counts(self, source: Source, days: Sequence[date]) -> dict[date, int]:
        """How many of `source`'s stored records last changed on each of these local days."""
        if not days:
            return {}
        numbers = [str(d.toordinal() - _EPOCH_DAY) for d in days]
        counts = await self.redis.hmget(self.key("days", source.value), numbers)
        return {d: int(n or 0) for d, n in zip(days, counts, strict=True)}

    async def rebuild_day_index(self, source: Source, batch: int = 5000) -> int:
        """Count the stored records per local day of change (data written before the index
        existed); returns how many records were counted."""
        counts: dict[int, int] = {}
        seen = 0
        async for _, version in self.redis.hscan_iter(self.key("ver", source.value), count=batch):
            day = (int(version) // 1_000_000 + 25_200) // 86_400
            counts[day] = counts.get(day, 0) + 1
            seen += 1
        if counts:
            mapping: dict[str, int] = {str(day): n for day, n in counts.items()}
            await self.redis.hset(self.key("days", source.value), mapping=mapping)  # type: ignore[arg-type]
        return seen

    async def receipt_counts(self, seconds: Iterable[int]) -> dict[int, int]:
        """How many city records share each of these receipt seconds (one round trip)."""
        wanted = sorted(set(seconds))
        if not wanted:
            return {}
        zset = self.key("receipt", Source.CITY.value)
        async with self.redis.pipeline(transaction=False) as pipe:
            for second in wanted:
                pipe.zcount(zset, second, second)
            counts = await pipe.execute()
        return {second: int(n) for second, n in zip(wanted, counts, strict=True) if n}

    async def rebuild_receipt_index(self, batch: int = 2000) -> int:
        """Index the receipt instants of every stored city record (data written before the
        index existed); returns how many were indexed."""
        zset = self.key("receipt", Source.CITY.value)
        pending: list[Any] = []
        indexed = 0
        async for d in self.iter_records(f"rec:{Source.CITY.value}", batch):
            pending += (d.code, receipt_second(d))
            if len(pending) >= 2 * batch:
                await self._receipts_rebuild(keys=[zset], args=pending)
                indexed += len(pending) // 2
                pending = []
        if pending:
            await self._receipts_rebuild(keys=[zset], args=pending)
            indexed += len(pending) // 2
        return indexed

    async def load_linked(self, codes: Sequence[str], limit: int = LINKED_LIMIT) -> Linked:
        """Every record linked to `codes`, on both sides, by code, alternate code or
        fingerprint, followed until nothing new is linked (whole link components, see
        `reconcile.engine.components`): one round trip per hop, usually two or three per
        batch. The first hop is read in a transaction with the snapshot number and the views'
        completeness, so the records are at least as new as both. A component growing past
        `limit` records is cut there (logged): only a broken index could link so many."""
        city: dict[str, Dossier] = {}
        national: dict[str, Dossier] = {}
        broken: dict[str, str] = {}
        code_labels, fp_labels = set(codes), set[str]()
        seen_codes, seen_fps = set[str](), set[str]()
        snapshot, complete = 0, frozenset[Source]()
        first = True
        while True:
            new_codes = sorted(code_labels - seen_codes)
            new_fps = sorted(fp_labels - seen_fps)
            if not new_codes and not new_fps:
                break
            if len(city) + len(national) > limit:
                log.warning("component_too_large", records=len(city) + len(national))
                break
            seen_codes.update(new_codes)
            seen_fps.update(new_fps)
            async with self.redis.pipeline(transaction=first) as pipe:
                if first:
                    pipe.get(self.key("seq"))
                    pipe.hmget(self.key("status"), [f"{s.value}:complete" for s in Source])
                for source in Source:
                    pipe.hmget(self.key("rec", source.value), new_codes or ["-"])
                    pipe.hmget(self.key("alt", source.value), new_codes or ["-"])
                    pipe.hmget(self.key("fp", source.value), new_fps or ["-"])
                replies = await pipe.execute()
            if first:
                seq, flags = replies[:2]
                snapshot = int(seq or 0)
                complete = frozenset(s for s, f in zip(Source, flags, strict=True) if f == b"1")
                replies = replies[2:]
                first = False
            for (blobs, alts, prints), known in zip(
                (replies[0:3], replies[3:6]), (city, national), strict=True
            ):
                for code, blob in zip(new_codes, blobs, strict=False):
                    if not blob:
                        continue
                    try:
                        d = known[code] = codec.loads(blob)
                    except Exception as exc:  # a corrupt stored record fails its dossier only
                        broken[code] = f"{type(exc).__name__}: {exc}"
                        continue
                    code_labels.update(d.alt_codes)
                    if (fp := fingerprint(d)) is not None:
                        fp_labels.add(fp)
                for joined in (*alts[: len(new_codes)], *prints[: len(new_fps)]):
                    if joined:
                        code_labels.update(_str(joined).split(","))
        return Linked(city, national, broken, snapshot, complete)

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

    async def enqueue(self, codes: Iterable[str], batch: int = 1000) -> int:
        """Queue codes for reconciliation (those not already queued); returns how many."""
        queued = 0
        pending = list(codes)
        for start in range(0, len(pending), batch):
            chunk = pending[start : start + batch]
            added = await self._enqueue(keys=[self.key("dirty"), self.key("work")], args=chunk)
            queued += int(added)
        return queued

    async def all_codes(self, source: Source, batch: int = 2000) -> AsyncIterator[list[str]]:
        """Every code one portal has, in batches (for the periodic full sweep)."""
        chunk: list[str] = []
        async for code in self.redis.hscan_iter(self.key("ver", source.value), count=batch):
            chunk.append(_str(code[0]))
            if len(chunk) >= batch:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    async def excluded(self, keys: Sequence[str] | None = None) -> dict[str, str]:
        """Why dossiers are left out of the counts: these keys, or all (None)."""
        if keys is None:
            raw = await self.redis.hgetall(self.key("excluded"))
            return {_str(k): _str(v) for k, v in raw.items()}
        if not keys:
            return {}
        values = await self.redis.hmget(self.key("excluded"), list(keys))
        return {k: _str(v) for k, v in zip(keys, values, strict=True) if v}

    async def load_corrected(self, keys: Sequence[str]) -> dict[str, Dossier]:
        if not keys:
            return {}
        return _decode_many(keys, await self.redis.hmget(self.key("corrected"), list(keys)))

    async def counted(self, keys: Sequence[str]) -> dict[str, Dossier]:
        """The corrected records of these keys that reports count (not excluded), in one
        round trip: what deadline flags are computed on."""
        if not keys:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.key("corrected"), list(keys))
            pipe.hmget(self.key("excluded"), list(keys))
            blobs, excluded = await pipe.execute()
        kept = [(k, b) for k, b, x in zip(keys, blobs, excluded, strict=True) if b and not x]
        return {k: codec.loads(b) for k, b in kept}

    async def count(self, source: Source) -> int:
        return int(await self.redis.hlen(self.key("rec", source.value)))

    async def iter_records(self, name: str, batch: int = 2000) -> AsyncIterator[Dossier]:
        """Every dossier of one hash (`rec:city`, `rec:national`, `corrected`), in batches."""
        key = self.key(*name.split(":"))
        async for _, blob in self.redis.hscan_iter(key, count=batch):
            yield codec.loads(blob)

    def _quarantine_keys(self) -> list[str]:
        return [
            self.key("quarantined"),
            self.key("quarantined", "by_time"),
            self.key("quarantined", "retry"),
            self.key("quarantine", "counts"),
        ]

    async def quarantined(
        self, count: int = 100, source: Source | None = None
    ) -> list[dict[str, str]]:
        """The `count` quarantine entries seen most recently (of one portal, if `source` is
        given). Each entry: id ("<portal>:<code>", or "<portal>:~<hash>" for a record whose
        code could not be read), source, code, reason, raw, updated_at (the record's change
        time, '' if unknown), first_at, last_at, count (times seen), attempts (retries made),
        next_retry (ISO time of the next automatic retry; '' for entries without a code)."""
        found: list[dict[str, str]] = []
        start, chunk = 0, max(count, 500)
        by_time = self.key("quarantined", "by_time")
        while len(found) < count:
            ids: Any = await self.redis.zrevrange(by_time, start, start + chunk - 1)
            if not ids:
                break
            entries = await self.quarantine_entries([_str(i) for i in ids])
            found += [e for e in entries if source is None or e["source"] == source.value]
            start += chunk
        return found[:count]

    async def quarantine_entries(self, ids: Sequence[str]) -> list[dict[str, str]]:
        """The entries of these ids that exist, in that order."""
        if not ids:
            return []
        blobs = await self.redis.hmget(self.key("quarantined"), list(ids))
        return [_quarantine_entry(json.loads(b)) for b in blobs if b]

    async def quarantine_entry(self, entry_id: str) -> dict[str, str] | None:
        found = await self.quarantine_entries([entry_id])
        return found[0] if found else None

    async def quarantine_counts(self) -> dict[str, int]:
        """How many entries each portal has in the quarantine (portals with none left out)."""
        raw = await self.redis.hgetall(self.key("quarantine", "counts"))
        return {_str(k): int(v) for k, v in raw.items() if int(v) > 0}

    async def quarantine_count(self) -> int:
        return int(await self.redis.hlen(self.key("quarantined")))

    async def release_quarantined(self, entry_ids: Sequence[str]) -> int:
        """Take these entries out of the quarantine; returns how many there were."""
        if not entry_ids:
            return 0
        return int(await self._release(keys=self._quarantine_keys(), args=list(entry_ids)))

    async def quarantine_due(self, now: datetime, limit: int = 100) -> list[dict[str, str]]:
        """Entries with a code whose automatic retry is due at `now`, the most overdue first."""
        ids: Any = await self.redis.zrangebyscore(
            self.key("quarantined", "retry"), "-inf", now.timestamp(), start=0, num=limit
        )
        return await self.quarantine_entries([_str(i) for i in ids])

    async def reschedule_quarantined(self, entry_id: str, attempts: int, at: datetime) -> None:
        """Count a failed retry of the entry and set when the next one is due."""
        await self._requarantine(
            keys=self._quarantine_keys(), args=[entry_id, attempts, at.timestamp()]
        )

    async def release_unseen(self, source: Source, before: datetime) -> int:
        """Release the entries of `source` without a code that were not seen since `before`:
        after a complete re-read of the portal that started then, such a record no longer
        exists or now decodes (the re-read would have quarantined it again)."""
        stale = [
            e["id"]
            for e in await self.quarantined(QUARANTINE_KEPT, source)
            if not e["code"] and datetime.fromisoformat(e["last_at"]) < before
        ]
        return await self.release_quarantined(stale)

    async def migrate_legacy_quarantine(self) -> int:
        """Fold a quarantine stream written by an older syncd (`{P}:quarantine`, an entry per
        sighting) into the entries kept now (one per record); returns how many sightings."""
        stream = self.key("quarantine")
        if _str(await self.redis.type(stream)) != "stream":
            return 0
        await self.redis.delete(self.key("quarantine", "counts"))
        moved, start = 0, "-"
        while True:
            entries: Any = await self.redis.xrange(stream, min=start, count=1000)
            for entry_id, raw_fields in entries:
                fields = {_str(k): _str(v) for k, v in raw_fields.items()}
                seconds = int(_str(entry_id).split("-")[0]) / 1000
                stamp = fields.get("updated_at")
                rejected = Rejected(
                    Source(fields.get("source", "city")),
                    fields.get("code") or None,
                    fields.get("reason", ""),
                    json.loads(fields.get("raw") or "{}"),
                    datetime.fromisoformat(stamp) if stamp else None,
                )
                at = datetime.fromtimestamp(seconds, UTC)
                await self.upsert(rejected.source, [], None, [rejected], now=at)
                moved += 1
                start = "(" + _str(entry_id)
            if len(entries) < 1000:
                break
        await self.redis.delete(stream)
        return moved

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

    async def record_sweep(self, at: datetime) -> None:
        await self.redis.hset(self.key("status"), "sweep:last_at", at.isoformat())

    async def last_sweep(self) -> datetime | None:
        raw = await self.redis.hget(self.key("status"), "sweep:last_at")
        return datetime.fromisoformat(_str(raw)) if raw else None

    async def status(self) -> dict[str, str]:
        """The status hash: "<source>:<field>" -> value (see the key schema)."""
        raw = await self.redis.hgetall(self.key("status"))
        return {_str(k): _str(v) for k, v in raw.items()}

    async def reread_position(self, source: Source, name: str) -> tuple[bool, Cursor | None]:
        """Whether a re-read of `source` is under way (started, not finished), and where it
        got to (None: nothing read yet, from the start of the feed)."""
        raw = await self.redis.hget(self.key("reread"), f"{source.value}:{name}")
        if raw is None:
            return False, None
        return True, Cursor.decode(_str(raw)) if raw else None

    async def start_reread(self, source: Source, name: str, start: Cursor | None) -> None:
        field = f"{source.value}:{name}"
        await self.redis.hset(self.key("reread"), field, start.encode() if start else "")

    async def end_reread(self, source: Source, name: str, at: datetime) -> None:
        """A re-read finished: its position goes, and when it finished is recorded."""
        field = f"{source.value}:{name}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.key("reread"), field)
            pipe.hset(self.key("status"), f"{field}:reread_at", at.isoformat())
            await pipe.execute()

    async def cursors(self) -> dict[Source, Cursor]:
        raw = await self.redis.hgetall(self.key("cursor"))
        return {Source(_str(k)): Cursor.decode(_str(v)) for k, v in raw.items()}

    async def heartbeats(self) -> dict[str, str]:
        """When each duty last made progress ("poll:<portal>": its last page written)."""
        raw = await self.redis.hgetall(self.key("heartbeat"))
        return {_str(k): _str(v) for k, v in raw.items()}

    async def release_writeback(self, who: str, reason: str, at: datetime) -> None:
        """Let a held burst of pushes go (syncd.pusher), on an operator's word: audited."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(self.key("status"), "writeback:held")
            pipe.hset(self.key("status"), "writeback:released", at.isoformat())
            held, _ = await pipe.execute()
        await self.redis.xadd(
            self.key("audit"),
            {
                "at": at.isoformat(),
                "who": who,
                "action": "push_release",
                "id": "writeback",
                "before": _str(held) if held else "null",
                "after": json.dumps({"reason": reason}, ensure_ascii=False),
            },
        )

    async def record_status(self, source: Source, **facts: str | int) -> None:
        await self.redis.hset(
            self.key("status"), mapping={f"{source.value}:{k}": v for k, v in facts.items()}
        )

    async def record_error(self, source: Source, at: str, error: str, kind: str) -> None:
        """Keep a portal's failure among its last `RECENT_ERRORS`, newest first; `kind` is the
        failure's word (connectors.base.FAILURES), `error` its technical detail."""
        key = self.key("errors", source.value)
        entry = {"at": at, "error": error, "kind": kind}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps(entry, ensure_ascii=False))
            pipe.ltrim(key, 0, RECENT_ERRORS - 1)
            await pipe.execute()

    async def recent_errors(self, source: Source) -> list[dict[str, str]]:
        raw = await self.redis.lrange(self.key("errors", source.value), 0, -1)
        return [json.loads(item) for item in raw]

    async def read_states(self) -> dict[Source, ReadState]:
        """What is known of each portal's reads: when the last complete read ended (None: the
        store never completed one) and the polls that failed since, newest first."""
        status = await self.status()
        out: dict[Source, ReadState] = {}
        for source in Source:
            stamp = status.get(f"{source.value}:last_complete_at") or status.get(
                f"{source.value}:last_success_at"
            )
            complete = datetime.fromisoformat(stamp) if stamp else None
            failed = tuple(
                e
                for e in await self.recent_errors(source)
                if complete is None or datetime.fromisoformat(e["at"]) > complete
            )
            out[source] = ReadState(source, complete, failed)
        return out

    async def mark_read(self, source: Source, complete: bool, at: datetime) -> int:
        """Record how a poll of `source` ended: a read that reached the end of the portal's
        change feed makes its view complete and queues the dossiers waiting for it (returns
        how many); a read that stopped short makes the view incomplete until one completes."""
        keys = [
            self.key("status"),
            self.key("pending", source.value),
            self.key("dirty"),
            self.key("work"),
        ]
        args = [source.value, "1" if complete else "0", at.isoformat()]
        return int(await self._mark_read(keys=keys, args=args))

    async def waiting(self) -> dict[Source, int]:
        """How many dossiers wait for each portal's complete read to judge their absence."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for source in Source:
                pipe.scard(self.key("pending", source.value))
            counts = await pipe.execute()
        return {source: int(n) for source, n in zip(Source, counts, strict=True)}

    async def promote_retries(self, now: datetime, limit: int = 1000) -> int:
        """Queue the failed dossiers whose retry is due; returns how many."""
        keys = [self.key("retry"), self.key("dirty"), self.key("work")]
        return int(await self._promote(keys=keys, args=[now.timestamp(), limit]))

    async def failure_counts(self) -> tuple[int, int]:
        """How many failed dossiers are to be retried, and how many are dead letters."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hlen(self.key("poison"))
            pipe.hlen(self.key("deadletter"))
            retrying, dead = await pipe.execute()
        return int(retrying), int(dead)

    async def dead_letters(self) -> list[dict[str, Any]]:
        """Dossiers whose reconciliation failed too often to be retried on schedule, newest
        failure first: code, error, attempts, first_at, last_at. Each is tried again when its
        data changes, at the next sweep, or on `retry_failed`."""
        return await self._failures("deadletter")

    async def retrying(self) -> list[dict[str, Any]]:
        """Dossiers whose reconciliation failed and will be tried again: as `dead_letters`,
        with next_at (ISO time of the next attempt)."""
        return await self._failures("poison")

    async def _failures(self, name: str) -> list[dict[str, Any]]:
        raw = await self.redis.hgetall(self.key(name))
        out = [json.loads(v) for v in raw.values()]
        for entry in out:
            if entry.get("next_at") is not None:
                entry["next_at"] = datetime.fromtimestamp(float(entry["next_at"]), UTC).isoformat()
        return sorted(out, key=lambda e: (str(e.get("last_at", "")), e["code"]), reverse=True)

    async def retry_failed(self, codes: Sequence[str] | None = None) -> int:
        """Queue dead letters (these codes, or all) to be reconciled again now; returns how
        many were queued. They stay dead letters until a reconciliation succeeds."""
        known = {e["code"] for e in await self.dead_letters()}
        wanted = known if codes is None else known & set(codes)
        return await self.enqueue(sorted(wanted))

    # --- work queue ----------------------------------------------------------------------

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.key("work"), GROUP, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def take_work(self, consumer: str, count: int, reclaim_idle_ms: int = 60_000) -> WorkItem:
        """Up to `count` queued entries: first this consumer's own unacknowledged ones (a
        batch whose write failed, or work claimed from a dead consumer), then those another
        consumer took and never acknowledged for `reclaim_idle_ms`, then new ones. Codes are
        deduplicated."""
        work = self.key("work")
        own: Any = await self.redis.xreadgroup(GROUP, consumer, {work: "0"}, count=count)
        entries = [e for _, stream_entries in own for e in stream_entries]
        if len(entries) < count:
            reply: Any = await self.redis.xautoclaim(
                work,
                GROUP,
                consumer,
                min_idle_time=reclaim_idle_ms,
                start_id="0-0",
                count=count - len(entries),
            )
            entries += list(reply[1])
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

    async def apply(
        self,
        decisions: Iterable[Decision],
        done: WorkItem,
        now: datetime,
        retired: Iterable[str] = (),
    ) -> None:
        """Write decisions and acknowledge their work entries: `apply_units` with one unit and
        no snapshot check (for callers that are the only reconciler)."""
        await self.apply_units([Unit((), tuple(decisions), tuple(retired))], done, now)

    async def apply_units(
        self,
        units: Sequence[Unit],
        done: WorkItem,
        now: datetime,
        snapshot: int | None = None,
        failures: Mapping[str, str] | None = None,
        retries: RetryPolicy = RetryPolicy(),
        writeback: str = "dry_run",
    ) -> set[int]:
        """Write decisions (corrected records, exclusions, the mismatch queue and its audit,
        the period index, dossiers waiting for a complete view), record failed codes for
        retry, and acknowledge the work entries, in one script (atomic, one round trip per
        batch). Returns the indexes (into `units`) of the units skipped.

        `snapshot`: the `Linked.snapshot` the units were decided from; a unit any of whose
        codes was since written from a newer snapshot is skipped (a concurrent reconciler saw
        newer data). `failures`: code -> error of codes whose reconciliation failed: each is
        retried with backoff under `retries`, and is a dead letter after its attempts.
        `writeback`: "push" (the units' plans go to the outbox to be pushed, and the mismatches
        they fix are being pushed) or "dry_run" (the plans are kept as what would be pushed;
        the mismatches stay open for operators).

        Idempotent: applying the same decisions again at the same `now` leaves Redis as it was;
        at a later `now` only the mismatches' `last_seen_at` moves.
        """
        args: list[Any] = [
            GROUP,
            now.isoformat(),
            now.timestamp(),
            "" if snapshot is None else snapshot,
            retries.dead_after,
            retries.backoff_seconds,
            retries.backoff_max_seconds,
            writeback,
            len(done.entry_ids),
            *done.entry_ids,
            len(units),
        ]
        for unit in units:
            args += (len(unit.codes), *unit.codes, len(unit.decisions) + len(unit.retired))
            for decision in unit.decisions:
                args += _decision_args(decision, unit.plans.get(decision.key))
            # Keys whose records now belong to another dossier's decision (a national-only
            # record matched later by alternate code or fingerprint): no corrected record of
            # their own, and their mismatches close as no longer detected.
            for key in unit.retired:
                args += (key, b"", _RETIRED)
        failed = failures or {}
        args.append(len(failed))
        for code, error in sorted(failed.items()):
            args += (code, error)
        keys = [
            self.key("corrected"),
            self.key("mismatch"),
            self.key("mismatch", "open"),
            self.key("mismatch", "kinds"),
            self.key("audit"),
            self.key("excluded"),
            self.key("override"),
            self.key("dirty"),
            self.key("work"),
            self.key("match"),
            self.key("pidx"),
            self.key("stamp"),
            self.key("pending"),
            self.key("poison"),
            self.key("deadletter"),
            self.key("retry"),
            self.key("outbox"),
            self.key("outbox", "due"),
            self.key("pushlog"),
            self.key("outbox", "cancelled"),
        ]
        skipped: Any = await self._apply(keys=keys, args=args)
        return {int(n) - 1 for n in skipped}

    # --- the period index, flags and published reports ---------------------------------

    async def period_keys(self, period: Period) -> list[str]:
        """The keys of every dossier `period` may count (its months' entries and the open
        dossiers): a superset, read from the index without touching any other dossier."""
        names = [self.key("pidx", "m", m) for m in period.months()]
        members = await self.redis.sunion([*names, self.key("pidx", "open")])
        return sorted(_str(m) for m in members)

    async def open_keys(self, batch: int = 2000) -> AsyncIterator[list[str]]:
        """The keys of dossiers with a record still open, in batches."""
        chunk: list[str] = []
        async for member in self.redis.sscan_iter(self.key("pidx", "open"), count=batch):
            chunk.append(_str(member))
            if len(chunk) >= batch:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    async def report_facts(
        self, keys: Sequence[str]
    ) -> tuple[
        dict[str, Dossier],
        dict[str, str],
        dict[str, dict[str, str]],
        dict[str, dict[str, str]],
    ]:
        """For these keys, in one round trip: corrected records, exclusions, the mismatches
        detected now (kind -> detail) and the matched pairs ({city, national, method})."""
        if not keys:
            return {}, {}, {}, {}
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.key("corrected"), list(keys))
            pipe.hmget(self.key("excluded"), list(keys))
            pipe.hmget(self.key("mismatch", "kinds"), list(keys))
            pipe.hmget(self.key("match"), list(keys))
            blobs, excluded, kinds, matched = await pipe.execute()
        ids = [
            f"{key}|{kind}"
            for key, joined in zip(keys, kinds, strict=True)
            if joined
            for kind in _str(joined).split(",")
        ]
        records = await self.mismatch_records(ids)
        details: dict[str, dict[str, str]] = {}
        for mismatch_id, record in records.items():
            key, _, kind = mismatch_id.rpartition("|")
            details.setdefault(key, {})[kind] = record.get("detail") or ""
        return (
            _decode_many(keys, blobs),
            {k: _str(x) for k, x in zip(keys, excluded, strict=True) if x},
            details,
            {k: json.loads(m) for k, m in zip(keys, matched, strict=True) if m},
        )

    async def save_flags(self, flags: Iterable[Flags], batch: int = 2000) -> None:
        """Store each dossier's flags (no flags: its entry removed), one script per batch that
        writes only what changed: most dossiers' flags stay as they were from day to day."""
        pending: list[str] = []
        for f in flags:
            facts = ""
            if f.flags:
                facts = json.dumps(
                    {
                        "flags": sorted(f.flags),
                        "due": f.due.isoformat() if f.due else None,
                        "days_late": f.days_late,
                        "field": f.field_code,
                    },
                    sort_keys=True,
                )
            pending += (f.code, ",".join(sorted(f.flags)), facts)
            if len(pending) >= 3 * batch:
                await self._save_flags(keys=[self.key("flags"), self.key("flag")], args=pending)
                pending = []
        if pending:
            await self._save_flags(keys=[self.key("flags"), self.key("flag")], args=pending)

    async def flagged(self, flag: Flag) -> dict[str, dict[str, Any]]:
        """The stored flags of every dossier having `flag`."""
        keys = sorted(_str(k) for k in await self.redis.smembers(self.key("flag", flag.value)))
        if not keys:
            return {}
        blobs = await self.redis.hmget(self.key("flags"), keys)
        return {k: json.loads(b) for k, b in zip(keys, blobs, strict=True) if b}

    async def flags_as_of(self) -> str | None:
        raw = await self.redis.get(self.key("flags", "as_of"))
        return _str(raw) if raw else None

    async def record_flags_as_of(self, as_of: str) -> None:
        await self.redis.set(self.key("flags", "as_of"), as_of)

    async def publish_report(self, label: str, number: int, document: str) -> bool:
        """Store a report as version `number` of its period, unless that version exists: a
        published version is never changed. Returns whether it was stored."""
        return bool(await self.redis.hsetnx(self.key("report", label), str(number), document))

    async def report_versions(self, label: str) -> dict[int, str]:
        """The published versions of a period's report, by number (JSON documents)."""
        raw = await self.redis.hgetall(self.key("report", label))
        return {int(_str(n)): _str(doc) for n, doc in raw.items()}

    async def matches(self) -> dict[str, dict[str, str]]:
        """How each dossier's pair was matched: key -> {city, national, method}."""
        raw = await self.redis.hgetall(self.key("match"))
        return {_str(k): json.loads(v) for k, v in raw.items()}

    async def mismatches(self, include_gone: bool = False) -> list[dict[str, Any]]:
        """Mismatch records of what is detected now, in any state (with `include_gone`, also
        those no longer detected). Each has "code" (the dossier key) and "kind"."""
        out = []
        async for _, blob in self.redis.hscan_iter(self.key("mismatch"), count=1000):
            record = json.loads(blob)
            if "state" in record and (include_gone or record.get("present", True)):
                out.append(record)
        return out

    # --- the views of the mismatch records ---------------------------------------------

    async def mismatch_index_ready(self) -> bool:
        """Whether the views (`by_time`, `counts`) cover every mismatch record."""
        return bool(await self.redis.exists(self.key("mismatch", "indexed")))

    async def rebuild_mismatch_index(self, batch: int = 1000) -> int:
        """Build the views of the mismatch records (and the open set) afresh from the records;
        returns how many records they hold. For data written before the views existed: run it
        while nothing else writes mismatches (`Syncer.run` does, before its first cycle), since
        a record changed during the rebuild may be counted twice."""
        await self.redis.delete(self.key("mismatch", "indexed"))
        stale = [self.key("mismatch", "counts")]
        stale += [
            _str(k)
            async for k in self.redis.scan_iter(
                match=self.key("mismatch", "by_time", "*"), count=1000
            )
        ]
        await self.redis.delete(*stale)
        keys = [self.key("mismatch"), self.key("mismatch", "open")]
        indexed = 0
        pending: list[str] = []
        async for mismatch_id, _ in self.redis.hscan_iter(self.key("mismatch"), count=batch):
            pending.append(_str(mismatch_id))
            if len(pending) >= batch:
                indexed += int(await self._reindex(keys=keys, args=pending))
                pending = []
        if pending:
            indexed += int(await self._reindex(keys=keys, args=pending))
        await self.redis.set(self.key("mismatch", "indexed"), "1")
        return indexed

    async def ensure_indexes(self) -> None:
        """Build what data written by an older syncd lacks (see the key schema): the views of
        the mismatch records, the quarantine's per-portal counts, the city receipt index."""
        if not await self.mismatch_index_ready() and await self.redis.exists(self.key("mismatch")):
            indexed = await self.rebuild_mismatch_index()
            log.info("mismatch_index_rebuilt", records=indexed)
        moved = await self.migrate_legacy_quarantine()
        if moved:
            log.info("quarantine_migrated", sightings=moved)
        receipts = self.key("receipt", Source.CITY.value)
        if not await self.redis.exists(receipts) and await self.count(Source.CITY):
            log.info("receipt_index_rebuilt", records=await self.rebuild_receipt_index())
        for source in Source:
            days = self.key("days", source.value)
            if not await self.redis.exists(days) and await self.count(source):
                counted = await self.rebuild_day_index(source)
                log.info("day_index_rebuilt", portal=source.value, records=counted)

    async def mismatch_counts(self) -> dict[tuple[str, str], int] | None:
        """How many mismatch records are in each (state, kind); None while the views are not
        complete (data of an older syncd not yet rebuilt)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(self.key("mismatch", "indexed"))
            pipe.hgetall(self.key("mismatch", "counts"))
            ready, raw = await pipe.execute()
        if not ready:
            return None
        out: dict[tuple[str, str], int] = {}
        for name, value in raw.items():
            state, _, kind = _str(name).partition("|")
            if int(value) > 0:
                out[(state, kind)] = int(value)
        return out

    def _by_time(self, state: str, kind: str | None) -> str:
        return self.key("mismatch", "by_time", state, *((kind,) if kind else ()))

    async def mismatch_page(
        self, state: str, kind: str | None, offset: int, limit: int
    ) -> tuple[int, list[dict[str, Any]]] | None:
        """One page of the records in `state` (open or claimed), of one kind if given, oldest
        detection first, then by id, and how many there are in all; None while the views are
        not complete."""
        keys = [
            self._by_time(state, kind),
            self.key("mismatch"),
            self.key("mismatch", "indexed"),
        ]
        reply: Any = await self._page(keys=keys, args=[offset, limit])
        if int(reply[0]) < 0:
            return None
        return int(reply[0]), [json.loads(blob) for blob in reply[1:]]

    async def mismatch_ids_by_time(self, state: str, kind: str | None) -> list[str] | None:
        """Every id in `state` (open or claimed), of one kind if given, oldest detection
        first, then by id; None while the views are not complete."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(self.key("mismatch", "indexed"))
            pipe.zrange(self._by_time(state, kind), 0, -1)
            ready, ids = await pipe.execute()
        return [_str(i) for i in ids] if ready else None

    async def mismatch_records(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The records of these mismatch ids that exist, in one round trip."""
        if not ids:
            return {}
        blobs = await self.redis.hmget(self.key("mismatch"), list(ids))
        return {i: json.loads(b) for i, b in zip(ids, blobs, strict=True) if b}

    async def overrides(self, keys: Sequence[str]) -> dict[str, dict[str, str]]:
        """Operators' values for the corrected records of `keys` (one round trip): key ->
        {field: value}, only keys that have some. Fields are `OVERRIDE_FIELDS`, and
        `MIGRATED_OVERRIDE` ("true"/"false": an operator's word on migration); a value is as
        the corrected record spells it (status and channel as their numbers, times in ISO
        8601 with offset), and '' means the field has no value."""
        if not keys or not await self.redis.exists(self.key("override")):
            return {}  # the usual case: no operator has set a value yet
        names = [f"{k}|{f}" for k in keys for f in (*OVERRIDE_FIELDS, MIGRATED_OVERRIDE)]
        values = await self.redis.hmget(self.key("override"), names)
        out: dict[str, dict[str, str]] = {}
        for name, value in zip(names, values, strict=True):
            if value is not None:
                key, _, field = name.rpartition("|")
                out.setdefault(key, {})[field] = _str(value)
        return out

    async def delete_all(self) -> int:
        """Remove every key under this prefix (tests, and a clean demo)."""
        removed = 0
        async for key in self.redis.scan_iter(match=f"{{{self.prefix}}}:*", count=1000):
            removed += int(await self.redis.unlink(key))
        return removed


def _quarantine_entry(e: Mapping[str, Any]) -> dict[str, str]:
    """A stored quarantine entry as text fields (times in ISO 8601)."""
    out = {
        name: "" if e.get(name) is None else str(e[name])
        for name in ("id", "source", "code", "reason", "raw", "updated_at", "first_at", "last_at")
    }
    out["count"] = str(int(e.get("count") or 1))
    out["attempts"] = str(int(e.get("attempts") or 0))
    retry = e.get("next_retry")
    out["next_retry"] = datetime.fromtimestamp(float(retry), UTC).isoformat() if retry else ""
    return out


def quarantine_id(source: Source, code: str | None, raw: str) -> str:
    """A quarantine entry's id: one per record of a portal, by code; a record whose code
    could not be read is known by a hash of its raw form."""
    if code:
        return f"{source.value}:{code}"
    return f"{source.value}:~{hashlib.sha256(raw.encode()).hexdigest()[:16]}"


def _decode_many(codes: Sequence[str], blobs: Sequence[Any]) -> dict[str, Dossier]:
    return {code: codec.loads(b) for code, b in zip(codes, blobs, strict=True) if b}


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_RETIRED = json.dumps({"x": None, "c": None, "n": None, "m": []})


def _decision_args(decision: Decision, plan: Plan | None) -> tuple[str, bytes, str]:
    """A decision as the apply script reads it: key, corrected blob, facts."""
    blob = codec.dumps(decision.corrected) if decision.corrected is not None else b""
    matches = decision.matches
    months, still_open = span((decision.corrected, *decision.records))
    facts = {
        "p": months,
        "o": still_open,
        "x": decision.excluded or None,
        "c": matches[0].city_code if matches else None,
        "n": matches[0].national_code if matches else None,
        "h": matches[0].method.value if matches else None,
        "m": [_mismatch_facts(m) for m in decision.mismatches],
        "w": [s.value for s in decision.waiting],
    }
    if plan is not None:
        facts["wb"] = plan_json(plan)
    return decision.key, blob, json.dumps(facts, ensure_ascii=False)


def _mismatch_facts(m: Mismatch) -> dict[str, Any]:
    auto = bool(getattr(m, "auto_resolvable", False))
    rule = getattr(m, "rule", None) or (f"{m.kind.value} {m.detail}" if m.detail else m.kind.value)
    return {
        "kind": m.kind.value,
        "severity": m.severity.value,
        "city": m.city_value,
        "national": m.national_value,
        "detail": m.detail,
        "auto": auto,
        "rule": str(rule),
    }
