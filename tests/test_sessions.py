"""Sessions and tokens end with the account they were issued to: removing a user (and adding the
name again), a new password, a new role or a logout by an administrator ends every session and
token issued before, through the command line and through the API alike."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from syncd.config import Config
from syncd.store import Store
from syncd.web.app import SESSION_COOKIE, make_app
from syncd.web.auth import Users
from tests.commandline import run_cli
from tests.conftest import REDIS_URL

PASSWORD = "mat-khau-rat-dai-1"
OTHER = "mot-mat-khau-khac-2"
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
Client = TestClient[web.Request, web.Application]


@dataclass
class Site:
    store: Store
    users: Users
    make: Callable[[], Any]
    admin_token: str

    async def client(self) -> Client:
        made: Client = await self.make()
        return made

    async def session_cookie(self, name: str, password: str = PASSWORD) -> str:
        """Log in through the page and return the session cookie's value."""
        client = await self.client()
        form = await (await client.get("/login")).text()
        token = LOGIN_TOKEN.search(form)
        assert token
        resp = await client.post(
            "/login",
            data={"username": name, "password": password, "login_token": token[1]},
            allow_redirects=False,
        )
        assert resp.status == 303, await resp.text()
        return resp.cookies[SESSION_COOKIE].value

    async def me(self, *, cookie: str | None = None, token: str | None = None) -> int:
        client = await self.client()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        cookies = {SESSION_COOKIE: cookie} if cookie else {}
        resp = await client.get("/api/v1/me", headers=headers, cookies=cookies)
        return resp.status

    async def admin(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        client = await self.client()
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        resp = await client.request(method, path, headers=headers, **kwargs)
        return resp.status, (await resp.json() if resp.status != 204 else None)


@pytest.fixture
async def site(aiohttp_client: Callable[..., Any], store: Store, config: Config) -> Site:
    users = Users(store)
    await users.add("boss", "admin", PASSWORD)
    admin_token = await users.add_token("boss", "tests")
    app = make_app(store, config)
    return Site(store, users, lambda: aiohttp_client(app), admin_token)


async def users_cli(store: Store, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    env = {"SYNCD_REDIS_URL": REDIS_URL, "SYNCD_KEY_PREFIX": store.prefix, "SYNCD_LANG": "en"}
    return await asyncio.to_thread(run_cli, "users", *args, env=env, stdin=stdin)


async def test_a_removed_and_re_added_name_does_not_inherit_the_old_sessions(site: Site) -> None:
    await site.users.add("ghost", "viewer", PASSWORD)
    cookie = await site.session_cookie("ghost")
    token = await site.users.add_token("ghost")
    assert await site.me(cookie=cookie) == await site.me(token=token) == 200

    code, _, err = await users_cli(site.store, "remove", "ghost")
    assert code == 0, err
    code, _, err = await users_cli(
        site.store, "add", "ghost", "--role", "admin", "--password-stdin", stdin=f"{OTHER}\n"
    )
    assert code == 0, err

    assert await site.me(cookie=cookie) == 401
    assert await site.me(token=token) == 401
    client = await site.client()
    users_page = await client.get("/api/v1/users", cookies={SESSION_COOKIE: cookie})
    assert users_page.status == 401
    dashboard = await client.get("/", cookies={SESSION_COOKIE: cookie}, allow_redirects=False)
    assert dashboard.status == 303  # to the login form: the old cookie is nobody's
    # The new account's own login works.
    assert await site.me(cookie=await site.session_cookie("ghost", OTHER)) == 200


async def test_the_same_through_the_api(site: Site) -> None:
    await site.users.add("ghost", "viewer", PASSWORD)
    cookie, token = await site.session_cookie("ghost"), await site.users.add_token("ghost")
    assert (await site.admin("DELETE", "/api/v1/users/ghost"))[0] == 204
    status, _ = await site.admin(
        "POST", "/api/v1/users", json={"name": "ghost", "role": "admin", "password": OTHER}
    )
    assert status == 201
    assert await site.me(cookie=cookie) == 401
    assert await site.me(token=token) == 401


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (("passwd", "lan", "--password-stdin"), f"{OTHER}\n"),
        (("role", "lan", "operator"), None),
        (("logout", "lan"), None),
    ],
)
async def test_a_new_password_a_new_role_or_a_logout_ends_sessions_and_tokens_cli(
    site: Site, args: tuple[str, ...], stdin: str | None
) -> None:
    await site.users.add("lan", "viewer", PASSWORD)
    cookies = [await site.session_cookie("lan"), await site.session_cookie("lan")]
    token = await site.users.add_token("lan", "report pull")
    code, out, err = await users_cli(site.store, *args, stdin=stdin)
    assert code == 0, err
    assert "Ended 3 sessions and tokens of lan." in out
    for cookie in cookies:
        assert await site.me(cookie=cookie) == 401
    assert await site.me(token=token) == 401
    assert await site.users.credentials("lan") == []
    password = OTHER if args[0] == "passwd" else PASSWORD
    assert await site.me(cookie=await site.session_cookie("lan", password)) == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/api/v1/users/lan", {"password": OTHER}),
        ("PATCH", "/api/v1/users/lan", {"role": "operator"}),
        ("POST", "/api/v1/users/lan/logout", None),
    ],
)
async def test_a_new_password_a_new_role_or_a_logout_ends_sessions_and_tokens_api(
    site: Site, method: str, path: str, body: dict[str, str] | None
) -> None:
    await site.users.add("lan", "viewer", PASSWORD)
    cookie, token = await site.session_cookie("lan"), await site.users.add_token("lan")
    status, answer = await site.admin(method, path, json=body)
    assert status == 200, answer
    assert answer["ended"] == 2
    assert await site.me(cookie=cookie) == 401
    assert await site.me(token=token) == 401
    audit: Any = await site.store.redis.xrange(site.store.key("audit"))
    assert audit, "the change is in the audit trail"
    assert audit[-1][1][b"id"] == b"user:lan"


