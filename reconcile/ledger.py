"""The monthly report with its ledger: every figure traced to dossiers, every correction explained.

Input: one `Entry` per reconciled dossier that may touch the period: its corrected record, why it
is excluded (if it is), the mismatch kinds detected on it, and the raw records each portal holds
for it (the main one of each side first, as matched). Output (`PeriodReport`):

- the corrected form (06/VPCP/KSTT) and the raw form each portal's records alone give;
- a ledger: for every cell (field, column) of each form, the dossiers behind it;
- the differences: every raw record placed in other cells than its corrected dossier, and every
  corrected dossier a side has no record of, each with its reasons. They account exactly for
  the gap between raw and corrected figures: for every side, field and column,
  raw + Σ(corrected cells - raw cells) = corrected;
- the indicators of Decision 766 (DOMAIN.md §9) for each form.

A raw record is compared with the corrected dossier when it is its side's main record, and with
nothing (it should not be counted at all) when it is another record of the same dossier on that
side: a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reconcile.counts import COLUMNS, FormCounts, FormTally, cells_of
from reconcile.deadlines import PausePolicy
from reconcile.model import Dossier, Source
from reconcile.period import Period

CORRECTED = "corrected"
FORMS: tuple[str, ...] = (CORRECTED, Source.CITY.value, Source.NATIONAL.value)
EXCLUDED = "excluded"
DUPLICATE = "duplicate"
OVERRIDE = "override"
# Records placed differently because they hold other stops of the clock than the corrected
# record (the national portal does not date fee requests and stops); detail: the kinds of stop
# the record lacks or has more of.
CLOCK_STOPS = "clock_stops"
# Records placed differently for a reason no mismatch kind names.
UNEXPLAINED = "unexplained"

# (field code, column) -> the dossier keys (corrected) or record codes (raw) counted there.
Cells = dict[tuple[str, int], list[str]]


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    corrected: Dossier
    excluded: str | None = None
    # Mismatch kind -> its detail ("" when none), as detected now.
    kinds: Mapping[str, str] = field(default_factory=dict)
    city: tuple[Dossier, ...] = ()
    national: tuple[Dossier, ...] = ()
    # The code of each side's main record, when the side has one (as matched).
    main: Mapping[Source, str] = field(default_factory=dict)
    overridden: tuple[str, ...] = ()

    def records(self, source: Source) -> tuple[Dossier, ...]:
        return self.city if source is Source.CITY else self.national

    def reasons(self) -> tuple[Reason, ...]:
        found: list[Reason] = []
        if self.excluded:
            found.append(Reason(EXCLUDED, self.excluded))
        found += [Reason(kind, detail) for kind, detail in sorted(self.kinds.items())]
        if self.overridden:
            found.append(Reason(OVERRIDE, ",".join(self.overridden)))
        return tuple(found)


@dataclass(frozen=True, slots=True, order=True)
class Reason:
    kind: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Difference:
    source: Source
    key: str
    codes: tuple[str, ...]
    field_code: str  # the raw record's field (the corrected one's when the side has none)
    raw_cells: tuple[int, ...]
    corrected_cells: tuple[int, ...]
    reasons: tuple[Reason, ...]
    corrected_field_code: str = ""


@dataclass(frozen=True, slots=True)
class Indicators:
    """Shares in [0, 1]; None when nothing is in the denominator."""

    online_share: float | None
    digitisation_rate: float | None
    on_time_rate: float | None
    sync_rate: float | None


@dataclass(frozen=True)
class PeriodReport:
    period: Period
    policy: PausePolicy
    forms: Mapping[str, FormCounts]  # FORMS -> counts
    ledger: Mapping[str, Cells]
    differences: tuple[Difference, ...]
    indicators: Mapping[str, Indicators]
    entries: int

    @property
    def corrected(self) -> FormCounts:
        return self.forms[CORRECTED]

    def behind(self, form: str, field_code: str | None, column: int) -> list[str]:
        """The dossiers behind a cell (`field_code` None: the total row)."""
        cells = self.ledger[form]
        if field_code is not None:
            return sorted(cells.get((field_code, column), ()))
        return sorted(code for (_, col), codes in cells.items() if col == column for code in codes)


class _Side:
    """One form being tallied, with the ledger and the indicators' numerators."""

    def __init__(self, period: Period, order: Sequence[str], policy: PausePolicy) -> None:
        self.tally = FormTally(period, order, policy)
        self.cells: Cells = {}
        self.digitised = 0
        self.received = 0
        self.synced = 0

    def add(self, d: Dossier, name: str, cells: frozenset[int], synced: bool) -> None:
        if not cells:
            return
        self.tally.add_cells(d.field_code, cells)
        for column in cells:
            self.cells.setdefault((d.field_code, column), []).append(name)
        self.digitised += d.digitised
        if 4 in cells or 5 in cells:
            self.received += 1
            self.synced += synced

    def indicators(self, with_sync: bool) -> Indicators:
        total = self.tally.result().total

        def share(part: int, whole: int) -> float | None:
            return part / whole if whole else None

        return Indicators(
            online_share=share(total[4], total[4] + total[5]),
            digitisation_rate=share(self.digitised, total[3]),
            on_time_rate=share(total[8] + total[9] + total[12], total[3]),
            sync_rate=share(self.synced, self.received) if with_sync else None,
        )


