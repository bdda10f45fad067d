"""The read side of the operator interface, shared by the JSON API and the pages.

Everything here reads the store through `Context` and returns plain JSON-able values; nothing
here holds personal data (the dossier model has none: connectors drop it at the edge, and the
salted `identity` hash is left out too).

Bad input raises `QueueError` (filters of the mismatch queue, with their i18n message keys) or
`InputError` (anything else); callers turn both into a 400.

The audit trail is the store's audit stream: the mismatch queue's transitions (syncd's and
operators'), and other operators' actions appended by `record_action` in the same shape
(publishing a report: id "report:<period>"; users: "user:<name>"; resyncs: "portal:<name>").
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import redis.exceptions

from connectors.fields import CODE_FORMATS
from reconcile.compare import MismatchKind
from reconcile.model import VN_TZ, Dossier
from syncd import queue as queue_module
from syncd.cells import CsvWriter
from syncd.i18n import t
from syncd.queue import (
    STORED_SEPARATOR,
    QueueError,
    _stream_id,
    fields_of,
    public,
    public_id,
    stored_id,
)
from syncd.report_cli import LISTED_FLAGS, overdue_records
from syncd.store import OVERRIDE_FIELDS
from syncd.web.app import Context

# The dossier fields shown side by side on a mismatch, in this order.
SIDE_FIELDS = (
    "status",
    "received_at",
    "due_at",
    "finished_at",
    "returned_at",
    "channel",
    "procedure_code",
    "field_code",
    "digitised",
    "apology_at",
    "alt_codes",
)
KINDS = tuple(k.value for k in MismatchKind)
AUDIT_CHUNK = 1000  # entries read at a time for an unfiltered page
AUDIT_SCAN_CHUNK = 2000  # ... and when filtering (in Redis, a script per chunk)
EVERYTHING = 10**12  # "no limit" for MismatchQueue.search

Record = dict[str, Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=VN_TZ)


class InputError(ValueError):
    """Bad input other than a queue filter; the text says what is wrong."""


# --------------------------------------------------------------------------------------------
# Values as text and JSON


def local_iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(VN_TZ).isoformat()


def local_day(text: str | None) -> date | None:
    """The Asia/Ho_Chi_Minh day of an ISO 8601 time (None if it is missing or unreadable)."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=VN_TZ)
    return when.astimezone(VN_TZ).date()


