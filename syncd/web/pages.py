"""The operator's web pages: server-rendered HTML (Jinja2, autoescaped), no JavaScript.

Routes and who may use them (see syncd.web.app for how access is declared):

    GET  /login, POST /login                 public (throttled per user name and per address)
    POST /logout                             public (with the session's CSRF token if any)
    GET  /static/{name}                      public (the style sheet)
    GET  /                                   viewer: sync state, open mismatches, deadlines,
                                             this period's figures
    GET  /mismatches, /mismatches/{id}       viewer: the queue (filters, pages), one mismatch
    POST /mismatches/{id}/claim|resolve|reopen   operator: redirect back with a message
    GET  /dossiers/{key}                     viewer
    GET  /overdue                            viewer
    GET  /reports, /reports/{period}         viewer: the form, raw figures, a cell's ledger
    POST /reports/{period}/publish           admin
    POST /dossiers/{key}/migrated            operator: mark or unmark a dossier as migrated
    GET  /audit                              viewer

Texts come from `syncd.web.texts` in the reader's language: `?lang=vi|en` chooses it and keeps
it in the `LANG_COOKIE` cookie; otherwise `ui.language`. A message after a POST travels to the
next page in a short-lived cookie and is worded there, in the reader's language.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import secrets
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web

from reconcile.engine import MIGRATED_OVERRIDE
from reconcile.ledger import CORRECTED, FORMS
from reconcile.model import VN_TZ
from reconcile.period import Period
from syncd.i18n import LANGUAGES, Language, detail_text, failure_text
from syncd.queue import (
    ACTIONS,
    STORED_SEPARATOR,
    QueueError,
    fields_of,
    public_id,
    stored_id,
)
from syncd.queue_states import STATES
from syncd.report_cli import ReportUsageError, parse_cell, report_document
from syncd.reports import (
    HEADINGS,
    INDICATORS,
    PublishRefused,
    cell_ledger,
    form_fields,
    publish,
)
from syncd.summary import percent_text
from syncd.trust import forced_text, issue_text, refusals, trust_lines
from syncd.web import data
from syncd.web.app import (
    ERROR_PAGE,
    LANG_COOKIE,
    SESSION_COOKIE,
    Context,
    allow,
    client_address,
    ctx,
    public,
    session_of,
    user_of,
)
from syncd.web.auth import LoginPolicy, Refusal
from syncd.web.ops import sync_status
from syncd.web.texts import has_text, label, reason_words, text
from syncd.xlsx import INDICATORS as INDICATOR_NAMES

log = structlog.get_logger("syncd.web.pages")
HERE = Path(__file__).parent
STATIC = HERE / "static"
STATIC_FILES = frozenset(p.name for p in STATIC.iterdir() if p.is_file())
FLASH_COOKIE = "syncd_flash"
LOGIN_COOKIE = "syncd_login"
PAGE_SIZE = 50
AUDIT_LIMIT, AUDIT_MAX = 200, 5000
DIFFERENCES_SHOWN = 200
LEDGER_SHOWN = 2000
DASHBOARD_COLUMNS = (3, 4, 7, 10, 11, 13)
NAV = (
    ("dashboard", "/"),
    ("mismatches", "/mismatches"),
    ("overdue", "/overdue"),
    ("reports", "/reports"),
    ("writeback", "/writeback"),
    ("quarantine", "/quarantine"),
    ("audit", "/audit"),
)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


# --------------------------------------------------------------------------------------------
# Setup


def add_routes(app: web.Application) -> None:
    """Register the pages on `app`, with their templates and the style sheet."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("syncd.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        filters={"when": when_text, "day": day_text},
    )
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_get("/favicon.ico", favicon)
    app[ERROR_PAGE] = error_page
    app.router.add_get("/", dashboard)
    app.router.add_get("/mismatches", mismatch_list)
    app.router.add_get("/mismatches/{id}", mismatch_page)
    app.router.add_post("/mismatches/{id}/claim", claim)
    app.router.add_post("/mismatches/{id}/resolve", resolve)
    app.router.add_post("/mismatches/{id}/reopen", reopen)
    app.router.add_get("/dossiers/{key}", dossier_page)
    app.router.add_post("/dossiers/{key}/migrated", migrated_verdict)
    app.router.add_get("/overdue", overdue_page)
    app.router.add_get("/reports", reports_index)
    app.router.add_get("/reports/{period}", report_page)
    app.router.add_post("/reports/{period}/publish", publish_report)
    app.router.add_get("/audit", audit_page)


# --------------------------------------------------------------------------------------------
# Formatting


def _local(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and value:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=VN_TZ)
    return when.astimezone(VN_TZ)


def when_text(value: Any) -> str:
    """A time as the reader's clock shows it: local dd/mm/yyyy HH:MM ("—" if none)."""
    when = _local(value)
    if when is None:
        return str(value) if value else "—"
    return when.strftime("%d/%m/%Y %H:%M")


