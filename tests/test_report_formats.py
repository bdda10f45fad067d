"""The report document rendered for people and for the national portal: the XLSX form 06,
the seed report's sentences (sections 2.2-2.4), and the `DongBoThongKeHoSo` statistics push."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from connectors.national.statistics import month_of, statistics_payload
from reconcile.model import VN_TZ, Source
from reconcile.period import Period
from syncd.reports import render_csv, render_text
from syncd.store import ReadState
from syncd.summary import count_text, paragraph, percent_text
from syncd.trust import evaluate
from syncd.xlsx import FIRST_DATA_ROW, render_xlsx

SEED = Path(__file__).resolve().parents[2] / "shared/seed/bao-cao-321-BC-BQL-2024-07.txt"
# Sections 2.2, 2.3 and 2.4 of the seed report, verbatim (2.3 and 2.4 have no full stop).
SEED_RESOLVED = (
    "Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý đã giải quyết được: 77 TTHC trên hệ "
    "thống Một cửa thành phố; trong đó, 08 TTHC quá hạn."
)
SEED_ONLINE = "Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý tiếp nhận 53 TTHC trực tuyến"
SEED_DIGITISED = (
    "Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý đã số hoá 100% hồ sơ giải quyết TTHC"
)

COLUMNS = range(3, 14)
# (field code, field name, online 4, in person 5, carried over 6, early 8, on time 9, late 10,
#  pending within the time limit 12): the other columns follow from the form's rules.
Spec = tuple[str, str, int, int, int, int, int, int, int]
# The seed's July 2024: 77 resolved, 8 of them late, 53 received online (all online).
SEED_ROWS: list[Spec] = [
    ("DT", "Đầu tư", 30, 0, 20, 20, 19, 5, 4),
    ("MT", "Môi trường", 13, 0, 8, 8, 7, 2, 3),
    ("XD", "Xây dựng", 10, 0, 10, 5, 10, 1, 3),
]
# What the city system's own data gives: migrated dossiers counted as resolved and received.
CITY_ROWS: list[Spec] = [
    ("DT", "Đầu tư", 38, 0, 20, 20, 27, 5, 4),
    ("MT", "Môi trường", 13, 0, 8, 8, 7, 2, 3),
    ("XD", "Xây dựng", 12, 0, 10, 5, 12, 1, 3),
]
NATIONAL_ROWS: list[Spec] = [
    ("DT", "Đầu tư", 29, 0, 20, 20, 18, 5, 4),
    ("MT", "Môi trường", 13, 0, 8, 8, 7, 2, 3),
    ("XD", "Xây dựng", 10, 0, 10, 5, 10, 1, 3),
]
SEED_INDICATORS = {
    "online_share": 1.0,
    "digitisation_rate": 1.0,
    "on_time_rate": 0.9,
    "sync_rate": 0.95,
}


def cells_of(spec: Spec) -> dict[str, int]:
    _, _, online, in_person, carried, early, on_time, late, within = spec
    received = online + in_person + carried
    resolved = early + on_time + late
    pending = received - resolved
    assert pending >= within >= 0
    values = [
        received, online, in_person, carried, resolved, early, on_time, late, pending, within,
        pending - within,
    ]  # fmt: skip
    return {str(c): v for c, v in zip(COLUMNS, values, strict=True)}


def form(specs: Sequence[Spec]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [
        {"stt": n, "field_code": s[0], "field": s[1], "cells": cells_of(s)}
        for n, s in enumerate(specs, 1)
    ]
    total = {str(c): sum(r["cells"][str(c)] for r in rows) for c in COLUMNS}
    return {
        "rows": rows,
        "total": {"stt": None, "field_code": None, "field": "Tổng cộng", "cells": total},
    }


def period_of(label: str, cutoff_day: int = 20) -> dict[str, Any]:
    year, month = map(int, label.split("-"))
    before = (year - 1, 12) if month == 1 else (year, month - 1)
    return {
        "label": label,
        "start": date(*before, cutoff_day).isoformat(),
        "end": date(year, month, cutoff_day - 1).isoformat(),
        "cutoff_day": cutoff_day,
    }


def diff(
    key: str, reasons: Iterable[tuple[str, str]], source: str = "city", field_code: str = "DT"
) -> dict[str, Any]:
    return {
        "source": source,
        "key": key,
        "codes": [key],
        "field_code": field_code,
        "raw_cells": [3, 4, 7, 9],
        "corrected_cells": [],
        "reasons": [{"kind": k, "detail": d} for k, d in reasons],
    }


# The seed period's differences: 12 dossiers on the city side (10 of them migrated, some listed
# twice), and one on the national side.
SEED_DIFFERENCES = [
    *(
        diff(f"000.00.45.H26-240415-{n:04d}", [("migrated", "code_date=2024-04-15")])
        for n in range(1, 7)
    ),
    *(diff(f"000.00.45.H26-240416-{n:04d}", [("excluded", "migrated")]) for n in range(1, 5)),
    diff("000.00.45.H26-240415-0001", [("excluded", "migrated")]),
    diff("000.00.45.H26-240701-0001", [("duplicate", "")], field_code="XD"),
    diff(
        "000.00.45.H26-240702-0002",
        [("status", "city 4, national 10"), ("collapsed_status", "")],
        field_code="XD",
    ),
    diff("000.00.45.H26-240703-0003", [("missing_national", "")], source="national"),
]


READ = datetime(2024, 7, 20, 7, 30, tzinfo=VN_TZ)
# Both portals read completely after the period ended, nothing in doubt.
FINAL = evaluate(
    Period.parse("2024-07"),
    datetime(2024, 7, 20, 8, tzinfo=VN_TZ),
    {s: ReadState(s, READ, ()) for s in Source},
    [],
    [],
    False,
)
# Made on 19/7, the last day: the city read the day before, the national portal never, a
# failed poll since, two quarantined records that could belong (one without a code).
DOUBTFUL = evaluate(
    Period.parse("2024-07"),
    datetime(2024, 7, 19, 16, tzinfo=VN_TZ),
    {
        Source.CITY: ReadState(
            Source.CITY,
            datetime(2024, 7, 18, 9, tzinfo=VN_TZ),
            ({"at": "2024-07-19T09:00:00+07:00", "error": "HTTP 503"},),
        )
    },
    [
        {"id": "1-0", "source": "city", "code": "000.00.45.H26-240710-0001", "raw": "{}"},
        {"id": "2-0", "source": "national", "code": "", "raw": "{}"},
        {"id": "3-0", "source": "city", "code": "000.00.45.H26-240722-0001", "raw": "{}"},
    ],
    [],
    False,
)


def make_doc(
    rows: Sequence[Spec] = SEED_ROWS,
    *,
    city: Sequence[Spec] | None = None,
    national: Sequence[Spec] | None = None,
    differences: Sequence[Mapping[str, Any]] = (),
    label: str = "2024-07",
    version: Mapping[str, Any] | None = None,
    indicators: Mapping[str, Any] | None = None,
    trust: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A consistent "syncd-report/3" document from a few rows."""
    shares = dict(indicators if indicators is not None else SEED_INDICATORS)
    return {
        "schema": "syncd-report/3",
        "form": "06/VPCP/KSTT",
        "title": {
            "vi": "Tình hình, kết quả giải quyết TTHC tại cơ quan, đơn vị trực tiếp giải quyết "
            "TTHC",
            "en": "Administrative procedures handled by the agency that resolves them",
        },
        "agency": {
            "code": "000.00.45.H26",
            "name": "Ban Quản lý Khu kinh tế Hải Phòng",
            "short_name": "Ban Quản lý",
        },
        "period": period_of(label),
        "generated_at": "2024-07-20T08:00:00+07:00",
        "version": dict(version) if version else None,
        "trust": dict(trust) if trust is not None else FINAL,
        "policy": {
            "pause_policy": "restart",
            "paper_cutoff": "15:00",
            "due_soon_days": 1,
            "migration_window": None,
            "migration_burst": {"size": 5, "minutes": 10.0},
            "extra_days_off": [],
            "extra_working_days": [],
        },
        "columns": {str(c): {"vi": f"Cột {c}", "en": f"Column {c}"} for c in COLUMNS},
        "corrected": form(rows),
        "raw": {"city": form(city or rows), "national": form(national or rows)},
        "indicators": {"corrected": shares, "city": dict(shares), "national": dict(shares)},
        "differences": [dict(d) for d in differences],
        "restatement": None,
    }


