"""What write-back should change on the national portal, decided with the reconciliation.

`plan` turns a decision whose mismatches are safe to fix (`Mismatch.auto_resolvable`: the
national portal missing a dossier the city counts, or behind the city by forward transitions
while the city is the authority for the status) into a `Plan`: create the record, or update
only the fields the correction is about, each from the value the national portal had when the
decision was made to the corrected one, with the reasons. Nothing else of the national record is
touched: an update carries the status and the dates the new status implies (a finish date for
9, 7 or 10, a return date for 10) when the national record lacks them or has others, never the
receipt date, the due date, the channel or the codes, which operators review.

The plan is data the outbox keeps (syncd.outbox); the pusher applies it later to the national
record as it is then (merging, never moving a status backwards, re-deciding when the record
changed since `base_version`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from reconcile.engine import REACHABLE, Decision, MismatchKind, Policy
from reconcile.model import Dossier, Source, Status

Action = Literal["create", "update"]

# The fields a status correction carries with it: the dates its new status implies.
_DATES_OF: Mapping[Status, tuple[str, ...]] = {
    Status.WITHDRAWN: ("finished_at",),
    Status.FINISHED: ("finished_at",),
    Status.RETURNED: ("finished_at", "returned_at"),
}
# What a created record carries (every field the canonical record has for the portal).
CREATED_FIELDS: tuple[str, ...] = (
    "procedure_code",
    "field_code",
    "channel",
    "status",
    "received_at",
    "due_at",
    "finished_at",
    "returned_at",
    "digitised",
)


@dataclass(frozen=True, slots=True)
class Step:
    """A processing step for `CapNhatTienDoHoSoMC`: the dossier reached `status` at `at`."""

    at: datetime
    status: Status


@dataclass(frozen=True, slots=True)
class Plan:
    """One dossier's push. `code`: the national record to write (the matched national code, or
    the dossier key for a record to create); `codes`: every code the dossier is known by, to
    look the national record up under before writing; `changes`: field -> (value the national
    portal had, value to write), as text (`field_text`); `base_version`: the national record's
    version the plan was made from (None: it had none); `target`: the record as it should be."""

    key: str
    code: str
    codes: tuple[str, ...]
    action: Action
    changes: Mapping[str, tuple[str | None, str | None]]
    reasons: tuple[str, ...]
    base_version: int | None
    target: Dossier
    steps: tuple[Step, ...] = ()

    @property
    def target_status(self) -> Status:
        return self.target.status


def field_text(d: Dossier | None, name: str) -> str | None:
    """A field as text: statuses and channels as their number, times in ISO 8601, flags as
    true/false; None when absent."""
    if d is None:
        return None
    value = getattr(d, name)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Status | int):
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _national_of(decision: Decision) -> Dossier | None:
    if not decision.matches:
        return None
    code = decision.matches[0].national_code
    return next(
        (r for r in decision.records if r.source is Source.NATIONAL and r.code == code), None
    )


def plan(decision: Decision, policy: Policy) -> Plan | None:
    """The push that fixes what this decision found safe to fix, or None (nothing to push).
    An update never writes a field whose authority is the national portal."""
    target = decision.push
    if target is None:
        return None
    reasons = tuple(
        f"{m.kind.value} {m.detail}".strip() for m in decision.mismatches if m.auto_resolvable
    )
    national = _national_of(decision)
    codes = tuple(sorted({decision.key, target.code, *decision.corrected.alt_codes}))
    if national is None:
        created: dict[str, tuple[str | None, str | None]] = {
            name: (None, field_text(target, name))
            for name in CREATED_FIELDS
            if field_text(target, name) is not None
        }
        return Plan(
            decision.key,
            target.code,
            codes,
            "create",
            created,
            reasons,
            None,
            target,
        )
    names: list[str] = []
    steps: tuple[Step, ...] = ()
    if any(m.kind is MismatchKind.STATUS and m.auto_resolvable for m in decision.mismatches):
        names.append("status")
        names += _DATES_OF.get(target.status, ())
        names = [n for n in names if policy.source_of(n) is Source.CITY]
        steps = (Step(target.updated_at, target.status),)
    changes = {
        name: (field_text(national, name), field_text(target, name))
        for name in names
        if field_text(target, name) is not None
        and field_text(national, name) != field_text(target, name)
    }
    if "status" not in changes:
        return None  # dates move only with the status they belong to
    return Plan(
        decision.key,
        national.code,
        codes,
        "update",
        changes,
        reasons,
        national.version,
        target,
        steps,
    )


def moves_forward(current: Status, target: Status) -> bool:
    """Whether writing `target` over `current` moves the national status forward (never
    backwards, and not to where it already is)."""
    return target != current and target in REACHABLE[current]
