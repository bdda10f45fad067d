"""Form 06/VPCP/KSTT counts (DOMAIN.md §7) for period 2024-07: S = 2024-06-20, E = 2024-07-19.

Every expected set of columns below is derived by hand from the rules in DOMAIN.md §7.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.counts import COLUMNS, FormCounts, FormTally, Row, cells_of, counts
from reconcile.deadlines import PausePolicy
from reconcile.ledger import check_identities
from reconcile.model import Channel, Dossier, Pause, Status
from reconcile.period import Period
from tests.strategies import at, build_dossier, dossiers

P = Period.parse("2024-07")


def utc(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def cells(d: Dossier) -> set[int]:
    return set(cells_of(d, P))


def as_dict(row: Row) -> dict[int, int]:
    """The row's non-zero cells, keyed by column number."""
    return {col: row[col] for col in COLUMNS if row[col]}


def test_period_under_test() -> None:
    assert (P.start.isoformat(), P.end.isoformat()) == ("2024-06-20", "2024-07-19")


# --- received in the period (cols 4 and 5) -------------------------------------------------


@pytest.mark.parametrize(
    "received",
    [at(2024, 6, 20, 0, 0), at(2024, 6, 20, 8), at(2024, 7, 19, 16), at(2024, 7, 19, 23, 59)],
)
@pytest.mark.parametrize(
    ("channel", "column"), [(Channel.ONLINE, 4), (Channel.DIRECT, 5), (Channel.POSTAL, 5)]
)
def test_received_on_first_or_last_day_counts_by_channel(
    received: datetime, channel: Channel, column: int
) -> None:
    d = build_dossier(received_at=received, channel=channel, status=Status.ACCEPTED)
    assert cells(d) == {3, column, 11, 12}


@pytest.mark.parametrize("received", [at(2024, 7, 20, 0, 0), at(2024, 8, 1)])
def test_received_after_the_period_is_not_counted(received: datetime) -> None:
    d = build_dossier(received_at=received, status=Status.PROCESSING)
    assert cells(d) == set()


# --- carried over from the previous period (col 6) -----------------------------------------


def test_received_the_day_before_and_still_open_is_carried_over() -> None:
    d = build_dossier(received_at=at(2024, 6, 19, 23, 59), due_at=at(2024, 8, 1))
    assert cells(d) == {3, 6, 11, 12}


def test_carried_over_and_overdue_at_the_end() -> None:
    d = build_dossier(received_at=at(2024, 6, 19, 10), due_at=at(2024, 7, 1))
    assert cells(d) == {3, 6, 11, 13}


def test_carried_over_and_finished_on_the_first_day() -> None:
    d = build_dossier(
        received_at=at(2024, 6, 19, 10),
        status=Status.FINISHED,
        due_at=at(2024, 6, 25),
        finished_at=at(2024, 6, 20, 8),
    )
    assert cells(d) == {3, 6, 7, 8}


@pytest.mark.parametrize(
    ("finished_at", "returned_at"),
    [(at(2024, 6, 19, 16), None), (None, at(2024, 6, 19, 16)), (at(2024, 6, 1), at(2024, 6, 21))],
)
def test_received_and_finished_before_the_period_is_not_counted(
    finished_at: datetime | None, returned_at: datetime | None
) -> None:
    d = build_dossier(
        received_at=at(2024, 5, 28),
        status=Status.RETURNED,
        due_at=at(2024, 6, 10),
        finished_at=finished_at,
        returned_at=returned_at,
        updated_at=at(2024, 7, 1),
    )
    assert cells(d) == set()


def test_withdrawn_before_the_period_is_not_counted() -> None:
    d = build_dossier(
        received_at=at(2024, 6, 1), status=Status.WITHDRAWN, finished_at=at(2024, 6, 5)
    )
    assert cells(d) == set()


# --- resolved in the period (cols 7-10) ----------------------------------------------------


DUE = at(2024, 7, 10, 17)


@pytest.mark.parametrize(
    ("finished", "column"),
    [
        (at(2024, 7, 9, 16), 8),  # the day before the due date
        (at(2024, 7, 10, 8), 9),  # on the due date
        (at(2024, 7, 10, 20), 9),  # later in the day than the due time: dates, not times
        (at(2024, 7, 11, 8), 10),  # the day after
        (at(2024, 7, 19, 23, 59), 10),  # last moment of the period
    ],
)
def test_resolved_early_on_time_or_late(finished: datetime, column: int) -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1), status=Status.FINISHED, due_at=DUE, finished_at=finished
    )
    assert cells(d) == {3, 5, 7, column}


