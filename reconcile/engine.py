"""The reconciliation engine: match the records of one dossier, find what differs, correct it.

`decide_all` is a pure function. The I/O layer hands it every record either portal holds that
is linked to the dossiers being reconciled (by code, alternate code and fingerprint, followed
until nothing new is linked: whole link components); `decide_all` splits them into dossiers the
same way whatever order they came in, and for each one (`decide`) pairs its records, compares
the pair field by field and merges it into the corrected record under a `Policy`. `decide` alone
decides about the *main* dossier of the records it is given and says which records belong to
other dossiers (`Decision.unrelated`).

Matching, strongest first (`MatchMethod`):

- CODE: equal dossier codes.
- ALT_CODE: a record's `alt_codes` (MaHoSoKhac) contains the other record's code (DOMAIN.md §5.2:
  a rewritten code travels with the old one as its alternate).
- FINGERPRINT: equal `fingerprint()`: procedure code + local receipt date + identity hash.
  A record with no identity ("" — unknown, or a placeholder the connector recognised) has no
  fingerprint and is never matched that way.

Records linked by CODE or ALT_CODE (on either side, transitively) are one dossier. The main pair
is the first city-national pair by CODE, else by ALT_CODE (records in a canonical order, so the
input order never matters), else the first pair by FINGERPRINT, else the first city record
alone, else the first national one. Every other record of the main dossier, and every one-sided
group of records fingerprint-linked to it, is a *duplicate* (DOMAIN.md §5.5). A group holding
both a city and a national record of its own is another dossier, as is anything not linked to
the main one: their codes go to `Decision.unrelated`.

Mismatch kinds. Values are text: statuses as their number, dates as local ISO dates
(YYYY-MM-DD; DOMAIN.md §6: compare dates, not times), channels as their number, None when a side
lacks the value. A decision reports each kind at most once (the store keys mismatches by code
and kind).

kind               severity  auto  rule
-----------------  --------  ----  ----------------------------------------------------------------
missing_national   medium    yes   a city record in a counted status (not 1 or 3), no national
                                   record; never for a migrated dossier
missing_city       high      no    a national record, no city record
status             high *    no *  the statuses differ (but see collapsed_status); detail: where
                                   the national one stands: `behind` (the city's is reachable from
                                   it by forward lifecycle transitions, not the reverse), `ahead`
                                   (the reverse), `contradicts` (neither; where each reaches the
                                   other, 4 vs 5/6/8, the one updated earlier is behind)
                                   * behind: medium, and auto-resolvable (see below)
collapsed_status   high      no    national 9 or 10 while the city has 5, 6 or 8 (DOMAIN.md §5.3);
                                   reported instead of status
received_date      medium    no    the local receipt dates differ
due_date           medium    no    the local due dates differ (one side having none included), or,
                                   with a calendar in the policy and the procedure's legal time in
                                   the catalogue, a side's due date is not the one syncd computes
                                   (`reconcile.deadlines`); detail: `computed=YYYY-MM-DD` and the
                                   sides that differ from it. A dossier with an apology letter on
                                   record on either side (its due date was moved once) is not held
                                   to it, nor is a national-only one (only the city records the
                                   letter).
finished_date      medium    no    the local finish dates differ: `finished_at`, else `returned_at`
                                   (DOMAIN.md §7)
channel            low       no    the channels differ
procedure          medium    no    the procedure codes differ
field              low       no    the field codes differ
duplicate          medium    no    two or more records for the main dossier on one side; values:
                                   the extra codes per side; detail names them
migrated           medium    no    the city record was carried over from the old system (below)
unknown_procedure  low       no    with a catalogue, the corrected record's procedure is not in it

Dates are compared only when both records have the same status: records at different statuses
describe different moments of the lifecycle (a due date moved by a supplement, a finish not yet
recorded), so the status mismatch is reported alone and dates are compared once it is settled.

Migrated dossiers (DOMAIN.md §1, §5.1) are found by evidence, not by the code alone
(`migration_signals`): each signal is recorded as the reason, in the `migrated` mismatch's detail.
A signal is strong (enough alone) or weak (migrated only with a second one):

- `code_date=YYYY-MM-DD` (strong): the receipt date embedded in the city code
  (`<agency>-YYMMDD-NNNN`) is at least a day before the city's receipt date: the new system
  re-received something received earlier. A city receipt date moved later by a day or more looks
  the same;
- `finished_before_received=YYYY-MM-DD` (strong): the city record was finished or returned before
  it was received (instants): the conversion kept the old finish and dated the receipt at the
  cut-over;
- `burst=YYYY-MM-DD HH:MM:SS` (strong): at least `Policy.migration_burst_size` city records
  share this receipt second (local time) and this one was finished within
  `migration_burst_minutes` of it: the cut-over batch. How many records share an instant is a
  fact about other dossiers: `decide` receives it as data (`receipt_counts`, receipt second ->
  city records), which the store keeps;
- `national=YYYY-MM-DD..YYYY-MM-DD`: the national record of the pair (linked by code, alternate
  code or fingerprint) was received a day or more before the city's receipt: strong when it was
  also finished before the day the city received it (the old system pushed it, done, long
  before), weak otherwise (a national receipt date shifted earlier looks the same);
- `instant=M min` (weak): finished within `migration_burst_minutes` of its receipt, alone;
- `window=YYYY-MM-DD..YYYY-MM-DD` (weak): received by the city within the cut-over window
  (`Policy.migration_window`). The window marks no dossier by itself, so a dossier the new
  system really handled before the cut-over stays counted;
- `operator` (decisive): an operator marked the dossier migrated (override `migrated` = "true");
  "false" is an operator's word that it is not, whatever the signals.

A migrated decision has `excluded = "migrated"` and a `migrated` mismatch; it gets no
`missing_national` (such dossiers were never pushed), no date comparison (its city dates are the
cut-over's), nothing auto-resolvable and no push; it still has a corrected record, which reports
leave out by `excluded`.

Auto-resolvable (safe to fix without an operator, by pushing `Decision.push` to the national
portal): `missing_national`, and `status` when the national portal is `behind` and the city is the
authority for the status. Everything else goes to operators.

The corrected record: each field of `AUTHORITY_FIELDS` comes from its authority side under the
policy when that side has the record, else from the other side; `updated_at` and
`native_status` travel with the status, the identity from the status side unless it has none,
the apology letter's date (`apology_at`) with the due date, from the other side if that has none;
the clock stops (`pauses`) from the national portal are its supplement requests with the city's
fee and stop intervals, which the national portal does not date;
then the operator's `overrides` apply (field name -> text: a status or channel as its number,
a date as an ISO datetime with its offset, "" to clear an optional date, codes as text,
digitised as true/false); its `code` is the decision's key, its `alt_codes` every other code of
the main dossier, its `source` the side its status came from.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any

from reconcile.calendar import WorkingCalendar
from reconcile.deadlines import PAPER_CUTOFF, PausePolicy, computed_due
from reconcile.model import (
    Channel,
    Dossier,
    Pause,
    Procedure,
    Source,
    Status,
    StopKind,
    local,
    local_date,
    to_micros,
)

# --------------------------------------------------------------------------------------------
# Vocabulary


class MismatchKind(enum.StrEnum):
    MISSING_NATIONAL = "missing_national"
    MISSING_CITY = "missing_city"
    STATUS = "status"
    COLLAPSED_STATUS = "collapsed_status"
    RECEIVED_DATE = "received_date"
    DUE_DATE = "due_date"
    FINISHED_DATE = "finished_date"
    CHANNEL = "channel"
    PROCEDURE = "procedure"
    FIELD = "field"
    DUPLICATE = "duplicate"
    MIGRATED = "migrated"
    UNKNOWN_PROCEDURE = "unknown_procedure"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Direction(enum.StrEnum):
    """Where the national status stands relative to the city's along the lifecycle."""

    BEHIND = "behind"
    AHEAD = "ahead"
    CONTRADICTS = "contradicts"


