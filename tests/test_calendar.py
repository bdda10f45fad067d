"""The working-day calendar against the official 2024 dates, and overrides."""

from __future__ import annotations

from datetime import date

import pytest

from reconcile.calendar import WorkingCalendar

CAL = WorkingCalendar()


@pytest.mark.parametrize(
    "day",
    [
        date(2024, 1, 1),  # New Year
        *[date(2024, 2, d) for d in range(8, 15)],  # Tết 8-14/2 (weekdays among them)
        date(2024, 4, 18),  # Hung Kings
        date(2024, 4, 29),  # off in exchange for Saturday 4/5
        date(2024, 4, 30),
        date(2024, 5, 1),
        date(2024, 9, 2),
        date(2024, 9, 3),
    ],
)
def test_2024_public_holidays_are_days_off(day: date) -> None:
    assert not CAL.is_working_day(day)


def test_the_2024_make_up_saturday_is_worked_and_ordinary_weekends_are_not() -> None:
    assert CAL.is_working_day(date(2024, 5, 4))
    assert not CAL.is_working_day(date(2024, 5, 11))
    assert not CAL.is_working_day(date(2024, 5, 12))
    assert CAL.is_working_day(date(2024, 5, 2))


def test_adding_working_days_steps_over_the_april_may_holidays() -> None:
    # Fri 26/4 + 1 working day: Mon 29/4, Tue 30/4 and Wed 1/5 are off -> Thu 2/5.
    assert CAL.add_working_days(date(2024, 4, 26), 1) == date(2024, 5, 2)
    # Thu 2/5, Fri 3/5, Sat 4/5 (worked), Mon 6/5.
    assert CAL.add_working_days(date(2024, 4, 26), 4) == date(2024, 5, 6)
    assert CAL.add_working_days(date(2024, 7, 1), 0) == date(2024, 7, 1)
    # Tết 8-14/2: of the days after Wed 7/2 up to Fri 16/2 only Thu 15 and Fri 16 are worked.
    assert CAL.working_days_between(date(2024, 2, 7), date(2024, 2, 16)) == 2


def test_overrides_from_configuration_win() -> None:
    cal = WorkingCalendar.with_overrides(days_off=[date(2024, 7, 3)], working=[date(2024, 7, 6)])
    assert not cal.is_working_day(date(2024, 7, 3))
    assert cal.is_working_day(date(2024, 7, 6))
    assert cal.add_working_days(date(2024, 7, 2), 1) == date(2024, 7, 4)


def test_a_day_both_off_and_working_is_refused() -> None:
    with pytest.raises(ValueError, match="both off and working"):
        WorkingCalendar.with_overrides(days_off=[date(2024, 7, 3)], working=[date(2024, 7, 3)])
    with pytest.raises(ValueError, match="days must be >= 0"):
        CAL.add_working_days(date(2024, 7, 1), -1)
