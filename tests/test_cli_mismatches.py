"""`syncd mismatches` as operators run it: real processes on the real Redis."""

from __future__ import annotations

import asyncio
import csv
import io
import json

import pytest

from syncd.operators import os_user
from syncd.queue import stored_id
from syncd.store import Store
from syncd.web.auth import Users
from tests.commandline import run_cli
from tests.conftest import REDIS_URL
from tests.test_queue import UNKNOWN, apply, decision, mismatch
from tests.test_store import snapshot

STATUS_ID = "HS-1~status"  # as the CLI shows it; "HS-1|status" is accepted too
ME = os_user()  # the OS user the tests run as: who the audit names
OTHER_ID = "HS-2~unknown_procedure"


@pytest.fixture
async def env(store: Store) -> dict[str, str]:
    await apply(
        store,
        decision("HS-1", mismatch("HS-1", city="9", national="4")),
        decision("HS-2", mismatch("HS-2", UNKNOWN, "1.000001", None)),
    )
    users = Users(store)
    for name, role in (("lan", "operator"), ("minh", "admin"), ("xem", "viewer")):
        await users.add(name, role, "mat-khau-rat-dai-1")
    return {"SYNCD_REDIS_URL": REDIS_URL, "SYNCD_KEY_PREFIX": store.prefix, "SYNCD_LANG": "vi"}


async def cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return await asyncio.to_thread(run_cli, *args, env=env)


async def test_list_and_show_in_vietnamese_and_english(env: dict[str, str]) -> None:
    listed, as_json, shown, shown_en, claimed_only = await asyncio.gather(
        cli(env, "mismatches", "list"),
        cli(env, "--lang", "en", "mismatches", "list", "--format", "json", "--limit", "1"),
        cli(env, "mismatches", "show", stored_id(STATUS_ID)),  # the older form
        cli(env, "--lang", "en", "mismatches", "show", STATUS_ID),
        cli(env, "mismatches", "list", "--state", "claimed"),
    )
    code, out, err = listed
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "2 trong tổng số 2 sai lệch:"
    assert lines[1].startswith(f"{STATUS_ID}  đang mở  9 / 4  01/07/2024 08:30:00")
    assert lines[2].startswith(f"{OTHER_ID}  đang mở  1.000001 / -")

    code, out, err = as_json
    assert code == 0, err
    listing = json.loads(out)
    assert (listing["total"], [r["id"] for r in listing["items"]]) == (2, [STATUS_ID])
    assert listing["items"][0]["code"] == "HS-1"

    code, out, err = shown
    assert code == 0, err
    assert "Mã sai lệch:       HS-1~status" in out
    assert "Trạng thái:        đang mở" in out
    assert "Một cửa thành phố: 9" in out
    assert "Lịch sử:\n  01/07/2024 08:30:00  syncd  phát hiện  [đang mở]  9 / 4" in out

    code, out, err = shown_en
    assert code == 0, err
    assert "State:           open" in out
    assert "History:\n  01/07/2024 08:30:00  syncd  detected  [open]  9 / 4" in out

    code, out, _ = claimed_only
    assert (code, out) == (0, "0 trong tổng số 0 sai lệch:\n")


async def test_claim_resolve_reopen_and_the_audit_trail(env: dict[str, str], store: Store) -> None:
    # The OS user is an administrator: --by records the operators who decided.
    await Users(store).add(ME, "admin", "mat-khau-rat-dai-1")
    code, out, err = await cli(env, "mismatches", "claim", STATUS_ID, "--by", "lan")
    assert (code, out) == (0, "Đã nhận xử lý sai lệch HS-1~status (người nhận: lan).\n"), err

    code, out, err = await cli(
        env,
        "mismatches",
        "resolve",
        STATUS_ID,
        "--accept",
        "national",
        "--reason",
        "DVCQG đúng theo hồ sơ giấy",
        "--by",
        "minh",
    )
    assert code == 0, err
    assert out.splitlines() == [
        "Đã giải quyết sai lệch HS-1~status: lấy theo Cổng DVCQG (status=4).",
        "Đã ghi giá trị status=4 cho hồ sơ HS-1; hồ sơ sẽ được đối soát lại.",
    ]
    assert await store.overrides(["HS-1"]) == {"HS-1": {"status": "4"}}
    assert await store.redis.sismember(store.key("dirty"), "HS-1")

    code, _, err = await cli(env, "mismatches", "resolve", STATUS_ID, "--ignore", "--reason", "x")
    assert code == 2
    assert err.strip() == (
        "Sai lệch HS-1~status đang ở trạng thái đã giải quyết: không thể giải quyết"
    )

    code, out, err = await cli(
        env,
        "--lang",
        "en",
        "mismatches",
        "reopen",
        STATUS_ID,
        "--reason",
        "wrong file",
        "--by",
        "lan",
    )
    assert (code, out) == (0, "Reopened mismatch HS-1~status.\n"), err
    assert await store.overrides(["HS-1"]) == {}

    code, out, err = await cli(env, "mismatches", "resolve", OTHER_ID, "--ignore", "--reason", "ok")
    assert code == 0, err
    assert out == "Đã giải quyết sai lệch HS-2~unknown_procedure: bỏ qua.\n"

    (code, text, err), (csv_code, as_csv, _) = await asyncio.gather(
        cli(env, "mismatches", "audit"),
        cli(env, "--lang", "en", "mismatches", "audit", "--format", "csv"),
    )
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0] == "6 mục nhật ký:"
    assert [line.split("  ")[1:4] for line in lines[1:]] == [
        ["syncd", "phát hiện", STATUS_ID],
        ["syncd", "phát hiện", OTHER_ID],
        ["lan", "nhận xử lý", STATUS_ID],
        ["minh", "giải quyết", STATUS_ID],
        ["lan", "mở lại", STATUS_ID],
        [ME, "giải quyết", OTHER_ID],
    ]
    assert lines[4].endswith("đã nhận xử lý → đã giải quyết  DVCQG đúng theo hồ sơ giấy")
    assert lines[5].endswith("đã giải quyết → đang mở")

    assert csv_code == 0
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert [(r["who"], r["action"], r["id"]) for r in rows][2:4] == [
        ("lan", "claim", STATUS_ID),
        ("minh", "resolve", STATUS_ID),
    ]
    resolved = rows[3]
    assert json.loads(resolved["before"])["state"] == "claimed"
    after = json.loads(resolved["after"])
    assert (after["state"], after["resolution"]["action"]) == ("resolved", "accept_national")
    assert rows[0]["before"] == "null"