def test_resolved_without_due_date_is_on_time() -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1),
        channel=Channel.ONLINE,
        status=Status.RETURNED,
        finished_at=at(2024, 7, 18),
        returned_at=at(2024, 7, 19),
    )
    assert cells(d) == {3, 4, 7, 9}


def test_returned_without_finish_date_uses_the_return_date() -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1), status=Status.RETURNED, due_at=DUE, returned_at=at(2024, 7, 11)
    )
    assert cells(d) == {3, 5, 7, 10}


def test_withdrawn_counts_on_time_even_after_the_due_date() -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1), status=Status.WITHDRAWN, due_at=DUE, finished_at=at(2024, 7, 15)
    )
    assert cells(d) == {3, 5, 7, 9}


# --- pending at the end of the period (cols 11-13) -----------------------------------------


@pytest.mark.parametrize(
    ("due", "column"), [(None, 12), (at(2024, 7, 19), 12), (at(2024, 8, 1), 12)]
)
def test_finished_after_the_end_is_open_at_the_end(due: datetime | None, column: int) -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1),
        status=Status.RETURNED,
        due_at=due,
        finished_at=at(2024, 7, 20, 8),
        returned_at=at(2024, 7, 22),
    )
    assert cells(d) == {3, 5, 11, 12}


def test_finished_after_the_end_and_overdue_at_the_end() -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1),
        status=Status.FINISHED,
        due_at=DUE,
        finished_at=at(2024, 7, 25),
    )
    assert cells(d) == {3, 5, 11, 13}


def test_carried_over_and_finished_after_the_end() -> None:
    d = build_dossier(
        received_at=at(2024, 6, 3),
        status=Status.WITHDRAWN,
        due_at=at(2024, 6, 14),
        finished_at=at(2024, 8, 2),
    )
    assert cells(d) == {3, 6, 11, 13}


@pytest.mark.parametrize(
    ("due", "column"),
    [
        (at(2024, 7, 19, 8), 12),  # due on E
        (at(2024, 7, 20, 8), 12),  # due after E
        (at(2024, 7, 18, 17), 13),  # due on E-1
        (at(2024, 6, 25), 13),
    ],
)
def test_pending_in_time_or_overdue_at_the_end(due: datetime, column: int) -> None:
    d = build_dossier(received_at=at(2024, 7, 1), status=Status.PROCESSING, due_at=due)
    assert cells(d) == {3, 5, 11, column}


@pytest.mark.parametrize(
    ("pause", "column"),
    [
        (Pause(at(2024, 7, 15)), 12),  # supplement request still open
        (Pause(at(2024, 7, 19, 23)), 12),  # requested on E itself
        (Pause(at(2024, 7, 15), at(2024, 7, 20, 8)), 12),  # resumed after E
        (Pause(at(2024, 7, 15), at(2024, 7, 19, 15)), 13),  # resumed on E: not in force at its end
        (Pause(at(2024, 7, 12), at(2024, 7, 14)), 13),  # over before E
        (Pause(at(2024, 7, 20, 8)), 13),  # requested after E
    ],
)
def test_supplement_pause_in_force_at_the_end_stops_the_clock(pause: Pause, column: int) -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1),
        status=Status.PROCESSING,
        due_at=at(2024, 7, 18),
        pauses=(pause,),
    )
    assert cells(d) == {3, 5, 11, column}


@pytest.mark.parametrize(
    "status", [Status.SUPPLEMENT_REQUESTED, Status.AWAITING_FEES, Status.STOPPED]
)
def test_clock_stopping_status_set_within_the_period_keeps_it_in_time(status: Status) -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1),
        status=status,
        due_at=at(2024, 7, 18),
        updated_at=at(2024, 7, 16),
    )
    assert cells(d) == {3, 5, 11, 12}


# --- statuses not counted ------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.REGISTERED, Status.REFUSED])
@pytest.mark.parametrize("received", [at(2024, 6, 1), at(2024, 6, 20), at(2024, 7, 10)])
def test_registered_and_refused_are_not_counted(status: Status, received: datetime) -> None:
    d = build_dossier(received_at=received, status=status, due_at=at(2024, 7, 1))
    assert cells(d) == set()


