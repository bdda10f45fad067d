"""A mock of the national portal's service API.

POST /api/login    {"username", "password"} -> {"error_code": "00", "session": "..."}
POST /api/service  {"session", "madonvi", "service", ...}; services:
    LayDanhSachHoSo      {TuNgay: yyyyMMddHHmmss, DenNgay (optional, inclusive), Trang, SoBanGhi}
                         -> {"error_code": 0, "TongSoBanGhi": N, "Trang": p, "data": [...]};
                         N counts the records changed in the range
    TraCuuHoSo           {mahoso} -> {"error_code": 0, "data": [record]} or error_code "04"
    DongBoHoSoMC         {isUpdating: "True"|"False", data: [records]}; a create of a code that
                         exists answers error_code "05" "Hồ sơ đã tồn tại", an update of one that
                         does not, "04", an invalid record "02"
    CapNhatTienDoHoSoMC  {data: [{MaHoSo, ThoiDiemXuLy, TrangThai, NoiDungXuLy, ...}]}
    LayDanhSachTTHC      -> {"error_code": 0, "data": [procedures]}

Login answers "00" and services answer 0, as two versions of the real portal do. A session lives
`session_ttl` seconds; an unknown or expired one is HTTP 401 with error_code "401". Records come
in (NgayCapNhat, MaHoSo) order; TuNgay is inclusive at second resolution.

Faults (`connectors.faults`) are injected when asked for: request-level ones on every path but
/healthz and /api/login, record- and page-level ones on LayDanhSachHoSo only, early session
expiry on service calls. Request arrival times are recorded.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from connectors.base import Cursor, WireError
from connectors.dataset import Dataset
from connectors.fault_settings import FaultSettings
from connectors.faults import FAULTS, RecordShape, install
from connectors.feed import CONTROL_PATHS, Feed
from connectors.fields import parse_local
from connectors.national import wire
from reconcile.model import VN_TZ, Dossier, Procedure, Source

MAX_PAGE_SIZE = 500
FEED = web.AppKey("feed", Feed)
SESSIONS = web.AppKey("sessions", dict)
PROGRESS = web.AppKey("progress", dict)
# Records written through DongBoHoSoMC: code -> the record the portal held before (None: it was
# created). A portal keeps what it is sent: the mocks' clock does not undo a write unless the
# dossier's own story moved on since (connectors.mockserver).
WRITTEN = web.AppKey("written", dict)
PROCEDURES = web.AppKey("procedures", list)
# Where malformed-record faults strike a national record.
SHAPE = RecordShape(
    code=wire.FEED.code_field,
    timestamp=wire.FEED.stamp_field,
    status="TrangThaiHoSo",
    unknown_status="99",
    dates=("NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTra"),
    texts=("MaTTHC", "MaLinhVuc", "KenhThucHien", "TrangThaiHoSo", "HoSoCoThanhPhanSoHoa"),
)

Handler = Callable[[web.Request, dict[str, Any]], Awaitable[dict[str, Any]]]


def national_records(
    dossiers: Iterable[Dossier], dataset: Dataset
) -> list[tuple[Cursor, dict[str, Any]]]:
    out = []
    for d in dossiers:
        applicant = dataset.applicant(Source.NATIONAL, d.code)
        extra = {
            "TenTTHC": f"Thủ tục {d.procedure_code}",
            "ChuHoSo": applicant.name,
            "SoGiayTo": applicant.id_number,
            "SoDienThoai": applicant.phone,
            "LoaiDoiTuong": "2",
            "DonViXuLy": "Ban Quản lý Khu kinh tế Hải Phòng",
        }
        out.append((Cursor(d.updated_at.replace(microsecond=0), d.code), wire.encode(d, extra)))
    return out


def default_procedures(dataset: Dataset) -> list[Procedure]:
    """The dataset's catalogue, or one made up from its procedure codes (7 working days)."""
    if dataset.catalogue:
        return list(dataset.catalogue)
    return [
        Procedure(code, f"Thủ tục {code}", field_code, 7)
        for code, field_code in sorted(dataset.procedures.items())
    ]


def _fail(code: str, message: str) -> dict[str, Any]:
    return {"error_code": code, "message": message}


