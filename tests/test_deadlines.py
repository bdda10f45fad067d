"""Due dates computed from the law: working and calendar days, the 15:00 rule, pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from reconcile.calendar import WorkingCalendar
from reconcile.deadlines import PausePolicy, computed_due, receipt_day
from reconcile.model import VN_TZ, Channel, Pause, Procedure, StopKind
from tests.strategies import build_dossier

CAL = WorkingCalendar()
FIVE_WORKING = Procedure("1.009007", "Đăng ký đầu tư", "DT", 5)
TEN_CALENDAR = Procedure("1.009014", "Điều chỉnh", "DT", 10, working_days=False)


def at(day: int, hour: int = 10, minute: int = 0, month: int = 7) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=VN_TZ)


def due(
    received: datetime,
    channel: Channel = Channel.ONLINE,
    procedure: Procedure = FIVE_WORKING,
    pauses: tuple[Pause, ...] = (),
    policy: PausePolicy = PausePolicy.RESTART,
) -> datetime | None:
    d = build_dossier(received_at=received, channel=channel, pauses=pauses)
    return computed_due(d, procedure, CAL, policy)


def test_five_working_days_from_a_monday() -> None:
    assert due(at(1)) == at(8, 17)  # Mon 1/7 -> Mon 8/7, 17:00


@pytest.mark.parametrize(
    ("channel", "received", "expected"),
    [
        (Channel.DIRECT, at(1, 15, 1), at(9, 17)),  # paper after 15:00: counts from Tue 2/7
        (Channel.POSTAL, at(1, 15, 0), at(9, 17)),  # at 15:00 sharp: after the cut-off
        (Channel.DIRECT, at(1, 14, 59), at(8, 17)),
        (Channel.ONLINE, at(1, 16, 30), at(8, 17)),  # the rule is for paper dossiers
    ],
)
def test_paper_dossiers_received_after_15_count_from_the_next_working_day(
    channel: Channel, received: datetime, expected: datetime
) -> None:
    assert due(received, channel) == expected


def test_a_dossier_received_on_a_day_off_counts_from_the_next_working_day() -> None:
    assert receipt_day(at(6), Channel.ONLINE, CAL).isoformat() == "2024-07-08"
    assert due(at(6)) == at(15, 17)  # Sat 6/7 -> counts from Mon 8/7 -> Mon 15/7


def test_calendar_days_count_every_day() -> None:
    assert due(at(1), procedure=TEN_CALENDAR) == at(11, 17)


def test_working_days_step_over_holidays_and_count_the_make_up_saturday() -> None:
    three = Procedure("1.0", "x", "DT", 3)
    # Fri 26/4/2024: Mon 29/4, Tue 30/4, Wed 1/5 off; Thu 2/5, Fri 3/5, Sat 4/5 worked.
    assert due(at(26, month=4), procedure=three) == at(4, 17, month=5)


PAUSE = (Pause(at(3, 9), at(5, 9)),)  # supplement requested Wed 3/7, complete Fri 5/7


def test_restart_counts_the_whole_time_again_from_the_complete_dossier() -> None:
    assert due(at(1), pauses=PAUSE) == at(12, 17)  # Fri 5/7 + 5 working days


@pytest.mark.parametrize("policy", [PausePolicy.EXTEND, PausePolicy.SUBTRACT])
def test_extend_and_subtract_move_the_due_date_by_the_pause(policy: PausePolicy) -> None:
    assert due(at(1), pauses=PAUSE, policy=policy) == at(10, 17)  # 8/7 + Thu 4, Fri 5


def test_a_pause_in_force_stops_the_clock() -> None:
    assert due(at(1), pauses=(Pause(at(3, 9)),)) is None


# --- the 15:00 rule at its edges --------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "channel", "day"),
    [
        (at(1, 15, 1), Channel.ONLINE, date(2024, 7, 1)),  # online: the same day
        (at(1, 15, 1), Channel.DIRECT, date(2024, 7, 2)),
        (at(1, 15, 1), Channel.POSTAL, date(2024, 7, 2)),
        (at(1, 14, 59), Channel.DIRECT, date(2024, 7, 1)),
        (at(1, 14, 59), Channel.POSTAL, date(2024, 7, 1)),
    ],
)
def test_receipt_day_around_the_paper_cutoff(
    received: datetime, channel: Channel, day: date
) -> None:
    assert receipt_day(received, channel, CAL) == day


def test_online_at_15_01_counts_from_the_same_day_and_paper_from_the_next() -> None:
    assert due(at(1, 15, 1), Channel.ONLINE) == at(8, 17)  # Mon 1/7 + 5 -> Mon 8/7
    assert due(at(1, 15, 1), Channel.DIRECT) == at(9, 17)  # from Tue 2/7 -> Tue 9/7


@pytest.mark.parametrize(
    ("received", "channel", "expected"),
    [
        # Fri 5/7 15:30 on paper: taken as received Mon 8/7; Tue 9 .. Mon 15/7.
        (at(5, 15, 30), Channel.DIRECT, at(15, 17)),
        (at(5, 15, 30), Channel.POSTAL, at(15, 17)),
        # Online, or on paper before 15:00: received Fri 5/7; Mon 8 .. Fri 12/7.
        (at(5, 15, 30), Channel.ONLINE, at(12, 17)),
        (at(5, 14, 59), Channel.DIRECT, at(12, 17)),
    ],
)
def test_a_paper_dossier_received_friday_after_15_counts_from_monday(
    received: datetime, channel: Channel, expected: datetime
) -> None:
    assert due(received, channel) == expected


def test_friday_26_4_2024_after_15_on_paper_counts_from_thursday_2_5() -> None:
    # Mon 29/4 (swapped for Sat 4/5), Tue 30/4 and Wed 1/5 are off.
    fri = at(26, 15, 30, month=4)
    assert receipt_day(fri, Channel.DIRECT, CAL) == date(2024, 5, 2)
    assert receipt_day(fri, Channel.POSTAL, CAL) == date(2024, 5, 2)
    assert receipt_day(fri, Channel.ONLINE, CAL) == date(2024, 4, 26)
    # From Thu 2/5: Fri 3/5, Sat 4/5 (worked), Mon 6/5, Tue 7/5, Wed 8/5.
    assert due(fri, Channel.DIRECT) == at(8, 17, month=5)
    # Online, from Fri 26/4: Thu 2/5, Fri 3/5, Sat 4/5, Mon 6/5, Tue 7/5.
    assert due(fri, Channel.ONLINE) == at(7, 17, month=5)


@pytest.mark.parametrize("channel", list(Channel))
def test_received_on_a_holiday_counts_from_the_next_working_day(channel: Channel) -> None:
    assert receipt_day(at(30, 9, month=4), channel, CAL) == date(2024, 5, 2)
    assert receipt_day(at(29, 9, month=4), channel, CAL) == date(2024, 5, 2)


def test_the_cutoff_compares_local_times_not_utc_ones() -> None:
    # 08:01 UTC is 15:01 in Hanoi: a paper dossier counts from Tue 2/7.
    assert receipt_day(datetime(2024, 7, 1, 8, 1, tzinfo=UTC), Channel.DIRECT, CAL) == date(
        2024, 7, 2
    )
    assert receipt_day(datetime(2024, 7, 1, 7, 59, tzinfo=UTC), Channel.DIRECT, CAL) == date(
        2024, 7, 1
    )
    # 17:30 UTC on Thu 4/7 is 00:30 on Fri 5/7 in Hanoi.
    assert receipt_day(datetime(2024, 7, 4, 17, 30, tzinfo=UTC), Channel.ONLINE, CAL) == date(
        2024, 7, 5
    )
    d = build_dossier(received_at=datetime(2024, 7, 1, 8, 1, tzinfo=UTC), channel=Channel.DIRECT)
    assert computed_due(d, FIVE_WORKING, CAL) == at(9, 17)


def test_the_cutoff_hour_is_a_parameter() -> None:
    d = build_dossier(received_at=at(1, 15, 30), channel=Channel.DIRECT)
    assert computed_due(d, FIVE_WORKING, CAL, cutoff=time(16, 0)) == at(8, 17)
    late = build_dossier(received_at=at(1, 16, 0), channel=Channel.DIRECT)
    assert computed_due(late, FIVE_WORKING, CAL, cutoff=time(16, 0)) == at(9, 17)


def test_the_due_time_is_17_00_in_hanoi() -> None:
    got = due(at(1))
    assert got is not None
    assert got.utcoffset() == timedelta(hours=7)
    assert (got.hour, got.minute) == (17, 0)


# --- supplement requests under each policy ---------------------------------------------------

# Received Mon 1/7 online; supplements requested Wed 3/7 (complete Fri 5/7) and Tue 9/7
# (complete Thu 11/7).
TWO_PAUSES = (Pause(at(3, 9), at(5, 9)), Pause(at(9, 9), at(11, 9)))


def test_restart_counts_again_from_the_last_complete_dossier() -> None:
    # From Thu 11/7: Fri 12, Mon 15, Tue 16, Wed 17, Thu 18/7.
    assert due(at(1), pauses=TWO_PAUSES) == at(18, 17)
    assert due(at(1), pauses=TWO_PAUSES[::-1]) == at(18, 17)


@pytest.mark.parametrize("policy", [PausePolicy.EXTEND, PausePolicy.SUBTRACT])
def test_extend_and_subtract_add_up_the_working_days_of_every_pause(policy: PausePolicy) -> None:
    # 5 + 2 (Thu 4, Fri 5) + 2 (Wed 10, Thu 11) = 9 working days after Mon 1/7: Fri 12/7.
    assert due(at(1), pauses=TWO_PAUSES, policy=policy) == at(12, 17)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (PausePolicy.RESTART, at(15, 17)),  # from Mon 8/7 + 5
        (PausePolicy.EXTEND, at(9, 17)),  # Fri 5 -> Mon 8/7 holds one working day: 6 from 1/7
        (PausePolicy.SUBTRACT, at(9, 17)),
    ],
)
def test_a_pause_over_a_weekend_counts_its_working_days_only(
    policy: PausePolicy, expected: datetime
) -> None:
    pause = (Pause(at(5, 9), at(8, 9)),)
    assert due(at(1), pauses=pause, policy=policy) == expected


@pytest.mark.parametrize("policy", [PausePolicy.EXTEND, PausePolicy.SUBTRACT])
def test_a_pause_over_the_april_may_holidays(policy: PausePolicy) -> None:
    # Received Tue 23/4; paused Fri 26/4 -> Thu 2/5: only Thu 2/5 is a working day in it.
    # 5 + 1 = 6 working days: Wed 24, Thu 25, Fri 26/4, Thu 2, Fri 3, Sat 4/5 (make-up day).
    pause = (Pause(at(26, 9, month=4), at(2, 9, month=5)),)
    assert due(at(23, month=4), pauses=pause, policy=policy) == at(4, 17, month=5)
    assert due(at(23, month=4)) == at(3, 17, month=5)


def test_a_pause_resumed_the_day_it_was_requested_moves_nothing_under_extend() -> None:
    pause = (Pause(at(3, 9), at(3, 16)),)
    assert due(at(1), pauses=pause, policy=PausePolicy.EXTEND) == at(8, 17)
    assert due(at(1), pauses=pause) == at(10, 17)  # restart: from Wed 3/7


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (PausePolicy.RESTART, at(15, 17)),  # Fri 5/7 + 10 calendar days
        (PausePolicy.EXTEND, at(13, 17)),  # Mon 1/7 + 10 + 2 (3/7 -> 5/7)
        (PausePolicy.SUBTRACT, at(13, 17)),
    ],
)
def test_pauses_of_a_calendar_day_procedure_count_calendar_days(
    policy: PausePolicy, expected: datetime
) -> None:
    assert due(at(1), procedure=TEN_CALENDAR, pauses=PAUSE, policy=policy) == expected


def test_calendar_days_count_from_the_next_working_day_after_a_late_paper_receipt() -> None:
    # Fri 5/7 15:30 on paper: taken as received Mon 8/7; + 10 calendar days = Thu 18/7.
    assert due(at(5, 15, 30), Channel.DIRECT, procedure=TEN_CALENDAR) == at(18, 17)


@pytest.mark.parametrize("policy", list(PausePolicy))
def test_any_pause_still_in_force_stops_the_clock_under_every_policy(
    policy: PausePolicy,
) -> None:
    pauses = (Pause(at(3, 9), at(5, 9)), Pause(at(9, 9)))
    assert due(at(1), pauses=pauses, policy=policy) is None


def test_restart_after_a_supplement_completed_on_a_day_off_counts_from_the_next_working_day() -> (
    None
):
    # The complete dossier received Sat 6/7 is read as a receipt: from Mon 8/7, + 5 = Mon 15/7,
    # as for a dossier first received that Saturday.
    pause = (Pause(at(3, 9), at(6, 10)),)
    assert due(at(1), pauses=pause) == due(at(6, 10)) == at(15, 17)


@pytest.mark.parametrize(
    ("channel", "resumed", "expected"),
    [
        (Channel.DIRECT, at(5, 15, 30), at(15, 17)),  # paper after 15:00: from Mon 8/7
        (Channel.POSTAL, at(5, 15, 0), at(15, 17)),
        (Channel.DIRECT, at(5, 14, 59), at(12, 17)),  # before 15:00: from Fri 5/7
        (Channel.ONLINE, at(5, 15, 30), at(12, 17)),  # online: the same day
    ],
)
def test_restart_reads_the_complete_dossier_as_a_receipt_under_the_15_00_rule(
    channel: Channel, resumed: datetime, expected: datetime
) -> None:
    pause = (Pause(at(3, 9), resumed),)
    assert due(at(1, 9), channel, pauses=pause) == expected


# --- fee requests and stops: the clock stops, nothing restarts -------------------------------

FEES = Pause(at(3, 9), at(5, 9), StopKind.FEES)  # fees asked Wed 3/7, paid Fri 5/7
STOP = Pause(at(3, 9), at(5, 9), StopKind.STOPPED)


@pytest.mark.parametrize("stop", [FEES, STOP])
@pytest.mark.parametrize("policy", list(PausePolicy))
def test_a_fee_request_or_a_stop_moves_the_due_date_by_its_working_days_under_every_policy(
    stop: Pause, policy: PausePolicy
) -> None:
    # The dossier was complete: the time does not restart, it stands still (Thu 4, Fri 5).
    assert due(at(1), pauses=(stop,), policy=policy) == at(10, 17)
    assert due(at(1), procedure=TEN_CALENDAR, pauses=(stop,), policy=policy) == at(13, 17)


@pytest.mark.parametrize("kind", [StopKind.FEES, StopKind.STOPPED])
@pytest.mark.parametrize("policy", list(PausePolicy))
def test_a_fee_request_or_stop_in_force_stops_the_clock(
    kind: StopKind, policy: PausePolicy
) -> None:
    assert due(at(1), pauses=(Pause(at(3, 9), None, kind),), policy=policy) is None


def test_restart_then_fees_the_fees_add_their_days_to_the_restarted_time() -> None:
    supplement = Pause(at(2, 9), at(3, 9))  # restart from Wed 3/7: + 5 = Wed 10/7
    fees = Pause(at(4, 9), at(5, 9), StopKind.FEES)  # then one working day stopped (Fri 5)
    assert due(at(1), pauses=(supplement, fees)) == at(11, 17)
    # Extend and subtract add every stop's days: 1 (Wed 3) + 1 (Fri 5) to Mon 8/7.
    assert due(at(1), pauses=(supplement, fees), policy=PausePolicy.EXTEND) == at(10, 17)


def test_restart_absorbs_a_fee_request_made_before_the_supplement() -> None:
    fees = Pause(at(2, 9), at(3, 9), StopKind.FEES)
    supplement = Pause(at(4, 9), at(5, 9))  # the time starts again, whole, from Fri 5/7
    assert due(at(1), pauses=(fees, supplement)) == at(12, 17)