# --- local (UTC+7) dates, not UTC dates ----------------------------------------------------


def test_received_late_utc_evening_is_next_local_day_in_the_period() -> None:
    d = build_dossier(received_at=utc(2024, 6, 19, 17, 30), channel=Channel.ONLINE)
    assert cells(d) == {3, 4, 11, 12}


def test_received_just_before_local_midnight_is_the_previous_day() -> None:
    d = build_dossier(received_at=utc(2024, 6, 19, 16, 59, 59))
    assert cells(d) == {3, 6, 11, 12}


def test_received_on_last_utc_day_but_after_local_midnight_is_outside() -> None:
    d = build_dossier(received_at=utc(2024, 7, 19, 17, 30))
    assert cells(d) == set()


def test_finish_after_local_midnight_of_e_is_after_the_period() -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1), status=Status.FINISHED, finished_at=utc(2024, 7, 19, 17, 30)
    )
    assert cells(d) == {3, 5, 11, 12}


def test_finish_before_local_midnight_of_e_is_within_the_period() -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1), status=Status.FINISHED, finished_at=utc(2024, 7, 19, 16, 30)
    )
    assert cells(d) == {3, 5, 7, 9}


def test_due_date_is_the_local_date() -> None:
    # Due 2024-07-11 00:30 local (2024-07-10 UTC); finished 2024-07-11 local: on time, not late.
    d = build_dossier(
        received_at=at(2024, 7, 1),
        status=Status.FINISHED,
        due_at=utc(2024, 7, 10, 17, 30),
        finished_at=at(2024, 7, 11, 8),
    )
    assert cells(d) == {3, 5, 7, 9}


def test_pending_due_date_on_e_in_local_time() -> None:
    # Due 2024-07-19 00:00 local is 2024-07-18 UTC: due on E, so still in time.
    d = build_dossier(received_at=at(2024, 7, 1), due_at=utc(2024, 7, 18, 17))
    assert cells(d) == {3, 5, 11, 12}


def test_finish_on_local_first_day_keeps_a_carried_over_dossier() -> None:
    d = build_dossier(
        received_at=at(2024, 6, 10),
        status=Status.RETURNED,
        finished_at=utc(2024, 6, 19, 17, 30),  # 2024-06-20 00:30 local = S
    )
    assert cells(d) == {3, 6, 7, 9}


# --- rows ----------------------------------------------------------------------------------


def _sample() -> list[Dossier]:
    return [
        # TM, resolved early
        build_dossier(
            field_code="TM",
            received_at=at(2024, 7, 1),
            status=Status.FINISHED,
            due_at=at(2024, 7, 10),
            finished_at=at(2024, 7, 5),
        ),
        # XD, received online, open, no due date
        build_dossier(field_code="XD", received_at=at(2024, 7, 2), channel=Channel.ONLINE),
        # DT, resolved on the due date
        build_dossier(
            field_code="DT",
            received_at=at(2024, 6, 25),
            status=Status.RETURNED,
            due_at=at(2024, 7, 3),
            finished_at=at(2024, 7, 3),
        ),
        # DT, carried over, still open and overdue
        build_dossier(field_code="DT", received_at=at(2024, 6, 10), due_at=at(2024, 7, 1)),
        # AA, resolved late
        build_dossier(
            field_code="AA",
            received_at=at(2024, 7, 1),
            status=Status.FINISHED,
            due_at=at(2024, 7, 10),
            finished_at=at(2024, 7, 12),
        ),
        # QQ refused and MT finished before the period: no row for either
        build_dossier(field_code="QQ", received_at=at(2024, 7, 1), status=Status.REFUSED),
        build_dossier(
            field_code="MT",
            received_at=at(2024, 6, 1),
            status=Status.RETURNED,
            finished_at=at(2024, 6, 10),
        ),
    ]