def day_text(value: Any) -> str:
    """A day as dd/mm/yyyy (from a date, an ISO day or an ISO time)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            return value
    when = _local(value)
    if when is None:
        return str(value) if value else "—"
    return when.strftime("%d/%m/%Y")


def value_text(lang: Language, field: str, value: Any) -> str:
    """A dossier field's value in words: status and channel named, times local, lists
    joined."""
    if value is None or value == "" or value == []:
        return text(lang, "none")
    if field in ("status", "channel") and str(value).isdigit():
        return label(lang, field, int(value))
    if field.endswith("_at"):
        return day_text(value) if len(str(value)) == 10 else when_text(value)
    if field == "digitised":
        truth = value if isinstance(value, bool) else str(value).lower() == "true"
        return text(lang, "yes" if truth else "no")
    if field == "pauses" and isinstance(value, list):
        return "; ".join(
            f"{text(lang, 'stop.' + str(p.get('kind') or 'supplement'))} "
            f"{when_text(p.get('requested_at'))} → {when_text(p.get('resumed_at'))}"
            for p in value
            if isinstance(p, Mapping)
        )
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def duration_text(lang: Language, seconds: Any) -> str:
    try:
        total = int(float(seconds))
    except (TypeError, ValueError):
        return text(lang, "none")
    if total < 60:
        return text(lang, "duration.seconds", n=total)
    if total < 3600:
        return text(lang, "duration.minutes", n=total // 60)
    if total < 86400:
        return text(lang, "duration.hours", n=total // 3600, m=total % 3600 // 60)
    return text(lang, "duration.days", n=total // 86400, h=total % 86400 // 3600)


# Kinds whose values are of another field than the kind names: shown with that field's label
# ("Ngày tiếp nhận: 01/06/2024" for a migrated dossier, not a bare date).
LABELLED_KINDS = {
    "migrated": "received_at",
    "missing_national": "status",
    "missing_city": "status",
    "unknown_procedure": "procedure_code",
    "duplicate": "alt_codes",
}


def kind_field(kind: str) -> str:
    """The dossier field a mismatch kind's values are of ("" if none): how to show them."""
    if kind in LABELLED_KINDS:
        return LABELLED_KINDS[kind]
    fields = fields_of(kind)
    return fields[0] if fields else ""


def mismatch_value(lang: Language, kind: str, value: Any) -> str:
    """One side's value of a mismatch in words, labelled when the kind does not say what it
    is."""
    field = kind_field(kind)
    shown = value_text(lang, field, value)
    if kind in LABELLED_KINDS and value not in (None, ""):
        return f"{label(lang, 'fieldname', field)}: {shown}"
    return shown


def mismatch_url(mismatch_id: str) -> str:
    """The page of a mismatch, at its id as shown (either form given)."""
    return "/mismatches/" + quote(public_id(mismatch_id), safe="~")


def mismatch_name(lang: Language, mismatch_id: str) -> str:
    """A mismatch as a reader names it: its dossier's key and its kind in words."""
    key, _, kind = stored_id(mismatch_id).rpartition(STORED_SEPARATOR)
    return text(lang, "mm.name", key=key, kind=label(lang, "kind", kind)) if key else mismatch_id


def dossier_url(key: str) -> str:
    return "/dossiers/" + quote(key, safe="")


def today_of(c: Context) -> date:
    return c.clock().astimezone(VN_TZ).date()


# --------------------------------------------------------------------------------------------
# Language, messages, rendering


def lang_of(request: web.Request) -> Language:
    """The reader's language: `?lang=`, else the language cookie, else `ui.language`."""
    for chosen in (request.query.get("lang"), request.cookies.get(LANG_COOKIE)):
        if chosen in LANGUAGES:
            return "en" if chosen == "en" else "vi"
    return ctx(request).config.ui.language


def _secure(request: web.Request) -> bool:
    return bool(ctx(request).config.http.secure_cookies)


def _read_flash(request: web.Request, lang: Language) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        message = json.loads(base64.urlsafe_b64decode(raw.encode()))
        kind, key, values = message["kind"], message["key"], message["values"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if kind not in ("ok", "error") or not isinstance(key, str) or not has_text(key):
        return None
    if not isinstance(values, dict):
        return None
    try:
        return {"kind": kind, "text": text(lang, key, **values)}
    except (KeyError, IndexError, ValueError):
        return None


def redirect(
    request: web.Request,
    location: str,
    flash: tuple[str, str, Mapping[str, Any]] | None = None,
) -> web.Response:
    """303 to `location`, carrying a message (kind, text key, values) for the next page."""
    response = web.Response(status=303, headers={"Location": location})
    if flash is not None:
        kind, key, values = flash
        payload = json.dumps({"kind": kind, "key": key, "values": dict(values)})
        response.set_cookie(
            FLASH_COOKIE,
            base64.urlsafe_b64encode(payload.encode()).decode(),
            max_age=120,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=_secure(request),
        )
    return response


def _lang_links(request: web.Request) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    for code in LANGUAGES:
        query = [(k, v) for k, v in request.query.items() if k != "lang"] + [("lang", code)]
        links.append((code, f"{request.path}?{urlencode(query)}"))
    return links


def render(
    request: web.Request,
    template: str,
    lang: Language,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    section: str = "",
) -> web.Response:
    """A page in `lang`, with the frame's facts (user, CSRF token, message, language links)."""
    user = user_of(request)
    session = session_of(request)
    flash = _read_flash(request, lang)
    c = ctx(request)
    frame: dict[str, Any] = {
        "lang": lang,
        "_": partial(text, lang),
        "label": partial(label, lang),
        "show": partial(value_text, lang),
        "reason_words": lambda reason: reason_words(reason, lang),
        "kind_field": kind_field,
        "mismatch_value": partial(mismatch_value, lang),
        "detail_text": lambda detail: detail_text(str(detail), lang),
        "failure": lambda kind, detail: failure_text(kind, str(detail or ""), lang),
        "mismatch_url": mismatch_url,
        "mismatch_name": partial(mismatch_name, lang),
        "dossier_url": dossier_url,
        "user": user,
        "csrf": session.csrf if session else "",
        "can_operate": bool(user and user.can("operator")),
        "is_admin": bool(user and user.can("admin")),
        "flash": flash,
        "nav": NAV,
        "section": section,
        "lang_links": _lang_links(request),
        "agency": c.config.agency.name,
    }
    response = aiohttp_jinja2.render_template(
        template, request, {**frame, **context}, status=status
    )
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 86400,
            path="/",
            samesite="Lax",
            secure=_secure(request),
        )
    if FLASH_COOKIE in request.cookies:
        response.del_cookie(FLASH_COOKIE, path="/")
    return response


