"""The monthly report (form 06/VPCP/KSTT): gathered from the store, published, rendered.

`gather` reads only the dossiers the period index names for the period (never the whole store),
builds each one's `reconcile.ledger.Entry` (corrected record, exclusion, mismatches, the raw
records of both portals) and hands them to the pure `reconcile.ledger.build`. The result is one
JSON document (schema "syncd-report/2", README "Report JSON"), which every format renders:
text for a terminal, CSV, XLSX laid out as the form (`syncd.xlsx`), the seed report's own
sentences (`syncd.summary`) and the national statistics push (`connectors.national.statistics`).

Publishing freezes the document as a numbered version of its period; a report gathered later
for a published period carries a restatement: what changed in each cell since the last
published version, dossier by dossier, and why.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from reconcile.counts import COLUMNS, FormCounts, Row
from reconcile.deadlines import PausePolicy
from reconcile.ledger import (
    CORRECTED,
    FORMS,
    Entry,
    Indicators,
    Ledger,
    PeriodReport,
    Reason,
    restatement,
)
from reconcile.model import VN_TZ, Dossier, Source
from reconcile.period import Period
from syncd.cells import CsvWriter
from syncd.i18n import Language, language, reason_text, tr
from syncd.summary import percent_text
from syncd.trust import assess, forced_text, issue_text, refusals, trust_lines

if TYPE_CHECKING:
    from syncd.store import Store

FORM = "06/VPCP/KSTT"
SCHEMA = "syncd-report/3"
BATCH = 2000

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
COMPARED_COLUMNS = (3, 4, 5, 6, 7, 10, 11, 13)
INDICATORS = ("online_share", "digitisation_rate", "on_time_rate", "sync_rate")


@dataclass(frozen=True)
class ReportSettings:
    """What a report needs from the configuration (and records as the policy in force)."""

    agency_code: str
    agency_name: str
    short_name: str
    cutoff_day: int
    fields: Mapping[str, str]
    pause_policy: str = "restart"
    paper_cutoff: str = "15:00"
    due_soon_days: int = 1
    migration_window: Sequence[str] = ()
    migration_burst_size: int = 0
    migration_burst_minutes: float = 10.0
    extra_days_off: Sequence[str] = ()
    extra_working_days: Sequence[str] = ()

    def policy_json(self) -> dict[str, Any]:
        return {
            "pause_policy": self.pause_policy,
            "paper_cutoff": self.paper_cutoff,
            "due_soon_days": self.due_soon_days,
            "migration_window": list(self.migration_window) or None,
            "migration_burst": {
                "size": self.migration_burst_size,
                "minutes": self.migration_burst_minutes,
            },
            "extra_days_off": list(self.extra_days_off),
            "extra_working_days": list(self.extra_working_days),
        }


@dataclass
class Gathered:
    """A period's report as computed now, what explains its dossiers, and how far it can be
    trusted (`syncd.trust`)."""

    settings: ReportSettings
    report: PeriodReport
    generated_at: datetime
    reasons: dict[str, tuple[Reason, ...]] = field(default_factory=dict)
    updated: dict[str, str] = field(default_factory=dict)  # key -> corrected updated_at
    trust: dict[str, Any] | None = None


async def gather(store: Store, period: Period, settings: ReportSettings, now: datetime) -> Gathered:
    """The report of `period` from what the store holds now, read through the period index."""
    keys = await store.period_keys(period)
    ledger = Ledger(period, list(settings.fields), PausePolicy(settings.pause_policy))
    reasons: dict[str, tuple[Reason, ...]] = {}
    updated: dict[str, str] = {}
    for start in range(0, len(keys), BATCH):
        batch = keys[start : start + BATCH]
        corrected, excluded, kinds, matched = await store.report_facts(batch)
        codes = sorted({c for d in corrected.values() for c in (d.code, *d.alt_codes)})
        city, national = await store.load_both(codes)
        overrides = await store.overrides(list(corrected))
        for key, record in corrected.items():
            entry = _entry(key, record, excluded, kinds, matched, city, national, overrides)
            ledger.add(entry)
            updated[key] = record.updated_at.isoformat()
            if entry.reasons():
                reasons[key] = entry.reasons()
    report = ledger.result()
    empty = not any(form.total[3] for form in report.forms.values())
    return Gathered(
        settings, report, now, reasons, updated, await assess(store, period, now, empty)
    )


def _entry(
    key: str,
    record: Dossier,
    excluded: Mapping[str, str],
    kinds: Mapping[str, Mapping[str, str]],
    matched: Mapping[str, Mapping[str, str]],
    city: Mapping[str, Dossier],
    national: Mapping[str, Dossier],
    overrides: Mapping[str, Mapping[str, str]],
) -> Entry:
    codes = (record.code, *record.alt_codes)
    pair = matched.get(key, {})
    main = {
        source: code
        for source, code in (
            (Source.CITY, pair.get("city")),
            (Source.NATIONAL, pair.get("national")),
        )
        if code
    }
    for source, records in ((Source.CITY, city), (Source.NATIONAL, national)):
        if source not in main and key in records:
            main[source] = key
    return Entry(
        key=key,
        corrected=record,
        excluded=excluded.get(key),
        kinds=dict(kinds.get(key, {})),
        city=tuple(city[c] for c in codes if c in city),
        national=tuple(national[c] for c in codes if c in national),
        main=main,
        overridden=tuple(sorted(overrides.get(key, {}))),
    )


# --------------------------------------------------------------------------------------------
# The JSON document


def _vn_date(day: date) -> str:
    return f"{day.day}/{day.month}/{day.year}"


def _row_json(row: Row, number: int | None, name: str) -> dict[str, Any]:
    return {
        "stt": number,
        "field_code": row.field_code or None,
        "field": name,
        "cells": {str(c): row[c] for c in COLUMNS},
    }


def _form_json(counts: FormCounts, names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "rows": [
            _row_json(row, number, names.get(row.field_code, row.field_code))
            for number, row in enumerate(counts.rows, 1)
        ],
        "total": _row_json(counts.total, None, tr("vi", "report.total")),
    }


def _indicators_json(ind: Indicators) -> dict[str, float | None]:
    return {name: getattr(ind, name) for name in INDICATORS}


def _reasons_json(reasons: Sequence[Reason]) -> list[dict[str, str]]:
    return [{"kind": r.kind, "detail": r.detail} for r in reasons]


def to_json(gathered: Gathered, published: Mapping[int, str] | None = None) -> dict[str, Any]:
    """The report document; with the period's published versions, its restatement against the
    latest of them."""
    s, r = gathered.settings, gathered.report
    ledger = {
        form: {
            field_code: {
                str(c): sorted(codes) for (f, c), codes in sorted(cells.items()) if f == field_code
            }
            for field_code in sorted({f for f, _ in cells})
        }
        for form, cells in r.ledger.items()
    }
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "form": FORM,
        "title": dict(TITLE),
        "agency": {"code": s.agency_code, "name": s.agency_name, "short_name": s.short_name},
        "period": {
            "label": r.period.label,
            "start": r.period.start.isoformat(),
            "end": r.period.end.isoformat(),
            "cutoff_day": s.cutoff_day,
        },
        "generated_at": gathered.generated_at.astimezone(VN_TZ).isoformat(),
        "version": None,
        "trust": gathered.trust,
        "policy": s.policy_json(),
        "columns": {str(c): HEADINGS[c] for c in COLUMNS},
        "corrected": _form_json(r.forms[CORRECTED], s.fields),
        "raw": {
            source: _form_json(r.forms[source], s.fields) for source in FORMS if source != CORRECTED
        },
        "indicators": {form: _indicators_json(ind) for form, ind in r.indicators.items()},
        "differences": [
            {
                "source": d.source.value,
                "key": d.key,
                "codes": list(d.codes),
                "field_code": d.field_code,
                "corrected_field_code": d.corrected_field_code,
                "raw_cells": list(d.raw_cells),
                "corrected_cells": list(d.corrected_cells),
                "reasons": _reasons_json(d.reasons),
            }
            for d in r.differences
        ],
        "ledger": ledger,
        "restatement": None,
    }
    if published:
        doc["restatement"] = _restatement(gathered, published, ledger[CORRECTED])
    return doc


def _cells_of_ledger(
    ledger: Mapping[str, Mapping[str, Sequence[str]]],
) -> dict[tuple[str, int], list[str]]:
    return {
        (field_code, int(column)): list(codes)
        for field_code, columns in ledger.items()
        for column, codes in columns.items()
    }


def _restatement(
    gathered: Gathered,
    published: Mapping[int, str],
    corrected_ledger: Mapping[str, Mapping[str, Sequence[str]]],
) -> dict[str, Any]:
    number = max(published)
    before = json.loads(published[number])
    published_at = before["version"]["published_at"]
    changes = restatement(
        _cells_of_ledger(before["ledger"][CORRECTED]), _cells_of_ledger(corrected_ledger)
    )

    known = {
        key
        for columns in before["ledger"][CORRECTED].values()
        for keys in columns.values()
        for key in keys
    }

    def why(key: str) -> list[dict[str, str]]:
        found = _reasons_json(gathered.reasons.get(key, ()))
        stamp = gathered.updated.get(key)
        if stamp is None:
            found.append({"kind": "gone", "detail": ""})
        elif key in known:
            found.append({"kind": "updated", "detail": stamp})
        else:
            found.append({"kind": "new", "detail": stamp})
        return found

    return {
        "since": {"number": number, "published_at": published_at},
        "changed": bool(changes),
        "cells": [
            {
                "field_code": c.field_code,
                "column": c.column,
                "published": c.published,
                "now": c.now,
                "added": [{"key": k, "reasons": why(k)} for k in c.added],
                "removed": [{"key": k, "reasons": why(k)} for k in c.removed],
            }
            for c in changes
        ],
    }


def published_document(
    doc: Mapping[str, Any],
    number: int,
    at: datetime,
    by: str = "",
    forced: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The document as frozen under version `number` (no restatement: it is the reference),
    with who published it and, when it was published despite its trust issues, the reason
    given and the issues overridden (`forced`)."""
    return {
        **doc,
        "version": {
            "number": number,
            "published_at": at.astimezone(VN_TZ).isoformat(),
            "by": by or None,
            "forced": dict(forced) if forced else None,
        },
        "restatement": None,
    }


