"""A mock of the city one-stop system's REST API, serving a `Dataset`'s city side.

GET /api/v1/dossiers?modifiedSince=dd/MM/yyyy HH:mm:ss&pageSize=N&pageToken=T
    header X-Api-Key; answers {"items": [...], "total": N, "nextPageToken": T | null}.
    Records come in (modifiedDate, dossierNo) order; the filter is inclusive (>=) at second
    resolution, as such APIs are, so the client must drop what it already has by code.
    The page token is opaque to clients (a keyset position), so a record changing between two
    page fetches is neither skipped nor served twice within one pass.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web

from connectors.base import Cursor, WireError
from connectors.city import wire
from connectors.dataset import Dataset
from connectors.fields import parse_local
from reconcile.model import Dossier
from reconcile.statusmap import StatusMap

MAX_PAGE_SIZE = 500
RECORDS = web.AppKey("records", list)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _encode_token(position: Cursor) -> str:
    return base64.urlsafe_b64encode(json.dumps(position.encode()).encode()).decode()


def _decode_token(token: str) -> Cursor:
    return Cursor.decode(json.loads(base64.urlsafe_b64decode(token.encode())))


def city_records(dataset: Dataset, statuses: StatusMap) -> list[tuple[Cursor, dict[str, Any]]]:
    out = []
    for d in dataset.city:
        applicant = dataset.applicants[d.code]
        extra = {
            "applicantName": applicant.name,
            "applicantIdNo": applicant.id_number,
            "contactTelNo": applicant.phone,
        }
        native = d.native_status or wire.native_for(d.status, statuses)
        out.append((_position(d), wire.encode(d, native, extra)))
    return sorted(out, key=lambda item: item[0])


def _position(d: Dossier) -> Cursor:
    # The wire carries whole seconds: order by what clients can see.
    return Cursor(d.updated_at.replace(microsecond=0), d.code)


def make_app(dataset: Dataset, statuses: StatusMap, api_key: str) -> web.Application:
    app = web.Application()
    app[RECORDS] = city_records(dataset, statuses)

    async def dossiers(request: web.Request) -> web.Response:
        if request.headers.get("X-Api-Key") != api_key:
            return _error(401, "invalid or missing X-Api-Key")
        query = request.query
        try:
            size = int(query.get("pageSize", "100"))
            since = (
                parse_local(query["modifiedSince"], wire.DATE_FORMAT, "modifiedSince")
                if query.get("modifiedSince")
                else None
            )
            token = _decode_token(query["pageToken"]) if query.get("pageToken") else None
        except (ValueError, WireError, KeyError) as exc:
            return _error(400, f"bad query: {exc}")
        if not 1 <= size <= MAX_PAGE_SIZE:
            return _error(400, f"pageSize must be 1-{MAX_PAGE_SIZE}")
        matching = [
            (position, record)
            for position, record in request.app[RECORDS]
            if since is None or position.updated_at >= since
        ]
        remaining = [item for item in matching if token is None or item[0] > token]
        page = remaining[:size]
        next_token = _encode_token(page[-1][0]) if len(remaining) > size else None
        return web.json_response(
            {
                "items": [record for _, record in page],
                "total": len(matching),
                "nextPageToken": next_token,
            }
        )

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/api/v1/dossiers", dossiers)
    app.router.add_get("/healthz", health)
    return app
