"""The report against the real Redis: the period index, publishing, restatements, flags, and the
`report` and `overdue` verbs as real processes."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from connectors.base import Connector
from connectors.dataset import Dataset
from connectors.mockserver import MockPortals
from reconcile.flags import Flag
from reconcile.model import VN_TZ, Channel, Dossier, Source, Status
from reconcile.period import Period
from syncd import config as config_module
from syncd.config import Config, ConfigError
from syncd.reports import cell_ledger, gather, publish, to_json
from syncd.service import Syncer
from syncd.store import Store
from tests.test_cli_ops import cli, env_for

P = Period.parse("2024-07", 20)
NOW = datetime(2024, 7, 25, 10, tzinfo=VN_TZ)


def city(code: str, **changes: object) -> Dossier:
    base = Dossier(
        source=Source.CITY,
        code=code,
        procedure_code="1.009007",
        field_code="DT",
        channel=Channel.ONLINE,
        status=Status.PROCESSING,
        received_at=datetime(2024, 7, 1, 9, tzinfo=VN_TZ),
        updated_at=datetime(2024, 7, 1, 10, tzinfo=VN_TZ),
        due_at=datetime(2024, 7, 10, 17, tzinfo=VN_TZ),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def read_both(store: Store, at: datetime) -> None:
    """Both portals read completely at `at` (what a sync cycle records)."""
    for source in Source:
        await store.record_status(source, last_success_at=at.isoformat())


async def put(store: Store, *records: Dossier) -> Syncer:
    for record in records:
        await store.upsert(record.source, [record], None)
    syncer = Syncer(store, [], clock=lambda: NOW)
    await syncer.reconcile_pending()
    return syncer


async def test_the_index_follows_a_dossier_from_open_to_finished(store: Store) -> None:
    code = "000.00.45.H26-240701-0001"
    await put(store, city(code))
    assert await store.redis.sismember(store.key("pidx", "open"), code)
    assert await store.redis.sismember(store.key("pidx", "m", "2024-07"), code)

    finished = datetime(2024, 9, 3, 9, tzinfo=VN_TZ)
    done = city(code, status=Status.RETURNED, finished_at=finished, updated_at=finished)
    await put(store, done)
    assert not await store.redis.sismember(store.key("pidx", "open"), code)
    for month in ("2024-07", "2024-08", "2024-09"):
        assert await store.redis.sismember(store.key("pidx", "m", month), code), month
    # Period 2024-11 (20/10-19/11) does not read it; 2024-09 (20/8-19/9) does.
    assert code not in await store.period_keys(Period.parse("2024-11", 20))
    assert code in await store.period_keys(Period.parse("2024-09", 20))


async def test_a_report_reads_only_its_period(store: Store, config: Config) -> None:
    inside = city("000.00.45.H26-240701-0001")
    long_ago = city(
        "000.00.45.H26-230105-0001",
        received_at=datetime(2023, 1, 5, 9, tzinfo=VN_TZ),
        due_at=datetime(2023, 1, 20, 17, tzinfo=VN_TZ),
        finished_at=datetime(2023, 1, 18, 9, tzinfo=VN_TZ),
        updated_at=datetime(2023, 1, 18, 9, tzinfo=VN_TZ),
        status=Status.RETURNED,
    )
    await put(store, inside, long_ago)
    gathered = await gather(store, P, config.report_settings(), NOW)
    assert gathered.report.entries == 1
    assert gathered.report.corrected.total[4] == 1
    assert gathered.report.behind("corrected", "DT", 11) == [inside.code]


async def test_published_versions_never_change_and_a_restatement_explains_the_change(
    store: Store, config: Config
) -> None:
    code = "000.00.45.H26-240701-0001"
    await put(store, city(code))
    await read_both(store, NOW)
    doc = to_json(await gather(store, P, config.report_settings(), NOW))
    assert doc["corrected"]["total"]["cells"]["11"] == 1
    assert await publish(store, doc, NOW) == 1
    frozen = (await store.report_versions(P.label))[1]
    # A second write under the same number is refused and changes nothing.
    assert not await store.publish_report(P.label, 1, "{}")
    assert (await store.report_versions(P.label))[1] == frozen
    assert json.loads(frozen)["version"]["number"] == 1

    # The dossier turns out to have been finished late inside the period.
    late = datetime(2024, 7, 15, 16, tzinfo=VN_TZ)
    await put(store, city(code, status=Status.RETURNED, finished_at=late, updated_at=late))
    later = to_json(
        await gather(store, P, config.report_settings(), NOW + timedelta(days=1)),
        await store.report_versions(P.label),
    )
    re = later["restatement"]
    assert re["since"]["number"] == 1
    assert re["changed"]
    cells = {(c["field_code"], c["column"]): c for c in re["cells"]}
    assert set(cells) == {("DT", 11), ("DT", 13), ("DT", 7), ("DT", 10)}  # due 10/7: overdue
    assert cells[("DT", 10)]["added"][0]["key"] == code
    assert {r["kind"] for r in cells[("DT", 10)]["added"][0]["reasons"]} >= {"updated"}
    assert [item["key"] for item in cells[("DT", 11)]["removed"]] == [code]
    # The published version is still what it was.
    assert (await store.report_versions(P.label))[1] == frozen
    assert await publish(store, later, NOW + timedelta(days=1)) == 2


async def test_flags_are_stored_on_reconcile_and_refreshed_daily(store: Store) -> None:
    code = "000.00.45.H26-240701-0001"
    syncer = await put(store, city(code, due_at=datetime(2024, 7, 26, 17, tzinfo=VN_TZ)))
    assert set(await store.flagged(Flag.DUE_SOON)) == {code}  # due tomorrow, NOW is 25/7
    assert await store.flagged(Flag.OVERDUE) == {}
    syncer.clock = lambda: NOW + timedelta(days=4)  # Monday 29/7
    assert await syncer.refresh_flags() == 1
    overdue = await store.flagged(Flag.OVERDUE)
    assert set(overdue) == {code}
    assert overdue[code]["days_late"] == 1  # Fri 26/7 -> Mon 29/7: one working day
    assert Flag.LATE_NO_APOLOGY.value in overdue[code]["flags"]
    assert await store.flagged(Flag.DUE_SOON) == {}
    assert await syncer.refresh_flags() == 0  # once a day


async def test_report_and_overdue_verbs(
    portals: MockPortals,
    connectors: list[Connector],
    dataset: Dataset,
    store: Store,
    tmp_path: Path,
) -> None:
    await Syncer(store, connectors, clock=lambda: NOW).cycle()
    env = env_for(portals, store)
    book = tmp_path / "form.xlsx"
    code, out, err = await cli(
        "report", "--period", "2024-07", "--format", "xlsx", "-o", str(book), env=env
    )
    assert code == 0, err
    sheet = openpyxl.load_workbook(book).worksheets[0]
    assert "06/VPCP/KSTT" in " ".join(str(c.value) for c in sheet[1] if c.value)

    code, out, _ = await cli("report", "--period", "2024-07", "--format", "json", env=env)
    doc = json.loads(out)
    resolved = doc["corrected"]["total"]["cells"]["7"]
    code, out, _ = await cli("report", "--period", "2024-07", "--cell", "total:7", env=env)
    assert code == 0
    assert len(out.split()) == resolved > 0

    code, out, _ = await cli("report", "--period", "2024-07", "--format", "dvcqg", env=env)
    assert json.loads(out)["Thang"] == 7

    nowhere = str(tmp_path / "missing-dir" / "form.xlsx")
    code, _, err = await cli(
        "report", "--period", "2024-07", "--format", "xlsx", "-o", nowhere, env=env
    )
    assert code == 2
    assert nowhere in err
    assert "Traceback" not in err
    code, _, err = await cli("report", "--period", "2024-07", "--cell", "DT:14", env=env)
    assert code == 2
    assert "DT:14" in err
    # An unknown field is an error naming the known ones, not an empty list.
    code, out, err = await cli("report", "--period", "2024-07", "--cell", "XYZ:9", env=env)
    assert code == 2, out
    assert "XYZ" in err
    assert all(known in err for known in ("DT", "QH", "total"))
    assert len(err.strip().splitlines()) == 1
    code, _, err = await cli("report", "--period", "2024-07", "--version", "3", env=env)
    assert code == 2
    assert "3" in err

    code, out, _ = await cli("report", "publish", "--period", "2024-07", env=env)
    assert code == 0
    assert "1" in out
    code, out, _ = await cli("report", "versions", "--period", "2024-07", env=env)
    assert out.startswith("1  ")

    as_of = "2024-07-19"
    code, out, err = await cli("overdue", "--as-of", as_of, "--format", "json", env=env)
    assert code == 0, err
    listed = json.loads(out)["dossiers"]
    overdue = [d for d in listed if "overdue" in d["flags"]]
    # At the period's last day, the overdue list is exactly the form's col 13 (pending, due
    # before the end, clock running), dossier for dossier.
    behind_13 = cell_ledger(doc, "corrected", None, 13)
    assert behind_13
    assert sorted(d["code"] for d in overdue) == behind_13
    assert all(d["due"] < as_of for d in overdue)
    code, _, err = await cli("overdue", "--as-of", "19/07/2024", env=env)
    assert code == 2
    assert "19/07/2024" in err


def test_period_containing_matches_the_cut_off() -> None:
    assert Period.containing(date(2024, 7, 19), 20).label == "2024-07"
    assert Period.containing(date(2024, 7, 20), 20).label == "2024-08"
    assert Period.containing(date(2024, 12, 25), 20).label == "2025-01"
    assert Period.containing(datetime(2024, 7, 5, tzinfo=UTC).date(), 1).label == "2024-07"


async def test_gather_runs_concurrently_with_itself(store: Store, config: Config) -> None:
    await put(store, city("000.00.45.H26-240701-0001"), city("000.00.45.H26-240702-0001"))
    one, two = await asyncio.gather(
        gather(store, P, config.report_settings(), NOW),
        gather(store, P, config.report_settings(), NOW),
    )
    assert one.report.forms == two.report.forms


@pytest.mark.parametrize(
    ("toml", "key", "shown"),
    [
        (
            "[calendar]\nextra_days_off = ['2024-02-30']\n",
            "calendar.extra_days_off[0]",
            "2024-02-30",
        ),
        (
            "[calendar]\nextra_working_days = '2024-05-04'\n",
            "calendar.extra_working_days",
            "2024-05-04",
        ),
        (
            "[calendar]\nextra_days_off = ['2024-05-04']\nextra_working_days = ['2024-05-04']\n",
            "calendar.extra_working_days",
            "2024, 5, 4",
        ),
        ("[deadlines]\npause_policy = 'pause'\n", "deadlines.pause_policy", "'pause'"),
        ("[deadlines]\npaper_cutoff = '3pm'\n", "deadlines.paper_cutoff", "'3pm'"),
        ("[deadlines]\ndue_soon_days = 31\n", "deadlines.due_soon_days", "31"),
    ],
)
def test_bad_deadline_configuration_names_the_key(
    tmp_path: Path, toml: str, key: str, shown: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        config_module.load(bad, env={})
    assert caught.value.key == key
    assert shown in str(caught.value)
    # The file the user wrote holds the bad value, not the packaged defaults.
    assert caught.value.where == str(bad)


def test_the_calendar_and_policy_from_configuration_reach_the_engine(tmp_path: Path) -> None:
    own = tmp_path / "own.toml"
    own.write_text(
        "[calendar]\nextra_days_off = ['2024-07-08']\n[deadlines]\npause_policy = 'extend'\n"
        "paper_cutoff = '16:30'\n",
        encoding="utf-8",
    )
    policy = config_module.load(own, env={}).policy()
    assert policy.calendar is not None
    assert not policy.calendar.is_working_day(date(2024, 7, 8))
    assert policy.pause_policy == "extend"
    assert policy.paper_cutoff.hour == 16
    off = config_module.load(env={})
    assert (
        replace(off, deadlines=replace(off.deadlines, check_due_dates=False)).policy().calendar
        is None
    )
