"""Compare what the city system and the national portal say about one dossier.

The engine lives in `reconcile.engine` (`decide`: matching, mismatch rules, migrated dossiers,
the corrected record); this module keeps the first API: `compare` of at most one record per
side, under the default `Policy` (the city is the authority for every field), and the names
callers import from here.
"""

from __future__ import annotations

from collections.abc import Collection

from reconcile.engine import (
    AUTHORITY_FIELDS,
    BOTH_SIDES,
    OVERRIDABLE_FIELDS,
    REACHABLE,
    SEVERITY,
    Decision,
    Direction,
    Match,
    MatchMethod,
    Mismatch,
    MismatchKind,
    Policy,
    Severity,
    code_date,
    decide,
    decide_all,
    fingerprint,
    migration_evidence,
    migration_signals,
    receipt_second,
    status_direction,
)
from reconcile.model import Dossier

__all__ = [
    "AUTHORITY_FIELDS",
    "BOTH_SIDES",
    "OVERRIDABLE_FIELDS",
    "REACHABLE",
    "SEVERITY",
    "Decision",
    "Direction",
    "Match",
    "MatchMethod",
    "Mismatch",
    "MismatchKind",
    "Policy",
    "Severity",
    "code_date",
    "compare",
    "decide",
    "decide_all",
    "fingerprint",
    "migration_evidence",
    "migration_signals",
    "receipt_second",
    "status_direction",
]

_DEFAULT_POLICY = Policy()


def compare(
    city: Dossier | None,
    national: Dossier | None,
    procedures: Collection[str] | None = None,
) -> Decision:
    """The decision for one dossier from at most one record per side (`decide` under the
    default policy). With a procedure catalogue, a dossier whose procedure it does not list is
    flagged (kept and counted, never dropped)."""
    if city is None and national is None:
        raise ValueError("compare() needs at least one side")
    return decide(
        [city] if city is not None else [],
        [national] if national is not None else [],
        _DEFAULT_POLICY,
        procedures,
    )
