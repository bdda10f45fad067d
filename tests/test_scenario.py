"""Scenario files (connectors/scenario.py): events, distortions, views, validation, generating."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import dataset as dataset_module
from connectors import scenario
from connectors.base import WireError
from connectors.city import wire as city_wire
from connectors.dataset import Applicant, Dataset
from connectors.national import wire as national_wire
from connectors.scenario import (
    DISTORTION_KINDS,
    EventKind,
    Scenario,
    ScenarioError,
    dump,
    generate,
    load,
    loads,
)
from reconcile.compare import MismatchKind
from reconcile.model import VN_TZ, Channel, Dossier, Pause, Source, Status, StopKind
from reconcile.statusmap import StatusMap

ROOT = Path(__file__).resolve().parent.parent
CODE = "000.00.45.H26-240701-0001"
OTHER = "000.00.45.H26-240701-0002"
PROCEDURE = "1.009007"
APPLICANT = {"name": "Nguyễn Văn An", "id_number": "031085001234", "phone": "0912345678"}
MISSING_NATIONAL = frozenset({MismatchKind.MISSING_NATIONAL})
MISSING_CITY = frozenset({MismatchKind.MISSING_CITY})
STATUS = frozenset({MismatchKind.STATUS})


def at(day: int, hour: int = 9, minute: int = 0, month: int = 7) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=VN_TZ)


def iso(when: datetime) -> str:
    return when.isoformat()


def ev(when: datetime, event: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"at": iso(when), "event": event}
    out.update({k: iso(v) if isinstance(v, datetime) else v for k, v in extra.items()})
    return out


def dossier(events: list[dict[str, Any]], code: str = CODE, **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "procedure": PROCEDURE,
        "channel": 2,
        "digitised": True,
        "due": iso(at(22, 17)),
        "applicant": APPLICANT,
        "events": events,
        **extra,
    }


def document(*dossiers: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "syncd-scenario/1",
        "agency": "000.00.45.H26",
        "now": iso(at(25, 17)),
        "fields": {"DT": "Đầu tư"},
        "procedures": [
            {"code": PROCEDURE, "name": "Cấp GCN đăng ký đầu tư", "field": "DT", "days": 15}
        ],
        "dossiers": list(dossiers),
    }


def build(*dossiers: dict[str, Any]) -> Scenario:
    return loads(json.dumps(document(*dossiers)))


def record(source: Source = Source.CITY, **changes: Any) -> Dossier:
    """The canonical record of the test dossier, received 1/7 08:30, with `changes`."""
    base: dict[str, Any] = {
        "source": source,
        "code": CODE,
        "procedure_code": PROCEDURE,
        "field_code": "DT",
        "channel": Channel.ONLINE,
        "status": Status.ACCEPTED,
        "received_at": at(1, 8, 30),
        "updated_at": at(1, 8, 30),
        "due_at": at(22, 17),
        "digitised": True,
    }
    return Dossier(**{**base, **changes})


def sides(data: Dataset) -> tuple[dict[str, Dossier], dict[str, Dossier]]:
    return {d.code: d for d in data.city}, {d.code: d for d in data.national}


RECEIVED = ev(at(1, 8, 30), "received")
PROCESSING = ev(at(1, 10), "processing")


# --------------------------------------------------------------------------------------------
# Events


LIFECYCLES: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    (
        "registered",
        [ev(at(1, 8), "registered")],
        {"status": Status.REGISTERED, "received_at": at(1, 8), "updated_at": at(1, 8)},
    ),
    (
        "received",
        [ev(at(1, 8), "registered"), RECEIVED],
        {"status": Status.ACCEPTED},
    ),
    (
        "refused",
        [ev(at(1, 8), "registered"), ev(at(1, 10), "refused")],
        {"status": Status.REFUSED, "received_at": at(1, 8), "updated_at": at(1, 10)},
    ),
    (
        "processing",
        [RECEIVED, ev(at(1, 10), "processing", city_status="waiting_signature")],
        {
            "status": Status.PROCESSING,
            "updated_at": at(1, 10),
            "native_status": "waiting_signature",
        },
    ),
    (
        "supplement_requested",
        [RECEIVED, PROCESSING, ev(at(3), "supplement_requested")],
        {
            "status": Status.SUPPLEMENT_REQUESTED,
            "updated_at": at(3),
            "pauses": (Pause(at(3), None, StopKind.SUPPLEMENT, at(22, 17)),),
        },
    ),
    (
        "supplement_completed",
        [
            RECEIVED,
            PROCESSING,
            ev(at(3), "supplement_requested"),
            ev(at(8, 14), "supplement_completed", due=at(29, 17)),
        ],
        {
            "status": Status.PROCESSING,
            "updated_at": at(8, 14),
            "due_at": at(29, 17),
            "pauses": (Pause(at(3), at(8, 14), StopKind.SUPPLEMENT, at(22, 17)),),
        },
    ),
    (
        "fees_requested",
        [RECEIVED, PROCESSING, ev(at(5, 10), "fees_requested")],
        {
            "status": Status.AWAITING_FEES,
            "updated_at": at(5, 10),
            "pauses": (Pause(at(5, 10), None, StopKind.FEES, at(22, 17)),),
        },
    ),
    (
        "fees_paid",
        [RECEIVED, PROCESSING, ev(at(5, 10), "fees_requested"), ev(at(8, 11), "fees_paid")],
        {
            "status": Status.PROCESSING,
            "updated_at": at(8, 11),
            "pauses": (Pause(at(5, 10), at(8, 11), StopKind.FEES, at(22, 17)),),
        },
    ),
    (
        "stopped",
        [RECEIVED, PROCESSING, ev(at(4, 10), "stopped")],
        {
            "status": Status.STOPPED,
            "updated_at": at(4, 10),
            "pauses": (Pause(at(4, 10), None, StopKind.STOPPED, at(22, 17)),),
        },
    ),
    (
        "resumed",
        [RECEIVED, PROCESSING, ev(at(4, 10), "stopped"), ev(at(8), "resumed")],
        {
            "status": Status.PROCESSING,
            "updated_at": at(8),
            "pauses": (Pause(at(4, 10), at(8), StopKind.STOPPED, at(22, 17)),),
        },
    ),
    (
        "finished",
        [RECEIVED, PROCESSING, ev(at(15, 16), "finished")],
        {"status": Status.FINISHED, "updated_at": at(15, 16), "finished_at": at(15, 16)},
    ),
    (
        "returned",
        [RECEIVED, PROCESSING, ev(at(15, 16), "finished"), ev(at(16), "returned")],
        {
            "status": Status.RETURNED,
            "updated_at": at(16),
            "finished_at": at(15, 16),
            "returned_at": at(16),
        },
    ),
    (
        "withdrawn",
        [RECEIVED, PROCESSING, ev(at(9, 11), "withdrawn")],
        {"status": Status.WITHDRAWN, "updated_at": at(9, 11), "finished_at": at(9, 11)},
    ),
]


def test_the_lifecycle_table_covers_every_event() -> None:
    assert {name for name, _, _ in LIFECYCLES} == {k.value for k in EventKind}


@pytest.mark.parametrize(
    ("events", "changes"), [(e, c) for _, e, c in LIFECYCLES], ids=[n for n, _, _ in LIFECYCLES]
)
def test_each_event_gives_the_record_both_portals_serve(
    events: list[dict[str, Any]], changes: dict[str, Any]
) -> None:
    data = build(dossier(events)).views()
    assert data.city == (record(**changes),)
    # The national portal dates supplement requests only; fee requests and stops it shows
    # by their status while they last.
    supplements = tuple(p for p in changes.get("pauses", ()) if p.kind is StopKind.SUPPLEMENT)
    national = {**changes, "native_status": "", "pauses": supplements}
    assert data.national == (record(Source.NATIONAL, **national),)
    assert data.expected == {}
    assert data.distortions == {}


def test_returned_without_a_finish_has_only_a_return_date() -> None:
    data = build(dossier([RECEIVED, PROCESSING, ev(at(16), "returned")])).views()
    assert data.city == (record(status=Status.RETURNED, updated_at=at(16), returned_at=at(16)),)


def test_a_due_on_any_event_moves_the_due_date_from_then_on() -> None:
    letter = ev(at(21, 10), "processing", due=at(26, 17))  # apology letter, one day before
    s = build(dossier([RECEIVED, PROCESSING, letter, ev(at(24, 15), "finished")]))
    assert s.views(at(21, 9)).city[0].due_at == at(22, 17)
    assert s.views(at(21, 10)).city[0].due_at == at(26, 17)
    assert s.views(at(25)).city[0].due_at == at(26, 17)


LETTER = ev(at(21, 10), "processing", due=at(26, 17), apology=True)  # Mẫu 04, one day before


def test_an_apology_letter_is_on_the_city_record_only() -> None:
    s = build(dossier([RECEIVED, PROCESSING, LETTER, ev(at(24, 15), "finished")]))
    before = s.views(at(21, 9))
    assert before.city[0].apology_at is None
    assert before.city[0].due_at == at(22, 17)
    for when in (at(21, 10), at(25)):
        city, national = s.views(when).city[0], s.views(when).national[0]
        assert (city.due_at, city.apology_at) == (at(26, 17), at(21, 10))
        assert (national.due_at, national.apology_at) == (at(26, 17), None)


def test_the_latest_apology_letter_counts_and_a_lag_hides_a_recent_one() -> None:
    second = ev(at(25, 9), "processing", due=at(29, 17), apology=True)
    s = build(dossier([RECEIVED, PROCESSING, LETTER, second], city=[{"kind": "lag", "events": 1}]))
    assert s.views().city[0].apology_at == at(21, 10)  # the lag leaves the first letter
    unlagged = build(dossier([RECEIVED, PROCESSING, LETTER, second])).views()
    assert unlagged.city[0].apology_at == at(25, 9)


def test_a_migrated_apology_letter_shows_at_the_cut_over() -> None:
    old = [*OLD[:2], ev(at(20, month=4), "processing", due=at(9, 17, month=5), apology=True)]
    s = build(dossier([*old, *OLD[2:]], migrated={"at": iso(MIGRATED_AT)}))
    assert s.views().city[0].apology_at == MIGRATED_AT


def test_an_apology_letter_round_trips() -> None:
    s = build(dossier([RECEIVED, PROCESSING, LETTER, ev(at(24, 15), "finished")]))
    assert s.dossiers[0].events[2].apology
    text = dump(s)
    assert '"due": "2024-07-26T17:00:00+07:00", "apology": true}' in text
    assert text.count('"apology"') == 1
    assert loads(text) == s
    assert dump(loads(text)) == text


def test_the_city_wire_carries_the_apology_letter() -> None:
    statuses = StatusMap.from_config({"new": 2, "processing": 4, "releasing": 9, "done": 10})
    s = build(dossier([RECEIVED, PROCESSING, LETTER, ev(at(24, 15), "finished")]))
    for view in (s.views(at(21, 9)), s.views()):
        d = view.city[0]
        native = city_wire.native_for(d.status, statuses)
        raw = city_wire.encode(d, native, {"applicantIdNo": APPLICANT["id_number"]})
        expected = "" if d.apology_at is None else d.apology_at.strftime("%d/%m/%Y %H:%M:%S")
        assert raw["apologyDate"] == expected
        back = city_wire.decode(raw, statuses)
        assert back == replace(d, native_status=native, identity=back.identity)


STOPS = [
    RECEIVED,
    PROCESSING,
    ev(at(2), "supplement_requested"),
    ev(at(3), "supplement_completed", due=at(24, 17)),
    ev(at(4), "fees_requested"),
    ev(at(8, 11), "fees_paid", due=at(26, 17)),
    ev(at(9), "stopped"),
]


def test_the_city_wire_carries_every_stop_of_the_clock_with_its_dates() -> None:
    statuses = StatusMap.from_config({"new": 2, "processing": 4, "unresolved": 8})
    d = build(dossier(STOPS)).views().city[0]
    assert [(p.kind, p.resumed_at, p.due_before) for p in d.pauses] == [
        (StopKind.SUPPLEMENT, at(3), at(22, 17)),
        (StopKind.FEES, at(8, 11), at(24, 17)),
        (StopKind.STOPPED, None, at(26, 17)),
    ]
    raw = city_wire.encode(d, "unresolved", {})
    assert raw["supplements"] == [
        {
            "requestDate": "02/07/2024 09:00:00",
            "completeDate": "03/07/2024 09:00:00",
            "previousDueDate": "22/07/2024 17:00:00",
        }
    ]
    assert [(x["kind"], x["endDate"]) for x in raw["clockStops"]] == [
        ("fees", "08/07/2024 11:00:00"),
        ("stopped", ""),
    ]
    assert city_wire.decode(raw, statuses) == replace(d, native_status="unresolved")
    # An older city system: no clockStops, no previousDueDate. Its supplements still read.
    older = {k: v for k, v in raw.items() if k != "clockStops"}
    older["supplements"] = [{"requestDate": "02/07/2024 09:00:00", "completeDate": ""}]
    assert city_wire.decode(older, statuses).pauses == (Pause(at(2)),)
    for bad, named in (
        ({"kind": "holiday", "startDate": "04/07/2024 09:00:00"}, "holiday"),
        ({"kind": "fees"}, "startDate"),
        ({"kind": "fees", "startDate": "4/7/2024"}, "startDate"),
    ):
        with pytest.raises(WireError, match=named):
            city_wire.decode({**raw, "clockStops": [bad]}, statuses)


def test_the_national_wire_dates_supplement_requests_only() -> None:
    d = build(dossier(STOPS)).views().national[0]
    assert d.status is Status.STOPPED
    assert [(p.kind, p.due_before) for p in d.pauses] == [(StopKind.SUPPLEMENT, at(22, 17))]
    raw = national_wire.encode(d, {})
    assert raw["DanhSachHoSoBoSung"] == [
        {
            "NgayYeuCauBoSung": "20240702090000",
            "NgayTiepNhanBoSung": "20240703090000",
            "NgayHenTraTruoc": "20240722170000",
            "NgayHenTraMoi": "20240726170000",
        }
    ]
    assert national_wire.decode(raw) == d
    # The stop shows only as the status: taken to run from the last update (9/7) on.
    assert d.clock_stopped_at_end_of(at(9).date())
    assert not d.clock_stopped_at_end_of(at(8).date())


def test_views_at_several_times_show_events_as_they_happen() -> None:
    s = build(
        dossier(
            [
                RECEIVED,
                PROCESSING,
                ev(at(3), "supplement_requested"),
                ev(at(8, 14), "supplement_completed"),
                ev(at(26, 10), "finished"),  # after `now`: the future
            ]
        )
    )
    assert s.views(at(1, 8, 29)).city == ()
    assert s.views(at(1, 8, 29)).national == ()
    assert s.views(at(1, 8, 30)).city == (record(),)
    asked = Pause(at(3), None, StopKind.SUPPLEMENT, due_before=at(22, 17))
    paused = s.views(at(5))
    assert paused.city == (
        record(status=Status.SUPPLEMENT_REQUESTED, updated_at=at(3), pauses=(asked,)),
    )
    assert s.views().city[0].status is Status.PROCESSING
    assert s.views().city[0].pauses == (replace(asked, resumed_at=at(8, 14)),)
    assert s.views().at == at(25, 17)
    later = s.views(at(26, 10))
    assert later.city[0].status is Status.FINISHED
    assert later.city[0].finished_at == at(26, 10)
    assert later.national[0].status is Status.FINISHED
    assert later.at == at(26, 10)


# --------------------------------------------------------------------------------------------
# Distortions


OPEN = [RECEIVED, PROCESSING]
DONE = [RECEIVED, PROCESSING, ev(at(15, 16), "finished"), ev(at(16), "returned")]
PLACEHOLDER = Applicant("Nguyễn", "000000001", "0000000000")
REAL = Applicant(**APPLICANT)


def test_missing_national() -> None:
    data = build(dossier(OPEN, national=[{"kind": "missing"}])).views()
    assert data.city == (record(status=Status.PROCESSING, updated_at=at(1, 10)),)
    assert data.national == ()
    assert data.expected == {CODE: MISSING_NATIONAL}
    assert data.distortions == {CODE: ("national.missing",)}


def test_missing_national_in_a_status_not_counted_is_no_mismatch() -> None:
    refused = [ev(at(1, 8), "registered"), ev(at(1, 10), "refused")]
    data = build(dossier(refused, national=[{"kind": "missing"}])).views()
    assert [d.status for d in data.city] == [Status.REFUSED]
    assert data.national == ()
    assert data.expected == {}


def test_missing_city_is_keyed_by_the_national_code() -> None:
    data = build(dossier(OPEN, city=[{"kind": "missing"}])).views()
    assert data.city == ()
    assert data.national == (
        record(Source.NATIONAL, status=Status.PROCESSING, updated_at=at(1, 10)),
    )
    assert data.expected == {CODE: MISSING_CITY}
    assert data.applicants == {CODE: REAL}


def test_lag_shows_the_state_some_events_earlier() -> None:
    one = build(dossier(DONE, national=[{"kind": "lag", "events": 1}])).views()
    assert one.national == (
        record(
            Source.NATIONAL, status=Status.FINISHED, updated_at=at(15, 16), finished_at=at(15, 16)
        ),
    )
    assert one.city[0].status is Status.RETURNED
    assert one.expected == {CODE: STATUS}
    assert one.distortions == {CODE: ("national.lag",)}
    two = build(dossier(DONE, national=[{"kind": "lag", "events": 2}])).views()
    assert two.national == (
        record(Source.NATIONAL, status=Status.PROCESSING, updated_at=at(1, 10)),
    )
    # Before the last two events happen, the lag keeps the national side two steps behind.
    early = build(dossier(DONE, national=[{"kind": "lag", "events": 2}])).views(at(15, 17))
    assert early.national == (record(Source.NATIONAL),)
    assert early.expected == {CODE: STATUS}


def test_a_lag_that_leaves_no_event_is_a_missing_record() -> None:
    data = build(dossier(OPEN, national=[{"kind": "lag", "events": 2}])).views()
    assert data.national == ()
    assert data.expected == {CODE: MISSING_NATIONAL}
    assert data.distortions == {CODE: ("national.lag",)}


def test_a_lag_over_a_same_status_step_changes_only_the_update_time() -> None:
    events = [*OPEN, ev(at(2), "processing", city_status="waiting_signature")]
    data = build(dossier(events, national=[{"kind": "lag", "events": 1}])).views()
    assert data.national[0].updated_at == at(1, 10)
    assert data.city[0].native_status == "waiting_signature"
    assert data.expected == {}


def test_lag_on_the_city_side() -> None:
    data = build(dossier(DONE, city=[{"kind": "lag", "events": 1}])).views()
    assert data.city == (
        record(status=Status.FINISHED, updated_at=at(15, 16), finished_at=at(15, 16)),
    )
    assert data.national[0].status is Status.RETURNED
    assert data.expected == {CODE: STATUS}


def test_collapsed_shows_paused_dossiers_finished() -> None:
    events = [
        *OPEN,
        ev(at(3), "supplement_requested"),
        ev(at(8, 14), "supplement_completed"),
        ev(at(10), "stopped"),
    ]
    s = build(dossier(events, national=[{"kind": "collapsed"}]))
    paused = s.views(at(5))
    assert paused.national == (
        record(
            Source.NATIONAL,
            status=Status.FINISHED,
            updated_at=at(3),
            finished_at=at(3),
            pauses=(Pause(at(3), None, StopKind.SUPPLEMENT, at(22, 17)),),
        ),
    )
    assert paused.expected == {CODE: STATUS}
    assert paused.distortions == {CODE: ("national.collapsed",)}
    resumed = s.views(at(9))
    assert resumed.national[0].status is Status.PROCESSING
    assert resumed.national[0].finished_at is None
    assert resumed.expected == {}
    assert resumed.distortions == {}  # collapsed changed nothing at that time
    stopped = s.views()
    assert (stopped.national[0].status, stopped.national[0].finished_at) == (
        Status.FINISHED,
        at(10),
    )
    assert stopped.city[0].status is Status.STOPPED


def test_collapsed_on_fees() -> None:
    data = build(
        dossier([*OPEN, ev(at(5, 10), "fees_requested")], national=[{"kind": "collapsed"}])
    ).views()
    assert (data.national[0].status, data.national[0].finished_at) == (Status.FINISHED, at(5, 10))
    assert data.expected == {CODE: STATUS}


def test_rewritten_code() -> None:
    original = "000.00.45-240701-0001"
    data = build(
        dossier(OPEN, code=original, national=[{"kind": "rewritten_code", "code": CODE}])
    ).views()
    assert data.city == (record(code=original, status=Status.PROCESSING, updated_at=at(1, 10)),)
    assert data.national == (
        record(
            Source.NATIONAL, status=Status.PROCESSING, updated_at=at(1, 10), alt_codes=(original,)
        ),
    )
    assert data.expected == {original: MISSING_NATIONAL, CODE: MISSING_CITY}
    assert data.applicants == {original: REAL, CODE: REAL}
    assert data.distortions == {
        original: ("national.rewritten_code",),
        CODE: ("national.rewritten_code",),
    }


@pytest.mark.parametrize(
    ("name", "days", "changes"),
    [
        ("received_at", -1, {"received_at": at(1, 8, 30) - timedelta(days=1)}),
        ("due_at", 2, {"due_at": at(24, 17)}),
        ("finished_at", -1, {"finished_at": at(14, 16)}),
    ],
)
def test_shifted_dates(name: str, days: int, changes: dict[str, Any]) -> None:
    shift = [{"kind": "shifted", "field": name, "days": days}]
    data = build(dossier(DONE, national=shift)).views()
    done: dict[str, Any] = {
        "status": Status.RETURNED,
        "updated_at": at(16),
        "finished_at": at(15, 16),
        "returned_at": at(16),
    }
    assert data.national == (record(Source.NATIONAL, **{**done, **changes}),)
    assert data.city == (record(**done),)
    assert data.expected == {}
    assert data.distortions == {CODE: ("national.shifted",)}


def test_shifting_an_empty_date_changes_nothing() -> None:
    shift = [{"kind": "shifted", "field": "finished_at", "days": 3}]
    data = build(dossier(OPEN, city=shift)).views()
    assert data.city == (record(status=Status.PROCESSING, updated_at=at(1, 10)),)
    assert data.distortions == {}


def test_duplicate_on_the_national_portal() -> None:
    data = build(dossier(OPEN, national=[{"kind": "duplicate", "code": OTHER}])).views()
    primary = record(Source.NATIONAL, status=Status.PROCESSING, updated_at=at(1, 10))
    assert data.national == (primary, record(Source.NATIONAL, code=OTHER, **_open()))
    assert data.expected == {OTHER: MISSING_CITY}
    assert set(data.applicants) == {CODE, OTHER}
    assert set(data.distortions) == {CODE, OTHER}


def _open() -> dict[str, Any]:
    return {"status": Status.PROCESSING, "updated_at": at(1, 10)}


def test_duplicate_of_a_rewritten_record_has_no_alternate_code() -> None:
    original = "000.00.45-240701-0001"
    distortions = [
        {"kind": "rewritten_code", "code": CODE},
        {"kind": "duplicate", "code": OTHER},
    ]
    data = build(dossier(OPEN, code=original, national=distortions)).views()
    assert [(d.code, d.alt_codes) for d in data.national] == [(CODE, (original,)), (OTHER, ())]
    assert data.expected == {
        original: MISSING_NATIONAL,
        CODE: MISSING_CITY,
        OTHER: MISSING_CITY,
    }


def test_duplicate_on_the_city_side() -> None:
    data = build(dossier(DONE, city=[{"kind": "duplicate", "code": OTHER}])).views()
    assert [d.code for d in data.city] == [CODE, OTHER]
    assert data.expected == {OTHER: MISSING_NATIONAL}


def test_placeholder_personal_data() -> None:
    data = build(dossier(OPEN, national=[{"kind": "placeholder"}])).views()
    assert data.national_applicants == {CODE: PLACEHOLDER}
    assert data.city_applicants == {CODE: REAL}
    assert data.applicants == {CODE: PLACEHOLDER}  # one shared map: the placeholder wins
    assert data.applicant(Source.CITY, CODE) == REAL
    assert data.applicant(Source.NATIONAL, CODE) == PLACEHOLDER
    assert data.expected == {}
    assert data.distortions == {CODE: ("national.placeholder",)}


def test_placeholder_on_the_city_side_reaches_its_duplicate_too() -> None:
    city = [{"kind": "placeholder"}, {"kind": "duplicate", "code": OTHER}]
    data = build(dossier(OPEN, city=city)).views()
    assert data.city_applicants == {CODE: PLACEHOLDER, OTHER: PLACEHOLDER}
    assert data.national_applicants == {CODE: REAL}


def test_channel() -> None:
    data = build(dossier(OPEN, national=[{"kind": "channel", "channel": 3}])).views()
    assert data.national == (record(Source.NATIONAL, channel=Channel.POSTAL, **_open()),)
    assert data.city[0].channel is Channel.ONLINE
    assert data.expected == {}


MIGRATED_AT = at(1, 0, 0, month=6)
OLD = [
    ev(at(15, month=4), "received"),
    ev(at(15, 11, month=4), "processing"),
    ev(at(25, 16, month=4), "finished"),
    ev(at(26, month=4), "returned"),
]


def test_migrated_dossiers_look_re_received_at_the_cut_over() -> None:
    s = build(dossier(OLD, migrated={"at": iso(MIGRATED_AT)}))
    assert s.dossiers[0].national == (scenario.Missing(),)
    data = s.views()
    assert data.city == (
        record(
            status=Status.RETURNED,
            received_at=MIGRATED_AT,
            updated_at=MIGRATED_AT,
            finished_at=MIGRATED_AT,
            returned_at=MIGRATED_AT,
        ),
    )
    assert data.national == ()
    assert data.expected == {CODE: MISSING_NATIONAL}
    assert data.distortions == {CODE: ("migrated", "national.missing")}
    before = s.views(at(31, month=5))
    assert (before.city, before.national, before.expected) == ((), (), {})


def test_a_migrated_dossier_the_national_portal_has_shows_its_true_times() -> None:
    s = build(dossier(OLD, migrated={"at": iso(MIGRATED_AT)}, national=[]))
    data = s.views()
    assert data.national == (
        record(
            Source.NATIONAL,
            status=Status.RETURNED,
            received_at=at(15, month=4),
            updated_at=at(26, month=4),
            finished_at=at(25, 16, month=4),
            returned_at=at(26, month=4),
        ),
    )
    assert data.expected == {}
    assert s.views(at(31, month=5)).expected == {CODE: MISSING_CITY}


def test_a_migrated_dossier_still_open_goes_on_in_the_new_system() -> None:
    events = [*OLD[:2], ev(at(3, month=6), "finished")]
    s = build(dossier(events, migrated={"at": iso(MIGRATED_AT)}))
    at_cut_over = s.views(MIGRATED_AT).city[0]
    assert (at_cut_over.status, at_cut_over.received_at) == (Status.PROCESSING, MIGRATED_AT)
    later = s.views().city[0]
    assert (later.status, later.finished_at, later.received_at) == (
        Status.FINISHED,
        at(3, month=6),
        MIGRATED_AT,
    )


def test_a_dossier_not_yet_received_is_on_neither_side() -> None:
    data = build(dossier([ev(at(26), "received")])).views()
    assert (data.city, data.national, data.applicants, data.expected) == ((), (), {}, {})


# --------------------------------------------------------------------------------------------
# Validation


def _mutate(change: Any) -> str:
    doc = copy.deepcopy(
        document(dossier([*OPEN, ev(at(2), "finished")]), dossier(OPEN, code=OTHER))
    )
    change(doc)
    return json.dumps(doc)


def _set(path: str, value: Any) -> Any:
    def change(doc: Any) -> None:
        *parents, last = re.findall(r"\w+", path)
        node = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        elif last.isdigit() and int(last) == len(node):
            node.append(value)
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return change


_DELETE = object()

BAD: list[tuple[Any, str, str]] = [
    (_set("format", "syncd-scenario/2"), "format", "'syncd-scenario/1'"),
    (_set("dossiers", _DELETE), "dossiers", "missing"),
    (_set("now", "2024-07-25 17:00"), "now", "UTC offset"),
    (_set("dossiers.0.events.1.at", iso(at(1, 8))), "dossiers[0].events[1].at", "previous event"),
    (
        _set("dossiers.0.events.0.at", "2024-07-01T08:30:00.5+07:00"),
        "dossiers[0].events[0].at",
        "whole seconds",
    ),
    (
        _set("dossiers.0.events.0.event", "processing"),
        "dossiers[0].events[0].event",
        "may follow status nothing: received, registered",
    ),
    (
        lambda doc: doc["dossiers"][0]["events"].extend(
            [ev(at(3), "returned"), ev(at(4), "processing")]
        ),
        "dossiers[0].events[4].event",
        "none (the lifecycle has ended)",
    ),
    (
        _set("dossiers.1.events.2", ev(at(3), "supplement_completed")),
        "dossiers[1].events[2].event",
        "may follow status 4 (processing)",
    ),
    (_set("dossiers.0.events.0.event", "lost"), "dossiers[0].events[0].event", "one of registered"),
    (_set("dossiers.0.events", []), "dossiers[0].events", "at least one event"),
    (_set("dossiers.0.colour", "red"), "dossiers[0].colour", "unknown key"),
    (_set("dossiers.0.channel", 4), "dossiers[0].channel", "from 1 to 3"),
    (_set("dossiers.0.channel", True), "dossiers[0].channel", "an integer"),
    (_set("dossiers.0.applicant.phone", _DELETE), "dossiers[0].applicant.phone", "missing"),
    (_set("dossiers.1.code", CODE), "dossiers[1].code", "no other dossier"),
    (_set("dossiers.0.procedure", "1.999999"), "dossiers[0].procedure", "under `procedures`"),
    (_set("procedures.0.field", "XX"), "procedures[0].field", "under `fields`"),
    (_set("procedures.0.day_kind", "lunar"), "procedures[0].day_kind", "working, calendar"),
    (_set("dossiers.0.national", [{"kind": "lost"}]), "dossiers[0].national[0].kind", "one of"),
    (
        _set("dossiers.0.city", [{"kind": "collapsed"}]),
        "dossiers[0].city[0].kind",
        'got "collapsed"',
    ),
    (
        _set("dossiers.0.national", [{"kind": "lag", "events": 0}]),
        "dossiers[0].national[0].events",
        ">= 1",
    ),
    (
        _set("dossiers.0.national", [{"kind": "lag", "events": 1, "extra": 1}]),
        "dossiers[0].national[0].extra",
        "unknown key",
    ),
    (
        _set("dossiers.0.national", [{"kind": "duplicate", "code": OTHER}]),
        "dossiers[0].national[0].code",
        "no other dossier",
    ),
    (
        _set("dossiers.0.national", [{"kind": "shifted", "field": "due_at", "days": 0}]),
        "dossiers[0].national[0].days",
        "non-zero",
    ),
    (
        _set("dossiers.0.national", [{"kind": "channel", "channel": 2}]),
        "dossiers[0].national[0].channel",
        "other than the dossier's own",
    ),
    (
        _set("dossiers.0.national", [{"kind": "missing"}, {"kind": "placeholder"}]),
        "dossiers[0].national",
        "nothing besides 'missing'",
    ),
    (
        _set("dossiers.0.national", [{"kind": "placeholder"}, {"kind": "placeholder"}]),
        "dossiers[0].national[1].kind",
        "at most once",
    ),
    (
        lambda doc: doc["dossiers"][0].update(
            city=[{"kind": "missing"}], national=[{"kind": "missing"}]
        ),
        "dossiers[0].city",
        "missing on both",
    ),
    (
        _set("dossiers.0.migrated", {"at": iso(at(30, month=6))}),
        "dossiers[0].migrated.at",
        "at or after the first event",
    ),
    (
        _set("dossiers.0.events.1", ev(at(1, 10), "processing", apology=True)),
        "dossiers[0].events[1].apology",
        'true only on an event that also has "due"',
    ),
    (
        _set("dossiers.0.events.1", ev(at(1, 10), "processing", due=at(23, 17), apology="yes")),
        "dossiers[0].events[1].apology",
        "true or false",
    ),
    (_set("truth", ["figures"]), "truth", "an object"),
]


@pytest.mark.parametrize(("change", "path", "words"), BAD, ids=[f"{p}:{w}" for _, p, w in BAD])
def test_a_bad_file_names_the_file_the_path_and_what_was_expected(
    tmp_path: Path, change: Any, path: str, words: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_text(_mutate(change), encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load(file)
    message = str(caught.value)
    assert message.startswith(f"{file}: {path}: "), message
    assert words in message
    assert caught.value.path == path


def test_the_valid_base_of_the_bad_files_loads() -> None:
    assert len(loads(_mutate(lambda doc: None)).dossiers) == 2


def test_text_that_is_not_json_names_the_place() -> None:
    with pytest.raises(ScenarioError, match=r"^mine\.json: \(top level\): not JSON: .* line 2"):
        loads('{"format":\n  ', name="mine.json")


def test_the_documented_error_messages_are_the_real_ones() -> None:
    docs = (ROOT / "docs" / "scenario.md").read_text(encoding="utf-8")
    supplement = [*OPEN, ev(at(3), "supplement_requested"), ev(at(4), "finished")]
    for change in (
        _set("dossiers.0.events.1.at", iso(at(1, 8))),
        _set("dossiers.0.events", supplement),
        _set("dossiers.1.national", [{"kind": "lost"}]),
        _set("dossiers.0.events.1", ev(at(1, 10), "processing", apology=True)),
    ):
        with pytest.raises(ScenarioError) as caught:
            loads(_mutate(change), name="scenarios/mine.json")
        assert f"\n{caught.value}\n" in docs


# --------------------------------------------------------------------------------------------
# Files: the example, the docs' example, dump and load


def test_the_example_file_covers_every_event_and_distortion_and_finds_what_it_says(
    tmp_path: Path,
) -> None:
    s = load(ROOT / "scenarios" / "example.json")
    assert {e.event for d in s.dossiers for e in d.events} == set(EventKind)
    kinds = {x.kind for d in s.dossiers for x in (*d.city, *d.national)}
    assert kinds == set(DISTORTION_KINDS)
    assert any(d.migrated for d in s.dossiers)
    data = s.views()
    assert data.expected == {
        "000.00.45.H26-240701-0001": STATUS,  # national lags one event (9 vs 10)
        "000.00.45.H26-240702-0001": STATUS,  # fees (6) collapsed to 9
        "000.00.45-240705-0001": MISSING_NATIONAL,  # rewritten: the original code
        "000.00.45.H26-240705-0001": MISSING_CITY,  # rewritten: the new code
        "000.00.45.H26-240708-0002": MISSING_CITY,  # national duplicate
        "000.00.45.H26-240709-0001": MISSING_CITY,  # missing on the city side
        "000.00.45.H26-240415-0003": MISSING_NATIONAL,  # migrated, never pushed
        "000.00.45.H26-240710-0001": STATUS,  # city lags one event (4 vs 9)
    }
    # The future fee payment on 26/7 ends the collapse; the 26/7 arrival appears.
    later = s.views(at(26, 10))
    assert "000.00.45.H26-240702-0001" not in later.expected
    assert "000.00.45.H26-240726-0001" in {d.code for d in later.city}
    assert loads(dump(s)) == s
    scenario.save(s, tmp_path / "again.json")
    assert load(tmp_path / "again.json") == s


def test_the_docs_example_loads_and_shows_what_the_docs_say() -> None:
    docs = (ROOT / "docs" / "scenario.md").read_text(encoding="utf-8")
    marker = docs.index("<!-- example")
    block = re.search(r"```json\n(.+?)\n```", docs[marker:], re.DOTALL)
    assert block is not None
    s = loads(block.group(1), name="docs/scenario.md")
    data = s.views()
    city, national = sides(data)
    first = city["000.00.45.H26-240701-0001"]
    assert (first.status, first.finished_at, first.due_at, first.pauses) == (
        Status.FINISHED,
        at(24, 16),
        at(29, 17),
        (Pause(at(3), at(8, 14), StopKind.SUPPLEMENT, due_before=at(22, 17)),),
    )
    assert national["000.00.45.H26-240701-0001"].status is Status.PROCESSING
    assert city["000.00.45-240705-0001"].native_status == "waiting_signature"
    assert national["000.00.45.H26-240705-0001"].alt_codes == ("000.00.45-240705-0001",)
    migrated = city["000.00.45.H26-240415-0003"]
    assert {migrated.received_at, migrated.finished_at, migrated.returned_at} == {MIGRATED_AT}
    assert migrated.status is Status.RETURNED
    assert data.expected == {
        "000.00.45.H26-240701-0001": STATUS,
        "000.00.45-240705-0001": MISSING_NATIONAL,
        "000.00.45.H26-240705-0001": MISSING_CITY,
        "000.00.45.H26-240415-0003": MISSING_NATIONAL,
    }
    later = s.views(at(26, 10))
    assert sides(later)[0]["000.00.45.H26-240701-0001"].status is Status.RETURNED
    assert sides(later)[1]["000.00.45.H26-240701-0001"].status is Status.FINISHED


def test_truth_is_free_form_documentation_that_round_trips() -> None:
    truth = {
        "description": "Hai hồ sơ / two dossiers",
        "period": "2024-07",
        "reconciled": {"3": 1, "7": 1},
        "causes": {"migrated": [{"code": CODE, "effect": "excluded"}]},
    }
    doc = {**document(dossier(DONE)), "truth": truth}
    s = loads(json.dumps(doc))
    assert s.truth == truth
    text = dump(s)
    assert loads(text) == s
    assert dump(loads(text)) == text
    assert text.index('"truth"') < text.index('"dossiers"')
    plain = build(dossier(DONE))
    assert plain.truth == {}
    assert '"truth"' not in dump(plain)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=60), st.integers(min_value=0, max_value=2**32))
def test_dump_and_load_round_trip_for_generated_scenarios(size: int, seed: int) -> None:
    s = generate(size, seed)
    text = dump(s)
    back = loads(text)
    assert back == s
    assert dump(back) == text


# --------------------------------------------------------------------------------------------
# Generation


def test_generate_is_deterministic_for_a_seed() -> None:
    assert dump(generate(300, 5)) == dump(generate(300, 5))
    assert generate(300, 5) != generate(300, 6)


@pytest.fixture(scope="module")
def big() -> Scenario:
    return generate(2000, 2024)


def test_generate_carries_every_distortion_kind(big: Scenario) -> None:
    declared = Counter(
        x.kind for d in big.dossiers for x in (*d.city, *d.national) if d.migrated is None
    )
    assert set(declared) == set(DISTORTION_KINDS)
    migrated = sum(d.migrated is not None for d in big.dossiers)
    assert 20 <= migrated <= 120  # ~3%
    for kind in ("rewritten_code", "duplicate", "placeholder", "channel", "shifted"):
        assert 10 <= declared[kind] <= 80, (kind, declared[kind])  # ~1-3%
    assert 150 <= declared["lag"] <= 300  # ~10%
    applied = Counter(k for kinds in big.views().distortions.values() for k in kinds)
    for kind in DISTORTION_KINDS:
        assert applied[f"national.{kind}"] > 0, kind
    for kind in set(DISTORTION_KINDS) - scenario.NATIONAL_ONLY:
        assert applied[f"city.{kind}"] > 0, kind


def test_generate_matches_the_seed_catalogue(big: Scenario) -> None:
    assert Counter(p.field_code for p in big.procedures) == Counter(
        dataset_module.PROCEDURES_PER_FIELD
    )
    assert all(3 <= p.days <= 15 for p in big.procedures)
    assert {p.code: p.field_code for p in big.procedures} == dataset_module.procedures()
    assert all(re.fullmatch(r"000\.00\.45(\.H26)?-\d{6}-\d{4}", d.code) for d in big.dossiers)
    received = [d.events[0].at for d in big.dossiers if d.migrated is None]
    assert min(received) >= big.now - timedelta(days=76)


def test_some_generated_events_lie_in_the_future(big: Scenario) -> None:
    events = [e for d in big.dossiers for e in d.events]
    future = sum(e.at > big.now for e in events)
    assert 0.01 <= future / len(events) <= 0.03
    assert max(e.at for e in events) <= big.now + timedelta(days=2)
    now, later = big.views(), big.views(big.now + timedelta(days=2))
    assert len(later.city) > len(now.city)
    assert sides(later)[0] != sides(now)[0]


def test_generate_with_no_kinds_has_no_mismatch() -> None:
    s = generate(300, 1, kinds=())
    assert all(not d.city and not d.national and d.migrated is None for d in s.dossiers)
    assert s.views().expected == {}
    with pytest.raises(ValueError, match="unknown kinds"):
        generate(1, 1, kinds=["lost"])


def test_expected_lists_the_per_code_disagreements_of_every_kind(big: Scenario) -> None:
    """`expected` describes the served records code by code (presence and status), before any
    matching; what reconciliation makes of them is tested in tests/test_engine.py."""
    found = {k for kinds in big.views().expected.values() for k in kinds}
    assert found == {MismatchKind.MISSING_NATIONAL, MismatchKind.MISSING_CITY, MismatchKind.STATUS}


def test_the_dataset_generator_is_a_view_of_a_scenario() -> None:
    data = dataset_module.generate(200, 11)
    same = generate(200, 11, city_words=False).views(dataset_module.DEFAULT_NOW, salt="")
    assert data == same
    assert all(d.native_status == "" for d in data.city)
    served = {d.code for d in (*data.city, *data.national)}
    assert set(data.applicants) == served
    assert generate(200, 11).views() != data  # city words differ
