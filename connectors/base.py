"""What every connector shares: the composite cursor, a page of results, the protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
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


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a portal's changes; `cursor` covers every record in it, rejected included."""

    dossiers: tuple[Dossier, ...]
    rejected: tuple[Rejected, ...] = ()
    cursor: Cursor | None = None


def build_page(
    source: Source,
    raws: Iterable[Any],
    since: Cursor | None,
    decode: Callable[[Mapping[str, Any]], Dossier],
    key: Callable[[Mapping[str, Any]], Cursor | None],
    personal: frozenset[str] = frozenset(),
) -> Page:
    """Decode a page of raw records, keeping only those strictly after `since`.

    Portals filter by timestamp inclusively, so the records sharing the cursor's timestamp come
    back and are dropped here by code. A record that fails to decode becomes a `Rejected`, its
    `personal` fields removed before it is kept anywhere; the rest of the page goes on.
    """
    dossiers: list[Dossier] = []
    rejected: list[Rejected] = []
    newest: Cursor | None = None
    for raw in raws:
        if not isinstance(raw, Mapping):
            rejected.append(Rejected(source, None, "record is not a JSON object", {"raw": raw}))
            continue
        position = key(raw)
        if position is not None:
            if since is not None and position <= since:
                continue
            newest = position if newest is None else max(newest, position)
        try:
            dossiers.append(decode(raw))
        except WireError as exc:
            code = position.code if position else None
            kept = {name: value for name, value in raw.items() if name not in personal}
            rejected.append(Rejected(source, code, str(exc), kept))
    return Page(tuple(dossiers), tuple(rejected), newest)


class Connector(Protocol):
    source: Source

    def pages(self, since: Cursor | None) -> AsyncIterator[Page]:
        """Pages of dossiers changed strictly after `since`, in (updated_at, code) order."""
        ...

    async def close(self) -> None: ...
