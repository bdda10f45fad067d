"""The monthly report as an Excel workbook, laid out as the printed form 06/VPCP/KSTT.

Input: the report JSON document ("syncd-report/2", `syncd report --format json`). Sheets:

1. "Biểu 06": the form: header block, the three-level table header with its merged cells, the
   column numbers (1)…(13), one row per field and the total row (corrected figures).
2. "Đối chiếu": per field and total, the corrected figures beside each portal's raw figures
   (three rows each; raw cells that differ from the corrected ones are shaded).
3. "Chênh lệch": one line per dossier counted differently, with the reasons in words.
4. "Chỉ tiêu": the indicators (corrected, city, national) and the policy in force.
5. "Độ tin cậy": how far the figures can be trusted (`syncd.trust`): provisional or final, each
   portal's last complete read and failed polls, quarantined records and dead letters that could
   belong to the period, and for a version published anyway, why. A report not fit to be
   published also says so on the form, in row 2.

English headings with `lang="en"`; field names and agency names are data and stay as they are.
Every cell is written by `syncd.cells.xlsx_cell`: texts (field names, codes, reasons: data) as
strings, never formulas; the figures as numbers.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from syncd.cells import xlsx_cell
from syncd.i18n import Language, reason_text, tr
from syncd.summary import vn_day
from syncd.trust import forced_text, issue_text, refusals, trust_lines

COLUMNS = tuple(range(3, 14))
LAST_COLUMN = 13
FONT_NAME = "Times New Roman"
VIETNAM = timezone(timedelta(hours=7))

# Rows of the form sheet (1-based): header block, table header (3 rows), column numbers, data.
AGENCY_ROW = 1
TITLE_ROW = 3
PERIOD_ROW = 4
VERSION_ROW = 5
UNIT_ROW = 6
HEADER_ROW = 7
NUMBER_ROW = HEADER_ROW + 3
FIRST_DATA_ROW = NUMBER_ROW + 1

Text = dict[Language, str]

SHEETS: dict[str, Text] = {
    "form": {"vi": "Biểu 06", "en": "Form 06"},
    "comparison": {"vi": "Đối chiếu", "en": "Comparison"},
    "differences": {"vi": "Chênh lệch", "en": "Differences"},
    "indicators": {"vi": "Chỉ tiêu", "en": "Indicators"},
    "trust": {"vi": "Độ tin cậy", "en": "Trust"},
}

TEXTS: dict[str, Text] = {
    "form_number": {"vi": "Biểu số 06/VPCP/KSTT", "en": "Form 06/VPCP/KSTT"},
    "period": {
        "vi": "Kỳ báo cáo: từ ngày {start} đến ngày {end}",
        "en": "Reporting period: {start} to {end}",
    },
    "version": {
        "vi": "Bản công bố số {number}, ngày {day} lúc {time}",
        "en": "Published version {number}, {day} at {time}",
    },
    "comparison_title": {
        "vi": "Đối chiếu số liệu sau đối soát với số liệu của từng hệ thống",
        "en": "Reconciled figures beside each system's own figures",
    },
    "comparison_note": {
        "vi": "Ô được tô màu: số liệu của hệ thống khác với số liệu sau đối soát.",
        "en": "Shaded cells: the system's figure differs from the reconciled one.",
    },
    "source": {"vi": "Nguồn số liệu", "en": "Figures from"},
    "differences_title": {
        "vi": "Hồ sơ có số liệu khác nhau giữa các hệ thống",
        "en": "Dossiers counted differently by the systems",
    },
    "no_differences": {"vi": "Không có chênh lệch.", "en": "No differences."},
    "diff.system": {"vi": "Hệ thống", "en": "System"},
    "diff.key": {"vi": "Mã hồ sơ", "en": "Dossier code"},
    "diff.codes": {"vi": "Mã trên hệ thống đó", "en": "Codes on that system"},
    "diff.field": {"vi": "Lĩnh vực", "en": "Field"},
    "diff.raw_cells": {
        "vi": "Các cột được tính (số liệu của hệ thống)",
        "en": "Columns counted (system's figures)",
    },
    "diff.corrected_cells": {
        "vi": "Các cột được tính (sau đối soát)",
        "en": "Columns counted (reconciled)",
    },
    "diff.reasons": {"vi": "Lý do", "en": "Reasons"},
    "indicators_title": {"vi": "Các chỉ tiêu", "en": "Indicators"},
    "indicator": {"vi": "Chỉ tiêu", "en": "Indicator"},
    "no_data": {"vi": "không có số liệu", "en": "no data"},
    "policy_title": {"vi": "Quy tắc tính áp dụng", "en": "Rules in force"},
    "policy_item": {"vi": "Quy tắc", "en": "Rule"},
    "policy_value": {"vi": "Giá trị", "en": "Value"},
    "generated_at": {"vi": "Thời điểm lập báo cáo", "en": "Generated at"},
    "none": {"vi": "không có", "en": "none"},
    "trust_title": {"vi": "Độ tin cậy của số liệu", "en": "How far these figures can be trusted"},
    "trust_notice": {
        "vi": "Số liệu chưa đủ điều kiện công bố: {issues}. Xem trang «Độ tin cậy».",
        "en": "These figures are not fit to be published: {issues}. See the «Trust» sheet.",
    },
    "trust_unknown": {
        "vi": "Bản này được lập trước khi báo cáo tự nêu độ tin cậy.",
        "en": "This version was made before reports stated their trustworthiness.",
    },
    "unset": {"vi": "chưa đặt", "en": "not set"},
}

# The table header of the printed form. Column 2's heading is the form's own wording.
FORM_HEADINGS: dict[str, Text] = {
    "stt": {"vi": "STT", "en": "No."},
    "field": {"vi": "Lĩnh vực, công việc giải quyết", "en": "Field of procedures"},
    "received": {"vi": "Số hồ sơ nhận giải quyết", "en": "Dossiers received"},
    "resolved": {"vi": "Số hồ sơ đã giải quyết", "en": "Dossiers resolved"},
    "pending": {"vi": "Số hồ sơ đang giải quyết", "en": "Dossiers pending"},
    "total": {"vi": "Tổng số", "en": "Total"},
    "of_which": {"vi": "Trong đó", "en": "Of which"},
}
SUB_HEADINGS: dict[int, Text] = {
    4: {"vi": "Số mới tiếp nhận trực tuyến", "en": "Newly received online"},
    5: {
        "vi": "Số mới tiếp nhận trực tiếp hoặc dịch vụ bưu chính",
        "en": "Newly received in person or by post",
    },
    6: {"vi": "Số kỳ trước chuyển qua", "en": "Carried over from the previous period"},
    8: {"vi": "Trả trước hạn", "en": "Returned early"},
    9: {"vi": "Trả đúng thời hạn", "en": "Returned on time"},
    10: {"vi": "Trả quá hạn", "en": "Returned late"},
    12: {"vi": "Trong hạn", "en": "Within the time limit"},
    13: {"vi": "Quá hạn", "en": "Overdue"},
}
# (group heading, its columns): the first column of each group is its "Tổng số".
GROUPS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("received", (3, 4, 5, 6)),
    ("resolved", (7, 8, 9, 10)),
    ("pending", (11, 12, 13)),
)

SOURCES: dict[str, Text] = {
    "city": {"vi": "Một cửa thành phố", "en": "City one-stop system"},
    "national": {"vi": "Cổng DVCQG", "en": "National portal"},
}

# The reasons a dossier is counted differently: mismatch kinds, and "excluded".
INDICATORS: dict[str, Text] = {
    "online_share": {"vi": "Tỷ lệ tiếp nhận trực tuyến", "en": "Share received online"},
    "digitisation_rate": {"vi": "Tỷ lệ số hoá hồ sơ", "en": "Digitisation rate"},
    "on_time_rate": {"vi": "Tỷ lệ giải quyết đúng hạn", "en": "On-time rate"},
    "sync_rate": {"vi": "Tỷ lệ đồng bộ lên Cổng DVCQG", "en": "Share synchronised to DVCQG"},
}

POLICY: dict[str, Text] = {
    "pause_policy": {
        "vi": "Cách tính thời hạn khi yêu cầu bổ sung hồ sơ",
        "en": "Time limit after a supplement request",
    },
    "paper_cutoff": {
        "vi": "Hồ sơ giấy nhận sau giờ này tính từ ngày làm việc tiếp theo",
        "en": "Paper dossiers received after this time count from the next working day",
    },
    "cutoff_day": {"vi": "Ngày chốt số liệu hằng tháng", "en": "Monthly cut-off day"},
    "due_soon_days": {
        "vi": "Cảnh báo sắp đến hạn trước (ngày)",
        "en": "Due-soon warning (days ahead)",
    },
    "migration_window": {
        "vi": "Khung thời gian chuyển sang hệ thống mới",
        "en": "Cut-over window to the new system",
    },
    "migration_burst": {
        "vi": "Lô chuyển đổi: số hồ sơ tiếp nhận cùng một thời điểm, xử lý xong trong (phút)",
        "en": "Cut-over batch: dossiers received at one instant, finished within (minutes)",
    },
    "extra_days_off": {"vi": "Ngày nghỉ bổ sung", "en": "Extra days off"},
    "extra_working_days": {"vi": "Ngày làm việc bù bổ sung", "en": "Extra working days"},
}
PAUSE_POLICIES: dict[str, Text] = {
    "restart": {
        "vi": "Tính lại từ đầu từ ngày nhận đủ hồ sơ (Nghị định 61/2018, Điều 19 khoản 4)",
        "en": "Restarts from the day the complete dossier is received (Decree 61/2018, Art. 19(4))",
    },
    "extend": {
        "vi": "Lùi hạn trả thêm số ngày tạm dừng",
        "en": "Due date moved later by the days paused",
    },
    "subtract": {
        "vi": "Trừ thời gian tạm dừng (Quyết định 766/QĐ-TTg)",
        "en": "Paused time subtracted (Decision 766/QĐ-TTg)",
    },
}

THIN = Side(style="thin")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=True)
RIGHT = Alignment(horizontal="right", vertical="center")
SHADE = PatternFill(fill_type="solid", start_color="FFF2CC", end_color="FFF2CC")
HEADER_FILL = PatternFill(fill_type="solid", start_color="F2F2F2", end_color="F2F2F2")


def _font(bold: bool = False, italic: bool = False, size: int = 12) -> Font:
    return Font(name=FONT_NAME, bold=bold, italic=italic, size=size)


def _text(texts: Mapping[str, Text], key: str, lang: Language) -> str:
    return texts[key][lang]


def _localised(value: Any, lang: Language) -> str:
    """A {"vi": ..., "en": ...} text from the document (or a plain string)."""
    if isinstance(value, Mapping):
        return str(value.get(lang) or value.get("vi") or "")
    return "" if value is None else str(value)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{value!r} is not a whole number of dossiers")
    return int(value)


def _local_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.astimezone(VIETNAM) if moment.tzinfo else moment


def _style(cell: Any, *, font: Font | None = None, align: Alignment | None = None) -> None:
    if font is not None:
        cell.font = font
    if align is not None:
        cell.alignment = align


def _merge(
    ws: Worksheet,
    row: int,
    column: int,
    value: Any,
    *,
    end_row: int | None = None,
    end_column: int | None = None,
    font: Font | None = None,
    align: Alignment | None = None,
) -> None:
    """Write `value` at (row, column), merged down to end_row and across to end_column."""
    end_row = end_row or row
    end_column = end_column or column
    cell = xlsx_cell(ws, row, column, value)
    _style(cell, font=font, align=align)
    if (end_row, end_column) != (row, column):
        ws.merge_cells(start_row=row, start_column=column, end_row=end_row, end_column=end_column)


def _box(ws: Worksheet, first_row: int, last_row: int, last_column: int) -> None:
    """Thin borders on every cell of rows first_row..last_row, columns 1..last_column."""
    for row in ws.iter_rows(min_row=first_row, max_row=last_row, min_col=1, max_col=last_column):
        for cell in row:
            cell.border = BORDER


def _print_setup(ws: Worksheet, title_rows: str | None = None) -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    if ws.sheet_properties.pageSetUpPr is None:
        ws.sheet_properties.pageSetUpPr = PageSetupProperties()
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    if title_rows:
        ws.print_title_rows = title_rows


def _widths(ws: Worksheet, widths: Mapping[int, float]) -> None:
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = width


def _form_rows(form: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    rows: list[Mapping[str, Any]] = list(form.get("rows") or ())
    return rows


def _field_label(row: Mapping[str, Any]) -> str:
    return str(row.get("field") or row.get("field_code") or "")


# Sheet 1: the form.


def _form_sheet(ws: Worksheet, doc: Mapping[str, Any], lang: Language) -> None:
    ws.title = SHEETS["form"][lang]
    agency = doc.get("agency") or {}
    period = doc["period"]
    _merge(
        ws, AGENCY_ROW, 1, agency.get("name", ""), end_column=5, font=_font(bold=True), align=LEFT
    )
    _merge(
        ws,
        AGENCY_ROW,
        10,
        _text(TEXTS, "form_number", lang),
        end_column=LAST_COLUMN,
        font=_font(bold=True),
        align=Alignment(horizontal="right", vertical="center"),
    )
    _merge(
        ws,
        TITLE_ROW,
        1,
        _localised(doc.get("title"), lang),
        end_column=LAST_COLUMN,
        font=_font(bold=True, size=14),
        align=CENTER,
    )
    ws.row_dimensions[TITLE_ROW].height = 36
    _merge(
        ws,
        PERIOD_ROW,
        1,
        _text(TEXTS, "period", lang).format(
            start=vn_day(period["start"]), end=vn_day(period["end"])
        ),
        end_column=LAST_COLUMN,
        font=_font(italic=True),
        align=CENTER,
    )
    notice = _trust_notice(doc, lang)
    if notice:
        _merge(
            ws,
            AGENCY_ROW + 1,
            1,
            notice,
            end_column=LAST_COLUMN,
            font=_font(bold=True, size=11),
            align=LEFT,
        )
        ws.cell(row=AGENCY_ROW + 1, column=1).fill = SHADE
    version = doc.get("version")
    if version:
        published = _local_time(version["published_at"])
        _merge(
            ws,
            VERSION_ROW,
            1,
            _text(TEXTS, "version", lang).format(
                number=version["number"],
                day=vn_day(published.date()),
                time=published.strftime("%H:%M"),
            ),
            end_column=LAST_COLUMN,
            font=_font(italic=True),
            align=CENTER,
        )
    _merge(
        ws,
        UNIT_ROW,
        10,
        tr(lang, "report.unit"),
        end_column=LAST_COLUMN,
        font=_font(italic=True),
        align=RIGHT,
    )
    _form_header(ws, lang)

    rows = _form_rows(doc["corrected"])
    for index, row in enumerate(rows):
        number = row.get("stt") or index + 1
        _data_row(
            ws, FIRST_DATA_ROW + index, number, _field_label(row), row["cells"], _font(size=11)
        )
    total_row = FIRST_DATA_ROW + len(rows)
    total = doc["corrected"]["total"]["cells"]
    _data_row(ws, total_row, None, tr(lang, "report.total"), total, _font(bold=True, size=11))
    for column in range(1, LAST_COLUMN + 1):
        ws.cell(row=NUMBER_ROW, column=column).font = _font(italic=True, size=11)
    _box(ws, HEADER_ROW, total_row, LAST_COLUMN)
    _widths(ws, {1: 6, 2: 34, **{c: 12 for c in COLUMNS}})
    ws.freeze_panes = f"C{FIRST_DATA_ROW}"
    _print_setup(ws, f"{HEADER_ROW}:{NUMBER_ROW}")


def _form_header(ws: Worksheet, lang: Language) -> None:
    """The three-level table header with the form's merged cells, then the column numbers."""
    top, middle, bottom = HEADER_ROW, HEADER_ROW + 1, HEADER_ROW + 2
    bold = _font(bold=True, size=11)
    _merge(ws, top, 1, FORM_HEADINGS["stt"][lang], end_row=bottom, font=bold, align=CENTER)
    _merge(ws, top, 2, FORM_HEADINGS["field"][lang], end_row=bottom, font=bold, align=CENTER)
    for group, columns in GROUPS:
        first, last = columns[0], columns[-1]
        _merge(ws, top, first, FORM_HEADINGS[group][lang], end_column=last, font=bold, align=CENTER)
        _merge(
            ws,
            middle,
            first,
            FORM_HEADINGS["total"][lang],
            end_row=bottom,
            font=bold,
            align=CENTER,
        )
        _merge(
            ws,
            middle,
            columns[1],
            FORM_HEADINGS["of_which"][lang],
            end_column=last,
            font=bold,
            align=CENTER,
        )
        for column in columns[1:]:
            _merge(ws, bottom, column, SUB_HEADINGS[column][lang], font=bold, align=CENTER)
    for row in (top, middle, bottom):
        for column in range(1, LAST_COLUMN + 1):
            ws.cell(row=row, column=column).fill = HEADER_FILL
    ws.row_dimensions[bottom].height = 64
    for column in range(1, LAST_COLUMN + 1):
        _merge(ws, NUMBER_ROW, column, f"({column})", align=CENTER)


