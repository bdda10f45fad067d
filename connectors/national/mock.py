"""A mock of the national portal's service API, serving a `Dataset`'s national side.

POST /api/login    {"username", "password"} -> {"error_code": "00", "session": "..."}
POST /api/service  {"session", "madonvi", "service": "LayDanhSachHoSo", "TuNgay": yyyyMMddHHmmss,
                    "Trang": 1, "SoBanGhi": 100}
                   -> {"error_code": 0, "TongSoBanGhi": N, "Trang": 1, "data": [...]}

Login answers "00" and services answer 0, as two versions of the real portal do. An unknown or
expired session is HTTP 401 with error_code "401". Records come in (NgayCapNhat, MaHoSo) order;
TuNgay is inclusive at second resolution.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from connectors.base import Cursor, WireError
from connectors.dataset import Dataset
from connectors.fields import parse_local
from connectors.national import wire

MAX_PAGE_SIZE = 500
RECORDS = web.AppKey("records", list)
SESSIONS = web.AppKey("sessions", set)


def national_records(dataset: Dataset) -> list[tuple[Cursor, dict[str, Any]]]:
    out = []
    for d in dataset.national:
        applicant = dataset.applicants[d.code]
        extra = {
            "TenTTHC": f"Thủ tục {d.procedure_code}",
            "ChuHoSo": applicant.name,
            "SoGiayTo": applicant.id_number,
            "SoDienThoai": applicant.phone,
            "LoaiDoiTuong": "2",
            "DonViXuLy": "Ban Quản lý Khu kinh tế Hải Phòng",
        }
        position = Cursor(d.updated_at.replace(microsecond=0), d.code)
        out.append((position, wire.encode(d, extra)))
    return sorted(out, key=lambda item: item[0])


def make_app(dataset: Dataset, username: str, password: str, agency_code: str) -> web.Application:
    app = web.Application()
    app[RECORDS] = national_records(dataset)
    app[SESSIONS] = set()

    async def login(request: web.Request) -> web.Response:
        body = await _json(request)
        if body.get("username") != username or body.get("password") != password:
            return web.json_response(
                {"error_code": "01", "message": "Sai tên đăng nhập hoặc mật khẩu"}
            )
        session = secrets.token_urlsafe(16)
        request.app[SESSIONS].add(session)
        return web.json_response({"error_code": "00", "message": "Thành công", "session": session})

    async def service(request: web.Request) -> web.Response:
        body = await _json(request)
        if body.get("session") not in request.app[SESSIONS]:
            return web.json_response(
                {"error_code": "401", "message": "Phiên làm việc không hợp lệ hoặc đã hết hạn"},
                status=401,
            )
        if body.get("madonvi") != agency_code:
            return web.json_response({"error_code": "03", "message": "Mã đơn vị không hợp lệ"})
        if body.get("service") != "LayDanhSachHoSo":
            return web.json_response({"error_code": "99", "message": "Dịch vụ không tồn tại"})
        try:
            page = int(body.get("Trang", 1))
            size = int(body.get("SoBanGhi", 100))
            since_text = str(body.get("TuNgay") or "")
            since = parse_local(since_text, wire.DATE_FORMAT, "TuNgay") if since_text else None
        except (ValueError, WireError) as exc:
            return web.json_response({"error_code": "02", "message": f"Tham số sai: {exc}"})
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return web.json_response({"error_code": "02", "message": "Trang hoặc SoBanGhi sai"})
        matching = [
            record
            for position, record in request.app[RECORDS]
            if since is None or position.updated_at >= since
        ]
        data = matching[(page - 1) * size : page * size]
        return web.json_response(
            {
                "error_code": 0,
                "message": "",
                "TongSoBanGhi": len(matching),
                "Trang": page,
                "data": data,
            }
        )

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
