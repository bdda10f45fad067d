"""Reporting periods (DOMAIN.md §7).

Period "2024-07" with cut-off day 20 runs from 2024-06-20 to 2024-07-19, both inclusive, in
Asia/Ho_Chi_Minh. With cut-off day 1 a period is the calendar month.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

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

    def __contains__(self, day: object) -> bool:
        # A datetime is a date subclass, but comparing one with a date raises: refuse it.
        if not isinstance(day, date) or isinstance(day, datetime):
            return False
        return self.start <= day <= self.end
