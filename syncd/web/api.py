"""The JSON API under /api/v1, and its OpenAPI document at /api/openapi.json.

Access is declared per handler (see syncd.web.app): viewers read, operators claim, resolve and
reopen mismatches, admins publish reports and manage users. Errors are problem+json: 400 for
bad input (the detail says what), 404 for an unknown mismatch, dossier, user or report version,
409 for a transition the record's state does not allow. The acting user is `who` in the audit
trail; publishing a report and managing users are recorded there too. Each action is also
logged, with who and what but never an operator's free text (reasons, values), which may name
people.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from datetime import date
from typing import Any

import structlog
from aiohttp import web

from reconcile.ledger import CORRECTED, FORMS
from reconcile.model import VN_TZ
from reconcile.period import Period
from syncd.i18n import LANGUAGES, Language, language, t
from syncd.queue import QueueError, check_resolution
from syncd.queue_states import ACTIVE_STATES, STATES
from syncd.report_cli import report_document
from syncd.reports import PublishRefused, publish, render_csv
from syncd.web import data, openapi
from syncd.web.app import VIA, BodyError, Handler, allow, ctx, json_body, public, user_of
from syncd.web.auth import AuthError, User
from syncd.xlsx import render_xlsx

log = structlog.get_logger("syncd.web")
routes = web.RouteTableDef()

MAX_LIMIT = 500
MAX_AUDIT = 1000
MAX_AUDIT_CSV = 100_000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT_FORMATS = ("json", "csv", "xlsx")
# QueueError messages that say the record's state forbids the change (409), not bad input.
CONFLICTS = frozenset({"queue.bad_transition", "queue.already_claimed", "queue.no_side_record"})

_dumps = functools.partial(json.dumps, ensure_ascii=False)


def add_routes(app: web.Application) -> None:
    """Register this module's routes on `app`."""
    app.router.add_routes(routes)


# --------------------------------------------------------------------------------------------
# Helpers


def reply(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps)


def bad(detail: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=detail)


# The API's own wording where the queue's message names command-line flags.
API_WORDING = {
    "queue.no_reason": "api.no_reason",
    "queue.no_who": "api.no_who",
    "queue.resolve_how": "api.resolve_how",
}


def queue_failure(exc: QueueError) -> web.HTTPException:
    text = t(API_WORDING[exc.message], **exc.values) if exc.message in API_WORDING else str(exc)
    if exc.message == "queue.unknown":
        return web.HTTPNotFound(text=text)
    if exc.message in CONFLICTS:
        return web.HTTPConflict(text=text)
    return bad(text)


def api(handler: Handler) -> Handler:
    """Turn the read side's and the queue's input errors into problem responses."""

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except QueueError as exc:
            raise queue_failure(exc) from None
        except data.InputError as exc:
            raise bad(str(exc)) from None

    return run


def actor(request: web.Request) -> User:
    user = user_of(request)
    if user is None:  # authorise lets no anonymous caller reach a protected handler
        raise web.HTTPUnauthorized(text="log in or send a bearer token")
    return user


def query(request: web.Request, name: str) -> str | None:
    """A query parameter, None when absent; given but empty (`until=`) is a 400: a blank
    filter is a mistake (a script's bug, a form sent half-filled), not a request for all."""
    value = request.query.get(name)
    if value == "":
        raise bad(f"{name} is empty: give a value or leave it out")
    return value


