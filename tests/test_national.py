"""The national client's services against the national mock over loopback."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from aiohttp import web

from connectors.dataset import AGENCY_CODE, Dataset
from connectors.mockserver import NATIONAL_PASSWORD, NATIONAL_USERNAME
from connectors.national import mock as national_mock
from connectors.national import wire as national_wire
from connectors.national.client import (
    ALREADY_EXISTS,
    INVALID,
    NOT_FOUND,
    NationalConnector,
    NationalSettings,
    ProgressStep,
    ServiceError,
    succeeded,
)
from reconcile.compare import MismatchKind
from reconcile.model import VN_TZ, Procedure, Source, Status
from syncd.service import Syncer
from syncd.store import Store
from tests.conftest import FAST_HTTP


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def national(dataset: Dataset):  # type: ignore[no-untyped-def]
    app = national_mock.make_app(dataset, NATIONAL_USERNAME, NATIONAL_PASSWORD, AGENCY_CODE)
    runner, url = await serve(app)
    connector = NationalConnector(
        NationalSettings(url, NATIONAL_USERNAME, NATIONAL_PASSWORD, AGENCY_CODE, 50, FAST_HTTP)
    )
    yield connector, app
    await connector.close()
    await runner.cleanup()


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"error_code": "00"}, True),
        ({"error_code": 0}, True),
        ({"error_code": "0"}, True),
        ({"error_code": " 00 "}, True),
        ({"error_code": "01"}, False),
        ({"error_code": None}, False),
        ({}, False),
    ],
)
def test_success_codes_are_parsed_defensively(body: dict[str, object], ok: bool) -> None:
    assert succeeded(body) is ok


async def test_look_up_finds_a_dossier_and_says_none_for_an_unknown_code(
    national: tuple[NationalConnector, web.Application], dataset: Dataset
) -> None:
    connector, _ = national
    known = dataset.national[0]
    page = await connector.fetch_one(known.code)
    assert page.dossiers == (known,)
    assert (await connector.fetch_one("000.00.45.H26-000000-0000")).dossiers == ()


async def test_records_are_created_then_updated_and_refusals_say_why_by_code(
    national: tuple[NationalConnector, web.Application], dataset: Dataset
) -> None:
    connector, _ = national
    city_only = next(d for d in dataset.city if d.code not in {n.code for n in dataset.national})
    new = replace(city_only, source=Source.NATIONAL, native_status="")
    assert await connector.look_up(new.code) is None
    record = national_wire.encode(new, {"ChuHoSo": "Nguyễn Văn A"})
    await connector.write_record(record, updating=False)
    served = await connector.look_up(new.code)
    assert served is not None
    assert served["ChuHoSo"] == "Nguyễn Văn A"
    stored = connector.wire.decode(served)
    assert (stored.status, stored.received_at) == (new.status, new.received_at)

    with pytest.raises(ServiceError) as exists:
        await connector.write_record(record, updating=False)
    assert exists.value.code in ALREADY_EXISTS
    await connector.write_record({**served, "TrangThaiHoSo": "10"}, updating=True)
    assert (await connector.fetch_one(new.code)).dossiers[0].status is Status.RETURNED
    missing = {**record, "MaHoSo": "000.00.45.H26-240101-9999"}
    with pytest.raises(ServiceError) as absent:
        await connector.write_record(missing, updating=True)
    assert absent.value.code in NOT_FOUND
    with pytest.raises(ServiceError) as invalid:
        await connector.write_record({**record, "TrangThaiHoSo": "99"}, updating=True)
    assert invalid.value.code in INVALID


async def test_progress_steps_are_pushed_for_a_known_dossier_only(
    national: tuple[NationalConnector, web.Application], dataset: Dataset
) -> None:
    connector, app = national
    code = dataset.national[0].code
    step = ProgressStep(datetime(2024, 7, 2, 9, 0, tzinfo=VN_TZ), Status.PROCESSING, "Thẩm định")
    await connector.push_progress(code, [step])
    assert app[national_mock.PROGRESS][code] == [
        {
            "MaHoSo": code,
            "ThoiDiemXuLy": "20240702090000",
            "TrangThai": "4",
            "NoiDungXuLy": "Thẩm định",
            "PhongBanXuLy": "",
        }
    ]
    with pytest.raises(ServiceError, match="không tồn tại"):
        await connector.push_progress("no-such-code", [step])


async def test_an_expired_session_is_renewed_and_the_same_page_sent_again(
    dataset: Dataset,
) -> None:
    app = national_mock.make_app(
        dataset, NATIONAL_USERNAME, NATIONAL_PASSWORD, AGENCY_CODE, session_ttl=0.0
    )
    runner, url = await serve(app)
    connector = NationalConnector(
        NationalSettings(url, NATIONAL_USERNAME, NATIONAL_PASSWORD, AGENCY_CODE, 500, FAST_HTTP)
    )
    try:
        with pytest.raises(ServiceError, match="401"):
            [page async for page in connector.pages(None)]  # a session that dies at once
        assert connector.logins == 2  # renewed once, then gave up: no login storm
    finally:
        await connector.close()
        await runner.cleanup()


async def test_the_catalogue_is_fetched_stored_and_flags_unknown_procedures(
    national: tuple[NationalConnector, web.Application], dataset: Dataset, store: Store
) -> None:
    connector, app = national
    app[national_mock.PROCEDURES][:] = [
        Procedure("1.009007", "Cấp giấy chứng nhận đăng ký đầu tư", "DT", 15),
        Procedure("1.009014", "Điều chỉnh dự án", "DT", 10, working_days=False),
    ]
    syncer = Syncer(store, [connector], catalogue=connector)
    await syncer.refresh_catalogue()
    assert await store.procedures() == {p.code: p for p in app[national_mock.PROCEDURES]}
    assert syncer.known_procedures == {"1.009007", "1.009014"}
    fetched = await store.procedures_fetched_at()
    app[national_mock.PROCEDURES].clear()
    await syncer.refresh_catalogue()  # fresh enough: not fetched again
    assert await store.procedures_fetched_at() == fetched
    assert len(await store.procedures()) == 2

    known, unknown = dataset.national[0], dataset.national[1]
    known = replace(known, procedure_code="1.009007")
    await store.upsert(Source.NATIONAL, [known, unknown], None)
    decisions = await syncer.reconcile_codes([known.code, unknown.code])
    flagged = {
        d.code for d in decisions for m in d.mismatches if m.kind is MismatchKind.UNKNOWN_PROCEDURE
    }
    assert flagged == {unknown.code}
    assert {d.code for d in decisions if d.corrected} == {known.code, unknown.code}  # not dropped


async def test_a_catalogue_entry_that_does_not_parse_is_reported_not_fatal(
    national: tuple[NationalConnector, web.Application],
) -> None:
    connector, app = national
    app[national_mock.PROCEDURES][:] = [
        Procedure("1.0001", "A", "DT", 5),
        {"MaTTHC": "1.0002", "MaLinhVuc": "DT", "ThoiGianGiaiQuyet": "mười"},
        {"MaTTHC": "1.0003", "MaLinhVuc": "DT", "ThoiGianGiaiQuyet": "3", "DonViThoiGian": "Tuần"},
        "not an object",
    ]
    good, problems = await connector.procedures()
    assert [p.code for p in good] == ["1.0001"]
    assert problems == [
        "entry 1: ThoiGianGiaiQuyet: 'mười' is not a number of days",
        "entry 2: DonViThoiGian: 'tuần' is neither 'Ngày làm việc' nor 'Ngày'",
        "entry 3: record: not a JSON object",
    ]
