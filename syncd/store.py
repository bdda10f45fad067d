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
                                           at, error)
    {P}:status                       HASH  "<source>:<field>" -> last cycle facts:
                                           last_success_at, last_written, last_error,
                                           last_error_at, circuit (closed, open, half_open,
                                           unknown); "sweep:last_at"
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

import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
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
from reconcile.model import Dossier, Procedure, Source
from reconcile.period import Period, span

GROUP = "reconcilers"
RECENT_ERRORS = 20
log = structlog.get_logger("syncd")

QUARANTINE_KEPT = 100_000

_UPSERT = (
    f"local QUARANTINE_KEPT = {QUARANTINE_KEPT}\n"
    + """
-- KEYS: rec, ver, cursor, dirty, work, quarantine, idx, alt, fp, quarantine:counts
-- ARGV: source, cursor, record count n, n x (code, version, blob, alt codes "a,b", fingerprint),
--       then (code, reason, raw, updated_at) per quarantined record
-- The cursor is written last: if anything fails before it, the page is simply fetched again.
local function without(list, code)
  local kept = {}
  for c in string.gmatch(list or '', '[^,]+') do
    if c ~= code then kept[#kept + 1] = c end
  end
  return table.concat(kept, ',')
end
local function index(code, alts, fp)
  local entry = alts .. '|' .. fp
  local old = redis.call('HGET', KEYS[7], code)
  if old == entry then return end
  if old then
    local sep = string.find(old, '|', 1, true)
    for a in string.gmatch(string.sub(old, 1, sep - 1), '[^,]+') do
      if redis.call('HGET', KEYS[8], a) == code then redis.call('HDEL', KEYS[8], a) end
    end
    local ofp = string.sub(old, sep + 1)
    if ofp ~= '' then
      local rest = without(redis.call('HGET', KEYS[9], ofp), code)
      if rest == '' then
        redis.call('HDEL', KEYS[9], ofp)
      else
        redis.call('HSET', KEYS[9], ofp, rest)
      end
    end
  end
  for a in string.gmatch(alts, '[^,]+') do redis.call('HSET', KEYS[8], a, code) end
  if fp ~= '' then
    local rest = without(redis.call('HGET', KEYS[9], fp), code)
    redis.call('HSET', KEYS[9], fp, rest == '' and code or (rest .. ',' .. code))
  end
  redis.call('HSET', KEYS[7], code, entry)
end
local n = tonumber(ARGV[3])
local written = 0
for i = 4, 3 + 5 * n, 5 do
  local code, version, blob = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local current = redis.call('HGET', KEYS[2], code)
  local newer = (not current) or tonumber(current) < tonumber(version)
  if not newer and tonumber(current) == tonumber(version) then
    newer = redis.call('HGET', KEYS[1], code) ~= blob
  end
  if newer then
    redis.call('HSET', KEYS[1], code, blob)
    redis.call('HSET', KEYS[2], code, version)
    index(code, ARGV[i + 3], ARGV[i + 4])
    if redis.call('SADD', KEYS[4], code) == 1 then
      redis.call('XADD', KEYS[5], '*', 'c', code)
    end
    written = written + 1
  end
end
if #ARGV >= 4 + 5 * n then
  -- The per-portal counts are kept only if they cover the whole stream: they exist already,
  -- or the stream is empty (not a stream written before the counts existed).
  local counting = redis.call('EXISTS', KEYS[10]) == 1 or redis.call('XLEN', KEYS[6]) == 0
  for i = 4 + 5 * n, #ARGV, 4 do
    redis.call('XADD', KEYS[6], '*', 'source', ARGV[1], 'code', ARGV[i],
               'reason', ARGV[i + 1], 'raw', ARGV[i + 2], 'updated_at', ARGV[i + 3])
    if counting then redis.call('HINCRBY', KEYS[10], ARGV[1], 1) end
  end
  local excess = redis.call('XLEN', KEYS[6]) - QUARANTINE_KEPT
  if excess > 0 then
    if counting then
      for _, entry in ipairs(redis.call('XRANGE', KEYS[6], '-', '+', 'COUNT', excess)) do
        local fields = entry[2]
        for f = 1, #fields, 2 do
          if fields[f] == 'source' then redis.call('HINCRBY', KEYS[10], fields[f + 1], -1) end
        end
      end
    end
    redis.call('XTRIM', KEYS[6], 'MAXLEN', QUARANTINE_KEPT)
  end
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
end
return written
"""
)