@pytest.fixture
def seed_doc() -> dict[str, Any]:
    return make_doc(
        city=CITY_ROWS,
        national=NATIONAL_ROWS,
        differences=SEED_DIFFERENCES,
        version={"number": 2, "published_at": "2024-07-20T09:00:00+07:00"},
    )


def workbook(doc: Mapping[str, Any], lang: Any = "vi") -> dict[str, Worksheet]:
    book = load_workbook(io.BytesIO(render_xlsx(doc, lang)))
    sheets: dict[str, Worksheet] = {}
    for ws in book.worksheets:
        assert isinstance(ws, Worksheet)
        sheets[ws.title] = ws
    return sheets


def merged(ws: Worksheet) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


# The XLSX form.


def test_the_workbook_has_its_five_sheets(seed_doc: dict[str, Any]) -> None:
    assert list(workbook(seed_doc)) == [
        "Biểu 06",
        "Đối chiếu",
        "Chênh lệch",
        "Chỉ tiêu",
        "Độ tin cậy",
    ]
    assert list(workbook(seed_doc, "en")) == [
        "Form 06",
        "Comparison",
        "Differences",
        "Indicators",
        "Trust",
    ]


# How far the report can be trusted, in every format.


def test_a_final_report_says_so_in_every_format(seed_doc: dict[str, Any]) -> None:
    text = render_text(seed_doc, "vi")
    assert "Độ tin cậy của số liệu:" in text
    assert "Hệ thống Một cửa thành phố: đọc đầy đủ gần nhất lúc 20/07/2024 07:30." in text
    assert "Số liệu đã chốt" in text
    sheets = workbook(seed_doc)
    assert sheets["Biểu 06"]["A2"].value is None  # nothing to warn of on the form
    lines = [row[0] for row in sheets["Độ tin cậy"].iter_rows(min_row=4, values_only=True)]
    assert str(lines[-1]).startswith("Số liệu đã chốt")