class PublishRefused(Exception):
    """The report is not fit to be published (`syncd.trust.refusals`) and it was not forced."""

    def __init__(self, doc: Mapping[str, Any], issues: Sequence[str]) -> None:
        self.label = str(doc["period"]["label"])
        self.issues = list(issues)
        self.trust: Mapping[str, Any] = doc.get("trust") or {}
        super().__init__(self.text("en"))

    def reasons(self, lang: Language) -> str:
        return "; ".join(issue_text(i, self.trust, lang) for i in self.issues)

    def text(self, lang: Language, api: bool = False) -> str:
        key = "publish.refused_api" if api else "publish.refused"
        return tr(lang, key, label=self.label, reasons=self.reasons(lang))


async def publish(
    store: Store,
    doc: Mapping[str, Any],
    at: datetime,
    *,
    by: str = "",
    force: bool = False,
    reason: str = "",
) -> int:
    """Freeze `doc` as the next version of its period and record it in the audit trail;
    returns the version number.

    Refused (PublishRefused) while the report's trust section has issues that stop publishing
    (unfinished period, a portal not read completely since the period ended, quarantined
    records or dead letters that could belong to it, no dossier at all), unless `force`, which
    needs a `reason`: the audit entry and the published version both carry it, with the issues
    it overrode. Raises ValueError for `force` without a reason, RuntimeError if another
    process took the version number first (nothing is overwritten)."""
    issues = refusals(doc.get("trust"))
    reason = reason.strip()
    if force and not reason:
        raise ValueError("forcing a publication needs a reason")
    if issues and not force:
        raise PublishRefused(doc, issues)
    forced = {"reason": reason, "overridden": issues} if force else None
    label = doc["period"]["label"]
    number = max(await store.report_versions(label), default=0) + 1
    frozen_doc = published_document(doc, number, at, by, forced)
    frozen = json.dumps(frozen_doc, ensure_ascii=False, sort_keys=True)
    if not await store.publish_report(label, number, frozen):
        raise RuntimeError(f"version {number} of {label} was published concurrently; try again")
    after = {
        "version": number,
        "published_at": frozen_doc["version"]["published_at"],
        "totals": doc["corrected"]["total"]["cells"],
        "forced": forced,
    }
    from syncd.queue import record_action  # the queue's scripts: not for a light import

    await record_action(store, at, by or "syncd", "publish", f"report:{label}", None, after)
    return number


