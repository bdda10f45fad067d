"""A mock of the city one-stop system's REST API.

GET /api/v1/dossiers?modifiedSince=dd/MM/yyyy HH:mm:ss&pageSize=N&pageToken=T
    header X-Api-Key; answers {"items": [...], "total": N, "nextPageToken": T | null}.
    Records come in (modifiedDate, dossierNo) order; the filter is inclusive (>=) at second
    resolution, as such APIs are, so the client must drop what it already has by code.
    The page token is a keyset position, opaque to clients: a record changing between two page
    fetches moves to the end and is served there, nothing is skipped.
GET /api/v1/dossiers/{dossierNo}
    one record, or 404.

Faults (`connectors.faults`) are injected when asked for: request-level ones on every path but
/healthz, record- and page-level ones on the listing only. Request arrival times are recorded.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from connectors.base import Cursor, WireError
from connectors.city import wire
from connectors.dataset import Dataset
from connectors.fault_settings import FaultSettings
from connectors.faults import FAULTS, RecordShape, install
from connectors.feed import CONTROL_PATHS, Feed
from connectors.fields import parse_local
from reconcile.model import Dossier, Source
from reconcile.statusmap import StatusMap

MAX_PAGE_SIZE = 500
FEED = web.AppKey("feed", Feed)
# Where malformed-record faults strike a city record.
SHAPE = RecordShape(
    code=wire.FEED.code_field,
    timestamp=wire.FEED.stamp_field,
    status="dossierStatus",
    unknown_status="status-in-no-map",
    dates=("receiveDate", "dueDate", "apologyDate", "finishDate", "releaseDate"),
    texts=("serviceCode", "domainCode", "viaChannel", "dossierStatus"),
)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _encode_token(position: Cursor) -> str:
    return base64.urlsafe_b64encode(json.dumps(position.encode()).encode()).decode()


def _decode_token(token: str) -> Cursor:
    try:
        return Cursor.decode(json.loads(base64.urlsafe_b64decode(token.encode())))
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError(f"pageToken {token!r} is not one this server issued") from exc


def city_records(
    dossiers: Iterable[Dossier], dataset: Dataset, statuses: StatusMap
) -> list[tuple[Cursor, dict[str, Any]]]:
    """Wire records (with the applicant's personal fields, as the real system serves them)."""
    out = []
    for d in dossiers:
        applicant = dataset.applicant(Source.CITY, d.code)
        extra = {
            "applicantName": applicant.name,
            "applicantIdNo": applicant.id_number,
            "contactTelNo": applicant.phone,
            "applicantType": "2",  # 1 a citizen, 2 an organisation (as the national LoaiDoiTuong)
        }
        native = d.native_status or wire.native_for(d.status, statuses)
        # The wire carries whole seconds: order by what clients can see.
        out.append(
            (Cursor(d.updated_at.replace(microsecond=0), d.code), wire.encode(d, native, extra))
        )
    return out


def make_app(
    dataset: Dataset, statuses: StatusMap, api_key: str, faults: FaultSettings | None = None
) -> web.Application:
    app = web.Application()
    app[FEED] = Feed(city_records(dataset.city, dataset, statuses))
    install(app, faults, exempt={"/healthz", *CONTROL_PATHS})

    def authorised(request: web.Request) -> bool:
        return request.headers.get("X-Api-Key") == api_key

    async def dossiers(request: web.Request) -> web.Response:
        if not authorised(request):
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
        except (ValueError, WireError) as exc:
            return _error(400, f"bad query: {exc}")
        if not 1 <= size <= MAX_PAGE_SIZE:
            return _error(400, f"pageSize must be 1-{MAX_PAGE_SIZE}")
        feed = request.app[FEED]
        first = feed.start_of(since)
        start = max(first, feed.start_after(token)) if token else first
        injected = request.app[FAULTS]
        if token:  # an overlapping page starts a few records before the token
            start = max(0, start - injected.overlap(size))
        page = feed.slice(start, size + 1)
        more = len(page) > size
        page = page[:size]
        return web.json_response(
            {
                "items": injected.distort_page([record for _, record in page], SHAPE),
                "total": len(feed) - first,
                "nextPageToken": _encode_token(page[-1][0]) if more else None,
            }
        )

    async def one(request: web.Request) -> web.Response:
        if not authorised(request):
            return _error(401, "invalid or missing X-Api-Key")
        record = request.app[FEED].get(request.match_info["code"])
        if record is None:
            return _error(404, "no such dossier")
        return web.json_response(record)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/api/v1/dossiers", dossiers)
    app.router.add_get("/api/v1/dossiers/{code}", one)
    app.router.add_get("/healthz", health)
    return app
