"""The aiohttp application: authentication, authorisation, CSRF, errors; the routes come from
`syncd.web.api` (JSON), `syncd.web.pages` (HTML) and `syncd.web.ops` (health, metrics).

Every handler declares who may call it with `@allow(role)` (or `@public`); a handler without a
declaration is refused to everyone, so a new route is closed until someone opens it. Callers are
identified by an API token (`Authorization: Bearer <token>`) or by the session cookie of the
pages. A request that changes something with a session cookie must carry the session's CSRF
token (header `X-CSRF-Token`, or form field `csrf_token`); token callers are exempt, since a
browser never sends a bearer token on its own.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import structlog
from aiohttp import web

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


def problem(status: int, title: str, detail: str = "") -> web.Response:
    """An error as application/problem+json (RFC 9457)."""
    return web.json_response(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
    )


@web.middleware
async def identify(request: web.Request, handler: Handler) -> web.StreamResponse:
    users = ctx(request).users
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = await users.by_token(header[len("Bearer ") :].strip())
        if user is None:
            return problem(401, "Unauthorized", "unknown or revoked token")
        request[USER], request[VIA] = user, "token"
    elif SESSION_COOKIE in request.cookies:
        session = await users.session(request.cookies[SESSION_COOKIE])
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
            return problem(401, "Unauthorized", "log in or send a bearer token")
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


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and not wants_html(request):
            return problem(exc.status, exc.reason, exc.text or "")
        raise
    except Exception:
        log.exception("request_failed", method=request.method, path=request.path)
        return problem(500, "Internal Server Error", "the error is in the server log")


def make_app(
    store: Store,
    config: Config,
    syncer: Any = None,
    clock: Callable[[], datetime] | None = None,
) -> web.Application:
    from syncd.web import api, ops, pages

    app = web.Application(middlewares=[errors, identify, authorise])
    now = clock or (lambda: datetime.now(UTC))
    users = Users(store, int(config.http.session_hours * 3600), now)
    app[CONTEXT] = Context(store, config, users, MismatchQueue(store, now), syncer, now)
    ops.add_routes(app)
    api.add_routes(app)
    pages.add_routes(app)
    return app
