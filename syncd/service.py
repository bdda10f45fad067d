"""The sync cycle: poll both portals into the store, then reconcile every changed dossier.

A cycle polls the portals concurrently; each page is written with its cursor in one transaction,
so a crash at any point loses nothing and a restart resumes after the last page written. A
portal that fails (after its connector's retries) fails its own part of the cycle only. Reconcile
work is taken from the store's stream in batches and acknowledged in the same transaction as the
results, so a reconciler that dies leaves its entries to be claimed again.

Stopping (SIGTERM, SIGINT) is cooperative: the page or batch in hand is finished and written,
then the loop ends.

After each poll the portal's facts go to the store's status hash (last success or error, and
the state of its HTTP client's circuit breaker); each poll and each reconciled batch are also
reported to `Syncer.observer` (by default it does nothing; syncd.metrics counts them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal, Protocol

import redis.exceptions
import structlog

from connectors.base import Connector, Cursor, Page, PortalError
from reconcile.calendar import WorkingCalendar
from reconcile.compare import Decision, Policy, decide, fingerprint, receipt_second
from reconcile.flags import Flags, flags_of
from reconcile.model import VN_TZ, Dossier, Procedure, Source
from syncd.store import Store, WorkItem

log = structlog.get_logger("syncd")

MATCH_HOPS = 3
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class CatalogueSource(Protocol):
    async def procedures(self) -> tuple[list[Procedure], list[str]]: ...


class Pusher(Protocol):
    async def push(self, dossier: Dossier) -> str: ...


class Observer:
    """What the sync loop reports as it goes (syncd.metrics counts it); by default nothing.

    Called synchronously from the loop: an observer must not block."""

    def polled(self, source: str, seconds: float, written: int, error: str | None) -> None:
        """One poll of `source` ended: how long it took, how many records it wrote, and
        the portal's error if it failed."""

    def reconciled(self, count: int) -> None:
        """One batch of `count` dossiers was reconciled and written."""


def circuit_state(connector: Connector) -> str:
    """The state of the circuit breaker of the connector's HTTP client (closed, open,
    half_open), or "unknown" for a connector that has none."""
    breaker = getattr(getattr(connector, "http", None), "breaker", None)
    state = getattr(breaker, "state", None)
    return str(state.value) if state is not None and hasattr(state, "value") else "unknown"


class _Candidates:
    """The records loaded for a batch, indexed by code, alternate code and fingerprint."""

    def __init__(self, records: Mapping[str, Dossier]) -> None:
        self.by_code = dict(records)
        self.by_alt: dict[str, list[Dossier]] = {}
        self.by_print: dict[str, list[Dossier]] = {}
        self.prints: dict[str, str | None] = {}
        for d in records.values():
            for alt in d.alt_codes:
                self.by_alt.setdefault(alt, []).append(d)
            fp = self.prints[d.code] = fingerprint(d)
            if fp:
                self.by_print.setdefault(fp, []).append(d)

    def linked(self, codes: set[str], prints: set[str]) -> list[Dossier]:
        found = {c: self.by_code[c] for c in codes if c in self.by_code}
        for c in codes:
            found |= {d.code: d for d in self.by_alt.get(c, ())}
        for fp in prints:
            found |= {d.code: d for d in self.by_print.get(fp, ())}
        return list(found.values())


def _group_of(
    code: str, city: _Candidates, national: _Candidates
) -> tuple[list[Dossier], list[Dossier]]:
    """The records that may be the dossier of `code`: its own on each side, and those linked
    to them by an alternate code or a fingerprint (the engine decides which truly are)."""
    seeds = [d for d in (city.by_code.get(code), national.by_code.get(code)) if d is not None]
    codes = {code} | {a for d in seeds for a in d.alt_codes}
    prints = {fp for d in seeds if (fp := fingerprint(d))}
    return city.linked(codes, prints), national.linked(codes, prints)


@dataclass
class PollResult:
    source: Source
    pages: int = 0
    received: int = 0
    written: int = 0
    rejected: int = 0
    error: str | None = None


