"""Operations routes: health, readiness, metrics, the sync loop's status, resync, quarantine.

    GET  /healthz              public   200 {"status": "ok"}: the process answers (no I/O)
    GET  /readyz               public   200 when Redis answers PING within a second and no
                                        poller is stalled, else 503 (body below)
    GET  /metrics              public   Prometheus text format (names: syncd.metrics)
    GET  /api/v1/sync/status   viewer   each portal's last success and error, lag, cursor,
                                        circuit breaker state, quarantined records, last resync
    POST /api/v1/sync/resync   admin    {"portal": "city"|"national", "since": "YYYY-MM-DD"|null}
                                        -> 202 {"started": true}; 409 while one runs for that
                                        portal, 503 when this server has no syncer
    GET  /api/v1/quarantine    viewer   ?limit (1-500, default 50), ?portal -> {"items": [...],
                                        "counts": {portal: n}}, newest first
    GET  /api/v1/deadletters   viewer   {"dead": [...], "retrying": [...]}: dossiers whose
                                        reconciliation failed (code, error, attempts, first_at,
                                        last_at; next_at for those to be retried)
    POST /api/v1/deadletters/retry  admin  {"codes": [...]} or {"all": true} -> 202
                                        {"queued": n}: reconcile those dead letters again now
    GET  /api/v1/writeback     viewer   ?state -> the write-back outbox: {"mode", "held",
                                        "counts", "entries"} (syncd.outbox)
    GET  /api/v1/writeback/log viewer   ?limit (1-1000) -> {"items"}: what left the outbox
    POST /api/v1/writeback/{key}/retry   operator  push it at the next drain -> 202
    POST /api/v1/writeback/{key}/cancel  operator  {"reason"}: out for good, audited -> 200
    POST /api/v1/writeback/release       admin     {"reason"}: let a held burst go, audited

Readiness body: {"ready", "redis", "redis_state", "pollers": {"city": {"stalled", "last_success_at",
"last_progress_at", "role", "holder"}, "national": {...}}}. Redis is "ok" (answered PING and the
reads within a second), "busy" (slower than that, having answered within the stalled limit below: a
long script, a big report; still ready) or "down" (not ready). A poller is judged by progress: it is
stalled when neither its last successful poll nor the last page it wrote (`{P}:heartbeat`, written
with every page by whichever process polls) is more recent than `http.stalled_after_intervals` x
`runtime.poll_interval_seconds`, so a long but healthy cycle is not stalled. A portal never polled
counts from when this application was made instead: a fresh install is ready while its first poll
runs. `role` is this process's part in polling that portal: "polling" (it holds the portal's lease),
"standby" (another process, `holder`, does), or "none" (nobody holds it now); a standby is ready.

A resync reads the portal again from the given day (Vietnam time; null: from the beginning) in a
background task of the application, leaving the stored cursor where it is, then reconciles what
is queued; its start and end are written to `{P}:status` ("<portal>:resync_started_at",
"resync_finished_at", "resync_error", "resync_error_kind") and to the audit stream (action
"resync", id "portal:<name>"). Tasks still running when the application stops are cancelled (a
page in hand is written whole or not at all).

`add_routes` also makes the application's `syncd.metrics.Metrics` and, when the application has
a syncer, makes it the syncer's observer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web

from connectors.base import Connector, Cursor, parse_reason
from reconcile.model import VN_TZ, Source
from syncd.i18n import language, wire_reason
from syncd.leases import lease_holders
from syncd.metrics import CONTENT_TYPE, Metrics
from syncd.outbox import STATES as OUTBOX_STATES
from syncd.outbox import epoch
from syncd.service import REDIS_ERRORS, Syncer, poll_duty
from syncd.web.app import (
    CONTEXT,
    BodyError,
    Context,
    allow,
    ctx,
    json_body,
    problem,
    public,
    user_of,
)
from syncd.web.data import InputError, parse_day, record_action

log = structlog.get_logger("syncd.web")

PING_TIMEOUT_SECONDS = 1.0
QUARANTINE_LIMIT = 500

METRICS = web.AppKey("syncd_metrics", Metrics)
STARTED = web.AppKey("syncd_started", datetime)
SEEN: web.AppKey[dict[str, datetime]] = web.AppKey("syncd_seen", dict)
RESYNCS: web.AppKey[dict[str, asyncio.Task[None]]] = web.AppKey("syncd_resyncs", dict)


def add_routes(app: web.Application) -> None:
    """Register this module's routes on `app` (its CONTEXT set), and its metrics."""
    c = app[CONTEXT]
    app[METRICS] = Metrics()
    app[STARTED] = c.clock()
    app[SEEN] = {}
    app[RESYNCS] = {}
    if c.syncer is not None:
        c.syncer.observer = app[METRICS]
    app.on_shutdown.append(_cancel_resyncs)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/v1/sync/status", status)
    app.router.add_post("/api/v1/sync/resync", resync)
    app.router.add_get("/api/v1/quarantine", quarantine)
    app.router.add_get("/api/v1/deadletters", deadletters)
    app.router.add_post("/api/v1/deadletters/retry", retry_deadletters)
    app.router.add_get("/api/v1/writeback", writeback)
    app.router.add_get("/api/v1/writeback/log", writeback_log)
    app.router.add_post("/api/v1/writeback/release", writeback_release)
    app.router.add_post("/api/v1/writeback/{key}/retry", writeback_retry)
    app.router.add_post("/api/v1/writeback/{key}/cancel", writeback_cancel)