# --------------------------------------------------------------------------------------------
# Text and CSV


def _cells(doc: Mapping[str, Any], form: str) -> Mapping[str, Any]:
    table: Mapping[str, Any] = doc["corrected"] if form == CORRECTED else doc["raw"][form]
    return table


def render_text(doc: Mapping[str, Any], lang: Language | None = None, limit: int = 20) -> str:
    lang = lang or language()
    p = doc["period"]
    start, end = date.fromisoformat(p["start"]), date.fromisoformat(p["end"])
    lines = [
        doc["agency"]["name"],
        f"{tr(lang, 'report.form')} {doc['form']}: {doc['title'][lang]}",
        tr(lang, "report.period", label=p["label"], start=_vn_date(start), end=_vn_date(end)),
        tr(lang, "report.unit"),
    ]
    if doc.get("version"):
        v = doc["version"]
        lines.append(tr(lang, "report.version", number=v["number"], at=v["published_at"]))
        if v.get("forced"):
            lines.append(forced_text(v, doc, lang))
    lines.append(
        tr(lang, "report.policy", **{k: doc["policy"][k] for k in ("pause_policy", "paper_cutoff")})
    )
    trust = trust_lines(doc.get("trust"), lang)
    if trust:
        lines += ["", tr(lang, "report.trust"), *(f"  {line}" for line in trust)]
    lines.append("")
    form = doc["corrected"]
    total_name = tr(lang, "report.total")
    names = [row["field"] for row in form["rows"]]
    width = max([len(total_name), 8, *map(len, names)])
    header = f"{'(1)':>4} {'(2)':<{width}}" + "".join(f"{f'({c})':>6}" for c in COLUMNS)
    lines += [header, "-" * len(header)]
    for row in form["rows"]:
        lines.append(_row_line(str(row["stt"]), row["field"], row["cells"], width))
    lines.append("-" * len(header))
    lines.append(_row_line("", total_name, form["total"]["cells"], width))
    lines.append("")
    for column in COLUMNS:
        lines.append(f"  ({column}) {HEADINGS[column][lang]}")
    lines += ["", tr(lang, "report.by_source")]
    label_width = max(len(tr(lang, f"report.{k}")) for k in FORMS)
    lines.append(" " * (label_width + 2) + "".join(f"{f'({c})':>7}" for c in COMPARED_COLUMNS))
    for key in (Source.CITY.value, Source.NATIONAL.value, CORRECTED):
        cells = _cells(doc, key)["total"]["cells"]
        figures = "".join(f"{cells[str(c)]:>7}" for c in COMPARED_COLUMNS)
        lines.append(f"  {tr(lang, f'report.{key}'):<{label_width}}{figures}")
    lines += ["", tr(lang, "report.indicators")]
    for key in (Source.CITY.value, Source.NATIONAL.value, CORRECTED):
        ind = doc["indicators"][key]
        shown = "  ".join(
            f"{tr(lang, f'indicator.{name}')} {_percent(ind[name], lang)}" for name in INDICATORS
        )
        lines.append(f"  {tr(lang, f'report.{key}'):<{label_width}}  {shown}")
    lines += ["", *_differences_text(doc, lang, limit)]
    if doc.get("restatement"):
        lines += ["", *_restatement_text(doc["restatement"], lang, limit)]
    return "\n".join(lines) + "\n"