async def test_sessions_are_listed_without_their_secrets(site: Site) -> None:
    await site.users.add("lan", "viewer", PASSWORD)
    cookie = await site.session_cookie("lan")
    token = await site.users.add_token("lan", "report pull")
    code, out, err = await users_cli(site.store, "sessions", "lan")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert {line.split("\t")[0] for line in lines} == {"session", "token"}
    assert "label: report pull" in out
    assert "expires " in out
    assert cookie not in out
    assert token not in out
    status, listed = await site.admin("GET", "/api/v1/users/lan/sessions")
    assert status == 200
    assert sorted(item["kind"] for item in listed["items"]) == ["session", "token"]
    assert cookie not in str(listed)
    assert token not in str(listed)
    # A session ended by logging out is no longer listed.
    client = await site.client()
    csrf_page = await (await client.get("/", cookies={SESSION_COOKIE: cookie})).text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', csrf_page)
    assert csrf
    await client.post("/logout", data={"csrf_token": csrf[1]}, cookies={SESSION_COOKIE: cookie})
    assert [c.kind for c in await site.users.credentials("lan")] == ["token"]
    code, out, _ = await users_cli(site.store, "logout", "lan")
    assert "Ended 1 sessions and tokens of lan." in out
    code, out, _ = await users_cli(site.store, "sessions", "lan")
    assert out.strip() == "lan has no live session or token."


async def test_bad_requests_change_nothing(site: Site) -> None:
    await site.users.add("lan", "viewer", PASSWORD)
    token = await site.users.add_token("lan")
    cases = [
        ("PATCH", "/api/v1/users/lan", {}, 400),
        ("PATCH", "/api/v1/users/lan", {"role": "root"}, 400),
        ("PATCH", "/api/v1/users/lan", {"password": "short"}, 400),
        ("PATCH", "/api/v1/users/lan", {"name": "x"}, 400),
        ("PATCH", "/api/v1/users/nobody", {"role": "admin"}, 404),
        ("PATCH", "/api/v1/users/boss", {"role": "viewer"}, 409),
        ("GET", "/api/v1/users/nobody/sessions", None, 404),
        ("POST", "/api/v1/users/nobody/logout", None, 404),
    ]
    for method, path, body, expected in cases:
        status, answer = await site.admin(method, path, json=body)
        assert status == expected, (method, path, body, answer)
    assert await site.me(token=token) == 200
    assert (await site.users.get("boss")).role == "admin"  # type: ignore[union-attr]
    for args in (("sessions", "nobody"), ("logout", "nobody")):
        code, _, err = await users_cli(site.store, *args)
        assert code == 2
        assert "nobody" in err
