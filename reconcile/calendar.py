"""Working days in Vietnam: weekends and public holidays off, declared make-up Saturdays worked.

Public holidays (Labour Code 2019, Art. 112, with the yearly Tết and National Day decisions and
swaps) come from the `holidays` package (country VN), which also knows the Saturdays the
government declared working days (`weekend_workdays`, e.g. Sat 4/5/2024 in exchange for Mon
29/4/2024). A year's decision can come late or differ: `extra_days_off` and `extra_working_days`
(from configuration) override the package. Pure: the package computes dates, it reads nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta


@dataclass(frozen=True)
class WorkingCalendar:
    extra_days_off: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    _years: dict[int, tuple[frozenset[date], frozenset[date]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def with_overrides(
        cls, days_off: Iterable[date] = (), working: Iterable[date] = ()
    ) -> WorkingCalendar:
        off, on = frozenset(days_off), frozenset(working)
        clash = off & on
        if clash:
            raise ValueError(f"days both off and working: {sorted(clash)}")
        return cls(off, on)

    def _year(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        if year not in self._years:
            import holidays  # here, not at the top: the command line starts without it

            public = holidays.country_holidays("VN", years=year)
            make_up = frozenset(d for d in public.weekend_workdays if d.year == year)
            self._years[year] = (frozenset(public), make_up)
        return self._years[year]

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        if day in self.extra_days_off:
            return False
        public, make_up = self._year(day.year)
        if day in make_up:
            return True
        return day.weekday() < 5 and day not in public

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (`start` itself not counted)."""
        if days < 0:
            raise ValueError("days must be >= 0")
        day = start
        while days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                days -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`."""
        return sum(
            self.is_working_day(start + timedelta(days=i)) for i in range(1, (end - start).days + 1)
        )