def _percent(share: float | None, lang: Language) -> str:
    return "-" if share is None else percent_text(share, lang)


def _row_line(number: str, name: str, cells: Mapping[str, int], width: int) -> str:
    return f"{number:>4} {name:<{width}}" + "".join(f"{cells[str(c)]:>6}" for c in COLUMNS)


def _differences_text(doc: Mapping[str, Any], lang: Language, limit: int) -> list[str]:
    diffs = [d for d in doc["differences"] if d["source"] == Source.CITY.value]
    lines = [tr(lang, "report.differences", count=len({d["key"] for d in diffs}))]
    by_reason: dict[str, list[Mapping[str, Any]]] = {}
    for d in diffs:
        shown = _plain(d["reasons"])
        by_reason.setdefault(shown[0]["kind"] if shown else "", []).append(d)
    for kind, group in sorted(by_reason.items(), key=lambda item: -len(item[1])):
        label = reason_text({"kind": kind}, lang)
        lines.append(f"  {label}: {len(group)}")
        for d in group[:limit]:
            raw = ",".join(map(str, d["raw_cells"])) or "-"
            fixed = ",".join(map(str, d["corrected_cells"])) or "-"
            why = "; ".join(reason_text(r, lang) for r in _plain(d["reasons"]))
            code = d["codes"][0] if d["codes"] else d["key"]
            name = code if code == d["key"] else f"{code} ({d['key']})"
            lines.append(f"    {name}  [{raw}] -> [{fixed}]  {why}")
        if len(group) > limit:
            lines.append("    " + tr(lang, "report.more", count=len(group) - limit))
    return lines