# --- health ----------------------------------------------------------------------------------


@public
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def stalled_after(c: Context) -> timedelta:
    seconds = c.config.http.stalled_after_intervals * c.config.runtime.poll_interval_seconds
    return timedelta(seconds=seconds)


async def readiness(c: Context, started: datetime, seen: dict[str, datetime]) -> dict[str, Any]:
    """The body of /readyz (see the module docstring); `seen["redis"]`: when Redis last
    answered (a slow answer is "busy" only if it answered within the stalled limit)."""
    state = "down"
    status: dict[str, str] = {}
    beats: dict[str, str] = {}
    holders: dict[str, str | None] = {}
    try:
        async with asyncio.timeout(PING_TIMEOUT_SECONDS):
            await c.store.redis.ping()
            state = "ok"
            seen["redis"] = c.clock()
            status = await c.store.status()
            beats = await c.store.heartbeats()
            holders = await lease_holders(c.store, (poll_duty(s) for s in Source))
    except TimeoutError:
        recently = "redis" in seen and c.clock() - seen["redis"] <= stalled_after(c)
        state = "ok" if state == "ok" else "busy" if recently else "down"
    except REDIS_ERRORS:
        pass
    me = c.syncer.consumer if c.syncer is not None else None
    now, limit = c.clock(), stalled_after(c)
    pollers = {}
    for source in Source:
        last = status.get(f"{source.value}:last_success_at")
        progress = beats.get(poll_duty(source))
        moments = [datetime.fromisoformat(t) for t in (last, progress) if t] or [started]
        holder = holders.get(poll_duty(source))
        role = "none" if holder is None else "polling" if holder == me else "standby"
        pollers[source.value] = {
            "stalled": now - max(moments) > limit,
            "last_success_at": last,
            "last_progress_at": progress,
            "role": role,
            "holder": holder,
        }
    ready = state != "down" and not any(p["stalled"] for p in pollers.values())
    return {"ready": ready, "redis": state != "down", "redis_state": state, "pollers": pollers}


@public
async def readyz(request: web.Request) -> web.Response:
    body = await readiness(ctx(request), request.app[STARTED], request.app[SEEN])
    return web.json_response(body, status=200 if body["ready"] else 503)


@public
async def metrics(request: web.Request) -> web.Response:
    c = ctx(request)
    collected = request.app[METRICS]
    await collected.refresh(c.store, c.clock())
    return web.Response(body=collected.exposition(), headers={"Content-Type": CONTENT_TYPE})


# --- the sync loop's status ------------------------------------------------------------------