def whole(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = query(request, name)
    if text is None:
        return default
    if not (text.isascii() and text.lstrip("-").isdigit()):
        raise bad(f"{name} {text!r}: expected a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise bad(f"{name} {value}: expected a whole number from {low} to {high}")
    return value


def day(request: web.Request, name: str) -> date | None:
    text = query(request, name)
    return None if text is None else data.parse_day(text, name)


def period_of(request: web.Request) -> Period:
    label = request.match_info["period"]
    try:
        period = Period.parse(label, ctx(request).config.report.cutoff_day)
        if not data.FIRST_YEAR <= int(label[:4]) <= data.LAST_YEAR:
            raise ValueError(f"period {label!r}: years {data.FIRST_YEAR}-{data.LAST_YEAR} only")
    except ValueError as exc:
        raise bad(t("period.invalid", reason=exc)) from None
    return period


async def body_of(request: web.Request) -> dict[str, Any]:
    try:
        body = await json_body(request)
    except BodyError as exc:
        raise bad(f"{exc}: it must be a JSON object") from None
    if not isinstance(body, dict):
        raise bad("the request body must be a JSON object")
    return body


def text_field(
    body: Mapping[str, Any], name: str, required: bool = False, nullable: bool = False
) -> str | None:
    """A text field of a JSON body: absent is None (or 400 if required); null only where
    `nullable` (else 400: leave it out instead)."""
    value = body.get(name)
    if value is None:
        if required:
            raise bad(f"{name!r} is required")
        if name in body and not nullable:
            raise bad(f"{name!r} is null: give a value or leave it out")
        return None
    if not isinstance(value, str):
        raise bad(f"{name!r} must be a string")
    return value


def day_field(body: Mapping[str, Any], name: str) -> date | None:
    text = text_field(body, name)
    return None if text is None else data.parse_day(text, name)


def value_field(body: Mapping[str, Any]) -> str | None:
    """A resolution's `value` (null or absent: none), in the form the API takes."""
    value = text_field(body, "value", nullable=True)
    return None if value is None else data.manual_value(value)


def audit_since(request: web.Request) -> str | None:
    text = query(request, "since")
    return None if text is None else data.audit_since(text)


def mismatch_id(request: web.Request) -> str:
    return request.match_info["id"]


# --------------------------------------------------------------------------------------------
# The document and the caller


@routes.get("/api/openapi.json")
@public
async def openapi_document(request: web.Request) -> web.StreamResponse:
    return reply(openapi.document())


@routes.get("/api/v1/me")
@allow("viewer")
async def me(request: web.Request) -> web.StreamResponse:
    user = actor(request)
    return reply({"name": user.name, "role": user.role, "via": request.get(VIA)})


# --------------------------------------------------------------------------------------------
# Mismatches


@routes.get("/api/v1/mismatches")
@allow("viewer")
@api
async def list_mismatches(request: web.Request) -> web.StreamResponse:
    state = query(request, "state")
    if state is not None and state not in STATES:
        raise QueueError("queue.bad_state_filter", state=state, states=", ".join(STATES))
    listing = await data.list_mismatches(
        ctx(request),
        kind=query(request, "kind"),
        state=state,
        field=query(request, "field"),
        since=day(request, "since"),
        until=day(request, "until"),
        limit=whole(request, "limit", 50, 0, MAX_LIMIT),
        offset=whole(request, "offset", 0, 0, 10**9),
    )
    return reply(listing)


@routes.post("/api/v1/mismatches/bulk-resolve")
@allow("operator")
@api
async def bulk_resolve(request: web.Request) -> web.StreamResponse:
    """Resolve every open or claimed mismatch of a filter (at least one filter) the same way."""
    c, who = ctx(request), actor(request).name
    body = await body_of(request)
    kind, state, field = (text_field(body, n) for n in ("kind", "state", "field"))
    since, until = day_field(body, "since"), day_field(body, "until")
    action = text_field(body, "action", required=True) or ""
    reason = text_field(body, "reason", required=True) or ""
    value = value_field(body)
    if field == "":
        raise bad("'field' is empty: give a field code or leave it out")
    if not any((kind, state, field, since, until)):
        raise bad("give at least one filter: kind, state, field, since or until")
    if state is not None and state not in ACTIVE_STATES:
        raise bad(f"state {state!r}: bulk resolve takes {' or '.join(ACTIVE_STATES)} mismatches")
    check_resolution(action, reason, value)  # a bad request changes nothing
    found = await data.list_mismatches(
        c, kind=kind, state=state, field=field, since=since, until=until, limit=data.EVERYTHING
    )
    resolved: list[str] = []
    failed: list[dict[str, str]] = []
    for record in found["items"]:
        if record["state"] not in ACTIVE_STATES:
            continue
        try:
            await c.queue.resolve(record["id"], who, action, reason, value)
        except QueueError as exc:
            failed.append({"id": record["id"], "error": str(exc)})
        else:
            resolved.append(record["id"])
    log.info(
        "mismatches_bulk_resolved",
        by=who,
        action=action,
        resolved=len(resolved),
        failed=len(failed),
    )
    return reply({"resolved": resolved, "failed": failed})


@routes.get("/api/v1/mismatches/{id:(?!bulk-resolve$)[^{}/]+}")
@allow("viewer")
@api
async def show_mismatch(request: web.Request) -> web.StreamResponse:
    found = await data.mismatch_detail(ctx(request), mismatch_id(request))
    if found is None:
        raise QueueError("queue.unknown", id=mismatch_id(request))
    return reply(found)


@routes.post("/api/v1/mismatches/{id:(?!bulk-resolve$)[^{}/]+}/claim")
@allow("operator")
@api
async def claim(request: web.Request) -> web.StreamResponse:
    c, who = ctx(request), actor(request).name
    record = await c.queue.claim(mismatch_id(request), who)
    log.info("mismatch_claimed", id=record["id"], by=who)
    return reply(record)


@routes.post("/api/v1/mismatches/{id:(?!bulk-resolve$)[^{}/]+}/resolve")
@allow("operator")
@api
async def resolve(request: web.Request) -> web.StreamResponse:
    c, who = ctx(request), actor(request).name
    body = await body_of(request)
    action = text_field(body, "action", required=True) or ""
    reason = text_field(body, "reason", required=True) or ""
    value = value_field(body)
    record = await c.queue.resolve(mismatch_id(request), who, action, reason, value)
    log.info("mismatch_resolved", id=record["id"], by=who, action=action)
    return reply(record)


@routes.post("/api/v1/mismatches/{id:(?!bulk-resolve$)[^{}/]+}/reopen")
@allow("operator")
@api
async def reopen(request: web.Request) -> web.StreamResponse:
    c, who = ctx(request), actor(request).name
    body = await body_of(request)
    reason = text_field(body, "reason", required=True) or ""
    record = await c.queue.reopen(mismatch_id(request), who, reason)
    log.info("mismatch_reopened", id=record["id"], by=who)
    return reply(record)


# --------------------------------------------------------------------------------------------
# Dossiers and deadlines


@routes.get("/api/v1/dossiers/{key}")
@allow("viewer")
@api
async def show_dossier(request: web.Request) -> web.StreamResponse:
    key = request.match_info["key"]
    found = await data.dossier_detail(ctx(request), key)
    if found is None:
        raise web.HTTPNotFound(text=f"no dossier {key!r}")
    return reply(found)


@routes.post("/api/v1/dossiers/{key}/migrated")
@allow("operator")
@api
async def dossier_migrated(request: web.Request) -> web.StreamResponse:
    """An operator's verdict on whether the dossier was carried over from the old system
    (`{migrated: bool, reason}`), overriding the engine's; audited. Reopening the dossier's
    `migrated` mismatch withdraws it."""
    c, who = ctx(request), actor(request).name
    key = request.match_info["key"]
    body = await body_of(request)
    migrated = body.get("migrated")
    if not isinstance(migrated, bool):
        raise bad("'migrated' must be true or false")
    reason = text_field(body, "reason", required=True) or ""
    try:
        record = await c.queue.set_migrated(key, who, migrated, reason)
    except QueueError as exc:
        if exc.message == "queue.no_dossier":
            raise web.HTTPNotFound(text=str(exc)) from None
        raise
    log.info("dossier_migrated_verdict", key=key, migrated=migrated, by=who)
    return reply(record)


@routes.get("/api/v1/overdue")
@allow("viewer")
@api
async def overdue(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    as_of = day(request, "as_of") or c.clock().astimezone(VN_TZ).date()
    return reply(await data.overdue_list(c, as_of, query(request, "field"), query(request, "flag")))


# --------------------------------------------------------------------------------------------
# Reports


@routes.get("/api/v1/reports/{period}")
@allow("viewer")
@api
async def report(request: web.Request) -> web.StreamResponse:
    """The period's form now (or a published version) as JSON, CSV or XLSX."""
    c, period = ctx(request), period_of(request)
    fmt = query(request, "format") or "json"
    if fmt not in REPORT_FORMATS:
        raise bad(f"format {fmt!r}: one of {', '.join(REPORT_FORMATS)}")
    figures = query(request, "figures") or CORRECTED
    if figures not in FORMS:
        raise bad(f"figures {figures!r}: one of {', '.join(FORMS)}")
    lang_text = query(request, "lang") or language()
    if lang_text not in LANGUAGES:
        raise bad(f"lang {lang_text!r}: one of {', '.join(LANGUAGES)}")
    lang: Language = "en" if lang_text == "en" else "vi"
    number = whole(request, "version", 0, 1, 10**6)
    if number:
        versions = await c.store.report_versions(period.label)
        if number not in versions:
            raise web.HTTPNotFound(text=t("report.no_version", label=period.label, number=number))
        doc = json.loads(versions[number])
    else:
        doc = await report_document(c.store, c.config, period, c.clock())
    name = f"bieu-06-{period.label}" + (f"-v{number}" if number else "")
    if fmt == "csv":
        return web.Response(
            text=render_csv(doc, lang, figures),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "xlsx":
        return web.Response(
            body=render_xlsx(doc, lang),
            content_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return reply(doc)


@routes.get("/api/v1/reports/{period}/versions")
@allow("viewer")
@api
async def report_versions(request: web.Request) -> web.StreamResponse:
    c, period = ctx(request), period_of(request)
    versions = await c.store.report_versions(period.label)
    items = []
    for number, text in sorted(versions.items()):
        doc = json.loads(text)
        items.append(
            {
                "number": number,
                "published_at": doc["version"]["published_at"],
                "totals": doc["corrected"]["total"]["cells"],
            }
        )
    return reply({"period": period.label, "versions": items})


@routes.post("/api/v1/reports/{period}/publish")
@allow("admin")
@api
async def publish_report(request: web.Request) -> web.StreamResponse:
    """Publish the period's report as its next version. Refused (409) while the report is not
    fit to be (its trust section: unfinished period, a portal not read completely since the
    period ended, quarantined records or dead letters that could belong to it, no dossier),
    unless the body says `{"force": true, "reason": "..."}`; the reason is audited and carried
    by the version."""
    c, period, who = ctx(request), period_of(request), actor(request).name
    body = await body_of(request) if (await request.text()).strip() else {}
    unknown = sorted(set(body) - {"force", "reason"})
    if unknown:
        raise bad(f"unknown fields: {', '.join(unknown)}")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise bad("'force' must be true or false")
    if "reason" in body and not force:
        raise bad("'reason' goes with 'force': true")
    reason = (text_field(body, "reason") or "").strip()
    if force and not reason:
        raise bad("'force' needs a 'reason' that is not empty")
    at = c.clock()
    doc = await report_document(c.store, c.config, period, at)
    try:
        number = await publish(c.store, doc, at, by=who, force=force, reason=reason)
    except PublishRefused as exc:
        raise web.HTTPConflict(text=exc.text(language(), api=True)) from None
    except RuntimeError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    published_at = at.astimezone(VN_TZ).isoformat()
    log.info("report_published", period=period.label, version=number, by=who, forced=force)
    return reply({"period": period.label, "version": number, "published_at": published_at}, 201)


# --------------------------------------------------------------------------------------------
# Audit


@routes.get("/api/v1/audit")
@allow("viewer")
@api
async def audit(request: web.Request) -> web.StreamResponse:
    entries = await data.audit_log(
        ctx(request),
        limit=whole(request, "limit", 100, 1, MAX_AUDIT),
        since=audit_since(request),
        who=query(request, "who"),
        key=query(request, "key"),
    )
    return reply({"items": entries})


@routes.get("/api/v1/audit.csv")
@allow("viewer")
@api
async def audit_csv(request: web.Request) -> web.StreamResponse:
    entries = await data.audit_log(
        ctx(request),
        limit=whole(request, "limit", 10_000, 1, MAX_AUDIT_CSV),
        since=audit_since(request),
        who=query(request, "who"),
        key=query(request, "key"),
    )
    return web.Response(
        text=data.audit_csv(entries),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="syncd-audit.csv"'},
    )


# --------------------------------------------------------------------------------------------
# Users


@routes.get("/api/v1/users")
@allow("admin")
async def list_users(request: web.Request) -> web.StreamResponse:
    users = await ctx(request).users.list()
    return reply({"items": [{"name": u.name, "role": u.role} for u in users]})


@routes.post("/api/v1/users")
@allow("admin")
@api
async def add_user(request: web.Request) -> web.StreamResponse:
    c, who = ctx(request), actor(request).name
    body = await body_of(request)
    name = text_field(body, "name", required=True) or ""
    role = text_field(body, "role", required=True) or ""
    password = text_field(body, "password", required=True) or ""
    try:
        c.users.check_name(name)
        c.users.check_role(role)
        if await c.users.get(name) is not None:
            raise AuthError("auth.exists", name=name)
        c.users.check_password(password, name)
        user = await c.users.add(name, role, password)
    except AuthError as exc:
        if exc.message == "auth.exists":
            raise web.HTTPConflict(text=str(exc)) from None
        raise bad(str(exc)) from None
    await data.record_action(c, who, "user_add", f"user:{name}", None, {"role": user.role})
    log.info("user_added", user=name, role=user.role, by=who)
    return reply({"name": user.name, "role": user.role}, 201)


async def _named_user(request: web.Request) -> User:
    name = request.match_info["name"]
    user = await ctx(request).users.get(name)
    if user is None:
        raise web.HTTPNotFound(text=f"no user {name!r}")
    return user


@routes.patch("/api/v1/users/{name}")
@allow("admin")
@api
async def change_user(request: web.Request) -> web.StreamResponse:
    """Set a user's role or password (or both): every session and token they had ends."""
    c, who = ctx(request), actor(request).name
    user = await _named_user(request)
    body = await body_of(request)
    unknown = sorted(set(body) - {"role", "password"})
    if unknown:
        raise bad(f"unknown fields: {', '.join(unknown)}; give role, password or both")
    role, password = text_field(body, "role"), text_field(body, "password")
    if role is None and password is None:
        raise bad("give role, password or both")
    if user.name == who:  # it would end the very credential of this request
        raise web.HTTPConflict(text="not your own account: ask another admin, or use the CLI")
    try:
        if role is not None:
            c.users.check_role(role)
        if password is not None:
            c.users.check_password(password, user.name)
    except AuthError as exc:
        raise bad(str(exc)) from None
    ended = 0
    if password is not None:
        ended += await c.users.set_password(user.name, password)
        await data.record_action(c, who, "user_password", f"user:{user.name}", None, None)
    if role is not None:
        ended += await c.users.set_role(user.name, role)
        await data.record_action(
            c, who, "user_role", f"user:{user.name}", {"role": user.role}, {"role": role}
        )
    log.info("user_changed", user=user.name, role=role, password=password is not None, by=who)
    return reply({"name": user.name, "role": role or user.role, "ended": ended})


@routes.get("/api/v1/users/{name}/sessions")
@allow("admin")
@api
async def user_sessions(request: web.Request) -> web.StreamResponse:
    user = await _named_user(request)
    found = await ctx(request).users.credentials(user.name)
    return reply({"name": user.name, "items": [dataclasses.asdict(c) for c in found]})


@routes.post("/api/v1/users/{name}/logout")
@allow("admin")
@api
async def end_user_sessions(request: web.Request) -> web.StreamResponse:
    c, who = ctx(request), actor(request).name
    user = await _named_user(request)
    if user.name == who:
        raise web.HTTPConflict(text="not your own account: log out, or ask another admin")
    ended = await c.users.logout(user.name)
    await data.record_action(c, who, "user_logout", f"user:{user.name}", None, {"ended": ended})
    log.info("user_logged_out", user=user.name, ended=ended, by=who)
    return reply({"name": user.name, "ended": ended})


@routes.delete("/api/v1/users/{name}")
@allow("admin")
@api
async def remove_user(request: web.Request) -> web.StreamResponse:
    c, who = ctx(request), actor(request).name
    user = await _named_user(request)
    name = user.name
    if user.name == who:
        raise web.HTTPConflict(text="you cannot remove yourself")
    await c.users.remove(name)
    await data.record_action(c, who, "user_remove", f"user:{name}", {"role": user.role}, None)
    log.info("user_removed", user=name, by=who)
    return web.Response(status=204)
