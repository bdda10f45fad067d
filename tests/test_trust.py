"""A report states how far it can be trusted, and publishing refuses what cannot be signed.

The trust section's rules (pure), then the guards of `report publish` as real processes and of
the API's publish route, each guard on its own: an unfinished period, a portal not read
completely since the period ended, a quarantined record or a dead letter that could belong to
the period, a period with no dossier at all; and `--force --reason`, which the audit trail and
the published version keep.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import Rejected
from reconcile.model import VN_TZ, Dossier, Source
from reconcile.period import Period
from syncd.config import Config
from syncd.operators import os_user
from syncd.queue import MismatchQueue
from syncd.reports import gather, to_json
from syncd.service import Syncer
from syncd.store import ReadState, Store
from syncd.trust import QUARANTINE_SCAN, could_belong, evaluate, refusals, trust_lines
from tests.commandline import CLI_ENV
from tests.conftest import REDIS_URL
from tests.test_api import Api
from tests.test_api import api as api
from tests.test_cli_ops import cli
from tests.test_report_flow import city

P = Period.parse("2024-07")  # 20/6 - 19/7/2024
AFTER = datetime(2024, 7, 22, 9, tzinfo=VN_TZ)
BEFORE_END = datetime(2024, 7, 19, 23, 59, tzinfo=VN_TZ)
END = datetime(2024, 7, 20, tzinfo=VN_TZ)
READ: Mapping[Source, ReadState] = {s: ReadState(s, AFTER, ()) for s in Source}


def quarantined(
    code: str, raw: Mapping[str, Any] | None = None, source: str = "city"
) -> dict[str, str]:
    return {
        "id": "1-0",
        "source": source,
        "code": code,
        "reason": "dossierStatus: unknown status 'x'",
        "raw": json.dumps(raw or {}),
        "updated_at": "",
    }


# --------------------------------------------------------------------------------------------
# The rules


def test_a_final_report_has_no_issue() -> None:
    trust = evaluate(P, AFTER, READ, [], [], False)
    assert trust["issues"] == []
    assert not trust["provisional"]
    assert trust["portals"]["city"] == {
        "last_complete_at": "2024-07-22T09:00:00+07:00",
        "read_since_end": True,
        "failures_since": [],
    }


def test_the_period_is_provisional_until_its_last_day_is_over() -> None:
    assert evaluate(P, BEFORE_END, READ, [], [], False)["provisional"]
    assert not evaluate(P, END, READ, [], [], False)["provisional"]
    assert evaluate(P, END.astimezone(UTC), READ, [], [], False)["issues"] == []


def test_each_portal_must_have_been_read_completely_after_the_end() -> None:
    states = {
        Source.CITY: ReadState(Source.CITY, BEFORE_END, ()),
        Source.NATIONAL: ReadState(Source.NATIONAL, None, ()),
    }
    trust = evaluate(P, AFTER, states, [], [], False)
    assert trust["issues"] == ["not_read_since_end:city", "never_read:national"]
    assert evaluate(P, AFTER, {}, [], [], False)["issues"] == [
        "never_read:city",
        "never_read:national",
    ]
    # A read that ends at midnight after the last day is after the end.
    at_end = {s: ReadState(s, END, ()) for s in Source}
    assert evaluate(P, AFTER, at_end, [], [], False)["issues"] == []


def test_failed_polls_since_a_complete_read_are_shown_but_do_not_stop_publishing() -> None:
    failures = (
        {"at": "2024-07-22T10:00:00+07:00", "error": "HTTP 503", "kind": "server_error"},
        {"at": "2024-07-22T09:00:00+07:00", "error": "HTTP 500"},  # recorded without a kind
    )
    states = {**READ, Source.NATIONAL: ReadState(Source.NATIONAL, AFTER, failures)}
    trust = evaluate(P, AFTER, states, [], [], False)
    assert trust["issues"] == ["failed_polls:national"]
    assert refusals(trust) == []
    assert trust["portals"]["national"]["failures_since"] == [
        failures[0],
        {**failures[1], "kind": ""},
    ]
    said = "2 lần đọc lỗi từ đó, gần nhất lúc 22/07/2024 10:00: Máy chủ của cổng gặp lỗi (HTTP 5xx)"
    assert any(said in line for line in trust_lines(trust, "vi"))


@pytest.mark.parametrize(
    ("entry", "belongs"),
    [
        (quarantined("000.00.45.H26-240719-0001"), True),  # received on the last day
        (quarantined("000.00.45.H26-240720-0001"), False),  # received after the end
        (quarantined("000.00.45.H26-230105-0001"), True),  # long before: may be carried over
        (quarantined(""), True),  # nothing tells
        (quarantined("HS-0001"), True),  # a code without a date
        # The raw record's receipt field wins over the code when it reads...
        (quarantined("000.00.45.H26-240701-0001", {"receiveDate": "22/07/2024 09:00:00"}), False),
        (quarantined("", {"receiveDate": "02/07/2024 09:00:00"}), True),
        (
            quarantined(
                "000.00.45.H26-240801-0001", {"NgayTiepNhan": "20240702090000"}, "national"
            ),
            True,
        ),
        # ...and is passed over when it does not.
        (quarantined("000.00.45.H26-240722-0001", {"receiveDate": "22-07-2024"}), False),
        (quarantined("", {"receiveDate": "not a date"}), True),
    ],
)
def test_what_could_belong_to_the_period(entry: dict[str, str], belongs: bool) -> None:
    assert could_belong(P, entry["source"], entry["code"], entry["raw"]) is belongs
    trust = evaluate(P, AFTER, READ, [entry], [], False)
    assert ("quarantined" in trust["issues"]) is belongs
    assert trust["quarantined"]["count"] == int(belongs)


def test_quarantine_and_dead_letters_are_counted_by_code() -> None:
    entries = [
        quarantined("000.00.45.H26-240710-0001"),
        quarantined("000.00.45.H26-240710-0001"),  # quarantined again at the next poll
        quarantined(""),
        quarantined("000.00.45.H26-240801-0001"),
    ]
    letters = [
        {"code": "000.00.45.H26-240712-0003", "error": "boom", "attempts": 5},
        {"code": "000.00.45.H26-240803-0001", "error": "boom", "attempts": 5},
    ]
    trust = evaluate(P, AFTER, READ, entries, letters, False)
    assert trust["quarantined"] == {
        "count": 2,
        "codes": ["000.00.45.H26-240710-0001"],
        "without_code": 1,
        "limited": False,
    }
    assert trust["dead_letters"] == {"count": 1, "codes": ["000.00.45.H26-240712-0003"]}
    assert refusals(trust) == ["quarantined", "dead_letters"]
    many = evaluate(P, AFTER, READ, [quarantined("")] * QUARANTINE_SCAN, [], False)
    assert many["quarantined"]["limited"]


async def test_an_empty_store_says_so(store: Store, config: Config) -> None:
    doc = to_json(await gather(store, Period.parse("1999-01"), config.report_settings(), AFTER))
    assert doc["trust"]["issues"] == ["never_read:city", "never_read:national", "empty"]
    assert doc["trust"]["empty"]


# --------------------------------------------------------------------------------------------
# `report publish`, a real process


async def synced(store: Store, read_at: datetime) -> dict[str, str]:
    """A store holding one dossier of 2024-07 on both portals, read completely at `read_at`;
    the environment of a `syncd` process on it."""
    record = city("000.00.45.H26-240701-0001")
    for source in Source:
        await store.upsert(source, [replace_source(record, source)], None)
        await store.record_status(source, last_success_at=read_at.isoformat())
    await Syncer(store, [], clock=lambda: read_at).reconcile_pending()
    return {"SYNCD_REDIS_URL": REDIS_URL, "SYNCD_KEY_PREFIX": store.prefix}


def replace_source(d: Dossier, source: Source) -> Dossier:
    return replace(d, source=source)


async def publish(env: dict[str, str], *extra: str, period: str = "2024-07") -> tuple[int, str]:
    code, out, err = await cli("report", "publish", "--period", period, *extra, env=env)
    return code, (err if code else out)


async def test_publish_refuses_a_store_not_read_since_the_period_ended(store: Store) -> None:
    env = await synced(store, BEFORE_END)
    code, said = await publish(env)
    assert code == 2
    assert len(said.strip().splitlines()) == 1
    assert "Hệ thống Một cửa thành phố chưa được đọc đầy đủ kể từ khi kỳ kết thúc" in said
    assert "--force --reason" in said
    assert await store.report_versions("2024-07") == {}
    code, said = await publish(env, "--force")  # a reason is needed
    assert code == 2
    assert "--reason" in said
    code, said = await publish(env, "--reason", "vì sao")  # a reason alone is a mistake
    assert code == 2
    code, said = await publish(env, "--force", "--reason", "lãnh đạo cần số liệu")
    assert code == 0, said
    (published,) = (await store.report_versions("2024-07")).values()
    version = json.loads(published)["version"]
    assert version["by"] == os_user()  # who ran the command
    assert version["forced"] == {
        "reason": "lãnh đạo cần số liệu",
        "overridden": ["not_read_since_end:city", "not_read_since_end:national"],
    }
    (entry,) = [e for e in await audit(store) if e["action"] == "publish"]
    assert entry["who"] == os_user()
    assert entry["after"]["forced"] == version["forced"]
    code, out, _ = await cli(
        "--lang", "en", "report", "--period", "2024-07", "--version", "1", env=env
    )
    assert "This version was published although" in out
    assert "reason: lãnh đạo cần số liệu" in out


async def audit(store: Store) -> list[dict[str, Any]]:
    return await MismatchQueue(store).audit(100)


async def test_publish_refuses_a_quarantined_record_that_could_belong(store: Store) -> None:
    env = await synced(store, AFTER)
    later = Rejected(Source.CITY, "000.00.45.H26-240723-0001", "bad status", {})
    await store.upsert(Source.CITY, [], None, [later])  # received after the end: no doubt
    code, said = await publish(env)
    assert code == 0, said
    doubtful = Rejected(Source.NATIONAL, "000.00.45.H26-240712-0002", "bad status", {})
    await store.upsert(Source.NATIONAL, [], None, [doubtful])
    code, said = await publish(env)
    assert code == 2
    assert "1 bản ghi bị cách ly có thể thuộc kỳ này" in said
    assert list(await store.report_versions("2024-07")) == [1]


async def test_publish_refuses_an_unfinished_period_and_an_empty_one(store: Store) -> None:
    env = await synced(store, AFTER)
    current = Period.containing(datetime.now(VN_TZ).date()).label
    code, said = await publish(env, period=current)
    assert code == 2
    assert "kỳ báo cáo chưa kết thúc" in said
    code, said = await publish(env, period="1999-01")
    assert code == 2
    assert "kỳ này không có hồ sơ nào" in said
    assert "chưa kết thúc" not in said
    code, _, err = await cli("--lang", "en", "report", "publish", "--period", "1999-01", env=env)
    assert code == 2
    assert "Not publishing the report for 1999-01: the period has no dossier at all." in err


# No syncd yet writes dead letters (Store.dead_letters answers [] until poison isolation does):
# the process is told to have one, the only difference from `syncd report publish`.
WITH_A_DEAD_LETTER = """
import sys
from syncd.store import Store

