"""The aiohttp application: authentication, authorisation, CSRF, errors; the routes come from
`syncd.web.api` (JSON), `syncd.web.pages` (HTML) and `syncd.web.ops` (health, metrics).

Every handler declares who may call it with `@allow(role)` (or `@public`); a handler without a
declaration is refused to everyone, so a new route is closed until someone opens it. Callers are
identified by an API token (`Authorization: Bearer <token>`) or by the session cookie of the
pages. A request that changes something with a session cookie must carry the session's CSRF
token (header `X-CSRF-Token`, or form field `csrf_token`); token callers are exempt, since a
browser never sends a bearer token on its own.

Credentials that cannot be ours (bytes that are not UTF-8, characters no token has) or that are
unknown, revoked or expired identify nobody: a route that needs a role answers 401 (pages send
the reader to the login form), a public one answers as to anyone. Unreadable ones are logged as
a warning at most once a minute per client address, without a traceback.

Every response carries `Server: syncd` (no version), `X-Content-Type-Options: nosniff` and,
unless it sets its own (the style sheet, the icon), `Cache-Control: no-store`. Errors are
problem+json for the API and the operations routes, and pages (Vietnamese, or English with the
language switch) for page URLs; a 405 says in `Allow` which methods the route takes. A JSON body
must be UTF-8 and nest at most MAX_JSON_DEPTH levels, else 400 (`json_body`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import structlog
from aiohttp import web

from reconcile.model import VN_TZ
from reconcile.period import Period
from syncd.config import Config
from syncd.queue import MismatchQueue
from syncd.report_cli import report_document
from syncd.store import Store
from syncd.web.auth import ROLES, Session, User, Users

log = structlog.get_logger("syncd.web")

SESSION_COOKIE = "syncd_session"
LANG_COOKIE = "syncd_lang"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC = "public"
REPORT_CACHE_SECONDS = 30.0
MAX_JSON_DEPTH = 32  # the API's bodies are flat objects: 2 levels would do
UNREADABLE_LOG_SECONDS = 60.0
# What a token or a session id can look like (secrets.token_urlsafe): anything else is no one's.
CREDENTIAL = re.compile(r"[A-Za-z0-9_-]{16,128}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)


def allow(role: str) -> Callable[[H], H]:
    """Let users of `role` or above call the handler."""
    if role not in ROLES:
        raise ValueError(role)

    def mark(handler: H) -> H:
        handler.syncd_role = role  # type: ignore[attr-defined]
        return handler

    return mark


def public(handler: H) -> H:
    handler.syncd_role = PUBLIC  # type: ignore[attr-defined]
    return handler


def required_role(handler: Any) -> str | None:
    """The role a handler declares (None: it declares none and is refused to everyone)."""
    return getattr(handler, "syncd_role", None)


@dataclass
class Context:
    """What handlers share, reachable as `request.app[CONTEXT]`."""

    store: Store
    config: Config
    users: Users
    queue: MismatchQueue
    syncer: Any = None  # a syncd.service.Syncer when the app can trigger resyncs
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # period label -> (monotonic time, report document): the dashboard's figures, recomputed
    # at most every REPORT_CACHE_SECONDS (a month's report at 1M dossiers takes seconds).
    report_cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    report_cache_period: tuple[float, Period] | None = None
    # client address -> monotonic time its unreadable credentials were last logged
    unreadable_logged: dict[str, float] = field(default_factory=dict)

    def first_in_a_while(self, client: str, seconds: float = UNREADABLE_LOG_SECONDS) -> bool:
        """Whether to log this client's unreadable credentials now (once per `seconds`)."""
        now = time.monotonic()
        if now - self.unreadable_logged.get(client, -seconds - 1) <= seconds:
            return False
        if len(self.unreadable_logged) > 10_000:  # many clients: forget the quiet ones
            self.unreadable_logged = {
                k: v for k, v in self.unreadable_logged.items() if now - v <= seconds
            }
        self.unreadable_logged[client] = now
        return True

    async def data_period(self) -> Period:
        """The reporting period the dashboard shows first: the latest one with dossiers (the
        one holding the end of the latest month in the period index), never one after
        today's; today's when there is no data. Found again at most every
        REPORT_CACHE_SECONDS (it scans the index's keys)."""
        from syncd.web.data import latest_month

        cached = self.report_cache_period
        if cached is not None and time.monotonic() - cached[0] < REPORT_CACHE_SECONDS:
            return cached[1]
        cutoff = self.config.report.cutoff_day
        today = Period.containing(self.clock().astimezone(VN_TZ).date(), cutoff)
        month = await latest_month(self)
        period = today
        if month is not None:
            last_day = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
            found = Period.containing(last_day - timedelta(days=1), cutoff)
            period = min(found, today, key=lambda p: p.start)
        self.report_cache_period = (time.monotonic(), period)
        return period

    async def recent_report(self, period: Period) -> dict[str, Any]:
        cached = self.report_cache.get(period.label)
        if cached is not None and time.monotonic() - cached[0] < REPORT_CACHE_SECONDS:
            return cached[1]
        doc = await report_document(self.store, self.config, period, self.clock())
        self.report_cache[period.label] = (time.monotonic(), doc)
        return doc


CONTEXT = web.AppKey("syncd", Context)
USER = web.RequestKey("user", User)
SESSION = web.RequestKey("session", Session)
VIA = web.RequestKey("via", str)  # how the caller was identified: "token" or "cookie"
REFUSED = web.RequestKey("refused", str)  # why the credentials sent identify nobody
# Renders an error page for a page URL: (request, status, headers) -> response (syncd.web.pages)
ErrorPage = Callable[[web.Request, int, dict[str, str]], web.Response]
ERROR_PAGE: web.AppKey[ErrorPage] = web.AppKey("syncd_error_page")


