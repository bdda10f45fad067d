"""The report and deadline verbs of the `syncd` command: `report`, `overdue`.

syncd report [show|publish|versions] --period P [--format F] [--output FILE]
             [--version N] [--cell FIELD:COLUMN] [--figures corrected|city|national]
syncd overdue [--as-of YYYY-MM-DD] [--field F] [--flag FLAG] [--format text|csv|json]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.national.statistics import statistics_payload
from reconcile.flags import Flag, Flags, flags_of
from reconcile.ledger import CORRECTED, FORMS
from reconcile.model import local_date
from reconcile.period import Period
from syncd.cells import CsvWriter
from syncd.i18n import language, t
from syncd.reports import (
    PublishRefused,
    cell_ledger,
    form_fields,
    gather,
    publish,
    render_csv,
    render_json,
    render_text,
    to_json,
)
from syncd.summary import paragraph
from syncd.usage import UsageError

if TYPE_CHECKING:
    from syncd.config import Config
    from syncd.store import Store

REPORT_FORMATS = ("text", "json", "csv", "xlsx", "paragraph", "dvcqg")
LISTED_FLAGS = ("overdue", "due_soon", "late", "late_no_apology", "all")


class ReportUsageError(UsageError):
    """Bad input to a report verb: exit code 2 at the command line, an error on the page."""


def add_report_parsers(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = verbs.add_parser("report", help=t("help.report"))
    report.add_argument(
        "action",
        nargs="?",
        choices=("show", "publish", "versions"),
        default="show",
        help=t("help.report_action"),
    )
    report.add_argument("--period", required=True, help=t("help.period"))
    report.add_argument("--format", choices=REPORT_FORMATS, default="text", help=t("help.format"))
    report.add_argument("--output", "-o", metavar="FILE", help=t("help.report_output"))
    report.add_argument("--version", type=int, metavar="N", help=t("help.report_version"))
    report.add_argument("--cell", metavar="FIELD:COLUMN", help=t("help.report_cell"))
    report.add_argument("--figures", choices=FORMS, default=CORRECTED, help=t("help.figures"))
    report.add_argument("--force", action="store_true", help=t("help.force"))
    report.add_argument("--reason", metavar="TEXT", help=t("help.publish_reason"))
    report.add_argument("--by", metavar="WHO", help=t("help.by"))

    overdue = verbs.add_parser("overdue", help=t("help.overdue"))
    overdue.add_argument("--as-of", metavar="YYYY-MM-DD", help=t("help.as_of"))
    overdue.add_argument("--field", metavar="F", help=t("help.field_filter"))
    overdue.add_argument("--flag", choices=LISTED_FLAGS, default="all", help=t("help.flag"))
    overdue.add_argument("--format", choices=("text", "csv", "json"), default="text")


def now_utc() -> datetime:
    return datetime.now(UTC)


async def report_document(
    store: Store, config: Config, period: Period, now: datetime
) -> dict[str, Any]:
    """The period's report now, with its restatement if a version was published."""
    gathered = await gather(store, period, config.report_settings(), now)
    return to_json(gathered, await store.report_versions(period.label))


async def report_verb(
    store: Store, config: Config, period: Period, args: argparse.Namespace
) -> int:
    if args.action == "versions":
        versions = await store.report_versions(period.label)
        for number, text in sorted(versions.items()):
            doc = json.loads(text)
            total = doc["corrected"]["total"]["cells"]
            print(
                f"{number}  {doc['version']['published_at']}  (7)={total['7']}  (10)={total['10']}"
            )
        return 0
    if args.version is not None:
        versions = await store.report_versions(period.label)
        if args.version not in versions:
            raise ReportUsageError(t("report.no_version", label=period.label, number=args.version))
        doc = json.loads(versions[args.version])
    else:
        doc = await report_document(store, config, period, now_utc())
    if args.action == "publish":
        reason = (args.reason or "").strip()
        if args.force and not reason:
            raise ReportUsageError(t("publish.force_needs_reason"))
        if args.reason is not None and not args.force:
            raise ReportUsageError(t("publish.reason_needs_force"))
        from syncd.operators import OperatorError, acting_operator

        try:
            by = await acting_operator(args.by, store)
        except OperatorError as exc:
            raise ReportUsageError(str(exc)) from None
        try:
            number = await publish(store, doc, now_utc(), by=by, force=args.force, reason=reason)
        except PublishRefused as exc:
            raise ReportUsageError(exc.text(language())) from None
        print(t("report.published", label=period.label, number=number))
        return 0
    if args.cell:
        field_code, column = parse_cell(args.cell)
        check_field(doc, args.figures, field_code)
        for code in cell_ledger(doc, args.figures, field_code, column):
            print(code)
        return 0
    write_report(doc, args.format, args.output, args.figures)
    return 0


def parse_cell(text: str) -> tuple[str | None, int]:
    field_code, _, column = text.rpartition(":")
    if not field_code or not column.isdigit() or not 3 <= int(column) <= 13:
        raise ReportUsageError(t("report.bad_cell", cell=text))
    return (None if field_code.lower() == "total" else field_code), int(column)


