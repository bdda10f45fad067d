"""The monthly report's sentences (sections 2.2-2.4), in the seed report's own wording.

Input: the report JSON document ("syncd-report/2", `syncd report --format json`). The sentences
use the total row of the corrected figures (or one portal's raw figures) and the matching
indicators, and read as the agency writes them (report 321/BC-BQL, July 2024)::

    Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý đã giải quyết được: 77 TTHC trên hệ
    thống Một cửa thành phố; trong đó, 08 TTHC quá hạn.
    Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý tiếp nhận 53 TTHC trực tuyến
    Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý đã số hoá 100% hồ sơ giải quyết TTHC

(each on one line; the seed ends the last two without a full stop, and so do we). Counts below
10 take two digits ("08"), as the seed writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from syncd.i18n import Language

FIGURES = ("corrected", "city", "national")

# The wording of each sentence. {start}/{end}: d/m/yyyy; {agency}: the agency's short name.
SENTENCES: dict[str, dict[Language, str]] = {
    "resolved": {
        "vi": "Tính từ ngày {start} đến ngày {end} {agency} đã giải quyết được: {resolved} TTHC "
        "trên {system}; trong đó, {late} TTHC quá hạn.",
        "en": "From {start} to {end} {agency} resolved {resolved} dossiers on {system}, "
        "{late} of them overdue.",
    },
    "resolved_none_late": {
        "vi": "Tính từ ngày {start} đến ngày {end} {agency} đã giải quyết được: {resolved} TTHC "
        "trên {system}; không có TTHC quá hạn.",
        "en": "From {start} to {end} {agency} resolved {resolved} dossiers on {system}, "
        "none of them overdue.",
    },
    "online": {
        "vi": "Tính từ ngày {start} đến ngày {end} {agency} tiếp nhận {online} TTHC trực tuyến",
        "en": "From {start} to {end} {agency} received {online} dossiers online.",
    },
    "digitised": {
        "vi": "Tính từ ngày {start} đến ngày {end} {agency} đã số hoá {rate} hồ sơ giải quyết TTHC",
        "en": "From {start} to {end} {agency} digitised {rate} of the dossiers it handled.",
    },
    "digitised_none": {
        "vi": "Tính từ ngày {start} đến ngày {end} {agency} không có hồ sơ giải quyết TTHC "
        "để tính tỷ lệ số hoá",
        "en": "From {start} to {end} {agency} handled no dossiers, so there is no "
        "digitisation rate.",
    },
    "correction": {
        "vi": "Số liệu đã được đối soát với Cổng Dịch vụ công quốc gia: {differ} hồ sơ có số "
        "liệu khác với hệ thống Một cửa thành phố, trong đó {migrated} hồ sơ chuyển từ hệ thống "
        "cũ không tính vào kỳ báo cáo.",
        "en": "The figures were reconciled with the National Public Service Portal: {differ} "
        "dossiers differ from the city one-stop system's own figures, {migrated} of them "
        "migrated from the old system and not counted in this period.",
    },
    "correction_no_migrated": {
        "vi": "Số liệu đã được đối soát với Cổng Dịch vụ công quốc gia: {differ} hồ sơ có số "
        "liệu khác với hệ thống Một cửa thành phố.",
        "en": "The figures were reconciled with the National Public Service Portal: {differ} "
        "dossiers differ from the city one-stop system's own figures.",
    },
}

# Where the dossiers were resolved, by the figures the sentences use.
SYSTEMS: dict[str, dict[Language, str]] = {
    "corrected": {"vi": "hệ thống Một cửa thành phố", "en": "the city one-stop system"},
    "city": {"vi": "hệ thống Một cửa thành phố", "en": "the city one-stop system"},
    "national": {"vi": "Cổng Dịch vụ công quốc gia", "en": "the National Public Service Portal"},
}


def vn_day(value: str | date) -> str:
    """A day as Vietnamese documents write it: d/m/yyyy, no zero padding ("20/6/2024")."""
    day = value if isinstance(value, date) else date.fromisoformat(value)
    return f"{day.day}/{day.month}/{day.year}"


def count_text(n: int) -> str:
    """A count as the seed writes it: two digits below 10 ("08"), as is otherwise; 0 is "0"."""
    return f"{n:02d}" if 0 < n < 10 else str(n)


def percent_text(share: float, lang: Language) -> str:
    """A share in [0, 1] as a percentage: whole numbers bare ("100%"), others with one decimal
    ("98,7%" in Vietnamese, "98.7%" in English). A share short of 1 never shows as 100%, nor a
    positive one as 0%."""
    value = (Decimal(repr(share)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if value == 100 and share < 1:
        value = Decimal("99.9")
    elif value == 0 and share > 0:
        value = Decimal("0.1")
    text = str(value.to_integral_value()) if value == value.to_integral_value() else str(value)
    return (text.replace(".", ",") if lang == "vi" else text) + "%"


def agency_short_name(doc: Mapping[str, Any], lang: Language) -> str:
    """`agency.short_name` (a string, or {"vi": ..., "en": ...}), else the agency's name."""
    agency = doc.get("agency") or {}
    name = agency.get("short_name") or agency.get("name") or ""
    if isinstance(name, Mapping):
        return str(name.get(lang) or name.get("vi") or "")
    return str(name)