def _data_row(
    ws: Worksheet,
    row: int,
    number: int | None,
    label: str,
    cells: Mapping[str, Any],
    font: Font,
) -> None:
    _merge(ws, row, 1, number, font=font, align=CENTER)
    _merge(ws, row, 2, label, font=font, align=LEFT)
    for column in COLUMNS:
        cell = xlsx_cell(ws, row, column, _count(cells[str(column)]))
        cell.alignment = CENTER
        cell.number_format = "0"
        cell.font = font


# Sheet 2: corrected vs raw.


def _row_key(row: Mapping[str, Any]) -> str:
    return str(row.get("field_code") or row.get("field") or "")


def _column_heading(doc: Mapping[str, Any], column: int, lang: Language) -> str:
    heading = (doc.get("columns") or {}).get(str(column))
    if heading:
        return _localised(heading, lang)
    return SUB_HEADINGS.get(column, FORM_HEADINGS["total"])[lang]


def _comparison_sheet(ws: Worksheet, doc: Mapping[str, Any], lang: Language) -> None:
    ws.title = SHEETS["comparison"][lang]
    period = doc["period"]
    width = 3 + len(COLUMNS)
    bold = _font(bold=True, size=11)
    _merge(
        ws,
        1,
        1,
        _text(TEXTS, "comparison_title", lang),
        end_column=width,
        font=_font(bold=True),
        align=CENTER,
    )
    _merge(
        ws,
        2,
        1,
        _text(TEXTS, "period", lang).format(
            start=vn_day(period["start"]), end=vn_day(period["end"])
        ),
        end_column=width,
        font=_font(italic=True, size=11),
        align=CENTER,
    )
    _merge(
        ws,
        3,
        1,
        _text(TEXTS, "comparison_note", lang),
        end_column=width,
        font=_font(italic=True, size=10),
        align=LEFT,
    )
    header, numbers = 5, 6
    headings = [
        FORM_HEADINGS["stt"][lang],
        FORM_HEADINGS["field"][lang],
        _text(TEXTS, "source", lang),
        *(_column_heading(doc, c, lang) for c in COLUMNS),
    ]
    for column, heading in enumerate(headings, 1):
        _merge(ws, header, column, heading, font=bold, align=CENTER)
        ws.cell(row=header, column=column).fill = HEADER_FILL
    for column, label in enumerate(["(1)", "(2)", "", *(f"({c})" for c in COLUMNS)], 1):
        _merge(ws, numbers, column, label, font=_font(italic=True, size=11), align=CENTER)
    ws.row_dimensions[header].height = 64

    forms: dict[str, Mapping[str, Any]] = {
        "corrected": doc["corrected"],
        **{source: (doc.get("raw") or {}).get(source) or {} for source in ("city", "national")},
    }
    labels = {
        "corrected": tr(lang, "report.corrected"),
        "city": tr(lang, "report.city"),
        "national": tr(lang, "report.national"),
    }
    by_key = {name: {_row_key(r): r for r in _form_rows(form)} for name, form in forms.items()}
    order: list[str] = []
    names: dict[str, str] = {}
    for form in forms.values():
        for r in _form_rows(form):
            key = _row_key(r)
            if key not in names:
                order.append(key)
                names[key] = _field_label(r)
    groups: list[tuple[int | None, str, dict[str, Mapping[str, Any] | None]]] = [
        (number, names[key], {name: by_key[name].get(key) for name in forms})
        for number, key in enumerate(order, 1)
    ]
    groups.append(
        (
            None,
            tr(lang, "report.total"),
            {name: (form.get("total") if form else None) for name, form in forms.items()},
        )
    )
    row = numbers + 1
    for number, label, rows in groups:
        font = _font(bold=True, size=11) if number is None else _font(size=11)
        _merge(ws, row, 1, number, end_row=row + 2, font=font, align=CENTER)
        _merge(ws, row, 2, label, end_row=row + 2, font=font, align=LEFT)
        corrected = rows["corrected"]
        for offset, name in enumerate(forms):
            xlsx_cell(ws, row + offset, 3, labels[name]).font = font
            source_row = rows[name]
            for index, column in enumerate(COLUMNS):
                value = _count(source_row["cells"][str(column)]) if source_row else 0
                cell = xlsx_cell(ws, row + offset, 4 + index, value)
                cell.alignment = CENTER
                cell.font = font
                expected = _count(corrected["cells"][str(column)]) if corrected else 0
                if name != "corrected" and value != expected:
                    cell.fill = SHADE
        row += 3
    _box(ws, header, row - 1, width)
    _widths(ws, {1: 6, 2: 30, 3: 24, **{4 + i: 12 for i in range(len(COLUMNS))}})
    ws.freeze_panes = f"D{numbers + 1}"
    _print_setup(ws, f"{header}:{numbers}")