def field_text(d: Dossier | None, field: str) -> str | None:
    """One field of a dossier as text: times in local ISO 8601, status and channel as their
    numbers, digitised as true/false, alternate codes comma-separated; None when absent."""
    if d is None:
        return None
    if field == "alt_codes":
        return ",".join(d.alt_codes) or None
    value = getattr(d, field)
    if value is None:
        return None
    if isinstance(value, datetime):
        return local_iso(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    return str(value) or None


def dossier_json(d: Dossier) -> Record:
    """A dossier as JSON with readable names (times local ISO 8601; no `identity`)."""
    return {
        "source": d.source.value,
        "code": d.code,
        "procedure_code": d.procedure_code,
        "field_code": d.field_code,
        "channel": int(d.channel),
        "status": int(d.status),
        "native_status": d.native_status or None,
        "received_at": local_iso(d.received_at),
        "updated_at": local_iso(d.updated_at),
        "due_at": local_iso(d.due_at),
        "finished_at": local_iso(d.finished_at),
        "returned_at": local_iso(d.returned_at),
        "apology_at": local_iso(d.apology_at),
        "alt_codes": list(d.alt_codes),
        "pauses": [
            {
                "kind": p.kind.value,
                "requested_at": local_iso(p.requested_at),
                "resumed_at": local_iso(p.resumed_at),
                "due_before": local_iso(p.due_before),
            }
            for p in d.pauses
        ],
        "digitised": d.digitised,
    }


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --------------------------------------------------------------------------------------------
# Mismatches


def check_kind(kind: str | None) -> None:
    if kind is not None and kind not in KINDS:
        raise QueueError("queue.bad_kind", kind=kind, kinds=", ".join(KINDS))


async def list_mismatches(
    c: Context,
    *,
    kind: str | None = None,
    state: str | None = None,
    field: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Mismatches by kind, state, field code and the local day of detection (`since` and
    `until` inclusive), oldest detection first: {items, total, limit, offset}."""
    check_kind(kind)
    if limit < 0 or offset < 0:
        raise QueueError("queue.bad_page")
    if since is None and until is None:
        found = await c.queue.search(kind, state, field, limit, offset)
        return {"items": found.items, "total": found.total, "limit": limit, "offset": offset}
    everything = await c.queue.search(kind, state, field, EVERYTHING, 0)
    kept = [r for r in everything.items if _detected_within(r, since, until)]
    return {
        "items": kept[offset : offset + limit],
        "total": len(kept),
        "limit": limit,
        "offset": offset,
    }


def _detected_within(record: Mapping[str, Any], since: date | None, until: date | None) -> bool:
    day = local_day(record.get("detected_at"))
    if day is None:
        return False
    return (since is None or day >= since) and (until is None or day <= until)


async def mismatch_detail(c: Context, mismatch_id: str) -> dict[str, Any] | None:
    """A mismatch with both sides field by field and the corrected record's value (`sides`),
    and the fields of the corrected record its kind is about (`fields`); None if unknown."""
    stored = stored_id(mismatch_id)
    record = (await c.store.mismatch_records([stored])).get(stored)
    if record is None or "state" not in record:
        return None
    record = public(record)
    key = record["key"]
    city_code = record.get("city_code") or key
    national_code = record.get("national_code") or key
    city, national = await c.store.load_both(sorted({city_code, national_code}))
    corrected = (await c.store.load_corrected([key])).get(key)
    return {
        **record,
        "fields": list(fields_of(record["kind"])),
        "sides": side_rows(city.get(city_code), national.get(national_code), corrected),
    }


def side_rows(
    city: Dossier | None, national: Dossier | None, corrected: Dossier | None
) -> list[Record]:
    rows = []
    for name in SIDE_FIELDS:
        left, right = field_text(city, name), field_text(national, name)
        rows.append(
            {
                "field": name,
                "city": left,
                "national": right,
                "corrected": field_text(corrected, name),
                "differs": left != right,
            }
        )
    return rows


# --------------------------------------------------------------------------------------------
# Dossiers


async def dossier_detail(c: Context, key: str) -> dict[str, Any] | None:
    """Everything known about one dossier: the records of both portals under its code and its
    alternate codes, the corrected record, why it is excluded, its deadline flags, its
    mismatches and their audit history (oldest first); None when nothing is known."""
    store = c.store
    async with store.redis.pipeline(transaction=False) as pipe:
        pipe.hget(store.key("alt", "city"), key)
        pipe.hget(store.key("alt", "national"), key)
        pipe.hget(store.key("match"), key)
        pipe.hget(store.key("flags"), key)
        pipe.hget(store.key("excluded"), key)
        city_alt, national_alt, matched, flags, excluded = await pipe.execute()
    corrected = (await store.load_corrected([key])).get(key)
    pair = json.loads(matched) if matched else None
    codes = {key}
    codes |= {code for x in (city_alt, national_alt) if x for code in _text(x).split(",")}
    if pair:
        codes |= {v for v in (pair.get("city"), pair.get("national")) if v}
    if corrected is not None:
        codes |= set(corrected.alt_codes)
    city, national = await store.load_both(sorted(codes))
    more = {a for d in (*city.values(), *national.values()) for a in d.alt_codes} - codes
    if more:
        extra_city, extra_national = await store.load_both(sorted(more))
        city |= extra_city
        national |= extra_national
    ids = [f"{key}|{kind}" for kind in KINDS]
    mismatches = [public(r) for r in (await store.mismatch_records(ids)).values() if "state" in r]
    mismatches.sort(key=lambda r: (_time(r.get("detected_at")) or _EPOCH, r["id"]))
    if not (city or national or corrected or mismatches or excluded or flags):
        return None
    history = await _history(c, mismatches)
    overrides = (await store.overrides([key])).get(key, {})
    return {
        "key": key,
        "city": [dossier_json(d) for _, d in sorted(city.items())],
        "national": [dossier_json(d) for _, d in sorted(national.items())],
        "corrected": dossier_json(corrected) if corrected is not None else None,
        "excluded": _text(excluded) if excluded else None,
        "match": pair,
        "flags": json.loads(flags) if flags else None,
        "overrides": overrides,
        "mismatches": mismatches,
        "history": history,
    }


async def _history(c: Context, mismatches: Sequence[Mapping[str, Any]]) -> list[Record]:
    """The audit entries of these mismatches, oldest first, read through the per-dossier index
    of entry ids (`{P}:audit:key:<key>`). A dossier whose entries predate the index has none
    there: its history is then found by scanning the stream."""
    ids = {str(r["id"]) for r in mismatches}
    if not ids:
        return []
    stream = c.store.key("audit")
    keys = sorted({key for i in ids if (key := key_of(i))})
    async with c.store.redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.lrange(f"{stream}:key:{key}", 0, -1)
        found = {_text(e) for ids_of_key in await pipe.execute() for e in ids_of_key}
    indexed = sorted(found, key=lambda e: tuple(int(part) for part in e.split("-")))
    if not indexed:
        return await _audit_scan(c, ids={stored_id(i) for i in ids})
    async with c.store.redis.pipeline(transaction=False) as pipe:
        for entry_id in indexed:
            pipe.xrange(stream, entry_id, entry_id, count=1)
        replies = await pipe.execute()
    entries = [_entry(eid, raw) for reply in replies for eid, raw in reply]
    return [e for e in entries if e["id"] in ids]


def _time(text: Any) -> datetime | None:
    try:
        when = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    return when if when is None or when.tzinfo else when.replace(tzinfo=VN_TZ)


# --------------------------------------------------------------------------------------------
# Audit


def _entry(entry_id: Any, raw: Mapping[Any, Any]) -> Record:
    fields = {_text(k): _text(v) for k, v in raw.items()}
    return {
        "entry": _text(entry_id),
        "at": fields.get("at", ""),
        "who": fields.get("who", ""),
        "action": fields.get("action", ""),
        "id": public_id(fields.get("id", "")),
        "key": key_of(fields.get("id", "")),
        "before": json.loads(fields.get("before", "null")),
        "after": json.loads(fields.get("after", "null")),
    }


def key_of(subject: str) -> str | None:
    """The dossier key of an audit entry's subject (a mismatch id, either form), else None."""
    key, sep, _ = stored_id(subject).rpartition(STORED_SEPARATOR)
    return key if sep else None


# One chunk of the audit stream, filtered in Redis: only the entries kept cross the network.
_SCAN = """
-- KEYS: the audit stream
-- ARGV: from (an entry id, '(' first for exclusive, '+' for the newest), count, '1' to read
--       newest first, who ('' = anyone), dossier key ('' = any), then mismatch ids (none = any)
local entries
if ARGV[3] == '1' then
  entries = redis.call('XREVRANGE', KEYS[1], ARGV[1], '-', 'COUNT', ARGV[2])
else
  entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
end
local who, key = ARGV[4], ARGV[5]
local ids = nil
if #ARGV > 5 then
  ids = {}
  for i = 6, #ARGV do ids[ARGV[i]] = true end
end
local prefix = key .. '|'
local kept = {}
for _, e in ipairs(entries) do
  local raw, id, by = e[2], '', ''
  for i = 1, #raw, 2 do
    if raw[i] == 'id' then id = raw[i + 1] elseif raw[i] == 'who' then by = raw[i + 1] end
  end
  local ok = (who == '' or by == who) and (ids == nil or ids[id] ~= nil)
  if ok and key ~= '' then
    ok = string.sub(id, 1, #prefix) == prefix and not string.find(id, '|', #prefix + 1, true)
  end
  if ok then kept[#kept + 1] = e end
end
local last = ''
if #entries > 0 then last = entries[#entries][1] end
return {#entries, last, kept}
"""


async def _audit_scan(
    c: Context,
    *,
    who: str | None = None,
    key: str | None = None,
    ids: Iterable[str] | None = None,
    limit: int | None = None,
    since: str | None = None,
) -> list[Record]:
    """Audit entries by `who`, about dossier `key` and of mismatch `ids` (None: any), oldest
    first: the last `limit` of them, or (with `since`, an ISO 8601 time or an entry id) the
    first `limit` from `since` on. The stream is read in chunks (newest first without
    `since`), each filtered by a script in Redis."""
    wanted = None if ids is None else sorted(set(ids))
    if wanted == [] or limit == 0:
        return []
    filtered = bool(who or key or wanted is not None)
    size = AUDIT_SCAN_CHUNK if filtered or limit is None else min(limit, AUDIT_CHUNK)
    script = c.store.redis.register_script(_SCAN)
    newest_first = since is None
    found: list[Record] = []
    try:
        start = "+" if since is None else _stream_id(since)
        while limit is None or len(found) < limit:
            args: list[str | int] = [
                start,
                size,
                "1" if newest_first else "0",
                who or "",
                key or "",
            ]
            reply = await script(keys=[c.store.key("audit")], args=[*args, *(wanted or [])])
            scanned, last, kept = reply
            found += [_entry(entry_id, _pairs(raw)) for entry_id, raw in kept]
            if int(scanned) < size:
                break
            start = "(" + _text(last)
    except (redis.exceptions.ResponseError, OverflowError) as exc:
        raise InputError(t("queue.bad_since", value=since)) from exc
    found = found[:limit] if limit is not None else found
    if newest_first:
        found.reverse()
    return found


def _pairs(flat: Sequence[Any]) -> dict[Any, Any]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


async def audit_log(
    c: Context,
    *,
    limit: int = 100,
    since: str | None = None,
    who: str | None = None,
    key: str | None = None,
) -> list[dict[str, Any]]:
    """Audit entries, oldest first: the last `limit` (or the first `limit` from `since`, an ISO
    8601 time or an entry id), only those by `who` and about dossier `key` if given. Each:
    entry, at, who, action, id (a mismatch id, or "report:<period>", "user:<name>"), key (the
    dossier's, or None), before, after."""
    if limit < 0:
        raise QueueError("queue.bad_page")
    return await _audit_scan(c, who=who, key=key, limit=limit, since=since)


async def record_action(
    c: Context,
    who: str,
    action: str,
    subject: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> None:
    """Append an operator action that is not a mismatch transition (publishing a report,
    managing users) to the audit stream, in the same shape as the queue's entries."""
    await queue_module.record_action(c.store, c.clock(), who, action, subject, before, after)


AUDIT_COLUMNS = (
    "at",
    "who",
    "action",
    "mismatch_id",
    "dossier_key",
    "state_before",
    "state_after",
    "resolution_after",
    "reason",
    "before",
    "after",
)


def _state(side: Any) -> str:
    return str(side.get("state") or "") if isinstance(side, Mapping) else ""


def audit_csv(entries: Iterable[Mapping[str, Any]]) -> str:
    """Audit entries as CSV: one row each, the whole before and after as JSON at the end."""
    out = io.StringIO()
    writer = CsvWriter(out)
    writer.writerow(AUDIT_COLUMNS)
    for e in entries:
        after = e.get("after")
        resolution = after.get("resolution") if isinstance(after, Mapping) else None
        shown, reason = "", ""
        if isinstance(resolution, Mapping):
            shown = str(resolution.get("action") or "")
            if resolution.get("value"):
                shown += f" ({resolution['value']})"
            reason = str(resolution.get("reason") or "")
        writer.writerow(
            [
                e.get("at", ""),
                str(e.get("who", "")),
                e.get("action", ""),
                str(e.get("id", "")),
                key_of(str(e.get("id", ""))) or "",
                _state(e.get("before")),
                _state(after),
                shown,
                reason,
                json.dumps(e.get("before"), ensure_ascii=False, sort_keys=True),
                json.dumps(after, ensure_ascii=False, sort_keys=True),
            ]
        )
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Deadlines


async def overdue_list(
    c: Context, as_of: date, field: str | None = None, flag: str | None = None
) -> dict[str, Any]:
    """Dossiers with a deadline flag at the end of `as_of` (`flag`: one of them, or all),
    computed from the corrected records (syncd.report_cli.overdue_flags)."""
    if flag is not None and flag not in LISTED_FLAGS:
        raise InputError(f"flag {flag!r}: one of {', '.join(LISTED_FLAGS)}")
    return {
        "as_of": as_of.isoformat(),
        "field": field or None,
        "flag": flag or "all",
        "dossiers": await overdue_records(c.store, c.config, as_of, field or None, flag or "all"),
    }


async def latest_month(c: Context) -> date | None:
    """The first day of the latest calendar month the period index has dossiers in (their
    receipts and finishes), or None when it has none."""
    months: set[str] = set()
    pattern = c.store.key("pidx", "m", "*")
    async for name in c.store.redis.scan_iter(match=pattern, count=1000):
        month = _text(name).rpartition(":")[2]
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}", month):
            months.add(month)
    return date.fromisoformat(f"{max(months)}-01") if months else None


FIRST_YEAR, LAST_YEAR = 1970, 2100

# The grammar of the API's days, times and periods: the server enforces it and the OpenAPI
# document states it (syncd.web.openapi), from these same patterns. Days are real calendar days
# of the years FIRST_YEAR-LAST_YEAR (29 February in leap years only).
YEAR = r"(19[7-9][0-9]|20[0-9]{2}|2100)"
_MONTH_DAY = (
    r"((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
)
_LEAP_DAY = r"(19(7[26]|8[048]|9[26])|20([02468][048]|[13579][26]))-02-29"
DAY = rf"({YEAR}-{_MONTH_DAY}|{_LEAP_DAY})"
_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
OFFSET = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
TIME = rf"{DAY}[T ]{_CLOCK}"  # local (Vietnam) time unless an OFFSET follows
ENTRY_ID = r"[0-9]{1,13}(-[0-9]{1,19})?"  # an audit stream entry id: milliseconds-sequence
SINCE = rf"({ENTRY_ID}|{DAY}|{TIME}{OFFSET}?)"  # where an audit listing starts
PERIOD = rf"{YEAR}-(0[1-9]|1[0-2])"


# What a manual resolution's value may be, "FIELD=VALUE": a status 1-10, a channel 1-3, a time
# with its offset, or a code in the format the portals' codes have (connectors.fields).
_DATE_FIELDS = "|".join(f for f in OVERRIDE_FIELDS if f.endswith("_at"))
MANUAL_VALUE = (
    rf"(status=(10|[1-9])|channel=[1-3]|({_DATE_FIELDS})={TIME}{OFFSET}"
    rf"|procedure_code={CODE_FORMATS['procedure'][0].pattern}"
    rf"|field_code={CODE_FORMATS['field'][0].pattern})"
)


def manual_value(text: str) -> str:
    """A manual resolution's value as the API takes it (MANUAL_VALUE); InputError otherwise."""
    if re.fullmatch(MANUAL_VALUE, text) is None:
        fields = ", ".join(OVERRIDE_FIELDS)
        raise InputError(t("queue.value_form", value=text, fields=fields))
    return text


def whole_pattern(pattern: str) -> str:
    """`pattern` anchored, as the OpenAPI document states it."""
    return f"^{pattern}$"


def audit_since(text: str) -> str:
    """An audit listing's start as given: an entry id, a day or a time (SINCE); InputError
    otherwise."""
    if re.fullmatch(SINCE, text) is None:
        raise InputError(t("queue.bad_since", value=text))
    return text


def parse_day(text: str, name: str = "date") -> date:
    """A day given as YYYY-MM-DD (years 1970-2100), or InputError."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        day = date.fromisoformat(text)
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValueError(text)
    except ValueError:
        raise InputError(f"{name}: " + t("overdue.bad_date", value=text)) from None
    return day


__all__: Sequence[str] = (
    "InputError",
    "audit_csv",
    "audit_log",
    "dossier_detail",
    "list_mismatches",
    "mismatch_detail",
    "overdue_list",
    "record_action",
)
