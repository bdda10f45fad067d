"""What write-back changes on the national portal: only what the correction is about."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.engine import REACHABLE, Policy, decide
from reconcile.model import Channel, Source, Status
from reconcile.writeback import CREATED_FIELDS, field_text, moves_forward, plan
from tests.strategies import at, build_dossier, dossiers

CITY = build_dossier(
    received_at=at(2024, 7, 1),
    updated_at=at(2024, 7, 5),
    status=Status.RETURNED,
    channel=Channel.ONLINE,
    due_at=at(2024, 7, 8, 17),
    finished_at=at(2024, 7, 4, 10),
    returned_at=at(2024, 7, 5, 11),
)


def test_a_dossier_missing_on_the_national_portal_is_created_with_its_counted_fields() -> None:
    p = plan(decide([CITY], [], Policy()), Policy())
    assert p is not None
    assert (p.action, p.code, p.key, p.base_version) == ("create", CITY.code, CITY.code, None)
    assert set(p.changes) <= set(CREATED_FIELDS)
    assert p.changes["status"] == (None, "10")
    assert p.changes["returned_at"] == (None, CITY.returned_at.isoformat())  # type: ignore[union-attr]
    assert p.reasons == ("missing_national",)


def test_a_national_status_behind_is_updated_with_the_status_and_its_dates_only() -> None:
    national = replace(
        CITY,
        source=Source.NATIONAL,
        status=Status.PROCESSING,
        updated_at=at(2024, 7, 2),
        finished_at=None,
        returned_at=None,
        channel=Channel.DIRECT,  # another mismatch: left to operators
        due_at=at(2024, 7, 9, 17),
    )
    decision = decide([CITY], [national], Policy())
    p = plan(decision, Policy())
    assert p is not None
    assert p.action == "update"
    assert p.base_version == national.version
    assert dict(p.changes) == {
        "status": ("4", "10"),
        "finished_at": (None, CITY.finished_at.isoformat()),  # type: ignore[union-attr]
        "returned_at": (None, CITY.returned_at.isoformat()),  # type: ignore[union-attr]
    }
    assert [s.status for s in p.steps] == [Status.RETURNED]
    assert p.reasons == ("status behind",)


def test_nothing_is_planned_when_the_national_portal_is_the_status_authority() -> None:
    national = replace(CITY, source=Source.NATIONAL, status=Status.PROCESSING)
    policy = Policy(authority={"status": Source.NATIONAL})
    assert plan(decide([CITY], [national], policy), policy) is None
    # Nor a date whose authority is national: the status goes alone.
    policy = Policy(authority={"returned_at": Source.NATIONAL})
    bare = replace(national, finished_at=None, returned_at=None)
    p = plan(decide([CITY], [bare], policy), policy)
    assert p is not None
    assert set(p.changes) == {"status", "finished_at"}


def test_nothing_is_planned_while_the_national_view_is_incomplete() -> None:
    assert plan(decide([CITY], [], Policy(), complete={Source.CITY}), Policy()) is None


@settings(max_examples=300, deadline=None)
@given(dossiers(Source.CITY), dossiers(Source.NATIONAL))
def test_an_update_touches_only_status_and_its_dates_and_moves_forward(c, n) -> None:  # type: ignore[no-untyped-def]
    n = replace(n, code=c.code, alt_codes=())
    p = plan(decide([c], [n], Policy()), Policy())
    if p is None or p.action == "create":
        return
    assert set(p.changes) <= {"status", "finished_at", "returned_at"}
    assert "status" in p.changes
    assert moves_forward(n.status, p.target_status)
    for name, (before, after) in p.changes.items():
        assert before == field_text(n, name)
        assert after == field_text(c, name)


@given(st.sampled_from(Status), st.sampled_from(Status))
def test_moves_forward_is_reachability(a: Status, b: Status) -> None:
    assert moves_forward(a, b) == (a != b and b in REACHABLE[a])
