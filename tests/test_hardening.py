"""The HTTP interface under hostile or careless input, on a real server over loopback: bytes that
are not UTF-8 in credentials, bodies nested thousands deep, wrong methods, unknown pages, a
server error; and the headers every answer carries, and the password policy."""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis

from syncd import logs
from syncd.config import Config
from syncd.store import Store
from syncd.web.app import MAX_JSON_DEPTH, SESSION_COOKIE, make_app, nesting_depth
from syncd.web.auth import AuthError, Users, password_weakness
from syncd.web.server import serving

PASSWORD = "mat-khau-rat-dai-1"


@dataclass
class Live:
    url: str
    port: int
    store: Store
    token: str  # an admin's


@pytest.fixture
async def live(store: Store, config: Config) -> AsyncIterator[Live]:
    users = Users(store)
    await users.add("boss", "admin", PASSWORD)
    token = await users.add_token("boss")
    async with serving(make_app(store, config), "127.0.0.1", 0) as url:
        yield Live(url, int(url.rsplit(":", 1)[1]), store, token)


async def raw_request(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` as bytes (no client library would send these headers) and read the
    answer: status, headers (lower-case names), body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def get(path: str, *headers: bytes) -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return (
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"Connection: close\r\n\r\n"
    )


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logs.configure("json", "debug", stream)
    yield stream
    logs.configure("json", "info")


UNREADABLE = [b"Authorization: Bearer \xff\xfe", b"Cookie: syncd_session=\xff\xfe\x80abc"]


@pytest.mark.parametrize("header", UNREADABLE)
async def test_undecodable_credentials_are_nobodys_and_logged_once(
    live: Live, header: bytes, log_lines: io.StringIO
) -> None:
    for _ in range(5):
        status, _, body = await raw_request(live.port, get("/healthz", header))
        assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, headers, body = await raw_request(live.port, get("/api/v1/me", header))
    assert status == 401
    assert headers["content-type"].startswith("application/problem+json")
    status, headers, _ = await raw_request(live.port, get("/mismatches", header))
    assert status == 303
    assert headers["location"].startswith("/login")
    events = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    warned = [e for e in events if e["event"] == "credentials_unreadable"]
    assert len(warned) == 1  # seven requests, one line: at most once a minute per client
    assert warned[0]["level"] == "warning"
    assert not [e for e in events if e["level"] == "error" or "exception" in e]


async def test_an_unknown_token_is_refused_only_where_a_role_is_needed(live: Live) -> None:
    unknown = b"Authorization: Bearer " + b"A" * 43
    status, _, _ = await raw_request(live.port, get("/healthz", unknown))
    assert status == 200
    status, _, _ = await raw_request(live.port, get("/readyz", unknown))
    assert status in (200, 503)
    status, _, body = await raw_request(live.port, get("/api/v1/me", unknown))
    assert status == 401
    assert json.loads(body)["detail"] == "unknown or revoked token"
    known = f"Authorization: Bearer {live.token}".encode()
    status, _, body = await raw_request(live.port, get("/api/v1/me", known))
    assert (status, json.loads(body)["name"]) == (200, "boss")


@pytest.mark.parametrize(
    "path", ["/api/v1/mismatches/x%7Cstatus/resolve", "/api/v1/users", "/api/v1/sync/resync"]
)
async def test_a_body_nested_thousands_deep_is_a_400(live: Live, path: str) -> None:
    body = ("[" * 3000 + "]" * 3000).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {live.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    status, headers, answer = await raw_request(live.port, head + body)
    assert status == 400, answer[:300]
    assert headers["content-type"].startswith("application/problem+json")
    assert "nests deeper" in json.loads(answer)["detail"]


def test_nesting_is_measured_outside_strings() -> None:
    assert nesting_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert nesting_depth('"\\"[["') == 0
    assert nesting_depth("[" * (MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1


async def test_every_answer_names_no_server_version_and_api_answers_are_not_cached(
    live: Live,
) -> None:
    auth = f"Authorization: Bearer {live.token}".encode()
    for path in ("/healthz", "/api/v1/me", "/api/v1/mismatches", "/api/openapi.json", "/metrics"):
        status, headers, _ = await raw_request(live.port, get(path, auth))
        assert status == 200, path
        assert headers["server"] == "syncd", path
        assert headers["cache-control"] == "no-store", path
        assert headers["x-content-type-options"] == "nosniff", path
    for path in ("/api/v1/nothing", "/login", "/nothing"):
        _, headers, _ = await raw_request(live.port, get(path))
        assert headers["server"] == "syncd", path
        assert headers["x-content-type-options"] == "nosniff", path


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/me", {"GET", "HEAD"}),
        ("PUT", "/api/v1/mismatches/x%7Cstatus/claim", {"POST"}),
        ("GET", "/api/v1/sync/resync", {"POST"}),
        ("PUT", "/mismatches", {"GET", "HEAD"}),
    ],
)
async def test_a_wrong_method_is_a_405_saying_which_are_allowed(
    live: Live, method: str, path: str, allowed: set[str]
) -> None:
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {live.token}\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n"
    ).encode()
    status, headers, _ = await raw_request(live.port, request)
    assert status == 405
    assert {m.strip() for m in headers["allow"].split(",")} == allowed


async def test_unknown_pages_and_server_errors_are_pages_in_the_readers_language(
    live: Live, config: Config
) -> None:
    status, headers, body = await raw_request(live.port, get("/nothing-here"))
    assert status == 404
    assert headers["content-type"].startswith("text/html")
    page = body.decode()
    assert '<html lang="vi">' in page
    assert "Không có trang nào ở địa chỉ /nothing-here" in page
    status, _, body = await raw_request(live.port, get("/nothing-here?lang=en"))
    assert status == 404
    assert "There is no page at /nothing-here" in body.decode()
    # The API keeps answering problem+json.
    status, headers, _ = await raw_request(live.port, get("/api/v1/nothing"))
    assert (status, headers["content-type"].split(";")[0]) == (404, "application/problem+json")

    # A server error (Redis gone while a session is looked up) is a page too, not a traceback.
    dead = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    broken = Store(dead, f"test-{uuid.uuid4().hex[:12]}")
    async with serving(make_app(broken, config), "127.0.0.1", 0) as url:
        port = int(url.rsplit(":", 1)[1])
        cookie = f"Cookie: {SESSION_COOKIE}={'s' * 43}".encode()
        status, headers, body = await raw_request(port, get("/", cookie))
        assert status == 500
        assert headers["content-type"].startswith("text/html")
        assert "Máy chủ gặp lỗi khi xử lý yêu cầu này" in body.decode()
        status, _, body = await raw_request(port, get("/?lang=en", cookie))
        assert "The server failed to handle this request" in body.decode()
        status, headers, _ = await raw_request(port, get("/api/v1/me", cookie))
        assert (status, headers["content-type"].split(";")[0]) == (
            500,
            "application/problem+json",
        )
    await dead.aclose()


async def test_the_favicon_is_served_to_anyone(live: Live) -> None:
    status, headers, body = await raw_request(live.port, get("/favicon.ico"))
    assert status == 200
    assert headers["content-type"] == "image/x-icon"
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "max-age" in headers["cache-control"]
    _, _, login = await raw_request(live.port, get("/login"))
    assert re.search(rb'<link rel="icon" href="/favicon.ico"', login)


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short-1", "auth.short_password"),
        ("aaaaaaaaaa", "auth.weak.repeat"),
        ("password123", "auth.weak.passwords"),
        ("qwertyuiop", "auth.weak.passwords"),
        ("1234567890", "auth.weak.passwords"),
        ("lan.nguyen2024", "auth.weak.user_inputs"),
        ("matkhau2024", "auth.weak.user_inputs"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, why: str) -> None:
    assert password_weakness(password, "lan.nguyen") == why


@pytest.mark.parametrize(
    "password", ["mat-khau-du-dai", "correct horse battery", "một-mật-khẩu-mới", "lua-che-ca-phe-7"]
)
def test_long_unguessable_passwords_are_taken(password: str) -> None:
    assert password_weakness(password, "lan.nguyen") is None


async def test_the_policy_holds_for_every_way_of_setting_a_password(live: Live) -> None:
    users = Users(live.store)
    with pytest.raises(AuthError, match="danh sách mật khẩu thường gặp"):
        await users.add("lan", "viewer", "password123")
    await users.add("lan", "viewer", PASSWORD)
    with pytest.raises(AuthError):
        await users.set_password("lan", "aaaaaaaaaa")
    auth = {"Authorization": f"Bearer {live.token}"}
    for method, path, body in (
        ("POST", "/api/v1/users", {"name": "minh", "role": "viewer", "password": "aaaaaaaaaa"}),
        ("PATCH", "/api/v1/users/lan", {"password": "qwertyuiop"}),
    ):
        payload = json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in auth.items()
        )
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        status, _, answer = await raw_request(
            live.port, (head + "Connection: close\r\n\r\n").encode() + payload
        )
        assert status == 400, answer
        assert (
            "will not do" in json.loads(answer)["detail"]
            or "không dùng được" in (json.loads(answer)["detail"])
        )
    assert await users.get("minh") is None
    assert await users.verify("lan", PASSWORD) is not None
