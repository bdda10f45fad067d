"""Nothing from the data becomes a spreadsheet formula: codes are checked on ingest (what does
not fit is quarantined with the reason, in the reader's language), and every CSV and XLSX export
writes data through the one neutralising writer (syncd.cells), for data stored before the
checks existed too."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import replace
from typing import Any

import openpyxl
import pytest
from aiohttp.test_utils import TestClient

from connectors.base import Connector, WireError, parse_reason
from connectors.city import wire as city_wire
from connectors.dataset import generate
from connectors.mockserver import start_mock_portals
from connectors.national import wire as national_wire
from reconcile.model import Source
from reconcile.period import Period
from syncd.cells import CsvWriter, formula_like
from syncd.config import Config
from syncd.i18n import wire_reason
from syncd.report_cli import report_document
from syncd.reports import render_csv
from syncd.service import Syncer
from syncd.store import Store
from syncd.web import data
from syncd.web.app import make_app
from syncd.web.auth import Users
from syncd.web.ops import _quarantine_item
from syncd.xlsx import render_xlsx
from tests.conftest import make_connectors
from tests.test_cli_ops import cli, env_for
from tests.test_report_flow import NOW, city, put

FORMULAS = [
    '=HYPERLINK("http://x","c")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
]
NOT_CODES = [*FORMULAS, "000.00.45.H26 240701 0001", "A\x00B", "X" * 65, ""]


def city_record(**changes: Any) -> dict[str, Any]:
    d = generate(5, 3).city[0]
    return {**city_wire.encode(d, d.native_status or "processing", {}), **changes}


def national_record(**changes: Any) -> dict[str, Any]:
    d = generate(5, 3).national[0]
    return {**national_wire.encode(d, {}), **changes}


@pytest.mark.parametrize("value", [v for v in NOT_CODES if v])
@pytest.mark.parametrize(
    ("side", "field"),
    [
        ("city", "dossierNo"),
        ("city", "serviceCode"),
        ("city", "domainCode"),
        ("national", "MaHoSo"),
        ("national", "MaHoSoKhac"),
        ("national", "MaTTHC"),
        ("national", "MaLinhVuc"),
    ],
)
def test_codes_that_do_not_fit_their_format_are_refused_with_the_reason(
    config: Config, side: str, field: str, value: str
) -> None:
    def decode() -> object:
        if side == "city":
            return city_wire.decode(city_record(**{field: value}), config.city_statuses())
        return national_wire.decode(national_record(**{field: value}))

    with pytest.raises(WireError) as refused:
        decode()
    assert (refused.value.code, refused.value.field) == ("bad_code", field)
    parsed = parse_reason(str(refused.value))
    assert parsed is not None
    assert parsed[:2] == ("bad_code", field)
    assert "không phải mã" in wire_reason(str(refused.value), "vi")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("MaHoSo", "000.00.45.H26-240701-0001"),
        ("MaHoSo", "H26.99-240701-0001"),
        ("MaHoSo", "HS_2019_0001"),
        ("MaTTHC", "1.009876"),
        ("MaTTHC", "1.004227.000.00.00.H26"),
        ("MaLinhVuc", "XNK"),
        ("MaLinhVuc", "G09-TM01"),
    ],
)
def test_real_codes_are_read(field: str, value: str) -> None:
    decoded = national_wire.decode(national_record(**{field: value}))
    got = {"MaHoSo": decoded.code, "MaTTHC": decoded.procedure_code}.get(field, decoded.field_code)
    assert got == value


def test_every_quarantine_reason_is_worded_in_both_languages() -> None:
    from connectors.base import WIRE_REASONS
    from connectors.fields import CODE_FORMATS
    from syncd.i18n import MESSAGES

    for code, english in WIRE_REASONS.items():
        assert MESSAGES[f"wire.{code}"]["en"] == english
        assert MESSAGES[f"wire.{code}"]["vi"] != english
    for kind, (_, rule) in CODE_FORMATS.items():
        assert MESSAGES[f"wire.rule.{kind}"]["en"] == rule
    assert wire_reason("something else entirely", "vi") == "something else entirely"


async def test_formula_codes_from_a_portal_are_quarantined_not_stored(
    store: Store, config: Config
) -> None:
    data_ = generate(30, 4)
    bad_city = replace(data_.city[0], code=FORMULAS[0])
    bad_national = replace(data_.national[1], field_code="@SUM(1)")
    dataset = replace(
        data_,
        city=(bad_city, *data_.city[1:]),
        national=(data_.national[0], bad_national, *data_.national[2:]),
        applicants={**data_.applicants, bad_city.code: data_.applicants[data_.city[0].code]},
    )
    portals = await start_mock_portals(dataset, config.city_statuses())
    connectors: list[Connector] = list(make_connectors(portals, config))
    try:
        await Syncer(store, connectors, clock=lambda: NOW).cycle()
    finally:
        for connector in connectors:
            await connector.close()
        await portals.stop()
    assert await store.count(Source.CITY) == len(dataset.city) - 1
    assert await store.count(Source.NATIONAL) == len(dataset.national) - 1
    entries = await store.quarantined(10)
    reasons = sorted(wire_reason(e["reason"], "vi") for e in entries)
    assert len(reasons) == 2
    assert reasons[0].startswith("MaLinhVuc: '@SUM(1)' không phải mã lĩnh vực hợp lệ")
    assert reasons[1].startswith("dossierNo: '=HYPERLINK(")
    # The English stays as stored, and the API gives the code and the words too.
    assert all(wire_reason(e["reason"], "en") == e["reason"] for e in entries)
    items = [_quarantine_item(e) for e in entries]
    assert {i["reason_code"] for i in items} == {"bad_code"}
    assert all("không phải mã" in i["reason_text"] for i in items)


def test_the_writer_neutralises_formula_like_text_only() -> None:
    out = io.StringIO()
    CsvWriter(out).writerow([*FORMULAS[:4], "ordinary", "", 7, -3, None, "1.009876"])
    [row] = list(csv.reader(io.StringIO(out.getvalue())))
    assert row[:4] == ["'" + f for f in FORMULAS[:4]]
    assert row[4:] == ["ordinary", "", "7", "-3", "", "1.009876"]
    out = io.StringIO()
    CsvWriter(out).writerow(["\t=1", "\r=1"])
    assert out.getvalue() == "'\t=1,'\r=1\n"
    assert not formula_like("1.009876")


async def risky_report(store: Store, config: Config) -> dict[str, Any]:
    """A report over data stored before codes were checked: its field, codes and reasons are
    formula-like texts."""
    await put(
        store,
        city("-1+1", field_code="=CMD", procedure_code="@SUM(1)"),
        city("000.00.45.H26-240701-0002", field_code="DT"),
    )
    period = Period.parse("2024-07", config.report.cutoff_day)
    doc = await report_document(store, config, period, NOW)
    assert any(row["field_code"] == "=CMD" for row in doc["corrected"]["rows"])
    return doc


async def test_report_csv_and_xlsx_hold_no_formula(store: Store, config: Config) -> None:
    doc = await risky_report(store, config)
    rows = list(csv.reader(io.StringIO(render_csv(doc, "vi", "corrected"))))
    cells = [cell for row in rows for cell in row]
    assert "'=CMD" in cells
    assert not [c for c in cells if formula_like(c)]

    doc["differences"] = [
        {
            "source": "city",
            "key": "-1+1",
            "codes": ["-1+1", "@x"],
            "field_code": "=CMD",
            "corrected_field_code": "=CMD",
            "raw_cells": [3],
            "corrected_cells": [],
            "reasons": [{"kind": "migrated", "detail": "=HYPERLINK(1)"}],
        }
    ]
    book = openpyxl.load_workbook(io.BytesIO(render_xlsx(doc, "vi")))
    assert [ws.title for ws in book.worksheets][:3] == ["Biểu 06", "Đối chiếu", "Chênh lệch"]
    seen: set[str] = set()
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and formula_like(cell.value):
                    assert cell.quotePrefix, (ws.title, cell.coordinate)
                    seen.add(cell.value)
    assert {"=CMD", "-1+1", "=CMD – =CMD"} & seen
    assert "-1+1" in seen
    # The figures are still numbers.
    form = book.worksheets[0]
    numbers = [c.value for row in form.iter_rows(min_row=8) for c in row[2:]]
    assert any(isinstance(v, int) and v > 0 for v in numbers)


async def test_the_cli_csv_exports_hold_no_formula(
    store: Store, config: Config, tmp_path: Any
) -> None:
    await risky_report(store, config)
    await data.record_action(
        _context(store, config), "=HYPERLINK(1)", "publish", "-1+1|status", None, None
    )
    portals = await start_mock_portals(generate(1, 1), config.city_statuses())
    try:
        env = env_for(portals, store)
        outputs = await asyncio.gather(
            cli("report", "--period", "2024-07", "--format", "csv", env=env),
            cli("overdue", "--as-of", "2024-07-19", "--format", "csv", env=env),
            cli("mismatches", "audit", "--format", "csv", env=env),
        )
    finally:
        await portals.stop()
    for code, out, err in outputs:
        assert code == 0, err
        cells = [cell for row in csv.reader(io.StringIO(out)) for cell in row]
        assert not [c for c in cells if formula_like(c)], out
    assert "'-1+1" in outputs[1][1]  # the overdue dossier's code, neutralised
    assert "'=HYPERLINK(1)" in outputs[2][1]


async def test_the_api_csv_exports_hold_no_formula(
    aiohttp_client: Any, store: Store, config: Config
) -> None:
    await risky_report(store, config)
    context = _context(store, config)
    await data.record_action(context, "=HYPERLINK(1)", "publish", "-1+1|status", None, None)
    users = Users(store)
    await users.add("xem", "viewer", "mat-khau-rat-dai-1")
    token = await users.add_token("xem")
    client: TestClient[Any, Any] = await aiohttp_client(make_app(store, config))
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/api/v1/reports/2024-07?format=csv", "/api/v1/audit.csv"):
        resp = await client.get(path, headers=headers)
        assert resp.status == 200, path
        cells = [c for row in csv.reader(io.StringIO(await resp.text())) for c in row]
        assert not [c for c in cells if formula_like(c)], path
        assert any(c.startswith("'") for c in cells), path


def _context(store: Store, config: Config) -> Any:
    from syncd.queue import MismatchQueue
    from syncd.web.app import Context

    return Context(store, config, Users(store), MismatchQueue(store), clock=lambda: NOW)
