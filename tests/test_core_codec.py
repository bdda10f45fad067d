"""Compact JSON storage encoding of `Dossier` (reconcile/codec.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings

from reconcile.codec import dumps, loads
from reconcile.model import VN_TZ, Channel, Dossier, Pause, Source, Status, StopKind
from tests.strategies import at, build_dossier, dossiers


@settings(max_examples=200, deadline=None)
@given(dossiers())
def test_dumps_loads_round_trip(d: Dossier) -> None:
    back = loads(dumps(d))
    assert back == d
    # Equality of aware datetimes compares instants; the wall-clock offset must survive too.
    assert back.received_at.utcoffset() == d.received_at.utcoffset() == timedelta(hours=7)


@settings(max_examples=50, deadline=None)
@given(dossiers())
def test_loads_accepts_text_as_well_as_bytes(d: Dossier) -> None:
    assert loads(dumps(d).decode()) == d


def test_known_blob_decodes_to_the_expected_dossier() -> None:
    blob = (
        '{"s":"national","c":"000.00.45.H26-240701-0001","p":"1.009876","fc":"DT","ch":2,'
        '"st":5,"r":"2024-07-01T08:30:00+07:00","u":"2024-07-03T10:00:00+07:00",'
        '"d":"2024-07-08T17:00:00+07:00","a":["H26-240701-0001"],'
        '"ps":[["2024-07-03T10:00:00+07:00",null]],"dg":1,"ns":"Chờ bổ sung"}'
    )
    expected = Dossier(
        source=Source.NATIONAL,
        code="000.00.45.H26-240701-0001",
        procedure_code="1.009876",
        field_code="DT",
        channel=Channel.ONLINE,
        status=Status.SUPPLEMENT_REQUESTED,
        received_at=at(2024, 7, 1, 8, 30),
        updated_at=at(2024, 7, 3, 10),
        due_at=at(2024, 7, 8, 17),
        alt_codes=("H26-240701-0001",),
        pauses=(Pause(at(2024, 7, 3, 10)),),
        digitised=True,
        native_status="Chờ bổ sung",
    )
    assert loads(blob.encode()) == expected


def test_none_and_empty_values_are_left_out() -> None:
    d = build_dossier(received_at=at(2024, 7, 1), updated_at=at(2024, 7, 2))
    raw = json.loads(dumps(d))
    assert set(raw) == {"s", "c", "p", "fc", "ch", "st", "r", "u"}
    assert raw["s"] == "city"
    assert raw["ch"] == 1
    assert raw["st"] == 4


def test_dumps_keeps_vietnamese_text_unescaped() -> None:
    d = replace(build_dossier(received_at=at(2024, 7, 1)), native_status="Đang xử lý")
    assert "Đang xử lý".encode() in dumps(d)


def test_round_trip_keeps_the_instant_of_a_non_local_time() -> None:
    utc_time = datetime(2024, 6, 19, 17, 30, tzinfo=UTC)
    d = build_dossier(received_at=utc_time)
    assert loads(dumps(d)).received_at == datetime(2024, 6, 20, 0, 30, tzinfo=VN_TZ)


def _without(d: Dossier, key: str) -> bytes:
    raw = json.loads(dumps(d))
    del raw[key]
    return json.dumps(raw).encode()


def test_loads_without_received_at_raises_value_error() -> None:
    d = build_dossier(received_at=at(2024, 7, 1))
    with pytest.raises(ValueError, match="received_at"):
        loads(_without(d, "r"))


def test_loads_without_updated_at_raises_value_error() -> None:
    d = build_dossier(received_at=at(2024, 7, 1))
    with pytest.raises(ValueError, match="updated_at"):
        loads(_without(d, "u"))


def test_loads_of_a_pause_without_start_raises_value_error() -> None:
    d = build_dossier(received_at=at(2024, 7, 1), pauses=(Pause(at(2024, 7, 2)),))
    raw = json.loads(dumps(d))
    raw["ps"] = [[None, "2024-07-03T09:00:00+07:00"]]
    with pytest.raises(ValueError, match="requested_at"):
        loads(json.dumps(raw))


def test_clock_stops_are_stored_compactly_and_old_records_read_as_supplements() -> None:
    stops = (
        Pause(at(2024, 7, 3, 10), at(2024, 7, 4, 9)),
        Pause(at(2024, 7, 5, 10), at(2024, 7, 22, 9), StopKind.FEES, at(2024, 7, 15, 17)),
        Pause(at(2024, 7, 23, 10), None, StopKind.STOPPED),
    )
    d = build_dossier(received_at=at(2024, 7, 1), pauses=stops)
    stored = json.loads(dumps(d))["ps"]
    assert stored == [
        ["2024-07-03T10:00:00+07:00", "2024-07-04T09:00:00+07:00"],
        [
            "2024-07-05T10:00:00+07:00",
            "2024-07-22T09:00:00+07:00",
            "f",
            "2024-07-15T17:00:00+07:00",
        ],
        ["2024-07-23T10:00:00+07:00", None, "x"],
    ]
    assert loads(dumps(d)).pauses == stops
    # A record stored when only supplement requests were kept: two items each.
    old = json.loads(dumps(d))
    old["ps"] = [["2024-07-03T10:00:00+07:00", None]]
    assert loads(json.dumps(old)).pauses == (Pause(at(2024, 7, 3, 10)),)
    unknown = json.loads(dumps(d))
    unknown["ps"] = [["2024-07-03T10:00:00+07:00", None, "?"]]
    with pytest.raises(KeyError):
        loads(json.dumps(unknown))
