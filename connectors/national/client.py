"""Client for the national portal's service API: login, then service POSTs with the session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from connectors.base import Cursor, Page, PortalError, build_page
from connectors.fields import format_local
from connectors.http import HttpSettings, Unauthorized, request_json
from connectors.national import wire
from reconcile.model import Source


@dataclass(frozen=True, slots=True)
class NationalSettings:
    base_url: str
    username: str
    password: str
    agency_code: str
    page_size: int = 200
    http: HttpSettings = field(default_factory=HttpSettings)


def succeeded(body: Mapping[str, Any]) -> bool:
    """Versions of the portal answer "00" or 0 (or "0") for success."""
    code = body.get("error_code")
    return str(code).strip() in ("0", "00") if code is not None else False


class NationalConnector:
    source = Source.NATIONAL

    def __init__(self, settings: NationalSettings) -> None:
        self._settings = settings
        self._session_token: str | None = None
        self._http = aiohttp.ClientSession(
            base_url=settings.base_url.rstrip("/") + "/",
            headers={"Accept": "application/json"},
        )

    async def _login(self) -> str:
        body = await request_json(
            self._http,
            self._settings.http,
            "POST",
            "api/login",
            json={"username": self._settings.username, "password": self._settings.password},
        )
        if not isinstance(body, dict) or not succeeded(body) or not body.get("session"):
            message = body.get("message", "") if isinstance(body, dict) else ""
            raise PortalError(f"national login refused: {message}")
        self._session_token = str(body["session"])
        return self._session_token

    async def call(self, service: str, **params: Any) -> dict[str, Any]:
        """Call one service, logging in first and once more if the session has expired."""
        for attempt in range(2):
            session = self._session_token or await self._login()
            payload = {
                "session": session,
                "madonvi": self._settings.agency_code,
                "service": service,
                **params,
            }
            try:
                body = await request_json(
                    self._http, self._settings.http, "POST", "api/service", json=payload
                )
            except Unauthorized:
                self._session_token = None
                if attempt:
                    raise
                continue
            if not isinstance(body, dict):
                raise PortalError(f"{service}: response is not a JSON object")
            if not succeeded(body):
                raise PortalError(
                    f"{service}: error_code {body.get('error_code')!r} {body.get('message', '')}"
                )
            return body
        raise AssertionError("unreachable")  # pragma: no cover

    async def pages(self, since: Cursor | None) -> AsyncIterator[Page]:
        since_text = format_local(since.updated_at, wire.DATE_FORMAT) if since else ""
        page_number = 1
        size = self._settings.page_size
        while True:
            body = await self.call(
                "LayDanhSachHoSo", TuNgay=since_text, Trang=page_number, SoBanGhi=size
            )
            data = body.get("data")
            if not isinstance(data, list):
                raise PortalError("LayDanhSachHoSo: 'data' is not a list")
            try:
                total = int(body.get("TongSoBanGhi", 0))
            except (TypeError, ValueError):
                raise PortalError("LayDanhSachHoSo: TongSoBanGhi is not a number") from None
            yield build_page(
                Source.NATIONAL, data, since, wire.decode, wire.key, wire.PERSONAL_FIELDS
            )
            if not data or page_number * size >= total:
                return
            page_number += 1

    async def close(self) -> None:
        await self._http.close()
