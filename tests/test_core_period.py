"""Reporting periods (DOMAIN.md §7): cut-off day 20 by default, 1 gives the calendar month."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.counts import cells_of
from reconcile.model import Dossier, Source, Status
from reconcile.period import Period, month_range, span
from tests.strategies import at, build_dossier, dossiers


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


# --- the period a day falls in -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "cutoff", "label"),
    [
        (date(2024, 7, 19), 20, "2024-07"),
        (date(2024, 7, 20), 20, "2024-08"),
        (date(2024, 6, 20), 20, "2024-07"),
        (date(2024, 6, 19), 20, "2024-06"),
        (date(2024, 12, 19), 20, "2024-12"),
        (date(2024, 12, 20), 20, "2025-01"),
        (date(2024, 12, 31), 20, "2025-01"),
        (date(2025, 1, 1), 20, "2025-01"),
        (date(2024, 7, 14), 15, "2024-07"),
        (date(2024, 7, 15), 15, "2024-08"),
        (date(2024, 7, 1), 1, "2024-07"),
        (date(2024, 7, 31), 1, "2024-07"),
        (date(2024, 12, 31), 1, "2024-12"),
        (date(2025, 1, 1), 1, "2025-01"),
        (date(2024, 2, 29), 1, "2024-02"),
    ],
)
def test_containing_names_the_period_of_a_day(day: date, cutoff: int, label: str) -> None:
    p = Period.containing(day, cutoff)
    assert p == Period.parse(label, cutoff)
    assert day in p


def test_containing_defaults_to_cutoff_20() -> None:
    assert Period.containing(date(2024, 7, 19)).label == "2024-07"
    assert Period.containing(date(2024, 7, 20)).label == "2024-08"


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)), st.integers(1, 28))
def test_every_day_is_in_the_period_containing_it_and_no_neighbour(day: date, cutoff: int) -> None:
    p = Period.containing(day, cutoff)
    assert p.start <= day <= p.end
    assert Period.containing(p.start, cutoff) == p
    assert Period.containing(p.end, cutoff) == p
    # Periods tile the calendar: the next one starts the day after this one ends.
    assert Period.containing(p.end + timedelta(days=1), cutoff).start == p.end + timedelta(days=1)


# --- the calendar months a period touches --------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "cutoff", "months"),
    [
        ("2024-07", 20, ["2024-06", "2024-07"]),
        ("2025-01", 20, ["2024-12", "2025-01"]),
        ("2024-07", 1, ["2024-07"]),
        ("2024-07", 2, ["2024-06", "2024-07"]),  # 2/6 .. 1/7
    ],
)
def test_months_of_a_period(label: str, cutoff: int, months: list[str]) -> None:
    assert Period.parse(label, cutoff).months() == months


@pytest.mark.parametrize(
    ("first", "last", "months"),
    [
        (date(2024, 7, 1), date(2024, 7, 31), ["2024-07"]),
        (date(2024, 7, 31), date(2024, 7, 1), ["2024-07"]),  # same month, whatever the days
        (date(2024, 11, 30), date(2025, 2, 1), ["2024-11", "2024-12", "2025-01", "2025-02"]),
        (date(2024, 8, 1), date(2024, 7, 31), []),
    ],
)
def test_month_range(first: date, last: date, months: list[str]) -> None:
    assert month_range(first, last) == months


# --- where a dossier's records belong in the period index ---------------------------------------


def test_span_of_a_finished_dossier_runs_from_receipt_to_finish() -> None:
    d = build_dossier(
        received_at=at(2024, 6, 25), status=Status.RETURNED, finished_at=at(2024, 8, 3)
    )
    assert span([d]) == (["2024-06", "2024-07", "2024-08"], False)


def test_span_is_open_when_any_record_has_no_finish() -> None:
    finished = build_dossier(
        received_at=at(2024, 6, 25), status=Status.FINISHED, finished_at=at(2024, 7, 3)
    )
    # Finished at, but in an open status: not finished (DOMAIN.md §7).
    still_open = build_dossier(
        received_at=at(2024, 7, 1), status=Status.PROCESSING, finished_at=at(2024, 9, 1)
    )
    assert span([finished, still_open]) == (["2024-06", "2024-07"], True)
    assert span([still_open]) == (["2024-07"], True)


def test_span_takes_the_earliest_date_and_the_latest_finish_over_all_records() -> None:
    city = build_dossier(
        received_at=at(2024, 5, 30), status=Status.RETURNED, returned_at=at(2024, 6, 2)
    )
    national = build_dossier(
        source=Source.NATIONAL,
        received_at=at(2024, 6, 1),
        status=Status.FINISHED,
        finished_at=at(2024, 8, 5),
    )
    assert span([national, city]) == (["2024-05", "2024-06", "2024-07", "2024-08"], False)


def test_span_counts_a_finish_before_the_receipt() -> None:
    d = build_dossier(
        received_at=at(2024, 7, 2), status=Status.FINISHED, finished_at=at(2024, 5, 20)
    )
    assert span([d]) == (["2024-05", "2024-06", "2024-07"], False)


def test_span_uses_local_dates() -> None:
    # 17:30 UTC on 31/7 is 00:30 on 1/8 in Hanoi.
    d = build_dossier(
        received_at=datetime(2024, 7, 31, 17, 30, tzinfo=UTC),
        status=Status.WITHDRAWN,
        finished_at=datetime(2024, 7, 31, 18, tzinfo=UTC),
    )
    assert span([d]) == (["2024-08"], False)


def test_span_of_no_records() -> None:
    assert span([]) == ([], False)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        dossiers(min_day=date(2024, 4, 1), max_day=date(2024, 10, 31)), min_size=1, max_size=4
    ),
    st.sampled_from(["2024-06", "2024-07", "2024-08", "2024-09"]),
    st.sampled_from([1, 15, 20]),
)
def test_every_period_a_record_counts_in_is_found_by_its_span(
    records: list[Dossier], label: str, cutoff: int
) -> None:
    period = Period.parse(label, cutoff)
    months, still_open = span(records)
    if any(cells_of(d, period) for d in records):
        assert still_open or set(months) & set(period.months())