class MatchMethod(enum.StrEnum):
    CODE = "code"
    ALT_CODE = "alt_code"
    FINGERPRINT = "fingerprint"


# The severity of each kind (`status` is medium when the national portal is merely behind).
SEVERITY: Mapping[MismatchKind, Severity] = MappingProxyType(
    {
        MismatchKind.MISSING_NATIONAL: Severity.MEDIUM,
        MismatchKind.MISSING_CITY: Severity.HIGH,
        MismatchKind.STATUS: Severity.HIGH,
        MismatchKind.COLLAPSED_STATUS: Severity.HIGH,
        MismatchKind.RECEIVED_DATE: Severity.MEDIUM,
        MismatchKind.DUE_DATE: Severity.MEDIUM,
        MismatchKind.FINISHED_DATE: Severity.MEDIUM,
        MismatchKind.CHANNEL: Severity.LOW,
        MismatchKind.PROCEDURE: Severity.MEDIUM,
        MismatchKind.FIELD: Severity.LOW,
        MismatchKind.DUPLICATE: Severity.MEDIUM,
        MismatchKind.MIGRATED: Severity.MEDIUM,
        MismatchKind.UNKNOWN_PROCEDURE: Severity.LOW,
    }
)

EXCLUDED_MIGRATED = "migrated"


@dataclass(frozen=True, slots=True)
class Mismatch:
    code: str
    kind: MismatchKind
    severity: Severity
    city_value: str | None
    national_value: str | None
    detail: str = ""
    auto_resolvable: bool = False


@dataclass(frozen=True, slots=True)
class Match:
    city_code: str
    national_code: str
    method: MatchMethod


@dataclass(frozen=True, slots=True)
class Decision:
    """What reconciliation decided about one dossier.

    `key` is the city code of the main pair (the national code when no city record is in it);
    `matches` the main pair, if there is one; `corrected` the record to count; `excluded` why
    reports leave it out (None: they count it); `unrelated` the codes of records handed in that
    belong to other dossiers; `push` the record to write to the national portal when a
    mismatch is auto-resolvable; `records` every record of the main dossier.
    """

    key: str
    matches: tuple[Match, ...]
    corrected: Dossier
    mismatches: tuple[Mismatch, ...]
    excluded: str | None = None
    unrelated: tuple[str, ...] = ()
    push: Dossier | None = None
    # Every record of the main dossier (the main pair first, then its duplicates).
    records: tuple[Dossier, ...] = ()
    # Portals on which the dossier is absent but whose view is not complete: its absence there
    # is judged once they have completed a read (`decide_all`).
    waiting: tuple[Source, ...] = ()

    @property
    def code(self) -> str:
        """The key, under the name the first `compare()` used."""
        return self.key