async def letters(self):
    return [{"code": "000.00.45.H26-240705-0009", "error": "boom", "attempts": 5,
             "first_at": "", "last_at": ""}]

Store.dead_letters = letters
from syncd.cli import main
sys.exit(main(sys.argv[1:]))
"""


async def test_publish_refuses_dead_letters_that_could_belong(store: Store) -> None:
    env = await synced(store, AFTER)
    args = [sys.executable, "-c", WITH_A_DEAD_LETTER, "report", "publish", "--period", "2024-07"]
    done = await asyncio.to_thread(
        subprocess.run,
        args,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **CLI_ENV, **env},
    )
    assert done.returncode == 2, done.stderr
    assert "1 hồ sơ đối soát lỗi có thể thuộc kỳ này" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert await store.report_versions("2024-07") == {}


# --------------------------------------------------------------------------------------------
# The API's publish route


async def problem(api: Api, period: str, body: Any = None) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    resp = await api.client.post(
        f"/api/v1/reports/{period}/publish", headers=api.auth("admin"), **kwargs
    )
    payload = await resp.json()
    return resp.status, payload.get("detail", "") if resp.status >= 400 else payload


async def test_the_api_refuses_each_unfit_report(
    api: Api,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 2024-08 has not ended at the app's clock (25/7/2024).
    status, detail = await problem(api, "2024-08")
    assert status == 409
    assert "kỳ báo cáo chưa kết thúc" in detail
    assert '"force": true' in detail
    # Nothing at all in 1999-01.
    status, detail = await problem(api, "1999-01")
    assert (status, "kỳ này không có hồ sơ nào" in detail) == (409, True)

    # A dead letter of the period.
    async def letters(self: Store) -> list[dict[str, Any]]:
        return [{"code": "000.00.45.H26-240705-0009", "error": "boom", "attempts": 5}]

    monkeypatch.setattr(Store, "dead_letters", letters)
    status, detail = await problem(api, "2024-07")
    assert (status, "1 hồ sơ đối soát lỗi có thể thuộc kỳ này" in detail) == (409, True)
    monkeypatch.undo()
    # A quarantined record of the period.
    await api.store.upsert(
        Source.CITY, [], None, [Rejected(Source.CITY, "000.00.45.H26-240712-0002", "x", {})]
    )
    status, detail = await problem(api, "2024-07")
    assert (status, "bản ghi bị cách ly có thể thuộc kỳ này" in detail) == (409, True)
    # The national portal last read before the end.
    stamp = BEFORE_END.isoformat()
    await api.store.record_status(Source.NATIONAL, last_success_at=stamp, last_complete_at=stamp)
    status, detail = await problem(api, "2024-07")
    assert "Cổng DVCQG chưa được đọc đầy đủ kể từ khi kỳ kết thúc" in detail
    assert await api.store.report_versions("2024-07") == {}
    for body in ({"force": True}, {"force": "yes", "reason": "x"}, {"reason": "x"}, [1]):
        status, _ = await problem(api, "2024-07", body)
        assert status == 400, body
    status, published = await problem(
        api, "2024-07", {"force": True, "reason": "lãnh đạo cần số liệu"}
    )
    assert status == 201, published
    doc = json.loads((await api.store.report_versions("2024-07"))[published["version"]])
    assert doc["version"]["by"] == "admin1"
    assert doc["version"]["forced"]["overridden"] == [
        "not_read_since_end:national",
        "quarantined",
    ]
    log = (await api.get("/api/v1/audit?who=admin1"))["items"]
    assert log[-1]["after"]["forced"]["reason"] == "lãnh đạo cần số liệu"
