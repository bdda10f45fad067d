"""City wire format <-> canonical dossier.

A record (personal fields are read by nobody and never stored)::

    {"dossierNo": "000.00.45.H26-240701-0001", "otherDossierNo": "", "serviceCode": "1.009876",
     "serviceName": "...", "domainCode": "DT", "domainName": "Đầu tư",
     "viaChannel": "ONLINE", "dossierStatus": "processing",
     "receiveDate": "01/07/2024 08:30:00", "dueDate": "08/07/2024 17:00:00",
     "apologyDate": "", "finishDate": "", "releaseDate": "",
     "modifiedDate": "01/07/2024 08:30:00",
     "digitized": true,
     "supplements": [{"requestDate": "...", "completeDate": "", "previousDueDate": "..."}],
     "clockStops": [{"kind": "fees", "startDate": "...", "endDate": "...",
                     "previousDueDate": "..."}],
     "applicantName": "...", "applicantIdNo": "...", "contactTelNo": "..."}

`apologyDate` is when the apology letter (Mẫu 04) that moved `dueDate` was sent ("": none); the
national portal has no such field. `otherDossierNo` is another code of the same dossier (""
none): the code the old system gave it, for a dossier recoded when it was carried over (the
national portal's `MaHoSoKhac`); an older city system leaves it out.

Every stop of the clock is history on the record, with its dates: `supplements` the supplement
requests (status `waiting`, 5), `clockStops` the others, `kind` "fees" (a fee or tax request,
`paying`, 6) or "stopped" (processing stopped, `unresolved`, 8); `endDate` / `completeDate` ""
while in force. `previousDueDate` is the due date on record when the stop began ("" or absent:
not said), so that a period that ended before the stop is judged on it. A record without
`clockStops` (an older city system) is read with supplement requests only.
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
from reconcile.model import Channel, Dossier, Pause, Source, Status, StopKind
from reconcile.statusmap import StatusMap, UnknownStatus

DATE_FORMAT = "%d/%m/%Y %H:%M:%S"
CHANNELS = {"DIRECT": Channel.DIRECT, "ONLINE": Channel.ONLINE, "POSTAL": Channel.POSTAL}
CHANNEL_NAMES = {channel: name for name, channel in CHANNELS.items()}
PERSONAL_FIELDS = frozenset({"applicantName", "applicantIdNo", "contactTelNo", "applicantAddress"})
# `clockStops[].kind` -> the stop (supplement requests travel in `supplements`).
STOP_KINDS = {"fees": StopKind.FEES, "stopped": StopKind.STOPPED}


FEED = FeedIdentity("dossierNo", "modifiedDate", DATE_FORMAT, "receiveDate")
key = FEED.key


def wire_format(statuses: StatusMap, salt: str = "") -> WireFormat:
    return WireFormat(
        Source.CITY,
        partial(decode, statuses=statuses, salt=salt),
        FEED,
        PERSONAL_FIELDS,
    )


def decode(raw: Mapping[str, Any], statuses: StatusMap, salt: str = "") -> Dossier:
    """The canonical dossier; the applicant's ID number only as a salted hash (`identity`)."""
    native = text(raw, "dossierStatus")
    try:
        status = statuses.to_national(native)
    except UnknownStatus:
        raise WireError("dossierStatus", "unknown_status", value=shown(native)) from None
    channel_name = text(raw, "viaChannel").upper()
    if channel_name not in CHANNELS:
        raise WireError(
            "viaChannel", "not_choice", value=shown(channel_name), choices=", ".join(CHANNELS)
        )
    digitized = raw.get("digitized", False)
    if not isinstance(digitized, bool):
        raise WireError("digitized", "not_boolean")
    pauses = [
        Pause(
            required_time(item, "requestDate", DATE_FORMAT),
            optional_time(item, "completeDate", DATE_FORMAT),
            StopKind.SUPPLEMENT,
            optional_time(item, "previousDueDate", DATE_FORMAT),
        )
        for item in records(raw, "supplements")
    ]
    for item in records(raw, "clockStops"):
        kind = text(item, "kind").lower()
        if kind not in STOP_KINDS:
            raise WireError(
                "clockStops.kind", "not_choice", value=shown(kind), choices=", ".join(STOP_KINDS)
            )
        pauses.append(
            Pause(
                required_time(item, "startDate", DATE_FORMAT),
                optional_time(item, "endDate", DATE_FORMAT),
                STOP_KINDS[kind],
                optional_time(item, "previousDueDate", DATE_FORMAT),
            )
        )
    pauses.sort(key=lambda p: p.requested_at)  # in the order they happened, whatever the list
    other = code(raw, "otherDossierNo", "dossier", required=False)
    return Dossier(
        source=Source.CITY,
        code=code(raw, "dossierNo", "dossier"),
        alt_codes=(other,) if other else (),
        procedure_code=code(raw, "serviceCode", "procedure"),
        field_code=code(raw, "domainCode", "field"),
        channel=CHANNELS[channel_name],
        status=status,
        received_at=required_time(raw, "receiveDate", DATE_FORMAT),
        updated_at=required_time(raw, "modifiedDate", DATE_FORMAT),
        due_at=optional_time(raw, "dueDate", DATE_FORMAT),
        apology_at=optional_time(raw, "apologyDate", DATE_FORMAT),
        finished_at=optional_time(raw, "finishDate", DATE_FORMAT),
        returned_at=optional_time(raw, "releaseDate", DATE_FORMAT),
        pauses=tuple(pauses),
        digitised=digitized,
        native_status=native,
        identity=identity_hash(raw.get("applicantIdNo"), salt),
    )


def encode(d: Dossier, native_status: str, extra: Mapping[str, Any]) -> dict[str, Any]:
    """The record the city system would serve for `d` (used by the mock portal)."""
    return {
        "dossierNo": d.code,
        "otherDossierNo": d.alt_codes[0] if d.alt_codes else "",
        "serviceCode": d.procedure_code,
        "domainCode": d.field_code,
        "viaChannel": CHANNEL_NAMES[d.channel],
        "dossierStatus": native_status,
        "receiveDate": format_local(d.received_at, DATE_FORMAT),
        "dueDate": format_local(d.due_at, DATE_FORMAT),
        "apologyDate": format_local(d.apology_at, DATE_FORMAT),
        "finishDate": format_local(d.finished_at, DATE_FORMAT),
        "releaseDate": format_local(d.returned_at, DATE_FORMAT),
        "modifiedDate": format_local(d.updated_at, DATE_FORMAT),
        "digitized": d.digitised,
        "supplements": [
            {
                "requestDate": format_local(p.requested_at, DATE_FORMAT),
                "completeDate": format_local(p.resumed_at, DATE_FORMAT),
                "previousDueDate": format_local(p.due_before, DATE_FORMAT),
            }
            for p in d.supplements
        ],
        "clockStops": [
            {
                "kind": p.kind.value,
                "startDate": format_local(p.requested_at, DATE_FORMAT),
                "endDate": format_local(p.resumed_at, DATE_FORMAT),
                "previousDueDate": format_local(p.due_before, DATE_FORMAT),
            }
            for p in d.pauses
            if p.kind is not StopKind.SUPPLEMENT
        ],
        **extra,
    }


def native_for(status: Status, statuses: StatusMap) -> str:
    """The first native status the map sends to `status` (the mock's default spelling)."""
    natives = statuses.natives_for(status)
    if not natives:
        raise ValueError(f"status map has no native status for {int(status)}")
    return natives[0]