def _total(doc: Mapping[str, Any], figures: str) -> Mapping[str, Any]:
    form = doc["corrected"] if figures == "corrected" else doc["raw"][figures]
    cells: Mapping[str, Any] = form["total"]["cells"]
    return cells


def _migrated(diff: Mapping[str, Any]) -> bool:
    return any(
        reason.get("kind") == "migrated"
        or (reason.get("kind") == "excluded" and reason.get("detail") == "migrated")
        for reason in diff.get("reasons") or ()
    )


def correction_counts(doc: Mapping[str, Any]) -> tuple[int, int]:
    """(dossiers whose city figures differ from the corrected ones, of which migrated): distinct
    keys among the differences on the city side."""
    city = [d for d in doc.get("differences") or () if d.get("source") == "city"]
    keys = {d["key"] for d in city}
    migrated = {d["key"] for d in city if _migrated(d)}
    return len(keys), len(migrated)


def paragraph(doc: Mapping[str, Any], lang: Language = "vi", figures: str = "corrected") -> str:
    """Sections 2.2-2.4 of the monthly report, one sentence a line (newline-terminated).

    `figures`: "corrected" (default), or "city" / "national" for that portal's raw figures.
    With the corrected figures, a last sentence says how many dossiers the reconciliation
    counts differently from the city system's own figures, and how many of them were migrated
    from the old system (left out of the period)."""
    if figures not in FIGURES:
        raise ValueError(f"figures must be one of {', '.join(FIGURES)}, not {figures!r}")
    total = _total(doc, figures)
    indicators = (doc.get("indicators") or {}).get(figures) or {}
    common = {
        "start": vn_day(doc["period"]["start"]),
        "end": vn_day(doc["period"]["end"]),
        "agency": agency_short_name(doc, lang),
        "system": SYSTEMS[figures][lang],
    }
    late = int(total["10"])
    resolved_key = "resolved" if late else "resolved_none_late"
    lines = [
        SENTENCES[resolved_key][lang].format(
            **common, resolved=count_text(int(total["7"])), late=count_text(late)
        ),
        SENTENCES["online"][lang].format(**common, online=count_text(int(total["4"]))),
    ]
    rate = indicators.get("digitisation_rate")
    if rate is None:
        lines.append(SENTENCES["digitised_none"][lang].format(**common))
    else:
        lines.append(SENTENCES["digitised"][lang].format(**common, rate=percent_text(rate, lang)))
    if figures == "corrected":
        differ, migrated = correction_counts(doc)
        if differ:
            key = "correction" if migrated else "correction_no_migrated"
            lines.append(
                SENTENCES[key][lang].format(
                    differ=count_text(differ), migrated=count_text(migrated)
                )
            )
    return "\n".join(lines) + "\n"