# Sheet 3: differences.


def _cells_text(cells: Iterable[Any]) -> str:
    return ", ".join(str(c) for c in cells)


def _differences_sheet(ws: Worksheet, doc: Mapping[str, Any], lang: Language) -> None:
    ws.title = SHEETS["differences"][lang]
    headings = [
        FORM_HEADINGS["stt"][lang],
        _text(TEXTS, "diff.system", lang),
        _text(TEXTS, "diff.key", lang),
        _text(TEXTS, "diff.codes", lang),
        _text(TEXTS, "diff.field", lang),
        _text(TEXTS, "diff.raw_cells", lang),
        _text(TEXTS, "diff.corrected_cells", lang),
        _text(TEXTS, "diff.reasons", lang),
    ]
    width = len(headings)
    _merge(
        ws,
        1,
        1,
        _text(TEXTS, "differences_title", lang),
        end_column=width,
        font=_font(bold=True),
        align=CENTER,
    )
    header = 3
    bold = _font(bold=True, size=11)
    for column, heading in enumerate(headings, 1):
        _merge(ws, header, column, heading, font=bold, align=CENTER)
        ws.cell(row=header, column=column).fill = HEADER_FILL
    ws.row_dimensions[header].height = 48
    field_names = {
        str(r.get("field_code")): _field_label(r)
        for form in (doc["corrected"], *(doc.get("raw") or {}).values())
        for r in _form_rows(form)
        if r.get("field_code")
    }
    differences: Sequence[Mapping[str, Any]] = doc.get("differences") or ()
    row = header + 1
    font = _font(size=11)
    for number, diff in enumerate(differences, 1):
        source = str(diff.get("source") or "")
        code = diff.get("field_code") or ""
        field = f"{code} – {field_names[code]}" if code in field_names else str(code)
        values = [
            number,
            SOURCES[source][lang] if source in SOURCES else source,
            diff.get("key", ""),
            ", ".join(str(c) for c in diff.get("codes") or ()),
            field,
            _cells_text(diff.get("raw_cells") or ()),
            _cells_text(diff.get("corrected_cells") or ()),
            "; ".join(reason_text(r, lang) for r in diff.get("reasons") or ()),
        ]
        for column, value in enumerate(values, 1):
            cell = xlsx_cell(ws, row, column, value)
            cell.font = font
            cell.alignment = CENTER if column == 1 else LEFT
        row += 1
    if not differences:
        _merge(
            ws,
            row,
            1,
            _text(TEXTS, "no_differences", lang),
            end_column=width,
            font=font,
            align=LEFT,
        )
        row += 1
    _box(ws, header, row - 1, width)
    _widths(ws, {1: 6, 2: 20, 3: 30, 4: 30, 5: 24, 6: 16, 7: 16, 8: 60})
    ws.freeze_panes = f"A{header + 1}"
    ws.auto_filter.ref = f"A{header}:{get_column_letter(width)}{max(row - 1, header)}"
    _print_setup(ws, f"{header}:{header}")


