"""A past period's figures depend only on what happened up to its end (DOMAIN.md §7).

Every stop of the clock (supplement request, fee request, processing stopped) is kept on the
dossier's record with its dates, and so is the due date before each stop, so that a report of
2024-07 made on 20/7/2024 and the same report made a year later are the same when the portals'
data about that period did not change. The dossiers come from scenarios (their true
lifecycles), served as the city system would serve them at each moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.dataset import AGENCY_CODE, Applicant, Dataset
from connectors.scenario import (
    ALLOWED_AFTER,
    STATUS_AFTER,
    Event,
    EventKind,
    Scenario,
    ScenarioDossier,
)
from reconcile.calendar import WorkingCalendar
from reconcile.counts import FormCounts, cells_of, counts
from reconcile.deadlines import PausePolicy
from reconcile.engine import Policy, decide
from reconcile.flags import Flag, flags_of
from reconcile.model import VN_TZ, Channel, Dossier, Procedure, Status
from reconcile.period import Period

P = Period.parse("2024-07")  # 20/6/2024 - 19/7/2024
THE_DAY_AFTER = datetime(2024, 7, 20, 8, 0, tzinfo=VN_TZ)
A_YEAR_LATER = datetime(2025, 7, 20, 8, 0, tzinfo=VN_TZ)
PROCEDURE = Procedure("1.009007", "Cấp Giấy chứng nhận đăng ký đầu tư", "DT", 10)
CALENDAR = WorkingCalendar()


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2024) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


def ev(when: datetime, kind: str, due: datetime | None = None, apology: bool = False) -> Event:
    return Event(when, EventKind(kind), due=due, apology=apology)


DUE = at(7, 15, 17)


def scenario(*lives: Sequence[Event], due: datetime | None = DUE) -> Scenario:
    return Scenario(
        agency=AGENCY_CODE,
        now=THE_DAY_AFTER,
        procedures=(PROCEDURE,),
        fields={"DT": "Đầu tư"},
        dossiers=tuple(
            ScenarioDossier(
                code=f"{AGENCY_CODE}-{events[0].at:%y%m%d}-{n:04d}",
                procedure=PROCEDURE.code,
                channel=Channel.ONLINE,
                digitised=True,
                due=due,
                applicant=Applicant(f"Người nộp {n}", f"0310{n:08d}", f"09{n:08d}"),
                events=tuple(events),
            )
            for n, events in enumerate(lives, 1)
        ),
    )


def city_at(s: Scenario, when: datetime) -> list[Dossier]:
    return list(s.views(when).city)


def places(
    s: Scenario, when: datetime, policy: PausePolicy = PausePolicy.RESTART
) -> list[set[int]]:
    return [set(cells_of(d, P, policy)) for d in city_at(s, when)]


RECEIVED = ev(at(7, 1), "received")
PROCESSING = ev(at(7, 1, 10), "processing")

# The cases found: due 15/7, the clock stopped from 5/7 until after the period, the due date
# on record left where it was (as the issue found it; `test_deadlines` has the date the law
# gives after the stop).
STOPPED_OVER_THE_END = {
    "fees requested 5/7, paid 22/7": [
        RECEIVED,
        PROCESSING,
        ev(at(7, 5), "fees_requested"),
        ev(at(7, 22), "fees_paid"),
        ev(at(7, 29), "finished"),
        ev(at(7, 30), "returned"),
    ],
    "stopped 5/7, resumed 22/7": [
        RECEIVED,
        PROCESSING,
        ev(at(7, 5), "stopped"),
        ev(at(7, 22), "resumed"),
        ev(at(7, 29), "finished"),
    ],
    "fees requested 5/7, then withdrawn 22/7": [
        RECEIVED,
        PROCESSING,
        ev(at(7, 5), "fees_requested"),
        ev(at(7, 22), "withdrawn"),
    ],
}


@pytest.mark.parametrize("name", list(STOPPED_OVER_THE_END))
def test_a_clock_stopped_over_the_periods_end_is_in_time_whenever_the_report_is_made(
    name: str,
) -> None:
    s = scenario(STOPPED_OVER_THE_END[name])
    assert places(s, THE_DAY_AFTER) == [{3, 4, 11, 12}]  # pending, clock stopped: in time
    assert places(s, A_YEAR_LATER) == [{3, 4, 11, 12}]
    # The stop is on the record with its dates once it has ended.
    (record,) = city_at(s, A_YEAR_LATER)
    assert [(p.kind.value, p.requested_at) for p in record.pauses] == [
        (STOPPED_OVER_THE_END[name][2].event.value.split("_")[0], at(7, 5))
    ]


def test_a_stop_that_ended_within_the_period_leaves_the_dossier_overdue() -> None:
    s = scenario([RECEIVED, PROCESSING, ev(at(7, 5), "fees_requested"), ev(at(7, 8), "fees_paid")])
    assert places(s, THE_DAY_AFTER) == places(s, A_YEAR_LATER) == [{3, 4, 11, 13}]


def test_a_supplement_requested_after_the_end_does_not_rescue_an_overdue_dossier() -> None:
    """Overdue at 19/7 (due 15/7); a supplement requested on 25/7 restarts the time and moves
    the due date to 12/8. The period's figure stays overdue: the date before the request is
    on the record with the request."""
    s = scenario(
        [
            RECEIVED,
            PROCESSING,
            ev(at(7, 25), "supplement_requested"),
            ev(at(7, 29), "supplement_completed", due=at(8, 12, 17)),
        ]
    )
    assert places(s, THE_DAY_AFTER) == places(s, A_YEAR_LATER) == [{3, 4, 11, 13}]
    (later,) = city_at(s, A_YEAR_LATER)
    assert later.due_at == at(8, 12, 17)
    assert later.due_at_end_of(P.end) == at(7, 15, 17)
    overdue = {
        f.code
        for d in city_at(s, A_YEAR_LATER)
        if "overdue" in (f := flags_of(d, P.end, CALENDAR)).flags
    }
    assert overdue == {later.code}


def test_the_subtract_policy_counts_second_supplement_requests_only() -> None:
    """Decision 766: a second supplement request makes a dossier late; a fee request and a
    stop are not supplement requests."""
    one_supplement_and_stops = scenario(
        [
            RECEIVED,
            PROCESSING,
            ev(at(7, 2), "supplement_requested"),
            ev(at(7, 3), "supplement_completed", due=at(7, 17, 17)),
            ev(at(7, 4), "fees_requested"),
            ev(at(7, 5), "fees_paid", due=at(7, 18, 17)),
            ev(at(7, 8), "stopped"),
            ev(at(7, 9), "resumed", due=at(7, 19, 17)),
            ev(at(7, 10), "finished"),
        ],
    )
    assert places(one_supplement_and_stops, A_YEAR_LATER, PausePolicy.SUBTRACT) == [{3, 4, 7, 8}]
    two_supplements = scenario(
        [
            RECEIVED,
            PROCESSING,
            ev(at(7, 2), "supplement_requested"),
            ev(at(7, 3), "supplement_completed", due=at(7, 17, 17)),
            ev(at(7, 4), "supplement_requested"),
            ev(at(7, 5), "supplement_completed", due=at(7, 19, 17)),
            ev(at(7, 10), "finished"),
        ],
    )
    assert places(two_supplements, A_YEAR_LATER, PausePolicy.SUBTRACT) == [{3, 4, 7, 10}]


# --------------------------------------------------------------------------------------------
# The property: for generated histories, a report made after any later events is unchanged.

_KINDS = [k for k in EventKind if k not in (EventKind.REGISTERED, EventKind.RECEIVED)]
_STOPS = frozenset(
    {
        EventKind.SUPPLEMENT_REQUESTED,
        EventKind.SUPPLEMENT_COMPLETED,
        EventKind.FEES_REQUESTED,
        EventKind.FEES_PAID,
        EventKind.STOPPED,
        EventKind.RESUMED,
        EventKind.WITHDRAWN,
    }
)
# Minutes between two steps: within the hour, within days, within weeks.
_GAPS = st.integers(0, 60) | st.integers(60, 4 * 1440) | st.integers(4 * 1440, 20 * 1440)


@st.composite
def lives(draw: st.DrawFn) -> tuple[list[Event], datetime]:
    """One dossier's true lifecycle: received between 1/6 and 25/7/2024 (so before, in and
    after the period), then steps the lifecycle allows, minutes to days apart, the due date
    moved as systems move it (a completed supplement restarts the time; the end of a fee
    request or a stop extends it, or leaves it; an apology letter at least a day before the
    deadline).

    A refusal after acceptance is left out: neither portal dates it apart from other changes
    (docs/scenario.md), so a period it ends cannot be told from its record."""
    start = datetime(2024, 6, 1, 7, tzinfo=VN_TZ)
    received = start + timedelta(
        minutes=draw(st.integers(0, 55 * 1440) | st.integers(35 * 1440, 49 * 1440))
    )
    events: list[Event] = []
    if draw(st.booleans()):
        events.append(ev(received - timedelta(hours=draw(st.integers(1, 48))), "registered"))
    events.append(ev(received, "received"))
    due = datetime.combine(
        (received + timedelta(days=draw(st.integers(1, 30)))).date(), datetime.min.time(), VN_TZ
    ) + timedelta(hours=17)
    initial = due
    status: Status | None = Status.ACCEPTED
    stopped_at: datetime | None = None
    when = received
    for _ in range(draw(st.integers(1, 7))):
        allowed = [
            k
            for k in _KINDS
            if status in ALLOWED_AFTER[k]
            and not (k is EventKind.REFUSED and status is Status.ACCEPTED)
        ]
        if not allowed:
            break
        # Stops of the clock, the heart of the matter, come up often.
        kind = draw(st.sampled_from([*allowed, *[k for k in allowed if k in _STOPS] * 2]))
        when = when + timedelta(minutes=draw(_GAPS))
        new_due: datetime | None = None
        apology = False
        if kind is EventKind.SUPPLEMENT_COMPLETED:
            new_due = when + timedelta(days=draw(st.integers(1, 30)))
        elif kind in (EventKind.FEES_PAID, EventKind.RESUMED) and stopped_at is not None:
            # Some systems move the date by the time stopped, others leave it.
            new_due = due + (when - stopped_at) if draw(st.booleans()) else None
        elif (
            kind is EventKind.PROCESSING and draw(st.booleans()) and due - when >= timedelta(days=1)
        ):
            new_due, apology = due + timedelta(days=draw(st.integers(1, 10))), True
        if kind in (EventKind.SUPPLEMENT_REQUESTED, EventKind.FEES_REQUESTED, EventKind.STOPPED):
            stopped_at = when
        events.append(ev(when, kind.value, new_due, apology))
        due = new_due or due
        status = STATUS_AFTER[kind]
    return events, initial


@settings(max_examples=400, deadline=None)
@given(
    st.lists(lives(), min_size=1, max_size=10),
    st.integers(0, 5 * 24) | st.integers(0, 40 * 24),
    st.integers(1, 400 * 24),
    st.sampled_from(PausePolicy),
)
def test_a_past_periods_report_is_the_same_after_any_later_events(
    histories: list[tuple[list[Event], datetime]],
    hours_after_end: int,
    hours_later: int,
    policy: PausePolicy,
) -> None:
    s = Scenario(
        agency=AGENCY_CODE,
        now=THE_DAY_AFTER,
        procedures=(PROCEDURE,),
        fields={"DT": "Đầu tư"},
        dossiers=tuple(
            ScenarioDossier(
                code=f"{AGENCY_CODE}-240101-{n:04d}",
                procedure=PROCEDURE.code,
                channel=Channel.ONLINE,
                digitised=True,
                due=initial,
                applicant=Applicant(f"Người nộp {n}", f"0310{n:08d}", f"09{n:08d}"),
                events=tuple(events),
            )
            for n, (events, initial) in enumerate(histories, 1)
        ),
    )
    first = datetime(2024, 7, 20, tzinfo=VN_TZ) + timedelta(hours=hours_after_end)
    later = first + timedelta(hours=hours_later)
    then, now = s.views(first), s.views(later)
    by_code = {d.code: d for d in now.city}
    for before in then.city:
        after = by_code[before.code]
        assert cells_of(before, P, policy) == cells_of(after, P, policy), (before, after)
        # The overdue list at the period's last day is its col 13: as stable. ("Due soon" looks
        # ahead from the date on record: an apology letter after E moves it, as it should.)
        judged = {Flag.OVERDUE, Flag.LATE}
        was, now_flags = (flags_of(d, P.end, CALENDAR).flags & judged for d in (before, after))
        assert was == now_flags, (before, after)
    # The reconciled form (both portals, undistorted) as well as the city's own.
    for view in (then, now):
        assert {d.code for d in view.city} == {d.code for d in view.national}

    def reconciled(view: Dataset) -> FormCounts:
        national = {d.code: d for d in view.national}
        corrected = [
            decide([c], [national[c.code]], Policy(pause_policy=policy)).corrected
            for c in view.city
        ]
        return counts(corrected, P, ["DT"], policy)

    assert reconciled(then) == reconciled(now)
    assert counts(then.city, P, ["DT"], policy) == counts(now.city, P, ["DT"], policy)


def test_the_period_under_test() -> None:
    assert (P.start, P.end) == (date(2024, 6, 20), date(2024, 7, 19))
