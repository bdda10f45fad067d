"""Reporting periods (DOMAIN.md §7): cut-off day 20 by default, 1 gives the calendar month."""

from __future__ import annotations

from datetime import date

import pytest

from reconcile.period import Period


def test_default_cutoff_runs_from_20th_of_previous_month_to_19th() -> None:
    p = Period.parse("2024-07")
    assert p.label == "2024-07"
    assert p.start == date(2024, 6, 20)
    assert p.end == date(2024, 7, 19)


def test_january_wraps_to_previous_december() -> None:
    p = Period.parse("2024-01")
    assert (p.start, p.end) == (date(2023, 12, 20), date(2024, 1, 19))


def test_december_stays_in_its_year() -> None:
    p = Period.parse("2024-12")
    assert (p.start, p.end) == (date(2024, 11, 20), date(2024, 12, 19))


@pytest.mark.parametrize(
    ("label", "cutoff", "start", "end"),
    [
        ("2024-07", 15, date(2024, 6, 15), date(2024, 7, 14)),  # Decree 09/2019
        ("2024-03", 28, date(2024, 2, 28), date(2024, 3, 27)),
        ("2024-03", 2, date(2024, 2, 2), date(2024, 3, 1)),
    ],
)
def test_other_cutoff_days(label: str, cutoff: int, start: date, end: date) -> None:
    p = Period.parse(label, cutoff_day=cutoff)
    assert (p.start, p.end) == (start, end)


@pytest.mark.parametrize(
    ("label", "start", "end"),
    [
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),  # leap year
        ("2023-02", date(2023, 2, 1), date(2023, 2, 28)),
        ("2024-01", date(2024, 1, 1), date(2024, 1, 31)),
        ("2024-04", date(2024, 4, 1), date(2024, 4, 30)),
        ("2024-12", date(2024, 12, 1), date(2024, 12, 31)),
    ],
)
def test_cutoff_day_1_is_the_calendar_month(label: str, start: date, end: date) -> None:
    p = Period.parse(label, cutoff_day=1)
    assert (p.start, p.end) == (start, end)


@pytest.mark.parametrize(
    "label", ["2024-13", "2024-00", "24-07", "2024/07", "", "2024-7", "202407", " 2024-07"]
)
def test_bad_labels_raise_value_error(label: str) -> None:
    with pytest.raises(ValueError, match="period"):
        Period.parse(label)


@pytest.mark.parametrize("label", ["2024-07\n", "\uff12\uff10\uff12\uff14-\uff10\uff17"])
def test_labels_with_trailing_newline_or_non_ascii_digits_are_rejected(label: str) -> None:
    with pytest.raises(ValueError, match="period"):
        Period.parse(label)


@pytest.mark.parametrize("cutoff", [0, 29, -1, 31])
def test_cutoff_day_outside_1_to_28_raises_value_error(cutoff: int) -> None:
    with pytest.raises(ValueError, match="cut-off day"):
        Period.parse("2024-07", cutoff_day=cutoff)


@pytest.mark.parametrize(
    ("day", "inside"),
    [
        (date(2024, 6, 19), False),
        (date(2024, 6, 20), True),
        (date(2024, 7, 1), True),
        (date(2024, 7, 19), True),
        (date(2024, 7, 20), False),
        (date(2023, 7, 1), False),
    ],
)
def test_contains_is_inclusive_at_both_ends(day: date, inside: bool) -> None:
    assert (day in Period.parse("2024-07")) is inside


def test_contains_rejects_non_dates() -> None:
    p = Period.parse("2024-07")
    assert "2024-07-01" not in p
    assert None not in p