def test_a_doubtful_report_states_every_doubt_in_every_format() -> None:
    doc = make_doc(trust=DOUBTFUL)
    assert DOUBTFUL["issues"] == [
        "provisional",
        "not_read_since_end:city",
        "failed_polls:city",
        "never_read:national",
        "quarantined",
    ]
    # The record received 22/7 (its code) cannot belong to a period ending 19/7.
    assert DOUBTFUL["quarantined"]["codes"] == ["000.00.45.H26-240710-0001"]
    assert DOUBTFUL["quarantined"]["count"] == 2
    expected = [
        "TẠM TÍNH: kỳ báo cáo chưa kết thúc (đến hết ngày 19/7/2024); số liệu còn thay đổi.",
        "Hệ thống Một cửa thành phố: lần đọc đầy đủ gần nhất lúc 18/07/2024 09:00, trước khi kỳ "
        "kết thúc (hết ngày 19/7/2024); những thay đổi cuối kỳ có thể chưa có.",
        "Hệ thống Một cửa thành phố: 1 lần đọc lỗi từ đó, gần nhất lúc 19/07/2024 09:00: HTTP 503",
        "Cổng DVCQG: chưa từng được đọc đầy đủ; số liệu của cổng này thiếu hoặc không có.",
        "2 bản ghi bị cách ly có thể thuộc kỳ này: 000.00.45.H26-240710-0001 (và 1 bản ghi "
        "không đọc được mã)",
    ]
    text = render_text(doc, "vi")
    for line in expected:
        assert f"  {line}\n" in text, line
    assert "Số liệu đã chốt" not in text
    assert "PROVISIONAL: the period has not ended" in render_text(doc, "en")
    # CSV: header lines ("#", the text) before the table's own header row.
    text_csv = render_csv(doc, "vi")
    rows = list(csv.reader(io.StringIO(text_csv)))
    comments = [r for r in rows if r[0] == "#"]
    assert all(len(r) == 2 for r in comments)
    assert [r[1] for r in comments][2:] == expected
    assert rows[len(comments)][:2] == ["STT", "Lĩnh vực"]
    assert text_csv.startswith("#,Kỳ báo cáo 2024-07")
    assert all(line.startswith("#,") for line in text_csv.splitlines()[: len(comments)])
    # XLSX: a line on the form itself, and the trust sheet.
    sheets = workbook(doc)
    notice = sheets["Biểu 06"]["A2"].value
    assert notice.startswith("Số liệu chưa đủ điều kiện công bố: kỳ báo cáo chưa kết thúc")
    assert "Cổng DVCQG chưa từng được đọc đầy đủ" in notice
    lines = [row[0] for row in sheets["Độ tin cậy"].iter_rows(min_row=4, values_only=True)]
    assert lines == expected