# Sheet 4: indicators and policy.


def _policy_value(key: str, value: Any, lang: Language) -> Any:
    if key == "pause_policy" and value in PAUSE_POLICIES:
        return f"{value}: {PAUSE_POLICIES[value][lang]}"
    if key == "migration_burst" and isinstance(value, Mapping):
        if not value.get("size"):
            return _text(TEXTS, "unset", lang)
        return f"≥ {value.get('size')} / {value.get('minutes')}"
    if key == "migration_window" and isinstance(value, list | tuple) and len(value) == 2:
        return f"{vn_day(value[0])} – {vn_day(value[1])}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else _text(TEXTS, "none", lang)
    if value is None:
        return _text(TEXTS, "unset", lang)
    if isinstance(value, bool):
        return str(value).lower()
    return value


def _indicators_sheet(ws: Worksheet, doc: Mapping[str, Any], lang: Language) -> None:
    ws.title = SHEETS["indicators"][lang]
    bold = _font(bold=True, size=11)
    font = _font(size=11)
    _merge(
        ws,
        1,
        1,
        _text(TEXTS, "indicators_title", lang),
        end_column=4,
        font=_font(bold=True),
        align=CENTER,
    )
    period = doc["period"]
    _merge(
        ws,
        2,
        1,
        _text(TEXTS, "period", lang).format(
            start=vn_day(period["start"]), end=vn_day(period["end"])
        ),
        end_column=4,
        font=_font(italic=True, size=11),
        align=CENTER,
    )
    header = 4
    sources = ("corrected", "city", "national")
    headings = [_text(TEXTS, "indicator", lang), *(tr(lang, f"report.{s}") for s in sources)]
    for column, heading in enumerate(headings, 1):
        _merge(ws, header, column, heading, font=bold, align=CENTER)
        ws.cell(row=header, column=column).fill = HEADER_FILL
    indicators = doc.get("indicators") or {}
    row = header + 1
    for key, label in INDICATORS.items():
        xlsx_cell(ws, row, 1, label[lang]).font = font
        for column, source in enumerate(sources, 2):
            share = (indicators.get(source) or {}).get(key)
            if share is None:
                cell = xlsx_cell(ws, row, column, _text(TEXTS, "no_data", lang))
            else:
                cell = xlsx_cell(ws, row, column, float(share))
                cell.number_format = "0.0%"
            cell.font = font
            cell.alignment = CENTER
        row += 1
    _box(ws, header, row - 1, 4)

    row += 1
    _merge(ws, row, 1, _text(TEXTS, "policy_title", lang), end_column=4, font=bold, align=LEFT)
    row += 1
    policy_header = row
    _merge(ws, row, 1, _text(TEXTS, "policy_item", lang), font=bold, align=CENTER)
    _merge(ws, row, 2, _text(TEXTS, "policy_value", lang), end_column=4, font=bold, align=CENTER)
    for column in range(1, 5):
        ws.cell(row=row, column=column).fill = HEADER_FILL
    policy = dict(doc.get("policy") or {})
    policy.setdefault("cutoff_day", period.get("cutoff_day"))
    entries: list[tuple[str, Any]] = [
        (POLICY[key][lang] if key in POLICY else key, _policy_value(key, value, lang))
        for key, value in policy.items()
    ]
    if doc.get("generated_at"):
        moment = _local_time(doc["generated_at"])
        entries.append(
            (
                _text(TEXTS, "generated_at", lang),
                f"{vn_day(moment.date())} {moment.strftime('%H:%M')}",
            )
        )
    for label_text, value in entries:
        row += 1
        xlsx_cell(ws, row, 1, label_text).font = font
        ws.cell(row=row, column=1).alignment = LEFT
        _merge(ws, row, 2, value, end_column=4, font=font, align=LEFT)
    _box(ws, policy_header, row, 4)
    _widths(ws, {1: 48, 2: 22, 3: 24, 4: 22})
    _print_setup(ws)