# --------------------------------------------------------------------------------------------
# Policy

# The fields the corrected record takes from one side or the other.
AUTHORITY_FIELDS: tuple[str, ...] = (
    "status",
    "received_at",
    "due_at",
    "finished_at",
    "returned_at",
    "channel",
    "procedure_code",
    "field_code",
    "digitised",
    "pauses",
)
_DATE_FIELDS = frozenset({"received_at", "due_at", "finished_at", "returned_at"})
# What an operator may override, and how the text is read.
OVERRIDABLE_FIELDS: tuple[str, ...] = tuple(f for f in AUTHORITY_FIELDS if f != "pauses")


def _city_everywhere() -> Mapping[str, Source]:
    return MappingProxyType(dict.fromkeys(AUTHORITY_FIELDS, Source.CITY))


@dataclass(frozen=True)
class Policy:
    """How to reconcile.

    `authority`: which side each field of `AUTHORITY_FIELDS` comes from; a field it does not
    name comes from the city, the system of record for processing status and dates, since it
    is where dossiers are handled. `migration_window`: the cut-over window (first and last local
    day), a weak migration signal; `migration_burst_size` (0: no burst signal) and
    `migration_burst_minutes`: the cut-over batch (see the module docstring). `calendar`,
    `pause_policy`, `paper_cutoff`: how due dates are computed to check the portals' (None: no
    check).
    """

    authority: Mapping[str, Source] = field(default_factory=_city_everywhere)
    migration_window: tuple[date, date] | None = None
    migration_burst_size: int = 0
    migration_burst_minutes: float = 10.0
    calendar: WorkingCalendar | None = None
    pause_policy: PausePolicy = PausePolicy.RESTART
    paper_cutoff: time = PAPER_CUTOFF

    def __post_init__(self) -> None:
        unknown = set(self.authority) - set(AUTHORITY_FIELDS)
        if unknown:
            raise ValueError(
                f"no authority can be set for {sorted(unknown)}; fields are {AUTHORITY_FIELDS}"
            )
        for name, source in self.authority.items():
            if not isinstance(source, Source):
                raise ValueError(f"authority for {name} must be a Source, got {source!r}")
        window = self.migration_window
        if window is not None and window[0] > window[1]:
            raise ValueError(f"migration window {window[0]}..{window[1]} ends before it starts")
        if self.migration_burst_size < 0 or self.migration_burst_minutes < 0:
            raise ValueError("migration burst size and minutes cannot be negative")

    def source_of(self, name: str) -> Source:
        return self.authority.get(name, Source.CITY)


# --------------------------------------------------------------------------------------------
# Status lifecycle

# Forward transitions of the national lifecycle (DOMAIN.md §3; the same table as the scenario
# files' events): nothing follows 3 (refused), 7 (withdrawn) or 10 (returned).
_NEXT: Mapping[Status, frozenset[Status]] = {
    Status.REGISTERED: frozenset({Status.ACCEPTED, Status.REFUSED}),
    Status.ACCEPTED: frozenset(
        {
            Status.REFUSED,
            Status.PROCESSING,
            Status.SUPPLEMENT_REQUESTED,
            Status.AWAITING_FEES,
            Status.STOPPED,
            Status.FINISHED,
            Status.WITHDRAWN,
        }
    ),
    Status.PROCESSING: frozenset(
        {
            Status.SUPPLEMENT_REQUESTED,
            Status.AWAITING_FEES,
            Status.STOPPED,
            Status.FINISHED,
            Status.RETURNED,
            Status.WITHDRAWN,
        }
    ),
    Status.SUPPLEMENT_REQUESTED: frozenset({Status.PROCESSING, Status.WITHDRAWN}),
    Status.AWAITING_FEES: frozenset({Status.PROCESSING, Status.WITHDRAWN}),
    Status.STOPPED: frozenset({Status.PROCESSING, Status.WITHDRAWN}),
    Status.FINISHED: frozenset({Status.RETURNED}),
    Status.REFUSED: frozenset(),
    Status.WITHDRAWN: frozenset(),
    Status.RETURNED: frozenset(),
}


def _closure() -> Mapping[Status, frozenset[Status]]:
    reach: dict[Status, frozenset[Status]] = {}
    for start in Status:
        seen: set[Status] = set()
        todo = list(_NEXT[start])
        while todo:
            s = todo.pop()
            if s not in seen:
                seen.add(s)
                todo.extend(_NEXT[s])
        reach[start] = frozenset(seen)
    return reach


# Statuses reachable from each status by one or more forward transitions.
REACHABLE: Mapping[Status, frozenset[Status]] = MappingProxyType(dict(_closure()))
_COLLAPSED_OPEN = frozenset({Status.SUPPLEMENT_REQUESTED, Status.AWAITING_FEES, Status.STOPPED})
_COLLAPSED_AS = frozenset({Status.FINISHED, Status.RETURNED})


