"""How far a report can be trusted, stated in the report itself.

A form 06 is only as good as what the store held when it was made. Every report carries a
`trust` section (README, "Report JSON") built here from what the store knows of its reads, read
only through `Store.read_states`, `Store.quarantined` and `Store.dead_letters`:

- `provisional`: the period has not ended (its last day is today or later): figures still move;
- per portal, when its last complete read ended, whether one ended after the period did (the
  period's last events may otherwise be missing), and the polls that failed since;
- the quarantined records and dead letters that could belong to the period: counts and codes;
- `empty`: no dossier at all, in the reconciled figures or either portal's (an empty store, or
  a period nothing happened in: 1999-01).

"Could belong to the period": a record counts in a period only if it was received by the
period's end (DOMAIN.md §7), so a quarantined record or a dead letter cannot belong when its
receipt day is known and after the period's last day: read from the quarantined raw record's
receipt field (`receiveDate`, `NgayTiepNhan`) when that parses, else from the date in its code
(`<agency>-YYMMDD-NNNN`, Circular 01/2018). Anything else could belong, an entry without a code
included; a quarantined record stays a doubt until it is retried (`syncd quarantine retry`).
Its change time says nothing either way (a record received long before can change after the
period and still be counted in it as carried over).

`issues` lists what is wrong as codes; all but failed polls (a later complete read outweighs
them) stop `report publish` unless it is forced with a reason (`refusals`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from connectors.city import wire as city_wire
from connectors.national import wire as national_wire
from connectors.wireformat import FeedIdentity
from reconcile.engine import code_date
from reconcile.model import VN_TZ, Source, local, local_date
from reconcile.period import Period
from syncd.i18n import Language, failure_text, tr

if TYPE_CHECKING:
    from syncd.store import ReadState, Store

# The newest quarantine entries looked at (the stream keeps up to 100,000): when there are
# this many, there may be more, and the report says so.
QUARANTINE_SCAN = 5000
# Codes listed per kind of doubt (the count is always whole).
CODES_SHOWN = 200
PORTALS: tuple[Source, ...] = (Source.CITY, Source.NATIONAL)
FEEDS: Mapping[str, FeedIdentity] = {
    Source.CITY.value: city_wire.FEED,
    Source.NATIONAL.value: national_wire.FEED,
}
# Issues that do not stop publishing: a later complete read outweighs a failed poll.
NOT_BLOCKING = ("failed_polls:",)


def closed_at(period: Period) -> datetime:
    """The instant the period ends: midnight after its last day, Asia/Ho_Chi_Minh."""
    return datetime.combine(period.end + timedelta(days=1), time(), VN_TZ)


def receipt_day(source: str, code: str, raw: str) -> date | None:
    """A quarantined record's receipt day: its raw receipt field, else its code's date."""
    feed = FEEDS.get(source)
    if feed is not None and raw:
        try:
            record = json.loads(raw)
        except ValueError:
            record = None
        if isinstance(record, Mapping):
            received = feed.receipt_of(record)
            if received is not None:
                return local_date(received)
    return code_date(code) if code else None


def could_belong(period: Period, source: str, code: str, raw: str = "") -> bool:
    day = receipt_day(source, code, raw)
    return day is None or day <= period.end


def evaluate(
    period: Period,
    now: datetime,
    states: Mapping[Source, ReadState],
    quarantined: Sequence[Mapping[str, str]],
    dead_letters: Sequence[Mapping[str, Any]],
    empty: bool,
) -> dict[str, Any]:
    """The `trust` section of a report of `period` made at `now` (see the module docstring)."""
    end = closed_at(period)
    issues: list[str] = []
    provisional = local(now) < end
    if provisional:
        issues.append("provisional")
    portals: dict[str, Any] = {}
    for source in PORTALS:
        state = states.get(source)
        last = state.last_complete_at if state is not None else None
        failures = list(state.failures_since) if state is not None else []
        since_end = last is not None and local(last) >= end
        if last is None:
            issues.append(f"never_read:{source.value}")
        elif not since_end:
            issues.append(f"not_read_since_end:{source.value}")
        if failures:
            issues.append(f"failed_polls:{source.value}")
        portals[source.value] = {
            "last_complete_at": local(last).isoformat() if last is not None else None,
            "read_since_end": since_end,
            "failures_since": [
                {"at": f.get("at", ""), "error": f.get("error", ""), "kind": f.get("kind", "")}
                for f in failures
            ],
        }
    doubtful = [
        e
        for e in quarantined
        if could_belong(period, e.get("source", ""), e.get("code", ""), e.get("raw", ""))
    ]
    codes = sorted({e["code"] for e in doubtful if e.get("code")})
    without_code = sum(not e.get("code") for e in doubtful)
    if codes or without_code:
        issues.append("quarantined")
    letters = sorted(
        {
            str(e.get("code", ""))
            for e in dead_letters
            if could_belong(period, "", str(e.get("code", "")))
        }
    )
    if letters:
        issues.append("dead_letters")
    if empty:
        issues.append("empty")
    return {
        "provisional": provisional,
        "period_ends_at": end.isoformat(),
        "portals": portals,
        "quarantined": {
            "count": len(codes) + without_code,
            "codes": codes[:CODES_SHOWN],
            "without_code": without_code,
            "limited": len(quarantined) >= QUARANTINE_SCAN,
        },
        "dead_letters": {"count": len(letters), "codes": letters[:CODES_SHOWN]},
        "empty": empty,
        "issues": issues,
    }


async def assess(store: Store, period: Period, now: datetime, empty: bool) -> dict[str, Any]:
    """`evaluate` on what the store knows now."""
    return evaluate(
        period,
        now,
        await store.read_states(),
        await store.quarantined(QUARANTINE_SCAN),
        await store.dead_letters(),
        empty,
    )


def refusals(trust: Mapping[str, Any] | None) -> list[str]:
    """The issues that stop publishing (a document without a `trust` section has none known)."""
    issues: Sequence[str] = (trust or {}).get("issues") or ()
    return [i for i in issues if not i.startswith(NOT_BLOCKING)]


# --------------------------------------------------------------------------------------------
# In words


def _when(value: str | None) -> str:
    return local(datetime.fromisoformat(value)).strftime("%d/%m/%Y %H:%M") if value else "-"


def _last_day(trust: Mapping[str, Any]) -> str:
    day = datetime.fromisoformat(trust["period_ends_at"]).date() - timedelta(days=1)
    return f"{day.day}/{day.month}/{day.year}"


def issue_text(issue: str, trust: Mapping[str, Any], lang: Language) -> str:
    """One issue, short, for a refusal's one line."""
    name, _, portal = issue.partition(":")
    values: dict[str, object] = {"end": _last_day(trust)}
    if portal:
        values["portal"] = tr(lang, f"portal.{portal}")
    if name in ("quarantined", "dead_letters"):
        values["count"] = trust[name]["count"]
    return tr(lang, f"refusal.{name}", **values)


