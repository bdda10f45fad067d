"""Client for the national portal's service API: login, then service POSTs with the session.

Reading: `LayDanhSachHoSo` pages through changes, `TraCuuHoSo` looks one dossier up,
`LayDanhSachTTHC` reads the procedure catalogue. Writing back (syncd.pusher decides what):
`DongBoHoSoMC` writes a whole record (`write_record`, `isUpdating` for an existing one) and
`CapNhatTienDoHoSoMC` adds processing steps. The portal's answers are told apart by their error
codes, never by message text: `NOT_FOUND` ("04"), `ALREADY_EXISTS` ("05", a create of a record
that exists), `INVALID` ("02"), and the session codes.

Paging is page-number based on the wire, but a pass does not walk page numbers over one query:
a record updated during the pass moves to the end of the order and would shift every later page
by one, skipping a record. Instead each request asks for records from the last timestamp seen
(`TuNgay`, inclusive) and drops the ones already read by (timestamp, code); page numbers only
advance while a whole page shares one timestamp.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.base import Cursor, Page, PortalError, WireError, fetch_floor
from connectors.fields import format_local
from connectors.http import HttpSettings, PortalHttp, Unauthorized
from connectors.national import wire
from reconcile.model import Procedure, Source, Status

SESSION_EXPIRED_CODES = frozenset({"401", "-401"})
NOT_FOUND = frozenset({"04", "404"})
ALREADY_EXISTS = frozenset({"05"})
INVALID = frozenset({"02"})


@dataclass(frozen=True, slots=True)
class NationalSettings:
    base_url: str
    username: str
    password: str
    agency_code: str
    page_size: int = 200
    http: HttpSettings = field(default_factory=HttpSettings)
    overlap: timedelta = timedelta(0)
    identity_salt: str = ""


class ServiceError(PortalError):
    """A service answered with a failure code."""

    def __init__(self, service: str, code: str, message: str) -> None:
        super().__init__(f"national: {service}: error_code {code!r}: {message}", "service_error")
        self.service, self.code, self.message = service, code, message


@dataclass(frozen=True, slots=True)
class ProgressStep:
    """One processing step pushed with `CapNhatTienDoHoSoMC` (no names of persons)."""

    at: datetime
    status: Status
    note: str
    unit: str = ""


def error_code(body: Mapping[str, Any]) -> str:
    code = body.get("error_code")
    return "" if code is None else str(code).strip()


def succeeded(body: Mapping[str, Any]) -> bool:
    """Versions of the portal answer "00" or 0 (or "0") for success."""
    return error_code(body) in ("0", "00")


class NationalConnector:
    source = Source.NATIONAL

    def __init__(self, settings: NationalSettings) -> None:
        self._settings = settings
        self._session_token: str | None = None
        self.http = PortalHttp("national", settings.base_url, settings.http, {})
        self.wire = wire.wire_format(settings.identity_salt)
        self.logins = 0

    async def _login(self) -> str:
        body = await self.http.request_json(
            "POST",
            "api/login",
            json={"username": self._settings.username, "password": self._settings.password},
        )
        if not isinstance(body, dict) or not succeeded(body) or not body.get("session"):
            message = body.get("message", "") if isinstance(body, dict) else ""
            raise PortalError(f"national: login refused: {message}", "login_refused")
        self.logins += 1
        self._session_token = str(body["session"])
        return self._session_token

    async def call(self, service: str, **params: Any) -> dict[str, Any]:
        """Call one service, logging in first, and once more if the session has expired
        (HTTP 401 or an expired-session code): the same request is then sent again, so the
        page in hand is neither lost nor read twice."""
        for attempt in range(2):
            session = self._session_token or await self._login()
            payload = {
                "session": session,
                "madonvi": self._settings.agency_code,
                "service": service,
                **params,
            }
            try:
                body = await self.http.request_json("POST", "api/service", json=payload)
            except Unauthorized:
                body = {"error_code": "401"}
            if not isinstance(body, dict):
                raise PortalError(
                    f"national: {service}: response is not a JSON object", "bad_answer"
                )
            if error_code(body) in SESSION_EXPIRED_CODES:
                self._session_token = None
                if attempt == 0:
                    continue
            if not succeeded(body):
                raise ServiceError(service, error_code(body), str(body.get("message", "")))
            return body
        raise AssertionError("unreachable")  # pragma: no cover

    def _page(
        self, data: list[Any], since: Cursor | None, floor: Cursor | None, total: int | None
    ) -> Page:
        return self.wire.page(data, since, floor, total)

    async def changed_between(self, start: datetime, end: datetime) -> int:
        """How many records the portal says changed from `start` to `end` (inclusive, whole
        seconds): the total of a one-record listing of that range."""
        body = await self.call(
            "LayDanhSachHoSo",
            TuNgay=format_local(start, wire.DATE_FORMAT),
            DenNgay=format_local(end, wire.DATE_FORMAT),
            Trang=1,
            SoBanGhi=1,
        )
        total = _int(body.get("TongSoBanGhi"))
        if total is None or total < 0:
            raise PortalError(
                "national: LayDanhSachHoSo: 'TongSoBanGhi' is not a count", "bad_answer"
            )
        return total

    async def pages(
        self, since: Cursor | None, until: datetime | None = None
    ) -> AsyncIterator[Page]:
        """Pages of what changed after `since` (less the overlap), up to `until` if given."""
        size = self._settings.page_size
        until_text = format_local(until, wire.DATE_FORMAT) if until is not None else None
        floor = fetch_floor(since, self._settings.overlap)
        boundary = floor.updated_at if floor else None
        page_number = 1
        total: int | None = None
        while True:
            body = await self.call(
                "LayDanhSachHoSo",
                TuNgay=format_local(boundary, wire.DATE_FORMAT),
                Trang=page_number,
                SoBanGhi=size,
                **({"DenNgay": until_text} if until_text else {}),
            )
            data = body.get("data")
            if not isinstance(data, list):
                raise PortalError("national: LayDanhSachHoSo: 'data' is not a list", "bad_answer")
            if total is None:
                total = _int(body.get("TongSoBanGhi"))
            yield self._page(data, since, floor, total)
            if len(data) < size:
                return
            # The newest position in the page, not the last record: a page may come out of order.
            keys = [self.wire.identity.key(item) for item in data if isinstance(item, Mapping)]
            last = max((k for k in keys if k is not None), default=None)
            if last is None or (boundary is not None and last.updated_at <= boundary):
                page_number += 1  # a whole page within one second: step inside it
                continue
            boundary, page_number = last.updated_at, 1
            floor = last if floor is None or last > floor else floor

    async def fetch_one(self, code: str) -> Page:
        record = await self.look_up(code)
        return self._page([] if record is None else [record], None, None, None)

    async def procedures(self) -> tuple[list[Procedure], list[str]]:
        """The procedure catalogue, and the reasons of entries that did not parse."""
        body = await self.call("LayDanhSachTTHC")
        data = body.get("data")
        if not isinstance(data, list):
            raise PortalError("national: LayDanhSachTTHC: 'data' is not a list", "bad_answer")
        procedures: list[Procedure] = []
        problems: list[str] = []
        for index, raw in enumerate(data):
            try:
                if not isinstance(raw, Mapping):
                    raise WireError("record", "not_object")
                procedures.append(wire.decode_procedure(raw))
            except WireError as exc:
                problems.append(f"entry {index}: {exc}")
        return procedures, problems

    async def look_up(self, code: str) -> dict[str, Any] | None:
        """The portal's record of `code` as it serves it (personal fields included: use it,
        never keep it), or None when it has none."""
        try:
            body = await self.call("TraCuuHoSo", mahoso=code)
        except ServiceError as exc:
            if exc.code in NOT_FOUND:
                return None
            raise
        data = body.get("data") or []
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            raise PortalError("national: TraCuuHoSo: 'data' holds no record", "bad_answer")
        return dict(data[0])

    async def write_record(self, record: Mapping[str, Any], updating: bool) -> dict[str, Any]:
        """Write one whole record with `DongBoHoSoMC`; the portal's answer. A refusal raises
        `ServiceError`, whose `code` says why (`ALREADY_EXISTS`, `NOT_FOUND`, `INVALID`)."""
        return await self.call("DongBoHoSoMC", isUpdating=str(updating), data=[dict(record)])

    async def push_progress(self, code: str, steps: Sequence[ProgressStep]) -> None:
        await self.call(
            "CapNhatTienDoHoSoMC",
            data=[
                {
                    "MaHoSo": code,
                    "ThoiDiemXuLy": format_local(step.at, wire.DATE_FORMAT),
                    "TrangThai": str(int(step.status)),
                    "NoiDungXuLy": step.note,
                    "PhongBanXuLy": step.unit,
                }
                for step in steps
            ],
        )

    async def close(self) -> None:
        await self.http.close()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