def status_direction(
    city: Status,
    national: Status,
    *,
    city_updated: datetime | None = None,
    national_updated: datetime | None = None,
) -> Direction:
    """Where the national status stands relative to the city's (two different statuses).

    Behind: the city's status can be reached from the national one by forward transitions and
    not the other way round; ahead: the reverse. Where both can reach each other (4 and 5, 6
    or 8: a supplement requested then completed), the record updated earlier is behind when
    both update times are given. Otherwise they contradict (9 against 7, 3 against anything).
    """
    forward = city in REACHABLE[national]
    backward = national in REACHABLE[city]
    if forward and backward and city_updated is not None and national_updated is not None:
        national_at, city_at = to_micros(local(national_updated)), to_micros(local(city_updated))
        forward, backward = national_at < city_at, city_at < national_at
    if forward and not backward:
        return Direction.BEHIND
    if backward and not forward:
        return Direction.AHEAD
    return Direction.CONTRADICTS


# --------------------------------------------------------------------------------------------
# Codes, fingerprints, migration

_CODE = re.compile(r".+-([0-9]{2})([0-9]{2})([0-9]{2})-[0-9]{4,}")


def code_date(code: str) -> date | None:
    """The receipt date a dossier code `<agency>-YYMMDD-NNNN` carries (Circular 01/2018, Art. 19),
    or None when the code does not have that shape."""
    found = _CODE.fullmatch(code)
    if found is None:
        return None
    yy, mm, dd = (int(part) for part in found.groups())
    try:
        return date(2000 + yy, mm, dd)
    except ValueError:
        return None


def fingerprint(d: Dossier) -> str | None:
    """Procedure code + local receipt date + identity; None without an identity."""
    if not d.identity:
        return None
    return f"{d.procedure_code}\x1f{local_date(d.received_at).isoformat()}\x1f{d.identity}"


