"""The JSON API against the real Redis, with data from a real sync cycle on the mock portals."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.base import Connector
from connectors.dataset import Dataset
from connectors.scenario import Scenario
from reconcile.model import VN_TZ
from syncd import logs
from syncd.config import Config
from syncd.queue import public, stored_id
from syncd.report_cli import overdue_flags
from syncd.service import Syncer
from syncd.store import Store
from syncd.web import openapi
from syncd.web.app import SESSION_COOKIE, make_app
from syncd.web.auth import ROLES, Users

PASSWORD = "correct horse battery"
# The only routes anyone may call without logging in that change something: logging in and out.
PUBLIC_MUTATING = frozenset({("POST", "/login"), ("POST", "/logout")})

ClientFactory = Callable[..., Any]


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    app: web.Application
    store: Store
    tokens: dict[str, str]
    scenario: Scenario

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def get(self, path: str, role: str = "viewer", **kwargs: Any) -> Any:
        resp = await self.client.get(path, headers=self.auth(role), **kwargs)
        assert resp.status == 200, await resp.text()
        return await resp.json()

    async def post(self, path: str, body: Any = None, role: str = "operator") -> Any:
        resp = await self.client.post(path, json=body or {}, headers=self.auth(role))
        return resp.status, await resp.json()

    async def problem(self, method: str, path: str, role: str = "admin", **kwargs: Any) -> Any:
        resp = await self.client.request(method, path, headers=self.auth(role), **kwargs)
        assert resp.content_type == "application/problem+json", await resp.text()
        return resp.status, (await resp.json())["detail"]


def path_of(mismatch_id: str) -> str:
    return f"/api/v1/mismatches/{quote(mismatch_id, safe='')}"


@pytest.fixture
async def api(
    aiohttp_client: ClientFactory,
    store: Store,
    connectors: list[Connector],
    config: Config,
    scenario: Scenario,
) -> Api:
    await Syncer(store, connectors, clock=lambda: scenario.now).cycle()
    users = Users(store)
    tokens = {}
    for role in ROLES:
        await users.add(f"{role}1", role, PASSWORD)
        tokens[role] = await users.add_token(f"{role}1", "tests")
    app = make_app(store, config, clock=lambda: scenario.now)
    return Api(await aiohttp_client(app), app, store, tokens, scenario)


async def records(store: Store) -> list[dict[str, Any]]:
    """The stored mismatches, their ids as the API shows them."""
    return [public(r) for r in await store.mismatches(include_gone=True)]


# --------------------------------------------------------------------------------------------
# Reading the queue


async def test_list_filters_and_pages(api: Api) -> None:
    everything = await records(api.store)
    listing = await api.get("/api/v1/mismatches?limit=500")
    assert listing["total"] == len(everything) > 20
    assert {r["id"] for r in listing["items"]} == {r["id"] for r in everything}

    kinds = Counter(r["kind"] for r in everything)
    for kind, count in kinds.items():
        found = await api.get("/api/v1/mismatches", params={"kind": kind, "limit": "500"})
        assert found["total"] == count
        assert {r["kind"] for r in found["items"]} == {kind}
    states = Counter(r["state"] for r in everything)
    for state, count in states.items():
        found = await api.get("/api/v1/mismatches", params={"state": state, "limit": "500"})
        assert found["total"] == count
        assert {r["state"] for r in found["items"]} == {state}

    corrected = await api.store.load_corrected(sorted({r["key"] for r in everything}))
    fields = Counter(corrected[r["key"]].field_code for r in everything if r["key"] in corrected)
    field, count = fields.most_common(1)[0]
    found = await api.get("/api/v1/mismatches", params={"field": field, "limit": "500"})
    assert found["total"] == count
    assert all(corrected[r["key"]].field_code == field for r in found["items"])

    both = await api.get("/api/v1/mismatches", params={"kind": "status", "state": "open"})
    assert both["total"] == sum(
        1 for r in everything if r["kind"] == "status" and r["state"] == "open"
    )

    first = await api.get("/api/v1/mismatches?limit=7&offset=0")
    second = await api.get("/api/v1/mismatches?limit=7&offset=7")
    fourteen = await api.get("/api/v1/mismatches?limit=14")
    assert first["total"] == second["total"] == len(everything)
    assert (first["limit"], second["offset"]) == (7, 7)
    assert [r["id"] for r in first["items"] + second["items"]] == [
        r["id"] for r in fourteen["items"]
    ]
    beyond = await api.get(f"/api/v1/mismatches?offset={len(everything)}")
    assert beyond["items"] == []
    assert beyond["total"] == len(everything)


async def test_list_by_local_day_of_detection(api: Api) -> None:
    everything = sorted(await records(api.store), key=lambda r: r["id"])
    moved = {
        # 1 July, 23:30 UTC is 2 July in Vietnam.
        everything[0]["id"]: "2024-07-01T23:30:00+00:00",
        everything[1]["id"]: "2024-07-02T00:10:00+07:00",
        everything[2]["id"]: "2024-07-01T08:00:00+07:00",
    }
    for r in everything[:3]:
        r["detected_at"] = moved[r["id"]]
        stored = {**r, "id": stored_id(r["id"])}
        await api.store.redis.hset(
            api.store.key("mismatch"), stored["id"], json.dumps(stored, sort_keys=True)
        )
    july_1 = await api.get("/api/v1/mismatches?since=2024-07-01&until=2024-07-01")
    assert [r["id"] for r in july_1["items"]] == [everything[2]["id"]]
    july_2 = await api.get("/api/v1/mismatches?since=2024-07-02&until=2024-07-02")
    assert {r["id"] for r in july_2["items"]} == {everything[0]["id"], everything[1]["id"]}
    assert july_2["total"] == 2
    later = await api.get("/api/v1/mismatches?since=2024-07-03&limit=2&offset=1")
    assert later["total"] == len(everything) - 3
    assert len(later["items"]) == 2
    until = await api.get("/api/v1/mismatches?until=2024-07-02&kind=" + everything[0]["kind"])
    assert until["total"] == sum(1 for r in everything[:3] if r["kind"] == everything[0]["kind"])


async def test_detail_shows_both_sides_and_the_corrected_value(api: Api) -> None:
    everything = await records(api.store)
    status = next(r for r in everything if r["kind"] in ("status", "collapsed_status"))
    detail = await api.get(path_of(status["id"]))
    assert detail["id"] == status["id"]
    assert detail["fields"] == ["status"]
    rows = {row["field"]: row for row in detail["sides"]}
    assert list(rows) == [
        "status",
        "received_at",
        "due_at",
        "finished_at",
        "returned_at",
        "channel",
        "procedure_code",
        "field_code",
        "digitised",
        "apology_at",
        "alt_codes",
    ]
    assert rows["status"]["differs"] is True
    assert (rows["status"]["city"], rows["status"]["national"]) == (
        status["city"],
        status["national"],
    )
    corrected = (await api.store.load_corrected([status["key"]]))[status["key"]]
    assert rows["status"]["corrected"] == str(int(corrected.status))
    assert rows["procedure_code"]["differs"] is False
    assert rows["procedure_code"]["city"] == corrected.procedure_code
    received = rows["received_at"]["city"]
    assert received is not None
    assert received.endswith("+07:00")

    missing = next(r for r in everything if r["kind"] == "missing_national")
    one_side = await api.get(path_of(missing["id"]))
    rows = {row["field"]: row for row in one_side["sides"]}
    assert rows["status"]["national"] is None
    assert rows["status"]["city"] is not None
    assert rows["status"]["differs"] is True

    status_code, detail_text = await api.problem("GET", path_of("nothing|status"), "viewer")
    assert status_code == 404
    assert "nothing|status" in detail_text


async def test_claim_resolve_reopen_and_their_audit(api: Api) -> None:
    everything = await records(api.store)
    # One write-back would fix: in a dry run it waits, open, for operators like any other.
    target = next(r for r in everything if r["kind"] == "status" and r["auto_resolvable"])
    assert target["state"] == "open"
    code, body = await api.post(path_of(target["id"]) + "/reopen", {"reason": "check it"})
    assert code == 409  # open already
    code, body = await api.post(path_of(target["id"]) + "/claim")
    assert code == 200
    assert (body["state"], body["claimed_by"]) == ("claimed", "operator1")
    code, body = await api.post(path_of(target["id"]) + "/claim", role="admin")
    assert code == 409
    assert "operator1" in body["detail"]
    code, body = await api.post(path_of(target["id"]) + "/claim", role="viewer")
    assert code == 403
    code, body = await api.post(
        path_of(target["id"]) + "/resolve",
        {"action": "accept_national", "reason": "the portal is right"},
    )
    assert code == 200
    assert body["state"] == "resolved"
    assert body["resolution"]["by"] == "operator1"
    assert body["resolution"]["value"] == f"status={target['national']}"
    code, body = await api.post(
        path_of(target["id"]) + "/resolve", {"action": "ignore", "reason": "again"}
    )
    assert code == 409
    assert (await api.store.overrides([target["key"]]))[target["key"]] == {
        "status": target["national"]
    }
    code, body = await api.post(path_of(target["id"]) + "/reopen", {"reason": "wrong call"})
    assert code == 200
    assert body["state"] == "open"
    assert body["resolution"] is None
    code, body = await api.post(path_of(target["id"]) + "/reopen", {"reason": "twice"})
    assert code == 409
    assert await api.store.overrides([target["key"]]) == {}

    log = (await api.get("/api/v1/audit", params={"who": "operator1"}))["items"]
    assert [e["action"] for e in log] == ["claim", "resolve", "reopen"]
    assert {e["id"] for e in log} == {target["id"]}
    claim, resolved = log[0], log[1]
    assert claim["before"]["state"] == "open"
    assert claim["after"]["state"] == "claimed"
    assert claim["after"]["claimed_by"] == "operator1"
    assert resolved["before"]["state"] == "claimed"
    assert resolved["after"]["resolution"]["reason"] == "the portal is right"
    assert resolved["at"] == api.scenario.now.isoformat()

    dossier = await api.get(f"/api/v1/dossiers/{quote(target['key'], safe='')}")
    history = [(e["who"], e["action"]) for e in dossier["history"]]
    assert history[:1] == [("syncd", "detect")]
    assert history[1:] == [("operator1", a) for a in ("claim", "resolve", "reopen")]
    by_key = await api.get("/api/v1/audit", params={"key": target["key"]})
    assert by_key["items"] == dossier["history"]

    resp = await api.client.get(
        "/api/v1/audit.csv", params={"key": target["key"]}, headers=api.auth("viewer")
    )
    assert resp.status == 200
    assert resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["action"] for r in rows] == [e["action"] for e in dossier["history"]]
    resolve_row = rows[2]
    assert (resolve_row["who"], resolve_row["mismatch_id"], resolve_row["dossier_key"]) == (
        "operator1",
        target["id"],
        target["key"],
    )
    assert (resolve_row["state_before"], resolve_row["state_after"]) == ("claimed", "resolved")
    assert resolve_row["resolution_after"] == f"accept_national (status={target['national']})"
    assert resolve_row["reason"] == "the portal is right"
    assert json.loads(resolve_row["after"])["resolution"]["by"] == "operator1"

    since = log[1]["entry"]
    from_there = await api.get("/api/v1/audit", params={"since": since, "limit": "10"})
    assert [e["entry"] for e in from_there["items"]][:2] == [log[1]["entry"], log[2]["entry"]]


async def test_manual_resolution_writes_the_value(api: Api) -> None:
    target = next(r for r in await records(api.store) if r["state"] == "open")
    code, body = await api.post(
        path_of(target["id"]) + "/resolve",
        {"action": "manual", "value": "status=10", "reason": "seen the papers"},
    )
    assert code == 200
    assert body["resolution"]["value"] == "status=10"
    assert (await api.store.overrides([target["key"]]))[target["key"]]["status"] == "10"


async def test_bulk_resolve(api: Api) -> None:
    everything = await records(api.store)
    migrated = sorted(r["id"] for r in everything if r["kind"] == "migrated")
    open_migrated = sorted(
        r["id"] for r in everything if r["kind"] == "migrated" and r["state"] == "open"
    )
    assert len(open_migrated) >= 2
    code, body = await api.post(
        "/api/v1/mismatches/bulk-resolve",
        {"kind": "migrated", "action": "ignore", "reason": "migrated from the old system"},
    )
    assert code == 200
    assert sorted(body["resolved"]) == open_migrated
    assert body["failed"] == []
    after = await api.get("/api/v1/mismatches?kind=migrated&limit=500")
    assert {r["id"] for r in after["items"]} == set(migrated)
    assert {r["state"] for r in after["items"]} <= {"resolved", "auto_resolved"}
    log = (await api.get("/api/v1/audit?who=operator1&limit=500"))["items"]
    assert sorted(e["id"] for e in log if e["action"] == "resolve") == open_migrated

    # Nothing open is left to resolve.
    code, body = await api.post(
        "/api/v1/mismatches/bulk-resolve",
        {"kind": "migrated", "action": "ignore", "reason": "nothing left"},
    )
    assert code == 200
    assert body == {"resolved": [], "failed": []}

    for bad_body in (
        {"action": "ignore", "reason": "no filter"},
        {"kind": "status", "action": "shrug", "reason": "x"},
        {"kind": "status", "action": "ignore", "reason": " "},
        {"kind": "status", "state": "resolved", "action": "ignore", "reason": "x"},
        {"kind": "status", "action": "manual", "reason": "x"},
        {"kind": "status", "action": "manual", "value": "nope", "reason": "x"},
        {"kind": "status", "since": "2024-02-30", "action": "ignore", "reason": "x"},
        {"kind": 5, "action": "ignore", "reason": "x"},
    ):
        code, body = await api.post("/api/v1/mismatches/bulk-resolve", bad_body)
        assert code == 400, bad_body
        assert "--" not in body["detail"], body  # the API's words, not the command line's


async def test_bad_input_is_a_400_with_a_clear_detail(api: Api) -> None:
    some = (await records(api.store))[0]
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("GET", "/api/v1/mismatches?limit=501", {}, "limit"),
        ("GET", "/api/v1/mismatches?limit=-1", {}, "limit"),
        ("GET", "/api/v1/mismatches?limit=ten", {}, "limit"),
        ("GET", "/api/v1/mismatches?offset=-3", {}, "offset"),
        ("GET", "/api/v1/mismatches?state=lost", {}, "lost"),
        ("GET", "/api/v1/mismatches?kind=weird", {}, "weird"),
        ("GET", "/api/v1/mismatches?since=2024-02-30", {}, "2024-02-30"),
        ("GET", "/api/v1/mismatches?until=yesterday", {}, "yesterday"),
        # An empty parameter is a mistake, not "absent" (a form left blank, a script's bug).
        ("GET", "/api/v1/mismatches?until=", {}, "until"),
        ("GET", "/api/v1/mismatches?kind=&state=open", {}, "kind"),
        ("GET", "/api/v1/mismatches?limit=", {}, "limit"),
        ("GET", "/api/v1/reports/2024-07?format=", {}, "format"),
        ("GET", "/api/v1/overdue?as_of=", {}, "as_of"),
        ("GET", "/api/v1/audit?who=", {}, "who"),
        ("GET", "/api/v1/reports/2024-13", {}, "2024-13"),
        ("GET", "/api/v1/reports/July", {}, "July"),
        ("GET", "/api/v1/reports/2024-07?format=pdf", {}, "pdf"),
        ("GET", "/api/v1/reports/2024-07?version=x", {}, "version"),
        ("GET", "/api/v1/overdue?as_of=2024-7-1", {}, "2024-7-1"),
        ("GET", "/api/v1/overdue?flag=late_ish", {}, "late_ish"),
        ("GET", "/api/v1/audit?limit=0", {}, "limit"),
        ("GET", "/api/v1/audit?since=last-week", {}, "last-week"),
        ("GET", "/api/v1/audit?since=99999999999999999999999", {}, "9999"),
        ("GET", "/api/v1/audit?since=2024-02-30", {}, "2024-02-30"),
        ("GET", "/api/v1/audit?since=1969-12-31T23:00:00", {}, "1969"),
        ("GET", "/api/v1/mismatches?until=", {}, "until is empty"),
        ("GET", "/api/v1/mismatches?kind=", {}, "kind is empty"),
        ("GET", "/api/v1/mismatches?offset=1000000001", {}, "offset"),
        ("GET", "/api/v1/reports/1969-12", {}, "1969"),
        ("GET", "/api/v1/reports/2024-07?version=1000001", {}, "version"),
        ("GET", "/api/v1/overdue?as_of=2101-01-01", {}, "2101"),
        (
            "POST",
            "/api/v1/mismatches/bulk-resolve",
            {"json": {"kind": None, "state": "open", "action": "ignore", "reason": "x"}},
            "'kind' is null",
        ),
        (
            "POST",
            "/api/v1/mismatches/bulk-resolve",
            {"json": {"field": "", "state": "open", "action": "ignore", "reason": "x"}},
            "'field' is empty",
        ),
        (
            "POST",
            "/api/v1/mismatches/bulk-resolve",
            {"json": {"since": "", "action": "ignore", "reason": "x"}},
            "since",
        ),
        (
            "POST",
            path_of(some["id"]) + "/resolve",
            {"json": {"action": "manual", "reason": "x", "value": " status = 9 "}},
            "status = 9",
        ),
        (
            "POST",
            path_of(some["id"]) + "/resolve",
            {"json": {"action": "manual", "reason": "x", "value": "due_at=0001-01-01T00:00+07:00"}},
            "due_at",
        ),
        ("POST", path_of(some["id"]) + "/resolve", {"data": b"{not json"}, "JSON"),
        ("POST", path_of(some["id"]) + "/resolve", {"json": ["a"]}, "JSON"),
        ("POST", path_of(some["id"]) + "/resolve", {"json": {"reason": "x"}}, "action"),
        (
            "POST",
            path_of(some["id"]) + "/resolve",
            {"json": {"action": "shrug", "reason": "x"}},
            "shrug",
        ),
        (
            "POST",
            path_of(some["id"]) + "/resolve",
            {"json": {"action": "ignore", "reason": ""}},
            "",
        ),
        (
            "POST",
            path_of(some["id"]) + "/resolve",
            {"json": {"action": "ignore", "reason": "x", "value": "status=2"}},
            "",
        ),
        (
            "POST",
            path_of(some["id"]) + "/resolve",
            {"json": {"action": "manual", "reason": "x", "value": "status=11"}},
            "status",
        ),
        ("POST", path_of(some["id"]) + "/reopen", {"json": {"reason": 3}}, "reason"),
        ("POST", "/api/v1/users", {"json": {"name": "x y", "role": "admin"}}, "password"),
        (
            "POST",
            "/api/v1/users",
            {"json": {"name": "Bad Name", "role": "admin", "password": PASSWORD}},
            "Bad Name",
        ),
        (
            "POST",
            "/api/v1/users",
            {"json": {"name": "newbie", "role": "king", "password": PASSWORD}},
            "king",
        ),
        (
            "POST",
            "/api/v1/users",
            {"json": {"name": "newbie", "role": "viewer", "password": "short"}},
            "10",
        ),
    ]
    for method, path, kwargs, named in cases:
        status, detail = await api.problem(method, path, "admin", **kwargs)
        assert status == 400, (path, kwargs, detail)
        assert named in detail, (path, detail)


async def test_an_operator_marks_a_dossier_as_migrated_through_the_api(api: Api) -> None:
    key = next(
        d.code
        for d in api.scenario.dossiers
        if d.migrated is None and not d.city and not d.national and d.events[0].event == "received"
    )
    path = f"/api/v1/dossiers/{quote(key, safe='')}/migrated"
    assert (await api.post(path, {"migrated": True, "reason": "x"}, role="viewer"))[0] == 403
    status, record = await api.post(path, {"migrated": True, "reason": "trùng hồ sơ cũ"})
    assert status == 200, record
    assert (record["id"], record["state"]) == (f"{key}~migrated", "resolved")
    assert record["resolution"]["action"] == "mark_migrated"
    assert (await api.store.overrides([key]))[key] == {"migrated": "true"}
    detail = await api.get(f"/api/v1/dossiers/{quote(key, safe='')}")
    assert detail["overrides"] == {"migrated": "true"}
    audit = await api.get("/api/v1/audit?who=operator1")
    assert [e["action"] for e in audit["items"]][-1] == "mark_migrated"
    for body, named in (
        ({"migrated": "yes", "reason": "x"}, "migrated"),
        ({"reason": "x"}, "migrated"),
        ({"migrated": False}, "reason"),
        ({"migrated": False, "reason": " "}, "lý do"),
    ):
        status, detail_text = await api.problem("POST", path, "operator", json=body)
        assert status == 400, body
        assert named in detail_text, (body, detail_text)
    unknown = "/api/v1/dossiers/no-such-dossier/migrated"
    status, _ = await api.problem(
        "POST", unknown, "operator", json={"migrated": True, "reason": "x"}
    )
    assert status == 404


def test_the_document_states_the_limits_the_server_enforces() -> None:
    doc = openapi.document()
    params = {
        (path, p["name"]): p["schema"]
        for path, item in doc["paths"].items()
        for op in item.values()
        for p in op.get("parameters", [])
    }
    assert params[("/api/v1/mismatches", "offset")]["maximum"] == 10**9
    assert params[("/api/v1/reports/{period}", "version")]["maximum"] == 10**6
    assert params[("/api/v1/mismatches", "field")]["minLength"] == 1
    period = re.compile(params[("/api/v1/reports/{period}", "period")]["pattern"])
    assert period.match("2024-07")
    assert not period.match("1969-12")
    assert not period.match("2101-01")
    day = re.compile(params[("/api/v1/mismatches", "until")]["pattern"])
    for good in ("1970-01-01", "2024-02-29", "2000-02-29", "2100-12-31"):
        assert day.match(good), good
    for bad in ("1969-12-31", "2023-02-29", "2100-02-29", "2024-04-31", "2024-7-01", ""):
        assert not day.match(bad), bad
    since = re.compile(params[("/api/v1/audit", "since")]["pattern"])
    for good in ("1720000000000-0", "2024-07-01", "2024-07-01T08:30:00", "2024-07-01T08:30Z"):
        assert since.match(good), good
    assert not since.match("last-week")
    resolve = doc["paths"]["/api/v1/mismatches/{id}/resolve"]["post"]["requestBody"]
    schema = resolve["content"]["application/json"]["schema"]
    manual = schema["allOf"][1]["oneOf"][0]
    assert manual["required"] == ["action", "value"]
    bulk = doc["paths"]["/api/v1/mismatches/bulk-resolve"]["post"]["requestBody"]
    filters = bulk["content"]["application/json"]["schema"]["allOf"][0]
    assert {tuple(f["required"]) for f in filters["anyOf"]} == {
        ("kind",),
        ("state",),
        ("field",),
        ("since",),
        ("until",),
    }


async def test_unknown_things_are_404(api: Api) -> None:
    for method, path in (
        ("GET", "/api/v1/dossiers/no-such-dossier"),
        ("GET", path_of("no|status")),
        ("POST", path_of("no|status") + "/claim"),
        ("DELETE", "/api/v1/users/nobody"),
        ("GET", "/api/v1/reports/2024-07?version=3"),
        ("GET", "/api/v1/nothing-here"),
    ):
        status, _ = await api.problem(method, path, "admin")
        assert status == 404, path


async def test_me(api: Api) -> None:
    assert await api.get("/api/v1/me", "operator") == {
        "name": "operator1",
        "role": "operator",
        "via": "token",
    }


# --------------------------------------------------------------------------------------------
# Dossiers, deadlines, reports


async def test_dossier_detail(api: Api) -> None:
    everything = await records(api.store)
    duplicate = next(r for r in everything if r["kind"] == "duplicate")
    key = duplicate["key"]
    dossier = await api.get(f"/api/v1/dossiers/{quote(key, safe='')}")
    assert dossier["key"] == key
    assert key in {d["code"] for d in dossier["city"] + dossier["national"]}
    # The duplicate's other code, named in the national value, is among the records shown.
    assert duplicate["national"] in {d["code"] for d in dossier["national"]}
    assert dossier["corrected"]["code"] == key
    assert {m["id"] for m in dossier["mismatches"]} == {
        r["id"] for r in everything if r["key"] == key
    }
    assert all("identity" not in d for d in dossier["city"] + dossier["national"])
    assert dossier["history"]
    assert dossier["history"][0]["action"] == "detect"

    migrated = next(r for r in everything if r["kind"] == "migrated")
    excluded = await api.get(f"/api/v1/dossiers/{quote(migrated['key'], safe='')}")
    assert excluded["excluded"]

    flagged = [
        k.decode() if isinstance(k, bytes) else k
        for k in await api.store.redis.hkeys(api.store.key("flags"))
    ]
    assert flagged
    with_flags = await api.get(f"/api/v1/dossiers/{quote(flagged[0], safe='')}")
    assert with_flags["flags"]["flags"]


async def test_overdue(api: Api, config: Config) -> None:
    as_of = date(2024, 7, 25)
    expected = await overdue_flags(api.store, config, as_of)
    listing = await api.get("/api/v1/overdue?as_of=2024-07-25")
    assert listing["as_of"] == "2024-07-25"
    assert listing["flag"] == "all"
    assert [d["code"] for d in listing["dossiers"]] == [f.code for f, _ in expected]
    assert listing["dossiers"]
    overdue = await api.get("/api/v1/overdue?as_of=2024-07-25&flag=overdue")
    assert [d["code"] for d in overdue["dossiers"]] == [
        f.code for f, _ in expected if "overdue" in f.flags
    ]
    assert all("overdue" in d["flags"] for d in overdue["dossiers"])
    field = listing["dossiers"][0]["field"]
    by_field = await api.get(f"/api/v1/overdue?as_of=2024-07-25&field={field}")
    assert {d["field"] for d in by_field["dossiers"]} == {field}
    today = await api.get("/api/v1/overdue")
    assert today["as_of"] == api.scenario.now.astimezone(VN_TZ).date().isoformat()


async def test_reports_in_every_format_and_publishing(api: Api) -> None:
    doc = await api.get("/api/v1/reports/2024-07")
    assert doc["schema"] == "syncd-report/3"
    assert doc["trust"]["issues"] == []  # read after the period ended, nothing in doubt
    assert doc["period"]["label"] == "2024-07"
    total = doc["corrected"]["total"]["cells"]
    assert total["3"] > 0

    resp = await api.client.get("/api/v1/reports/2024-07?format=csv", headers=api.auth("viewer"))
    assert resp.status == 200
    assert resp.content_type == "text/csv"
    assert 'filename="bieu-06-2024-07.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows[-1][2:] == [str(total[c]) for c in sorted(total, key=int) if int(c) >= 3]
    assert [rows[-11][0], rows[-11][1][:15]] == ["#", "Số liệu đã chốt"]

    resp = await api.client.get(
        "/api/v1/reports/2024-07?format=xlsx&lang=en", headers=api.auth("viewer")
    )
    assert resp.status == 200
    assert resp.content_type == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert 'filename="bieu-06-2024-07.xlsx"' in resp.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(await resp.read()))
    assert len(book.sheetnames) >= 2
    numbers = [cell for row in book.worksheets[0].iter_rows(values_only=True) for cell in row]
    assert total["3"] in numbers

    code, body = await api.post("/api/v1/reports/2024-07/publish", role="operator")
    assert code == 403
    code, body = await api.post("/api/v1/reports/2024-07/publish", role="admin")
    assert code == 201
    assert (body["period"], body["version"]) == ("2024-07", 1)
    code, body = await api.post("/api/v1/reports/2024-07/publish", role="admin")
    assert code == 201
    assert body["version"] == 2
    versions = await api.get("/api/v1/reports/2024-07/versions")
    assert [v["number"] for v in versions["versions"]] == [1, 2]
    assert versions["versions"][0]["totals"] == total
    first = await api.get("/api/v1/reports/2024-07?version=1")
    assert first["version"]["number"] == 1
    assert first["restatement"] is None
    now = await api.get("/api/v1/reports/2024-07")
    assert now["restatement"]["since"]["number"] == 2
    resp = await api.client.get(
        "/api/v1/reports/2024-07?version=1&format=csv", headers=api.auth("viewer")
    )
    assert 'filename="bieu-06-2024-07-v1.csv"' in resp.headers["Content-Disposition"]

    log = (await api.get("/api/v1/audit?who=admin1"))["items"]
    assert [(e["action"], e["id"], e["after"]["version"]) for e in log] == [
        ("publish", "report:2024-07", 1),
        ("publish", "report:2024-07", 2),
    ]


# --------------------------------------------------------------------------------------------
# Users


async def test_users_are_managed_by_admins_only(api: Api) -> None:
    listing = await api.get("/api/v1/users", "admin")
    assert listing == {"items": [{"name": f"{r}1", "role": r} for r in sorted(ROLES)]}
    for role in ("viewer", "operator"):
        status, _ = await api.problem("GET", "/api/v1/users", role)
        assert status == 403
    code, body = await api.post(
        "/api/v1/users", {"name": "lan", "role": "operator", "password": PASSWORD}, "admin"
    )
    assert (code, body) == (201, {"name": "lan", "role": "operator"})
    code, body = await api.post(
        "/api/v1/users", {"name": "lan", "role": "viewer", "password": PASSWORD}, "admin"
    )
    assert code == 409
    code, _ = await api.post(
        "/api/v1/users", {"name": "minh", "role": "viewer", "password": PASSWORD}, "operator"
    )
    assert code == 403
    users = Users(api.store)
    token = await users.add_token("lan")
    everything = json.dumps(await api.get("/api/v1/users", "admin"))
    assert "argon2" not in everything
    assert "password" not in everything

    resp = await api.client.delete("/api/v1/users/lan", headers=api.auth("admin"))
    assert resp.status == 204
    assert await users.get("lan") is None
    assert await users.by_token(token) is None
    status, _ = await api.problem("DELETE", "/api/v1/users/admin1", "admin")
    assert status == 409
    log = (await api.get("/api/v1/audit?who=admin1"))["items"]
    assert [(e["action"], e["id"]) for e in log] == [
        ("user_add", "user:lan"),
        ("user_remove", "user:lan"),
    ]
    assert log[0]["after"] == {"role": "operator"}
    assert log[1]["before"] == {"role": "operator"}
    assert "argon2" not in json.dumps(log)


# --------------------------------------------------------------------------------------------
# Security


def filled(canonical: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", canonical)


async def test_every_route_refuses_the_wrong_callers(api: Api) -> None:
    """Walk the router: every route that changes something refuses anonymous callers (401)
    and viewers (403), except logging in and out; every API read refuses anonymous callers."""
    app = api.app
    walked = []
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource else ""
        method, path = route.method, filled(canonical)
        if method in ("GET", "HEAD"):
            if canonical.startswith("/api/v1/"):
                resp = await api.client.request(method, path)
                assert resp.status == 401, (method, canonical)
                walked.append((method, canonical))
            continue
        if (method, canonical) in PUBLIC_MUTATING:
            continue
        resp = await api.client.request(method, path)
        assert resp.status == 401, (method, canonical)
        if canonical.startswith("/api/"):
            assert resp.content_type == "application/problem+json"
        resp = await api.client.request(method, path, headers=api.auth("viewer"))
        assert resp.status == 403, (method, canonical)
        walked.append((method, canonical))
    assert ("POST", "/api/v1/mismatches/{id}/resolve") in walked
    assert ("POST", "/api/v1/reports/{period}/publish") in walked
    assert ("DELETE", "/api/v1/users/{name}") in walked
    assert ("GET", "/api/v1/audit.csv") in walked

    # Admin-only routes refuse operators too.
    for method, path in (
        ("POST", "/api/v1/reports/2024-07/publish"),
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("DELETE", "/api/v1/users/viewer1"),
    ):
        resp = await api.client.request(method, path, headers=api.auth("operator"))
        assert resp.status == 403, path

    resp = await api.client.get("/api/v1/me", headers={"Authorization": "Bearer forged"})
    assert resp.status == 401
    resp = await api.client.get("/api/openapi.json")
    assert resp.status == 200


async def test_a_cookie_caller_needs_the_csrf_token(api: Api) -> None:
    users = Users(api.store)
    operator = await users.get("operator1")
    assert operator is not None
    session = await users.open_session(operator)
    target = next(r for r in await records(api.store) if r["state"] == "open")
    cookies = {SESSION_COOKIE: session.id}
    me = await api.client.get("/api/v1/me", cookies=cookies)
    assert (await me.json())["via"] == "cookie"
    resp = await api.client.post(path_of(target["id"]) + "/claim", cookies=cookies)
    assert resp.status == 403
    assert "CSRF" in (await resp.json())["detail"]
    resp = await api.client.post(
        path_of(target["id"]) + "/claim",
        cookies=cookies,
        headers={"X-CSRF-Token": "a guess"},
    )
    assert resp.status == 403
    resp = await api.client.post(
        path_of(target["id"]) + "/claim",
        cookies=cookies,
        headers={"X-CSRF-Token": session.csrf},
    )
    assert resp.status == 200
    assert (await resp.json())["claimed_by"] == "operator1"


async def test_no_personal_data_in_the_logs(api: Api, dataset: Dataset) -> None:
    """Operators' actions are logged (who, what), never their free text, which may name the
    applicant, as here; nor does anything the API reads or refuses."""
    applicant = next(iter(dataset.applicants.values()))
    said = f"{applicant.name} ({applicant.id_number}) called from {applicant.phone}"
    stream = io.StringIO()
    logs.configure("json", "debug", stream)
    try:
        everything = await records(api.store)
        for r in everything[:10]:
            await api.get(path_of(r["id"]))
            await api.get(f"/api/v1/dossiers/{quote(r['key'], safe='')}")
        target = next(r for r in everything if r["state"] == "open")
        await api.post(path_of(target["id"]) + "/claim")
        code, _ = await api.post(
            path_of(target["id"]) + "/resolve", {"action": "accept_city", "reason": said}
        )
        assert code == 200
        code, _ = await api.post(path_of(target["id"]) + "/reopen", {"reason": said})
        assert code == 200
        code, _ = await api.post(
            "/api/v1/mismatches/bulk-resolve",
            {"kind": "migrated", "action": "manual", "value": "status=10", "reason": said},
        )
        assert code == 200
        await api.post("/api/v1/reports/2024-07/publish", role="admin")
        await api.get("/api/v1/mismatches?limit=500")
        await api.get("/api/v1/overdue")
        await api.get("/api/v1/reports/2024-07")
        await api.get("/api/v1/audit?limit=1000")
        await api.client.get("/api/v1/mismatches?since=nonsense", headers=api.auth("viewer"))
        await api.client.get("/api/v1/dossiers/nothing", headers=api.auth("viewer"))
    finally:
        logs.configure("json", "info")
    output = stream.getvalue()
    events = [json.loads(line)["event"] for line in output.splitlines()]
    assert {"mismatch_claimed", "mismatch_resolved", "mismatch_reopened"} <= set(events)
    assert {"mismatches_bulk_resolved", "report_published"} <= set(events)
    for person in dataset.applicants.values():
        for value in (person.name, person.id_number, person.phone):
            assert value not in output
    # The reason is where it belongs: in the audit trail.
    log = (await api.get("/api/v1/audit", params={"who": "operator1"}))["items"]
    assert any((e["after"].get("resolution") or {}).get("reason") == said for e in log)


async def test_the_document_describes_every_api_route(api: Api) -> None:
    """Every API route the app serves is in the OpenAPI document, with the method it has."""
    app = api.app
    doc = openapi.document()
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
        and route.method != "HEAD"
        and (
            route.resource.canonical.startswith("/api/")
            or route.resource.canonical
            in (
                "/healthz",
                "/readyz",
                "/metrics",
            )
        )
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert served <= documented, served - documented
    ours = {(m, p) for m, p in documented if p.startswith("/api/") and "/sync/" not in p}
    ours -= {("get", "/api/v1/quarantine")}
    assert ours <= served, ours - served
    served_doc = await api.get("/api/openapi.json")
    assert served_doc["openapi"].startswith("3.")
    assert served_doc["paths"].keys() == doc["paths"].keys()


async def test_dossier_history_when_the_clocks_disagree(api: Api) -> None:
    """History is read from shortly before detection; a detection time far from Redis's clock
    (a fixed clock in the future here) must still find every entry."""
    record = next(r for r in await records(api.store) if r["state"] == "open")
    code, record = await api.post(path_of(record["id"]) + "/claim")
    assert code == 200
    path = f"/api/v1/dossiers/{quote(record['key'], safe='')}"
    before = await api.get(path)
    record["detected_at"] = "2099-01-01T00:00:00+07:00"
    await api.store.redis.hset(
        api.store.key("mismatch"), record["id"], json.dumps(record, sort_keys=True)
    )
    after = await api.get(path)
    assert after["history"] == before["history"]
    assert [e["action"] for e in after["history"] if e["id"] == record["id"]] == [
        "detect",
        "claim",
    ]