# Sheet 5: trust.


def _trust_notice(doc: Mapping[str, Any], lang: Language) -> str:
    """One line on the form itself when its figures are not fit to be published (or were
    published anyway)."""
    version = doc.get("version") or {}
    if version.get("forced"):
        return forced_text(version, doc, lang)
    trust = doc.get("trust") or {}
    blocked = [issue_text(i, trust, lang) for i in refusals(trust)]
    if not blocked:
        return ""
    return _text(TEXTS, "trust_notice", lang).format(issues="; ".join(blocked))


def _trust_sheet(ws: Worksheet, doc: Mapping[str, Any], lang: Language) -> None:
    ws.title = SHEETS["trust"][lang]
    period = doc["period"]
    _merge(ws, 1, 1, _text(TEXTS, "trust_title", lang), font=_font(bold=True), align=LEFT)
    _merge(
        ws,
        2,
        1,
        _text(TEXTS, "period", lang).format(
            start=vn_day(period["start"]), end=vn_day(period["end"])
        ),
        font=_font(italic=True, size=11),
        align=LEFT,
    )
    version = doc.get("version") or {}
    lines = [forced_text(version, doc, lang)] if version.get("forced") else []
    lines += trust_lines(doc.get("trust"), lang) or [_text(TEXTS, "trust_unknown", lang)]
    for row, line in enumerate(lines, 4):
        cell = ws.cell(row=row, column=1, value=line)
        cell.font = _font(size=11)
        cell.alignment = LEFT
    _widths(ws, {1: 120})
    _print_setup(ws)


def render_xlsx(doc: Mapping[str, Any], lang: Language = "vi") -> bytes:
    """The report document `doc` as an .xlsx workbook (four sheets; see the module's doc)."""
    workbook = Workbook()
    form = workbook.active
    if not isinstance(form, Worksheet):  # a new workbook's one sheet
        raise TypeError("openpyxl: a new workbook has no worksheet")
    _form_sheet(form, doc, lang)
    _comparison_sheet(workbook.create_sheet(), doc, lang)
    _differences_sheet(workbook.create_sheet(), doc, lang)
    _indicators_sheet(workbook.create_sheet(), doc, lang)
    _trust_sheet(workbook.create_sheet(), doc, lang)
    workbook.properties.creator = "syncd"
    workbook.properties.title = _localised(doc.get("title"), lang)
    if doc.get("generated_at"):
        workbook.properties.created = _local_time(doc["generated_at"]).replace(tzinfo=None)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
