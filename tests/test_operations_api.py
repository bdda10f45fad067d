"""The write-back outbox and the dead letters through the API and the pages, against the real
store: what operators see and may do, by role."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from connectors.base import Connector
from syncd.service import Syncer
from syncd.store import RetryPolicy
from tests.test_api import Api
from tests.test_api import api as api  # the fixture


async def test_the_outbox_is_listed_and_an_entry_cancelled_with_a_reason(api: Api) -> None:
    view = await api.get("/api/v1/writeback")
    assert view["mode"] == "dry_run"  # write-back is off in the defaults
    assert view["held"] is None
    entries = view["entries"]
    assert entries
    assert view["counts"]["dry_run"] == len(entries)
    first = entries[0]
    assert {"key", "code", "action", "changes", "reasons", "state", "attempts"} <= set(first)
    assert first["state"] == "dry_run"
    assert "target" not in first  # the record itself stays inside
    assert (await api.get("/api/v1/writeback", params={"state": "failed"}))["entries"] == []
    status, detail = await api.problem("GET", "/api/v1/writeback?state=lost", "viewer")
    assert status == 400
    assert "state" in detail

    key = first["key"]
    path = f"/api/v1/writeback/{quote(key, safe='')}"
    assert (await api.post(f"{path}/cancel", {"reason": "x"}, role="viewer"))[0] == 403
    for body in ({}, {"reason": " "}, {"reason": "x", "extra": 1}, [1]):
        status, _ = await api.problem("POST", f"{path}/cancel", "operator", json=body)
        assert status == 400, body
    status, answer = await api.post(f"{path}/cancel", {"reason": "the city is wrong"})
    assert (status, answer) == (200, {"cancelled": key})
    after = await api.get("/api/v1/writeback")
    assert key not in {e["key"] for e in after["entries"]}
    [logged] = (await api.get("/api/v1/writeback/log"))["items"]
    assert (logged["key"], logged["outcome"], logged["by"]) == (key, "cancelled", "operator1")
    audit = await api.get("/api/v1/audit", params={"who": "operator1"})
    assert audit["items"][-1]["action"] == "push_cancel"
    status, _ = await api.problem("POST", f"{path}/cancel", "operator", json={"reason": "x"})
    assert status == 404
    status, _ = await api.problem("POST", f"{path}/retry", "operator")
    assert status == 404
    status, _ = await api.problem("GET", "/api/v1/writeback/log?limit=0", "viewer")
    assert status == 400


async def test_a_held_burst_is_released_by_an_admin_only(api: Api) -> None:
    path = "/api/v1/writeback/release"
    assert (await api.post(path, {"reason": "checked"}, role="operator"))[0] == 403
    status, answer = await api.post(path, {"reason": "checked"}, role="admin")
    assert (status, answer) == (200, {"released": True})
    assert "writeback:released" in await api.store.status()


async def test_dead_letters_are_listed_and_retried_by_an_admin(
    api: Api, connectors: list[Connector]
) -> None:
    syncer = Syncer(
        api.store, connectors, retries=RetryPolicy(dead_after=1), clock=lambda: api.scenario.now
    )
    key = sorted((await api.get("/api/v1/writeback"))["entries"], key=lambda e: e["key"])[0]["key"]
    await api.store.redis.hset(api.store.key("override"), f"{key}|status", "banana")
    await api.store.enqueue([key])
    await syncer.reconcile_pending()

    listed = await api.get("/api/v1/deadletters")
    assert [d["code"] for d in listed["dead"]] == [key]
    assert listed["retrying"] == []
    assert "override of status" in listed["dead"][0]["error"]
    status: Any = (await api.get("/api/v1/sync/status"))["dead_letters"]
    assert status == 1
    path = "/api/v1/deadletters/retry"
    assert (await api.post(path, {"all": True}, role="operator"))[0] == 403
    code, detail = await api.problem("POST", path, "admin", json={"codes": ["nope"]})
    assert (code, "nope" in detail) == (404, True)
    bodies: list[dict[str, Any]] = [
        {},
        {"codes": []},
        {"codes": [""]},
        {"all": False},
        {"codes": [key], "all": True},
    ]
    for body in bodies:
        assert (await api.problem("POST", path, "admin", json=body))[0] == 400, body
    assert await api.post(path, {"codes": [key]}, role="admin") == (202, {"queued": 1})


async def test_the_pages_show_the_outbox_and_the_failures(api: Api) -> None:
    for path, words in (
        ("/writeback", "Cập nhật lên Cổng Dịch vụ công quốc gia"),
        ("/quarantine", "Cách ly và lỗi đối chiếu"),
        ("/writeback?lang=en", "Write-back to the national portal"),
    ):
        resp = await api.client.get(path, headers=api.auth("viewer"))
        assert resp.status == 200, path
        page = await resp.text()
        assert words in page
    page = await (await api.client.get("/writeback?lang=vi", headers=api.auth("viewer"))).text()
    assert "Chạy thử" in page  # a dry run says so
    # Each planned change reads "field: from → to", in words.
    entries = (await api.get("/api/v1/writeback"))["entries"]
    assert page.count(" → ") == sum(len(e["changes"]) for e in entries)
    assert "Trạng thái: " in page
    # A viewer sees no forms that change anything.
    assert "/cancel" not in page
    page = await (await api.client.get("/writeback", headers=api.auth("operator"))).text()
    assert "/cancel" in page
    anonymous = await api.client.get("/writeback")  # to the login page
    assert anonymous.url.path == "/login"
