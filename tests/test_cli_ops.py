"""Operators' verbs as real processes: resync and the quarantine."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from connectors.city import mock as city_mock
from connectors.city import wire as city_wire
from connectors.dataset import Dataset
from connectors.mockserver import MockPortals
from reconcile.model import Source
from syncd.store import Store
from tests.commandline import run_cli
from tests.conftest import REDIS_URL, UNKNOWN_WORD


def env_for(portals: MockPortals, store: Store) -> dict[str, str]:
    return {
        "SYNCD_REDIS_URL": REDIS_URL,
        "SYNCD_KEY_PREFIX": store.prefix,
        "SYNCD_CITY_URL": portals.city_url,
        "SYNCD_NATIONAL_URL": portals.national_url,
    }


async def cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    return await asyncio.to_thread(run_cli, *args, env=env)


async def test_quarantine_list_show_and_retry_after_the_map_is_fixed(
    odd_portals: MockPortals, odd_dataset: Dataset, store: Store, tmp_path: Path
) -> None:
    env = env_for(odd_portals, store)
    code, _, err = await cli("run", "--once", env=env)
    assert code == 0, err
    odd = {d.code for d in odd_dataset.city if d.native_status == UNKNOWN_WORD}
    assert await store.count(Source.CITY) == len(odd_dataset.city) - 3

    code, out, _ = await cli("quarantine", "list", env=env)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "3 trong tổng số 3 bản ghi bị cách ly:"
    assert {line.split()[4] for line in lines[1:]} == odd
    said = f"dossierStatus: trạng thái '{UNKNOWN_WORD}' chưa có trong bảng ánh xạ status_map.city"
    assert all(said in line for line in lines[1:])

    entry_id = lines[1].split()[0]
    code, out, _ = await cli("--lang", "en", "quarantine", "show", entry_id, env=env)
    assert code == 0
    assert "Reason: dossierStatus: unknown status 'pending_review'" in out
    raw = json.loads(out.split("Raw record (personal fields removed):\n", 1)[1])
    assert raw["dossierStatus"] == UNKNOWN_WORD
    assert not set(raw) & city_wire.PERSONAL_FIELDS
    applicants = [odd_dataset.applicants[c] for c in odd]
    assert not any(a.name in out or a.id_number in out or a.phone in out for a in applicants)

    code, out, _ = await cli("quarantine", "retry", "--all", env=env)
    assert code == 0
    assert "0 bản ghi hợp lệ đã vào kho, 3 vẫn bị cách ly" in out

    fixed = tmp_path / "fixed.toml"
    fixed.write_text(f"[status_map.city]\n{UNKNOWN_WORD} = 4\n", encoding="utf-8")
    code, out, err = await cli("--config", str(fixed), "quarantine", "retry", "--all", env=env)
    assert code == 0, err
    assert "3 bản ghi hợp lệ đã vào kho, 0 vẫn bị cách ly" in out
    assert await store.count(Source.CITY) == len(odd_dataset.city)
    assert await store.quarantine_count() == 0
    corrected = await store.redis.hmget(store.key("corrected"), sorted(odd))
    assert all(corrected)  # reconciled straight away


async def test_quarantine_show_of_an_unknown_entry_is_a_clear_error(
    odd_portals: MockPortals, store: Store
) -> None:
    code, _, err = await cli("quarantine", "show", "1-0", env=env_for(odd_portals, store))
    assert code == 2
    assert err.strip() == "Không có mục cách ly 1-0"


async def test_resync_reads_again_without_moving_the_cursor_and_picks_up_changes(
    portals: MockPortals, dataset: Dataset, store: Store
) -> None:
    env = env_for(portals, store)
    code, _, err = await cli("run", "--once", env=env)
    assert code == 0, err
    cursor = await store.cursor(Source.CITY)

    code, out, err = await cli("resync", "--portal", "city", "--since", "2024-07-01", env=env)
    assert code == 0, err
    since_july = [d for d in dataset.city if d.updated_at.date().isoformat() >= "2024-07-01"]
    assert f"Đọc lại cổng city: {len(since_july)} hồ sơ, 0 mới hoặc thay đổi" in out
    assert await store.cursor(Source.CITY) == cursor

    # The city system changes one dossier without its timestamp moving past our cursor.
    target = dataset.city[0]
    feed = portals.runners[0].app[city_mock.FEED]
    served = feed.get(target.code)
    assert served is not None
    record = {**served, "digitized": not target.digitised}
    key = city_wire.key(record)
    assert key is not None
    feed.upsert(key, record)
    code, out, err = await cli("resync", "--code", target.code, env=env)
    assert code == 0, err
    assert "1 bản ghi mới hoặc thay đổi" in out
    stored = (await store.load(Source.CITY, [target.code]))[target.code]
    assert stored.digitised is not target.digitised


async def test_resync_refuses_a_bad_day_and_since_with_code(
    portals: MockPortals, store: Store
) -> None:
    env = env_for(portals, store)
    code, _, err = await cli("resync", "--portal", "city", "--since", "1/7/2024", env=env)
    assert code == 2
    assert "YYYY-MM-DD" in err
    code, _, err = await cli("resync", "--code", "X", "--since", "2024-07-01", env=env)
    assert code == 2
    assert "--since" in err


async def test_retrying_an_unknown_entry_changes_nothing_and_says_so(
    odd_portals: MockPortals, store: Store
) -> None:
    env = env_for(odd_portals, store)
    code, _, err = await cli("run", "--once", env=env)
    assert code == 0, err
    before = await store.quarantine_count()
    code, _, err = await cli("quarantine", "retry", "1-0", "not-an-id", env=env)
    assert code == 2
    assert err.strip() == "Không có mục cách ly 1-0, not-an-id"
    assert await store.quarantine_count() == before == 3