async def sync_status(c: Context) -> dict[str, Any]:
    """Each portal's facts (for the JSON API and the pages): {"portals": {"city": {...},
    "national": {...}}}, each with last_success_at, last_error, last_error_kind (why, in a
    word: connectors.base.FAILURES), last_error_at (ISO 8601 or None; the last error stays
    after later successes, compare the times), recent_errors (the last 20 failures, newest
    first: {at, error, kind}), lag_seconds (since
    the last success, None if never), cursor ({updated_at, code} or None), circuit (closed,
    open, half_open, or unknown before the first poll), quarantined (records in the
    quarantine), resync ({started_at, finished_at, error, error_kind}: the last one),
    complete (whether its last poll read its whole feed: absence on it is judged),
    last_complete_at, waiting (dossiers whose absence on it waits for a complete read),
    late_updates (records the re-reads found that polling missed), rereads ({name: last
    finished}), poller (the process holding its polling lease, None if none); and
    "dead_letters", "retrying" (counts)."""
    status = await c.store.status()
    cursors = await c.store.cursors()
    quarantined = await c.store.quarantine_counts()
    waiting = await c.store.waiting()
    retrying, dead = await c.store.failure_counts()
    holders = await lease_holders(c.store, (poll_duty(s) for s in Source))
    now = c.clock()
    portals: dict[str, Any] = {}
    for source in Source:
        s = source.value

        def fact(name: str, s: str = s) -> str | None:
            return status.get(f"{s}:{name}") or None

        last = fact("last_success_at")
        lag = (now - datetime.fromisoformat(last)).total_seconds() if last else None
        cursor = cursors.get(source)
        portals[s] = {
            "last_success_at": last,
            "last_error": fact("last_error"),
            "last_error_kind": fact("last_error_kind"),
            "last_error_at": fact("last_error_at"),
            "lag_seconds": round(max(lag, 0.0), 3) if lag is not None else None,
            "cursor": (
                {"updated_at": cursor.updated_at.isoformat(), "code": cursor.code}
                if cursor
                else None
            ),
            "recent_errors": await c.store.recent_errors(source),
            "circuit": fact("circuit") or "unknown",
            "quarantined": quarantined.get(s, 0),
            "resync": {
                "started_at": fact("resync_started_at"),
                "finished_at": fact("resync_finished_at"),
                "error": fact("resync_error"),
                "error_kind": fact("resync_error_kind"),
            },
            "complete": fact("complete") == "1",
            "last_complete_at": fact("last_complete_at"),
            "waiting": waiting.get(source, 0),
            "late_updates": int(fact("late_updates") or 0),
            "rereads": {name: fact(f"{name}:reread_at") for name in ("recent", "deep", "full")},
            "poller": holders.get(poll_duty(source)),
        }
    return {"portals": portals, "dead_letters": dead, "retrying": retrying}


@allow("viewer")
async def status(request: web.Request) -> web.Response:
    return web.json_response(await sync_status(ctx(request)))


# --- resync ----------------------------------------------------------------------------------


def parse_resync(body: Any, syncer: Syncer) -> tuple[Connector, Cursor | None]:
    """The connector and start of a resync request; ValueError with the reason if bad."""
    if not isinstance(body, dict):
        raise ValueError('expected a JSON object {"portal": ..., "since": ...}')
    unknown = sorted(set(body) - {"portal", "since"})
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    portal, since = body.get("portal"), body.get("since")
    connector = next((x for x in syncer.connectors if x.source.value == portal), None)
    if not isinstance(portal, str) or connector is None:
        names = ", ".join(x.source.value for x in syncer.connectors)
        raise ValueError(f"portal: one of {names}")
    if since is None:
        return connector, None
    try:
        if not isinstance(since, str):
            raise TypeError
        day = parse_day(since, "since")
    except (TypeError, InputError):
        raise ValueError("since: a day YYYY-MM-DD (1970-2100), or null for everything") from None
    return connector, Cursor(datetime(day.year, day.month, day.day, tzinfo=VN_TZ), "")


@allow("admin")
async def resync(request: web.Request) -> web.Response:
    c = ctx(request)
    try:
        body = await json_body(request)
    except BodyError as exc:
        return problem(400, "Bad Request", str(exc))
    if c.syncer is None:
        return problem(503, "Service Unavailable", "this server has no connection to the portals")
    try:
        connector, since = parse_resync(body, c.syncer)
    except ValueError as exc:
        return problem(400, "Bad Request", str(exc))
    portal = connector.source.value
    running = request.app[RESYNCS]
    if portal in running and not running[portal].done():
        return problem(409, "Conflict", f"a resync of {portal} is running")
    user = user_of(request)
    who = user.name if user else ""
    after = {"since": since.updated_at.isoformat() if since else None}
    await record_action(c, who, "resync", f"portal:{portal}", None, after)
    task = asyncio.create_task(_resync(c, connector, since, who), name=f"resync-{portal}")
    running[portal] = task
    return web.json_response({"started": True}, status=202)