def not_found(request: web.Request, lang: Language, what: str) -> web.Response:
    return render(
        request,
        "error.html",
        lang,
        {"title": text(lang, "error.title"), "message": text(lang, "error.not_found", what=what)},
        status=404,
    )


# status -> (title, message) of the error pages of page URLs
ERROR_TEXTS = {
    404: ("error.title", "error.no_page"),
    405: ("error.method_title", "error.method"),
    500: ("error.server_title", "error.server"),
}


def error_page(request: web.Request, status: int, headers: Mapping[str, str]) -> web.Response:
    """The page for an HTTP error at a page URL, in the reader's language (see syncd.web.app)."""
    lang = lang_of(request)
    title, message = ERROR_TEXTS.get(status, ("error.other_title", "error.other"))
    values = {"path": request.path, "method": request.method, "status": status}
    response = render(
        request,
        "error.html",
        lang,
        {"title": text(lang, title, **values), "message": text(lang, message, **values)},
        status=status,
    )
    response.headers.update(headers)
    return response


def queue_error_text(lang: Language, exc: QueueError) -> str:
    try:
        return text(lang, exc.message, **exc.values)
    except (KeyError, IndexError, ValueError):
        return str(exc)


# --------------------------------------------------------------------------------------------
# Static files


@public
async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(
        STATIC / name,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@public
async def favicon(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(
        STATIC / "favicon.ico",
        headers={"Cache-Control": "public, max-age=86400", "Content-Type": "image/x-icon"},
    )


# --------------------------------------------------------------------------------------------
# Logging in and out


def safe_next(value: Any) -> str:
    """Where to go after logging in: a local path only (never another site), else "/"."""
    target = str(value or "")
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target)
    ):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    if parts.path in ("/login", "/logout"):
        return "/"
    return target


def _login_page(
    request: web.Request,
    lang: Language,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        lang,
        {"next": next_path, "username": username, "error": error, "login_token": token},
        status=status,
    )
    # Double-submit token: a form posted from another site cannot log the reader in.
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )
    return response


def wait_text(lang: Language, seconds: float) -> str:
    """A wait as people say it: whole seconds under two minutes, else whole minutes (up)."""
    whole = max(1, math.ceil(seconds))
    if whole < 120:
        return text(lang, "duration.seconds", n=whole)
    return text(lang, "duration.minutes", n=math.ceil(whole / 60))


def _throttled_page(
    request: web.Request,
    lang: Language,
    refused: Refusal,
    policy: LoginPolicy,
    *,
    next_path: str,
    username: str,
) -> web.Response:
    """429 with what happened and when to try again, in words and in Retry-After."""
    seconds = max(0.0, (refused.until - ctx(request).clock()).total_seconds())
    values = {
        "count": refused.failures,
        "wait": wait_text(lang, seconds),
        "at": refused.until.astimezone(VN_TZ).strftime("%H:%M:%S"),
        "window": wait_text(lang, policy.window),
    }
    response = _login_page(
        request,
        lang,
        next_path=next_path,
        username=username,
        error=text(lang, f"login.throttled_{refused.reason}", **values),
        status=429,
    )
    response.headers["Retry-After"] = str(max(1, math.ceil(seconds)))
    return response


@public
async def login_form(request: web.Request) -> web.StreamResponse:
    next_path = safe_next(request.query.get("next"))
    if user_of(request) is not None:
        return redirect(request, next_path)
    return _login_page(request, lang_of(request), next_path=next_path)


