"""The web pages, server side: logging in (throttling, redirects, cookies), CSRF, roles, and
every page rendered in both languages from a real sync cycle on the mock portals."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connectors.base import Connector
from connectors.scenario import Scenario
from reconcile.model import Source
from reconcile.period import Period
from syncd.config import Config
from syncd.queue import public_id
from syncd.report_cli import report_document
from syncd.reports import cell_ledger
from syncd.service import Syncer
from syncd.store import Store
from syncd.web import pages
from syncd.web.app import LANG_COOKIE, SESSION_COOKIE, make_app, required_role
from syncd.web.auth import ROLES, Users
from syncd.web.texts import label
from tests.conftest import Clock

PASSWORD = "mat-khau-du-dai"
ClientFactory = Callable[..., Any]
Client = TestClient[web.Request, web.Application]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


@dataclass
class Site:
    server: TestServer
    store: Store
    config: Config
    scenario: Scenario
    make_client: ClientFactory

    async def client(self) -> Client:
        made: Client = await self.make_client(self.server)
        return made

    async def logged_in(self, role: str) -> tuple[Client, str]:
        """A client logged in as the user of `role`, and its session's CSRF token."""
        client = await self.client()
        resp = await login(client, f"{role}1", PASSWORD)
        assert resp.status == 303, await resp.text()
        page = await (await client.get("/")).text()
        match = CSRF.search(page)
        assert match, page
        return client, match[1]


async def login(
    client: Client,
    name: str,
    password: str,
    next_path: str = "/",
    lang: str = "vi",
    headers: dict[str, str] | None = None,
) -> Any:
    form = await (await client.get(f"/login?lang={lang}")).text()
    token = LOGIN_TOKEN.search(form)
    assert token, form
    return await client.post(
        "/login",
        data={"username": name, "password": password, "login_token": token[1], "next": next_path},
        allow_redirects=False,
        headers=headers,
    )


