"""What every connector shares: the composite cursor, a page of results, the protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from reconcile.model import Dossier, Source


class WireError(ValueError):
    """A record that does not parse: it is quarantined with this reason, never dropped."""


class PortalError(RuntimeError):
    """The portal could not be read (after retries); this portal's cycle fails, others go on."""


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
