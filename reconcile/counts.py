"""Counts for form 06/VPCP/KSTT (Circular 01/2020/TT-VPCP), DOMAIN.md §7.

`cells_of` places one dossier in the form's columns for a period; `counts` sums those places
per field. Keeping the per-dossier placement separate is what makes every figure explainable:
the dossiers behind a cell are exactly those whose `cells_of` contains it.

Columns (numbers as printed on the form):
 3 received, total = 4 + 5 + 6      7 resolved, total = 8 + 9 + 10     11 pending, total = 12 + 13
 4 received online (channel 2)      8 resolved before the due date     12 pending, not yet due
 5 received direct or by post       9 resolved on the due date         13 pending, overdue
 6 carried over, open at the start 10 resolved after the due date

A dossier in scope (received in the period, or received before it and open at its start) is
either resolved by the period's end (7) or pending at it (11), so col 3 = col 7 + col 11 holds by
construction, even for inconsistent data such as a finish date before the receipt date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconcile.deadlines import PausePolicy
from reconcile.model import Channel, Dossier, Status, local_date
from reconcile.period import Period

COLUMNS: tuple[int, ...] = tuple(range(3, 14))


def cells_of(
    d: Dossier, period: Period, policy: PausePolicy = PausePolicy.RESTART
) -> frozenset[int]:
    """The form columns (3-13) in which dossier `d` is counted for `period`.

    Only what happened up to the period's end E counts (DOMAIN.md §7): a dossier finished after
    E is pending at E; its clock was stopped at E if a stop (supplement, fees, stopped) was in
    force then, whenever it ended; its due date is the one on record at E
    (`Dossier.due_at_end_of`: a supplement requested after E does not move it).

    Under the `subtract` pause policy (Decision 766's methodology) a dossier with a second
    supplement request (fee requests and stops are not supplement requests) made by E counts
    as late whatever its due date: resolved late (10), or pending overdue (13)."""
    if not d.status.counted:
        return frozenset()
    received = local_date(d.received_at)
    finished = d.finish_date()
    start, end = period.start, period.end
    cells: set[int] = set()
    if start <= received <= end:
        cells.add(4 if d.channel is Channel.ONLINE else 5)
    elif received < start and (finished is None or finished >= start):
        cells.add(6)
    else:
        return frozenset()
    cells.add(3)
    due_at = d.due_at_end_of(end)
    due = local_date(due_at) if due_at else None
    late_by_policy = (
        policy is PausePolicy.SUBTRACT
        and sum(local_date(p.requested_at) <= end for p in d.supplements) >= 2
    )
    if finished is not None and finished <= end:
        cells.add(7)
        if d.status is Status.WITHDRAWN:
            cells.add(9)
        elif late_by_policy:
            cells.add(10)
        elif due is None or finished == due:
            cells.add(9)
        else:
            cells.add(8 if finished < due else 10)
    else:
        cells.add(11)
        if d.clock_stopped_at_end_of(end):
            cells.add(12)
        elif late_by_policy or (due is not None and due < end):
            cells.add(13)
        else:
            cells.add(12)
    return frozenset(cells)


@dataclass(frozen=True, slots=True)
class Row:
    field_code: str
    cells: tuple[int, ...]  # values of columns 3..13, in order

    def __getitem__(self, column: int) -> int:
        if column not in COLUMNS:
            raise IndexError(f"form column {column} is not a count (columns are 3-13)")
        return self.cells[column - 3]


@dataclass(frozen=True, slots=True)
class FormCounts:
    period: Period
    rows: tuple[Row, ...]
    total: Row


class FormTally:
    """Counts built one dossier at a time, so memory does not grow with the data."""

    def __init__(
        self,
        period: Period,
        field_order: Sequence[str] = (),
        policy: PausePolicy = PausePolicy.RESTART,
    ) -> None:
        self.period = period
        self.policy = policy
        self.field_order = tuple(dict.fromkeys(field_order))
        self._tallies: dict[str, list[int]] = {code: [0] * len(COLUMNS) for code in field_order}

    def add(self, d: Dossier) -> frozenset[int]:
        cells = cells_of(d, self.period, self.policy)
        self.add_cells(d.field_code, cells)
        return cells

    def add_cells(self, field_code: str, cells: frozenset[int]) -> None:
        """Count one dossier already placed (by `cells_of`)."""
        if cells:
            tally = self._tallies.setdefault(field_code, [0] * len(COLUMNS))
            for column in cells:
                tally[column - 3] += 1

    def result(self) -> FormCounts:
        """One row per field (those in `field_order` first, always shown; others sorted after)."""
        extra = sorted(set(self._tallies) - set(self.field_order))
        rows = tuple(Row(code, tuple(self._tallies[code])) for code in (*self.field_order, *extra))
        total = tuple(sum(row.cells[i] for row in rows) for i in range(len(COLUMNS)))
        return FormCounts(self.period, rows, Row("", total))


def counts(
    dossiers: Iterable[Dossier],
    period: Period,
    field_order: Sequence[str] = (),
    policy: PausePolicy = PausePolicy.RESTART,
) -> FormCounts:
    tally = FormTally(period, field_order, policy)
    for d in dossiers:
        tally.add(d)
    return tally.result()
