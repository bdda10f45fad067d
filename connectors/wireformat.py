"""What a client needs to know of its portal's record format to turn a page into a `Page`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.base import Cursor, Page, Rejected, WireError
from connectors.fields import parse_local
from reconcile.model import Dossier, Source


@dataclass(frozen=True)
class FeedIdentity:
    """Where a record keeps its code and change time: its position in the change feed."""

    code_field: str
    stamp_field: str
    date_format: str
    receipt_field: str = ""  # the receipt time, which tells which periods a record can touch

    def code_of(self, raw: Mapping[str, Any]) -> str | None:
        value = raw.get(self.code_field)
        if isinstance(value, bool) or not isinstance(value, str | int):
            return None
        return str(value).strip() or None

    def stamp_of(self, raw: Mapping[str, Any]) -> datetime | None:
        return self._time(raw, self.stamp_field)

    def receipt_of(self, raw: Mapping[str, Any]) -> datetime | None:
        """The receipt time of a raw record, if it reads (even when the record does not)."""
        return self._time(raw, self.receipt_field) if self.receipt_field else None

    def _time(self, raw: Mapping[str, Any], name: str) -> datetime | None:
        value = raw.get(name)
        if not isinstance(value, str) or not value:
            return None
        try:
            return parse_local(value, self.date_format, name)
        except WireError:
            return None

    def key(self, raw: Mapping[str, Any]) -> Cursor | None:
        """The record's position in the change feed, if its code and change time read."""
        code, stamp = self.code_of(raw), self.stamp_of(raw)
        return Cursor(stamp, code) if code is not None and stamp is not None else None


@dataclass(frozen=True)
class WireFormat:
    source: Source
    decode: Callable[[Mapping[str, Any]], Dossier]
    identity: FeedIdentity
    personal: frozenset[str]

    def page(
        self,
        raws: Iterable[Any],
        since: Cursor | None,
        floor: Cursor | None = None,
        total: int | None = None,
    ) -> Page:
        """Decode a page of raw records, keeping only those strictly after `floor` (by default
        `since`, the stored cursor).

        Portals filter by timestamp inclusively, so the records sharing the cursor's timestamp
        come back and are dropped here by code. A record that fails to decode becomes a
        `Rejected` with whatever identity it has (code, change time), its personal fields removed
        before it is kept anywhere; the rest of the page goes on.
        """
        floor = since if floor is None else floor
        dossiers: list[Dossier] = []
        rejected: list[Rejected] = []
        newest: Cursor | None = None
        for raw in raws:
            if not isinstance(raw, Mapping):
                reason = str(WireError("record", "not_object"))
                rejected.append(Rejected(self.source, None, reason, {"raw": raw}))
                continue
            position = self.identity.key(raw)
            if position is not None:
                if floor is not None and position <= floor:
                    continue
                newest = position if newest is None else max(newest, position)
            try:
                dossiers.append(self.decode(raw))
            except WireError as exc:
                kept = {name: value for name, value in raw.items() if name not in self.personal}
                rejected.append(
                    Rejected(
                        self.source,
                        self.identity.code_of(raw),
                        str(exc),
                        kept,
                        self.identity.stamp_of(raw),
                    )
                )
        if newest is not None and since is not None and newest <= since:
            newest = None
        return Page(tuple(dossiers), tuple(rejected), newest, total)
