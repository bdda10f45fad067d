"""Mapping from a system's native statuses to the national codes (DOMAIN.md §3).

The table is configuration, not code: a city system has its own richer statuses (sub-statuses
such as "waiting for a signature" all map to 4, "being processed").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconcile.model import Status


class UnknownStatus(ValueError):
    def __init__(self, native: str) -> None:
        super().__init__(f"unknown native status {native!r}")
        self.native = native


@dataclass(frozen=True)
class StatusMap:
    table: Mapping[str, Status]

    @classmethod
    def from_config(cls, raw: Mapping[str, int]) -> StatusMap:
        """Build from `{native: code}`; raises ValueError naming the offending native status."""
        table: dict[str, Status] = {}
        for native, code in raw.items():
            try:
                table[native.strip().lower()] = Status(code)
            except ValueError:
                raise ValueError(f"{native}: {code!r} is not a national status code 1-10") from None
        return cls(table)

    def to_national(self, native: str) -> Status:
        try:
            return self.table[native.strip().lower()]
        except KeyError:
            raise UnknownStatus(native) from None

    def natives_for(self, status: Status) -> list[str]:
        return [native for native, code in self.table.items() if code == status]