def test_a_version_published_anyway_says_why(seed_doc: dict[str, Any]) -> None:
    version = {
        "number": 3,
        "published_at": "2024-07-19T17:00:00+07:00",
        "by": "admin1",
        "forced": {"reason": "lãnh đạo cần số liệu sớm", "overridden": ["provisional"]},
    }
    doc = make_doc(trust=DOUBTFUL, version=version)
    forced = (
        "Bản này được công bố dù chưa đủ điều kiện (kỳ báo cáo chưa kết thúc (đến hết ngày "
        "19/7/2024)); người công bố: admin1; lý do: lãnh đạo cần số liệu sớm"
    )
    assert forced in render_text(doc, "vi")
    assert ["#", forced] in list(csv.reader(io.StringIO(render_csv(doc, "vi"))))
    assert workbook(doc)["Biểu 06"]["A2"].value == forced
    # A version made before reports stated their trust renders as it did.
    old = make_doc(version=version)
    del old["trust"]
    old["version"] = {"number": 1, "published_at": "2024-07-20T09:00:00+07:00"}
    assert "Độ tin cậy" not in render_text(old, "vi")
    assert list(csv.reader(io.StringIO(render_csv(old, "vi"))))[1] == [
        "#",
        "Bản công bố số 1, ngày 2024-07-20T09:00:00+07:00",
    ]
    lines = [r[0] for r in workbook(old)["Độ tin cậy"].iter_rows(min_row=4, values_only=True)]
    assert lines == ["Bản này được lập trước khi báo cáo tự nêu độ tin cậy."]


def test_the_form_header_block(seed_doc: dict[str, Any]) -> None:
    ws = workbook(seed_doc)["Biểu 06"]
    assert ws["A1"].value == "Ban Quản lý Khu kinh tế Hải Phòng"
    assert ws["J1"].value == "Biểu số 06/VPCP/KSTT"
    assert ws["A3"].value == seed_doc["title"]["vi"]
    assert ws["A3"].font.b
    assert ws["A3"].alignment.horizontal == "center"
    assert ws["A4"].value == "Kỳ báo cáo: từ ngày 20/6/2024 đến ngày 19/7/2024"
    assert ws["A5"].value == "Bản công bố số 2, ngày 20/7/2024 lúc 09:00"
    assert ws["J6"].value == "Đơn vị tính: hồ sơ"
    assert {"A3:M3", "A4:M4", "A5:M5"} <= merged(ws)


def test_no_version_line_for_a_draft() -> None:
    ws = workbook(make_doc())["Biểu 06"]
    assert ws["A5"].value is None
    assert "A5:M5" not in merged(ws)


def test_the_table_header_is_merged_as_on_the_printed_form(seed_doc: dict[str, Any]) -> None:
    ws = workbook(seed_doc)["Biểu 06"]
    assert {
        "A7:A9",  # STT, down the three header rows
        "B7:B9",  # field
        "C7:F7",  # received
        "G7:J7",  # resolved
        "K7:M7",  # pending
        "C8:C9",  # each group's "Tổng số", down two rows
        "G8:G9",
        "K8:K9",
        "D8:F8",  # each group's "Trong đó"
        "H8:J8",
        "L8:M8",
    } <= merged(ws)
    expected = {
        "A7": "STT",
        "B7": "Lĩnh vực, công việc giải quyết",
        "C7": "Số hồ sơ nhận giải quyết",
        "G7": "Số hồ sơ đã giải quyết",
        "K7": "Số hồ sơ đang giải quyết",
        "C8": "Tổng số",
        "G8": "Tổng số",
        "K8": "Tổng số",
        "D8": "Trong đó",
        "H8": "Trong đó",
        "L8": "Trong đó",
        "D9": "Số mới tiếp nhận trực tuyến",
        "E9": "Số mới tiếp nhận trực tiếp hoặc dịch vụ bưu chính",
        "F9": "Số kỳ trước chuyển qua",
        "H9": "Trả trước hạn",
        "I9": "Trả đúng thời hạn",
        "J9": "Trả quá hạn",
        "L9": "Trong hạn",
        "M9": "Quá hạn",
    }
    for coordinate, text in expected.items():
        value = ws[coordinate].value
        assert value == text, coordinate
        assert unicodedata.is_normalized("NFC", value)
        assert ws[coordinate].alignment.wrap_text
        assert ws[coordinate].border.left.style == "thin"
    assert [ws.cell(row=10, column=c).value for c in range(1, 14)] == [
        f"({c})" for c in range(1, 14)
    ]
    assert ws.freeze_panes == f"C{FIRST_DATA_ROW}"
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToWidth == 1
    assert ws.sheet_properties.pageSetUpPr is not None
    assert ws.sheet_properties.pageSetUpPr.fitToPage