def test_rows_follow_field_order_then_sorted_unknown_fields() -> None:
    form = counts(_sample(), P, field_order=("DT", "LD", "XD"))
    assert form.period == P
    assert [row.field_code for row in form.rows] == ["DT", "LD", "XD", "AA", "TM"]
    by_field = {row.field_code: as_dict(row) for row in form.rows}
    assert by_field == {
        "DT": {3: 2, 5: 1, 6: 1, 7: 1, 9: 1, 11: 1, 13: 1},
        "LD": {},
        "XD": {3: 1, 4: 1, 11: 1, 12: 1},
        "AA": {3: 1, 5: 1, 7: 1, 10: 1},
        "TM": {3: 1, 5: 1, 7: 1, 8: 1},
    }
    assert form.total.field_code == ""
    assert form.total.cells == (5, 1, 3, 1, 3, 1, 1, 1, 2, 1, 1)


def test_rows_without_field_order_are_sorted() -> None:
    form = counts(_sample(), P)
    assert [row.field_code for row in form.rows] == ["AA", "DT", "TM", "XD"]
    assert form.total.cells == (5, 1, 3, 1, 3, 1, 1, 1, 2, 1, 1)


def test_no_dossiers_gives_zero_rows_for_configured_fields() -> None:
    form = counts([], P, field_order=("DT", "LD"))
    assert [(row.field_code, row.cells) for row in form.rows] == [
        ("DT", (0,) * 11),
        ("LD", (0,) * 11),
    ]
    assert form.total.cells == (0,) * 11


def test_counts_accepts_a_one_shot_iterable() -> None:
    form = counts(iter(_sample()), P, field_order=("DT",))
    assert form.total[3] == 5


def test_repeated_field_in_field_order_does_not_double_the_total() -> None:
    one = build_dossier(field_code="DT", received_at=at(2024, 7, 1))
    form = counts([one], P, field_order=("DT", "LD", "DT"))
    assert [row.field_code for row in form.rows] == ["DT", "LD"]
    assert form.total[3] == 1


@pytest.mark.parametrize("column", [0, 1, 2])
def test_row_rejects_columns_outside_3_to_13(column: int) -> None:
    row = Row("DT", tuple(range(3, 14)))
    assert row[3] == 3
    assert row[13] == 13
    with pytest.raises(IndexError):
        row[column]


# --- invariants ----------------------------------------------------------------------------


def _check_invariants(row: Row) -> None:
    assert row[3] == row[4] + row[5] + row[6]
    assert row[7] == row[8] + row[9] + row[10]
    assert row[11] == row[12] + row[13]
    assert row[3] == row[7] + row[11]
    assert all(value >= 0 for value in row.cells)


FIELDS = ("DT", "LD", "MT", "XD")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        dossiers(min_day=P.start.replace(day=1), max_day=P.end.replace(day=31), field_codes=FIELDS),
        max_size=8,
    ),
    st.lists(st.sampled_from((*FIELDS, "QH")), unique=True),
)
def test_form_invariants_hold_for_every_row_and_the_total(
    batch: list[Dossier], field_order: list[str]
) -> None:
    form = counts(batch, P, field_order=field_order)
    for row in (*form.rows, form.total):
        _check_invariants(row)
    codes = [row.field_code for row in form.rows]
    assert codes[: len(field_order)] == field_order
    assert codes[len(field_order) :] == sorted(set(codes) - set(field_order))
    for i in range(len(COLUMNS)):
        assert form.total.cells[i] == sum(row.cells[i] for row in form.rows)
    # Every dossier is counted at most once in col 3.
    assert form.total[3] <= len(batch)


def test_form_tally_adds_one_dossier_at_a_time() -> None:
    tally = FormTally(P, field_order=("DT", "LD", "XD"))
    placed = [tally.add(d) for d in _sample()]
    assert placed == [
        {3, 5, 7, 8},
        {3, 4, 11, 12},
        {3, 5, 7, 9},
        {3, 6, 11, 13},
        {3, 5, 7, 10},
        set(),
        set(),
    ]
    form = tally.result()
    assert [row.field_code for row in form.rows] == ["DT", "LD", "XD", "AA", "TM"]
    assert form.total.cells == (5, 1, 3, 1, 3, 1, 1, 1, 2, 1, 1)
    assert tally.result() == form  # reading the result does not consume the tally


# Two supplement requests, both answered before the due date and before E.
TWO_RESUMED = (
    Pause(at(2024, 7, 2, 9), at(2024, 7, 3, 9)),
    Pause(at(2024, 7, 4, 9), at(2024, 7, 5, 9)),
)
ONE_RESUMED = TWO_RESUMED[:1]