def _plain(reasons: Sequence[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """Reasons without an exclusion that its own mismatch kind already says (migrated)."""
    kinds = {r["kind"] for r in reasons}
    return [r for r in reasons if not (r["kind"] == "excluded" and r.get("detail") in kinds)]


def _restatement_text(re: Mapping[str, Any], lang: Language, limit: int) -> list[str]:
    since = re["since"]
    lines = [tr(lang, "report.restatement", number=since["number"], at=since["published_at"])]
    if not re["cells"]:
        lines.append("  " + tr(lang, "report.unchanged"))
    for cell in re["cells"]:
        lines.append(
            f"  {cell['field_code']} ({cell['column']}): {cell['published']} -> {cell['now']}"
        )
        for sign, name in (("+", "added"), ("-", "removed")):
            for item in cell[name][:limit]:
                why = "; ".join(reason_text(r, lang) for r in item["reasons"]) or "-"
                lines.append(f"    {sign} {item['key']}  {why}")
    return lines


def header_lines(doc: Mapping[str, Any], lang: Language) -> list[str]:
    """What a table-only format (CSV) says before its table: the period, the version, and how
    far the figures can be trusted."""
    p = doc["period"]
    start, end = date.fromisoformat(p["start"]), date.fromisoformat(p["end"])
    lines = [tr(lang, "report.period", label=p["label"], start=_vn_date(start), end=_vn_date(end))]
    version = doc.get("version")
    if version:
        lines.append(
            tr(lang, "report.version", number=version["number"], at=version["published_at"])
        )
        if version.get("forced"):
            lines.append(forced_text(version, doc, lang))
    trust = trust_lines(doc.get("trust"), lang)
    if trust:
        lines += [tr(lang, "report.trust"), *trust]
    return lines


def render_csv(doc: Mapping[str, Any], lang: Language | None = None, form: str = CORRECTED) -> str:
    """The form's table, after header lines (the period, the version, the trust statement),
    each a row of two cells, "#" and the text, so that a reader skipping lines that start with
    "#" skips them and any other reads them whole; then one header row, a row per field and
    the total."""
    lang = lang or language()
    out = io.StringIO()
    writer = CsvWriter(out)
    for line in header_lines(doc, lang):
        writer.writerow(["#", line])
    table = _cells(doc, form)
    writer.writerow([HEADINGS[c][lang] for c in (1, 2, *COLUMNS)])
    for row in table["rows"]:
        writer.writerow([row["stt"], row["field"], *(row["cells"][str(c)] for c in COLUMNS)])
    writer.writerow(
        ["", tr(lang, "report.total"), *(table["total"]["cells"][str(c)] for c in COLUMNS)]
    )
    return out.getvalue()


def render_json(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def form_fields(doc: Mapping[str, Any], form: str) -> list[str]:
    """The field codes of a form's rows, in order (the configured fields, then any other)."""
    return [str(row["field_code"]) for row in _cells(doc, form)["rows"] if row.get("field_code")]


def cell_ledger(
    doc: Mapping[str, Any], form: str, field_code: str | None, column: int
) -> list[str]:
    """The dossiers behind one cell of a form (`field_code` None: the total row)."""
    ledger = doc["ledger"][form]
    if field_code is not None:
        return list(ledger.get(field_code, {}).get(str(column), []))
    return sorted(code for columns in ledger.values() for code in columns.get(str(column), []))