def make_app(
    dataset: Dataset,
    username: str,
    password: str,
    agency_code: str,
    procedures: Sequence[Procedure] | None = None,
    session_ttl: float = 1800.0,
    clock: Callable[[], float] = time.monotonic,
    faults: FaultSettings | None = None,
) -> web.Application:
    app = web.Application()
    app[FEED] = Feed(national_records(dataset.national, dataset))
    install(app, faults, exempt={"/healthz", "/api/login", *CONTROL_PATHS})
    app[SESSIONS] = {}
    used: set[str] = set()  # sessions that have made a service call
    app[PROGRESS] = {}
    app[WRITTEN] = {}
    app[PROCEDURES] = list(procedures if procedures is not None else default_procedures(dataset))

    async def login(request: web.Request) -> web.Response:
        body = await _json(request)
        if body.get("username") != username or body.get("password") != password:
            return web.json_response(_fail("01", "Sai tên đăng nhập hoặc mật khẩu"))
        session = secrets.token_urlsafe(16)
        request.app[SESSIONS][session] = clock() + session_ttl
        return web.json_response({"error_code": "00", "message": "Thành công", "session": session})

    async def list_dossiers(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        try:
            page = int(body.get("Trang", 1))
            size = int(body.get("SoBanGhi", 100))
            since_text = str(body.get("TuNgay") or "")
            since = parse_local(since_text, wire.DATE_FORMAT, "TuNgay") if since_text else None
            until_text = str(body.get("DenNgay") or "")
            until = parse_local(until_text, wire.DATE_FORMAT, "DenNgay") if until_text else None
        except (ValueError, WireError) as exc:
            return _fail("02", f"Tham số sai: {exc}")
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return _fail("02", "Trang hoặc SoBanGhi sai")
        if request.app[FAULTS].listing_fails():
            raise web.HTTPServiceUnavailable(text="listing unavailable (injected fault)")
        feed = request.app[FEED]
        first = feed.start_of(since)
        end = feed.end_of(until)
        offset = first + (page - 1) * size
        injected = request.app[FAULTS]
        start = max(0, offset - injected.overlap(size))  # an overlapping page repeats earlier ones
        rows = feed.slice(start, min(offset + size, end) - start)
        data = injected.distort_page([record for _, record in rows], SHAPE)
        return {
            "error_code": 0,
            "message": "",
            "TongSoBanGhi": max(0, end - first),
            "Trang": page,
            "data": data,
        }

    async def look_up(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        record = request.app[FEED].get(str(body.get("mahoso", "")))
        if record is None:
            return _fail("04", "Không tìm thấy hồ sơ")
        return {"error_code": 0, "message": "", "data": [record]}

    async def push(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        updating = str(body.get("isUpdating", "False")).lower() == "true"
        records = body.get("data")
        if not isinstance(records, list) or not records:
            return _fail("02", "Thiếu dữ liệu hồ sơ")
        feed = request.app[FEED]
        for record in records:
            try:
                wire.decode(record)
            except (WireError, AttributeError, TypeError) as exc:
                return _fail("02", f"Dữ liệu hồ sơ không hợp lệ: {exc}")
            exists = feed.get(record["MaHoSo"]) is not None
            if exists and not updating:
                return _fail("05", f"Hồ sơ {record['MaHoSo']} đã tồn tại")
            if updating and not exists:
                return _fail("04", f"Hồ sơ {record['MaHoSo']} không tồn tại")
        for record in records:
            request.app[WRITTEN].setdefault(record["MaHoSo"], feed.get(record["MaHoSo"]))
            stamped = {**record, "NgayCapNhat": datetime.now(VN_TZ).strftime(wire.DATE_FORMAT)}
            key = wire.key(stamped)
            assert key is not None
            feed.upsert(key, stamped)
        return {"error_code": 0, "message": "Thành công"}

    async def progress(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        steps = body.get("data")
        if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
            return _fail("02", "Thiếu dữ liệu tiến độ")
        for step in steps:
            if request.app[FEED].get(str(step.get("MaHoSo", ""))) is None:
                return _fail("04", f"Hồ sơ {step.get('MaHoSo')} không tồn tại")
        for step in steps:
            request.app[PROGRESS].setdefault(step["MaHoSo"], []).append(step)
        return {"error_code": 0, "message": "Thành công"}

    async def catalogue(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "error_code": 0,
            # Entries that are not `Procedure`s are served as they are (malformed ones, in tests).
            "data": [
                wire.encode_procedure(p) if isinstance(p, Procedure) else p
                for p in request.app[PROCEDURES]
            ],
        }

    services: dict[str, Handler] = {
        "LayDanhSachHoSo": list_dossiers,
        "TraCuuHoSo": look_up,
        "DongBoHoSoMC": push,
        "CapNhatTienDoHoSoMC": progress,
        "LayDanhSachTTHC": catalogue,
    }

    async def service(request: web.Request) -> web.Response:
        body = await _json(request)
        session = body.get("session")
        expires = request.app[SESSIONS].get(session)
        first_use = str(session) not in used
        if (
            expires is None
            or expires < clock()
            or request.app[FAULTS].expire_session(first_use)  # ended early
        ):
            request.app[SESSIONS].pop(session, None)
            return web.json_response(
                _fail("401", "Phiên làm việc không hợp lệ hoặc đã hết hạn"), status=401
            )
        used.add(str(session))
        if body.get("madonvi") != agency_code:
            return web.json_response(_fail("03", "Mã đơn vị không hợp lệ"))
        handler = services.get(str(body.get("service")))
        if handler is None:
            return web.json_response(_fail("99", "Dịch vụ không tồn tại"))
        return web.json_response(await handler(request, body))

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_post("/api/login", login)
    app.router.add_post("/api/service", service)
    app.router.add_get("/healthz", health)
    return app


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body is not a JSON object")
    return body
