"""Native status → national status code mapping (DOMAIN.md §3)."""

from __future__ import annotations

import pytest

from reconcile.model import Status
from reconcile.statusmap import StatusMap, UnknownStatus

OPENCPS = {
    "receiving": 1,
    "new": 2,
    "denied": 3,
    "processing": 4,
    "waiting": 5,
    "paying": 6,
    "cancelled": 7,
    "unresolved": 8,
    "releasing": 9,
    "done": 10,
    "waiting_signature": 4,
}


@pytest.fixture
def opencps() -> StatusMap:
    return StatusMap.from_config(OPENCPS)


@pytest.mark.parametrize(
    ("native", "expected"),
    [
        ("receiving", Status.REGISTERED),
        ("new", Status.ACCEPTED),
        ("denied", Status.REFUSED),
        ("processing", Status.PROCESSING),
        ("waiting", Status.SUPPLEMENT_REQUESTED),
        ("paying", Status.AWAITING_FEES),
        ("cancelled", Status.WITHDRAWN),
        ("unresolved", Status.STOPPED),
        ("releasing", Status.FINISHED),
        ("done", Status.RETURNED),
        ("waiting_signature", Status.PROCESSING),
    ],
)
def test_opencps_words_map_to_national_codes(
    opencps: StatusMap, native: str, expected: Status
) -> None:
    assert opencps.to_national(native) is expected


@pytest.mark.parametrize("native", ["DONE", "Done", "  done", "done\t", " DoNe \n"])
def test_lookup_ignores_case_and_surrounding_whitespace(opencps: StatusMap, native: str) -> None:
    assert opencps.to_national(native) is Status.RETURNED


def test_config_keys_are_normalised_too() -> None:
    smap = StatusMap.from_config({"  Chờ Ký Duyệt ": 4, "ĐÃ TRẢ KẾT QUẢ": 10})
    assert smap.to_national("chờ ký duyệt") is Status.PROCESSING
    assert smap.to_national("Đã trả kết quả") is Status.RETURNED


@pytest.mark.parametrize("native", ["finished", "", "wait ing", "done_"])
def test_unknown_status_raises_carrying_the_native_value(opencps: StatusMap, native: str) -> None:
    with pytest.raises(UnknownStatus) as info:
        opencps.to_national(native)
    assert info.value.native == native


def test_unknown_status_is_a_value_error(opencps: StatusMap) -> None:
    with pytest.raises(ValueError, match="'archived'"):
        opencps.to_national("archived")


@pytest.mark.parametrize("code", [0, 11, -4, 99])
def test_code_outside_1_to_10_in_config_names_the_native_status(code: int) -> None:
    raw = dict(OPENCPS, waiting_other_agency=code)
    with pytest.raises(ValueError, match="waiting_other_agency") as info:
        StatusMap.from_config(raw)
    assert not isinstance(info.value, UnknownStatus)


def test_natives_for_lists_every_native_status_of_a_code(opencps: StatusMap) -> None:
    assert sorted(opencps.natives_for(Status.PROCESSING)) == ["processing", "waiting_signature"]
    assert opencps.natives_for(Status.RETURNED) == ["done"]