# The override key through which an operator marks ("true") or unmarks ("false") a dossier as
# migrated; not a field of the record.
MIGRATED_OVERRIDE = "migrated"


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of migration evidence: `text` as recorded (`name=detail`), and whether it is
    enough alone (see the module docstring)."""

    name: str
    detail: str = ""
    strong: bool = True

    @property
    def text(self) -> str:
        return f"{self.name}={self.detail}" if self.detail else self.name


def receipt_second(d: Dossier) -> int:
    """The receipt instant to the second (epoch seconds): the key under which the store counts
    the city records received at one instant (`decide`'s `receipt_counts`)."""
    return to_micros(d.received_at) // 1_000_000


def _closed_at(d: Dossier) -> datetime | None:
    return d.finished_at or d.returned_at


def migration_signals(
    city: Dossier,
    policy: Policy,
    national: Dossier | None = None,
    receipt_counts: Mapping[int, int] | None = None,
) -> list[Signal]:
    """Every migration signal the city record `city` carries (strong and weak; module
    docstring), with `national`, the national record paired with it, and `receipt_counts`,
    how many city records share each receipt second."""
    found: list[Signal] = []
    received = local(city.received_at)
    received_day = received.date()
    embedded = code_date(city.code)
    if embedded is not None and embedded <= received_day - timedelta(days=1):
        found.append(Signal("code_date", embedded.isoformat()))
    closed = [when for when in (city.finished_at, city.returned_at) if when is not None]
    early = [when for when in closed if local(when) < received]
    if early:
        found.append(Signal("finished_before_received", local_date(min(early)).isoformat()))
    end = _closed_at(city)
    quick = end is not None and timedelta(0) <= local(end) - received <= timedelta(
        minutes=policy.migration_burst_minutes
    )
    same = (receipt_counts or {}).get(receipt_second(city), 0)
    size = policy.migration_burst_size
    if quick and size and same >= size:
        stamp = received.replace(microsecond=0, tzinfo=None).isoformat(sep=" ")
        # The instant, not the count: a count that grows past the size queues nothing again,
        # and the decision must not depend on when it was last taken.
        found.append(Signal("burst", stamp))
    elif quick and end is not None:
        minutes = int((local(end) - received).total_seconds() // 60)
        found.append(Signal("instant", f"{minutes} min", strong=False))
    if national is not None:
        theirs = local_date(national.received_at)
        if theirs <= received_day - timedelta(days=1):
            their_end = national.finish_date()
            done = their_end is not None and their_end < received_day
            shown = f"{theirs.isoformat()}..{their_end.isoformat() if their_end else ''}"
            found.append(Signal("national", shown, strong=done))
    window = policy.migration_window
    if window is not None and window[0] <= received_day <= window[1]:
        found.append(
            Signal("window", f"{window[0].isoformat()}..{window[1].isoformat()}", strong=False)
        )
    return found


def migration_verdict(signals: Sequence[Signal], override: str | None = None) -> bool:
    """Migrated: an operator said so, or, unless an operator said not, a strong signal or two
    weak ones."""
    if override is not None:
        return override.strip().lower() == "true"
    return any(s.strong for s in signals) or sum(not s.strong for s in signals) >= 2


def migration_evidence(
    city: Dossier,
    policy: Policy,
    national: Dossier | None = None,
    receipt_counts: Mapping[int, int] | None = None,
) -> str:
    """Why the city record `city` is migrated, its signals joined by "; " ("" when it is not:
    no signal, or one weak one). See `migration_signals`."""
    signals = migration_signals(city, policy, national, receipt_counts)
    return "; ".join(s.text for s in signals) if migration_verdict(signals) else ""


def migrated_values(
    city: Dossier | None, national: Dossier | None
) -> tuple[str | None, str | None]:
    """What a `migrated` mismatch shows of each side: its local receipt date."""
    return (
        _day(city.received_at) if city is not None else None,
        _day(national.received_at) if national is not None else None,
    )


# --------------------------------------------------------------------------------------------
# Grouping


def _t(when: datetime | None) -> tuple[int, int]:
    return (0, 0) if when is None else (1, to_micros(local(when)))


def _canonical_key(d: Dossier) -> tuple[Any, ...]:
    """A total order on records consistent with equality, so input order never matters."""
    return (
        d.code,
        d.source.value,
        d.procedure_code,
        d.field_code,
        int(d.channel),
        int(d.status),
        _t(d.received_at),
        _t(d.updated_at),
        _t(d.due_at),
        _t(d.finished_at),
        _t(d.returned_at),
        _t(d.apology_at),
        d.alt_codes,
        tuple(
            (_t(p.requested_at), _t(p.resumed_at), p.kind.value, _t(p.due_before)) for p in d.pauses
        ),
        d.digitised,
        d.native_status,
        d.identity,
    )


def _canonical(records: Sequence[Dossier]) -> list[Dossier]:
    if len(records) <= 1:
        return list(records)
    out: list[Dossier] = []
    for d in sorted(records, key=_canonical_key):
        if not out or out[-1] != d:
            out.append(d)
    return out


def _alt_linked(a: Dossier, b: Dossier) -> bool:
    return bool((a.code and a.code in b.alt_codes) or (b.code and b.code in a.alt_codes))


def _strongly_linked(a: Dossier, b: Dossier) -> bool:
    return a.code == b.code or _alt_linked(a, b)


def link_labels(d: Dossier) -> tuple[str, ...]:
    """What links a record to others: its code and alternate codes ("c:<code>") and its
    fingerprint ("f:<fingerprint>"). Records sharing a label are in one link component."""
    labels = [f"c:{code}" for code in (d.code, *d.alt_codes) if code]
    fp = fingerprint(d)
    if fp is not None:
        labels.append(f"f:{fp}")
    return tuple(labels)


def components(records: Iterable[Dossier]) -> list[tuple[Dossier, ...]]:
    """The link components of these records (records sharing a `link_labels` label, followed
    transitively), each in the records' given order, ordered by their first record. The I/O
    layer hands `decide_all` whole components; a component is never split by how records
    arrive."""
    items = list(records)
    parent: dict[str, str] = {}

    def root(label: str) -> str:
        parent.setdefault(label, label)
        while parent[label] != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    for d in items:
        labels = link_labels(d) or (f"r:{id(d)}",)
        first = root(labels[0])
        for other in labels[1:]:
            top = root(other)
            if top != first:
                parent[top] = first
    grouped: dict[str, list[Dossier]] = {}
    for d in items:
        labels = link_labels(d) or (f"r:{id(d)}",)
        grouped.setdefault(root(labels[0]), []).append(d)
    return [tuple(group) for group in grouped.values()]


@dataclass(frozen=True, slots=True)
class _Group:
    city: Dossier | None  # the main pair
    national: Dossier | None
    method: MatchMethod | None
    extra_city: tuple[Dossier, ...]  # duplicates of the main dossier, per side
    extra_national: tuple[Dossier, ...]
    unrelated: tuple[str, ...]

    def records(self) -> Iterable[Dossier]:
        main = (d for d in (self.city, self.national) if d is not None)
        return (*main, *self.extra_city, *self.extra_national)


def _components(records: Sequence[Dossier]) -> list[int]:
    """Union-find over CODE / ALT_CODE links: the component (its smallest index) of each."""
    parent = list(range(len(records)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(records):
        for j in range(i):
            if _strongly_linked(a, records[j]):
                ri, rj = root(i), root(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    return [root(i) for i in range(len(records))]


def _group(cs: Sequence[Dossier], ns: Sequence[Dossier]) -> _Group:
    records = [*cs, *ns]
    n_city = len(cs)
    comp = _components(records)
    prints = [fingerprint(d) for d in records]
    main: tuple[int | None, int | None, MatchMethod | None] | None = None
    for strong in (MatchMethod.CODE, MatchMethod.ALT_CODE):
        for i, c in enumerate(cs):
            for j, n in enumerate(ns):
                linked = c.code == n.code if strong is MatchMethod.CODE else _alt_linked(c, n)
                if linked:
                    main = (i, n_city + j, strong)
                    break
            if main:
                break
        if main:
            break
    if main is None:
        for i in range(n_city):
            for j in range(n_city, len(records)):
                if prints[i] is not None and prints[i] == prints[j]:
                    main = (i, j, MatchMethod.FINGERPRINT)
                    break
            if main:
                break
    if main is None:
        main = (0, None, None) if cs else (None, 0, None)
    mc, mn, method = main
    member_comps = {comp[k] for k in (mc, mn) if k is not None}
    members = {k for k, at in enumerate(comp) if at in member_comps}
    # One-sided components fingerprint-linked to the main dossier are duplicates of it; a
    # component with records on both sides is a dossier both systems know on its own.
    sides: dict[int, set[bool]] = {}
    for k, at in enumerate(comp):
        sides.setdefault(at, set()).add(k < n_city)
    joined = {
        comp[k]
        for k in range(len(records))
        if comp[k] not in member_comps
        and len(sides[comp[k]]) == 1
        and prints[k] is not None
        and any(prints[k] == prints[m] for m in members)
    }
    members |= {k for k, at in enumerate(comp) if at in joined}
    extras = sorted(members - {k for k in (mc, mn) if k is not None})
    unrelated = sorted({records[k].code for k in range(len(records)) if k not in members})
    return _Group(
        city=records[mc] if mc is not None else None,
        national=records[mn] if mn is not None else None,
        method=method,
        extra_city=tuple(records[k] for k in extras if k < n_city),
        extra_national=tuple(records[k] for k in extras if k >= n_city),
        unrelated=tuple(unrelated),
    )


# --------------------------------------------------------------------------------------------
# Correction


def _merge(city: Dossier | None, national: Dossier | None, policy: Policy) -> Dossier:
    def side(name: str) -> Dossier:
        first, second = (
            (city, national) if policy.source_of(name) is Source.CITY else (national, city)
        )
        record = first if first is not None else second
        assert record is not None
        return record

    base = side("status")
    other = national if base is city else city
    if other is None:
        return base
    changes: dict[str, Any] = {
        name: getattr(other, name) for name in AUTHORITY_FIELDS if side(name) is other
    }
    if not base.identity and other.identity:
        changes["identity"] = other.identity
    if side("pauses").source is Source.NATIONAL and city is not None:
        changes["pauses"] = _national_stops(city, national)
    # The apology letter travels with the due date it moved.
    due_side = side("due_at")
    apology = due_side.apology_at or (other if due_side is base else base).apology_at
    if apology != base.apology_at:
        changes["apology_at"] = apology
    return replace(base, **changes) if changes else base


def _national_stops(city: Dossier, national: Dossier | None) -> tuple[Pause, ...]:
    """The clock stops of the corrected record when the national portal is the authority for
    them: its own, and the city's fee and stop intervals it lacks, since the national portal
    does not date those (connectors.national.wire)."""
    mine = national.pauses if national is not None else ()
    missing = [p for p in city.pauses if p.kind is not StopKind.SUPPLEMENT and p not in mine]
    if not missing:
        return mine
    return tuple(sorted((*mine, *missing), key=lambda p: to_micros(local(p.requested_at))))


def _parse_override(name: str, text: str) -> Any:
    try:
        if name == "status":
            return Status(int(text))
        if name == "channel":
            return Channel(int(text))
        if name in _DATE_FIELDS:
            if text == "" and name != "received_at":
                return None
            when = datetime.fromisoformat(text)
            if when.tzinfo is None:
                raise ValueError("an ISO datetime with its UTC offset is needed")
            return local(when)
        if name == "digitised":
            flag = {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower())
            if flag is None:
                raise ValueError("true or false is needed")
            return flag
        if name in ("procedure_code", "field_code"):
            return text
    except ValueError as error:
        raise ValueError(f"override of {name}: cannot use {text!r}: {error}") from None
    raise ValueError(f"{name!r} cannot be overridden; fields are {OVERRIDABLE_FIELDS}")


def _apply_overrides(d: Dossier, overrides: Mapping[str, str]) -> Dossier:
    changes = {name: _parse_override(name, text) for name, text in sorted(overrides.items())}
    return replace(d, **changes) if changes else d


def _other_codes(records: Iterable[Dossier], *exclude: str) -> tuple[str, ...]:
    codes: set[str] = set()
    for d in records:
        codes.add(d.code)
        codes.update(d.alt_codes)
    return tuple(sorted(codes - {"", *exclude}))


# --------------------------------------------------------------------------------------------
# Deciding


def _day(when: datetime | None) -> str | None:
    return None if when is None else local_date(when).isoformat()


def _status(d: Dossier | None) -> str | None:
    return None if d is None else str(int(d.status))


def _compare_pair(
    key: str, city: Dossier, national: Dossier, migrated: bool, policy: Policy
) -> list[Mismatch]:
    out: list[Mismatch] = []

    def add(kind: MismatchKind, c: str | None, n: str | None, detail: str = "") -> None:
        out.append(Mismatch(key, kind, SEVERITY[kind], c, n, detail))

    if city.status != national.status:
        if national.status in _COLLAPSED_AS and city.status in _COLLAPSED_OPEN:
            add(MismatchKind.COLLAPSED_STATUS, _status(city), _status(national))
        else:
            direction = status_direction(
                city.status,
                national.status,
                city_updated=city.updated_at,
                national_updated=national.updated_at,
            )
            behind = direction is Direction.BEHIND
            out.append(
                Mismatch(
                    key,
                    MismatchKind.STATUS,
                    Severity.MEDIUM if behind else Severity.HIGH,
                    _status(city),
                    _status(national),
                    direction.value,
                    auto_resolvable=(
                        behind and not migrated and policy.source_of("status") is Source.CITY
                    ),
                )
            )
    elif not migrated:
        dates = (
            (MismatchKind.RECEIVED_DATE, city.received_at, national.received_at),
            (MismatchKind.DUE_DATE, city.due_at, national.due_at),
            (
                MismatchKind.FINISHED_DATE,
                city.finished_at or city.returned_at,
                national.finished_at or national.returned_at,
            ),
        )
        for kind, c, n in dates:
            if _day(c) != _day(n):
                add(kind, _day(c), _day(n))
    if city.channel != national.channel:
        add(MismatchKind.CHANNEL, str(int(city.channel)), str(int(national.channel)))
    if city.procedure_code != national.procedure_code:
        add(MismatchKind.PROCEDURE, city.procedure_code, national.procedure_code)
    if city.field_code != national.field_code:
        add(MismatchKind.FIELD, city.field_code, national.field_code)
    return out


def _check_due(
    key: str,
    city: Dossier | None,
    national: Dossier | None,
    procedure: Procedure,
    policy: Policy,
    found: list[Mismatch],
) -> None:
    """Hold each side's due date to the one the law gives (see `due_date` above)."""
    assert policy.calendar is not None
    if city is None:
        return  # only the city records apology letters: a national-only date may be moved
    sides = [d for d in (city, national) if d is not None]
    if len({d.status for d in sides}) > 1 or not sides[0].status.counted:
        return  # statuses first: dates are compared once they agree
    base = city if city is not None else national
    assert base is not None
    due = computed_due(base, procedure, policy.calendar, policy.pause_policy, policy.paper_cutoff)
    if due is None:
        return
    computed = local_date(due).isoformat()
    moved = any(d.apology_at is not None for d in sides)  # an apology letter moved the date
    off = [
        d.source.value
        for d in sides
        if not moved and _day(d.due_at) is not None and _day(d.due_at) != computed
    ]
    existing = next((m for m in found if m.kind is MismatchKind.DUE_DATE), None)
    if existing is None and not off:
        return
    detail = f"computed={computed}" + (f"; differs: {', '.join(off)}" if off else "")
    if existing is not None:
        found.remove(existing)
    found.append(
        Mismatch(
            key,
            MismatchKind.DUE_DATE,
            SEVERITY[MismatchKind.DUE_DATE],
            _day(city.due_at) if city is not None else None,
            _day(national.due_at) if national is not None else None,
            detail,
        )
    )


def _joined(records: Sequence[Dossier]) -> str | None:
    return ", ".join(d.code for d in records) if records else None


_KIND_ORDER = {kind: i for i, kind in enumerate(MismatchKind)}


# Both portals' views complete: absence on either side may be judged.
BOTH_SIDES: frozenset[Source] = frozenset(Source)


def decide(
    city: Sequence[Dossier],
    national: Sequence[Dossier],
    policy: Policy,
    procedures: Collection[str] | Mapping[str, Procedure] | None = None,
    overrides: Mapping[str, str] | None = None,
    complete: Collection[Source] = BOTH_SIDES,
    receipt_counts: Mapping[int, int] | None = None,
) -> Decision:
    """The decision about the main dossier of these records (see the module docstring).

    `city` and `national`: every record each portal holds that may be this dossier;
    `procedures`: the catalogue, its codes or its procedures by code (a procedure not in it is
    flagged, never dropped; empty or None: no check; with procedures and a calendar in the
    policy, due dates are checked against the law); `overrides`: operators' corrections,
    applied to the corrected record last, and their verdict on migration (`MIGRATED_OVERRIDE`);
    `complete`: the portals whose view is complete (see `decide_all`); `receipt_counts`: how many
    city records the store holds per receipt second (`receipt_second`), for the burst signal.
    """
    cs, ns = _canonical(city), _canonical(national)
    if not cs and not ns:
        raise ValueError("decide() needs at least one record")
    group = _group(cs, ns)
    return _decide(group, policy, procedures, overrides or {}, frozenset(complete), receipt_counts)


def decide_all(
    city: Sequence[Dossier],
    national: Sequence[Dossier],
    policy: Policy,
    procedures: Collection[str] | Mapping[str, Procedure] | None = None,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    complete: Collection[Source] = BOTH_SIDES,
    receipt_counts: Mapping[int, int] | None = None,
) -> tuple[Decision, ...]:
    """Decisions about every dossier these records hold, each record in exactly one.

    The records are split into dossiers by taking the main dossier (`_group`) of what is left,
    again and again, over the records in their canonical order: the split, the keys and every
    decision are a function of the set of records alone, never of the order they came in or of
    which code was queued first. Records with no link between them do not influence each
    other's decisions, so deciding a union of link components is deciding each on its own; the
    I/O layer must hand in whole components (every record linked by code, alternate code or
    fingerprint, transitively) for the result to be the same whichever member brought them.

    `overrides`: operators' corrections by dossier key; `receipt_counts` as for `decide` (the
    counts of the component's receipt instants at least). `complete`: the portals whose view is
    complete, i.e. whose last read reached the end of their change feed. A dossier missing on a
    portal whose view is not complete is not judged missing there (the record may lie beyond
    where the read stopped): its decision names that portal in `waiting` instead, and it pushes
    nothing while the national view is incomplete.
    """
    cs, ns = _canonical(city), _canonical(national)
    views = frozenset(complete)
    out: list[Decision] = []
    while cs or ns:
        group = _group(cs, ns)
        main = group.city if group.city is not None else group.national
        assert main is not None
        mine = (overrides or {}).get(main.code, {})
        out.append(_decide(group, policy, procedures, mine, views, receipt_counts))
        taken = {id(d) for d in group.records()}
        cs = [d for d in cs if id(d) not in taken]
        ns = [d for d in ns if id(d) not in taken]
    return tuple(out)


def _decide(
    group: _Group,
    policy: Policy,
    procedures: Collection[str] | Mapping[str, Procedure] | None,
    overrides: Mapping[str, str],
    complete: frozenset[Source],
    receipt_counts: Mapping[int, int] | None = None,
) -> Decision:
    c, n = group.city, group.national
    key = c.code if c is not None else n.code if n is not None else ""
    overrides = dict(overrides or {})
    verdict = overrides.pop(MIGRATED_OVERRIDE, None)
    signals = migration_signals(c, policy, n, receipt_counts) if c is not None else []
    migrated = migration_verdict(signals, verdict)
    mismatches: list[Mismatch] = []
    waiting: tuple[Source, ...] = ()
    if migrated:
        evidence = [*(["operator"] if verdict is not None else []), *(s.text for s in signals)]
        city_value, national_value = migrated_values(c, n)
        mismatches.append(
            Mismatch(
                key,
                MismatchKind.MIGRATED,
                SEVERITY[MismatchKind.MIGRATED],
                city_value,
                national_value,
                "; ".join(evidence),
            )
        )
    if c is not None and n is not None:
        mismatches += _compare_pair(key, c, n, migrated, policy)
    elif c is not None:
        if c.status.counted and not migrated and Source.NATIONAL not in complete:
            waiting = (Source.NATIONAL,)
        elif c.status.counted and not migrated:
            mismatches.append(
                Mismatch(
                    key,
                    MismatchKind.MISSING_NATIONAL,
                    SEVERITY[MismatchKind.MISSING_NATIONAL],
                    _status(c),
                    None,
                    auto_resolvable=True,
                )
            )
    elif n is not None and Source.CITY not in complete:
        waiting = (Source.CITY,)
    elif n is not None:
        mismatches.append(
            Mismatch(
                key,
                MismatchKind.MISSING_CITY,
                SEVERITY[MismatchKind.MISSING_CITY],
                None,
                _status(n),
            )
        )
    if not migrated and policy.calendar is not None and isinstance(procedures, Mapping):
        main = c if c is not None else n
        assert main is not None
        procedure = procedures.get(main.procedure_code)
        if procedure is not None:
            _check_due(key, c, n, procedure, policy, mismatches)
    extras = (*group.extra_city, *group.extra_national)
    if extras:
        mismatches.append(
            Mismatch(
                key,
                MismatchKind.DUPLICATE,
                SEVERITY[MismatchKind.DUPLICATE],
                _joined(group.extra_city),
                _joined(group.extra_national),
                "duplicates of " + key + ": " + ", ".join(d.code for d in extras),
            )
        )

    corrected = _apply_overrides(_merge(c, n, policy), overrides)
    alt_codes = _other_codes(group.records(), key)
    if corrected.code != key or corrected.alt_codes != alt_codes:
        corrected = replace(corrected, code=key, alt_codes=alt_codes)
    base = c if corrected.source is Source.CITY else n
    if base is not None and corrected == base:
        corrected = base  # unchanged: hand back the very record
    if procedures and corrected.procedure_code not in procedures:
        mismatches.append(
            Mismatch(
                key,
                MismatchKind.UNKNOWN_PROCEDURE,
                SEVERITY[MismatchKind.UNKNOWN_PROCEDURE],
                c.procedure_code if c is not None else None,
                n.procedure_code if n is not None else None,
            )
        )
    mismatches.sort(key=lambda m: _KIND_ORDER[m.kind])

    push: Dossier | None = None
    if Source.NATIONAL in complete and any(m.auto_resolvable for m in mismatches):
        code = n.code if n is not None else key
        push = replace(
            corrected,
            source=Source.NATIONAL,
            code=code,
            alt_codes=_other_codes(group.records(), code),
            native_status="",
        )
    matches: tuple[Match, ...] = ()
    if c is not None and n is not None and group.method is not None:
        matches = (Match(c.code, n.code, group.method),)
    return Decision(
        key=key,
        matches=matches,
        corrected=corrected,
        mismatches=tuple(mismatches),
        excluded=EXCLUDED_MIGRATED if migrated else None,
        unrelated=group.unrelated,
        push=push,
        records=tuple(group.records()),
        waiting=waiting,
    )