def test_every_row_holds_the_documents_figures_as_numbers(seed_doc: dict[str, Any]) -> None:
    ws = workbook(seed_doc)["Biểu 06"]
    rows = seed_doc["corrected"]["rows"]
    for index, row in enumerate(rows):
        r = FIRST_DATA_ROW + index
        assert ws.cell(row=r, column=1).value == row["stt"]
        assert ws.cell(row=r, column=2).value == row["field"]
        values = [ws.cell(row=r, column=c).value for c in COLUMNS]
        assert values == [row["cells"][str(c)] for c in COLUMNS]
        assert all(type(v) is int for v in values)
        assert ws.cell(row=r, column=13).border.right.style == "thin"
    total = FIRST_DATA_ROW + len(rows)
    assert ws.cell(row=total, column=1).value is None
    assert ws.cell(row=total, column=2).value == "Tổng cộng"
    assert ws.cell(row=total, column=2).font.b
    figures = [ws.cell(row=total, column=c).value for c in COLUMNS]
    assert figures == [seed_doc["corrected"]["total"]["cells"][str(c)] for c in COLUMNS]
    assert all(type(v) is int for v in figures)
    assert (figures[7 - 3], figures[10 - 3], figures[4 - 3]) == (77, 8, 53)
    assert ws.cell(row=total + 1, column=2).value is None


def test_english_headings(seed_doc: dict[str, Any]) -> None:
    sheets = workbook(seed_doc, "en")
    ws = sheets["Form 06"]
    assert ws["J1"].value == "Form 06/VPCP/KSTT"
    assert ws["A3"].value == seed_doc["title"]["en"]
    assert ws["A4"].value == "Reporting period: 20/6/2024 to 19/7/2024"
    assert ws["A5"].value == "Published version 2, 20/7/2024 at 09:00"
    assert ws["J6"].value == "Unit: dossiers"
    assert (ws["A7"].value, ws["C7"].value, ws["D8"].value) == (
        "No.",
        "Dossiers received",
        "Of which",
    )
    assert ws["D9"].value == "Newly received online"
    assert ws.cell(row=FIRST_DATA_ROW + 3, column=2).value == "Total"
    assert sheets["Comparison"]["C5"].value == "Figures from"
    assert sheets["Comparison"]["D5"].value == "Column 3"
    assert sheets["Differences"]["H3"].value == "Reasons"
    assert sheets["Indicators"]["A4"].value == "Indicator"
    assert sheets["Indicators"]["A5"].value == "Share received online"


def test_the_comparison_sheet_sets_corrected_beside_raw(seed_doc: dict[str, Any]) -> None:
    ws = workbook(seed_doc)["Đối chiếu"]
    assert ws["C5"].value == "Nguồn số liệu"
    assert ws["D5"].value == "Cột 3"
    assert [ws.cell(row=6, column=c).value for c in range(4, 15)] == [f"({c})" for c in COLUMNS]
    sources = ("corrected", "city", "national")
    labelled = ("Sau đối soát", "Một cửa thành phố (thô)", "Cổng DVCQG (thô)")
    rows = [*seed_doc["corrected"]["rows"], seed_doc["corrected"]["total"]]
    for index, row in enumerate(rows):
        first = 7 + 3 * index
        assert f"A{first}:A{first + 2}" in merged(ws)
        assert ws.cell(row=first, column=2).value == (row["field"] if index < 3 else "Tổng cộng")
        for offset, (source, label) in enumerate(zip(sources, labelled, strict=True)):
            r = first + offset
            assert ws.cell(row=r, column=3).value == label
            form_ = seed_doc["corrected"] if source == "corrected" else seed_doc["raw"][source]
            expected = (form_["rows"][index] if index < 3 else form_["total"])["cells"]
            values = [ws.cell(row=r, column=4 + i).value for i in range(11)]
            assert values == [expected[str(c)] for c in COLUMNS]
            assert all(type(v) is int for v in values)
    # City DT: 8 migrated dossiers more in columns 3, 4, 7, 9: shaded; national (2) equal: not.
    city_dt = 8
    assert ws.cell(row=city_dt, column=4).fill.fgColor.rgb.endswith("FFF2CC")
    assert ws.cell(row=city_dt, column=6).fill.fill_type is None
    assert ws.cell(row=7, column=4).fill.fill_type is None


