"""Per-dossier deadline flags as of a day (DOMAIN.md §6, overdue handling).

- `overdue`: open (not finished) at the end of `as_of`, with its due date on record before
  `as_of`, and its clock running (no supplement request or stop status in force);
- `late`: finished after its due date (dates, not times);
- `due_soon`: open, clock running, due today or within the next `due_soon_days` working days:
  the last moment to send the applicant the apology letter (form Mẫu 04), which must go out at
  least one day before the deadline;
- `late_no_apology`: overdue or late with no apology letter on record (`apology_at`): a
  compliance finding (Decree 61/2018 Art. 19(9)).

The due date is the one on record (`due_at`), as the report uses it; a dossier without one gets
no flags. Dossiers in statuses 1 and 3 (not accepted) get none either, nor do those withdrawn by
`as_of` (the report counts a withdrawal as on time). Flags as of a past day read what had
happened by then: a dossier withdrawn or given an apology letter later is judged as it stood.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from reconcile.calendar import WorkingCalendar
from reconcile.model import Dossier, Status, local_date


class Flag(enum.StrEnum):
    OVERDUE = "overdue"
    LATE = "late"
    DUE_SOON = "due_soon"
    LATE_NO_APOLOGY = "late_no_apology"


@dataclass(frozen=True, slots=True)
class Flags:
    code: str
    field_code: str
    flags: frozenset[Flag]
    due: date | None
    # Working days past the due date (overdue or late), else 0.
    days_late: int = 0

    def __contains__(self, flag: object) -> bool:
        return flag in self.flags


def flags_of(d: Dossier, as_of: date, calendar: WorkingCalendar, due_soon_days: int = 1) -> Flags:
    """The flags of `d` at the end of day `as_of`, from what had happened by then: the due
    date on record that day, the clock stops in force that day (`reconcile.counts` judges a
    period's end the same way)."""
    due_at = d.due_at_end_of(as_of)
    due = local_date(due_at) if due_at is not None else None
    finished = d.finish_date()
    withdrawn = d.status is Status.WITHDRAWN and finished is not None and finished <= as_of
    if due is None or not d.status.counted or withdrawn or local_date(d.received_at) > as_of:
        return Flags(d.code, d.field_code, frozenset(), due)
    found: set[Flag] = set()
    days_late = 0
    if finished is not None and finished <= as_of:
        if finished > due:
            found.add(Flag.LATE)
            days_late = calendar.working_days_between(due, finished)
    elif not d.clock_stopped_at_end_of(as_of):
        if due < as_of:
            found.add(Flag.OVERDUE)
            days_late = calendar.working_days_between(due, as_of)
        elif due <= calendar.add_working_days(as_of, due_soon_days):
            found.add(Flag.DUE_SOON)
    apology = d.apology_at is not None and local_date(d.apology_at) <= as_of
    if found & {Flag.LATE, Flag.OVERDUE} and not apology:
        found.add(Flag.LATE_NO_APOLOGY)
    return Flags(d.code, d.field_code, frozenset(found), due, days_late)
