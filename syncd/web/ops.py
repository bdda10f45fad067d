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

Readiness body: {"ready", "redis", "pollers": {"city": {"stalled", "last_success_at"},
"national": {...}}}. A poller is stalled when its last success (`{P}:status`, written by whichever
process runs the sync loop) is older than `http.stalled_after_intervals` x
`runtime.poll_interval_seconds`. A portal never polled successfully counts from when this
application was made instead: it is not stalled before that much time has passed, so a fresh
install is ready while its first poll runs. When Redis cannot be read, the last successes are
unknown and the same rule applies (the answer is 503 anyway).

A resync reads the portal again from the given day (Vietnam time; null: from the beginning) in a
background task of the application, leaving the stored cursor where it is, then reconciles what
is queued; its start and end are written to `{P}:status` ("<portal>:resync_started_at",
"resync_finished_at", "resync_error") and to the audit stream (action "resync", id
"portal:<name>"). Tasks still running when the application stops are cancelled (a page in hand
is written whole or not at all).

`add_routes` also makes the application's `syncd.metrics.Metrics` and, when the application has
a syncer, makes it the syncer's observer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web

from connectors.base import Connector, Cursor, parse_reason
from reconcile.model import VN_TZ, Source
from syncd.i18n import language, wire_reason
from syncd.metrics import CONTENT_TYPE, Metrics
from syncd.service import REDIS_ERRORS, Syncer
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
RESYNCS: web.AppKey[dict[str, asyncio.Task[None]]] = web.AppKey("syncd_resyncs", dict)


def add_routes(app: web.Application) -> None:
    """Register this module's routes on `app` (its CONTEXT set), and its metrics."""
    c = app[CONTEXT]
    app[METRICS] = Metrics()
    app[STARTED] = c.clock()
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


# --- health ----------------------------------------------------------------------------------


@public
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def stalled_after(c: Context) -> timedelta:
    seconds = c.config.http.stalled_after_intervals * c.config.runtime.poll_interval_seconds
    return timedelta(seconds=seconds)


async def readiness(c: Context, started: datetime) -> dict[str, Any]:
    """The body of /readyz (see the module docstring)."""
    redis_ok = False
    status: dict[str, str] = {}
    try:
        async with asyncio.timeout(PING_TIMEOUT_SECONDS):
            await c.store.redis.ping()
            redis_ok = True
            status = await c.store.status()
    except (TimeoutError, *REDIS_ERRORS):
        pass
    now, limit = c.clock(), stalled_after(c)
    pollers = {}
    for source in Source:
        last = status.get(f"{source.value}:last_success_at")
        since = datetime.fromisoformat(last) if last else started
        pollers[source.value] = {"stalled": now - since > limit, "last_success_at": last}
    ready = redis_ok and not any(p["stalled"] for p in pollers.values())
    return {"ready": ready, "redis": redis_ok, "pollers": pollers}


@public
async def readyz(request: web.Request) -> web.Response:
    body = await readiness(ctx(request), request.app[STARTED])
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
    "national": {...}}}, each with last_success_at, last_error, last_error_at (ISO 8601 or
    None; the last error stays after later successes, compare the times), recent_errors (the
    last 20 failures, newest first: {at, error}), lag_seconds (since
    the last success, None if never), cursor ({updated_at, code} or None), circuit (closed,
    open, half_open, or unknown before the first poll), quarantined (records in the
    quarantine) and resync ({started_at, finished_at, error}: the last one)."""
    status = await c.store.status()
    cursors = await c.store.cursors()
    quarantined = await c.store.quarantine_counts()
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
            },
        }
    return {"portals": portals}


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
    await c.store.record_status(source, resync_started_at=c.clock().isoformat(), resync_error="")
    log.info("resync_started", portal=source.value, since=since and since.encode(), by=who)
    error = ""
    try:
        result = await syncer.poll(connector, since=since)
        error = result.error or ""
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
                source, resync_finished_at=c.clock().isoformat(), resync_error=error
            )


async def _cancel_resyncs(app: web.Application) -> None:
    tasks = [t for t in app[RESYNCS].values() if not t.done()]
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


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
    """An entry with when it was quarantined (from its stream id) and its raw record parsed."""
    millis = int(entry["id"].split("-")[0])
    try:
        raw: Any = json.loads(entry.get("raw") or "null")
    except ValueError:
        raw = entry.get("raw")
    return {
        "id": entry["id"],
        "at": datetime.fromtimestamp(millis / 1000, VN_TZ).isoformat(),
        "portal": entry.get("source", ""),
        "code": entry.get("code") or None,
        "reason": entry.get("reason", ""),
        "reason_code": parsed[0] if (parsed := parse_reason(entry.get("reason", ""))) else None,
        "reason_text": wire_reason(entry.get("reason", ""), language()),
        "updated_at": entry.get("updated_at") or None,
        "raw": raw,
    }
