"""Reporting periods (DOMAIN.md §7).

Period "2024-07" with cut-off day 20 runs from 2024-06-20 to 2024-07-19, both inclusive, in
Asia/Ho_Chi_Minh. With cut-off day 1 a period is the calendar month.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from reconcile.model import Dossier, local_date

_LABEL = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass(frozen=True, slots=True)
class Period:
    label: str
    start: date
    end: date

    @classmethod
    def parse(cls, label: str, cutoff_day: int = 20) -> Period:
        """Raises ValueError for a label that is not YYYY-MM or a cut-off day outside 1-28."""
        match = _LABEL.fullmatch(label)
        if not match:
            raise ValueError(f"period {label!r} is not of the form YYYY-MM")
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"period {label!r}: month must be 01-12")
        if not 1 <= cutoff_day <= 28:
            raise ValueError(f"cut-off day {cutoff_day} must be 1-28")
        if cutoff_day == 1:
            start = date(year, month, 1)
            following = date(year + month // 12, month % 12 + 1, 1)
            return cls(label, start, following - timedelta(days=1))
        prev_year, prev_month = (year - 1, 12) if month == 1 else (year, month - 1)
        start = date(prev_year, prev_month, cutoff_day)
        return cls(label, start, date(year, month, cutoff_day - 1))

    @classmethod
    def containing(cls, day: date, cutoff_day: int = 20) -> Period:
        """The period `day` falls in: with cut-off 20, 20/6 to 19/7 is period YYYY-07."""
        year, month = day.year, day.month
        if cutoff_day > 1 and day.day >= cutoff_day:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return cls.parse(f"{year:04d}-{month:02d}", cutoff_day)

    def __contains__(self, day: object) -> bool:
        # A datetime is a date subclass, but comparing one with a date raises: refuse it.
        if not isinstance(day, date) or isinstance(day, datetime):
            return False
        return self.start <= day <= self.end

    def months(self) -> list[str]:
        """The calendar months ("YYYY-MM") the period touches."""
        return month_range(self.start, self.end)


def month_range(first: date, last: date) -> list[str]:
    months: list[str] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def span(records: Iterable[Dossier]) -> tuple[list[str], bool]:
    """Where a dossier belongs in the period index: the calendar months from its earliest date
    (receipt or finish) to its latest finish, and whether any of its records is still open (in a
    counted status: a refused or merely registered dossier counts in no period, so the open set,
    which every report reads, does not keep it).

    A dossier counts in a period only if it was received in it or open at its start (DOMAIN.md
    §7), so every period it counts in touches one of these months, or it is open: reading the
    months of a period plus the open dossiers finds every dossier the period counts.
    """
    days: list[date] = []
    still_open = False
    for d in records:
        days.append(local_date(d.received_at))
        finished = d.finish_date()
        if finished is None:
            still_open |= d.status.counted  # a refused or never accepted one is never counted
        else:
            days.append(finished)
    if not days:
        return [], False
    return month_range(min(days), max(days)), still_open