# --- withdrawn: resolved on time whatever the due date (cols 7 and 9) ------------------------


@pytest.mark.parametrize(
    "due",
    [
        None,
        at(2024, 7, 20),  # after the withdrawal: would be early (8)
        at(2024, 7, 15, 17),  # on the withdrawal date
        at(2024, 7, 1),  # before the withdrawal: would be late (10)
    ],
)
@pytest.mark.parametrize("policy", list(PausePolicy))
def test_withdrawn_in_the_period_is_resolved_on_time_whatever_the_due_date(
    due: datetime | None, policy: PausePolicy
) -> None:
    d = build_dossier(
        received_at=at(2024, 6, 25),
        status=Status.WITHDRAWN,
        due_at=due,
        finished_at=at(2024, 7, 15, 10),
        pauses=TWO_RESUMED,
    )
    assert set(cells_of(d, P, policy)) == {3, 5, 7, 9}


def test_withdrawn_carried_over_on_the_first_day() -> None:
    d = build_dossier(
        received_at=at(2024, 6, 3),
        channel=Channel.ONLINE,
        status=Status.WITHDRAWN,
        due_at=at(2024, 6, 10),
        finished_at=at(2024, 6, 20, 0, 0),
    )
    assert cells(d) == {3, 6, 7, 9}


# --- pause policies in the report ------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "pauses", "column"),
    [
        (PausePolicy.RESTART, TWO_RESUMED, 8),
        (PausePolicy.EXTEND, TWO_RESUMED, 8),
        (PausePolicy.SUBTRACT, TWO_RESUMED, 10),  # a second request counts as late
        (PausePolicy.SUBTRACT, ONE_RESUMED, 8),
        (PausePolicy.SUBTRACT, (), 8),
    ],
)
def test_resolved_before_the_due_date_is_late_under_subtract_with_two_requests(
    policy: PausePolicy, pauses: tuple[Pause, ...], column: int
) -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1),
        status=Status.FINISHED,
        due_at=at(2024, 7, 10, 17),
        finished_at=at(2024, 7, 8),
        pauses=pauses,
    )
    assert set(cells_of(d, P, policy)) == {3, 5, 7, column}


@pytest.mark.parametrize("policy", list(PausePolicy))
def test_resolved_on_the_due_date_with_one_request_is_on_time_under_every_policy(
    policy: PausePolicy,
) -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1),
        status=Status.RETURNED,
        due_at=at(2024, 7, 10, 17),
        finished_at=at(2024, 7, 10, 9),
        pauses=ONE_RESUMED,
    )
    assert set(cells_of(d, P, policy)) == {3, 5, 7, 9}


@pytest.mark.parametrize(
    ("policy", "pauses", "column"),
    [
        (PausePolicy.RESTART, TWO_RESUMED, 12),
        (PausePolicy.EXTEND, TWO_RESUMED, 12),
        (PausePolicy.SUBTRACT, TWO_RESUMED, 13),  # a second request counts as late
        (PausePolicy.SUBTRACT, ONE_RESUMED, 12),
    ],
)
def test_pending_not_yet_due_is_overdue_under_subtract_with_two_requests(
    policy: PausePolicy, pauses: tuple[Pause, ...], column: int
) -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1),
        due_at=at(2024, 7, 25, 17),
        pauses=pauses,
        updated_at=at(2024, 7, 5, 9),
    )
    assert set(cells_of(d, P, policy)) == {3, 5, 11, column}


@pytest.mark.parametrize("policy", list(PausePolicy))
def test_two_requests_then_finished_after_the_end_is_pending_at_the_end(
    policy: PausePolicy,
) -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1),
        status=Status.FINISHED,
        due_at=at(2024, 7, 25, 17),
        finished_at=at(2024, 7, 22),
        pauses=TWO_RESUMED,
    )
    expected = 13 if policy is PausePolicy.SUBTRACT else 12
    assert set(cells_of(d, P, policy)) == {3, 5, 11, expected}


