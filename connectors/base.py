"""What every connector shares: the composite cursor, a page of results, the protocol."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from reconcile.model import Dossier, Source

# Why a record does not parse, by reason code: the English wording of the quarantine (stored as
# "<field>: <wording>"). syncd words each code in the reader's language (syncd.i18n "wire.*"),
# reading the code and its values back from the stored text with `parse_reason`, so that entries
# stored before a translation existed are translated too.
WIRE_REASONS: dict[str, str] = {
    "missing": "missing",
    "not_text": "expected a string, got {type}",
    "not_date": "{value} is not a date in the form {format}",
    "not_records": "expected a list of objects",
    "not_object": "not a JSON object",
    "unknown_status": "unknown status {value}",
    "not_choice": "{value} is not one of {choices}",
    "not_boolean": "expected true or false",
    "not_code_number": "{value} is not a valid code",
    "not_zero_one": "{value} is not 0 or 1",
    "not_days": "{value} is not a number of days",
    "negative": "{value} is negative",
    "not_unit": "{value} is neither 'Ngày làm việc' nor 'Ngày'",
    "bad_code": "{value} is not a {kind} code ({rule})",
}
SHOWN_VALUE = 40  # characters of a rejected value quoted in a reason


def shown(value: object) -> str:
    """A rejected value as a reason quotes it: its repr, cut to SHOWN_VALUE characters."""
    text = value if isinstance(value, str) else str(value)
    return repr(text if len(text) <= SHOWN_VALUE else text[:SHOWN_VALUE] + "…")


class WireError(ValueError):
    """A record that does not parse: it is quarantined with this reason, never dropped.

    `field` is the wire field at fault ("record" for the record as a whole), `code` a key of
    WIRE_REASONS, `values` what its wording needs (quoted values already `shown`)."""

    def __init__(self, field: str, code: str, **values: str) -> None:
        self.field, self.code, self.values = field, code, values
        super().__init__(f"{field}: {WIRE_REASONS[code].format(**values)}")


def _reason_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    body = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>.*?)"
        for index, part in enumerate(parts)
    )
    return re.compile(f"(?P<field>[^:]*): {body}", re.DOTALL)


_REASON_PATTERNS = {code: _reason_pattern(template) for code, template in WIRE_REASONS.items()}


def parse_reason(text: str) -> tuple[str, str, dict[str, str]] | None:
    """(code, field, values) of a stored quarantine reason, or None if it is none of ours."""
    for code, pattern in _REASON_PATTERNS.items():
        found = pattern.fullmatch(text)
        if found:
            values = found.groupdict()
            return code, values.pop("field"), values
    return None


FAILURES = (
    "unreachable",  # no connection, or no answer in time
    "overloaded",  # HTTP 429: the portal asks us to slow down
    "server_error",  # HTTP 5xx
    "bad_answer",  # an answer that is not what the portal's interface documents
    "login_refused",  # the account or its password was refused
    "unauthorized",  # HTTP 401: the session or credentials were refused
    "not_found",  # HTTP 404, or no such record
    "refused",  # another HTTP 4xx: the portal refused the request
    "service_error",  # the national portal answered with an error code
    "circuit_open",  # not called: the portal failed too often lately
)


class PortalError(RuntimeError):
    """The portal could not be read (after retries); this portal's cycle fails, others go on.

    `kind` (one of FAILURES) says why in a word that operators' texts are keyed on; the
    message is the technical detail, kept as it is."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, order=True, slots=True)
class Cursor:
    """Position in a portal's change feed: (updated_at, code), compared in that order.

    A bare timestamp would skip records sharing the last timestamp of a page; the code breaks
    the tie so that "strictly after the cursor" is exact.
    """

    updated_at: datetime
    code: str

    def encode(self) -> str:
        return f"{self.updated_at.isoformat()}|{self.code}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        stamp, _, code = text.partition("|")
        return cls(datetime.fromisoformat(stamp), code)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that failed validation, kept with its raw form for the quarantine."""

    source: Source
    code: str | None
    reason: str
    raw: Mapping[str, Any]
    updated_at: datetime | None = None  # the record's change time, when it could be read


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a portal's changes.

    `cursor` covers every record in it, rejected included; None when the page moves the position
    no further than it was (a page of the overlap window only). `total` is how many records the
    portal says the whole pass holds, when it says.
    """

    dossiers: tuple[Dossier, ...]
    rejected: tuple[Rejected, ...] = ()
    cursor: Cursor | None = None
    total: int | None = None


def fetch_floor(since: Cursor | None, overlap: timedelta) -> Cursor | None:
    """The position records must be strictly after to be kept.

    Without overlap it is the cursor itself. With an overlap window every record changed within
    `overlap` before the cursor is read again: a record written late under an earlier timestamp
    (clock skew between the portal's writers) is not missed, and re-reading the others changes
    nothing because upserts are idempotent.
    """
    if since is None or not overlap:
        return since
    return Cursor(since.updated_at - overlap, "")


@runtime_checkable
class CountsChanges(Protocol):
    """A portal that says how many records changed in a range of time (the national portal's
    listing total): its days can be checked against the store's and only those that differ
    read again."""

    async def changed_between(self, start: datetime, end: datetime) -> int: ...

    def pages(self, since: Cursor | None, until: datetime | None = None) -> AsyncIterator[Page]:
        """Pages of dossiers changed after `since` and at or before `until`."""
        ...


class Connector(Protocol):
    source: Source

    def pages(self, since: Cursor | None) -> AsyncIterator[Page]:
        """Pages of dossiers changed after `since` (less the overlap window), in
        (updated_at, code) order."""
        ...

    async def fetch_one(self, code: str) -> Page:
        """The portal's current record for one dossier code (an empty page if it has none)."""
        ...

    async def close(self) -> None: ...