async def _resync(c: Context, connector: Connector, since: Cursor | None, who: str) -> None:
    syncer: Syncer = c.syncer
    source = connector.source
    await c.store.record_status(
        source, resync_started_at=c.clock().isoformat(), resync_error="", resync_error_kind=""
    )
    log.info("resync_started", portal=source.value, since=since and since.encode(), by=who)
    error = kind = ""
    try:
        result = await syncer.poll(connector, since=since)
        error, kind = result.error or "", result.error_kind or ""
        reconciled = 0 if error else (await syncer.reconcile_pending())[0]
        log.info(
            "resync_done",
            portal=source.value,
            read=result.received,
            written=result.written,
            rejected=result.rejected,
            reconciled=reconciled,
            error=error or None,
        )
    except asyncio.CancelledError:
        error = "cancelled"
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        log.exception("resync_failed", portal=source.value)
    finally:
        with contextlib.suppress(*REDIS_ERRORS):
            await c.store.record_status(
                source,
                resync_finished_at=c.clock().isoformat(),
                resync_error=error,
                resync_error_kind=kind,
            )


async def _cancel_resyncs(app: web.Application) -> None:
    tasks = [t for t in app[RESYNCS].values() if not t.done()]
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


# --- dead letters ----------------------------------------------------------------------------


@allow("viewer")
async def deadletters(request: web.Request) -> web.Response:
    store = ctx(request).store
    return web.json_response(
        {"dead": await store.dead_letters(), "retrying": await store.retrying()}
    )


@allow("admin")
async def retry_deadletters(request: web.Request) -> web.Response:
    c = ctx(request)
    try:
        body = await json_body(request)
    except BodyError as exc:
        return problem(400, "Bad Request", str(exc))
    codes = body.get("codes") if isinstance(body, dict) else None
    every = body.get("all") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) - {"codes", "all"}:
        return problem(400, "Bad Request", 'expected {"codes": [...]} or {"all": true}')
    if every is True and codes is None:
        wanted = None
    elif (
        every is None
        and isinstance(codes, list)
        and codes
        and all(isinstance(x, str) and x for x in codes)
    ):
        known = {e["code"] for e in await c.store.dead_letters()}
        unknown = sorted(set(codes) - known)
        if unknown:
            return problem(404, "Not Found", f"not dead letters: {', '.join(unknown)}")
        wanted = codes
    else:
        return problem(400, "Bad Request", 'expected {"codes": [...]} or {"all": true}')
    queued = await c.store.retry_failed(wanted)
    user = user_of(request)
    after = {"codes": wanted, "queued": queued}
    await record_action(c, user.name if user else "", "retry", "deadletters", None, after)
    return web.json_response({"queued": queued}, status=202)


# --- write-back ------------------------------------------------------------------------------