def test_the_differences_sheet_explains_each_dossier(seed_doc: dict[str, Any]) -> None:
    ws = workbook(seed_doc)["Chênh lệch"]
    lines = list(ws.iter_rows(min_row=4, values_only=True))
    assert len(lines) == len(SEED_DIFFERENCES)
    first = lines[0]
    assert first[:5] == (
        1,
        "Một cửa thành phố",
        "000.00.45.H26-240415-0001",
        "000.00.45.H26-240415-0001",
        "DT – Đầu tư",
    )
    assert first[5:] == (
        "3, 4, 7, 9",
        None,
        "Chuyển từ hệ thống cũ (ngày trong mã hồ sơ: 15/04/2024)",
    )
    # The reasons use the mismatch kinds' one vocabulary (syncd.i18n `kind.*`), as sentences.
    assert lines[6][7] == "Không tính vào kỳ báo cáo: chuyển từ hệ thống cũ"
    assert lines[11][7] == "Hồ sơ trùng"
    assert lines[12][7] == (
        "Lệch trạng thái (city 4, national 10); Trạng thái bị gộp thành đã xử lý"
    )
    assert lines[13][1:3] == ("Cổng DVCQG", "000.00.45.H26-240703-0003")
    assert lines[13][7] == "Thiếu trên DVCQG"
    english = list(workbook(seed_doc, "en")["Differences"].iter_rows(min_row=4, values_only=True))
    assert english[0][1] == "City one-stop system"
    assert english[6][7] == "Left out of the period: migrated from the old system"


def test_no_differences_says_so() -> None:
    ws = workbook(make_doc())["Chênh lệch"]
    assert ws["A4"].value == "Không có chênh lệch."


def test_the_indicators_sheet(seed_doc: dict[str, Any]) -> None:
    seed_doc["indicators"]["national"]["on_time_rate"] = None
    ws = workbook(seed_doc)["Chỉ tiêu"]
    assert [ws.cell(row=4, column=c).value for c in range(1, 5)] == [
        "Chỉ tiêu",
        "Sau đối soát",
        "Một cửa thành phố (thô)",
        "Cổng DVCQG (thô)",
    ]
    assert ws["A5"].value == "Tỷ lệ tiếp nhận trực tuyến"
    assert ws["A6"].value == "Tỷ lệ số hoá hồ sơ"
    assert ws["B6"].value == 1.0
    assert ws["B6"].number_format == "0.0%"
    assert ws["B7"].value == 0.9
    assert ws["D7"].value == "không có số liệu"
    assert ws["B8"].value == 0.95
    policy = {row[0]: row[1] for row in ws.iter_rows(min_row=10, values_only=True) if row[0]}
    assert str(policy["Cách tính thời hạn khi yêu cầu bổ sung hồ sơ"]).startswith("restart: ")
    assert policy["Hồ sơ giấy nhận sau giờ này tính từ ngày làm việc tiếp theo"] == "15:00"
    assert policy["Ngày chốt số liệu hằng tháng"] == 20
    assert policy["Khung thời gian chuyển sang hệ thống mới"] == "chưa đặt"
    batch = "Lô chuyển đổi: số hồ sơ tiếp nhận cùng một thời điểm, xử lý xong trong (phút)"
    assert policy[batch] == "≥ 5 / 10.0"
    assert policy["Ngày nghỉ bổ sung"] == "không có"
    assert policy["Thời điểm lập báo cáo"] == "20/7/2024 08:00"


# The seed's sentences.


def test_the_seed_sentences_are_the_seeds_own() -> None:
    if SEED.exists():
        lines = SEED.read_text(encoding="utf-8").splitlines()
        for sentence in (SEED_RESOLVED, SEED_ONLINE, SEED_DIGITISED):
            assert sentence in lines


def test_the_paragraph_reproduces_the_seed_verbatim(seed_doc: dict[str, Any]) -> None:
    lines = paragraph(seed_doc).splitlines()
    assert lines[:3] == [SEED_RESOLVED, SEED_ONLINE, SEED_DIGITISED]
    if SEED.exists():
        seed_lines = SEED.read_text(encoding="utf-8").splitlines()
        assert all(line in seed_lines for line in lines[:3])
    assert paragraph(make_doc()) == "\n".join([SEED_RESOLVED, SEED_ONLINE, SEED_DIGITISED]) + "\n"


def test_the_correction_sentence(seed_doc: dict[str, Any]) -> None:
    assert paragraph(seed_doc).splitlines()[3] == (
        "Số liệu đã được đối soát với Cổng Dịch vụ công quốc gia: 12 hồ sơ có số liệu khác với "
        "hệ thống Một cửa thành phố, trong đó 10 hồ sơ chuyển từ hệ thống cũ không tính vào kỳ "
        "báo cáo."
    )
    assert len(paragraph(seed_doc).splitlines()) == 4
    assert len(paragraph(seed_doc, figures="city").splitlines()) == 3
    assert paragraph(seed_doc, "en").splitlines()[3] == (
        "The figures were reconciled with the National Public Service Portal: 12 dossiers differ "
        "from the city one-stop system's own figures, 10 of them migrated from the old system and "
        "not counted in this period."
    )
    few = make_doc(differences=[SEED_DIFFERENCES[0], SEED_DIFFERENCES[11]])
    assert paragraph(few).splitlines()[3] == (
        "Số liệu đã được đối soát với Cổng Dịch vụ công quốc gia: 02 hồ sơ có số liệu khác với "
        "hệ thống Một cửa thành phố, trong đó 01 hồ sơ chuyển từ hệ thống cũ không tính vào kỳ "
        "báo cáo."
    )
    none_migrated = make_doc(differences=[SEED_DIFFERENCES[11]])
    assert paragraph(none_migrated).splitlines()[3] == (
        "Số liệu đã được đối soát với Cổng Dịch vụ công quốc gia: 01 hồ sơ có số liệu khác với "
        "hệ thống Một cửa thành phố."
    )
    national_only = make_doc(differences=[SEED_DIFFERENCES[-1]])
    assert len(paragraph(national_only).splitlines()) == 3


