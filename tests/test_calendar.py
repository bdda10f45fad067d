"""The working-day calendar against the official 2024 dates, and overrides."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- the working days around the 2024 holidays ----------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        date(2024, 2, 7),  # Wed before Tết
        date(2024, 2, 15),  # Thu after Tết
        date(2024, 4, 19),  # Fri after Hung Kings
        date(2024, 4, 26),  # Fri before the 29/4-1/5 break
        date(2024, 8, 30),  # Fri before National Day
        date(2024, 9, 4),  # Wed after National Day
    ],
)
def test_the_days_next_to_the_2024_holidays_are_worked(day: date) -> None:
    assert CAL.is_working_day(day)


def test_the_2024_national_day_break_runs_from_saturday_31_8_to_tuesday_3_9() -> None:
    # Sat 31/8 and Sun 1/9 are the weekend, Mon 2/9 and Tue 3/9 the holiday: Fri 30/8 + 1
    # working day is Wed 4/9.
    assert [CAL.is_working_day(date(2024, 8, 31) + timedelta(days=i)) for i in range(5)] == [
        False,
        False,
        False,
        False,
        True,
    ]
    assert CAL.add_working_days(date(2024, 8, 30), 1) == date(2024, 9, 4)


def test_tet_2024_is_a_whole_week_off() -> None:
    # Wed 7/2 + 1 working day: Thu 8/2 to Wed 14/2 are off (Sat 10, Sun 11 among them).
    assert CAL.add_working_days(date(2024, 2, 7), 1) == date(2024, 2, 15)
    assert CAL.working_days_between(date(2024, 2, 7), date(2024, 2, 14)) == 0


# --- overrides from configuration -----------------------------------------------------------


def test_an_override_can_make_a_public_holiday_a_working_day() -> None:
    cal = WorkingCalendar.with_overrides(working=[date(2024, 4, 30)])
    assert cal.is_working_day(date(2024, 4, 30))
    assert not cal.is_working_day(date(2024, 5, 1))  # the rest of the package's dates stand
    # Fri 26/4 + 1: Mon 29/4 still off, Tue 30/4 now worked.
    assert cal.add_working_days(date(2024, 4, 26), 1) == date(2024, 4, 30)


def test_an_override_can_cancel_a_make_up_saturday() -> None:
    cal = WorkingCalendar.with_overrides(days_off=[date(2024, 5, 4)])
    assert not cal.is_working_day(date(2024, 5, 4))
    # Thu 2/5, Fri 3/5, then (Sat 4/5 now off) Mon 6/5.
    assert cal.add_working_days(date(2024, 5, 1), 3) == date(2024, 5, 6)
    assert cal.working_days_between(date(2024, 5, 1), date(2024, 5, 6)) == 3
    assert CAL.working_days_between(date(2024, 5, 1), date(2024, 5, 6)) == 4


def test_overrides_for_a_swap_the_package_does_not_know() -> None:
    # A made-up swap: Fri 12/7/2024 off in exchange for Sat 20/7/2024 worked.
    cal = WorkingCalendar.with_overrides(days_off=[date(2024, 7, 12)], working=[date(2024, 7, 20)])
    assert CAL.is_working_day(date(2024, 7, 12))
    assert not CAL.is_working_day(date(2024, 7, 20))
    # Thu 11/7 + 1 -> Mon 15/7 (Fri 12 off, weekend); Fri 19/7 + 1 -> Sat 20/7.
    assert cal.add_working_days(date(2024, 7, 11), 1) == date(2024, 7, 15)
    assert cal.add_working_days(date(2024, 7, 19), 1) == date(2024, 7, 20)
    # 12/7-21/7: Mon 15 to Fri 19 and Sat 20 = 6 working days (Fri 12 not).
    assert cal.working_days_between(date(2024, 7, 11), date(2024, 7, 21)) == 6


def test_overrides_accept_one_shot_iterables_as_configuration_hands_them() -> None:
    cal = WorkingCalendar.with_overrides(
        days_off=iter([date(2024, 7, 3)]), working=iter([date(2024, 7, 6)])
    )
    assert cal.extra_days_off == frozenset({date(2024, 7, 3)})
    assert cal.extra_working_days == frozenset({date(2024, 7, 6)})


def test_every_day_both_off_and_working_is_named_in_the_refusal() -> None:
    with pytest.raises(ValueError, match=r"2024, 7, 3.*2024, 7, 6") as refused:
        WorkingCalendar.with_overrides(
            days_off=[date(2024, 7, 6), date(2024, 7, 3), date(2024, 7, 4)],
            working=[date(2024, 7, 3), date(2024, 7, 6), date(2024, 7, 13)],
        )
    assert "2024, 7, 4" not in str(refused.value)
    assert "2024, 7, 13" not in str(refused.value)


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2024, 12, 31)), st.integers(0, 40))
def test_counting_back_the_working_days_added_gives_them_again(start: date, days: int) -> None:
    end = CAL.add_working_days(start, days)
    assert CAL.working_days_between(start, end) == days
    assert days == 0 or CAL.is_working_day(end)