def trust_lines(trust: Mapping[str, Any] | None, lang: Language) -> list[str]:
    """The trust section as sentences, the most serious first (none for a document made
    before reports stated it)."""
    if not trust:
        return []
    lines: list[str] = []
    end = _last_day(trust)
    if trust.get("provisional"):
        lines.append(tr(lang, "trust.provisional", end=end))
    for portal, facts in trust["portals"].items():
        name = tr(lang, f"portal.{portal}")
        if facts["last_complete_at"] is None:
            lines.append(tr(lang, "trust.never_read", portal=name))
        elif not facts["read_since_end"]:
            at = _when(facts["last_complete_at"])
            lines.append(tr(lang, "trust.not_read_since_end", portal=name, at=at, end=end))
        else:
            lines.append(tr(lang, "trust.read", portal=name, at=_when(facts["last_complete_at"])))
        failures = facts["failures_since"]
        if failures:
            latest = failures[0]
            lines.append(
                tr(
                    lang,
                    "trust.failures",
                    portal=name,
                    count=len(failures),
                    at=_when(latest["at"]),
                    error=failure_text(latest.get("kind"), latest["error"], lang),
                )
            )
    for kind in ("quarantined", "dead_letters"):
        doubt = trust[kind]
        if doubt["count"]:
            shown = [*doubt["codes"]]
            if doubt.get("without_code"):
                shown.append(tr(lang, "trust.without_code", count=doubt["without_code"]))
            lines.append(tr(lang, f"trust.{kind}", count=doubt["count"], codes=" ".join(shown)))
            if doubt.get("limited"):
                lines.append(tr(lang, "trust.limited", scanned=QUARANTINE_SCAN))
    if trust.get("empty"):
        lines.append(tr(lang, "trust.empty"))
    if not refusals(trust):
        lines.append(tr(lang, "trust.ok"))
    return lines


def forced_text(version: Mapping[str, Any], doc: Mapping[str, Any], lang: Language) -> str:
    """A version published despite its trust issues, in words."""
    forced = version["forced"]
    trust = doc.get("trust") or {}
    issues = "; ".join(issue_text(i, trust, lang) for i in forced.get("overridden") or ()) or "-"
    by = version.get("by") or "-"
    return tr(lang, "trust.forced", issues=issues, by=by, reason=forced.get("reason") or "-")