# The receipt index (`{P}:receipt:city`), kept with the records by the upsert's transaction.
# `receipt_move` is the whole of it, a function the upsert script can call for each record it
# writes; `_RECEIPTS` below runs it on its own, right after the upsert, in the same MULTI.
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

_RECEIPTS = (
    RECEIPT_LUA
    + """
-- KEYS: ver:city, receipt:city, dirty, work
-- ARGV: burst threshold, then (code, version, receipt second) per record of the page. Only a
-- record the upsert stored (its version is the stored one) moves.
local threshold = tonumber(ARGV[1])
for i = 2, #ARGV, 3 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    receipt_move(KEYS[2], KEYS[3], KEYS[4], ARGV[i], ARGV[i + 2], threshold)
  end
end
return 1
"""
)

_RECEIPTS_REBUILD = """
-- KEYS: receipt:city; ARGV: (code, second) pairs, indexed as they are (no queueing: a rebuild
-- runs before the reconciler, whose sweep reads the counts).
for i = 1, #ARGV, 2 do redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i]) end
return 1
"""

_RELEASE = """
-- KEYS: quarantine, quarantine:counts; ARGV: entry ids
local counting = redis.call('EXISTS', KEYS[2]) == 1
for _, id in ipairs(ARGV) do
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if #found > 0 then
    if counting then
      local fields = found[1][2]
      for f = 1, #fields, 2 do
        if fields[f] == 'source' then redis.call('HINCRBY', KEYS[2], fields[f + 1], -1) end
      end
    end
    redis.call('XDEL', KEYS[1], id)
  end
end
return 1
"""

_COUNT_TAIL = """
-- KEYS: quarantine, quarantine:counts; ARGV: the last entry id counted, then source, count
-- pairs: the counts of a stream written before they existed, and of what came after `last`.
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local counts = {}
for i = 2, #ARGV, 2 do counts[ARGV[i]] = tonumber(ARGV[i + 1]) end
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], ARGV[1], '+')) do
  if entry[1] ~= ARGV[1] then
    local fields = entry[2]
    for f = 1, #fields, 2 do
      if fields[f] == 'source' then counts[fields[f + 1]] = (counts[fields[f + 1]] or 0) + 1 end
    end
  end
end
for source, n in pairs(counts) do redis.call('HSET', KEYS[2], source, n) end
return 1
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

local ACTIVE = {open = true, claimed = true}

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
    + """
