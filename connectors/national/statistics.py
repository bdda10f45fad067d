"""The monthly statistics push to the national portal (`DongBoThongKeHoSo`), from the report.

Input: the report JSON document ("syncd-report/2"); the figures pushed are the corrected ones
(form 06/VPCP/KSTT, DOMAIN.md §7). Output: the statistics record; the client wraps it in the
service envelope (`{"service": "DongBoThongKeHoSo", "session": ..., "madonvi": ..., "data": ...}`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

SERVICE = "DongBoThongKeHoSo"
DAY_FORMAT = "%d/%m/%Y"
_LABEL = re.compile(r"(\d{4})-(\d{2})")


def _percent(part: int, whole: int) -> float:
    """100 * part / whole, rounded half up to 2 decimals; 0 when `whole` is 0."""
    if whole == 0:
        return 0.0
    exact = Decimal(100 * part) / Decimal(whole)
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _count(cells: Mapping[str, Any], column: int) -> int:
    value = cells[str(column)]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"column {column}: {value!r} is not a whole number of dossiers")
    return value


def figures(cells: Mapping[str, Any]) -> dict[str, Any]:
    """The statistics fields for one row of form 06 (cells keyed "3" to "13")."""
    c = {column: _count(cells, column) for column in range(3, 14)}
    on_time = c[8] + c[9]
    return {
        "SoNhanTrongKy": c[4] + c[5],
        "SoNhanTrucTuyen": c[4],
        "SoNhanTrucTiep": c[5],
        "SoTonKyTruoc": c[6],
        "TongSoXuLy": c[3],
        "TongDaXuLy": c[7],
        "TongXuLyTruocHan": c[8],
        "TongXuLyDungHan": on_time,
        "PhanTramXuLyDungHan": _percent(on_time, c[7]),
        "TongXuLyTreHan": c[10],
        "PhanTramXuLyTreHan": _percent(c[10], c[7]),
        "TongChuaXuLy": c[11],
        "TongChuaXuLyTrongHan": c[12],
        "TongChuaXuLyTreHan": c[13],
    }


def month_of(label: str) -> tuple[int, int]:
    """(month 1-12, year) of a period label "YYYY-MM". The month is 1-based: "2024-01" is
    January, Thang 1 (DOMAIN.md §5.7: a 0-based month picker in one public system pushes
    every month one early)."""
    match = _LABEL.fullmatch(label)
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"period label {label!r} is not YYYY-MM")
    return int(match[2]), int(match[1])


def statistics_payload(doc: Mapping[str, Any], agency_code: str) -> dict[str, Any]:
    """The `DongBoThongKeHoSo` record for the report `doc`, from its corrected figures.

    Fields (numbers are JSON numbers, days dd/MM/yyyy):

    - MaDonVi: the agency's code on the national portal (`agency_code`).
    - Thang, Nam: the reporting month (1-12) and year, from the period label ("2024-07" → 7,
      2024); the period itself runs from the previous month's cut-off day (DOMAIN.md §7).
    - TuNgay, DenNgay: the period's first and last day, both inclusive ("20/06/2024").
    - SoNhanTrongKy: dossiers received in the period (col 4 + col 5).
    - SoNhanTrucTuyen: of which online (col 4); SoNhanTrucTiep: in person or by post (col 5).
    - SoTonKyTruoc: carried over from the previous period, still open at its start (col 6).
    - TongSoXuLy: dossiers handled in the period, received + carried over (col 3).
    - TongDaXuLy: resolved in the period (col 7).
    - TongXuLyTruocHan: resolved before the due date (col 8).
    - TongXuLyDungHan: resolved on time, early ones included (col 8 + col 9).
    - PhanTramXuLyDungHan: 100 * TongXuLyDungHan / TongDaXuLy, 2 decimals (0 when none).
    - TongXuLyTreHan: resolved late (col 10); PhanTramXuLyTreHan: 100 * col 10 / col 7.
    - TongChuaXuLy: still pending at the period's end (col 11), within the time limit
      (TongChuaXuLyTrongHan, col 12) or overdue (TongChuaXuLyTreHan, col 13).
    - DanhSachLinhVuc: the same figures for each field row, with MaLinhVuc and TenLinhVuc.
    """
    period = doc["period"]
    month, year = month_of(period["label"])
    corrected = doc["corrected"]
    return {
        "MaDonVi": agency_code,
        "Thang": month,
        "Nam": year,
        "TuNgay": date.fromisoformat(period["start"]).strftime(DAY_FORMAT),
        "DenNgay": date.fromisoformat(period["end"]).strftime(DAY_FORMAT),
        **figures(corrected["total"]["cells"]),
        "DanhSachLinhVuc": [
            {
                "MaLinhVuc": row.get("field_code") or "",
                "TenLinhVuc": row.get("field") or "",
                **figures(row["cells"]),
            }
            for row in corrected["rows"]
        ],
    }