class Ledger:
    """A period's report built one entry at a time, so a caller can stream entries in batches
    and keep only the tallies, the ledger and the differences (not the records)."""

    def __init__(
        self,
        period: Period,
        field_order: Sequence[str] = (),
        policy: PausePolicy = PausePolicy.RESTART,
    ) -> None:
        self.period, self.policy = period, policy
        self.sides = {name: _Side(period, field_order, policy) for name in FORMS}
        self.differences: list[Difference] = []
        self.seen: dict[Source, set[str]] = {Source.CITY: set(), Source.NATIONAL: set()}
        self.count = 0

    def add(self, entry: Entry) -> None:
        self.count += 1
        if entry.excluded:
            corrected: frozenset[int] = frozenset()
        else:
            corrected = cells_of(entry.corrected, self.period, self.policy)
        on_national = bool(entry.national)
        self.sides[CORRECTED].add(entry.corrected, entry.key, corrected, on_national)
        for source in (Source.CITY, Source.NATIONAL):
            self._add_side(entry, source, corrected, on_national)

    def _add_side(
        self, entry: Entry, source: Source, corrected: frozenset[int], on_national: bool
    ) -> None:
        """Count `source`'s records of the entry and note each that differs from it."""
        seen = self.seen[source]
        unseen = {r.code: r for r in entry.records(source) if r.code not in seen}
        seen.update(unseen)
        records = list(unseen.values())
        main_code = entry.main.get(source)
        main = next((r for r in records if r.code == main_code), None)
        if main is None and main_code is None and records:
            main = records[0]
        for record in records:
            raw = cells_of(record, self.period, self.policy)
            self.sides[source.value].add(record, record.code, raw, on_national)
            want = corrected if record is main else frozenset()
            same_field = record.field_code == entry.corrected.field_code
            if raw != want or (raw and not same_field):
                reasons = entry.reasons()
                if record is not main and DUPLICATE not in entry.kinds:
                    reasons = (Reason(DUPLICATE, f"{record.code} of {entry.key}"), *reasons)
                self.differences.append(
                    Difference(
                        source,
                        entry.key,
                        (record.code,),
                        record.field_code,
                        tuple(sorted(raw)),
                        tuple(sorted(want)),
                        reasons or (_unnamed(record, entry.corrected),),
                        entry.corrected.field_code,
                    )
                )
        if main is None and corrected:
            missing = f"missing_{source.value}"
            reasons = entry.reasons()
            if not any(r.kind == missing for r in reasons):
                reasons = (Reason(missing), *reasons)
            self.differences.append(
                Difference(
                    source,
                    entry.key,
                    (),
                    entry.corrected.field_code,
                    (),
                    tuple(sorted(corrected)),
                    reasons,
                    entry.corrected.field_code,
                )
            )

    def result(self) -> PeriodReport:
        sides = self.sides
        return PeriodReport(
            period=self.period,
            policy=self.policy,
            forms={name: side.tally.result() for name, side in sides.items()},
            ledger={name: side.cells for name, side in sides.items()},
            differences=tuple(self.differences),
            indicators={
                name: side.indicators(with_sync=name != Source.NATIONAL.value)
                for name, side in sides.items()
            },
            entries=self.count,
        )


def _unnamed(record: Dossier, corrected: Dossier) -> Reason:
    """Why a record no mismatch explains is placed differently: its stops of the clock, when
    they differ from the corrected record's, else nothing syncd compares."""
    if set(record.pauses) == set(corrected.pauses):
        return Reason(UNEXPLAINED)
    differ = {p.kind.value for p in set(record.pauses) ^ set(corrected.pauses)}
    return Reason(CLOCK_STOPS, ",".join(sorted(differ)))


def build(
    entries: Iterable[Entry],
    period: Period,
    field_order: Sequence[str] = (),
    policy: PausePolicy = PausePolicy.RESTART,
) -> PeriodReport:
    ledger = Ledger(period, field_order, policy)
    for entry in entries:
        ledger.add(entry)
    return ledger.result()


@dataclass(frozen=True, slots=True)
class CellChange:
    """How one cell of the corrected form moved since a published version."""

    field_code: str
    column: int
    published: int
    now: int
    added: tuple[str, ...]
    removed: tuple[str, ...]


def restatement(published: Mapping[tuple[str, int], Sequence[str]], now: Cells) -> list[CellChange]:
    """The cells whose dossiers changed between a published ledger and the current one."""
    changes: list[CellChange] = []
    for cell in sorted(set(published) | set(now)):
        before, after = set(published.get(cell, ())), set(now.get(cell, ()))
        if before != after:
            changes.append(
                CellChange(
                    cell[0],
                    cell[1],
                    len(before),
                    len(after),
                    tuple(sorted(after - before)),
                    tuple(sorted(before - after)),
                )
            )
    return changes


def check_identities(counts: FormCounts) -> list[str]:
    """The rows breaking the form's identities (3 = 4+5+6 = 7+11, 7 = 8+9+10, 11 = 12+13)."""
    broken: list[str] = []
    for row in (*counts.rows, counts.total):
        if not (
            row[3] == row[4] + row[5] + row[6] == row[7] + row[11]
            and row[7] == row[8] + row[9] + row[10]
            and row[11] == row[12] + row[13]
        ):
            broken.append(row.field_code or "total")
    return broken


__all__ = [
    "CLOCK_STOPS",
    "COLUMNS",
    "CORRECTED",
    "FORMS",
    "CellChange",
    "Difference",
    "Entry",
    "Indicators",
    "Ledger",
    "PeriodReport",
    "Reason",
    "build",
    "check_identities",
    "restatement",
]