@public
async def login_submit(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    lang = lang_of(request)
    settings = c.config.http
    form = await request.post()
    name = str(form.get("username", "")).strip().lower()[:64]
    password = str(form.get("password", ""))
    next_path = safe_next(form.get("next"))
    sent = str(form.get("login_token", ""))
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not sent or not expected or not secrets.compare_digest(sent, expected):
        return _login_page(
            request,
            lang,
            next_path=next_path,
            username=name,
            error=text(lang, "login.stale"),
            status=400,
        )
    address = client_address(request, settings.behind_proxy)
    policy = LoginPolicy.of(settings)
    refused = await c.users.login_refusal(name, address, policy)
    if refused is not None:
        log.warning("login_throttled", user=name, on=refused.reason, failures=refused.failures)
        return _throttled_page(request, lang, refused, policy, next_path=next_path, username=name)
    user = await c.users.verify(name, password) if name and password else None
    if user is None:
        log.warning("login_failed", user=name)
        await c.users.login_failed(name, address, policy)
        return _login_page(
            request,
            lang,
            next_path=next_path,
            username=name,
            error=text(lang, "login.failed"),
            status=401,
        )
    await c.users.login_succeeded(name, address)
    log.info("login", user=user.name, role=user.role)
    old = session_of(request)
    if old is not None:
        await c.users.close_session(old.id)
    session = await c.users.open_session(user)
    response = redirect(request, next_path)
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        max_age=int(settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
    )
    response.del_cookie(LOGIN_COOKIE, path="/login")
    return response


@public
async def logout(request: web.Request) -> web.StreamResponse:
    # With a live session the CSRF check has already passed (syncd.web.app.authorise).
    session = session_of(request)
    if session is not None:
        await ctx(request).users.close_session(session.id)
    response = redirect(request, "/login", ("ok", "logout.done", {}))
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------------------------
# Dashboard


async def _sync_state(c: Context) -> dict[str, Any] | None:
    try:
        return await sync_status(c)
    except Exception:  # the dashboard still shows the rest
        log.exception("sync_status_failed")
        return None


def _cursor_text(cursor: Any) -> str:
    """A poller's cursor: the time of the last change read, and the code it was on."""
    if isinstance(cursor, Mapping):
        at, code = cursor.get("updated_at"), cursor.get("code")
        return " · ".join(x for x in (when_text(at) if at else "", str(code or "")) if x)
    return str(cursor)


def _portal_cards(lang: Language, status: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not status or not isinstance(status.get("portals"), Mapping):
        return []
    cards = []
    for name in ("city", "national"):
        p = status["portals"].get(name) or {}
        ok_at, error_at = p.get("last_success_at"), p.get("last_error_at")
        ok_when, error_when = _local(ok_at), _local(error_at)
        if ok_when is None and error_when is None:
            state = "never"
        elif error_when is not None and (ok_when is None or error_when > ok_when):
            state = "failing"
        else:
            state = "ok"
        facts: list[tuple[str, str]] = [("last_success_at", when_text(ok_at))]
        if p.get("lag_seconds") is not None:
            facts.append(("lag_seconds", duration_text(lang, p["lag_seconds"])))
        if error_at or p.get("last_error"):
            facts.append(("last_error_at", when_text(error_at)))
            error = failure_text(p.get("last_error_kind"), str(p.get("last_error") or ""), lang)
            facts.append(("last_error", error or text(lang, "none")))
        circuit = p.get("circuit")
        if circuit:
            facts.append(("circuit", label(lang, "circuit", circuit)))
        if p.get("quarantined") is not None:
            facts.append(("quarantined", str(p["quarantined"])))
        resync = p.get("resync")
        if isinstance(resync, Mapping) and resync.get("started_at"):
            shown = f"{when_text(resync['started_at'])} → {when_text(resync.get('finished_at'))}"
            if resync.get("error"):
                shown += f" ({failure_text(resync.get('error_kind'), resync['error'], lang)})"
            facts.append(("resync", shown))
        if p.get("cursor"):
            facts.append(("cursor", _cursor_text(p["cursor"])))
        cards.append({"name": name, "state": state, "facts": facts})
    return cards


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else f"−{-n}" if n < 0 else "0"


async def _open_counts(c: Context) -> dict[str, dict[str, int]]:
    """How many mismatches of each kind are open and claimed (totals only: no records read
    where the store keeps its sorted views)."""
    asked = [(kind, state) for kind in data.KINDS for state in ("open", "claimed")]
    found = await asyncio.gather(
        *(data.list_mismatches(c, kind=kind, state=state, limit=0) for kind, state in asked)
    )
    counts: dict[str, dict[str, int]] = {kind: {"open": 0, "claimed": 0} for kind in data.KINDS}
    for (kind, state), result in zip(asked, found, strict=True):
        counts[kind][state] = int(result["total"])
    return counts


@allow("viewer")
async def dashboard(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    lang = lang_of(request)
    today = today_of(c)
    newest = await c.data_period()
    period, errors = newest, []
    chosen = request.query.get("period", "").strip()
    if chosen:
        try:
            period = Period.parse(chosen, c.config.report.cutoff_day)
        except ValueError:
            errors.append(text(lang, "report.bad_period", value=chosen))
    status, counted, deadlines, doc = await asyncio.gather(
        _sync_state(c),
        _open_counts(c),
        data.overdue_list(c, today),
        c.recent_report(period),
    )
    kinds = [
        {
            "kind": kind,
            "open": n["open"],
            "claimed": n["claimed"],
            "href": "/mismatches?" + urlencode({"kind": kind}),
            "href_open": "/mismatches?" + urlencode({"kind": kind, "state": "open"}),
            "href_claimed": "/mismatches?" + urlencode({"kind": kind, "state": "claimed"}),
        }
        for kind, n in sorted(counted.items(), key=lambda item: (-sum(item[1].values()), item[0]))
        if n["open"] or n["claimed"]
    ]
    flags = [set(d["flags"]) for d in deadlines["dossiers"]]
    corrected = doc["corrected"]["total"]["cells"]
    city = doc["raw"]["city"]["total"]["cells"]
    figure_rows = [
        {
            "name": "corrected",
            "label": "report.corrected",
            "values": [corrected[str(col)] for col in DASHBOARD_COLUMNS],
        },
        {
            "name": "city",
            "label": "report.city",
            "values": [city[str(col)] for col in DASHBOARD_COLUMNS],
        },
        {
            "name": "difference",
            "label": "col.difference",
            "values": [_signed(corrected[str(col)] - city[str(col)]) for col in DASHBOARD_COLUMNS],
        },
    ]
    return render(
        request,
        "dashboard.html",
        lang,
        {
            "portals": _portal_cards(lang, status),
            "kinds": kinds,
            "open_total": sum(k["open"] + k["claimed"] for k in kinds),
            "today": today,
            "overdue": sum("overdue" in f for f in flags),
            "due_soon": sum("due_soon" in f for f in flags),
            "period": period,
            "figure_columns": [(col, HEADINGS[col][lang]) for col in DASHBOARD_COLUMNS],
            "figure_rows": figure_rows,
            "periods": _recent_periods(c, newest=max(newest, period, key=lambda p: p.start)),
            "errors": errors,
        },
        section="dashboard",
    )


# --------------------------------------------------------------------------------------------
# The mismatch queue


def _field_choices(c: Context) -> list[tuple[str, str]]:
    return sorted(c.config.report.fields.items())


def _day_filter(lang: Language, request: web.Request, name: str, errors: list[str]) -> date | None:
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    try:
        return data.parse_day(raw, name)
    except ValueError:
        errors.append(text(lang, "filter.bad_date", value=raw))
        return None


def _page_links(base: Mapping[str, str], page: int, pages: int) -> list[tuple[int | None, str]]:
    """Page numbers to show (first, last, and two either side of the current one; None for a
    gap), each with its link."""
    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    out: list[tuple[int | None, str]] = []
    previous = 0
    for n in shown:
        if n - previous > 1:
            out.append((None, ""))
        out.append((n, "/mismatches?" + urlencode({**base, "page": str(n)})))
        previous = n
    return out


@allow("viewer")
async def mismatch_list(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    lang = lang_of(request)
    q = request.query
    errors: list[str] = []
    kinds = list(data.KINDS)
    kind = q.get("kind") or None
    if kind is not None and kind not in kinds:
        errors.append(text(lang, "queue.bad_kind", kind=kind, kinds=", ".join(kinds)))
        kind = None
    state = q.get("state") or None
    if state is not None and state not in STATES:
        errors.append(text(lang, "queue.bad_state_filter", state=state, states=", ".join(STATES)))
        state = None
    field = q.get("field") or None
    since = _day_filter(lang, request, "from", errors)
    until = _day_filter(lang, request, "to", errors)
    page = int(q["page"]) if q.get("page", "").isdigit() and int(q["page"]) > 0 else 1
    found: dict[str, Any] = {"items": [], "total": 0}
    try:
        found = await data.list_mismatches(
            c,
            kind=kind,
            state=state,
            field=field,
            since=since,
            until=until,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
    except QueueError as exc:
        errors.append(queue_error_text(lang, exc))
    filters = {
        "kind": kind or "",
        "state": state or "",
        "field": field or "",
        "from": since.isoformat() if since else "",
        "to": until.isoformat() if until else "",
    }
    base = {k: v for k, v in filters.items() if v}
    total = int(found["total"])
    pages = max(1, math.ceil(total / PAGE_SIZE))
    first = (page - 1) * PAGE_SIZE + 1
    return render(
        request,
        "mismatches.html",
        lang,
        {
            "rows": found["items"],
            "total": total,
            "first": first,
            "last": first + len(found["items"]) - 1,
            "page": page,
            "pages": _page_links(base, page, pages),
            "prev_href": "/mismatches?" + urlencode({**base, "page": str(page - 1)})
            if page > 1
            else "",
            "next_href": "/mismatches?" + urlencode({**base, "page": str(page + 1)})
            if page < pages
            else "",
            "filters": filters,
            "kinds": kinds,
            "states": STATES,
            "fields": _field_choices(c),
            "errors": errors,
        },
        section="mismatches",
    )


def _example_value(record: Mapping[str, Any]) -> str:
    fields = fields_of(str(record.get("kind", "")))
    if not fields:
        return "status=9"
    field = fields[0]
    if field.endswith("_at"):
        return f"{field}=2024-07-01T08:30:00+07:00"
    shown = record.get("national") or record.get("city")
    if field in ("status", "channel") and not str(shown or "").isdigit():
        shown = "9" if field == "status" else "2"
    return f"{field}={shown or '…'}"


@allow("viewer")
async def mismatch_page(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    lang = lang_of(request)
    mismatch_id = request.match_info["id"]
    record = await data.mismatch_detail(c, mismatch_id)
    if record is None:
        return not_found(request, lang, mismatch_id)
    about = set(record.get("fields") or ())
    sides = [{**s, "about": s["field"] in about} for s in record.get("sides", [])]
    history = list(record.get("history") or [])
    return render(
        request,
        "mismatch.html",
        lang,
        {
            "r": record,
            "sides": sides,
            "history": history,
            "actions": ACTIONS,
            "example": _example_value(record),
        },
        section="mismatches",
    )


def queue_failed(
    request: web.Request, url: str, exc: QueueError, mismatch_id: str | None = None
) -> web.Response:
    """Back to `url`, saying why the queue refused (a mismatch named in words)."""
    shown = {k: v if isinstance(v, int | float) else str(v) for k, v in exc.values.items()}
    if "id" in shown and mismatch_id is not None:
        shown["id"] = mismatch_name(lang_of(request), mismatch_id)
    return redirect(request, url, ("error", exc.message, shown))


async def _queue_step(
    request: web.Request, step: str, done: str, values: Mapping[str, Any]
) -> web.Response:
    """Run one operator transition and go back to the mismatch with what happened."""
    c = ctx(request)
    user = user_of(request)
    assert user is not None  # the route needs an operator
    mismatch_id = request.match_info["id"]
    form = await request.post()
    reason = str(form.get("reason", ""))
    try:
        if step == "claim":
            await c.queue.claim(mismatch_id, user.name)
        elif step == "reopen":
            await c.queue.reopen(mismatch_id, user.name, reason)
        else:
            action = str(form.get("action", ""))
            value = str(form.get("value", "")).strip() or None
            await c.queue.resolve(mismatch_id, user.name, action, reason, value)
            values = {**values, "action": label(lang_of(request), "resolution", action)}
    except QueueError as exc:
        return queue_failed(request, mismatch_url(mismatch_id), exc, mismatch_id)
    named = mismatch_name(lang_of(request), mismatch_id)
    return redirect(
        request,
        mismatch_url(mismatch_id),
        ("ok", done, {"id": named, "who": user.name, **values}),
    )


@allow("operator")
async def claim(request: web.Request) -> web.StreamResponse:
    return await _queue_step(request, "claim", "mismatches.claimed", {})


@allow("operator")
async def resolve(request: web.Request) -> web.StreamResponse:
    return await _queue_step(request, "resolve", "mismatches.resolved", {})


@allow("operator")
async def reopen(request: web.Request) -> web.StreamResponse:
    return await _queue_step(request, "reopen", "mismatches.reopened", {})


# --------------------------------------------------------------------------------------------
# Dossiers


DOSSIER_FIELDS = (
    "status",
    "received_at",
    "due_at",
    "finished_at",
    "returned_at",
    "apology_at",
    "channel",
    "procedure_code",
    "field_code",
    "digitised",
    "pauses",
    "alt_codes",
    "native_status",
    "updated_at",
)


@allow("viewer")
async def dossier_page(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    lang = lang_of(request)
    key = request.match_info["key"]
    d = await data.dossier_detail(c, key)
    if d is None:
        return not_found(request, lang, key)
    columns: list[tuple[str, Mapping[str, Any] | None]] = []
    for side in ("city", "national"):
        records = d.get(side) or []
        if not records:
            columns.append(
                (f"{text(lang, f'source.{side}')} {text(lang, 'dossier.none_side')}", None)
            )
        for record in records:
            columns.append(
                (
                    text(
                        lang,
                        "dossier.record_of",
                        side=text(lang, f"source.{side}"),
                        code=record["code"],
                    ),
                    record,
                )
            )
    columns.append((text(lang, "col.corrected"), d.get("corrected")))
    compared = [r for (_, r) in columns[:-1] if r is not None]
    rows = []
    for field in DOSSIER_FIELDS:
        values = [r.get(field) if r is not None else None for _, r in columns]
        seen = {json.dumps(r.get(field), sort_keys=True) for r in compared}
        rows.append(
            {
                "field": field,
                "cells": [value_text(lang, field, v) for v in values],
                "differs": len(seen) > 1 and field != "updated_at",
            }
        )
    migration = next(
        (r for r in d.get("mismatches") or [] if r["kind"] == "migrated" and r.get("present")),
        None,
    )
    verdict = (d.get("overrides") or {}).get(MIGRATED_OVERRIDE)
    return render(
        request,
        "dossier.html",
        lang,
        {
            "d": d,
            "headings": [heading for heading, _ in columns],
            "rows": rows,
            "entries": d.get("history") or [],
            "migration": migration,
            "verdict": verdict if verdict in ("true", "false") else None,
        },
        section="mismatches",
    )


@allow("operator")
async def migrated_verdict(request: web.Request) -> web.StreamResponse:
    """An operator marks or unmarks the dossier as migrated, with a reason (audited)."""
    c = ctx(request)
    user = user_of(request)
    assert user is not None  # the route needs an operator
    key = request.match_info["key"]
    form = await request.post()
    choice = str(form.get("migrated", ""))
    if choice not in ("true", "false"):
        return redirect(request, dossier_url(key), ("error", "dossier.verdict_choose", {}))
    try:
        await c.queue.set_migrated(key, user.name, choice == "true", str(form.get("reason", "")))
    except QueueError as exc:
        return queue_failed(request, dossier_url(key), exc)
    done = "mismatches.marked" if choice == "true" else "mismatches.unmarked"
    return redirect(request, dossier_url(key), ("ok", done, {"key": key}))


# --------------------------------------------------------------------------------------------
# Deadlines


@allow("viewer")
async def overdue_page(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    lang = lang_of(request)
    errors: list[str] = []
    as_of = _day_filter(lang, request, "as_of", errors) or today_of(c)
    field = request.query.get("field") or None
    found = await data.overdue_list(c, as_of, field)
    rows = found["dossiers"]
    groups = [
        {
            "id": "overdue",
            "title": "overdue.overdue_list",
            "rows": [r for r in rows if "overdue" in r["flags"]],
        },
        {
            "id": "due-soon",
            "title": "overdue.due_soon_list",
            "rows": [r for r in rows if "due_soon" in r["flags"]],
        },
        {
            "id": "late",
            "title": "overdue.late_list",
            "rows": [r for r in rows if "late" in r["flags"]],
        },
    ]
    return render(
        request,
        "overdue.html",
        lang,
        {
            "as_of": as_of.isoformat(),
            "field": field or "",
            "fields": _field_choices(c),
            "groups": groups,
            "errors": errors,
        },
        section="overdue",
    )


# --------------------------------------------------------------------------------------------
# Reports


def _recent_periods(c: Context, count: int = 12, newest: Period | None = None) -> list[Period]:
    """`count` periods, newest first: from `newest` (default: today's) back."""
    cutoff = c.config.report.cutoff_day
    found = [newest or Period.containing(today_of(c), cutoff)]
    while len(found) < count:
        found.append(Period.containing(found[-1].start - timedelta(days=1), cutoff))
    return found


@allow("viewer")
async def reports_index(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    lang = lang_of(request)
    errors: list[str] = []
    chosen = request.query.get("period", "").strip()
    if chosen:
        try:
            Period.parse(chosen, c.config.report.cutoff_day)
        except ValueError:
            errors.append(text(lang, "report.bad_period", value=chosen))
        else:
            return redirect(request, f"/reports/{chosen}")
    return render(
        request,
        "reports.html",
        lang,
        {"recent": _recent_periods(c), "errors": errors, "period_value": chosen},
        section="reports",
    )


def _cell_href(label_: str, cell: str, figures: str) -> str:
    return f"/reports/{label_}?" + urlencode({"cell": cell, "figures": figures}) + "#ledger"


def _form_groups(
    doc: Mapping[str, Any], selected: tuple[str, int, str] | None, lang: Language
) -> list[dict[str, Any]]:
    tables = {CORRECTED: doc["corrected"], **doc["raw"]}
    order: list[str] = []
    names: dict[str, str] = {}
    stts: dict[str, Any] = {}
    for form in FORMS:
        for row in tables[form]["rows"]:
            code = row.get("field_code") or row.get("field") or ""
            if code not in names:
                order.append(code)
                names[code] = row.get("field") or code
                stts[code] = row.get("stt") if form == CORRECTED else None
    by_code = {
        form: {(r.get("field_code") or r.get("field") or ""): r for r in tables[form]["rows"]}
        for form in FORMS
    }
    label_ = doc["period"]["label"]
    groups = []
    entries: list[tuple[str, Any, str, bool, dict[str, Mapping[str, Any] | None]]] = [
        (code, stts[code], names[code], False, {f: by_code[f].get(code) for f in FORMS})
        for code in order
    ]
    entries.append(
        (
            "total",
            None,
            text(lang, "report.total"),
            True,
            {f: tables[f]["total"] for f in FORMS},
        )
    )
    for code, stt, name, total, rows in entries:
        reference = rows[CORRECTED]
        form_rows = []
        for form in FORMS:
            row = rows[form]
            cells = []
            for column in HEADINGS:
                if column < 3:
                    continue
                value = int(row["cells"][str(column)]) if row else 0
                expected = int(reference["cells"][str(column)]) if reference else 0
                cell = f"{code}:{column}"
                cells.append(
                    {
                        "column": column,
                        "value": value,
                        "differs": form != CORRECTED and value != expected,
                        "href": _cell_href(label_, cell, form),
                        "selected": selected == (code, column, form),
                    }
                )
            form_rows.append({"form": form, "cells": cells})
        groups.append({"code": code, "stt": stt, "name": name, "total": total, "rows": form_rows})
    return groups


def _reasons_text(reasons: Sequence[Mapping[str, Any]], lang: Language) -> str:
    kinds = {r.get("kind") for r in reasons}
    shown = [r for r in reasons if not (r.get("kind") == "excluded" and r.get("detail") in kinds)]
    return "; ".join(reason_words(r, lang) for r in shown) or text(lang, "none")


@allow("viewer")
async def report_page(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    lang = lang_of(request)
    label_ = request.match_info["period"]
    try:
        period = Period.parse(label_, c.config.report.cutoff_day)
    except ValueError:
        return not_found(request, lang, text(lang, "report.bad_period", value=label_))
    errors: list[str] = []
    versions_raw = await c.store.report_versions(period.label)
    doc: Mapping[str, Any]
    wanted = request.query.get("version", "")
    if wanted.isdigit() and int(wanted) in versions_raw:
        doc = json.loads(versions_raw[int(wanted)])
    else:
        if wanted:
            errors.append(text(lang, "report.no_version", label=period.label, number=wanted))
        doc = await report_document(c.store, c.config, period, c.clock())
    cell: dict[str, Any] | None = None
    selected: tuple[str, int, str] | None = None
    raw_cell = request.query.get("cell", "").strip()
    figures = request.query.get("figures", CORRECTED)
    if figures not in FORMS:
        figures = CORRECTED
    if raw_cell:
        try:
            field_code, column = parse_cell(raw_cell)
        except ReportUsageError:
            errors.append(text(lang, "report.cell_bad", cell=raw_cell))
            raw_cell = ""
        else:
            known = form_fields(doc, figures)
            if field_code is not None and field_code not in known:
                fields = ", ".join([*known, "total"])
                errors.append(text(lang, "report.unknown_field", field=field_code, fields=fields))
                raw_cell = ""
    if raw_cell:
        keys = cell_ledger(doc, figures, field_code, column)
        code = field_code or "total"
        names = {r.get("field_code"): r.get("field") for r in doc["corrected"]["rows"]}
        selected = (code, column, figures)
        cell = {
            "name": text(lang, "report.total")
            if field_code is None
            else names.get(field_code) or field_code,
            "column": column,
            "figures": figures,
            "dossiers": keys[:LEDGER_SHOWN],
        }
    differences = sorted(
        doc.get("differences") or [],
        key=lambda d: (d["source"] != "city", d["key"]),
    )
    shown_differences = [
        {
            "source": d["source"],
            "key": d["key"],
            "code": d["codes"][0] if d.get("codes") else d["key"],
            "field_code": d.get("field_code") or "",
            "corrected_field_code": d.get("corrected_field_code") or "",
            "raw_cells": ", ".join(map(str, d.get("raw_cells") or [])) or text(lang, "none"),
            "corrected_cells": ", ".join(map(str, d.get("corrected_cells") or []))
            or text(lang, "none"),
            "reasons": _reasons_text(d.get("reasons") or [], lang),
        }
        for d in differences[:DIFFERENCES_SHOWN]
    ]
    indicators = [
        (
            form,
            [
                text(lang, "report.no_data")
                if (share := (doc.get("indicators") or {}).get(form, {}).get(name)) is None
                else percent_text(share, lang)
                for name in INDICATORS
            ],
        )
        for form in FORMS
    ]
    versions = []
    for number, blob in sorted(versions_raw.items()):
        published = json.loads(blob).get("version") or {}
        versions.append({"number": number, "at": published.get("published_at", "")})
    base = f"/api/v1/reports/{period.label}"
    version_query = f"&version={wanted}" if wanted.isdigit() and doc.get("version") else ""
    downloads = [
        (fmt, f"{base}?format={fmt}&lang={lang}{version_query}") for fmt in ("json", "csv", "xlsx")
    ]
    close_query = {k: v for k, v in request.query.items() if k not in ("cell", "figures")}
    close_href = f"/reports/{period.label}" + (f"?{urlencode(close_query)}" if close_query else "")
    return render(
        request,
        "report.html",
        lang,
        {
            "doc": doc,
            "errors": errors,
            "period_value": period.label,
            "headings": {n: h[lang] for n, h in HEADINGS.items()},
            "columns": [(n, h[lang]) for n, h in HEADINGS.items() if n >= 3],
            "groups": _form_groups(doc, selected, lang),
            "cell": cell,
            "close_cell_href": close_href,
            "indicator_names": [(name, INDICATOR_NAMES[name][lang]) for name in INDICATORS],
            "indicators": indicators,
            "differences": shown_differences,
            "differences_total": len(differences),
            "reasons_text": lambda reasons: _reasons_text(reasons, lang),
            "versions": versions,
            "downloads": downloads,
            "trust": trust_lines(doc.get("trust"), lang),
            "blocked": "; ".join(
                issue_text(i, doc.get("trust") or {}, lang) for i in refusals(doc.get("trust"))
            )
            if not doc.get("version")
            else "",
            "forced": forced_text(doc["version"], doc, lang)
            if (doc.get("version") or {}).get("forced")
            else "",
        },
        section="reports",
    )


@allow("admin")
async def publish_report(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    user = user_of(request)
    assert user is not None
    label_ = request.match_info["period"]
    try:
        period = Period.parse(label_, c.config.report.cutoff_day)
    except ValueError:
        raise web.HTTPNotFound() from None
    form = await request.post()
    force = form.get("force") == "1"
    reason = str(form.get("reason", "")).strip()
    here = f"/reports/{period.label}"
    if force and not reason:
        return redirect(request, here, ("error", "report.publish_force_reason", {}))
    now = c.clock()
    doc = await report_document(c.store, c.config, period, now)
    try:
        number = await publish(
            c.store, doc, now, by=user.name, force=force, reason=reason if force else ""
        )
    except PublishRefused as exc:
        reasons = exc.reasons(lang_of(request))
        return redirect(request, here, ("error", "report.publish_refused", {"reasons": reasons}))
    except RuntimeError:
        return redirect(request, here, ("error", "report.publish_conflict", {}))
    return redirect(
        request, here, ("ok", "report.published", {"label": period.label, "number": number})
    )


# --------------------------------------------------------------------------------------------
# Audit


@allow("viewer")
async def audit_page(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    lang = lang_of(request)
    q = request.query
    who = q.get("who", "").strip()
    key = q.get("key", "").strip()
    raw_limit = q.get("limit", "")
    limit = (
        min(int(raw_limit), AUDIT_MAX)
        if raw_limit.isdigit() and int(raw_limit) > 0
        else AUDIT_LIMIT
    )
    entries = await data.audit_log(c, limit=limit, who=who or None, key=key or None)
    csv_query = {k: v for k, v in (("who", who), ("key", key)) if v}
    csv_href = "/api/v1/audit.csv" + (f"?{urlencode(csv_query)}" if csv_query else "")
    return render(
        request,
        "audit.html",
        lang,
        {
            "entries": entries,
            "who": who,
            "key": key,
            "limit": limit,
            "max_limit": AUDIT_MAX,
            "csv_href": csv_href,
            "errors": [],
        },
        section="audit",
    )
