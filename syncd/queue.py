"""The mismatch queue as operators work it: list, claim, resolve, reopen, and the audit trail.

The records themselves are written by `Store.apply` (see syncd.store for the key schema and the
states syncd moves them through). Here are the operators' transitions, each one Lua script
(atomic: the check and the change cannot be split by a reconcile batch) that also appends to
the audit stream:

    claim    open                          -> claimed   (claimed_by, claimed_at)
    resolve  open, claimed                 -> resolved  (resolution: action, value, reason,
                                                          by, at)
    reopen   claimed, resolved, auto_resolved -> open    (resolution withdrawn)
    mark / unmark migrated: any (or none yet)  -> resolved  (the `migrated` mismatch of a
                                                          dossier: an operator's verdict on
                                                          migration, `set_migrated`)

A resolution taking one side's value (accept_city, accept_national) or an operator's value
(manual) writes overrides for the corrected record, `{P}:override` "<key>|<field>" -> value,
and queues the dossier to be reconciled again; the reconciler reads them with
`Store.overrides`. accept_* writes the fields the mismatch's kind is about (status -> status,
received_date -> received_at, finished_date -> finished_at and returned_at, ...), taken from
that side's stored record (the mismatch shows dates as days only); kinds about no single field
(missing_*, duplicate, migrated, unknown_procedure) only change state. The resolution keeps
what it wrote (`resolution.overrides`); reopening, by an operator or because the data changed,
withdraws those overrides (unless a later resolution replaced them) and queues the dossier
again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from reconcile.engine import SEVERITY, MismatchKind, migrated_values
from reconcile.model import VN_TZ, Dossier, Source
from syncd.i18n import t
from syncd.queue_states import ACTIVE_STATES, STATES
from syncd.store import MISMATCH_LUA, OVERRIDE_FIELDS, Store

ACTIONS = ("accept_city", "accept_national", "manual", "ignore")

# The fields of the corrected record a kind of mismatch is about (none: only the state changes
# when a side is accepted). A finished date is the finish date, else the return date.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "collapsed_status": ("status",),
    "received_date": ("received_at",),
    "due_date": ("due_at",),
    "finished_date": ("finished_at", "returned_at"),
    "returned_date": ("returned_at",),
    "channel": ("channel",),
    "procedure": ("procedure_code",),
    "field": ("field_code",),
}
_DATES = frozenset({"received_at", "due_at", "finished_at", "returned_at"})

Record = dict[str, Any]
Records = list[Record]

_ACT = (
    MISMATCH_LUA
    + """
-- KEYS: mismatch, mismatch:open, audit, override, dirty, work
-- ARGV: op (claim | resolve | reopen), id, who, now, reason, then for resolve: action, the
--       value as shown ('' = none), and (field, value) pairs to write as overrides
local op, id, who, now, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local raw = redis.call('HGET', KEYS[1], id)
if not raw then return {'unknown'} end
local r = cjson.decode(raw)
if r.state == nil then return {'unknown'} end
local was = r.state
local before = state_of(r)
if op == 'claim' then
  if r.state ~= 'open' and r.state ~= 'pushing' then
    return {'state', r.state, r.claimed_by == NULL and '' or r.claimed_by}
  end
  r.state = 'claimed'
  r.claimed_by = who
  r.claimed_at = now
  remember(r, {at = now, event = 'claimed', by = who})
elseif op == 'resolve' then
  if r.state ~= 'open' and r.state ~= 'claimed' and r.state ~= 'pushing' then
    return {'state', r.state, ''}
  end
  local written = NULL
  if #ARGV > 7 then
    written = {}
    for i = 8, #ARGV, 2 do
      written[ARGV[i]] = ARGV[i + 1]
      redis.call('HSET', KEYS[4], r.key .. '|' .. ARGV[i], ARGV[i + 1])
    end
    requeue(KEYS[5], KEYS[6], r.key)
  end
  r.state = 'resolved'
  r.claimed_by = NULL
  r.claimed_at = NULL
  local shown = ARGV[7] ~= '' and ARGV[7] or NULL
  r.resolution = {action = ARGV[6], value = shown, reason = reason, by = who, at = now,
                  overrides = written}
  remember(r, {at = now, event = 'resolved', by = who, action = ARGV[6], value = shown,
               reason = reason})
