"""The mock portals' change feed: records kept in (updated_at, code) order, found by bisection.

Both mocks serve "records changed since T" in that order; keeping them sorted with an index by
code makes every page O(log n + page) even at a million records, and lets a record change while
clients are paging (it moves to the end of the order, as it would on a live portal).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from connectors.base import Cursor

# The mocks' controls (connectors.mockserver): the scenario clock and the injected faults, both
# exempt from injected faults.
CLOCK_PATH = "/_mock/clock"
FAULTS_PATH = "/_mock/faults"
CONTROL_PATHS = frozenset({CLOCK_PATH, FAULTS_PATH})


class Feed:
    def __init__(self, items: Iterable[tuple[Cursor, dict[str, Any]]] = ()) -> None:
        self._keys: list[Cursor] = []
        self._records: list[dict[str, Any]] = []
        self._by_code: dict[str, Cursor] = {}
        self.replace_all(items)

    def replace_all(self, items: Iterable[tuple[Cursor, dict[str, Any]]]) -> None:
        ordered = sorted(items, key=lambda item: item[0])
        self._keys = [key for key, _ in ordered]
        self._records = [record for _, record in ordered]
        self._by_code = {key.code: key for key in self._keys}

    def records(self) -> dict[str, dict[str, Any]]:
        """Every record by code."""
        return {key.code: record for key, record in zip(self._keys, self._records, strict=True)}

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, code: str) -> dict[str, Any] | None:
        key = self._by_code.get(code)
        if key is None:
            return None
        return self._records[bisect.bisect_left(self._keys, key)]

    def upsert(self, key: Cursor, record: dict[str, Any]) -> None:
        """Insert or replace the record of `key.code`, moving it to its new position."""
        self.remove(key.code)
        index = bisect.bisect_left(self._keys, key)
        self._keys.insert(index, key)
        self._records.insert(index, record)
        self._by_code[key.code] = key

    def remove(self, code: str) -> None:
        old = self._by_code.pop(code, None)
        if old is not None:
            index = bisect.bisect_left(self._keys, old)
            del self._keys[index]
            del self._records[index]

    def start_of(self, since: datetime | None) -> int:
        """Index of the first record changed at or after `since` (whole seconds on the wire)."""
        if since is None:
            return 0
        return bisect.bisect_left(self._keys, Cursor(since, ""))

    def end_of(self, until: datetime | None) -> int:
        """Index just after the last record changed at or before `until` (whole seconds on the
        wire; None: the end of the feed)."""
        if until is None:
            return len(self._keys)
        return bisect.bisect_left(self._keys, Cursor(until + timedelta(seconds=1), ""))

    def start_after(self, position: Cursor) -> int:
        return bisect.bisect_right(self._keys, position)

    def slice(self, start: int, count: int) -> list[tuple[Cursor, dict[str, Any]]]:
        keys, records = self._keys[start : start + count], self._records[start : start + count]
        return list(zip(keys, records, strict=True))