async def make_site(
    make_client: ClientFactory,
    store: Store,
    config: Config,
    scenario: Scenario,
    connectors: list[Connector] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Site:
    if connectors is not None:
        await Syncer(store, connectors, clock=lambda: scenario.now).cycle()
    users = Users(store)
    for role in ROLES:
        await users.add(f"{role}1", role, PASSWORD)
    app = make_app(store, config, clock=clock or (lambda: scenario.now))
    return Site(TestServer(app), store, config, scenario, make_client)


@pytest.fixture
async def site(
    aiohttp_client: ClientFactory,
    store: Store,
    config: Config,
    scenario: Scenario,
    connectors: list[Connector],
) -> Site:
    return await make_site(aiohttp_client, store, config, scenario, connectors)


@pytest.fixture
async def empty_site(
    aiohttp_client: ClientFactory, store: Store, config: Config, scenario: Scenario
) -> Site:
    """Users but no synced data: enough for logging in."""
    return await make_site(aiohttp_client, store, config, scenario)


async def open_mismatch(store: Store, kinds: tuple[str, ...] = ()) -> dict[str, Any]:
    found = sorted(
        (r for r in await store.mismatches() if r["state"] == "open"),
        key=lambda r: r["id"],
    )
    if kinds:
        found = [r for r in found if r["kind"] in kinds]
    assert found
    return found[0]


def page_of(mismatch_id: str) -> str:
    """The page of a mismatch, at its id as shown ("<key>~<kind>": nothing escaped)."""
    return "/mismatches/" + public_id(mismatch_id)


def text_of(body: str) -> str:
    """The page's text without tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


# --------------------------------------------------------------------------------------------
# Logging in


async def test_the_login_form_is_public_labelled_and_in_vietnamese(empty_site: Site) -> None:
    client = await empty_site.client()
    resp = await client.get("/login")
    body = await resp.text()
    assert resp.status == 200
    assert '<html lang="vi">' in body
    assert '<label for="username">Tên đăng nhập</label>' in body
    assert '<label for="password">Mật khẩu</label>' in body
    assert 'href="#main"' in body  # the skip link
    assert "Content-Security-Policy" in resp.headers
    english = await (await client.get("/login?lang=en")).text()
    assert '<html lang="en">' in english
    assert "User name" in english


async def test_pages_send_a_logged_out_reader_to_the_login_form(empty_site: Site) -> None:
    client = await empty_site.client()
    for path in ("/", "/mismatches", "/reports/2024-07", "/audit", "/overdue"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 303, path
        assert resp.headers["Location"] == f"/login?next={path}"


async def test_logging_in_sets_a_session_cookie_that_scripts_cannot_read(
    empty_site: Site,
) -> None:
    client = await empty_site.client()
    resp = await login(client, "operator1", PASSWORD, next_path="/mismatches")
    assert resp.status == 303
    assert resp.headers["Location"] == "/mismatches"
    cookie = resp.cookies[SESSION_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]
    assert cookie["path"] == "/"
    page = await client.get("/mismatches")
    assert page.status == 200
    assert "operator1" in await page.text()


async def test_the_session_cookie_is_secure_when_configured(
    aiohttp_client: ClientFactory, store: Store, config: Config, scenario: Scenario
) -> None:
    secure = replace(config, http=replace(config.http, secure_cookies=True))
    site = await make_site(aiohttp_client, store, secure, scenario)
    client = await site.client()
    form = await client.get("/login")
    assert form.cookies[pages.LOGIN_COOKIE]["secure"] is True
    token = LOGIN_TOKEN.search(await form.text())
    assert token
    # The test client speaks plain HTTP, so it keeps no Secure cookie: send it by hand.
    resp = await client.post(
        "/login",
        data={"username": "viewer1", "password": PASSWORD, "login_token": token[1]},
        cookies={pages.LOGIN_COOKIE: token[1]},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert resp.cookies[SESSION_COOKIE]["secure"] is True


async def test_a_wrong_password_gets_a_generic_message_and_no_session(empty_site: Site) -> None:
    client = await empty_site.client()
    for name, password in (("viewer1", "wrong-password"), ("nobody", PASSWORD)):
        resp = await login(client, name, password)
        body = await resp.text()
        assert resp.status == 401
        assert "Tên đăng nhập hoặc mật khẩu không đúng." in body
        assert SESSION_COOKIE not in resp.cookies


async def test_a_login_form_posted_without_its_token_is_refused(empty_site: Site) -> None:
    client = await empty_site.client()
    resp = await client.post(
        "/login",
        data={"username": "admin1", "password": PASSWORD},
        allow_redirects=False,
    )
    assert resp.status == 400
    assert SESSION_COOKIE not in resp.cookies


async def throttled_site(
    aiohttp_client: ClientFactory,
    store: Store,
    config: Config,
    scenario: Scenario,
    clock: Clock,
    **http: Any,
) -> Site:
    tight = replace(config, http=replace(config.http, **http))
    return await make_site(aiohttp_client, store, tight, scenario, clock=clock)


def from_address(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def test_failed_logins_of_a_name_from_an_address_wait_longer_and_longer(
    aiohttp_client: ClientFactory, store: Store, config: Config, scenario: Scenario
) -> None:
    clock = Clock(scenario.now)
    site = await throttled_site(
        aiohttp_client, store, config, scenario, clock, login_attempts=3, behind_proxy=True
    )
    client = await site.client()
    me = from_address("198.51.100.7")
    for _ in range(3):
        assert (await login(client, "operator1", "wrong-password", headers=me)).status == 401
    # The 4th attempt, even with the right password, waits 1 s; and the page says so.
    refused = await login(client, "operator1", PASSWORD, headers=me)
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "1"
    said = text_of(await refused.text())
    assert "Tài khoản này đã đăng nhập sai 3 lần liên tiếp từ máy của bạn" in said
    assert "vui lòng chờ 1 giây rồi thử lại" in said
    assert SESSION_COOKIE not in refused.cookies
    # Each further failure doubles the wait: 2 s, then 4 s.
    clock.advance(1.01)
    assert (await login(client, "operator1", "wrong-password", headers=me)).status == 401
    clock.advance(1.5)
    assert (await login(client, "operator1", PASSWORD, headers=me)).status == 429
    clock.advance(0.6)
    assert (await login(client, "operator1", "wrong-password", headers=me)).status == 401
    waiting = await login(client, "operator1", PASSWORD, headers=me, lang="en")
    assert waiting.status == 429
    assert waiting.headers["Retry-After"] == "4"
    assert "5 failed attempts in a row for this account from your device" in text_of(
        await waiting.text()
    )
    assert "please wait 4 s and try again" in text_of(await waiting.text())
    clock.advance(4.01)
    allowed = await login(client, "operator1", PASSWORD, headers=me)
    assert allowed.status == 303
    assert SESSION_COOKIE in allowed.cookies
    # A success ends the count: the next typo is just a typo.
    again = await site.client()
    assert (await login(again, "operator1", "wrong-password", headers=me)).status == 401
    assert (await login(again, "operator1", PASSWORD, headers=me)).status == 303


async def test_nobody_can_lock_someone_elses_name(
    aiohttp_client: ClientFactory, store: Store, config: Config, scenario: Scenario
) -> None:
    clock = Clock(scenario.now)
    site = await throttled_site(
        aiohttp_client, store, config, scenario, clock, login_attempts=3, behind_proxy=True
    )
    client = await site.client()
    guesser = from_address("198.51.100.7")
    for _ in range(3):
        assert (await login(client, "admin1", "guess", headers=guesser)).status == 401
    assert (await login(client, "admin1", "guess", headers=guesser)).status == 429
    # The owner of the name, from their own desk, is not slowed at all.
    owner = from_address("192.0.2.20")
    assert (await login(await site.client(), "admin1", PASSWORD, headers=owner)).status == 303
    # The guesser cannot dress the header to escape: the proxy appends the real hop last.
    forged = from_address("203.0.113.9, 198.51.100.7")
    assert (await login(client, "admin1", PASSWORD, headers=forged)).status == 429


async def test_an_address_is_refused_only_far_above_one_persons_typing(
    aiohttp_client: ClientFactory, store: Store, config: Config, scenario: Scenario
) -> None:
    clock = Clock(scenario.now)
    site = await throttled_site(
        aiohttp_client,
        store,
        config,
        scenario,
        clock,
        login_attempts=3,
        login_address_attempts=6,
        login_window_seconds=600,
    )
    client = await site.client()  # no proxy: every request comes from 127.0.0.1
    for n in range(6):  # a different name each time: only the address is common
        clock.advance(10)
        assert (await login(client, f"guess{n}", "wrong-password")).status == 401
    refused = await login(client, "admin1", PASSWORD)
    assert refused.status == 429
    said = text_of(await refused.text())
    assert "Có 6 lần đăng nhập sai từ địa chỉ mạng của bạn trong 10 phút qua" in said
    assert "Vui lòng thử lại sau 10 phút" in said  # the oldest failure leaves the window then
    assert refused.headers["Retry-After"] == str(600 - 50)
    clock.advance(550)
    assert (await login(client, "admin1", PASSWORD)).status == 303


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/%0d%0aSet-Cookie:x=1",
        "",
    ],
)
async def test_logging_in_never_redirects_to_another_site(empty_site: Site, target: str) -> None:
    resp = await login(await empty_site.client(), "viewer1", PASSWORD, next_path=target)
    assert resp.status == 303
    location = resp.headers["Location"]
    assert location.startswith("/")
    assert not location.startswith("//")
    assert "evil" not in location
    assert "\\" not in location
    if not target.startswith("/%0d"):
        assert location == "/"


def test_only_local_paths_are_followed_after_logging_in() -> None:
    assert pages.safe_next("/mismatches?kind=status&state=open") == (
        "/mismatches?kind=status&state=open"
    )
    assert pages.safe_next("/reports/2024-07#ledger") == "/reports/2024-07#ledger"
    for bad in ("https://x.example", "//x.example", "/\\x", "x", "/\nx", "/login", None):
        assert pages.safe_next(bad) == "/"


async def test_logging_out_needs_the_csrf_token_and_ends_the_session(site: Site) -> None:
    client, csrf = await site.logged_in("viewer")
    assert (await client.post("/logout", allow_redirects=False)).status == 403
    assert (await client.get("/", allow_redirects=False)).status == 200
    resp = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/login"
    after = await client.get("/login")
    assert "Đã đăng xuất." in await after.text()
    assert (await client.get("/", allow_redirects=False)).status == 303


# --------------------------------------------------------------------------------------------
# Roles and CSRF on the mismatch pages


async def test_a_post_without_the_csrf_token_is_refused(site: Site) -> None:
    record = await open_mismatch(site.store)
    client, csrf = await site.logged_in("operator")
    path = page_of(record["id"])
    for data in ({}, {"csrf_token": "forged"}):
        resp = await client.post(f"{path}/claim", data=data, allow_redirects=False)
        assert resp.status == 403
        assert "CSRF" in (await resp.json())["detail"]
    assert (await site.store.mismatch_records([record["id"]]))[record["id"]]["state"] == "open"
    resp = await client.post(f"{path}/claim", data={"csrf_token": csrf}, allow_redirects=False)
    assert resp.status == 303
    claimed = (await site.store.mismatch_records([record["id"]]))[record["id"]]
    assert claimed["state"] == "claimed"
    assert claimed["claimed_by"] == "operator1"


async def test_a_viewer_sees_no_forms_and_a_forged_resolve_is_refused(site: Site) -> None:
    record = await open_mismatch(site.store)
    client, csrf = await site.logged_in("viewer")
    body = await (await client.get(page_of(record["id"]))).text()
    assert 'id="resolve-form"' not in body
    assert 'id="claim-form"' not in body
    assert 'id="reopen-form"' not in body
    assert "Bạn có quyền xem." in body
    for step in ("claim", "resolve", "reopen"):
        resp = await client.post(
            f"{page_of(record['id'])}/{step}",
            data={"csrf_token": csrf, "action": "ignore", "reason": "forged"},
            allow_redirects=False,
        )
        assert resp.status == 403, step
    after = (await site.store.mismatch_records([record["id"]]))[record["id"]]
    assert after["state"] == "open"
    assert after["resolution"] is None


async def test_an_operator_resolves_with_a_reason_and_reads_what_happened(site: Site) -> None:
    record = await open_mismatch(site.store)
    client, csrf = await site.logged_in("operator")
    path = page_of(record["id"])
    body = await (await client.get(path)).text()
    for field in ('<label for="action">', '<label for="value">', '<label for="reason">'):
        assert field in body
    assert '<textarea id="reason" name="reason" required>' in body

    missing = await client.post(
        f"{path}/resolve", data={"csrf_token": csrf, "action": "ignore", "reason": "  "}
    )
    assert "Cần nêu lý do, không được để trống." in await missing.text()
    assert (await site.store.mismatch_records([record["id"]]))[record["id"]]["state"] == "open"

    reason = "Đã đối chiếu hồ sơ giấy <b>bản gốc</b>"
    resp = await client.post(
        f"{path}/resolve",
        data={"csrf_token": csrf, "action": "ignore", "reason": reason},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert resp.headers["Location"] == path
    page = await client.get(path)
    body = await page.text()
    named = f"{record['key']} — {label('vi', 'kind', record['kind'])}"
    assert f"Đã giải quyết sai lệch {named}: bỏ qua." in body
    assert "&lt;b&gt;bản gốc&lt;/b&gt;" in body
    assert "<b>bản gốc</b>" not in body
    assert 'id="reopen-form"' in body
    assert 'id="resolve-form"' not in body
    resolved = (await site.store.mismatch_records([record["id"]]))[record["id"]]
    assert resolved["state"] == "resolved"
    assert resolved["resolution"]["by"] == "operator1"
    assert resolved["resolution"]["reason"] == reason
    # The message is shown once.
    assert "Đã giải quyết sai lệch" not in await (await client.get(path)).text()

    reopened = await client.post(
        f"{path}/reopen", data={"csrf_token": csrf, "reason": "Cần xem lại"}
    )
    assert f"Đã mở lại sai lệch {named}." in await reopened.text()


async def test_a_manual_value_is_checked_and_a_bad_one_explained(site: Site) -> None:
    record = await open_mismatch(site.store, ("status", "collapsed_status"))
    client, csrf = await site.logged_in("operator")
    path = page_of(record["id"])
    bad = await client.post(
        f"{path}/resolve",
        data={"csrf_token": csrf, "action": "manual", "value": "status=99", "reason": "x"},
    )
    assert "status='99': cần một số nguyên từ 1 đến 10" in text_of(await bad.text())
    good = await client.post(
        f"{path}/resolve",
        data={"csrf_token": csrf, "action": "manual", "value": "status=9", "reason": "giấy tờ"},
    )
    assert good.status == 200
    resolved = (await site.store.mismatch_records([record["id"]]))[record["id"]]
    assert resolved["resolution"]["overrides"] == {"status": "9"}


async def test_every_page_route_declares_who_may_use_it(site: Site) -> None:
    app = site.server.app
    assert app is not None
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/api/") or path in ("/healthz", "/readyz", "/metrics"):
            continue
        if route.method == "HEAD":
            continue
        assert required_role(route.handler) is not None, (route.method, path)
    mutating = {
        ("/mismatches/{id}/claim", "operator"),
        ("/mismatches/{id}/resolve", "operator"),
        ("/mismatches/{id}/reopen", "operator"),
        ("/reports/{period}/publish", "admin"),
    }
    found = {
        (route.resource.get_info().get("formatter", ""), required_role(route.handler))
        for route in app.router.routes()
        if route.method == "POST" and route.resource is not None
    }
    assert mutating <= found


# --------------------------------------------------------------------------------------------
# The pages, in both languages


PAGES_VI_EN = [
    ("/", "Tổng quan", "Dashboard"),
    ("/mismatches", "Hàng đợi sai lệch", "Mismatch queue"),
    ("/overdue", "Hồ sơ quá hạn và sắp đến hạn", "Overdue dossiers and dossiers due soon"),
    ("/reports", "Báo cáo Biểu số 06/VPCP/KSTT", "Report form 06/VPCP/KSTT"),
    ("/reports/2024-07", "Số hồ sơ nhận: tổng số", "Received: total"),
    ("/audit", "Nhật ký thao tác", "Audit log"),
]


async def test_every_page_renders_in_vietnamese_and_english(site: Site) -> None:
    record = await open_mismatch(site.store)
    client, _ = await site.logged_in("admin")
    pages_ = [
        *PAGES_VI_EN,
        (page_of(record["id"]), "Đối chiếu từng trường", "Field by field"),
        (f"/dossiers/{quote(record['key'])}", "Bản ghi của hai hệ thống", "Both systems' records"),
    ]
    for path, vi, en in pages_:
        for lang, expected in (("vi", vi), ("en", en)):
            joiner = "&" if "?" in path else "?"
            resp = await client.get(f"{path}{joiner}lang={lang}")
            body = await resp.text()
            assert resp.status == 200, (path, lang, body[:500])
            assert f'<html lang="{lang}">' in body, (path, lang)
            assert expected in text_of(body), (path, lang)
            # Every page offers the other language.
            assert 'hreflang="vi"' in body
            assert 'hreflang="en"' in body
    # The chosen language sticks (cookie) until changed.
    await client.get("/?lang=en")
    assert client.session.cookie_jar.filter_cookies(client.make_url("/"))[LANG_COOKIE].value == "en"
    assert '<html lang="en">' in await (await client.get("/mismatches")).text()
    assert '<html lang="vi">' in await (await client.get("/mismatches?lang=vi")).text()


async def test_vietnamese_pages_keep_their_diacritics(site: Site) -> None:
    client, _ = await site.logged_in("viewer")
    body = text_of(await (await client.get("/?lang=vi")).text())
    for words in (
        "Tình trạng đồng bộ",
        "Sai lệch chưa xử lý theo loại",
        "Hồ sơ quá hạn",
        "Sắp đến hạn".lower(),
        "Sau đối soát",
        "Một cửa thành phố (thô)",
        "Đăng xuất",
        "Tiếng Việt",
    ):
        assert words in body or words in body.lower(), words


async def test_the_dashboard_counts_what_the_store_holds(site: Site) -> None:
    client, _ = await site.logged_in("viewer")
    body = await (await client.get("/")).text()
    active = [r for r in await site.store.mismatches() if r["state"] in ("open", "claimed")]
    assert f"Tổng số sai lệch chưa xử lý: {len(active)}" in body
    kinds = {r["kind"] for r in active}
    for kind in kinds:
        assert f'href="/mismatches?kind={kind}&amp;state=open"' in body or (
            f'href="/mismatches?kind={kind}"' in body
        )
    period = Period.containing(site.scenario.now.date(), site.config.report.cutoff_day)
    assert f"/reports/{period.label}" in body


async def test_a_portal_failure_is_told_in_the_readers_language_with_its_detail(
    site: Site,
) -> None:
    detail = "national: POST api/LayDanhSachHoSo: HTTP 503 (after 4 attempts)"
    at = (site.scenario.now + timedelta(seconds=30)).isoformat()  # after the last read
    await site.store.record_error(Source.NATIONAL, at, detail, "server_error")
    await site.store.record_status(
        Source.NATIONAL, last_error=detail, last_error_kind="server_error", last_error_at=at
    )
    client, _ = await site.logged_in("viewer")
    vi = html.unescape(await (await client.get("/")).text())
    assert f"Máy chủ của cổng gặp lỗi (HTTP 5xx) (chi tiết kỹ thuật: {detail})" in vi
    en = html.unescape(await (await client.get("/?lang=en")).text())
    assert f"The portal's server failed (HTTP 5xx) (technical detail: {detail})" in en
    # The report's trust statement says it the same way (the poll failed after the last read).
    report = html.unescape(await (await client.get("/reports/2024-08?lang=vi")).text())
    assert "1 lần đọc lỗi từ đó" in report
    assert f"Máy chủ của cổng gặp lỗi (HTTP 5xx) (chi tiết kỹ thuật: {detail})" in report


async def test_the_queue_filters_and_pages(site: Site) -> None:
    client, _ = await site.logged_in("viewer")
    everything = await site.store.mismatches(include_gone=True)
    body = await (await client.get("/mismatches")).text()
    assert f"{len(everything)} sai lệch" in body
    assert len(everything) > pages.PAGE_SIZE  # there is a second page
    assert 'href="/mismatches?page=2"' in body
    second = await (await client.get("/mismatches?page=2")).text()
    assert body.count("<tr>") - 1 == pages.PAGE_SIZE
    assert second.count("<tr>") - 1 == len(everything) - pages.PAGE_SIZE
    kind = "channel"
    filtered = await (await client.get(f"/mismatches?kind={kind}")).text()
    rows = re.findall(r'<td class="code key"><a href="/mismatches/([^"]+)"', filtered)
    expected = sorted(public_id(r["id"]) for r in everything if r["kind"] == kind)
    assert sorted(rows) == expected
    assert f'<option value="{kind}" selected>' in filtered
    bad = await (await client.get("/mismatches?from=2024-13-01")).text()
    assert "không hợp lệ" in bad


async def test_a_report_cell_lists_the_dossiers_behind_it(site: Site) -> None:
    client, _ = await site.logged_in("viewer")
    period = Period.parse("2024-07", site.config.report.cutoff_day)
    doc = await report_document(site.store, site.config, period, site.scenario.now)
    row = doc["corrected"]["rows"][0]
    field_code = row["field_code"]
    expected = cell_ledger(doc, "corrected", field_code, 3)
    assert len(expected) == row["cells"]["3"] > 0
    body = await (
        await client.get(f"/reports/2024-07?cell={field_code}:3&figures=corrected")
    ).text()
    listed = re.findall(r'<li><a href="/dossiers/([^"]+)">', body)
    assert listed == [quote(k, safe="") for k in expected]
    assert "cột (3)" in text_of(body)
    # Raw cells that differ from the reconciled figure carry a text marker, not just a colour.
    assert 'class="num differs' in body
    assert "≠" in body
    assert "/api/v1/reports/2024-07?format=xlsx" in body
    # A field the report does not have is an error naming those it has, not an empty list.
    unknown = await (await client.get("/reports/2024-07?cell=XYZ:9")).text()
    assert 'id="ledger"' not in unknown
    assert "lĩnh vực 'XYZ' không có trong báo cáo" in html.unescape(unknown)
    assert "DT, LD" in unknown


async def test_an_operator_marks_a_dossier_as_migrated_on_its_page(site: Site) -> None:
    migrated = next(d for d in site.scenario.dossiers if d.migrated is not None)
    viewer, _ = await site.logged_in("viewer")
    body = await (await viewer.get(f"/dossiers/{quote(migrated.code)}")).text()
    assert "được xác định là chuyển từ hệ thống cũ" in body  # the engine's signs are shown
    assert "code_date=" in body
    assert 'id="migrated-form"' not in body
    operator, csrf = await site.logged_in("operator")
    page = f"/dossiers/{quote(migrated.code)}"
    assert 'id="migrated-form"' in await (await operator.get(page)).text()
    refused = await operator.post(
        f"{page}/migrated", data={"csrf_token": csrf, "migrated": "false", "reason": " "}
    )
    assert "Cần nêu lý do" in await refused.text()
    done = await operator.post(
        f"{page}/migrated",
        data={"csrf_token": csrf, "migrated": "false", "reason": "hồ sơ thật của hệ thống mới"},
    )
    body = await done.text()
    assert "không phải hồ sơ chuyển từ hệ thống cũ" in body
    assert "Cán bộ đã xác định hồ sơ này không phải chuyển từ hệ thống cũ." in body
    assert (await site.store.overrides([migrated.code]))[migrated.code] == {"migrated": "false"}
    forged = await operator.post(f"{page}/migrated", data={"migrated": "true", "reason": "x"})
    assert forged.status == 403  # no CSRF token


async def test_only_an_admin_publishes_and_the_version_is_listed(site: Site) -> None:
    operator, operator_csrf = await site.logged_in("operator")
    body = await (await operator.get("/reports/2024-07")).text()
    assert 'id="publish-form"' not in body
    refused = await operator.post(
        "/reports/2024-07/publish", data={"csrf_token": operator_csrf}, allow_redirects=False
    )
    assert refused.status == 403
    admin, csrf = await site.logged_in("admin")
    assert 'id="publish-form"' in await (await admin.get("/reports/2024-07")).text()
    resp = await admin.post("/reports/2024-07/publish", data={"csrf_token": csrf})
    body = await resp.text()
    assert "Đã công bố báo cáo kỳ 2024-07: bản số 1." in body
    assert 'href="/reports/2024-07?version=1"' in body
    assert "Điều chỉnh so với bản công bố số 1" in body
    assert list(await site.store.report_versions("2024-07")) == [1]
    audit = await (await admin.get("/audit?who=admin1")).text()
    assert "công bố báo cáo" in audit
    assert "bản công bố số 1" in audit


async def test_the_report_page_states_its_trust_and_guards_publishing(site: Site) -> None:
    admin, csrf = await site.logged_in("admin")
    final = await (await admin.get("/reports/2024-07")).text()
    assert 'id="trust-banner"' in final
    assert "Số liệu đã chốt" in final
    assert 'id="publish-blocked"' not in final
    # 2024-08 has not ended at the app's clock (25/7/2024).
    body = await (await admin.get("/reports/2024-08")).text()
    assert 'role="alert"' in body
    assert "TẠM TÍNH: kỳ báo cáo chưa kết thúc (đến hết ngày 19/8/2024)" in body
    assert 'id="publish-blocked"' in body
    refused = await admin.post("/reports/2024-08/publish", data={"csrf_token": csrf})
    text = html.unescape(await refused.text())
    assert "Chưa công bố: kỳ báo cáo chưa kết thúc" in text
    assert list(await site.store.report_versions("2024-08")) == []
    no_reason = await admin.post(
        "/reports/2024-08/publish", data={"csrf_token": csrf, "force": "1", "reason": " "}
    )
    assert "Công bố khi chưa đủ điều kiện cần nêu lý do." in await no_reason.text()
    forced = await admin.post(
        "/reports/2024-08/publish",
        data={"csrf_token": csrf, "force": "1", "reason": "số liệu tạm cho cuộc họp"},
    )
    assert "Đã công bố báo cáo kỳ 2024-08: bản số 1." in await forced.text()
    version = await (await admin.get("/reports/2024-08?version=1")).text()
    assert 'id="forced-notice"' in version
    assert "lý do: số liệu tạm cho cuộc họp" in html.unescape(version)


async def test_the_audit_page_and_its_filters(site: Site) -> None:
    record = await open_mismatch(site.store)
    client, csrf = await site.logged_in("operator")
    await client.post(f"{page_of(record['id'])}/claim", data={"csrf_token": csrf})
    body = await (await client.get("/audit?who=operator1")).text()
    assert "operator1" in body
    assert "nhận xử lý" in body
    assert text_of(body).count("operator1 ") >= 1
    assert 'href="/api/v1/audit.csv?who=operator1"' in body
    by_key = await (await client.get(f"/audit?key={quote(record['key'])}")).text()
    assert f'href="{page_of(record["id"])}"' in by_key
    assert f"{record['key']} — " in html.unescape(by_key)
    nobody = await (await client.get("/audit?who=nobody")).text()
    assert "Không có mục nhật ký nào." in nobody


async def test_unknown_things_are_404_pages_in_the_readers_language(site: Site) -> None:
    client, _ = await site.logged_in("viewer")
    for path in ("/mismatches/nope%7Cstatus", "/dossiers/nope", "/reports/2024-13"):
        resp = await client.get(path)
        assert resp.status == 404, path
        assert "Không tìm thấy" in await resp.text()
    english = await client.get("/dossiers/nope?lang=en")
    assert english.status == 404
    assert "Not found" in await english.text()


async def test_the_style_sheet_is_public_and_nothing_else_is_served(empty_site: Site) -> None:
    client = await empty_site.client()
    css = await client.get("/static/style.css")
    assert css.status == 200
    assert ":focus-visible" in await css.text()
    for name in ("..%2Fpages.py", "nope.css"):
        assert (await client.get(f"/static/{name}")).status == 404


async def test_every_value_is_labelled_and_every_detail_worded(site: Site) -> None:
    """A migrated dossier's values are receipt dates: they say so, and its evidence is in
    words, not `code_date=2024-04-15`."""
    record = await open_mismatch(site.store, ("migrated",))
    client, _ = await site.logged_in("viewer")
    listing = text_of(await (await client.get("/mismatches?kind=migrated")).text())
    assert "Ngày tiếp nhận: " in listing
    page = text_of(await (await client.get(page_of(record["id"]))).text())
    assert "ngày trong mã hồ sơ: " in page
    assert "code_date=" not in page
    english = text_of(await (await client.get(page_of(record["id"]) + "?lang=en")).text())
    assert "Received: " in english
    assert "date in the code: " in english


async def test_the_dashboard_shows_the_latest_period_with_data_and_offers_others(
    aiohttp_client: ClientFactory,
    store: Store,
    config: Config,
    scenario: Scenario,
    connectors: list[Connector],
) -> None:
    """Two years after the data, the dashboard still opens on the data's latest period, not on
    today's empty one; a picker shows any other, and a bad choice is said."""
    later = scenario.now + timedelta(days=800)
    site = await make_site(aiohttp_client, store, config, scenario, connectors, clock=lambda: later)
    months = sorted(
        [
            name.decode().rpartition(":")[2]
            async for name in store.redis.scan_iter(match=store.key("pidx", "m", "*"))
        ]
    )
    last = date.fromisoformat(f"{months[-1]}-01")
    following = (last.replace(day=28) + timedelta(days=4)).replace(day=1)
    expected = Period.containing(following - timedelta(days=1), config.report.cutoff_day)
    today = Period.containing(later.date(), config.report.cutoff_day)
    assert expected.label != today.label
    client, _ = await site.logged_in("viewer")
    body = text_of(await (await client.get("/")).text())
    assert f"Số liệu kỳ báo cáo {expected.label}" in body
    page = await (await client.get("/")).text()
    assert f'<option value="{expected.label}" selected>' in page
    earlier = Period.containing(expected.start - timedelta(days=1), config.report.cutoff_day)
    assert f'<option value="{earlier.label}">' in page
    chosen = text_of(await (await client.get(f"/?period={earlier.label}")).text())
    assert f"Số liệu kỳ báo cáo {earlier.label}" in chosen
    bad = text_of(await (await client.get("/?period=2024-13")).text())
    assert "Kỳ báo cáo 2024-13 không hợp lệ" in bad
    assert f"Số liệu kỳ báo cáo {expected.label}" in bad
