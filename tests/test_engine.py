"""The reconciliation engine (reconcile/engine.py): matching, mismatch kinds, correction, push."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import scenario as sc
from connectors.dataset import Applicant, Dataset
from reconcile.engine import (
    AUTHORITY_FIELDS,
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
    fingerprint,
    migration_evidence,
    status_direction,
)
from reconcile.model import VN_TZ, Channel, Dossier, Pause, Source, Status
from tests.strategies import at, build_dossier, dossiers, identities

K = MismatchKind
CODE = "000.00.45.H26-240701-0001"
OTHER = "000.00.45.H26-240701-0002"
SHORT = "000.00.45-240701-0001"  # the same dossier before its code was rewritten
ALICE = "3f9a1c0d5e7b2a64"
BOB = "b41e07c9d2a85f13"
POLICY = Policy()


def city(**changes: object) -> Dossier:
    """A city record received 2024-07-01 09:00, processing, due 2024-07-08 17:00."""
    base = build_dossier(
        received_at=at(2024, 7, 1),
        due_at=at(2024, 7, 8, 17),
        identity=ALICE,
        source=Source.CITY,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def national(**changes: object) -> Dossier:
    return replace(city(source=Source.NATIONAL), **changes)  # type: ignore[arg-type]


def kinds(decision: Decision) -> list[MismatchKind]:
    return [m.kind for m in decision.mismatches]


def one(decision: Decision, kind: MismatchKind) -> Mismatch:
    (found,) = [m for m in decision.mismatches if m.kind is kind]
    return found


# --------------------------------------------------------------------------------------------
# The kinds, one by one


def test_equal_records_have_no_mismatch_nothing_to_push_and_the_city_record_is_kept() -> None:
    c = city()
    decision = decide([c], [national()], POLICY)
    assert decision.mismatches == ()
    assert decision.corrected is c
    assert decision.key == decision.code == CODE
    assert decision.matches == (Match(CODE, CODE, MatchMethod.CODE),)
    assert (decision.excluded, decision.unrelated, decision.push) == (None, (), None)


def test_missing_national_is_auto_resolvable_and_pushes_the_city_record() -> None:
    decision = decide([city()], [], POLICY)
    assert decision.mismatches == (
        Mismatch(CODE, K.MISSING_NATIONAL, Severity.MEDIUM, "4", None, auto_resolvable=True),
    )
    assert decision.push == replace(city(), source=Source.NATIONAL)
    assert decision.matches == ()


@pytest.mark.parametrize("status", [Status.REGISTERED, Status.REFUSED])
def test_a_city_record_not_counted_is_not_missing_nationally(status: Status) -> None:
    decision = decide([city(status=status)], [], POLICY)
    assert decision.mismatches == ()
    assert decision.push is None


def test_missing_city_goes_to_operators_and_the_national_record_is_corrected() -> None:
    n = national(status=Status.FINISHED)
    decision = decide([], [n], POLICY)
    assert decision.mismatches == (Mismatch(CODE, K.MISSING_CITY, Severity.HIGH, None, "9"),)
    assert decision.corrected is n
    assert decision.push is None


def test_missing_city_is_not_reported_when_the_city_has_it() -> None:
    assert K.MISSING_CITY not in kinds(decide([city()], [national()], POLICY))


def test_national_behind_is_a_status_mismatch_resolved_by_a_push() -> None:
    c = city(status=Status.FINISHED, finished_at=at(2024, 7, 5), updated_at=at(2024, 7, 5))
    decision = decide([c], [national()], POLICY)
    assert decision.mismatches == (
        Mismatch(CODE, K.STATUS, Severity.MEDIUM, "9", "4", "behind", auto_resolvable=True),
    )
    assert decision.push == replace(c, source=Source.NATIONAL)


def test_national_ahead_goes_to_operators_and_nothing_is_pushed() -> None:
    decision = decide([city()], [national(status=Status.RETURNED)], POLICY)
    assert decision.mismatches == (Mismatch(CODE, K.STATUS, Severity.HIGH, "4", "10", "ahead"),)
    assert decision.push is None


@pytest.mark.parametrize("open_status", [5, 6, 8])
@pytest.mark.parametrize("shown", [9, 10])
def test_an_open_dossier_shown_finished_nationally_is_a_collapsed_status(
    open_status: int, shown: int
) -> None:
    c = city(status=Status(open_status))
    n = national(status=Status(shown), finished_at=at(2024, 7, 3))
    decision = decide([c], [n], POLICY)
    assert decision.mismatches == (
        Mismatch(CODE, K.COLLAPSED_STATUS, Severity.HIGH, str(open_status), str(shown)),
    )
    assert decision.push is None


def test_a_finished_national_record_against_an_open_city_one_in_4_is_a_plain_status() -> None:
    decision = decide([city()], [national(status=Status.FINISHED)], POLICY)
    assert kinds(decision) == [K.STATUS]
    # ... and a city finished while the national portal shows a stop is the other way round.
    decision = decide([city(status=Status.FINISHED)], [national(status=Status.STOPPED)], POLICY)
    assert kinds(decision) == [K.STATUS]


@pytest.mark.parametrize(
    ("city_status", "national_status", "expected"),
    [
        (Status.RETURNED, Status.PROCESSING, Direction.BEHIND),
        (Status.ACCEPTED, Status.REGISTERED, Direction.BEHIND),
        # A withdrawal or a refusal that did not reach the portal is a lag like any other.
        (Status.WITHDRAWN, Status.PROCESSING, Direction.BEHIND),
        (Status.WITHDRAWN, Status.SUPPLEMENT_REQUESTED, Direction.BEHIND),
        (Status.REFUSED, Status.ACCEPTED, Direction.BEHIND),
        (Status.PROCESSING, Status.RETURNED, Direction.AHEAD),
        (Status.WITHDRAWN, Status.FINISHED, Direction.CONTRADICTS),
        (Status.REFUSED, Status.PROCESSING, Direction.CONTRADICTS),
        (Status.RETURNED, Status.WITHDRAWN, Direction.CONTRADICTS),
        # 4 and 5 reach each other (supplement requested, then completed): no times, no order.
        (Status.PROCESSING, Status.SUPPLEMENT_REQUESTED, Direction.CONTRADICTS),
    ],
)
def test_status_direction_follows_the_lifecycle(
    city_status: Status, national_status: Status, expected: Direction
) -> None:
    assert status_direction(city_status, national_status) is expected


def test_statuses_that_reach_each_other_are_ordered_by_update_time() -> None:
    early, late = at(2024, 7, 3), at(2024, 7, 5)
    p, s = Status.PROCESSING, Status.SUPPLEMENT_REQUESTED
    kw = {"city_updated": late, "national_updated": early}
    assert status_direction(p, s, **kw) is Direction.BEHIND
    kw = {"city_updated": early, "national_updated": late}
    assert status_direction(p, s, **kw) is Direction.AHEAD
    kw = {"city_updated": early, "national_updated": early}
    assert status_direction(p, s, **kw) is Direction.CONTRADICTS
    # The supplement was completed in the city; the portal still shows it requested.
    decision = decide(
        [city(updated_at=late)],
        [national(status=s, updated_at=early, pauses=(Pause(early),))],
        POLICY,
    )
    assert one(decision, K.STATUS).detail == "behind"


def test_receipt_dates_compare_as_local_dates_not_times() -> None:
    # 23:30 and 00:30 the next day local time: different dates, 1 hour apart.
    late, next_day = at(2024, 7, 1, 23, 30), at(2024, 7, 2, 0, 30)
    decision = decide([city(received_at=late)], [national(received_at=next_day)], POLICY)
    assert decision.mismatches == (
        Mismatch(CODE, K.RECEIVED_DATE, Severity.MEDIUM, "2024-07-01", "2024-07-02"),
    )
    # 08:00 and 16:59 of one local day; and one instant in UTC and in local time.
    same_day = decide(
        [city(received_at=at(2024, 7, 1, 8))],
        [national(received_at=at(2024, 7, 1, 16, 59))],
        POLICY,
    )
    assert same_day.mismatches == ()
    in_utc = at(2024, 7, 1, 0, 30).astimezone(UTC)  # 2024-06-30 17:30 UTC
    assert (
        decide(
            [city(received_at=at(2024, 7, 1, 0, 30))], [national(received_at=in_utc)], POLICY
        ).mismatches
        == ()
    )


def test_due_dates_differ_or_one_side_lacks_one() -> None:
    moved = decide([city()], [national(due_at=at(2024, 7, 9, 17))], POLICY)
    assert moved.mismatches == (
        Mismatch(CODE, K.DUE_DATE, Severity.MEDIUM, "2024-07-08", "2024-07-09"),
    )
    absent = decide([city()], [national(due_at=None)], POLICY)
    assert absent.mismatches == (Mismatch(CODE, K.DUE_DATE, Severity.MEDIUM, "2024-07-08", None),)
    same_day = decide([city()], [national(due_at=at(2024, 7, 8, 8))], POLICY)
    assert same_day.mismatches == ()


def test_finish_dates_use_the_return_date_when_no_finish_is_recorded() -> None:
    done = {"status": Status.RETURNED, "finished_at": at(2024, 7, 5), "returned_at": at(2024, 7, 6)}
    shifted = decide([city(**done)], [national(**{**done, "finished_at": at(2024, 7, 4)})], POLICY)
    assert shifted.mismatches == (
        Mismatch(CODE, K.FINISHED_DATE, Severity.MEDIUM, "2024-07-05", "2024-07-04"),
    )
    no_finish = decide([city(**done)], [national(**{**done, "finished_at": None})], POLICY)
    assert one(no_finish, K.FINISHED_DATE).national_value == "2024-07-06"
    same = decide([city(**done)], [national(**{**done, "finished_at": at(2024, 7, 5, 17)})], POLICY)
    assert same.mismatches == ()


def test_dates_are_compared_only_between_records_at_the_same_status() -> None:
    c = city(status=Status.RETURNED, finished_at=at(2024, 7, 5), returned_at=at(2024, 7, 6))
    n = national(due_at=at(2024, 7, 2, 17))  # an older due date, and no finish yet: a lag
    assert kinds(decide([c], [n], POLICY)) == [K.STATUS]


def test_channel_procedure_and_field_mismatches() -> None:
    n = national(channel=Channel.ONLINE, procedure_code="2.001234", field_code="XD")
    decision = decide([city()], [n], POLICY)
    assert decision.mismatches == (
        Mismatch(CODE, K.CHANNEL, Severity.LOW, "1", "2"),
        Mismatch(CODE, K.PROCEDURE, Severity.MEDIUM, "1.009876", "2.001234"),
        Mismatch(CODE, K.FIELD, Severity.LOW, "DT", "XD"),
    )
    # Reported whatever the statuses (they do not change over the lifecycle).
    lagging = decide([city(status=Status.FINISHED)], [n], POLICY)
    assert kinds(lagging) == [K.STATUS, K.CHANNEL, K.PROCEDURE, K.FIELD]


def test_unknown_procedure_is_flagged_against_the_catalogue_only() -> None:
    flagged = decide([city()], [national()], POLICY, procedures={"2.001234"})
    assert flagged.mismatches == (
        Mismatch(CODE, K.UNKNOWN_PROCEDURE, Severity.LOW, "1.009876", "1.009876"),
    )
    assert decide([city()], [national()], POLICY, procedures={"1.009876"}).mismatches == ()
    assert decide([city()], [national()], POLICY, procedures=()).mismatches == ()
    # An operator's correction of the procedure settles it.
    fixed = decide(
        [city()], [national()], POLICY, {"2.001234"}, overrides={"procedure_code": "2.001234"}
    )
    assert kinds(fixed) == []


def test_every_kind_has_a_severity_and_the_table_documents_it() -> None:
    from reconcile import engine

    assert set(SEVERITY) == set(MismatchKind)
    assert all(kind.value in (engine.__doc__ or "") for kind in MismatchKind)


# --------------------------------------------------------------------------------------------
# Matching


def test_a_rewritten_code_matches_through_the_alternate_code() -> None:
    c = city(code=SHORT)
    n = national(alt_codes=(SHORT,))
    decision = decide([c], [n], POLICY)
    assert decision.matches == (Match(SHORT, CODE, MatchMethod.ALT_CODE),)
    assert decision.mismatches == ()
    assert decision.key == SHORT
    assert decision.corrected == replace(c, alt_codes=(CODE,))


def test_an_alternate_code_on_the_city_side_matches_too() -> None:
    decision = decide([city(alt_codes=(SHORT,))], [national(code=SHORT)], POLICY)
    assert decision.matches == (Match(CODE, SHORT, MatchMethod.ALT_CODE),)
    assert decision.corrected.alt_codes == (SHORT,)


def test_unlinked_codes_with_an_identity_match_by_fingerprint() -> None:
    decision = decide([city()], [national(code=OTHER)], POLICY)
    assert decision.matches == (Match(CODE, OTHER, MatchMethod.FINGERPRINT),)
    assert decision.mismatches == ()
    assert decision.corrected.alt_codes == (OTHER,)


@pytest.mark.parametrize(
    "national_changes",
    [
        {"identity": ""},  # unknown or a placeholder: never matched on
        {"identity": BOB},
        {"procedure_code": "2.001234"},
        {"received_at": at(2024, 7, 2)},
    ],
)
def test_without_an_equal_fingerprint_other_codes_are_other_dossiers(
    national_changes: dict[str, object],
) -> None:
    decision = decide([city()], [national(code=OTHER, **national_changes)], POLICY)
    assert decision.matches == ()
    assert kinds(decision) == [K.MISSING_NATIONAL]
    assert decision.unrelated == (OTHER,)


def test_no_identity_no_fingerprint() -> None:
    assert fingerprint(city(identity="")) is None
    assert fingerprint(city()) == fingerprint(national(code=OTHER, received_at=at(2024, 7, 1, 23)))
    assert fingerprint(city()) != fingerprint(city(received_at=at(2024, 7, 2)))


def test_a_code_match_wins_over_an_alternate_code_and_a_fingerprint() -> None:
    by_alt = national(code=OTHER, alt_codes=(CODE,))
    decision = decide([city()], [by_alt, national()], POLICY)
    assert decision.matches == (Match(CODE, CODE, MatchMethod.CODE),)
    # The other national record names the city code as its own alternate: a duplicate.
    assert one(decision, K.DUPLICATE).national_value == OTHER


def test_a_national_duplicate_is_reported_and_its_code_kept_as_an_alternate() -> None:
    decision = decide([city()], [national(), national(code=OTHER)], POLICY)
    assert decision.matches == (Match(CODE, CODE, MatchMethod.CODE),)
    assert decision.mismatches == (
        Mismatch(CODE, K.DUPLICATE, Severity.MEDIUM, None, OTHER, f"duplicates of {CODE}: {OTHER}"),
    )
    assert decision.corrected.alt_codes == (OTHER,)
    assert decision.unrelated == ()
    assert decision.push is None


def test_a_city_duplicate_with_the_national_record_missing() -> None:
    decision = decide([city(code=OTHER), city()], [], POLICY)
    assert decision.key == CODE  # the first code in order
    assert kinds(decision) == [K.MISSING_NATIONAL, K.DUPLICATE]
    assert one(decision, K.DUPLICATE).city_value == OTHER
    assert decision.push is not None
    assert decision.push.code == CODE


def test_duplicates_on_both_sides_are_one_dossier() -> None:
    third = "000.00.45.H26-240701-0003"
    decision = decide([city(), city(code=OTHER)], [national(), national(code=third)], POLICY)
    duplicate = one(decision, K.DUPLICATE)
    assert (duplicate.city_value, duplicate.national_value) == (OTHER, third)
    assert decision.unrelated == ()


def test_two_records_with_one_code_on_one_side_are_duplicates() -> None:
    decision = decide([city(), city(channel=Channel.ONLINE)], [national()], POLICY)
    assert one(decision, K.DUPLICATE).city_value == CODE
    assert decision.corrected == city()  # the first in order: channel 1 sorts first


def test_a_duplicate_without_an_identity_cannot_be_told_apart_from_another_dossier() -> None:
    decision = decide([city()], [national(), national(code=OTHER, identity="")], POLICY)
    assert kinds(decision) == []
    assert decision.unrelated == (OTHER,)


def test_dossiers_known_to_both_systems_under_their_own_codes_are_unrelated() -> None:
    # Same applicant, same procedure, same day: two applications, each paired by its code.
    decision = decide([city(), city(code=OTHER)], [national(), national(code=OTHER)], POLICY)
    assert decision.key == CODE
    assert decision.mismatches == ()
    assert decision.unrelated == (OTHER,)
    again = decide([city(code=OTHER)], [national(code=OTHER)], POLICY)
    assert again.key == OTHER
    assert again.mismatches == ()


def test_decide_needs_a_record() -> None:
    with pytest.raises(ValueError, match="at least one record"):
        decide([], [], POLICY)


# --------------------------------------------------------------------------------------------
# Migrated dossiers

MIGRATED_CODE = "000.00.45.H26-240415-0003"
CUTOVER = datetime(2024, 6, 1, tzinfo=VN_TZ)


def migrated_city(code: str = MIGRATED_CODE, **changes: object) -> Dossier:
    """Received 15/4 on the old system, returned 26/4; the new one shows it all at the cut-over."""
    return city(
        code=code,
        status=Status.RETURNED,
        received_at=CUTOVER,
        updated_at=CUTOVER,
        due_at=at(2024, 5, 7, 17),
        finished_at=CUTOVER,
        returned_at=CUTOVER,
        **changes,
    )


def test_code_dates() -> None:
    assert code_date(CODE) == date(2024, 7, 1)
    assert code_date(SHORT) == date(2024, 7, 1)
    assert code_date("H26.45-991231-12345") == date(2099, 12, 31)
    for bad in ("", CODE + "x", "000.00.45.H26-240231-0001", "240701-0001", "X-24070１-0001"):
        assert code_date(bad) is None


def test_rule_a_a_code_dated_before_the_receipt_is_migrated() -> None:
    c = migrated_city()
    decision = decide([c], [], POLICY)
    assert decision.excluded == "migrated"
    assert decision.mismatches == (
        Mismatch(
            MIGRATED_CODE,
            K.MIGRATED,
            Severity.MEDIUM,
            "2024-06-01",
            None,
            "code_date=2024-04-15; instant=0 min",  # every signal it carries, weak ones too
        ),
    )  # and no missing_national: such dossiers were never pushed
    assert decision.corrected is c
    assert decision.push is None


def test_rule_a_needs_a_whole_day_and_a_dated_code() -> None:
    same_day = city(received_at=at(2024, 7, 1, 23, 59))
    assert migration_evidence(same_day, POLICY) == ""
    assert migration_evidence(city(received_at=at(2024, 7, 2, 0, 0)), POLICY) != ""
    assert migration_evidence(city(received_at=at(2024, 6, 30)), POLICY) == ""  # code later
    assert migration_evidence(city(code="HS-0001", received_at=at(2024, 9, 1)), POLICY) == ""
    assert decide([city()], [], POLICY).excluded is None


def test_the_cut_over_window_marks_only_dossiers_with_another_signal() -> None:
    window = (CUTOVER.date(), CUTOVER.date())
    policy = Policy(migration_window=window)
    # A code without a date: received and returned at the cut-over instant, in the window.
    old = migrated_city(code="HS-0001")
    decision = decide([old], [], policy)
    assert decision.excluded == "migrated"
    assert one(decision, K.MIGRATED).detail == "instant=0 min; window=2024-06-01..2024-06-01"
    assert decide([old], [], POLICY).excluded is None  # one weak signal: not enough
    # A dossier the new system really received and finished on the cut-over day stays counted
    # (the old rule excluded everything finished by the cut-over).
    real = city(
        code="HS-0002",
        status=Status.FINISHED,
        received_at=CUTOVER + timedelta(hours=8),
        finished_at=CUTOVER + timedelta(hours=15),
    )
    assert migration_evidence(real, policy) == ""
    assert decide([real], [], policy).excluded is None
    before = city(
        code="HS-0003",
        status=Status.FINISHED,
        received_at=CUTOVER - timedelta(days=9),
        finished_at=CUTOVER - timedelta(days=3),
    )
    assert migration_evidence(before, policy) == ""


def test_a_migrated_dossier_the_portal_has_reports_no_dates_and_pushes_nothing() -> None:
    true_times = national(
        code=MIGRATED_CODE,
        status=Status.FINISHED,
        received_at=at(2024, 4, 15),
        updated_at=at(2024, 4, 25),
        due_at=at(2024, 5, 7, 17),
        finished_at=at(2024, 4, 25),
    )
    decision = decide([migrated_city()], [true_times], POLICY)
    assert decision.excluded == "migrated"
    assert kinds(decision) == [K.STATUS, K.MIGRATED]
    assert not any(m.auto_resolvable for m in decision.mismatches)
    assert decision.push is None
    assert one(decision, K.MIGRATED).national_value == "2024-04-15"


# --------------------------------------------------------------------------------------------
# Policy, overrides, push


def test_the_default_policy_makes_the_city_the_authority_for_every_field() -> None:
    assert dict(POLICY.authority) == dict.fromkeys(AUTHORITY_FIELDS, Source.CITY)
    assert Policy(authority={}).source_of("due_at") is Source.CITY
    with pytest.raises(ValueError, match="no authority"):
        Policy(authority={"code": Source.NATIONAL})


def test_a_field_with_national_authority_comes_from_the_national_record() -> None:
    policy = Policy(authority={"channel": Source.NATIONAL, "due_at": Source.NATIONAL})
    n = national(channel=Channel.ONLINE, due_at=at(2024, 7, 9, 17), pauses=(Pause(at(2024, 7, 2)),))
    decision = decide([city()], [n], policy)
    assert decision.corrected == city(channel=Channel.ONLINE, due_at=at(2024, 7, 9, 17))
    assert kinds(decision) == [K.DUE_DATE, K.CHANNEL]  # the mismatches are reported all the same
    # Without a national record the field comes from the city.
    assert decide([city()], [], policy).corrected == city()


def test_national_authority_for_the_status_makes_it_the_source_and_stops_auto_resolution() -> None:
    policy = Policy(authority={"status": Source.NATIONAL})
    c = city(status=Status.FINISHED, native_status="done", updated_at=at(2024, 7, 5))
    n = national(identity="")
    decision = decide([c], [n], policy)
    corrected = decision.corrected
    assert corrected.source is Source.NATIONAL
    assert (corrected.status, corrected.updated_at, corrected.native_status) == (
        Status.PROCESSING,
        n.updated_at,
        "",
    )
    assert corrected.identity == ALICE  # the status side has none: the other side's
    status = one(decision, K.STATUS)
    assert status.detail == "behind"
    assert not status.auto_resolvable
    assert decision.push is None


def test_overrides_apply_last() -> None:
    c = city()
    overrides = {
        "status": "9",
        "finished_at": "2024-07-05T10:00:00+07:00",
        "due_at": "",
        "received_at": "2024-07-01T01:00:00+00:00",
        "channel": "3",
        "procedure_code": "2.001234",
        "field_code": "XD",
        "digitised": "true",
    }
    decision = decide([c], [national()], POLICY, overrides=overrides)
    assert decision.corrected == replace(
        c,
        status=Status.FINISHED,
        finished_at=at(2024, 7, 5, 10),
        due_at=None,
        received_at=at(2024, 7, 1, 8),
        channel=Channel.POSTAL,
        procedure_code="2.001234",
        field_code="XD",
        digitised=True,
    )
    assert decision.corrected.received_at.utcoffset() == timedelta(hours=7)
    assert decision.mismatches == ()  # mismatches compare what the portals say


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"code": "X"}, "cannot be overridden"),
        ({"pauses": ""}, "cannot be overridden"),
        ({"status": "11"}, "override of status"),
        ({"status": "done"}, "override of status"),
        ({"channel": "0"}, "override of channel"),
        ({"due_at": "2024-07-05T10:00:00"}, "offset"),
        ({"received_at": ""}, "override of received_at"),
        ({"digitised": "maybe"}, "true or false"),
    ],
)
def test_bad_overrides_are_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decide([city()], [], POLICY, overrides=overrides)


def test_an_override_is_pushed_with_the_record() -> None:
    decision = decide([city()], [], POLICY, overrides={"due_at": "2024-07-10T17:00:00+07:00"})
    assert decision.push is not None
    assert decision.push.due_at == at(2024, 7, 10, 17)


def test_the_push_carries_the_national_code_and_the_city_code_as_its_alternate() -> None:
    c = city(code=SHORT, status=Status.FINISHED, native_status="done", updated_at=at(2024, 7, 5))
    n = national(alt_codes=(SHORT,))
    decision = decide([c], [n], POLICY)
    assert one(decision, K.STATUS).auto_resolvable
    assert decision.corrected == replace(c, alt_codes=(CODE,))
    assert decision.push == replace(
        c, source=Source.NATIONAL, code=CODE, alt_codes=(SHORT,), native_status=""
    )


def test_nothing_is_pushed_for_operator_mismatches_only() -> None:
    decision = decide([city()], [national(channel=Channel.ONLINE, status=Status.RETURNED)], POLICY)
    assert decision.push is None


# --------------------------------------------------------------------------------------------
# Properties

_CODES = (CODE, OTHER, SHORT, "000.00.45.H26-240702-0001")


@st.composite
def _records(draw: st.DrawFn, source: Source) -> Dossier:
    """Records that often share a code, an alternate code or a fingerprint."""
    d = draw(dossiers(source, min_day=date(2024, 6, 30), max_day=date(2024, 7, 2)))
    return replace(
        d,
        code=draw(st.sampled_from(_CODES)),
        alt_codes=tuple(draw(st.lists(st.sampled_from(_CODES), max_size=2))),
        procedure_code=draw(st.sampled_from(("1.009876", "2.001234"))),
        identity=draw(identities),
    )


@st.composite
def _groups(draw: st.DrawFn) -> tuple[list[Dossier], list[Dossier]]:
    cs = draw(st.lists(_records(Source.CITY), max_size=3))
    ns = draw(st.lists(_records(Source.NATIONAL), min_size=0 if cs else 1, max_size=3))
    return cs, ns


_policies = st.builds(
    Policy,
    authority=st.dictionaries(st.sampled_from(AUTHORITY_FIELDS), st.sampled_from(Source)),
)


@settings(max_examples=200, deadline=None)
@given(dossiers(Source.CITY), _policies)
def test_equal_sides_give_no_mismatch_under_any_policy(d: Dossier, policy: Policy) -> None:
    decision = decide([d], [replace(d, source=Source.NATIONAL)], policy)
    migrated = bool(migration_evidence(d, policy))
    assert kinds(decision) == ([K.MIGRATED] if migrated else [])
    assert decision.excluded == ("migrated" if migrated else None)
    assert decision.push is None
    expected_alt = tuple(sorted(set(d.alt_codes) - {d.code, ""}))
    assert decision.corrected == replace(
        d, alt_codes=expected_alt, source=policy.source_of("status")
    )


@settings(max_examples=200, deadline=None)
@given(_groups(), st.randoms(use_true_random=False), _policies)
def test_decide_is_deterministic_and_independent_of_input_order(
    group: tuple[list[Dossier], list[Dossier]], rng: random.Random, policy: Policy
) -> None:
    cs, ns = group
    first = decide(cs, ns, policy)
    assert decide(cs, ns, policy) == first
    shuffled_c, shuffled_n = list(cs), list(ns)
    rng.shuffle(shuffled_c)
    rng.shuffle(shuffled_n)
    assert decide(shuffled_c, shuffled_n, policy) == first
    assert decide(shuffled_c + cs[:1], shuffled_n + ns[:1], policy) == first  # repeats too
    # Every code handed in is the key, an alternate of the corrected record, or unrelated.
    own = {first.key, *first.corrected.alt_codes}
    assert {d.code for d in (*cs, *ns)} <= own | set(first.unrelated)
    assert not own & set(first.unrelated)
    # A kind at most once; auto-resolvable exactly as the rules say; a push exactly then.
    assert len(set(kinds(first))) == len(first.mismatches)
    for m in first.mismatches:
        auto = m.kind is K.MISSING_NATIONAL or (
            m.kind is K.STATUS
            and m.detail == "behind"
            and policy.source_of("status") is Source.CITY
            and first.excluded is None
        )
        assert m.auto_resolvable == auto
    assert (first.push is not None) == any(m.auto_resolvable for m in first.mismatches)
    if first.push is not None:
        assert first.push.source is Source.NATIONAL
        assert first.push.code == (first.matches[0].national_code if first.matches else first.key)


@settings(max_examples=200, deadline=None)
@given(_groups(), st.sampled_from([{}, {"status": "10"}, {"due_at": ""}, {"channel": "2"}]))
def test_reconciling_the_corrected_record_against_itself_changes_nothing(
    group: tuple[list[Dossier], list[Dossier]], overrides: dict[str, str]
) -> None:
    cs, ns = group
    corrected = decide(cs, ns, POLICY, overrides=overrides).corrected
    again = decide(
        [replace(corrected, source=Source.CITY)],
        [replace(corrected, source=Source.NATIONAL)],
        POLICY,
    )
    migrated = bool(migration_evidence(replace(corrected, source=Source.CITY), POLICY))
    assert kinds(again) == ([K.MIGRATED] if migrated else [])
    assert again.corrected == replace(corrected, source=Source.CITY)
    assert again.unrelated == ()


# --------------------------------------------------------------------------------------------
# Generated scenarios: the decisions agree with the distortions


def identity_of(applicant: Applicant) -> str:
    """What a connector computes at the edge: a salted hash, "" for a placeholder ID."""
    if applicant.id_number == sc.PLACEHOLDER_ID:
        return ""
    return hashlib.sha256(b"test-salt:" + applicant.id_number.encode()).hexdigest()[:32]


def with_identities(data: Dataset) -> tuple[dict[str, Dossier], dict[str, Dossier]]:
    def side(records: Sequence[Dossier]) -> dict[str, Dossier]:
        return {
            r.code: replace(r, identity=identity_of(data.applicant(r.source, r.code)))
            for r in records
        }

    return side(data.city), side(data.national)


@dataclass(frozen=True)
class Expected:
    """What a decision must report: every kind of `must`, one kind of each `one_of` set, and
    nothing outside `must`, `may` and those sets."""

    must: frozenset[MismatchKind] = frozenset()
    may: frozenset[MismatchKind] = frozenset()
    one_of: tuple[frozenset[MismatchKind], ...] = ()
    migrated: bool = False
    unrelated: frozenset[str] = field(default_factory=frozenset)

    def problems(self, found: Collection[MismatchKind]) -> list[str]:
        allowed = self.must | self.may | frozenset().union(*self.one_of)
        out = [f"missing {k}" for k in sorted(self.must - set(found))]
        out += [f"unexpected {k}" for k in sorted(set(found) - allowed)]
        out += [f"none of {sorted(s)}" for s in self.one_of if not s & set(found)]
        return out


_DATE_KINDS = {
    "received_at": K.RECEIVED_DATE,
    "due_at": K.DUE_DATE,
    "finished_at": K.FINISHED_DATE,
}


def expected_kinds(
    d: sc.ScenarioDossier,
    tags: Collection[str],
    city_main: Dossier | None,
    national_main: Dossier | None,
) -> Expected:
    """The mismatch kinds the distortions of `d` (`tags`: those that took effect, as
    `Dataset.distortions` lists them) must produce, given the main record each side serves."""
    must: set[MismatchKind] = set()
    may: set[MismatchKind] = set()
    one_of: list[frozenset[MismatchKind]] = []
    # A city receipt date moved later by a day or more looks exactly like a migration (its code
    # is dated before it), as does a finish date moved before the receipt.
    later = any(
        isinstance(x, sc.Shifted) and x.field == "received_at" and x.days > 0 for x in d.city
    )
    early = city_main is not None and any(
        when is not None and when < city_main.received_at
        for when in (city_main.finished_at, city_main.returned_at)
    )
    migrated = "migrated" in tags or ((later or early) and "city.shifted" in tags)
    if migrated:
        must.add(K.MIGRATED)
    if city_main is None:
        must.add(K.MISSING_CITY)
    elif national_main is None:
        if city_main.status.counted and not migrated:
            must.add(K.MISSING_NATIONAL)
    else:
        lagged = bool({"national.lag", "city.lag"} & set(tags))
        collapsed = "national.collapsed" in tags
        if city_main.status != national_main.status:
            if collapsed and not lagged:
                must.add(K.COLLAPSED_STATUS)
            elif collapsed:
                one_of.append(frozenset({K.STATUS, K.COLLAPSED_STATUS}))
            elif lagged:
                must.add(K.STATUS)
        elif not migrated:
            if lagged:  # a hidden step that kept the status may have moved the due date
                may.add(K.DUE_DATE)
            if lagged and collapsed:  # 9 shown for 5/6/8, while the city has finished since
                may |= {K.DUE_DATE, K.FINISHED_DATE}
            shifts = [
                (side, x)
                for side in ("city", "national")
                for x in d.distortions(Source(side))
                if isinstance(x, sc.Shifted) and f"{side}.shifted" in tags
            ]
            for _, x in shifts:
                same = [y for _, y in shifts if y.field == x.field]
                (may if len(same) > 1 else must).add(_DATE_KINDS[x.field])
        shown = [
            next((x.channel for x in d.distortions(side) if isinstance(x, sc.WrongChannel)), None)
            for side in (Source.CITY, Source.NATIONAL)
        ]
        if (shown[0] or d.channel) != (shown[1] or d.channel):
            must.add(K.CHANNEL)
    unrelated: set[str] = set()
    for side in (Source.CITY, Source.NATIONAL):
        if f"{side.value}.duplicate" not in tags:
            continue
        codes = {x.code for x in d.distortions(side) if isinstance(x, sc.Duplicate)}
        if any(isinstance(x, sc.Placeholder) for x in d.distortions(side)):
            unrelated |= codes  # no identity, no fingerprint: nothing links the copy
        else:
            must.add(K.DUPLICATE)
    return Expected(frozenset(must), frozenset(may), tuple(one_of), migrated, frozenset(unrelated))


def _main_code(d: sc.ScenarioDossier) -> str:
    rewritten = [x.code for x in d.national if isinstance(x, sc.RewrittenCode)]
    return rewritten[0] if rewritten else d.code


def _true_city(scenario: sc.Scenario, at_time: datetime) -> dict[str, Dossier]:
    clean = replace(scenario, dossiers=tuple(replace(d, city=()) for d in scenario.dossiers))
    return {r.code: replace(r, identity="") for r in clean.views(at_time).city}


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)
    kinds: set[MismatchKind] = field(default_factory=set)
    methods: set[MatchMethod] = field(default_factory=set)
    details: set[str] = field(default_factory=set)


def reconcile_scenario(scenario: sc.Scenario, when: datetime) -> Outcome:
    """Decide about every dossier of `scenario` as served at `when`, its group gathered from
    the codes it is served under, and check each decision against its distortions."""
    data = scenario.views(when)
    city_records, national_records = with_identities(data)
    truth = _true_city(scenario, when)
    out = Outcome()
    for d in scenario.dossiers:
        codes = [d.code, *d.extra_codes()]
        cs = [city_records[c] for c in codes if c in city_records]
        ns = [national_records[c] for c in codes if c in national_records]
        if not cs and not ns:
            continue
        tags = data.distortions.get(d.code, ())
        city_main = city_records.get(d.code)
        national_main = national_records.get(_main_code(d))
        expected = expected_kinds(d, tags, city_main, national_main)
        decision = decide(cs, ns, POLICY)
        found = kinds(decision)
        out.kinds |= set(found)
        out.methods |= {m.method for m in decision.matches}
        out.details |= {f"{m.kind}:{m.detail}" for m in decision.mismatches if m.kind is K.STATUS}
        problems = expected.problems(found)
        key = city_main.code if city_main else national_main.code if national_main else ""
        if decision.key != key:
            problems.append(f"key {decision.key}")
        if decision.excluded != ("migrated" if expected.migrated else None):
            problems.append(f"excluded {decision.excluded}")
        if set(decision.unrelated) != expected.unrelated:
            problems.append(f"unrelated {decision.unrelated}")
        if city_main and national_main:
            method = MatchMethod.ALT_CODE if national_main.code != d.code else MatchMethod.CODE
            if decision.matches != (Match(d.code, national_main.code, method),):
                problems.append(f"matches {decision.matches}")
        lag = {t for t in tags if t.endswith(".lag")}
        for m in decision.mismatches:
            if m.kind is K.STATUS and "national.collapsed" not in tags:
                if lag == {"national.lag"} and m.detail != "behind":
                    problems.append(f"national lag {m.detail}")
                if lag == {"city.lag"} and m.detail != "ahead":
                    problems.append(f"city lag {m.detail}")
        if (decision.push is not None) != any(m.auto_resolvable for m in decision.mismatches):
            problems.append("push")
        # Where the city is undistorted, the corrected record is the city's true view.
        undistorted = city_main is not None and not d.city
        if undistorted and replace(decision.corrected, identity="", alt_codes=()) != truth[d.code]:
            problems.append("corrected record")
        if problems:
            out.failures.append(f"{d.code} {tags}: {found}: {problems}")
    return out


@pytest.mark.parametrize("seed", [1, 2, 3, 5, 8, 13])
@pytest.mark.parametrize("days", [0, -20, 1])
def test_decisions_on_generated_scenarios_agree_with_their_distortions(
    seed: int, days: int
) -> None:
    scenario = sc.generate(300, seed)
    outcome = reconcile_scenario(scenario, scenario.now + timedelta(days=days))
    assert outcome.failures == []
    assert {K.STATUS, K.MISSING_NATIONAL, K.MIGRATED} <= outcome.kinds


def test_a_large_scenario_exercises_every_kind_it_can_produce() -> None:
    scenario = sc.generate(3000, 21)
    outcome = reconcile_scenario(scenario, scenario.now)
    assert outcome.failures == []
    # Procedure and field codes are never distorted, and no catalogue is given.
    assert outcome.kinds == set(MismatchKind) - {K.PROCEDURE, K.FIELD, K.UNKNOWN_PROCEDURE}
    assert outcome.methods == {MatchMethod.CODE, MatchMethod.ALT_CODE}
    assert {"status:behind", "status:ahead"} <= outcome.details


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rewritten_codes_without_their_alternate_match_by_fingerprint(seed: int) -> None:
    scenario = sc.generate(2000, seed)
    data = scenario.views()
    city_records, national_records = with_identities(data)
    rewritten = [d for d in scenario.dossiers if _main_code(d) != d.code]
    matched = 0
    for d in rewritten:
        c, n = city_records.get(d.code), national_records.get(_main_code(d))
        if c is None or n is None:
            continue
        decision = decide([c], [replace(n, alt_codes=())], POLICY)  # MaHoSoKhac not sent
        if c.identity and n.identity and c.received_at == n.received_at:
            assert decision.matches == (Match(d.code, n.code, MatchMethod.FINGERPRINT),)
            assert K.MISSING_NATIONAL not in kinds(decision)
            matched += 1
        else:  # a placeholder: never matched on; two dossiers as far as anyone can tell
            assert decision.matches == ()
            assert decision.unrelated == (n.code,)
    assert matched


def test_the_tag_helper_on_a_hand_made_dossier() -> None:
    d = sc.generate(1, 1, kinds=()).dossiers[0]
    c = build_dossier(received_at=at(2024, 7, 1))
    n = replace(c, source=Source.NATIONAL)
    assert expected_kinds(d, (), c, n) == Expected()
    assert expected_kinds(d, ("national.missing",), c, None).must == {K.MISSING_NATIONAL}
    assert expected_kinds(d, ("city.missing",), None, n).must == {K.MISSING_CITY}
    lag = expected_kinds(d, ("national.lag",), c, replace(n, status=Status.ACCEPTED))
    assert lag.must == {K.STATUS}
    assert expected_kinds(d, ("national.lag",), c, n).problems([]) == []
    collapsed = replace(n, status=Status.FINISHED)
    assert expected_kinds(d, ("national.collapsed",), c, collapsed).must == {K.COLLAPSED_STATUS}
    assert expected_kinds(d, ("migrated",), c, None) == Expected(
        must=frozenset({K.MIGRATED}), migrated=True
    )
    shifted = replace(d, national=(sc.Shifted("due_at", 1),))
    assert expected_kinds(shifted, ("national.shifted",), c, n).must == {K.DUE_DATE}
    dup = replace(d, national=(sc.Duplicate(OTHER),))
    assert expected_kinds(dup, ("national.duplicate",), c, n).must == {K.DUPLICATE}
    hidden = replace(d, national=(sc.Duplicate(OTHER), sc.Placeholder()))
    assert expected_kinds(hidden, ("national.duplicate",), c, n).unrelated == {OTHER}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_rule_a_finds_every_migrated_dossier_of_a_generated_scenario(seed: int) -> None:
    scenario = sc.generate(2000, seed)
    data = scenario.views()
    flagged = {r.code for r in data.city if migration_evidence(r, POLICY)}
    migrated = {r.code for r in data.city if "migrated" in data.distortions.get(r.code, ())}
    assert migrated
    assert migrated <= flagged
    # The only others: city receipt dates moved later by a day or more, or finish dates moved
    # before the receipt, which look the same.
    moved = {
        d.code
        for d in scenario.dossiers
        if any(
            isinstance(x, sc.Shifted)
            and (x.field, x.days > 0) in (("received_at", True), ("finished_at", False))
            for x in d.city
        )
    }
    assert flagged - migrated <= moved


@pytest.mark.parametrize("seed", [1, 2])
def test_the_window_finds_generated_migrated_dossiers_without_their_dated_codes(seed: int) -> None:
    scenario = sc.generate(2000, seed)
    data = scenario.views()
    cutover = next(d.migrated for d in scenario.dossiers if d.migrated is not None)
    policy = Policy(migration_window=(cutover.date(), cutover.date()))
    city_records = {r.code: r for r in data.city}
    closed_before = [
        d
        for d in scenario.dossiers
        if d.migrated
        and any(
            e.at <= cutover and e.status in {Status.FINISHED, Status.RETURNED, Status.WITHDRAWN}
            for e in d.events
        )
        and d.code in city_records
    ]
    assert closed_before
    for d in closed_before:
        # Without its dated code: finished at the instant of its receipt, in the window.
        undated = replace(city_records[d.code], code="HS-" + d.code[-4:])
        assert "window=" in migration_evidence(undated, policy)
    # And nothing the new system handled, however close to the cut-over.
    migrated = {d.code for d in scenario.dossiers if d.migrated is not None}
    for r in data.city:
        if r.code not in migrated and not scenario_distorted(scenario, r.code):
            undated = replace(r, code="HS-" + r.code[-4:])
            assert migration_evidence(undated, policy) == "", r


def scenario_distorted(scenario: sc.Scenario, code: str) -> bool:
    return any(d.code == code and (d.city or d.national) for d in scenario.dossiers)


def test_generated_due_dates_follow_the_law_so_only_shifted_ones_are_flagged() -> None:
    """With the calendar and the catalogue, the engine holds due dates to the law; the
    generator writes lawful ones, so a due_date mismatch means a distortion moved a date,
    changed the channel, or held the national record back (a lag that stops at the same status
    as the city's, before a stop's end moved the date)."""
    from connectors import scenario as scenario_module
    from reconcile.calendar import WorkingCalendar
    from reconcile.engine import MismatchKind

    generated = scenario_module.generate(400, 3)
    view = generated.views(generated.now)
    procedures = {p.code: p for p in generated.procedures}
    policy = Policy(calendar=WorkingCalendar())
    city = {d.code: d for d in view.city}
    national = {d.code: d for d in view.national}
    flagged: set[str] = set()
    checked = 0
    for sd in generated.dossiers:
        codes = sorted({sd.code, *sd.extra_codes()})
        cs = [city[c] for c in codes if c in city]
        ns = [national[c] for c in codes if c in national]
        if not cs and not ns:
            continue
        decision = decide(cs, ns, policy, procedures)
        checked += 1
        if any(m.kind is MismatchKind.DUE_DATE for m in decision.mismatches):
            flagged.add(sd.code)
    assert checked > 300
    distorted = {
        sd.code
        for sd in generated.dossiers
        # a shifted date, or a wrong channel (the 15:00 paper rule then applies or not)
        if any(
            x.kind in ("shifted", "channel", "lag") for side in (sd.city, sd.national) for x in side
        )
    }
    assert flagged <= distorted
