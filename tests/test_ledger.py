"""The report's ledger (reconcile/ledger.py): every figure traced to dossiers, every gap between a
portal's raw figures and the corrected ones explained by a difference.

Period 2024-07: S = 2024-06-20, E = 2024-07-19. Expected cells are derived by hand from the
rules in DOMAIN.md §7 (see tests/test_core_counts.py for the column rules themselves).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.counts import COLUMNS, FormCounts
from reconcile.deadlines import PausePolicy
from reconcile.ledger import (
    CORRECTED,
    FORMS,
    CellChange,
    Difference,
    Entry,
    Indicators,
    PeriodReport,
    Reason,
    build,
    check_identities,
    restatement,
)
from reconcile.model import Channel, Dossier, Pause, Source, Status, StopKind
from reconcile.period import Period
from tests.strategies import at, build_dossier, dossiers, local_datetimes

P = Period.parse("2024-07")
CITY, NATIONAL = Source.CITY, Source.NATIONAL


def value(form: FormCounts, field_code: str, column: int) -> int:
    """A cell of the form; 0 for a field without a row."""
    for row in form.rows:
        if row.field_code == field_code:
            return row[column]
    return 0


def nonzero(form: FormCounts, field_code: str) -> dict[int, int]:
    return {c: value(form, field_code, c) for c in COLUMNS if value(form, field_code, c)}


def pending(code: str, **kw: Any) -> Dossier:
    """Received on paper Tue 2/7, open, due 25/7: cols {3, 5, 11, 12}."""
    kw.setdefault("received_at", at(2024, 7, 2))
    kw.setdefault("due_at", at(2024, 7, 25))
    return build_dossier(code=code, **kw)


def national(d: Dossier, code: str) -> Dossier:
    return replace(d, source=NATIONAL, code=code)


# --- hand-built entries ------------------------------------------------------------------------


def test_a_migrated_dossier_counts_in_the_raw_form_only_and_is_explained() -> None:
    # Online on 1/7, due 5/7, returned 10/7: cols 3, 4, 7, 10 on the city's own figures.
    city = build_dossier(
        code="000.00.45.H26-240701-0007",
        received_at=at(2024, 7, 1),
        channel=Channel.ONLINE,
        status=Status.RETURNED,
        due_at=at(2024, 7, 5),
        finished_at=at(2024, 7, 10),
    )
    entry = Entry(
        city.code,
        city,
        excluded="migrated",
        kinds={"migrated": "code_date=2024-05-02"},
        city=(city,),
        main={CITY: city.code},
    )
    report = build([entry], P, ("DT",))
    [diff] = report.differences
    assert diff.source is CITY
    assert diff.key == city.code
    assert diff.codes == (city.code,)
    assert diff.raw_cells == (3, 4, 7, 10)
    assert diff.corrected_cells == ()
    assert (diff.field_code, diff.corrected_field_code) == ("DT", "DT")
    assert Reason("excluded", "migrated") in diff.reasons
    assert Reason("migrated", "code_date=2024-05-02") in diff.reasons
    assert nonzero(report.forms["city"], "DT") == {3: 1, 4: 1, 7: 1, 10: 1}
    assert nonzero(report.corrected, "DT") == {}
    assert nonzero(report.forms["national"], "DT") == {}
    assert report.behind("city", "DT", 10) == [city.code]
    assert report.behind(CORRECTED, "DT", 3) == []
    assert report.entries == 1


def test_an_excluded_dossier_no_side_holds_is_no_difference() -> None:
    d = pending("K")
    assert build([Entry("K", d, excluded="migrated")], P).differences == ()


@pytest.mark.parametrize("main", [{CITY: "C1", NATIONAL: "N1"}, {}])
def test_a_second_city_record_is_a_duplicate(main: dict[Source, str]) -> None:
    corrected = pending("C1")
    c2 = replace(corrected, code="C2")
    entry = Entry(
        "C1", corrected, city=(corrected, c2), national=(national(corrected, "N1"),), main=main
    )
    report = build([entry], P, ("DT",))
    assert report.differences == (
        Difference(
            CITY,
            "C1",
            ("C2",),
            "DT",
            (3, 5, 11, 12),
            (),
            (Reason("duplicate", "C2 of C1"),),
            "DT",
        ),
    )
    assert nonzero(report.forms["city"], "DT") == {3: 2, 5: 2, 11: 2, 12: 2}
    assert nonzero(report.forms["national"], "DT") == {3: 1, 5: 1, 11: 1, 12: 1}
    assert nonzero(report.corrected, "DT") == {3: 1, 5: 1, 11: 1, 12: 1}
    assert report.behind("city", "DT", 3) == ["C1", "C2"]


def test_the_matched_record_is_the_main_one_even_when_listed_second() -> None:
    corrected = pending("C2")
    c1 = replace(corrected, code="C1")
    entry = Entry("C2", corrected, city=(c1, corrected), main={CITY: "C2"})
    [city_diff] = [d for d in build([entry], P).differences if d.source is CITY]
    assert city_diff.codes == ("C1",)
    assert city_diff.reasons == (Reason("duplicate", "C1 of C2"),)


def test_a_duplicate_already_named_by_its_mismatch_kind_is_not_named_twice() -> None:
    corrected = pending("C1")
    entry = Entry(
        "C1",
        corrected,
        kinds={"duplicate": "duplicates of C1: C2"},
        city=(corrected, replace(corrected, code="C2")),
        national=(national(corrected, "N1"),),
    )
    [diff] = build([entry], P).differences
    assert diff.codes == ("C2",)
    assert diff.reasons == (Reason("duplicate", "duplicates of C1: C2"),)


def test_a_national_only_dossier_is_missing_on_the_city_side() -> None:
    n1 = build_dossier(
        source=NATIONAL,
        code="N1",
        received_at=at(2024, 7, 1),
        channel=Channel.ONLINE,
        status=Status.FINISHED,
        due_at=at(2024, 7, 10),
        finished_at=at(2024, 7, 10),
    )
    report = build([Entry("N1", n1, national=(n1,), main={NATIONAL: "N1"})], P)
    assert report.differences == (
        Difference(CITY, "N1", (), "DT", (), (3, 4, 7, 9), (Reason("missing_city"),), "DT"),
    )
    assert nonzero(report.forms["city"], "DT") == {}
    assert nonzero(report.corrected, "DT") == {3: 1, 4: 1, 7: 1, 9: 1}
    # Named by its mismatch kind already: not named twice.
    named = Entry("N1", n1, kinds={"missing_city": "national only"}, national=(n1,))
    [diff] = build([named], P).differences
    assert diff.reasons == (Reason("missing_city", "national only"),)


def test_a_record_in_another_field_is_a_difference_even_in_the_same_columns() -> None:
    corrected = pending("C1", field_code="LD")
    city = replace(corrected, field_code="DT")
    entry = Entry(
        "C1",
        corrected,
        kinds={"field_code": "DT/LD"},
        city=(city,),
        national=(national(corrected, "N1"),),
    )
    report = build([entry], P, ("DT", "LD"))
    assert report.differences == (
        Difference(
            CITY,
            "C1",
            ("C1",),
            "DT",
            (3, 5, 11, 12),
            (3, 5, 11, 12),
            (Reason("field_code", "DT/LD"),),
            "LD",
        ),
    )
    assert nonzero(report.forms["city"], "DT") == {3: 1, 5: 1, 11: 1, 12: 1}
    assert nonzero(report.forms["city"], "LD") == {}
    assert nonzero(report.corrected, "LD") == {3: 1, 5: 1, 11: 1, 12: 1}
    assert nonzero(report.corrected, "DT") == {}


def test_a_dossier_both_sides_record_as_corrected_is_no_difference() -> None:
    corrected = pending("C1")
    entry = Entry("C1", corrected, city=(corrected,), national=(national(corrected, "N1"),))
    report = build([entry], P)
    assert report.differences == ()
    for form in FORMS:
        assert nonzero(report.forms[form], "DT") == {3: 1, 5: 1, 11: 1, 12: 1}


def test_a_record_out_of_the_period_on_both_sides_is_no_difference() -> None:
    old = build_dossier(
        code="C1", received_at=at(2024, 5, 2), status=Status.RETURNED, finished_at=at(2024, 5, 9)
    )
    entry = Entry("C1", old, city=(old,))  # no national record, but nothing to count either
    assert build([entry], P).differences == ()


def test_a_difference_in_the_clock_stops_is_named() -> None:
    corrected = pending("C1")
    # The city recorded a supplement request in force at E and the corrected record has none:
    # reconciliation does not compare stops. Due 18/7: 13 corrected, 12 on the city's figures.
    corrected = replace(corrected, due_at=at(2024, 7, 18))
    city = replace(corrected, pauses=(Pause(at(2024, 7, 17)),))
    entry = Entry("C1", corrected, city=(city,), national=(national(corrected, "N1"),))
    [diff] = build([entry], P).differences
    assert (diff.raw_cells, diff.corrected_cells) == ((3, 5, 11, 12), (3, 5, 11, 13))
    assert diff.reasons == (Reason("clock_stops", "supplement"),)
    # The national portal does not date a fee request: once paid, its record has none.
    fees = Pause(at(2024, 7, 10), at(2024, 7, 22), StopKind.FEES)
    corrected = replace(corrected, pauses=(fees,))
    entry = Entry(
        "C1",
        corrected,
        city=(corrected,),
        national=(national(replace(corrected, pauses=()), "N1"),),
    )
    [diff] = build([entry], P).differences
    assert diff.source is Source.NATIONAL
    assert (diff.raw_cells, diff.corrected_cells) == ((3, 5, 11, 13), (3, 5, 11, 12))
    assert diff.reasons == (Reason("clock_stops", "fees"),)


def test_a_difference_no_mismatch_kind_explains_is_unexplained() -> None:
    # Both stopped (8), undated: the city's stop began by E (its last update), the corrected
    # record's after it. Nothing reconciliation compares tells them apart.
    corrected = pending("C1", status=Status.STOPPED, updated_at=at(2024, 7, 22))
    corrected = replace(corrected, due_at=at(2024, 7, 18))
    city = replace(corrected, updated_at=at(2024, 7, 17))
    entry = Entry("C1", corrected, city=(city,), national=(national(corrected, "N1"),))
    [diff] = build([entry], P).differences
    assert (diff.raw_cells, diff.corrected_cells) == ((3, 5, 11, 12), (3, 5, 11, 13))
    assert diff.reasons == (Reason("unexplained"),)


def test_a_manual_override_is_a_reason() -> None:
    corrected = pending("C1", status=Status.FINISHED, finished_at=at(2024, 7, 10))
    city = replace(corrected, status=Status.PROCESSING, finished_at=None)
    entry = Entry(
        "C1",
        corrected,
        city=(city,),
        national=(national(corrected, "N1"),),
        overridden=("finished_at", "status"),
    )
    [diff] = build([entry], P).differences
    assert (diff.raw_cells, diff.corrected_cells) == ((3, 5, 11, 12), (3, 5, 7, 8))
    assert diff.reasons == (Reason("override", "finished_at,status"),)


def test_a_record_two_entries_list_is_counted_once() -> None:
    first = pending("C1")
    second = pending("K2", received_at=at(2024, 7, 3))
    report = build(
        [Entry("C1", first, city=(first,)), Entry("K2", second, city=(first,), main={CITY: "C1"})],
        P,
    )
    assert value(report.forms["city"], "DT", 3) == 1
    assert value(report.corrected, "DT", 3) == 2
    city_diffs = [d for d in report.differences if d.source is CITY]
    assert city_diffs == [
        Difference(CITY, "K2", (), "DT", (), (3, 5, 11, 12), (Reason("missing_city"),), "DT")
    ]


def test_a_record_listed_twice_in_one_entry_is_counted_once() -> None:
    d = pending("C1")
    report = build([Entry("C1", d, city=(d, d), national=(national(d, "N1"),))], P)
    assert value(report.forms["city"], "DT", 3) == 1
    assert report.behind("city", "DT", 3) == ["C1"]


def test_the_ledger_lists_keys_for_the_corrected_form_and_record_codes_for_the_raw_ones() -> None:
    a = pending("K-A", channel=Channel.ONLINE)
    b = pending("K-B", field_code="LD")
    entries = [
        Entry("K-A", a, city=(replace(a, code="C-A"),), national=(national(a, "N-A"),)),
        Entry("K-B", b, city=(replace(b, code="C-B"),), national=(national(b, "N-B"),)),
    ]
    report = build(entries, P, ("DT", "LD"))
    assert report.behind(CORRECTED, "DT", 4) == ["K-A"]
    assert report.behind(CORRECTED, "LD", 5) == ["K-B"]
    assert report.behind(CORRECTED, None, 3) == ["K-A", "K-B"]
    assert report.behind("city", "DT", 3) == ["C-A"]
    assert report.behind("city", None, 12) == ["C-A", "C-B"]
    assert report.behind("national", None, 11) == ["N-A", "N-B"]
    assert report.behind("national", "LD", 4) == []
    assert report.behind(CORRECTED, "MT", 3) == []


def test_the_report_records_its_period_and_policy() -> None:
    report = build([], P, ("DT",), PausePolicy.SUBTRACT)
    assert (report.period, report.policy, report.entries) == (P, PausePolicy.SUBTRACT, 0)
    assert set(report.forms) == {"corrected", "city", "national"}
    assert [row.field_code for row in report.corrected.rows] == ["DT"]


def test_the_policy_reaches_every_form() -> None:
    late = build_dossier(
        code="C1",
        received_at=at(2024, 7, 1),
        status=Status.FINISHED,
        due_at=at(2024, 7, 10),
        finished_at=at(2024, 7, 8),
        pauses=(Pause(at(2024, 7, 2), at(2024, 7, 3)), Pause(at(2024, 7, 4), at(2024, 7, 5))),
    )
    entry = Entry("C1", late, city=(late,), national=(national(late, "N1"),))
    for policy, column in ((PausePolicy.RESTART, 8), (PausePolicy.SUBTRACT, 10)):
        report: PeriodReport = build([entry], P, (), policy)
        for form in FORMS:
            assert nonzero(report.forms[form], "DT") == {3: 1, 5: 1, 7: 1, column: 1}


# --- indicators --------------------------------------------------------------------------------


def _indicator_entries() -> list[Entry]:
    # k1 online, resolved early (3, 4, 7, 8), digitised, on both portals.
    k1 = build_dossier(
        code="k1",
        received_at=at(2024, 7, 1),
        channel=Channel.ONLINE,
        status=Status.FINISHED,
        due_at=at(2024, 7, 10),
        finished_at=at(2024, 7, 5),
        digitised=True,
    )
    # k2 on paper, pending in time (3, 5, 11, 12), not digitised, city only.
    k2 = pending("k2")
    # k3 carried over, pending overdue (3, 6, 11, 13), digitised, on both portals.
    k3 = build_dossier(
        code="k3", received_at=at(2024, 6, 10), due_at=at(2024, 7, 1), digitised=True
    )
    # k4 online, resolved late (3, 4, 7, 10), digitised, city only.
    k4 = build_dossier(
        code="k4",
        received_at=at(2024, 7, 3),
        channel=Channel.ONLINE,
        status=Status.FINISHED,
        due_at=at(2024, 7, 10),
        finished_at=at(2024, 7, 12),
        digitised=True,
    )
    return [
        Entry("k1", k1, city=(k1,), national=(national(k1, "n1"),)),
        Entry("k2", k2, city=(k2,)),
        Entry("k3", k3, city=(k3,), national=(national(k3, "n3"),)),
        Entry("k4", k4, city=(k4,)),
    ]


def test_indicators_of_each_form() -> None:
    report = build(_indicator_entries(), P)
    # Corrected and city: col 3 = 4, col 4 = 2, col 5 = 1; cols 8 + 9 + 12 = 1 + 0 + 1;
    # digitised: k1, k3, k4; received in the period: k1, k2, k4, of which k1 is on the national
    # portal (k3 is too, but was received before the period).
    expected = Indicators(
        online_share=2 / 3, digitisation_rate=0.75, on_time_rate=0.5, sync_rate=1 / 3
    )
    assert report.indicators[CORRECTED] == expected
    assert report.indicators["city"] == expected
    # National: k1 (3, 4, 7, 8) and k3 (3, 6, 11, 13), both digitised. The sync rate is a
    # share of the dossiers received locally: not a national figure.
    assert report.indicators["national"] == Indicators(
        online_share=1.0, digitisation_rate=1.0, on_time_rate=0.5, sync_rate=None
    )


def test_indicators_are_none_when_nothing_is_in_the_denominator() -> None:
    report = build([], P, ("DT",))
    for form in FORMS:
        assert report.indicators[form] == Indicators(None, None, None, None)


def test_a_period_with_only_carried_over_dossiers_has_no_online_share_or_sync_rate() -> None:
    old = build_dossier(code="k", received_at=at(2024, 6, 10), due_at=at(2024, 7, 25))
    report = build([Entry("k", old, city=(old,))], P)
    assert report.indicators[CORRECTED] == Indicators(
        online_share=None, digitisation_rate=0.0, on_time_rate=1.0, sync_rate=None
    )


def test_excluded_dossiers_are_in_no_corrected_indicator() -> None:
    d = pending("k", channel=Channel.ONLINE, digitised=True)
    report = build([Entry("k", d, excluded="migrated", city=(d,))], P)
    assert report.indicators[CORRECTED] == Indicators(None, None, None, None)
    assert report.indicators["city"] == Indicators(1.0, 1.0, 1.0, 0.0)


# --- restatement -------------------------------------------------------------------------------


def test_restatement_lists_the_cells_whose_dossiers_changed() -> None:
    published = {
        ("DT", 3): ["k1", "k2"],
        ("DT", 4): ["k1"],
        ("DT", 13): ["k2"],
        ("LD", 3): [],
    }
    now = {
        ("DT", 3): ["k3", "k1"],  # k2 out, k3 in: same count, still changed
        ("DT", 4): ["k1"],  # unchanged
        ("DT", 12): ["k2"],
        ("LD", 5): ["k4"],
    }
    assert restatement(published, now) == [
        CellChange("DT", 3, 2, 2, ("k3",), ("k2",)),
        CellChange("DT", 12, 0, 1, ("k2",), ()),
        CellChange("DT", 13, 1, 0, (), ("k2",)),
        CellChange("LD", 5, 0, 1, ("k4",), ()),
    ]


def test_restatement_of_an_unchanged_ledger_is_empty() -> None:
    ledger = {("DT", 3): ["k1", "k2"]}
    assert restatement({("DT", 3): ["k2", "k1"]}, ledger) == []
    assert restatement({}, {}) == []


def test_restatement_between_two_builds() -> None:
    before = pending("k1")
    after = replace(before, status=Status.FINISHED, finished_at=at(2024, 7, 10))
    published = build([Entry("k1", before)], P).ledger[CORRECTED]
    now = build([Entry("k1", after)], P).ledger[CORRECTED]
    assert restatement(published, now) == [
        CellChange("DT", 7, 0, 1, ("k1",), ()),
        CellChange("DT", 8, 0, 1, ("k1",), ()),
        CellChange("DT", 11, 1, 0, (), ("k1",)),
        CellChange("DT", 12, 1, 0, (), ("k1",)),
    ]


# --- the differences account for the whole gap -------------------------------------------------

FIELDS = ("DT", "LD", "MT")
_FIRST, _LAST = date(2024, 5, 25), date(2024, 8, 15)
_when = local_datetimes(_FIRST, _LAST)
_PERTURBATIONS: dict[str, st.SearchStrategy[Any]] = {
    "status": st.sampled_from(Status),
    "field_code": st.sampled_from(FIELDS),
    "channel": st.sampled_from(Channel),
    "received_at": _when,
    "updated_at": _when,
    "due_at": st.none() | _when,
    "finished_at": st.none() | _when,
    "returned_at": st.none() | _when,
    "pauses": st.lists(st.builds(Pause, _when, st.none() | _when), max_size=3).map(tuple),
    "digitised": st.booleans(),
}


@st.composite
def _raw_record(draw: st.DrawFn, corrected: Dossier, source: Source, code: str) -> Dossier:
    """What a portal holds: the corrected dossier, as is or with some fields changed."""
    changes: dict[str, Any] = {"source": source, "code": code}
    if draw(st.booleans()):
        changes |= draw(st.fixed_dictionaries({}, optional=_PERTURBATIONS))
    return replace(corrected, **changes)


@st.composite
def _entries(draw: st.DrawFn) -> list[Entry]:
    entries: list[Entry] = []
    earlier: dict[Source, list[Dossier]] = {CITY: [], NATIONAL: []}
    for i in range(draw(st.integers(0, 6))):
        key = f"K{i}"
        corrected = draw(dossiers(CITY, key, min_day=_FIRST, max_day=_LAST, field_codes=FIELDS))
        sides: dict[Source, tuple[Dossier, ...]] = {}
        main: dict[Source, str] = {}
        for source in (CITY, NATIONAL):
            prefix = source.value[0].upper()
            records = [
                draw(_raw_record(corrected, source, f"{prefix}{i}.{j}"))
                for j in range(draw(st.integers(0, 3)))
            ]
            share: bool = draw(st.booleans())
            if earlier[source] and share:
                # A record an earlier entry lists too: counted there only.
                shared = draw(st.sampled_from(earlier[source]))
                records.insert(draw(st.integers(0, len(records))), shared)
            earlier[source].extend(records)
            sides[source] = tuple(records)
            # The matched record: unnamed (the first), any of them, or one not handed in.
            choice = draw(st.sampled_from([None, "ABSENT", *(r.code for r in records)]))
            if choice is not None:
                main[source] = choice
        entries.append(
            Entry(
                key,
                corrected,
                excluded=draw(st.none() | st.just("migrated")),
                kinds=draw(
                    st.dictionaries(
                        st.sampled_from(("status", "due_date", "duplicate", "missing_city")),
                        st.sampled_from(("", "detail")),
                        max_size=2,
                    )
                ),
                city=sides[CITY],
                national=sides[NATIONAL],
                main=main,
                overridden=draw(st.sampled_from([(), ("status",)])),
            )
        )
    return entries


@settings(max_examples=300, deadline=None)
@given(_entries(), st.sampled_from(PausePolicy))
def test_raw_plus_differences_is_corrected_for_every_side_field_and_column(
    entries: list[Entry], policy: PausePolicy
) -> None:
    report = build(entries, P, FIELDS, policy)
    corrected = report.corrected
    for source in (CITY, NATIONAL):
        raw = report.forms[source.value]
        diffs = [d for d in report.differences if d.source is source]
        for field_code in FIELDS:
            for column in COLUMNS:
                gained = sum(
                    column in d.corrected_cells and d.corrected_field_code == field_code
                    for d in diffs
                )
                lost = sum(column in d.raw_cells and d.field_code == field_code for d in diffs)
                assert value(raw, field_code, column) + gained - lost == value(
                    corrected, field_code, column
                ), (source, field_code, column)
    for diff in report.differences:
        assert diff.reasons
        assert diff.raw_cells != diff.corrected_cells or diff.field_code != (
            diff.corrected_field_code
        )
    for form in FORMS:
        assert check_identities(report.forms[form]) == []
        for field_code in FIELDS:
            for column in COLUMNS:
                behind = report.behind(form, field_code, column)
                assert len(behind) == value(report.forms[form], field_code, column)
    # The corrected form counts each entry not excluded once, under its key.
    counted = {key for key in report.behind(CORRECTED, None, 3)}
    assert len(counted) == len(report.behind(CORRECTED, None, 3))
    assert counted <= {e.key for e in entries if not e.excluded}
    assert report.entries == len(entries)