def outbox_item(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An outbox entry as the API and the pages show it (times in ISO 8601, no record blob)."""
    names = ("key", "code", "codes", "action", "changes", "reasons", "state", "attempts")
    item = {name: entry.get(name) for name in names}
    item["attempts"] = int(entry.get("attempts") or 0)
    item["created_at"] = entry.get("created_at")
    item["last_at"] = entry.get("last_at")
    item["last_error"] = entry.get("last_error") or None
    item["last_error_kind"] = entry.get("last_error_kind") or None
    item["answer"] = entry.get("answer") or None
    due = entry.get("next_at")
    item["next_at"] = epoch(float(due)).isoformat() if due is not None else None
    return item


async def outbox_view(c: Context, state: str | None = None) -> dict[str, Any]:
    """What /api/v1/writeback answers (and the write-back page shows)."""
    held = (await c.store.status()).get("writeback:held")
    return {
        "mode": "push" if c.config.writeback.enabled else "dry_run",
        "held": json.loads(held) if held else None,
        "counts": await c.store.outbox.counts(),
        "entries": [outbox_item(e) for e in await c.store.outbox.entries(state)],
    }


@allow("viewer")
async def writeback(request: web.Request) -> web.Response:
    state = request.query.get("state")
    if state is not None and state not in OUTBOX_STATES:
        return problem(400, "Bad Request", f"state: one of {', '.join(OUTBOX_STATES)}")
    return web.json_response(await outbox_view(ctx(request), state))


@allow("viewer")
async def writeback_log(request: web.Request) -> web.Response:
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        limit = -1
    if not 1 <= limit <= 1000:
        return problem(400, "Bad Request", "limit: a whole number from 1 to 1000")
    return web.json_response({"items": await ctx(request).store.outbox.log(limit)})


async def _reason(request: web.Request) -> str | web.Response:
    try:
        body = await json_body(request)
    except BodyError as exc:
        return problem(400, "Bad Request", str(exc))
    if not isinstance(body, dict) or set(body) != {"reason"}:
        return problem(400, "Bad Request", 'expected {"reason": "..."}')
    reason = body["reason"]
    if not isinstance(reason, str) or not reason.strip():
        return problem(400, "Bad Request", "reason: a text that is not empty")
    return reason.strip()


@allow("operator")
async def writeback_retry(request: web.Request) -> web.Response:
    c = ctx(request)
    key = request.match_info["key"]
    if await c.store.outbox.entry(key) is None:
        return problem(404, "Not Found", f"{key} is not in the outbox")
    return web.json_response({"queued": await c.store.outbox.retry([key], c.clock())}, status=202)


@allow("operator")
async def writeback_cancel(request: web.Request) -> web.Response:
    c = ctx(request)
    key = request.match_info["key"]
    reason = await _reason(request)
    if isinstance(reason, web.Response):
        return reason
    entry = await c.store.outbox.entry(key)
    if entry is None:
        return problem(404, "Not Found", f"{key} is not in the outbox")
    user = user_of(request)
    await c.store.outbox.finish(
        entry, "cancelled", {}, reason, c.clock(), by=user.name if user else ""
    )
    await c.store.enqueue([key])  # its mismatch goes back to the operators
    return web.json_response({"cancelled": key})


@allow("admin")
async def writeback_release(request: web.Request) -> web.Response:
    c = ctx(request)
    reason = await _reason(request)
    if isinstance(reason, web.Response):
        return reason
    user = user_of(request)
    await c.store.release_writeback(user.name if user else "", reason, c.clock())
    return web.json_response({"released": True})


# --- quarantine ------------------------------------------------------------------------------


@allow("viewer")
async def quarantine(request: web.Request) -> web.Response:
    c = ctx(request)
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        limit = -1
    if not 1 <= limit <= QUARANTINE_LIMIT:
        return problem(400, "Bad Request", f"limit: a whole number from 1 to {QUARANTINE_LIMIT}")
    portal = request.query.get("portal")
    if portal is not None and portal not in {s.value for s in Source}:
        return problem(400, "Bad Request", "portal: city or national")
    entries = await c.store.quarantined(limit, Source(portal) if portal else None)
    items = [_quarantine_item(e) for e in entries]
    counts = await c.store.quarantine_counts()
    return web.json_response(
        {"items": items, "counts": {s.value: counts.get(s.value, 0) for s in Source}}
    )


def _quarantine_item(entry: dict[str, str]) -> dict[str, Any]:
    """An entry with its raw record parsed; `at` is when the record was last seen malformed."""
    try:
        raw: Any = json.loads(entry.get("raw") or "null")
    except ValueError:
        raw = entry.get("raw")
    return {
        "id": entry["id"],
        "at": _local(entry["last_at"]),
        "first_at": _local(entry["first_at"]),
        "seen": int(entry["count"]),
        "attempts": int(entry["attempts"]),
        "next_retry_at": _local(entry["next_retry"]) if entry["next_retry"] else None,
        "portal": entry.get("source", ""),
        "code": entry.get("code") or None,
        "reason": entry.get("reason", ""),
        "reason_code": parsed[0] if (parsed := parse_reason(entry.get("reason", ""))) else None,
        "reason_text": wire_reason(entry.get("reason", ""), language()),
        "updated_at": entry.get("updated_at") or None,
        "raw": raw,
    }


def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(VN_TZ).isoformat()