elseif op == 'reopen' then
  if r.state == 'open' or r.state == 'pushing' then return {'state', r.state, ''} end
  if withdraw(KEYS[4], r) then requeue(KEYS[5], KEYS[6], r.key) end
  r.state = 'open'
  r.resolution = NULL
  r.claimed_by = NULL
  r.claimed_at = NULL
  remember(r, {at = now, event = 'reopened', by = who, reason = reason})
end
save(KEYS[1], KEYS[2], r, raw, was)
audit(KEYS[3], now, who, op, id, before, state_of(r))
return {'ok', enc(r)}
"""
)


_VERDICT = (
    MISMATCH_LUA
    + """
-- KEYS: mismatch, mismatch:open, audit, override, dirty, work
-- ARGV: key, who, now, reason, verdict ('true' | 'false'), city, national (what the `migrated`
--       mismatch shows of each side, '' = none), severity
-- An operator's verdict on migration, as a resolution of the dossier's `migrated` mismatch
-- (created if the engine has not raised one): the override `<key>|migrated` is written and the
-- dossier queued, so the engine takes the verdict; reopening the mismatch withdraws it.
local key, who, now, reason, verdict = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local id = key .. '|migrated'
local raw = redis.call('HGET', KEYS[1], id)
local r = raw and cjson.decode(raw) or nil
local was = r and r.state or nil
local before = (r and r.state) and state_of(r) or 'null'
if r == nil or r.state == nil then
  r = {id = id, code = key, key = key, kind = 'migrated', severity = ARGV[8], detail = 'operator',
       auto_resolvable = false, city_code = NULL, national_code = NULL, state = 'open',
       detected_at = now, last_seen_at = now, resolution = NULL, claimed_by = NULL,
       claimed_at = NULL, history = {}}
  was = nil
end
-- What the engine will show once it takes the verdict, so that it does not read as new data.
r.city = ARGV[6] ~= '' and ARGV[6] or NULL
r.national = ARGV[7] ~= '' and ARGV[7] or NULL
r.present = verdict == 'true'
local action = verdict == 'true' and 'mark_migrated' or 'unmark_migrated'
local shown = 'migrated=' .. verdict
redis.call('HSET', KEYS[4], key .. '|migrated', verdict)
requeue(KEYS[5], KEYS[6], key)
r.state = 'resolved'
r.claimed_by = NULL
r.claimed_at = NULL
r.resolution = {action = action, value = shown, reason = reason, by = who, at = now,
                overrides = {migrated = verdict}}
remember(r, {at = now, event = 'resolved', by = who, action = action, value = shown,
             reason = reason})
save(KEYS[1], KEYS[2], r, raw, was)
audit(KEYS[3], now, who, action, id, before, state_of(r))
return enc(r)
"""
)


# A mismatch's id, as people and URLs read it: "<dossier key>~<kind>" (no character a URL must
# escape; the pages show the kind in words). The store keys mismatches by "<key>|<kind>"; that
# older form is accepted wherever an id is given.
ID_SEPARATOR = "~"
STORED_SEPARATOR = "|"


def public_id(mismatch_id: str) -> str:
    """The id as shown and linked ("<key>~<kind>"), from either form; other subjects of the
    audit ("report:2024-07", "user:lan") as they are."""
    key, sep, kind = mismatch_id.rpartition(STORED_SEPARATOR)
    return f"{key}{ID_SEPARATOR}{kind}" if sep else mismatch_id


def stored_id(mismatch_id: str) -> str:
    """The id as the store keys it ("<key>|<kind>"), from either form."""
    if STORED_SEPARATOR in mismatch_id:
        return mismatch_id
    key, sep, kind = mismatch_id.rpartition(ID_SEPARATOR)
    return f"{key}{STORED_SEPARATOR}{kind}" if sep else mismatch_id


def public(record: Record) -> Record:
    """A mismatch record with its id as shown."""
    return {**record, "id": public_id(str(record.get("id", "")))} if "id" in record else record


class QueueError(Exception):
    """An operator's request that cannot be done; nothing was changed. The text is in the
    current language (syncd.i18n); `message` and `values` name it for programs."""

    def __init__(self, message: str, **values: object) -> None:
        self.message = message
        self.values = values
        super().__init__(t(message, **values))


@dataclass(frozen=True, slots=True)
class Listing:
    items: Records
    total: int


def fields_of(kind: str) -> tuple[str, ...]:
    """The corrected record's fields a kind of mismatch is about (maybe none)."""
    if kind in KIND_FIELDS:
        return KIND_FIELDS[kind]
    if kind in OVERRIDE_FIELDS:
        return (kind,)
    if kind.endswith("_date") and f"{kind.removesuffix('_date')}_at" in OVERRIDE_FIELDS:
        return (f"{kind.removesuffix('_date')}_at",)
    return ()