def test_counts_below_ten_take_two_digits() -> None:
    assert [count_text(n) for n in (0, 1, 8, 9, 10, 77, 120)] == [
        "0", "01", "08", "09", "10", "77", "120",
    ]  # fmt: skip
    small = make_doc([("DT", "Đầu tư", 7, 2, 1, 1, 2, 3, 2)])
    lines = paragraph(small).splitlines()
    assert (
        "đã giải quyết được: 06 TTHC trên hệ thống Một cửa thành phố; trong đó, 03 TTHC"
        in (lines[0])
    )
    assert lines[1].endswith("Ban Quản lý tiếp nhận 07 TTHC trực tuyến")
    on_time = make_doc([("DT", "Đầu tư", 12, 0, 0, 5, 5, 0, 2)])
    assert (
        paragraph(on_time)
        .splitlines()[0]
        .endswith(
            "đã giải quyết được: 10 TTHC trên hệ thống Một cửa thành phố; không có TTHC quá hạn."
        )
    )


@pytest.mark.parametrize(
    ("share", "vi", "en"),
    [
        (1.0, "100%", "100%"),
        (1, "100%", "100%"),
        (0.987, "98,7%", "98.7%"),
        (0.5, "50%", "50%"),
        (76 / 77, "98,7%", "98.7%"),
        (0.9996, "99,9%", "99.9%"),
        (0.0, "0%", "0%"),
        (0.0004, "0,1%", "0.1%"),
    ],
)
def test_percentages(share: float, vi: str, en: str) -> None:
    assert percent_text(share, "vi") == vi
    assert percent_text(share, "en") == en


def test_the_digitisation_sentence() -> None:
    doc = make_doc(indicators={**SEED_INDICATORS, "digitisation_rate": 0.987})
    assert paragraph(doc).splitlines()[2] == (
        "Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý đã số hoá 98,7% hồ sơ giải quyết "
        "TTHC"
    )
    empty = make_doc(indicators={**SEED_INDICATORS, "digitisation_rate": None})
    assert paragraph(empty).splitlines()[2] == (
        "Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý không có hồ sơ giải quyết TTHC "
        "để tính tỷ lệ số hoá"
    )


def test_the_paragraph_in_english(seed_doc: dict[str, Any]) -> None:
    seed_doc["agency"]["short_name"] = {"vi": "Ban Quản lý", "en": "the Management Board"}
    assert paragraph(seed_doc).splitlines()[0] == SEED_RESOLVED
    assert paragraph(seed_doc, "en").splitlines()[:3] == [
        "From 20/6/2024 to 19/7/2024 the Management Board resolved 77 dossiers on the city "
        "one-stop system, 08 of them overdue.",
        "From 20/6/2024 to 19/7/2024 the Management Board received 53 dossiers online.",
        "From 20/6/2024 to 19/7/2024 the Management Board digitised 100% of the dossiers it "
        "handled.",
    ]


def test_the_paragraph_from_one_portals_raw_figures(seed_doc: dict[str, Any]) -> None:
    seed_doc["indicators"]["national"]["digitisation_rate"] = 0.95
    lines = paragraph(seed_doc, figures="national").splitlines()
    assert lines == [
        "Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý đã giải quyết được: 76 TTHC trên "
        "Cổng Dịch vụ công quốc gia; trong đó, 08 TTHC quá hạn.",
        "Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý tiếp nhận 52 TTHC trực tuyến",
        "Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý đã số hoá 95% hồ sơ giải quyết TTHC",
    ]
    assert "đã giải quyết được: 87 TTHC" in paragraph(seed_doc, figures="city")
    with pytest.raises(ValueError, match="figures"):
        paragraph(seed_doc, figures="raw")


# The statistics push.


