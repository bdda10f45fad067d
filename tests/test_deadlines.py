"""Due dates computed from the law: working and calendar days, the 15:00 rule, pauses."""

from __future__ import annotations

from datetime import datetime

import pytest

from reconcile.calendar import WorkingCalendar
from reconcile.deadlines import PausePolicy, computed_due, receipt_day
from reconcile.model import VN_TZ, Channel, Pause, Procedure
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