@pytest.mark.parametrize("policy", list(PausePolicy))
@pytest.mark.parametrize(
    "pause",
    [Pause(at(2024, 7, 15)), Pause(at(2024, 7, 15), at(2024, 7, 22))],
)
def test_a_request_in_force_at_the_end_keeps_an_overdue_pending_dossier_in_col_12(
    policy: PausePolicy, pause: Pause
) -> None:
    # Due Thu 11/7, before E; one supplement request in force at the end of 19/7.
    d = build_dossier(received_at=at(2024, 7, 1), due_at=at(2024, 7, 11, 17), pauses=(pause,))
    assert set(cells_of(d, P, policy)) == {3, 5, 11, 12}


def test_a_second_request_after_the_end_does_not_make_a_past_period_late_under_subtract() -> None:
    d = build_dossier(
        received_at=at(2024, 7, 1),
        due_at=at(2024, 7, 25, 17),
        pauses=(ONE_RESUMED[0], Pause(at(2024, 7, 22, 9), at(2024, 7, 23, 9))),
        updated_at=at(2024, 7, 23, 9),
    )
    # At the end of 19/7 it had one request, answered, and was not yet due.
    assert set(cells_of(d, P, PausePolicy.SUBTRACT)) == {3, 5, 11, 12}


def test_counts_and_form_tally_apply_the_policy() -> None:
    late = build_dossier(
        received_at=at(2024, 7, 1),
        status=Status.FINISHED,
        due_at=at(2024, 7, 10, 17),
        finished_at=at(2024, 7, 8),
        pauses=TWO_RESUMED,
    )
    pending = build_dossier(
        field_code="LD", received_at=at(2024, 7, 1), due_at=at(2024, 7, 25), pauses=TWO_RESUMED
    )
    sub = counts([late, pending], P, policy=PausePolicy.SUBTRACT)
    assert {row.field_code: as_dict(row) for row in sub.rows} == {
        "DT": {3: 1, 5: 1, 7: 1, 10: 1},
        "LD": {3: 1, 5: 1, 11: 1, 13: 1},
    }
    restart = counts([late, pending], P)
    assert {row.field_code: as_dict(row) for row in restart.rows} == {
        "DT": {3: 1, 5: 1, 7: 1, 8: 1},
        "LD": {3: 1, 5: 1, 11: 1, 12: 1},
    }
    tally = FormTally(P, policy=PausePolicy.SUBTRACT)
    assert tally.add(late) == {3, 5, 7, 10}
    assert tally.result().total.cells == (1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0)


# --- the identities under every pause policy -------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        dossiers(min_day=P.start.replace(day=1), max_day=P.end.replace(day=31), field_codes=FIELDS),
        max_size=10,
    ),
    st.sampled_from(PausePolicy),
)
def test_identities_hold_in_every_row_under_every_policy(
    batch: list[Dossier], policy: PausePolicy
) -> None:
    form = counts(batch, P, field_order=FIELDS, policy=policy)
    assert check_identities(form) == []
    for row in (*form.rows, form.total):
        _check_invariants(row)
    # Each dossier is in col 3 exactly when it has cells, and then in exactly one of 4, 5, 6,
    # one of 7, 11, and one of 8, 9, 10 or of 12, 13.
    for d in batch:
        placed = cells_of(d, P, policy)
        if placed:
            assert 3 in placed
            assert len(placed & {4, 5, 6}) == 1
            assert len(placed & {7, 11}) == 1
            assert len(placed & ({8, 9, 10} if 7 in placed else {12, 13})) == 1
            assert len(placed) == 4


@settings(max_examples=200, deadline=None)
@given(dossiers(min_day=P.start.replace(day=1), max_day=P.end.replace(day=31)))
def test_policies_only_differ_for_a_second_request_under_subtract(d: Dossier) -> None:
    restart = cells_of(d, P, PausePolicy.RESTART)
    assert cells_of(d, P, PausePolicy.EXTEND) == restart
    if len(d.pauses) < 2:
        assert cells_of(d, P, PausePolicy.SUBTRACT) == restart


def test_check_identities_names_the_broken_rows() -> None:
    good = Row("DT", (2, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0))
    bad_received = Row("LD", (2, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0))  # 3 != 4 + 5 + 6
    bad_pending = Row("MT", (1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0))  # 11 != 12 + 13
    total = Row("", (5, 3, 2, 0, 2, 0, 1, 0, 3, 2, 1))  # 7 != 8 + 9 + 10
    form = FormCounts(P, (good, bad_received, bad_pending), total)
    assert check_identities(form) == ["LD", "MT", "total"]