-- KEYS: corrected, mismatch, mismatch:open, mismatch:kinds, audit, excluded, override, dirty,
--       work, match, pidx (the period index's base name)
-- ARGV: group, now, number of entry ids e, e ids, then per decision: key, corrected blob
--       ('' = none), facts: {"x": excluded reason or null, "c", "n": the matched pair's
--                            city and national codes (or null),
--                            "m": [{kind, severity, city, national, detail, auto, rule}],
--                            "p": months spanned ["YYYY-MM"], "o": still open (bool)}
local now = ARGV[2]
local e = tonumber(ARGV[3])
-- No record yet: the views will cover every record from the first one on.
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2] .. ':indexed', '1') end
local ids = {}
for i = 4, 3 + e do ids[#ids + 1] = ARGV[i] end

local function auto_resolve(r, reason)
  local before = state_of(r)
  r.state = 'auto_resolved'
  r.claimed_by = NULL
  r.claimed_at = NULL
  r.resolution = {action = 'accept_city', value = NULL, reason = reason, by = 'syncd', at = now}
  remember(r, {at = now, event = 'auto_resolved', by = 'syncd', reason = reason})
  audit(KEYS[5], now, 'syncd', 'auto_resolve', r.id, before, state_of(r))
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

for at = 4 + e, #ARGV, 3 do
  local key, blob, facts = ARGV[at], ARGV[at + 1], cjson.decode(ARGV[at + 2])
  if blob == '' then
    redis.call('HDEL', KEYS[1], key)
    index(key, {}, false)
  else
    redis.call('HSET', KEYS[1], key, blob)
    index(key, facts.p or {}, facts.o == true)
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
      if m.auto and (r.state == 'open' or r.state == 'claimed') then
        auto_resolve(r, 'auto: ' .. m.rule)
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
          if r.state == 'open' or r.state == 'claimed' then auto_resolve(r, GONE) end
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
if e > 0 then
  redis.call('XACK', KEYS[9], ARGV[1], unpack(ids))
  redis.call('XDEL', KEYS[9], unpack(ids))
end
return 1
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
    failures_since: tuple[dict[str, str], ...]  # {"at", "error"}, newest first


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
        self._apply = client.register_script(_APPLY)
        self._save_flags = client.register_script(_SAVE_FLAGS)
        self._release = client.register_script(_RELEASE)
        self._count_tail = client.register_script(_COUNT_TAIL)
        self._reindex = client.register_script(_REINDEX)
        self._page = client.register_script(_PAGE)
        self._receipts = client.register_script(_RECEIPTS)
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
    ) -> int:
        """Write one page, its quarantined records and its cursor in one script (atomic, one
        round trip); returns how many records were new or newer than what was stored."""
        args: list[Any] = [source.value, cursor.encode() if cursor else "", len(dossiers)]
        for d in dossiers:
            args += (d.code, d.version, codec.dumps(d), ",".join(d.alt_codes), fingerprint(d) or "")
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
            self.key("idx", source.value),
            self.key("alt", source.value),
            self.key("fp", source.value),
            self.key("quarantine", "counts"),
        ]
        if source is not Source.CITY or not dossiers:
            return int(await self._upsert(keys=keys, args=args))
        async with self.redis.pipeline(transaction=True) as pipe:
            await self._upsert(keys=keys, args=args, client=pipe)
            await self._index_receipts(dossiers, pipe)
            written, _ = await pipe.execute()
        return int(written)

    async def _index_receipts(self, dossiers: Sequence[Dossier], pipe: Any) -> None:
        """Queue on `pipe` the receipt index's update for these city records (see
        RECEIPT_LUA): in the upsert's transaction, so the index never lags the records."""
        args: list[Any] = [self.burst_size]
        for d in dossiers:
            args += (d.code, d.version, receipt_second(d))
        keys = [
            self.key("ver", Source.CITY.value),
            self.key("receipt", Source.CITY.value),
            self.key("dirty"),
            self.key("work"),
        ]
        await self._receipts(keys=keys, args=args, client=pipe)

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

    async def related(
        self, city: Mapping[str, Dossier], national: Mapping[str, Dossier], codes: Sequence[str]
    ) -> tuple[dict[str, Dossier], dict[str, Dossier]]:
        """Records that may be the same dossiers as `codes` under other codes: national records
        naming a code as their alternate (and the reverse), the records an alternate code names,
        and records with the same fingerprint. Two round trips for the whole batch."""
        city_fps = sorted({fp for d in city.values() if (fp := fingerprint(d))})
        national_fps = sorted({fp for d in national.values() if (fp := fingerprint(d))})
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.key("alt", "national"), list(codes))
            pipe.hmget(self.key("alt", "city"), list(codes))
            pipe.hmget(self.key("fp", "national"), city_fps or ["-"])
            pipe.hmget(self.key("fp", "city"), national_fps or ["-"])
            national_alt, city_alt, national_fp, city_fp = await pipe.execute()
        want_national = {_str(c) for c in national_alt if c}
        want_city = {_str(c) for c in city_alt if c}
        want_city |= {a for d in national.values() for a in d.alt_codes}
        want_national |= {a for d in city.values() for a in d.alt_codes}
        for joined in national_fp:
            want_national |= set(_str(joined).split(",")) if joined else set()
        for joined in city_fp:
            want_city |= set(_str(joined).split(",")) if joined else set()
        extra_city = sorted(want_city - city.keys())
        extra_national = sorted(want_national - national.keys())
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.key("rec", "city"), extra_city or ["-"])
            pipe.hmget(self.key("rec", "national"), extra_national or ["-"])
            city_blobs, national_blobs = await pipe.execute()
        return (
            _decode_many(extra_city, city_blobs[: len(extra_city)]),
            _decode_many(extra_national, national_blobs[: len(extra_national)]),
        )

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

    async def record_writeback(
        self, pushes: Mapping[str, dict[str, str]], settled: Iterable[str]
    ) -> None:
        """The write-back log: per dossier the latest push (done or, in dry run, that would be
        done); dossiers that no longer need one leave it."""
        async with self.redis.pipeline(transaction=True) as pipe:
            gone = list(settled)
            if gone:
                pipe.hdel(self.key("writeback"), *gone)
            if pushes:
                pipe.hset(
                    self.key("writeback"),
                    mapping={k: json.dumps(v, ensure_ascii=False) for k, v in pushes.items()},
                )
            await pipe.execute()

    async def writebacks(self) -> dict[str, dict[str, str]]:
        raw = await self.redis.hgetall(self.key("writeback"))
        return {_str(k): json.loads(v) for k, v in raw.items()}

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

    async def quarantined(
        self, count: int = 100, source: Source | None = None
    ) -> list[dict[str, str]]:
        """The newest `count` quarantined entries (of one portal's, if `source` is given)."""
        stream = self.key("quarantine")
        if source is None:
            entries: Any = await self.redis.xrevrange(stream, count=count)
            return [_quarantine_entry(entry_id, fields) for entry_id, fields in entries]
        found: list[dict[str, str]] = []
        end, chunk = "+", max(count, 500)
        while len(found) < count:
            entries = await self.redis.xrevrange(stream, max=end, count=chunk)
            found += [
                entry
                for entry_id, fields in entries
                if (entry := _quarantine_entry(entry_id, fields))["source"] == source.value
            ]
            if len(entries) < chunk:
                break
            end = "(" + _str(entries[-1][0])
        return found[:count]

    async def quarantine_counts(self) -> dict[str, int]:
        """How many entries each portal has in the quarantine (portals with none may be left
        out). A stream written before the counts were kept is counted once, here."""
        raw = await self.redis.hgetall(self.key("quarantine", "counts"))
        if raw or not await self.redis.xlen(self.key("quarantine")):
            return {_str(k): int(v) for k, v in raw.items() if int(v) > 0}
        counts: dict[str, int] = {}
        stream, start, last = self.key("quarantine"), "-", "0-0"
        while True:
            entries: Any = await self.redis.xrange(stream, min=start, count=1000)
            for entry_id, fields in entries:
                source = _quarantine_entry(entry_id, fields).get("source", "")
                counts[source] = counts.get(source, 0) + 1
                last = _str(entry_id)
            if len(entries) < 1000:
                break
            start = "(" + last
        # What came after `last` is counted by the script, which also writes the counts: from
        # then on the upserts keep them.
        pairs = [part for source, n in counts.items() for part in (source, n)]
        await self._count_tail(keys=[stream, self.key("quarantine", "counts")], args=[last, *pairs])
        raw = await self.redis.hgetall(self.key("quarantine", "counts"))
        return {_str(k): int(v) for k, v in raw.items() if int(v) > 0}

    async def quarantine_entry(self, entry_id: str) -> dict[str, str] | None:
        try:
            entries: Any = await self.redis.xrange(self.key("quarantine"), entry_id, entry_id)
        except redis.exceptions.ResponseError:  # not a stream id at all
            return None
        if not entries:
            return None
        entry_id_raw, fields = entries[0]
        return {"id": _str(entry_id_raw), **{_str(k): _str(v) for k, v in fields.items()}}

    async def quarantine_count(self) -> int:
        return int(await self.redis.xlen(self.key("quarantine")))

    async def release_quarantined(self, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            keys = [self.key("quarantine"), self.key("quarantine", "counts")]
            await self._release(keys=keys, args=list(entry_ids))

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

    async def cursors(self) -> dict[Source, Cursor]:
        raw = await self.redis.hgetall(self.key("cursor"))
        return {Source(_str(k)): Cursor.decode(_str(v)) for k, v in raw.items()}

    async def record_status(self, source: Source, **facts: str | int) -> None:
        await self.redis.hset(
            self.key("status"), mapping={f"{source.value}:{k}": v for k, v in facts.items()}
        )

    async def record_error(self, source: Source, at: str, error: str) -> None:
        """Keep a portal's failure among its last `RECENT_ERRORS`, newest first."""
        key = self.key("errors", source.value)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps({"at": at, "error": error}, ensure_ascii=False))
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

    async def dead_letters(self) -> list[dict[str, Any]]:
        """Dossiers whose reconciliation failed too often to be retried on schedule: code,
        error, attempts, first_at, last_at (none until poison isolation writes them)."""
        return []

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

    async def apply(
        self,
        decisions: Iterable[Decision],
        done: WorkItem,
        now: datetime,
        retired: Iterable[str] = (),
    ) -> None:
        """Write decisions (corrected records, exclusions, the mismatch queue and its audit) and
        acknowledge their work entries in one script (atomic, one round trip per batch).

        Idempotent: applying the same decisions again at the same `now` leaves Redis as it was;
        at a later `now` only the mismatches' `last_seen_at` moves.
        """
        args: list[Any] = [GROUP, now.isoformat(), len(done.entry_ids), *done.entry_ids]
        for decision in decisions:
            key = getattr(decision, "key", decision.code)
            blob = codec.dumps(decision.corrected) if decision.corrected is not None else b""
            matches = getattr(decision, "matches", ())
            months, still_open = span((decision.corrected, *getattr(decision, "records", ())))
            facts = {
                "p": months,
                "o": still_open,
                "x": getattr(decision, "excluded", None) or None,
                "c": matches[0].city_code if matches else None,
                "n": matches[0].national_code if matches else None,
                "h": matches[0].method.value if matches else None,
                "m": [_mismatch_facts(m) for m in decision.mismatches],
            }
            args += (key, blob, json.dumps(facts, ensure_ascii=False))
        # Keys whose records now belong to another dossier's decision (a national-only record
        # matched later by alternate code or fingerprint): no corrected record of their own, and
        # their mismatches close as no longer detected.
        empty = json.dumps({"x": None, "c": None, "n": None, "m": []})
        for key in retired:
            args += (key, b"", empty)
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
        ]
        await self._apply(keys=keys, args=args)

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
        await self.quarantine_counts()
        receipts = self.key("receipt", Source.CITY.value)
        if not await self.redis.exists(receipts) and await self.count(Source.CITY):
            log.info("receipt_index_rebuilt", records=await self.rebuild_receipt_index())

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


def _quarantine_entry(entry_id: Any, fields: Mapping[Any, Any]) -> dict[str, str]:
    return {"id": _str(entry_id), **{_str(k): _str(v) for k, v in fields.items()}}


def _decode_many(codes: Sequence[str], blobs: Sequence[Any]) -> dict[str, Dossier]:
    return {code: codec.loads(b) for code, b in zip(codes, blobs, strict=True) if b}


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


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
