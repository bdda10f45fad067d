"""City vs national comparison of one dossier (reconcile/compare.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.compare import (
    Direction,
    Mismatch,
    MismatchKind,
    Policy,
    Severity,
    compare,
    migration_evidence,
)
from reconcile.model import Dossier, Source, Status
from tests.strategies import at, build_dossier, dossier_codes, dossiers

CODE = "000.00.45.H26-240701-0001"


def _city(status: Status) -> Dossier:
    return build_dossier(received_at=at(2024, 7, 1), status=status, source=Source.CITY)


def _national(status: Status) -> Dossier:
    return build_dossier(received_at=at(2024, 7, 1), status=status, source=Source.NATIONAL)


def test_equal_sides_have_no_mismatch_and_the_city_record_is_kept() -> None:
    city, national = _city(Status.PROCESSING), _national(Status.PROCESSING)
    decision = compare(city, national)
    assert decision.mismatches == ()
    assert decision.corrected is city
    assert decision.code == CODE


def test_city_only_is_missing_on_the_national_portal() -> None:
    city = _city(Status.PROCESSING)
    decision = compare(city, None)
    assert decision.mismatches == (
        Mismatch(
            CODE, MismatchKind.MISSING_NATIONAL, Severity.MEDIUM, "4", None, auto_resolvable=True
        ),
    )
    assert decision.corrected is city


@pytest.mark.parametrize("status", [Status.REGISTERED, Status.REFUSED])
def test_city_only_in_a_not_counted_status_is_not_a_mismatch(status: Status) -> None:
    city = _city(status)
    decision = compare(city, None)
    assert decision.mismatches == ()
    assert decision.corrected is city


def test_national_only_is_missing_in_the_city_system() -> None:
    national = _national(Status.FINISHED)
    decision = compare(None, national)
    assert decision.mismatches == (
        Mismatch(CODE, MismatchKind.MISSING_CITY, Severity.HIGH, None, "9"),
    )
    assert decision.corrected is national


@pytest.mark.parametrize(
    ("city_status", "national_status", "direction", "severity"),
    [
        (Status.RETURNED, Status.PROCESSING, Direction.BEHIND, Severity.MEDIUM),
        (Status.PROCESSING, Status.ACCEPTED, Direction.BEHIND, Severity.MEDIUM),
        (Status.PROCESSING, Status.FINISHED, Direction.AHEAD, Severity.HIGH),
        (Status.ACCEPTED, Status.RETURNED, Direction.AHEAD, Severity.HIGH),
        (Status.WITHDRAWN, Status.FINISHED, Direction.CONTRADICTS, Severity.HIGH),
        (Status.FINISHED, Status.WITHDRAWN, Direction.CONTRADICTS, Severity.HIGH),
        (Status.REFUSED, Status.PROCESSING, Direction.CONTRADICTS, Severity.HIGH),
        # Statuses sharing a lifecycle rank are alternatives, not steps.
        (Status.STOPPED, Status.PROCESSING, Direction.CONTRADICTS, Severity.HIGH),
    ],
)
def test_status_mismatch_direction_and_severity(
    city_status: Status, national_status: Status, direction: Direction, severity: Severity
) -> None:
    city, national = _city(city_status), _national(national_status)
    decision = compare(city, national)
    assert decision.mismatches == (
        Mismatch(
            CODE,
            MismatchKind.STATUS,
            severity,
            str(city_status.value),
            str(national_status.value),
            direction.value,
            auto_resolvable=direction is Direction.BEHIND,
        ),
    )
    assert decision.corrected is city


def test_status_mismatch_values_are_the_numeric_codes_as_text() -> None:
    (mismatch,) = compare(_city(Status.RETURNED), _national(Status.PROCESSING)).mismatches
    assert (mismatch.city_value, mismatch.national_value, mismatch.detail) == ("10", "4", "behind")


def test_compare_needs_at_least_one_side() -> None:
    with pytest.raises(ValueError, match="at least one side"):
        compare(None, None)


def _normalised(d: Dossier) -> Dossier:
    """`d` as a corrected record: its alternate codes sorted, unique, without its own code."""
    return replace(d, alt_codes=tuple(sorted(set(d.alt_codes) - {d.code, ""})))


@settings(max_examples=200, deadline=None)
@given(dossiers(source=Source.CITY))
def test_identical_content_on_both_sides_has_no_mismatch(d: Dossier) -> None:
    as_national = replace(d, source=Source.NATIONAL)
    decision = compare(d, as_national)
    # A code dated before the receipt date marks a migrated dossier: nothing else differs.
    migrated = bool(migration_evidence(d, Policy()))
    assert [m.kind for m in decision.mismatches] == ([MismatchKind.MIGRATED] if migrated else [])
    assert decision.corrected == _normalised(d)
    assert decision.code == d.code


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[Dossier, Dossier]:
    code = draw(dossier_codes)
    return draw(dossiers(Source.CITY, code)), draw(dossiers(Source.NATIONAL, code))


_TERMINAL = {Status.REFUSED, Status.WITHDRAWN, Status.RETURNED}
_STATUS_KINDS = {MismatchKind.STATUS, MismatchKind.COLLAPSED_STATUS}
_SWAPPED = {"behind": "ahead", "ahead": "behind", "contradicts": "contradicts"}


@settings(max_examples=100, deadline=None)
@given(_pairs())
def test_compare_is_deterministic_and_antisymmetric(pair: tuple[Dossier, Dossier]) -> None:
    city, national = pair
    first, second = compare(city, national), compare(city, national)
    assert first == second
    # The city is the authority for every field; the group's other codes become alternates.
    assert first.corrected == replace(
        _normalised(city),
        alt_codes=tuple(sorted({*city.alt_codes, *national.alt_codes} - {city.code, ""})),
        identity=city.identity or national.identity,
    )
    statuses = [m for m in first.mismatches if m.kind in _STATUS_KINDS]
    if city.status == national.status:
        assert statuses == []
        return
    (mismatch,) = statuses
    assert mismatch.city_value == str(city.status.value)
    assert mismatch.national_value == str(national.status.value)
    if mismatch.kind is MismatchKind.COLLAPSED_STATUS:
        assert city.status.clock_stopped
        assert national.status in {Status.FINISHED, Status.RETURNED}
        return
    # Nothing follows a terminal status: a national one is never behind, a city one never ahead.
    if national.status in _TERMINAL:
        assert mismatch.detail != "behind"
    if city.status in _TERMINAL:
        assert mismatch.detail != "ahead"
    # Seen from the other side, "behind" becomes "ahead" and vice versa.
    swapped = compare(replace(national, source=Source.CITY), replace(city, source=Source.NATIONAL))
    (swapped_status,) = [m for m in swapped.mismatches if m.kind in _STATUS_KINDS]
    if swapped_status.kind is MismatchKind.STATUS:  # else a collapse, seen from the other side
        assert swapped_status.detail == _SWAPPED[mismatch.detail]