@dataclass
class CycleResult:
    polls: list[PollResult] = field(default_factory=list)
    reconciled: int = 0
    mismatches: int = 0

    @property
    def failed_portals(self) -> list[Source]:
        return [p.source for p in self.polls if p.error]

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {"reconciled": self.reconciled, "mismatches": self.mismatches}
        for p in self.polls:
            out[p.source.value] = p.error or f"{p.written} new / {p.received} read"
        return out


@dataclass
class RetryResult:
    released: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Syncer:
    def __init__(
        self,
        store: Store,
        connectors: Sequence[Connector],
        batch: int = 500,
        consumer: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        catalogue: CatalogueSource | None = None,
        catalogue_refresh: timedelta = timedelta(hours=24),
        policy: Policy | None = None,
        pusher: Pusher | None = None,
        sweep_interval: timedelta | None = None,
        calendar: WorkingCalendar | None = None,
        due_soon_days: int = 1,
    ) -> None:
        self.store = store
        self.connectors = connectors
        self.batch = batch
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.clock = clock
        self.catalogue = catalogue
        self.catalogue_refresh = catalogue_refresh
        self.procedures: dict[str, Procedure] = {}
        self.policy = policy or Policy()
        self.pusher = pusher  # None: write-back in dry run
        self.sweep_interval = sweep_interval
        self.calendar = calendar or self.policy.calendar or WorkingCalendar()
        self.due_soon_days = due_soon_days
        self._last_sweep: datetime | None = None
        self._indexes_checked = False
        self.stopping = asyncio.Event()
        self.observer = Observer()
        # The store queues an instant's city records again when their count crosses this.
        store.burst_size = self.policy.migration_burst_size

    async def poll(
        self,
        connector: Connector,
        since: Cursor | Literal["stored"] | None = "stored",
        progress: Callable[[Page], None] | None = None,
    ) -> PollResult:
        """Read the portal's changes into the store, page by page.

        By default from the stored cursor, which each page moves on. With an explicit `since`
        (a resync) the stored cursor is left alone: re-reading is harmless, and the regular polls
        go on from where they were.
        """
        result = PollResult(connector.source)
        resync = since != "stored"
        started = time.monotonic()
        with structlog.contextvars.bound_contextvars(portal=connector.source.value):
            start = await self.store.cursor(connector.source) if since == "stored" else since
            try:
                async for page in connector.pages(start):
                    result.pages += 1
                    result.received += len(page.dossiers)
                    result.rejected += len(page.rejected)
                    for rejected in page.rejected:
                        log.warning(
                            "record_quarantined", code=rejected.code, reason=rejected.reason
                        )
                    result.written += await self.store.upsert(
                        connector.source,
                        page.dossiers,
                        None if resync else page.cursor,
                        page.rejected,
                    )
                    if progress is not None:
                        progress(page)
                    if self.stopping.is_set():
                        break
            except PortalError as exc:
                result.error = str(exc)
                log.error("portal_failed", error=str(exc), pages_done=result.pages)
                await self.store.record_error(connector.source, self.clock().isoformat(), str(exc))
                await self.store.record_status(
                    connector.source,
                    last_error=str(exc),
                    last_error_at=self.clock().isoformat(),
                    circuit=circuit_state(connector),
                )
            else:
                await self.store.record_status(
                    connector.source,
                    last_success_at=self.clock().isoformat(),
                    last_written=result.written,
                    circuit=circuit_state(connector),
                )
        self.observer.polled(
            connector.source.value, time.monotonic() - started, result.written, result.error
        )
        return result

    async def reconcile_pending(self) -> tuple[int, int]:
        """Reconcile queued codes batch by batch until the queue is empty (or stopping)."""
        await self.store.ensure_group()
        reconciled = mismatches = 0
        while not self.stopping.is_set():
            work = await self.store.take_work(self.consumer, self.batch)
            if not work.entry_ids:
                break
            decisions = await self._reconcile(work.codes, work)
            reconciled += len(decisions)
            mismatches += sum(len(d.mismatches) for d in decisions)
        return reconciled, mismatches

    async def decide(self, codes: Sequence[str]) -> tuple[list[Decision], set[str], set[str]]:
        """Decisions about the dossiers of `codes`, the keys they absorb (codes that were
        decided about on their own before a match joined them to another), and codes met on
        the way that belong to other dossiers (to be reconciled on their own)."""
        city, national = await self.store.load_both(codes)
        # Links found through one record can lead to another (a national duplicate found by
        # the fingerprint of a city record found by an alternate code): follow them a few hops.
        known_city, known_national = dict(city), dict(national)
        frontier = list(codes)
        for _ in range(MATCH_HOPS):
            extra_city, extra_national = await self.store.related(
                {c: known_city[c] for c in frontier if c in known_city},
                {c: known_national[c] for c in frontier if c in known_national},
                frontier,
            )
            frontier = sorted(
                (extra_city.keys() - known_city.keys())
                | (extra_national.keys() - known_national.keys())
            )
            known_city |= extra_city
            known_national |= extra_national
            if not frontier:
                break
        all_city, all_national = _Candidates(known_city), _Candidates(known_national)
        overrides = await self.store.overrides(list(codes))
        # Migration evidence (issue 11): how many city records share each receipt instant.
        receipts = await self.store.receipt_counts(receipt_second(d) for d in known_city.values())
        known = self.procedures or None
        decisions: dict[str, Decision] = {}
        absorbed: set[str] = set()
        unrelated: set[str] = set()
        for code in codes:
            if code not in city and code not in national:
                continue
            group_city, group_national = _group_of(code, all_city, all_national)
            decision = decide(
                group_city, group_national, self.policy, known, overrides.get(code), receipts
            )
            decisions[decision.key] = decision
            unrelated |= set(decision.unrelated)
            members = {d.code for d in (*group_city, *group_national)}
            absorbed |= members - set(decision.unrelated) - {decision.key}
        absorbed -= decisions.keys()
        return list(decisions.values()), absorbed, unrelated - decisions.keys() - absorbed

    async def _reconcile(self, codes: Sequence[str], work: WorkItem) -> list[Decision]:
        decisions, absorbed, unrelated = await self.decide(codes)
        await self.store.apply(decisions, work, self.clock(), retired=sorted(absorbed))
        gone = [Flags(key, "", frozenset(), None) for key in sorted(absorbed)]
        await self.store.save_flags([*self.flags(decisions), *gone])
        if unrelated:
            await self.store.enqueue(sorted(unrelated))
        await self.write_back(decisions)
        self.observer.reconciled(len(decisions))
        for decision in decisions:
            if decision.mismatches:
                log.debug(
                    "mismatch_found",
                    code=decision.key,
                    kinds=[m.kind.value for m in decision.mismatches],
                )
        return decisions

    async def write_back(self, decisions: Sequence[Decision]) -> None:
        """Push what reconciliation found safe to fix to the national portal, or, in dry run
        (the default), record what would be pushed. The log keeps one entry per dossier that
        needs a push; a dossier that no longer needs one leaves it."""
        pushes: dict[str, dict[str, str]] = {}
        settled = [d.key for d in decisions if d.push is None]
        now = self.clock().isoformat()
        for decision in decisions:
            record = decision.push
            if record is None:
                continue
            entry = {"code": record.code, "status": str(int(record.status)), "at": now}
            if self.pusher is None:
                entry["mode"] = "dry_run"
            else:
                try:
                    entry["mode"] = await self.pusher.push(record)
                except PortalError as exc:
                    entry |= {"mode": "failed", "error": str(exc)}
                    log.warning("writeback_failed", code=record.code, error=str(exc))
            pushes[decision.key] = entry
        await self.store.record_writeback(pushes, settled)

    async def reconcile_codes(self, codes: Sequence[str]) -> list[Decision]:
        """Reconcile these codes now, whether or not they are queued (on demand)."""
        return await self._reconcile(codes, WorkItem((), ()))

    async def _sweep_due(self) -> bool:
        """Whether the last sweep (by any process, as recorded in the store) is too old."""
        if self.sweep_interval is None:
            return False
        if self._last_sweep is None:
            self._last_sweep = await self.store.last_sweep()
        return self._last_sweep is None or self.clock() - self._last_sweep >= self.sweep_interval

    async def sweep(self) -> int:
        """Queue every stored code of both portals: the periodic full reconcile, which also
        catches what changes with time alone. Returns how many codes were queued."""
        queued = 0
        for source in (Source.CITY, Source.NATIONAL):
            async for codes in self.store.all_codes(source):
                queued += await self.store.enqueue(codes)
        self._last_sweep = self.clock()
        await self.store.record_sweep(self._last_sweep)
        log.info("sweep_queued", codes=queued)
        return queued

    async def fetch_codes(self, codes: Sequence[str]) -> int:
        """Read these dossiers afresh from every portal into the store (the cursor stays),
        then reconcile them; returns how many records were new or newer."""
        written = 0
        for connector in self.connectors:
            pages = [await connector.fetch_one(code) for code in codes]
            written += await self.store.upsert(
                connector.source,
                [d for page in pages for d in page.dossiers],
                None,
                [r for page in pages for r in page.rejected],
            )
        await self.reconcile_codes(codes)
        return written

    async def retry_quarantined(self, entry_ids: Sequence[str] | None = None) -> RetryResult:
        """Read quarantined records again from their portal, as it is now, and decode them with
        the configuration as it is now.

        An entry with a dossier code is fetched by code: it leaves the quarantine if the record
        now decodes, and stays if it still fails or its portal cannot be reached (the other
        entries go on). An entry with no code but a change time is covered by re-reading its
        portal from that time (the stored cursor stays): the entry leaves, and any record still
        malformed is quarantined again. An entry with neither stays; `resync --portal` is then
        the way.
        """
        result = RetryResult()
        by_source = {c.source: c for c in self.connectors}
        wanted = None if entry_ids is None else set(entry_ids)
        entries = [
            e
            for e in await self.store.quarantined(count=100_000)
            if wanted is None or e["id"] in wanted
        ]
        fetched: dict[Source, list[Dossier]] = {}
        reread: dict[Source, list[dict[str, str]]] = {}
        for entry in entries:
            connector = by_source.get(Source(entry["source"]))
            if connector is None:
                result.kept.append(entry["id"])
            elif entry.get("code"):
                record = await self._refetch(connector, entry["code"])
                if record is None:
                    result.kept.append(entry["id"])
                else:
                    fetched.setdefault(connector.source, []).append(record)
                    result.released.append(entry["id"])
                    result.codes.append(entry["code"])
            elif entry.get("updated_at"):
                reread.setdefault(connector.source, []).append(entry)
            else:
                result.kept.append(entry["id"])
        for source, records in fetched.items():
            await self.store.upsert(source, records, None)  # queues them for reconciliation
        await self.store.release_quarantined(result.released)
        for source, group in reread.items():
            earliest = min(datetime.fromisoformat(e["updated_at"]) for e in group)
            since = Cursor(earliest - timedelta(seconds=1), "")
            poll = await self.poll(by_source[source], since=since)
            ids = [e["id"] for e in group]
            if poll.error:
                result.kept.extend(ids)
                continue
            await self.store.release_quarantined(ids)
            result.released.extend(ids)
        await self.reconcile_pending()
        return result

    async def _refetch(self, connector: Connector, code: str) -> Dossier | None:
        """The portal's record of `code` if it now decodes; None if not (or unreachable)."""
        try:
            page = await connector.fetch_one(code)
        except PortalError as exc:
            log.warning("quarantine_retry_failed", portal=connector.source.value, error=str(exc))
            return None
        if page.rejected or not page.dossiers:
            return None
        return page.dossiers[0]

    async def refresh_catalogue(self, force: bool = False) -> None:
        """Fetch the procedure catalogue when it is older than `catalogue_refresh` (or never
        fetched); a failure keeps the stored one and is logged, the cycle goes on."""
        if self.catalogue is not None:
            fetched = await self.store.procedures_fetched_at()
            if force or fetched is None or self.clock() - fetched >= self.catalogue_refresh:
                try:
                    procedures, problems = await self.catalogue.procedures()
                except PortalError as exc:
                    log.error("catalogue_failed", error=str(exc))
                else:
                    for problem in problems:
                        log.warning("catalogue_entry_rejected", reason=problem)
                    await self.store.save_procedures(procedures, self.clock())
                    log.info("catalogue_refreshed", procedures=len(procedures))
        self.procedures = await self.store.procedures()

    @property
    def known_procedures(self) -> frozenset[str]:
        return frozenset(self.procedures)

    def today(self) -> date:
        return self.clock().astimezone(VN_TZ).date()

    def flags(self, decisions: Sequence[Decision]) -> list[Flags]:
        """The deadline flags of these decisions' dossiers today (none for excluded ones)."""
        today = self.today()
        out = []
        for d in decisions:
            if d.excluded:
                out.append(Flags(d.key, d.corrected.field_code, frozenset(), None))
            else:
                out.append(flags_of(d.corrected, today, self.calendar, self.due_soon_days))
        return out

    async def refresh_flags(self, force: bool = False) -> int:
        """Recompute the flags of every open dossier for today, once a day (time alone makes
        dossiers due soon, then overdue); returns how many dossiers were looked at."""
        today = self.today()
        if not force and await self.store.flags_as_of() == today.isoformat():
            return 0
        seen = 0
        async for keys in self.store.open_keys():
            # Excluded dossiers are left out: reconciling them cleared their flags.
            counted = await self.store.counted(keys)
            await self.store.save_flags(
                flags_of(d, today, self.calendar, self.due_soon_days) for d in counted.values()
            )
            seen += len(keys)
        await self.store.record_flags_as_of(today.isoformat())
        log.info("flags_refreshed", dossiers=seen, as_of=today.isoformat())
        return seen

    async def cycle(self) -> CycleResult:
        await self.refresh_catalogue()
        results = await asyncio.gather(
            *(self.poll(c) for c in self.connectors), return_exceptions=True
        )
        cycle = CycleResult()
        for outcome in results:
            if isinstance(outcome, BaseException):
                raise outcome  # Redis errors and bugs: the caller decides
            cycle.polls.append(outcome)
        cycle.reconciled, cycle.mismatches = await self.reconcile_pending()
        return cycle

    async def run(
        self,
        interval: float,
        once: bool = False,
        redis_retry_max: float = 30.0,
        max_redis_failures: int | None = None,
    ) -> CycleResult | None:
        """Cycle until stopped (or once). Redis outages are waited out with backoff; after
        `max_redis_failures` consecutive ones (if set) the last error is raised."""
        failures = 0
        last: CycleResult | None = None
        while not self.stopping.is_set():
            try:
                if not self._indexes_checked:
                    # Data of an older syncd: its derived views, once, before any write.
                    await self.store.ensure_indexes()
                    self._indexes_checked = True
                if await self._sweep_due():
                    await self.sweep()
                last = await self.cycle()
                await self.refresh_flags()
            except REDIS_ERRORS as exc:
                failures += 1
                if max_redis_failures is not None and failures >= max_redis_failures:
                    raise
                delay = min(redis_retry_max, 0.5 * 2**failures)
                log.warning("redis_unavailable", error=str(exc), attempt=failures, retry_in=delay)
                await self._sleep(delay)
                continue
            if failures:
                log.info("redis_recovered", after_attempts=failures)
                failures = 0
            log.info("cycle_done", **last.summary())
            if once:
                break
            await self._sleep(interval)
        return last

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
