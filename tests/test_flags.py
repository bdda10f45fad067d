"""Per-dossier deadline flags (reconcile/flags.py, DOMAIN.md §6: overdue handling).

July 2024: Mon 1, Fri 5, Mon 8, Tue 9, Fri 12, Mon 15, Tue 16, Fri 19, Sat 20. Every expected
flag set below is derived by hand from the rules in the module's docstring.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from reconcile.calendar import WorkingCalendar
from reconcile.flags import Flag, Flags, flags_of
from reconcile.model import Channel, Dossier, Pause, Status
from tests.strategies import at, build_dossier

CAL = WorkingCalendar()
OVERDUE, LATE, DUE_SOON, NO_APOLOGY = (
    Flag.OVERDUE,
    Flag.LATE,
    Flag.DUE_SOON,
    Flag.LATE_NO_APOLOGY,
)


def open_dossier(due: datetime | None, **kw: Any) -> Dossier:
    return build_dossier(received_at=at(2024, 7, 1), due_at=due, **kw)


def finished_dossier(due: datetime | None, finished: datetime, **kw: Any) -> Dossier:
    return build_dossier(
        received_at=at(2024, 7, 1),
        status=Status.FINISHED,
        due_at=due,
        finished_at=finished,
        **kw,
    )


def flags(d: Dossier, as_of: date, due_soon_days: int = 1) -> set[Flag]:
    return set(flags_of(d, as_of, CAL, due_soon_days).flags)


# --- overdue -------------------------------------------------------------------------------------


def test_open_past_its_due_date_is_overdue() -> None:
    d = open_dossier(at(2024, 7, 10, 17), code="A-1", field_code="MT")
    got = flags_of(d, date(2024, 7, 11), CAL)
    assert got == Flags("A-1", "MT", frozenset({OVERDUE, NO_APOLOGY}), date(2024, 7, 10), 1)
    assert OVERDUE in got
    assert LATE not in got


def test_open_on_its_due_date_is_due_soon_not_overdue() -> None:
    d = open_dossier(at(2024, 7, 10, 17))
    assert flags(d, date(2024, 7, 10)) == {DUE_SOON}
    assert flags_of(d, date(2024, 7, 10), CAL).days_late == 0


def test_due_dates_are_compared_as_local_dates() -> None:
    # Due 23:30 on 10/7 in Hanoi; as of 10/7 it is due today, whatever the hour.
    d = open_dossier(at(2024, 7, 10, 23, 30))
    assert flags(d, date(2024, 7, 10)) == {DUE_SOON}
    assert flags(d, date(2024, 7, 11)) == {OVERDUE, NO_APOLOGY}


def test_finished_after_as_of_is_still_open_as_of_then() -> None:
    d = finished_dossier(at(2024, 7, 10), at(2024, 7, 20))
    assert flags(d, date(2024, 7, 12)) == {OVERDUE, NO_APOLOGY}


@pytest.mark.parametrize(
    ("due", "as_of", "days"),
    [
        (at(2024, 7, 12), date(2024, 7, 16), 2),  # Fri 12 -> Mon 15, Tue 16
        (at(2024, 7, 12), date(2024, 7, 15), 1),
        (at(2024, 7, 12), date(2024, 7, 14), 0),  # Sat, Sun: past due, no working day yet
        (at(2024, 7, 1), date(2024, 7, 19), 14),  # Tue 2 .. Fri 19: three weeks less one day
        (at(2024, 4, 26), date(2024, 5, 2), 1),  # Mon 29/4, 30/4, 1/5 off; Thu 2/5 worked
        (at(2024, 4, 26), date(2024, 5, 4), 3),  # + Fri 3/5 and the make-up Sat 4/5
    ],
)
def test_days_late_counts_working_days_past_the_due_date(
    due: datetime, as_of: date, days: int
) -> None:
    d = build_dossier(received_at=at(2024, 4, 1), due_at=due)
    got = flags_of(d, as_of, CAL)
    assert OVERDUE in got
    assert got.days_late == days


# --- the clock stopped ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pause",
    [Pause(at(2024, 7, 8)), Pause(at(2024, 7, 8), at(2024, 7, 20))],
)
def test_a_supplement_request_in_force_stops_the_clock(pause: Pause) -> None:
    d = open_dossier(at(2024, 7, 10), pauses=(pause,))
    assert flags(d, date(2024, 7, 15)) == set()
    assert flags(d, date(2024, 7, 10)) == set()  # not due soon either


def test_a_supplement_request_answered_before_as_of_lets_the_clock_run() -> None:
    d = open_dossier(at(2024, 7, 10), pauses=(Pause(at(2024, 7, 8), at(2024, 7, 9)),))
    assert flags(d, date(2024, 7, 15)) == {OVERDUE, NO_APOLOGY}


@pytest.mark.parametrize(
    "status", [Status.SUPPLEMENT_REQUESTED, Status.AWAITING_FEES, Status.STOPPED]
)
def test_a_clock_stopping_status_set_by_as_of_means_not_overdue(status: Status) -> None:
    d = open_dossier(at(2024, 7, 10), status=status, updated_at=at(2024, 7, 9))
    assert flags(d, date(2024, 7, 15)) == set()
    # Set after as_of: the clock was still running then.
    later = open_dossier(at(2024, 7, 10), status=status, updated_at=at(2024, 7, 16))
    assert flags(later, date(2024, 7, 15)) == {OVERDUE, NO_APOLOGY}


# --- due soon ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "due_soon_days", "expected"),
    [
        (at(2024, 7, 5), 1, {DUE_SOON}),  # due today
        (at(2024, 7, 8), 1, {DUE_SOON}),  # Mon: the next working day after Fri 5/7
        (at(2024, 7, 9), 1, set()),  # Tue: two working days away
        (at(2024, 7, 6), 1, {DUE_SOON}),  # Sat, before the next working day
        (at(2024, 7, 9), 2, {DUE_SOON}),
        (at(2024, 7, 10), 2, set()),
        (at(2024, 7, 5), 0, {DUE_SOON}),  # 0: due today only
        (at(2024, 7, 8), 0, set()),
        (at(2024, 7, 4), 0, {OVERDUE, NO_APOLOGY}),
    ],
)
def test_due_soon_as_of_friday_5_7(due: datetime, due_soon_days: int, expected: set[Flag]) -> None:
    assert flags(open_dossier(due), date(2024, 7, 5), due_soon_days) == expected


def test_due_soon_steps_over_holidays() -> None:
    # As of Fri 26/4/2024 the next working day is Thu 2/5 (29/4, 30/4, 1/5 off).
    d = build_dossier(received_at=at(2024, 4, 1), due_at=at(2024, 5, 2))
    assert flags(d, date(2024, 4, 26)) == {DUE_SOON}
    later = build_dossier(received_at=at(2024, 4, 1), due_at=at(2024, 5, 3))
    assert flags(later, date(2024, 4, 26)) == set()


def test_a_finished_dossier_is_never_due_soon() -> None:
    d = finished_dossier(at(2024, 7, 10), at(2024, 7, 9))
    assert flags(d, date(2024, 7, 9)) == set()
    assert flags(d, date(2024, 7, 10)) == set()


# --- late ----------------------------------------------------------------------------------------


def test_finished_after_the_due_date_is_late() -> None:
    d = finished_dossier(at(2024, 7, 12, 17), at(2024, 7, 16, 9))
    got = flags_of(d, date(2024, 7, 19), CAL)
    assert set(got.flags) == {LATE, NO_APOLOGY}
    assert got.days_late == 2  # Mon 15, Tue 16


@pytest.mark.parametrize(
    "finished",
    [at(2024, 7, 12, 8), at(2024, 7, 12, 23, 59), at(2024, 7, 11)],
)
def test_finished_on_or_before_the_due_date_is_not_late(finished: datetime) -> None:
    d = finished_dossier(at(2024, 7, 12, 17), finished)
    got = flags_of(d, date(2024, 7, 19), CAL)
    assert got.flags == frozenset()
    assert got.days_late == 0


def test_returned_without_finish_date_is_late_by_its_return_date() -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1),
        status=Status.RETURNED,
        due_at=at(2024, 7, 12),
        returned_at=at(2024, 7, 15),
    )
    assert flags(d, date(2024, 7, 19)) == {LATE, NO_APOLOGY}


# --- the apology letter --------------------------------------------------------------------------


def test_an_apology_letter_on_record_clears_the_compliance_finding() -> None:
    overdue = open_dossier(at(2024, 7, 10), apology_at=at(2024, 7, 9))
    assert flags(overdue, date(2024, 7, 15)) == {OVERDUE}
    late = finished_dossier(at(2024, 7, 10), at(2024, 7, 12), apology_at=at(2024, 7, 9))
    assert flags(late, date(2024, 7, 15)) == {LATE}


def test_no_apology_needed_when_neither_late_nor_overdue() -> None:
    assert NO_APOLOGY not in flags(open_dossier(at(2024, 7, 10)), date(2024, 7, 10))
    assert NO_APOLOGY not in flags(
        finished_dossier(at(2024, 7, 10), at(2024, 7, 10)), date(2024, 7, 15)
    )


# --- dossiers with no flags ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.REGISTERED, Status.REFUSED])
def test_statuses_1_and_3_get_no_flags(status: Status) -> None:
    d = open_dossier(at(2024, 7, 10), status=status)
    got = flags_of(d, date(2024, 7, 15), CAL)
    assert got.flags == frozenset()
    assert got.days_late == 0


def test_no_due_date_no_flags() -> None:
    d = open_dossier(None, channel=Channel.ONLINE)
    got = flags_of(d, date(2024, 7, 15), CAL)
    assert got == Flags(d.code, d.field_code, frozenset(), None, 0)
    finished = finished_dossier(None, at(2024, 7, 12))
    assert flags(finished, date(2024, 7, 15)) == set()


def test_received_after_as_of_gets_no_flags() -> None:
    d = build_dossier(received_at=at(2024, 7, 16), due_at=at(2024, 7, 10))
    assert flags(d, date(2024, 7, 15)) == set()
    assert flags(d, date(2024, 7, 16)) == {OVERDUE, NO_APOLOGY}


def test_a_withdrawal_after_the_due_date_is_not_late() -> None:
    """The report counts a withdrawal as on time (col 9): no lateness flags either."""
    d = build_dossier(
        received_at=at(2024, 7, 1),
        due_at=at(2024, 7, 5, 17),
        status=Status.WITHDRAWN,
        finished_at=at(2024, 7, 10),
    )
    assert flags_of(d, date(2024, 7, 15), WorkingCalendar()).flags == frozenset()