def check_field(doc: Mapping[str, Any], form: str, field_code: str | None) -> None:
    """Raise ReportUsageError naming the known fields when `field_code` (None: the total row)
    is not a row of the form."""
    known = form_fields(doc, form)
    if field_code is not None and field_code not in known:
        raise ReportUsageError(
            t("report.unknown_field", field=field_code, fields=", ".join([*known, "total"]))
        )


def write_report(doc: Mapping[str, Any], fmt: str, output: str | None, figures: str) -> None:
    """Render `doc` in `fmt` to `output` (stdout when None, except XLSX, which defaults to
    bieu-06-<period>.xlsx). An unwritable file is a ReportUsageError naming it."""
    lang = language()
    content: str | bytes
    if fmt == "xlsx":
        from syncd.xlsx import render_xlsx  # openpyxl only for the verbs that write XLSX

        output = output or f"bieu-06-{doc['period']['label']}.xlsx"
        content = render_xlsx(doc, lang)
    elif fmt == "json":
        content = render_json(doc)
    elif fmt == "csv":
        content = render_csv(doc, lang, figures)
    elif fmt == "paragraph":
        content = paragraph(doc, lang, figures) + "\n"
    elif fmt == "dvcqg":
        payload = statistics_payload(doc, doc["agency"]["code"])
        content = json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
    else:
        content = render_text(doc, lang)
    if output is None:
        assert isinstance(content, str)
        sys.stdout.write(content)
        return
    try:
        if isinstance(content, bytes):
            Path(output).write_bytes(content)
        else:
            Path(output).write_text(content, encoding="utf-8")
    except OSError as exc:
        raise ReportUsageError(
            t("report.unwritable", path=output, reason=exc.strerror or exc)
        ) from None
    print(t("report.written", path=output))


# --------------------------------------------------------------------------------------------
# Overdue


async def overdue_flags(
    store: Store, config: Config, as_of: date, field_code: str | None = None
) -> list[tuple[Flags, Mapping[str, Any]]]:
    """Every dossier with a flag at the end of `as_of`, computed now from the corrected records
    of the reporting period containing `as_of` and the open dossiers (the period index)."""
    period = Period.containing(as_of, config.report.cutoff_day)
    keys = await store.period_keys(period)
    calendar = config.calendar.calendar()
    found: list[tuple[Flags, Mapping[str, Any]]] = []
    for start in range(0, len(keys), 2000):
        counted = await store.counted(keys[start : start + 2000])
        for key in sorted(counted):
            d = counted[key]
            if field_code and d.field_code != field_code:
                continue
            flags = flags_of(d, as_of, calendar, config.deadlines.due_soon_days)
            finished = d.finish_date()
            if not flags.flags or (Flag.LATE in flags and finished not in period):
                continue  # nothing to say, or finished late in another period
            facts = {
                "procedure": d.procedure_code,
                "received": local_date(d.received_at).isoformat(),
                "status": int(d.status),
                "apology": local_date(d.apology_at).isoformat() if d.apology_at else None,
            }
            found.append((flags, facts))
    return found


async def overdue_records(
    store: Store, config: Config, as_of: date, field_code: str | None, flag: str = "all"
) -> list[dict[str, Any]]:
    """`overdue_flags` as plain records (the CLI's and the API's), only `flag` unless "all"."""
    rows = await overdue_flags(store, config, as_of, field_code)
    return [
        {
            "code": f.code,
            "field": f.field_code,
            "due": f.due.isoformat() if f.due else None,
            "flags": sorted(f.flags),
            "days_late": f.days_late,
            **facts,
        }
        for f, facts in rows
        if flag == "all" or Flag(flag) in f.flags
    ]


async def overdue_verb(store: Store, config: Config, args: argparse.Namespace) -> int:
    try:
        as_of = date.fromisoformat(args.as_of) if args.as_of else local_date(now_utc())
    except ValueError:
        raise ReportUsageError(t("overdue.bad_date", value=args.as_of)) from None
    records = await overdue_records(store, config, as_of, args.field, args.flag)
    if args.format == "json":
        print(
            json.dumps(
                {"as_of": as_of.isoformat(), "dossiers": records}, ensure_ascii=False, indent=2
            )
        )
        return 0
    if args.format == "csv":
        out = io.StringIO()
        names = [
            "code",
            "field",
            "procedure",
            "received",
            "due",
            "status",
            "flags",
            "days_late",
            "apology",
        ]
        writer = CsvWriter(out)
        writer.writerow(names)
        for r in records:
            shown = {**r, "flags": " ".join(r["flags"])}
            writer.writerow(shown.get(name) for name in names)
        sys.stdout.write(out.getvalue())
        return 0
    print(t("overdue.title", as_of=as_of.strftime("%d/%m/%Y"), count=len(records)))
    for r in records:
        flags = ", ".join(t(f"flag.{name}") for name in r["flags"])
        late = t("overdue.days_late", days=r["days_late"]) if r["days_late"] else ""
        print(
            f"  {r['code']}  {r['field']:<4} {t('overdue.due')} {r['due']}  {flags} {late}".rstrip()
        )
    return 0
