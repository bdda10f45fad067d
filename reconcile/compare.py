"""Compare what the city system and the national portal say about one dossier.

`compare` is a pure function of the two records: it returns the mismatches it sees and the
corrected record. The city system is the system of record for processing status and dates
(dossiers are handled there), so the corrected record is the city's when it has one.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

from reconcile.model import Dossier, Status


class MismatchKind(enum.StrEnum):
    MISSING_NATIONAL = "missing_national"
    MISSING_CITY = "missing_city"
    STATUS = "status"
    UNKNOWN_PROCEDURE = "unknown_procedure"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Direction(enum.StrEnum):
    """Where the national status stands relative to the city's along the lifecycle."""

    BEHIND = "behind"
    AHEAD = "ahead"
    CONTRADICTS = "contradicts"


# Position along the lifecycle; statuses sharing a rank are alternatives, not steps.
_RANK = {
    Status.REGISTERED: 0,
    Status.REFUSED: 1,
    Status.ACCEPTED: 1,
    Status.PROCESSING: 2,
    Status.SUPPLEMENT_REQUESTED: 2,
    Status.AWAITING_FEES: 2,
    Status.STOPPED: 2,
    Status.FINISHED: 3,
    Status.WITHDRAWN: 4,
    Status.RETURNED: 4,
}
_TERMINAL_ALTERNATIVES = {Status.REFUSED, Status.WITHDRAWN}


def status_direction(city: Status, national: Status) -> Direction:
    if city in _TERMINAL_ALTERNATIVES or national in _TERMINAL_ALTERNATIVES:
        return Direction.CONTRADICTS
    if _RANK[national] < _RANK[city]:
        return Direction.BEHIND
    if _RANK[national] > _RANK[city]:
        return Direction.AHEAD
    return Direction.CONTRADICTS


@dataclass(frozen=True, slots=True)
class Mismatch:
    code: str
    kind: MismatchKind
    severity: Severity
    city_value: str | None
    national_value: str | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    code: str
    corrected: Dossier | None
    mismatches: tuple[Mismatch, ...]


def compare(
    city: Dossier | None,
    national: Dossier | None,
    procedures: Collection[str] | None = None,
) -> Decision:
    """The decision for one dossier. With a procedure catalogue, a dossier whose procedure it
    does not list is flagged (kept and counted, never dropped)."""
    present = city or national
    if present is None:
        raise ValueError("compare() needs at least one side")
    code = present.code
    mismatches: list[Mismatch] = []
    if city is None:
        mismatches.append(
            Mismatch(code, MismatchKind.MISSING_CITY, Severity.HIGH, None, str(int(present.status)))
        )
    elif national is None:
        if city.status.counted:
            mismatches.append(
                Mismatch(
                    code,
                    MismatchKind.MISSING_NATIONAL,
                    Severity.MEDIUM,
                    str(int(city.status)),
                    None,
                )
            )
    elif city.status != national.status:
        direction = status_direction(city.status, national.status)
        severity = Severity.MEDIUM if direction is Direction.BEHIND else Severity.HIGH
        mismatches.append(
            Mismatch(
                code,
                MismatchKind.STATUS,
                severity,
                str(int(city.status)),
                str(int(national.status)),
                direction.value,
            )
        )
    corrected = city or national
    if procedures and corrected is not None and corrected.procedure_code not in procedures:
        mismatches.append(
            Mismatch(
                code,
                MismatchKind.UNKNOWN_PROCEDURE,
                Severity.LOW,
                city.procedure_code if city else None,
                national.procedure_code if national else None,
            )
        )
    return Decision(code, corrected, tuple(mismatches))
