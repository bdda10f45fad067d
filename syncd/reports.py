"""The monthly report (form 06/VPCP/KSTT): gathered from the store, rendered for people.

The corrected counts come from the reconciled records; beside them, the counts each portal's
own data would give (raw), so that the differences are visible. Formats: text (for a terminal),
CSV, JSON (schema in README, "Report JSON").
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconcile.counts import COLUMNS, FormCounts, FormTally, Row
from reconcile.model import Source
from reconcile.period import Period
from syncd.i18n import Language, language, tr
from syncd.store import Store

FORM = "06/VPCP/KSTT"

TITLE: dict[Language, str] = {
    "vi": "Tình hình, kết quả giải quyết TTHC tại cơ quan, đơn vị trực tiếp giải quyết TTHC",
    "en": "Administrative procedures handled by the agency that resolves them",
}
HEADINGS: dict[int, dict[Language, str]] = {
    1: {"vi": "STT", "en": "No."},
    2: {"vi": "Lĩnh vực", "en": "Field"},
    3: {"vi": "Số hồ sơ nhận: tổng số", "en": "Received: total"},
    4: {"vi": "Nhận trực tuyến", "en": "Received online"},
    5: {"vi": "Nhận trực tiếp, bưu chính", "en": "Received in person or by post"},
    6: {"vi": "Từ kỳ trước chuyển qua", "en": "Carried over from the previous period"},
    7: {"vi": "Đã giải quyết: tổng số", "en": "Resolved: total"},
    8: {"vi": "Giải quyết trước hạn", "en": "Resolved early"},
    9: {"vi": "Giải quyết đúng hạn", "en": "Resolved on time"},
    10: {"vi": "Giải quyết quá hạn", "en": "Resolved late"},
    11: {"vi": "Đang giải quyết: tổng số", "en": "Pending: total"},
    12: {"vi": "Đang giải quyết trong hạn", "en": "Pending, within the time limit"},
    13: {"vi": "Đang giải quyết quá hạn", "en": "Pending, overdue"},
}
COMPARED_COLUMNS = (3, 4, 7, 10, 11, 13)


@dataclass(frozen=True)
class Report:
    agency: str
    period: Period
    cutoff_day: int
    field_names: Mapping[str, str]
    corrected: FormCounts
    raw: Mapping[Source, FormCounts]

    def field_name(self, code: str) -> str:
        return self.field_names.get(code, code)


async def gather(
    store: Store, period: Period, cutoff_day: int, field_names: Mapping[str, str], agency: str
) -> Report:
    """Count the corrected records and each portal's raw records for `period`, streaming.

    Dossiers reconciliation excluded (migrated from the old system) are left out of the
    corrected counts; the raw counts keep them, as each portal's own figures would."""
    order = list(field_names)
    excluded = await store.excluded()
    tallies = {
        "corrected": FormTally(period, order),
        Source.CITY: FormTally(period, order),
        Source.NATIONAL: FormTally(period, order),
    }
    for name, tally in tallies.items():
        hash_name = "corrected" if name == "corrected" else f"rec:{name}"
        async for dossier in store.iter_records(hash_name):
            if name != "corrected" or dossier.code not in excluded:
                tally.add(dossier)
    return Report(
        agency,
        period,
        cutoff_day,
        dict(field_names),
        tallies["corrected"].result(),
        {
            Source.CITY: tallies[Source.CITY].result(),
            Source.NATIONAL: tallies[Source.NATIONAL].result(),
        },
    )


def _vn_date(day: Any) -> str:
    return f"{day.day}/{day.month}/{day.year}"


def render_text(report: Report, lang: Language | None = None) -> str:
    lang = lang or language()
    p = report.period
    lines = [
        report.agency,
        f"{tr(lang, 'report.form')} {FORM}: {TITLE[lang]}",
        tr(lang, "report.period", label=p.label, start=_vn_date(p.start), end=_vn_date(p.end)),
        tr(lang, "report.unit"),
        "",
    ]
    names = [report.field_name(r.field_code) for r in report.corrected.rows]
    width = max([len(tr(lang, "report.total")), 8, *map(len, names)])
    header = f"{'(1)':>4} {'(2)':<{width}}" + "".join(f"{f'({c})':>6}" for c in COLUMNS)
    lines += [header, "-" * len(header)]
    for number, (row, name) in enumerate(zip(report.corrected.rows, names, strict=True), 1):
        lines.append(_row_line(str(number), name, row, width))
    lines.append("-" * len(header))
    lines.append(_row_line("", tr(lang, "report.total"), report.corrected.total, width))
    lines.append("")
    for column in COLUMNS:
        lines.append(f"  ({column}) {HEADINGS[column][lang]}")
    lines += ["", tr(lang, "report.by_source")]
    label_width = max(len(tr(lang, f"report.{k}")) for k in ("corrected", "city", "national"))
    lines.append(" " * (label_width + 2) + "".join(f"{f'({c})':>7}" for c in COMPARED_COLUMNS))
    sources: list[tuple[str, Row]] = [
        (Source.CITY.value, report.raw[Source.CITY].total),
        (Source.NATIONAL.value, report.raw[Source.NATIONAL].total),
        ("corrected", report.corrected.total),
    ]
    for key, total in sources:
        figures = "".join(f"{total[c]:>7}" for c in COMPARED_COLUMNS)
        lines.append(f"  {tr(lang, f'report.{key}'):<{label_width}}{figures}")
    return "\n".join(lines) + "\n"


def _row_line(number: str, name: str, row: Row, width: int) -> str:
    return f"{number:>4} {name:<{width}}" + "".join(f"{value:>6}" for value in row.cells)


def _row_json(row: Row, number: int | None, name: str) -> dict[str, Any]:
    return {
        "stt": number,
        "field_code": row.field_code or None,
        "field": name,
        "cells": {str(c): row[c] for c in COLUMNS},
    }


def to_json(report: Report) -> dict[str, Any]:
    def form(counts: FormCounts) -> dict[str, Any]:
        return {
            "rows": [
                _row_json(row, number, report.field_name(row.field_code))
                for number, row in enumerate(counts.rows, 1)
            ],
            "total": _row_json(counts.total, None, tr("vi", "report.total")),
        }

    return {
        "form": FORM,
        "agency": report.agency,
        "period": {
            "label": report.period.label,
            "start": report.period.start.isoformat(),
            "end": report.period.end.isoformat(),
            "cutoff_day": report.cutoff_day,
        },
        "columns": {str(c): HEADINGS[c] for c in COLUMNS},
        "corrected": form(report.corrected),
        "raw": {source.value: form(counts) for source, counts in report.raw.items()},
    }


def render_json(report: Report) -> str:
    return json.dumps(to_json(report), ensure_ascii=False, indent=2) + "\n"


def render_csv(report: Report, lang: Language | None = None) -> str:
    lang = lang or language()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([HEADINGS[c][lang] for c in (1, 2, *COLUMNS)])
    for number, row in enumerate(report.corrected.rows, 1):
        writer.writerow([number, report.field_name(row.field_code), *row.cells])
    writer.writerow(["", tr(lang, "report.total"), *report.corrected.total.cells])
    return out.getvalue()


def render(report: Report, fmt: str, lang: Language | None = None) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "csv":
        return render_csv(report, lang)
    return render_text(report, lang)