def override_text(dossier: Dossier, field: str) -> str:
    """A field of a dossier as an override spells it ('' for no value)."""
    value = getattr(dossier, field)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int):
        return str(int(value))
    return str(value)


def parse_value(text: str) -> tuple[str, str]:
    """An operator's "FIELD=V", checked and normalised: (field, value)."""
    field, sep, value = text.partition("=")
    field, value = field.strip(), value.strip()
    fields = ", ".join(OVERRIDE_FIELDS)
    if not sep or not field:
        raise QueueError("queue.value_form", value=text, fields=fields)
    if field not in OVERRIDE_FIELDS:
        raise QueueError("queue.value_field", field=field, fields=fields)
    if field in ("status", "channel"):
        high = 10 if field == "status" else 3
        if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= high:
            raise QueueError("queue.value_number", field=field, value=value, high=high)
        return field, str(int(value))
    if field.endswith("_at"):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            when = None
        if when is None or when.tzinfo is None:
            raise QueueError("queue.value_time", field=field, value=value)
        return field, when.isoformat()
    if not value or any(c.isspace() for c in value):
        raise QueueError("queue.value_code", field=field, value=value)
    return field, value


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _required(text: str | None, message: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise QueueError(message)
    return cleaned


def utc_now() -> datetime:
    return datetime.now(UTC)


def check_resolution(action: str, reason: str, value: str | None) -> tuple[str, str] | None:
    """Raise QueueError unless (action, reason, value) is a valid resolution; the manual
    (field, value) when the action is manual. Needs no record: a batch can be checked before
    any of it is resolved."""
    if action not in ACTIONS:
        raise QueueError("queue.bad_action", action=action, actions=", ".join(ACTIONS))
    _required(reason, "queue.no_reason")
    if action == "manual":
        if not value:
            raise QueueError("queue.needs_value")
        return parse_value(value)
    if value is not None:
        raise QueueError("queue.value_only_manual")
    return None


class MismatchQueue:
    def __init__(self, store: Store, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.clock = clock
        self._act = store.redis.register_script(_ACT)
        self._verdict = store.redis.register_script(_VERDICT)

    # --- reading -------------------------------------------------------------------------

    async def list(
        self,
        kind: str | None = None,
        state: str | None = None,
        field: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Records:
        """Mismatches by kind, state and the dossier's field code (from its corrected
        record), oldest detection first (then by id)."""
        return (await self.search(kind, state, field, limit, offset)).items

    async def search(
        self,
        kind: str | None = None,
        state: str | None = None,
        field: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Listing:
        """`list`, with how many matched in all (ids as shown, see `public_id`)."""
        found = await self._search(kind, state, field, limit, offset)
        return Listing([public(r) for r in found.items], found.total)

    async def _search(
        self,
        kind: str | None,
        state: str | None,
        field: str | None,
        limit: int,
        offset: int,
    ) -> Listing:
        """`search` on the stored records.

        Open and claimed mismatches (what operators page through) are read from the store's
        sorted views: only the page's records are read, or with `field`, the ids in order and
        the corrected records' field codes. The other states, and data of an older syncd whose
        views are not rebuilt yet, are read record by record.
        """
        if state is not None and state not in STATES:
            raise QueueError("queue.bad_state_filter", state=state, states=", ".join(STATES))
        if limit < 0 or offset < 0:
            raise QueueError("queue.bad_page")
        if state in ACTIVE_STATES:
            indexed = await self._search_indexed(state, kind, field, limit, offset)
            if indexed is not None:
                return indexed
        if state in ACTIVE_STATES:
            ids = [
                _text(i)
                for i in await self.store.redis.smembers(self.store.key("mismatch", "open"))
            ]
            candidates: Iterable[Record] = (await self.store.mismatch_records(ids)).values()
        else:
            candidates = await self._scan(kind)
        found = [
            r
            for r in candidates
            if "state" in r
            and (kind is None or r["kind"] == kind)
            and (state is None or r["state"] == state)
        ]
        if field is not None:
            codes = await self._field_codes(sorted({r["key"] for r in found}))
            found = [r for r in found if codes.get(r["key"]) == field]
        found.sort(key=lambda r: (datetime.fromisoformat(r["detected_at"]), r["id"]))
        return Listing(found[offset : offset + limit], len(found))

    async def _search_indexed(
        self, state: str, kind: str | None, field: str | None, limit: int, offset: int
    ) -> Listing | None:
        if field is None:
            page = await self.store.mismatch_page(state, kind, offset, limit)
            if page is None:
                return None
            total, records = page
            return Listing([r for r in records if r.get("state") == state], total)
        ids = await self.store.mismatch_ids_by_time(state, kind)
        if ids is None:
            return None
        keys = [i.rpartition("|")[0] for i in ids]
        codes = await self._field_codes(sorted(set(keys)))
        kept = [i for i, key in zip(ids, keys, strict=True) if codes.get(key) == field]
        wanted = kept[offset : offset + limit]
        found = await self.store.mismatch_records(wanted)
        items = [found[i] for i in wanted if found.get(i, {}).get("state") == state]
        return Listing(items, len(kept))

    async def _scan(self, kind: str | None) -> Records:
        match = f"*|{kind}" if kind and not any(c in kind for c in "*?[]\\") else None
        return [
            json.loads(blob)
            async for _, blob in self.store.redis.hscan_iter(
                self.store.key("mismatch"), match=match, count=1000
            )
        ]

    async def _field_codes(self, keys: Sequence[str]) -> dict[str, str]:
        if not keys:
            return {}
        blobs = await self.store.redis.hmget(self.store.key("corrected"), list(keys))
        out: dict[str, str] = {}
        for key, blob in zip(keys, blobs, strict=True):
            if blob:
                out[key] = str(orjson.loads(blob).get("fc", ""))
        return out

    async def get(self, mismatch_id: str) -> Record:
        """The mismatch `mismatch_id` (either form), its id as shown."""
        key = stored_id(mismatch_id)
        found = (await self.store.mismatch_records([key])).get(key)
        if found is None or "state" not in found:
            raise QueueError("queue.unknown", id=mismatch_id)
        return public(found)

    # --- operators' transitions ----------------------------------------------------------

    async def claim(self, mismatch_id: str, who: str) -> Record:
        return await self._run("claim", mismatch_id, _required(who, "queue.no_who"))

    async def resolve(
        self, mismatch_id: str, who: str, action: str, reason: str, value: str | None = None
    ) -> Record:
        """Resolve an open or claimed mismatch: accept_city, accept_national, manual (with
        `value` "FIELD=V") or ignore, always with a reason."""
        who = _required(who, "queue.no_who")
        manual = check_resolution(action, reason, value)
        reason = reason.strip()
        overrides: dict[str, str] = dict([manual]) if manual else {}
        if action in ("accept_city", "accept_national"):
            overrides = await self._side_values(mismatch_id, Source(action.removeprefix("accept_")))
        shown = ", ".join(f"{f}={v}" for f, v in overrides.items())
        pairs = [part for item in overrides.items() for part in item]
        return await self._run("resolve", mismatch_id, who, reason, action, shown, *pairs)

    async def _side_values(self, mismatch_id: str, side: Source) -> dict[str, str]:
        """What accepting `side` writes: its values of the fields the mismatch is about, from
        its stored record (the mismatch shows dates as days), else from the mismatch."""
        record = await self.get(mismatch_id)
        fields = fields_of(record["kind"])
        if not fields:
            return {}
        code = record.get(f"{side.value}_code") or record["key"]
        stored = (await self.store.load(side, [code])).get(code)
        if stored is not None:
            return {f: override_text(stored, f) for f in fields}
        shown = record.get(side.value)
        if shown is None or any(f in _DATES for f in fields):
            raise QueueError("queue.no_side_record", id=mismatch_id, side=side.value)
        return {f: shown for f in fields}

    async def set_migrated(self, key: str, who: str, migrated: bool, reason: str) -> Record:
        """An operator's verdict on whether dossier `key` was carried over from the old system,
        overriding the engine's (audited, with a reason): the dossier's `migrated` mismatch is
        resolved with it (created if need be) and the dossier reconciled again. Reopening that
        mismatch gives the engine its say back."""
        who = _required(who, "queue.no_who")
        reason = _required(reason, "queue.no_reason")
        if not await self.store.load_corrected([key]):
            raise QueueError("queue.no_dossier", key=key)
        city, national = await self._pair(key)
        city_value, national_value = migrated_values(city, national)
        args = [
            key,
            who,
            self.clock().isoformat(),
            reason,
            "true" if migrated else "false",
            city_value or "",
            national_value or "",
            SEVERITY[MismatchKind.MIGRATED].value,
        ]
        record: Record = json.loads(_text(await self._verdict(keys=self._keys(), args=args)))
        return public(record)

    def _keys(self) -> Sequence[str]:
        """The keys the operators' scripts touch (`_ACT`, `_VERDICT`)."""
        store = self.store
        return [
            store.key("mismatch"),
            store.key("mismatch", "open"),
            store.key("audit"),
            store.key("override"),
            store.key("dirty"),
            store.key("work"),
        ]

    async def _pair(self, key: str) -> tuple[Dossier | None, Dossier | None]:
        """The city and national records reconciliation paired for `key`."""
        raw = await self.store.redis.hget(self.store.key("match"), key)
        pair = json.loads(raw) if raw else {}
        city_code, national_code = pair.get("city") or key, pair.get("national") or key
        city = (await self.store.load(Source.CITY, [city_code])).get(city_code)
        national = (await self.store.load(Source.NATIONAL, [national_code])).get(national_code)
        return city, national

    async def reopen(self, mismatch_id: str, who: str, reason: str) -> Record:
        return await self._run(
            "reopen",
            mismatch_id,
            _required(who, "queue.no_who"),
            _required(reason, "queue.no_reason"),
        )

    async def _run(
        self, op: str, mismatch_id: str, who: str, reason: str = "", *rest: str
    ) -> Record:
        args = [op, stored_id(mismatch_id), who, self.clock().isoformat(), reason, *rest]
        reply = [_text(part) for part in await self._act(keys=self._keys(), args=args)]
        if reply[0] == "unknown":
            raise QueueError("queue.unknown", id=mismatch_id)
        if reply[0] == "state":
            state, holder = reply[1], reply[2]
            if op == "claim" and holder:
                raise QueueError("queue.already_claimed", id=mismatch_id, who=holder)
            raise QueueError(
                "queue.bad_transition",
                id=mismatch_id,
                state=t(f"state.{state}"),
                op=t(f"op.{op}"),
            )
        record: Record = json.loads(reply[1])
        return public(record)

    # --- audit ---------------------------------------------------------------------------

    async def audit(self, limit: int = 100, since: datetime | str | None = None) -> Records:
        """Audit entries, oldest first: the last `limit`, or the first `limit` from `since` (a
        time, or a stream entry id). Each: entry (stream id), at, who, action, id (of the
        mismatch), before and after ({state, resolution, claimed_by}, before None on
        detection)."""
        stream = self.store.key("audit")
        if since is None:
            newest: Any = await self.store.redis.xrevrange(stream, count=limit)
            entries: Any = list(reversed(newest))
        else:
            start = _stream_id(since)
            entries = await self.store.redis.xrange(stream, min=start, count=limit)
        out: Records = []
        for entry_id, raw in entries:
            fields = {_text(k): _text(v) for k, v in raw.items()}
            out.append(
                {
                    "entry": _text(entry_id),
                    "at": fields.get("at", ""),
                    "who": fields.get("who", ""),
                    "action": fields.get("action", ""),
                    "id": public_id(fields.get("id", "")),
                    "before": json.loads(fields.get("before", "null")),
                    "after": json.loads(fields.get("after", "null")),
                }
            )
        return out


async def record_action(
    store: Store,
    at: datetime,
    who: str,
    action: str,
    subject: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    """Append an action that is not a mismatch transition (publishing a report, managing
    users, a resync) to the audit stream, in the shape of the queue's entries."""
    await store.redis.xadd(
        store.key("audit"),
        {
            "at": at.isoformat(),
            "who": who,
            "action": action,
            "id": subject,
            "before": json.dumps(before, ensure_ascii=False, sort_keys=True),
            "after": json.dumps(after, ensure_ascii=False, sort_keys=True),
        },
    )


def _stream_id(since: datetime | str) -> str:
    if isinstance(since, str):
        head, dash, tail = since.partition("-")
        if head.isdigit() and (not dash or tail.isdigit()):
            return since
        try:
            since = datetime.fromisoformat(since)
        except ValueError:
            raise QueueError("queue.bad_since", value=since) from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=VN_TZ)
    return f"{max(0, int(since.timestamp() * 1000))}-0"  # before 1970: from the first entry
