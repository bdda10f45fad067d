"""Due dates computed from the law, to check the due dates the portals carry (DOMAIN.md §6).

A procedure's resolution time counts working days (Mon-Fri less holidays, plus make-up
Saturdays; `reconcile.calendar`) or calendar days, as the catalogue says, from the day of receipt,
which itself does not count. A paper dossier (in person or by post) received at or after the
cut-off hour (15:00, Decree 61/2018 Art. 18) is taken as received on the next working day; so is
one received on a day off.

Supplement requests stop the clock. What happens next is a policy (`PausePolicy`):

- `restart` (default; Decree 61/2018 Art. 19(4)): the time starts again, whole, from the day the
  complete dossier is received (the last supplement's end, read as a receipt: a day off or a
  paper dossier after the cut-off hour counts from the next working day);
- `extend`: the due date moves later by the working (or calendar) days the pauses lasted;
- `subtract`: Decision 766's methodology subtracts paused time from the time taken, which for
  the due date comes to the same as `extend`.

A fee request (status 6) and processing stopped (status 8) stop the clock too (DOMAIN.md §7),
but the dossier was complete: nothing restarts. Under every policy the due date moves later by
the working (or calendar) days each such stop lasted, counted as a supplement's are under
`extend`; under `restart`, only the stops after the last supplement's end add their days (the
restart absorbed those before it). So the three policies differ only in what a supplement does.

While any stop is in force the dossier has no due date (None): its clock is stopped.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time, timedelta

from reconcile.calendar import WorkingCalendar
from reconcile.model import Channel, Dossier, Procedure, StopKind, local, local_date

PAPER_CUTOFF = time(15, 0)
DUE_TIME = time(17, 0)


class PausePolicy(enum.StrEnum):
    RESTART = "restart"
    EXTEND = "extend"
    SUBTRACT = "subtract"


def receipt_day(
    received_at: datetime, channel: Channel, calendar: WorkingCalendar, cutoff: time = PAPER_CUTOFF
) -> date:
    """The day the resolution time counts from."""
    when = local(received_at)
    day = when.date()
    late_paper = channel is not Channel.ONLINE and when.time() >= cutoff
    if late_paper or not calendar.is_working_day(day):
        day = calendar.add_working_days(day, 1)
    return day


def _add(day: date, days: int, procedure: Procedure, calendar: WorkingCalendar) -> date:
    if procedure.working_days:
        return calendar.add_working_days(day, days)
    return day + timedelta(days=days)


def _paused_days(start: date, end: date, procedure: Procedure, calendar: WorkingCalendar) -> int:
    if procedure.working_days:
        return calendar.working_days_between(start, end)
    return (end - start).days


def due_from(
    received_at: datetime,
    channel: Channel,
    procedure: Procedure,
    calendar: WorkingCalendar,
    cutoff: time = PAPER_CUTOFF,
) -> datetime:
    """The due date (17:00 local) of a dossier received at `received_at`, with no pause."""
    due = _add(
        receipt_day(received_at, channel, calendar, cutoff), procedure.days, procedure, calendar
    )
    return datetime.combine(due, DUE_TIME, local(received_at).tzinfo)


def computed_due(
    d: Dossier,
    procedure: Procedure,
    calendar: WorkingCalendar,
    policy: PausePolicy = PausePolicy.RESTART,
    cutoff: time = PAPER_CUTOFF,
) -> datetime | None:
    """The due date the law gives `d` (17:00 local on the day), or None while its clock is
    stopped by a supplement request, a fee request or a stop still in force."""
    if any(p.resumed_at is None for p in d.pauses):
        return None
    start = receipt_day(d.received_at, d.channel, calendar, cutoff)
    stops = list(d.pauses)
    supplements = d.supplements
    if supplements and policy is PausePolicy.RESTART:
        last = max(p.resumed_at for p in supplements if p.resumed_at is not None)
        start = receipt_day(last, d.channel, calendar, cutoff)
        # What the restart absorbed does not count again; later stops still add their days.
        stops = [
            p
            for p in d.pauses
            if p.kind is not StopKind.SUPPLEMENT and local(p.requested_at) >= local(last)
        ]
    extra = 0
    for p in stops:
        assert p.resumed_at is not None
        extra += _paused_days(
            local_date(p.requested_at), local_date(p.resumed_at), procedure, calendar
        )
    due = _add(start, procedure.days + extra, procedure, calendar)
    return datetime.combine(due, DUE_TIME, local(d.received_at).tzinfo)