@pytest.mark.parametrize(
    ("label", "month", "year", "start", "end"),
    [
        ("2024-01", 1, 2024, "20/12/2023", "19/01/2024"),
        ("2024-07", 7, 2024, "20/06/2024", "19/07/2024"),
        ("2024-12", 12, 2024, "20/11/2024", "19/12/2024"),
    ],
)
def test_the_month_is_not_off_by_one(
    label: str, month: int, year: int, start: str, end: str
) -> None:
    payload = statistics_payload(make_doc(label=label), "000.00.45.H26")
    assert (payload["Thang"], payload["Nam"]) == (month, year)
    assert (payload["TuNgay"], payload["DenNgay"]) == (start, end)
    assert payload["MaDonVi"] == "000.00.45.H26"


@pytest.mark.parametrize("label", ["2024-00", "2024-13", "2024-7", "July 2024", ""])
def test_a_malformed_period_label_is_refused(label: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_of(label)


def test_the_payloads_totals(seed_doc: dict[str, Any]) -> None:
    payload = statistics_payload(seed_doc, "000.00.45.H26")
    assert {k: v for k, v in payload.items() if k != "DanhSachLinhVuc"} == {
        "MaDonVi": "000.00.45.H26",
        "Thang": 7,
        "Nam": 2024,
        "TuNgay": "20/06/2024",
        "DenNgay": "19/07/2024",
        "SoNhanTrongKy": 53,
        "SoNhanTrucTuyen": 53,
        "SoNhanTrucTiep": 0,
        "SoTonKyTruoc": 38,
        "TongSoXuLy": 91,
        "TongDaXuLy": 77,
        "TongXuLyTruocHan": 33,
        "TongXuLyDungHan": 69,  # early ones count as on time: 33 + 36
        "PhanTramXuLyDungHan": 89.61,
        "TongXuLyTreHan": 8,
        "PhanTramXuLyTreHan": 10.39,
        "TongChuaXuLy": 14,
        "TongChuaXuLyTrongHan": 10,
        "TongChuaXuLyTreHan": 4,
    }
    json.dumps(payload, ensure_ascii=False)  # travels as JSON


def test_the_payloads_fields_add_up_to_its_totals(seed_doc: dict[str, Any]) -> None:
    payload = statistics_payload(seed_doc, "000.00.45.H26")
    fields = payload["DanhSachLinhVuc"]
    assert [(f["MaLinhVuc"], f["TenLinhVuc"]) for f in fields] == [
        ("DT", "Đầu tư"),
        ("MT", "Môi trường"),
        ("XD", "Xây dựng"),
    ]
    assert fields[0]["TongDaXuLy"] == 44
    assert fields[0]["TongXuLyDungHan"] == 39
    assert fields[0]["PhanTramXuLyDungHan"] == 88.64
    assert fields[0]["PhanTramXuLyTreHan"] == 11.36
    for name, value in payload.items():
        if type(value) is int and name not in ("Thang", "Nam"):
            assert sum(f[name] for f in fields) == value, name
    for f in fields:
        assert f["SoNhanTrongKy"] + f["SoTonKyTruoc"] == f["TongSoXuLy"]
        assert f["TongDaXuLy"] + f["TongChuaXuLy"] == f["TongSoXuLy"]
        assert f["TongXuLyDungHan"] + f["TongXuLyTreHan"] == f["TongDaXuLy"]


def test_percentages_in_the_payload() -> None:
    none_resolved = statistics_payload(make_doc([("DT", "Đầu tư", 3, 0, 0, 0, 0, 0, 3)]), "X")
    assert none_resolved["TongDaXuLy"] == 0
    assert none_resolved["PhanTramXuLyDungHan"] == 0
    assert none_resolved["PhanTramXuLyTreHan"] == 0
    thirds = statistics_payload(make_doc([("DT", "Đầu tư", 3, 0, 0, 1, 0, 2, 0)]), "X")
    assert (thirds["PhanTramXuLyDungHan"], thirds["PhanTramXuLyTreHan"]) == (33.33, 66.67)
    # Half-up, not to even: 100 * 1/8 = 12.5; 100 * 1/32 = 3.125 -> 3.13.
    eighths = statistics_payload(make_doc([("DT", "Đầu tư", 32, 0, 0, 0, 31, 1, 0)]), "X")
    assert (eighths["PhanTramXuLyDungHan"], eighths["PhanTramXuLyTreHan"]) == (96.88, 3.13)


def test_the_payload_refuses_a_count_that_is_not_whole(seed_doc: dict[str, Any]) -> None:
    seed_doc["corrected"]["total"]["cells"]["7"] = "77"
    with pytest.raises(ValueError, match="column 7"):
        statistics_payload(seed_doc, "000.00.45.H26")
