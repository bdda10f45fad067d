"""National wire format <-> canonical dossier.

A record, as `LayDanhSachHoSo` returns it (personal fields are never stored)::

    {"MaHoSo": "000.00.45.H26-240701-0001", "MaHoSoKhac": "", "MaTTHC": "1.009876",
     "TenTTHC": "...", "MaLinhVuc": "DT", "TenLinhVuc": "Đầu tư", "KenhThucHien": "2",
     "ChuHoSo": "...", "SoGiayTo": "...", "SoDienThoai": "...", "LoaiDoiTuong": "2",
     "NgayTiepNhan": "20240701083000", "NgayHenTra": "20240708170000", "TrangThaiHoSo": "4",
     "NgayKetThucXuLy": "", "NgayTra": "", "DonViXuLy": "...", "HoSoCoThanhPhanSoHoa": "1",
     "DanhSachHoSoBoSung": [{"NgayYeuCauBoSung": "...", "NgayTiepNhanBoSung": "",
                             "NgayHenTraTruoc": "...", "NgayHenTraMoi": "..."}],
     "NgayCapNhat": "20240701083000"}

What the national portal can honestly say about stops of the clock: its record dates supplement
requests only (`DanhSachHoSoBoSung`: requested, complete dossier received, the due date before
(`NgayHenTraTruoc`) and after (`NgayHenTraMoi`)). A fee request (6) or processing stopped (8)
shows only as the current `TrangThaiHoSo`, undated, and is gone from the record once it ends: the
national record's stop is taken to run from its last update while the status lasts
(`Dossier.clock_stopped_at_end_of`), and the reconciled record takes fee and stop intervals from
the city system, whatever side is the authority for `pauses`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from connectors.base import WireError, shown
from connectors.fields import (
    code,
    format_local,
    optional_time,
    records,
    required_time,
    text,
)
from connectors.identity import identity_hash
from connectors.wireformat import FeedIdentity, WireFormat
from reconcile.model import Channel, Dossier, Pause, Procedure, Source, Status, StopKind

DATE_FORMAT = "%Y%m%d%H%M%S"
PERSONAL_FIELDS = frozenset({"ChuHoSo", "SoGiayTo", "SoDienThoai", "DiaChi", "Email"})


FEED = FeedIdentity("MaHoSo", "NgayCapNhat", DATE_FORMAT, "NgayTiepNhan")
key = FEED.key


def _code_number(raw: Mapping[str, Any], name: str, allowed: type[Channel] | type[Status]) -> int:
    value = text(raw, name)
    try:
        number = int(value)
        allowed(number)
    except ValueError:
        raise WireError(name, "not_code_number", value=shown(value)) from None
    return number


def decode(raw: Mapping[str, Any], salt: str = "") -> Dossier:
    """The canonical dossier; the applicant's ID number only as a salted hash (`identity`)."""
    pauses = tuple(
        Pause(
            required_time(item, "NgayYeuCauBoSung", DATE_FORMAT),
            optional_time(item, "NgayTiepNhanBoSung", DATE_FORMAT),
            StopKind.SUPPLEMENT,
            optional_time(item, "NgayHenTraTruoc", DATE_FORMAT),
        )
        for item in records(raw, "DanhSachHoSoBoSung")
    )
    digitised = text(raw, "HoSoCoThanhPhanSoHoa", required=False) or "0"
    if digitised not in ("0", "1"):
        raise WireError("HoSoCoThanhPhanSoHoa", "not_zero_one", value=shown(digitised))
    alt = code(raw, "MaHoSoKhac", "dossier", required=False)
    return Dossier(
        source=Source.NATIONAL,
        code=code(raw, "MaHoSo", "dossier"),
        procedure_code=code(raw, "MaTTHC", "procedure"),
        field_code=code(raw, "MaLinhVuc", "field"),
        channel=Channel(_code_number(raw, "KenhThucHien", Channel)),
        status=Status(_code_number(raw, "TrangThaiHoSo", Status)),
        received_at=required_time(raw, "NgayTiepNhan", DATE_FORMAT),
        updated_at=required_time(raw, "NgayCapNhat", DATE_FORMAT),
        due_at=optional_time(raw, "NgayHenTra", DATE_FORMAT),
        finished_at=optional_time(raw, "NgayKetThucXuLy", DATE_FORMAT),
        returned_at=optional_time(raw, "NgayTra", DATE_FORMAT),
        alt_codes=(alt,) if alt else (),
        pauses=pauses,
        digitised=digitised == "1",
        identity=identity_hash(raw.get("SoGiayTo"), salt),
    )