def ctx(request: web.Request) -> Context:
    return request.app[CONTEXT]


def user_of(request: web.Request) -> User | None:
    return request.get(USER)


def session_of(request: web.Request) -> Session | None:
    return request.get(SESSION)


def wants_html(request: web.Request) -> bool:
    return not request.path.startswith("/api/") and request.path not in (
        "/healthz",
        "/readyz",
        "/metrics",
    )


def problem(
    status: int, title: str, detail: str = "", headers: dict[str, str] | None = None
) -> web.Response:
    """An error as application/problem+json (RFC 9457)."""
    return web.json_response(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
        headers=headers,
    )


def client_address(request: web.Request, behind_proxy: bool) -> str:
    """Who is calling, for throttling and logs: the connection's address, or behind a proxy
    (which every client shares) the address the proxy appended last to X-Forwarded-For; a
    client can forge what comes before it, not that."""
    if behind_proxy:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
        if hops and hops[-1]:
            return hops[-1]
    return request.remote or "unknown"


def _credential(request: web.Request, value: str, where: str) -> str | None:
    """`value` if it can be a token or session id; else None, logged now and then."""
    if CREDENTIAL.fullmatch(value):
        return value
    if not value.isascii() or not value.isprintable():
        c = ctx(request)
        client = client_address(request, c.config.http.behind_proxy)
        if c.first_in_a_while(client):
            log.warning("credentials_unreadable", where=where, path=request.path)
    return None


@web.middleware
async def identify(request: web.Request, handler: Handler) -> web.StreamResponse:
    users = ctx(request).users
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        token = _credential(request, value.strip(), "authorization")
        user = await users.by_token(token) if token else None
        if user is None:
            request[REFUSED] = "unknown or revoked token"
        else:
            request[USER], request[VIA] = user, "token"
    elif SESSION_COOKIE in request.cookies:
        sid = _credential(request, request.cookies[SESSION_COOKIE], "cookie")
        session = await users.session(sid) if sid else None
        if session is not None:
            request[USER], request[SESSION], request[VIA] = session.user, session, "cookie"
    return await handler(request)


@web.middleware
async def authorise(request: web.Request, handler: Handler) -> web.StreamResponse:
    role = required_role(request.match_info.handler)
    if role is None and request.match_info.http_exception is None:
        return problem(403, "Forbidden", "this route declares no access")
    if role is not None and role != PUBLIC:
        user = user_of(request)
        if user is None:
            if wants_html(request) and request.method in SAFE_METHODS:
                raise web.HTTPSeeOther("/login?" + urlencode({"next": request.path_qs}))
            detail = request.get(REFUSED) or "log in or send a bearer token"
            return problem(401, "Unauthorized", detail)
        if not user.can(role):
            return problem(403, "Forbidden", f"needs the {role} role")
    if request.method not in SAFE_METHODS and request.get(VIA) == "cookie":
        session = session_of(request)
        sent = request.headers.get("X-CSRF-Token")
        if sent is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            sent = str((await request.post()).get("csrf_token", ""))
        if session is None or not sent or sent != session.csrf:
            return problem(403, "Forbidden", "missing or wrong CSRF token")
    return await handler(request)


# Headers of an HTTP error worth keeping when it is answered as a problem or a page.
KEPT_HEADERS = ("Allow", "Retry-After")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kept = {name: exc.headers[name] for name in KEPT_HEADERS if name in exc.headers}
        if not wants_html(request):
            return problem(exc.status, exc.reason, _detail(exc), kept)
        return _error_page(request, exc.status, kept) or exc
    except Exception:
        log.exception("request_failed", method=request.method, path=request.path)
        if wants_html(request):
            page = _error_page(request, 500, {})
            if page is not None:
                return page
        return problem(500, "Internal Server Error", "the error is in the server log")


def _detail(exc: web.HTTPException) -> str:
    """What an HTTP error says, without aiohttp's default "405: Method Not Allowed" echo."""
    text = exc.text or ""
    return "" if text == f"{exc.status}: {exc.reason}" else text


def _error_page(request: web.Request, status: int, headers: dict[str, str]) -> web.Response | None:
    render = request.app.get(ERROR_PAGE)
    if render is None:
        return None
    try:
        return render(request, status, headers)
    except Exception:  # the page itself failed: the plain answer will do
        log.exception("error_page_failed", status=status, path=request.path)
        return None


async def _common_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = "syncd"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Cache-Control", "no-store")


class BodyError(ValueError):
    """A request body that is not the JSON the API reads; the text says why."""


def nesting_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (strings skipped)."""
    depth = deepest = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "]}":
            depth -= 1
    return deepest


_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


async def json_body(request: web.Request) -> Any:
    """The request's JSON body: UTF-8, nesting at most MAX_JSON_DEPTH levels; else BodyError."""
    try:
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("the request body is not UTF-8 text") from None
    if nesting_depth(text) > MAX_JSON_DEPTH:
        raise BodyError(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise BodyError("the request body is not JSON") from None


def make_app(
    store: Store,
    config: Config,
    syncer: Any = None,
    clock: Callable[[], datetime] | None = None,
) -> web.Application:
    from syncd.web import api, ops, pages, sync_pages

    app = web.Application(middlewares=[errors, identify, authorise])
    app.on_response_prepare.append(_common_headers)
    now = clock or (lambda: datetime.now(UTC))
    users = Users(store, int(config.http.session_hours * 3600), now)
    app[CONTEXT] = Context(store, config, users, MismatchQueue(store, now), syncer, now)
    ops.add_routes(app)
    api.add_routes(app)
    pages.add_routes(app)
    sync_pages.add_routes(app)
    return app
