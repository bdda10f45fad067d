"""A generated set of dossiers that both mock portals serve, with known disagreements.

`Dataset` is what the mocks serve at one mock time: each portal's canonical records, the personal
data served with each code, and `expected` — per dossier code, which mismatch kinds
reconciliation must find. Datasets are views of a scenario (`connectors.scenario`): each dossier's
true lifecycle plus, per portal, the distortions of DOMAIN.md §5 (a missing record, a lagging or
collapsed status, a rewritten code, shifted dates, a duplicate, placeholder data, a wrong channel,
migrated dossiers). `generate` is `scenario.generate(...).views(now)`, deterministic from a seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from reconcile.compare import MismatchKind
from reconcile.model import VN_TZ, Dossier, Procedure, Source

AGENCY_CODE = "000.00.45.H26"
# The 54 procedures of Decision 4356/QĐ-UBND by field, as the seed report lists them.
PROCEDURES_PER_FIELD = {"DT": 23, "LD": 1, "MT": 9, "DD": 5, "TM": 5, "XNK": 2, "XD": 5, "QH": 4}
DEFAULT_NOW = datetime(2024, 7, 25, 17, 0, tzinfo=VN_TZ)


@dataclass(frozen=True, slots=True)
class Applicant:
    """Personal data the portals carry and syncd must never store or log."""

    name: str
    id_number: str
    phone: str


@dataclass(frozen=True)
class Dataset:
    city: tuple[Dossier, ...]
    national: tuple[Dossier, ...]
    applicants: Mapping[str, Applicant]
    # Per served code, what its two records disagree on before any matching: a side lacking it,
    # or a different status. What reconciliation makes of a dossier is the engine's business.
    expected: Mapping[str, frozenset[MismatchKind]] = field(default_factory=dict)
    procedures: Mapping[str, str] = field(default_factory=dict)  # procedure code -> field code
    # Personal data per side, where a side's differs (placeholder values); else `applicants`.
    city_applicants: Mapping[str, Applicant] = field(default_factory=dict)
    national_applicants: Mapping[str, Applicant] = field(default_factory=dict)
    # Dossier code (and every other code it is served under) -> distortions applied, as
    # "city.<kind>" / "national.<kind>" (kinds of connectors.scenario) and "migrated".
    distortions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    at: datetime | None = None  # the mock time this is a view at, if it is one
    catalogue: tuple[Procedure, ...] = ()  # the procedures the national portal lists

    def applicant(self, source: Source, code: str) -> Applicant:
        """The personal data `source` serves with `code`."""
        side = self.city_applicants if source is Source.CITY else self.national_applicants
        return side.get(code) or self.applicants[code]


def procedures() -> dict[str, str]:
    catalogue: dict[str, str] = {}
    number = 9000
    for field_code, count in PROCEDURES_PER_FIELD.items():
        for _ in range(count):
            number += 7
            catalogue[f"1.00{number}"] = field_code
    return catalogue


def generate(
    dossiers: int = 300, seed: int = 7, now: datetime = DEFAULT_NOW, salt: str = ""
) -> Dataset:
    """A generated scenario's view at `now` (the city's own status words left to the mock), its
    records carrying the identities connectors with `salt` read."""
    from connectors import scenario  # scenario builds on this module's types

    return scenario.generate(dossiers, seed, now, city_words=False).views(now, salt)