def wire_format(salt: str = "") -> WireFormat:
    return WireFormat(
        Source.NATIONAL,
        partial(decode, salt=salt),
        FEED,
        PERSONAL_FIELDS,
    )


def encode(d: Dossier, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The record the national portal would serve for `d` (used by the mock portal)."""
    return {
        "MaHoSo": d.code,
        "MaHoSoKhac": d.alt_codes[0] if d.alt_codes else "",
        "MaTTHC": d.procedure_code,
        "MaLinhVuc": d.field_code,
        "KenhThucHien": str(int(d.channel)),
        "NgayTiepNhan": format_local(d.received_at, DATE_FORMAT),
        "NgayHenTra": format_local(d.due_at, DATE_FORMAT),
        "TrangThaiHoSo": str(int(d.status)),
        "NgayKetThucXuLy": format_local(d.finished_at, DATE_FORMAT),
        "NgayTra": format_local(d.returned_at, DATE_FORMAT),
        "HoSoCoThanhPhanSoHoa": "1" if d.digitised else "0",
        "DanhSachHoSoBoSung": _supplements(d),
        "NgayCapNhat": format_local(d.updated_at, DATE_FORMAT),
        **extra,
    }


def _supplements(d: Dossier) -> list[dict[str, str]]:
    """DanhSachHoSoBoSung: each supplement request with the due dates before and after it (the
    date after a completed one is the next one's date before, or, for the last, the record's
    own, which a later stop the portal does not date may have moved since)."""
    supplements = d.supplements
    out = []
    for i, p in enumerate(supplements):
        after = supplements[i + 1].due_before if i + 1 < len(supplements) else d.due_at
        out.append(
            {
                "NgayYeuCauBoSung": format_local(p.requested_at, DATE_FORMAT),
                "NgayTiepNhanBoSung": format_local(p.resumed_at, DATE_FORMAT),
                "NgayHenTraTruoc": format_local(p.due_before, DATE_FORMAT),
                "NgayHenTraMoi": format_local(after if p.resumed_at else None, DATE_FORMAT),
            }
        )
    return out


def decode_procedure(raw: Mapping[str, Any]) -> Procedure:
    """A `LayDanhSachTTHC` entry: resolution time `ThoiGianGiaiQuyet` in `DonViThoiGian`
    ("Ngày làm việc" for working days, "Ngày" for calendar days)."""
    days_text = text(raw, "ThoiGianGiaiQuyet")
    try:
        days = int(float(days_text))
    except ValueError:
        raise WireError("ThoiGianGiaiQuyet", "not_days", value=shown(days_text)) from None
    if days < 0:
        raise WireError("ThoiGianGiaiQuyet", "negative", value=str(days))
    unit = text(raw, "DonViThoiGian", required=False).lower() or "ngày làm việc"
    if unit not in ("ngày làm việc", "ngày"):
        raise WireError("DonViThoiGian", "not_unit", value=shown(unit))
    return Procedure(
        code=code(raw, "MaTTHC", "procedure"),
        name=text(raw, "TenTTHC", required=False),
        field_code=code(raw, "MaLinhVuc", "field"),
        days=days,
        working_days=unit == "ngày làm việc",
    )


def encode_procedure(p: Procedure, field_name: str = "") -> dict[str, Any]:
    return {
        "MaTTHC": p.code,
        "TenTTHC": p.name,
        "MaLinhVuc": p.field_code,
        "TenLinhVuc": field_name,
        "ThoiGianGiaiQuyet": str(p.days),
        "DonViThoiGian": "Ngày làm việc" if p.working_days else "Ngày",
    }