async def test_by_defaults_to_the_os_user(env: dict[str, str], store: Store) -> None:
    code, _, err = await cli(env, "mismatches", "claim", OTHER_ID)
    assert code == 0, err
    [record] = (await store.mismatch_records([stored_id(OTHER_ID)])).values()
    assert record["claimed_by"] == ME


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("nobody-here", "--by 'nobody-here': không có tài khoản nào tên này"),
        ("xem", "--by 'xem': không có tài khoản nào tên này"),  # a viewer works no queue
        ('=HYPERLINK("http://x","c")', "không có tài khoản nào tên này"),
    ],
)
async def test_by_must_name_an_account_that_works_the_queue(
    env: dict[str, str], store: Store, by: str, expected: str
) -> None:
    await Users(store).add(ME, "admin", "mat-khau-rat-dai-1")  # an administrator's context
    before = await snapshot(store)
    code, _, err = await cli(env, "mismatches", "claim", OTHER_ID, "--by", by)
    assert code == 2
    assert expected in err
    assert await snapshot(store) == before


async def test_outside_an_administrators_context_the_audit_names_the_caller(
    env: dict[str, str], store: Store
) -> None:
    """The OS user has no admin account: --by is refused (nothing changes), and without it
    the audit names the OS user, whatever name they would have liked to write."""
    await Users(store).add(ME, "operator", "mat-khau-rat-dai-1")  # not an admin
    before = await snapshot(store)
    code, _, err = await cli(env, "mismatches", "claim", OTHER_ID, "--by", "lan")
    assert code == 2
    assert f"tên đăng nhập hệ điều hành của bạn, {ME}, là một tài khoản admin" in err
    assert await snapshot(store) == before
    code, _, err = await cli(env, "mismatches", "claim", OTHER_ID, "--by", ME)
    assert code == 0, err
    [record] = (await store.mismatch_records([stored_id(OTHER_ID)])).values()
    assert record["claimed_by"] == ME


BAD_INPUT = [
    (["show", "HS-9|status"], "Không có sai lệch HS-9|status"),
    (["claim", "HS-9|status"], "Không có sai lệch HS-9|status"),
    (["resolve", "HS-9|status", "--ignore", "--reason", "x"], "Không có sai lệch HS-9|status"),
    (["reopen", STATUS_ID, "--reason", "x"], "đang mở: không thể mở lại"),
    (["resolve", STATUS_ID, "--ignore"], "Cần nêu lý do (--reason)"),
    (["resolve", STATUS_ID, "--ignore", "--reason", "  "], "Cần nêu lý do (--reason)"),
    (["reopen", STATUS_ID], "Cần nêu lý do (--reason)"),
    (["resolve", STATUS_ID, "--reason", "x"], "Cần đúng một cách giải quyết"),
    (["resolve", STATUS_ID, "--ignore", "--accept", "city", "--reason", "x"], "Cần đúng một"),
    (["resolve", STATUS_ID, "--value", "status=11", "--reason", "x"], "từ 1 đến 10"),
    (["resolve", STATUS_ID, "--value", "colour=1", "--reason", "x"], "'colour' không sửa được"),
    (["resolve", STATUS_ID, "--value", "due_at=2024-07-01", "--reason", "x"], "ISO 8601"),
    (["list", "--kind", "colour"], "Loại sai lệch không hợp lệ 'colour'"),
]


async def test_bad_input_exits_2_with_one_line_and_changes_nothing(
    env: dict[str, str], store: Store
) -> None:
    before = await snapshot(store)
    results = await asyncio.gather(*(cli(env, "mismatches", *args) for args, _ in BAD_INPUT))
    for (args, expected), (code, out, err) in zip(BAD_INPUT, results, strict=True):
        assert code == 2, (args, out, err)
        assert len(err.strip().splitlines()) == 1, (args, err)
        assert expected in err, (args, err)
    code, _, err = await cli(
        env,
        "--lang",
        "en",
        "mismatches",
        "resolve",
        STATUS_ID,
        "--value",
        "channel=7",
        "--reason",
        "x",
    )
    assert (code, err) == (2, "channel='7': expected a whole number from 1 to 3\n")
    assert await snapshot(store) == before
