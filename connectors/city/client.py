"""Client for the city one-stop system's REST API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp

from connectors.base import Cursor, Page, PortalError, build_page
from connectors.city import wire
from connectors.fields import format_local
from connectors.http import HttpSettings, request_json
from reconcile.model import Source
from reconcile.statusmap import StatusMap


@dataclass(frozen=True, slots=True)
class CitySettings:
    base_url: str
    api_key: str
    page_size: int = 200
    http: HttpSettings = field(default_factory=HttpSettings)


class CityConnector:
    source = Source.CITY

    def __init__(self, settings: CitySettings, statuses: StatusMap) -> None:
        self._settings = settings
        self._decode = partial(wire.decode, statuses=statuses)
        self._session = aiohttp.ClientSession(
            base_url=settings.base_url.rstrip("/") + "/",
            headers={"X-Api-Key": settings.api_key, "Accept": "application/json"},
        )

    async def pages(self, since: Cursor | None) -> AsyncIterator[Page]:
        params = {"pageSize": str(self._settings.page_size)}
        if since is not None:
            params["modifiedSince"] = format_local(since.updated_at, wire.DATE_FORMAT)
        while True:
            body = await request_json(
                self._session, self._settings.http, "GET", "api/v1/dossiers", params=params
            )
            items, token = _parse_listing(body)
            yield build_page(
                Source.CITY, items, since, self._decode, wire.key, wire.PERSONAL_FIELDS
            )
            if not token:
                return
            params["pageToken"] = token

    async def close(self) -> None:
        await self._session.close()


def _parse_listing(body: Any) -> tuple[list[Any], str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise PortalError("city listing: expected an object with an 'items' list")
    token = body.get("nextPageToken")
    if token is not None and not isinstance(token, str):
        raise PortalError("city listing: nextPageToken is not a string")
    return body["items"], token
