"""Pages about the sync machinery itself: the write-back outbox, and what could not be taken in
(quarantined records, dossiers whose reconciliation failed).

    GET  /writeback                 viewer    the outbox (pending, in flight, failed, dry run),
                                              a held burst, and the push log
    POST /writeback/{key}/retry     operator  push it at the next drain
    POST /writeback/{key}/cancel    operator  out of the outbox for good, with a reason
    POST /writeback/release         admin     let a held burst go, with a reason
    GET  /quarantine                viewer    quarantined records (reasons in the reader's
                                              language), dead letters and dossiers to be retried
    POST /quarantine/deadletters/retry  admin reconcile every dead letter again now
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from syncd.i18n import wire_reason
from syncd.web.app import allow, ctx, user_of
from syncd.web.ops import outbox_view
from syncd.web.pages import lang_of, redirect, render

QUARANTINE_SHOWN = 200
LOG_SHOWN = 50


def add_routes(app: web.Application) -> None:
    app.router.add_get("/writeback", writeback_page)
    app.router.add_post("/writeback/release", release)
    app.router.add_post("/writeback/{key}/retry", retry)
    app.router.add_post("/writeback/{key}/cancel", cancel)
    app.router.add_get("/quarantine", quarantine_page)
    app.router.add_post("/quarantine/deadletters/retry", retry_dead_letters)


def _changes(raw: str) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


@allow("viewer")
async def writeback_page(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    lang = lang_of(request)
    view = await outbox_view(c)
    log: list[dict[str, Any]] = [
        {**item, "changes_parsed": _changes(item.get("changes", ""))}
        for item in await c.store.outbox.log(LOG_SHOWN)
    ]
    return render(request, "writeback.html", lang, {**view, "log": log}, section="writeback")


async def _reason(request: web.Request) -> str:
    form = await request.post()
    return str(form.get("reason", "")).strip()


@allow("operator")
async def retry(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    key = request.match_info["key"]
    if await c.store.outbox.entry(key) is None:
        return redirect(request, "/writeback", ("error", "writeback.gone", {"key": key}))
    await c.store.outbox.retry([key], c.clock())
    return redirect(request, "/writeback", ("ok", "writeback.retried_one", {"key": key}))


@allow("operator")
async def cancel(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    key = request.match_info["key"]
    reason = await _reason(request)
    if not reason:
        return redirect(request, "/writeback", ("error", "writeback.reason_needed", {}))
    entry = await c.store.outbox.entry(key)
    if entry is None:
        return redirect(request, "/writeback", ("error", "writeback.gone", {"key": key}))
    user = user_of(request)
    who = user.name if user else ""
    await c.store.outbox.finish(entry, "cancelled", {}, reason, c.clock(), by=who)
    await c.store.enqueue([key])
    return redirect(request, "/writeback", ("ok", "writeback.cancelled_one", {"key": key}))


@allow("admin")
async def release(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    reason = await _reason(request)
    if not reason:
        return redirect(request, "/writeback", ("error", "writeback.reason_needed", {}))
    user = user_of(request)
    await c.store.release_writeback(user.name if user else "", reason, c.clock())
    return redirect(request, "/writeback", ("ok", "writeback.released_page", {}))


@allow("viewer")
async def quarantine_page(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    lang = lang_of(request)
    entries = await c.store.quarantined(QUARANTINE_SHOWN)
    for e in entries:
        e["reason_text"] = wire_reason(e["reason"], lang)
    context = {
        "entries": entries,
        "counts": await c.store.quarantine_counts(),
        "total": await c.store.quarantine_count(),
        "dead": await c.store.dead_letters(),
        "retrying": await c.store.retrying(),
    }
    return render(request, "quarantine.html", lang, context, section="quarantine")


@allow("admin")
async def retry_dead_letters(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    queued = await c.store.retry_failed(None)
    return redirect(request, "/quarantine", ("ok", "quarantine.dead_queued", {"count": queued}))
