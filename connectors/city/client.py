"""Client for the city one-stop system's REST API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from connectors.base import Cursor, Page, PortalError, fetch_floor
from connectors.city import wire
from connectors.fields import format_local
from connectors.http import HttpSettings, NotFound, PortalHttp
from reconcile.model import Source
from reconcile.statusmap import StatusMap


@dataclass(frozen=True, slots=True)
class CitySettings:
    base_url: str
    api_key: str
    page_size: int = 200
    http: HttpSettings = field(default_factory=HttpSettings)
    overlap: timedelta = timedelta(0)
    identity_salt: str = ""


class CityConnector:
    source = Source.CITY

    def __init__(self, settings: CitySettings, statuses: StatusMap) -> None:
        self._settings = settings
        self.wire = wire.wire_format(statuses, settings.identity_salt)
        self.http = PortalHttp(
            "city", settings.base_url, settings.http, {"X-Api-Key": settings.api_key}
        )

    def _page(self, items: list[Any], since: Cursor | None, total: int | None = None) -> Page:
        return self.wire.page(items, since, fetch_floor(since, self._settings.overlap), total)

    async def pages(self, since: Cursor | None) -> AsyncIterator[Page]:
        params = {"pageSize": str(self._settings.page_size)}
        floor = fetch_floor(since, self._settings.overlap)
        if floor is not None:
            params["modifiedSince"] = format_local(floor.updated_at, wire.DATE_FORMAT)
        while True:
            body = await self.http.request_json("GET", "api/v1/dossiers", params=params)
            items, token, total = _parse_listing(body)
            yield self._page(items, since, total)
            if not token:
                return
            params["pageToken"] = token

    async def look_up(self, code: str) -> dict[str, Any] | None:
        """The system's record of `code` as it serves it (personal fields included: use it,
        never keep it), or None when it has none."""
        try:
            body = await self.http.request_json("GET", f"api/v1/dossiers/{quote(code, safe='')}")
        except NotFound:
            return None
        if not isinstance(body, dict):
            raise PortalError(
                "city: a dossier lookup answered something other than an object", "bad_answer"
            )
        return body

    async def fetch_one(self, code: str) -> Page:
        record = await self.look_up(code)
        return self._page([] if record is None else [record], None)

    async def close(self) -> None:
        await self.http.close()


def _parse_listing(body: Any) -> tuple[list[Any], str | None, int | None]:
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise PortalError("city listing: expected an object with an 'items' list", "bad_answer")
    token = body.get("nextPageToken")
    if token is not None and not isinstance(token, str):
        raise PortalError("city listing: nextPageToken is not a string", "bad_answer")
    total = body.get("total")
    return body["items"], token, total if isinstance(total, int) else None
