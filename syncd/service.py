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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Literal, Protocol

import redis.exceptions
import structlog

from connectors.base import Connector, CountsChanges, Cursor, Page, PortalError
from reconcile.calendar import WorkingCalendar
from reconcile.compare import Decision, Policy, decide_all, receipt_second
from reconcile.engine import components
from reconcile.flags import Flags, flags_of
from reconcile.model import VN_TZ, Dossier, Procedure, Source, local_date
from reconcile.writeback import plan
from syncd.leases import Leases, consumer_name
from syncd.pusher import Pusher
from syncd.store import LeaseLost, RetryPolicy, Store, Unit, WorkItem

log = structlog.get_logger("syncd")

MAINTENANCE = "maintenance"
QUARANTINE_RETRY_BASE = timedelta(minutes=1)
QUARANTINE_RETRY_MAX = timedelta(days=1)
LEASE_LOST = "lease lost: another process polls this portal now"
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class CatalogueSource(Protocol):
    async def procedures(self) -> tuple[list[Procedure], list[str]]: ...


class Observer:
    """What the sync loop reports as it goes (syncd.metrics counts it); by default nothing.

    Called synchronously from the loop: an observer must not block."""

    def polled(self, source: str, seconds: float, written: int, error: str | None) -> None:
        """One poll of `source` ended: how long it took, how many records it wrote, and
        the portal's error if it failed."""

    def reconciled(self, count: int) -> None:
        """One batch of `count` dossiers was reconciled and written."""

    def failed(self, count: int) -> None:
        """`count` queued dossiers could not be reconciled (retried later, or dead letters)."""

    def cycle_failed(self) -> None:
        """A cycle ended with an unexpected error; the loop goes on after a pause."""

    def pushed(self, outcome: str) -> None:
        """One write-back attempt ended (created, updated, unchanged, superseded, failed)."""


def poll_duty(source: Source) -> str:
    """The lease name of polling `source`."""
    return f"poll:{source.value}"


@dataclass(frozen=True, slots=True)
class Reread:
    """A scheduled re-read of each portal: what changed within `window` before the polling
    cursor (None: everything), every `every`. `by_counts`: only the days of the window whose
    count of changed records on the portal differs from the store's are read (for portals
    that give counts, `CountsChanges`; skipped for the others)."""

    name: str
    window: timedelta | None
    every: timedelta
    by_counts: bool = False


def circuit_state(connector: Connector) -> str:
    """The state of the circuit breaker of the connector's HTTP client (closed, open,
    half_open), or "unknown" for a connector that has none."""
    breaker = getattr(getattr(connector, "http", None), "breaker", None)
    state = getattr(breaker, "state", None)
    return str(state.value) if state is not None and hasattr(state, "value") else "unknown"


def _alts(records: Sequence[Dossier]) -> set[str]:
    return {a for d in records for a in d.alt_codes}


@dataclass
class Batch:
    """What `Syncer.decide` made of a batch: units to write (with their dossiers' flags), and
    the codes that failed with their error."""

    snapshot: int
    units: list[Unit] = field(default_factory=list)
    flags: dict[int, list[Flags]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, unit: Unit, flags: list[Flags]) -> None:
        self.units.append(unit)
        gone = [Flags(key, "", frozenset(), None) for key in unit.retired]
        self.flags[id(unit)] = [*flags, *gone]


@dataclass
class PollResult:
    source: Source
    pages: int = 0
    received: int = 0
    written: int = 0
    rejected: int = 0
    error: str | None = None
    error_kind: str | None = None  # connectors.base.FAILURES, when the portal failed
    # The read reached the end of the portal's change feed (no error, not stopped).
    complete: bool = False


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
        writeback: bool = False,
        sweep_interval: timedelta | None = None,
        calendar: WorkingCalendar | None = None,
        due_soon_days: int = 1,
        retries: RetryPolicy | None = None,
        leases: Leases | None = None,
        rereads: Sequence[Reread] = (),
    ) -> None:
        self.store = store
        self.connectors = connectors
        self.batch = batch
        self.consumer = consumer or consumer_name()
        self.clock = clock
        self.catalogue = catalogue
        self.catalogue_refresh = catalogue_refresh
        self.procedures: dict[str, Procedure] = {}
        self.policy = policy or Policy()
        # Write-back: with `writeback`, plans go to the outbox to be pushed by `pusher` (run by
        # the process that polls the national portal); without, they are kept as a dry run.
        self.pusher = pusher
        self.writeback = writeback
        self.sweep_interval = sweep_interval
        self.calendar = calendar or self.policy.calendar or WorkingCalendar()
        self.due_soon_days = due_soon_days
        self.retries = retries or RetryPolicy()
        # None: this process is the only one, and does every duty without leases.
        self.leases = leases
        self.tokens: dict[str, str] = {}
        self.rereads = tuple(rereads)
        self.last_cycle: CycleResult | None = None
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

        By default from the stored cursor, which each page moves on; a read that reaches the
        end of the feed makes the store's view of the portal complete (`Store.mark_read`), one
        that stops short makes it incomplete. With an explicit `since` (a resync) the stored
        cursor is left alone: re-reading is harmless, and the regular polls go on from where
        they were.
        """
        regular = since == "stored"
        start = await self.store.cursor(connector.source) if since == "stored" else since
        result = await self._read(connector, start, None if regular else "", progress=progress)
        if regular and result.error != LEASE_LOST:
            # Only the regular poll, which reads the whole feed after the cursor, tells
            # whether the store's view of the portal is complete (absence is judged on a
            # complete view only).
            requeued = await self.store.mark_read(connector.source, result.complete, self.clock())
            if requeued:
                log.info("view_complete", portal=connector.source.value, requeued=requeued)
        return result

    async def reread(self, connector: Connector, schedule: Reread) -> PollResult:
        """Read again what the portal changed within `schedule.window` before the polling
        cursor (everything, for a full re-read), to catch what polling missed: records a
        portal stamps behind the cursor (a lagging record that moves to an older event with
        that event's time). Writing is idempotent, so only what was missed changes; it is
        counted as late updates (`{P}:status` "<portal>:late_updates"). The re-read's position
        is kept with every page, so an interrupted one resumes where it stopped."""
        source = connector.source
        under_way, start = await self.store.reread_position(source, schedule.name)
        cursor = await self.store.cursor(source)
        if not under_way:
            if schedule.window is not None and cursor is not None:
                start = Cursor(cursor.updated_at - schedule.window, "")
            else:
                start = None
            await self.store.start_reread(source, schedule.name, start)
            await self.store.record_status(
                source, **{f"{schedule.name}:reread_started_at": self.clock().isoformat()}
            )
        log.info("reread_started", portal=source.value, reread=schedule.name, resumed=under_way)
        result = await self._read(connector, start, schedule.name, late_after=cursor)
        if result.complete:
            status = await self.store.status()
            began = status.get(f"{source.value}:{schedule.name}:reread_started_at")
            await self.store.end_reread(source, schedule.name, self.clock())
            if schedule.window is None and began:
                # A full pass saw every record the portal has: quarantine entries without a
                # code that it did not meet again are gone from the portal, or decode now.
                await self.store.release_unseen(source, datetime.fromisoformat(began))
            log.info(
                "reread_done", portal=source.value, reread=schedule.name, written=result.written
            )
        return result

    async def reread_by_counts(self, connector: Connector, schedule: Reread) -> PollResult:
        """Ask the portal how many records changed on each day of `schedule.window` before the
        polling cursor, compare with the store's counts of records last changed on that day,
        and read again only the days that differ: a record a portal moved to another day
        (stamped behind the cursor) shows as a difference on both days, at the cost of one
        small request a day. (Changes that keep every day's count, such as a record re-stamped
        within its day, are left to the full re-read.)"""
        source = connector.source
        result = PollResult(source)
        cursor = await self.store.cursor(source)
        if cursor is None or schedule.window is None or not isinstance(connector, CountsChanges):
            return result
        last = local_date(cursor.updated_at)
        days = [last - timedelta(days=n) for n in range(max(1, schedule.window.days))]
        stored = await self.store.day_counts(source, days)
        differing: list[date] = []
        try:
            for day in days:
                start = datetime.combine(day, dtime.min, VN_TZ)
                end = datetime.combine(day, dtime(23, 59, 59), VN_TZ)
                if await connector.changed_between(start, end) != stored[day]:
                    differing.append(day)
        except PortalError as exc:
            result.error = str(exc)
            log.warning("count_check_failed", portal=source.value, error=str(exc))
            return result
        for day in sorted(differing):
            start = datetime.combine(day, dtime.min, VN_TZ)
            read = await self._read(
                connector,
                Cursor(start, ""),
                "",
                late_after=cursor,
                until=datetime.combine(day, dtime(23, 59, 59), VN_TZ),
            )
            result.pages += read.pages
            result.received += read.received
            result.written += read.written
            if read.error:
                result.error = read.error
                return result
        result.complete = True
        await self.store.end_reread(source, schedule.name, self.clock())
        await self.store.record_status(
            source, **{f"{schedule.name}:days_differing": len(differing)}
        )
        log.info(
            "count_check_done",
            portal=source.value,
            days=len(days),
            differing=len(differing),
            written=result.written,
        )
        return result

    async def _read(
        self,
        connector: Connector,
        start: Cursor | None,
        position: str | None,
        late_after: Cursor | None = None,
        progress: Callable[[Page], None] | None = None,
        until: datetime | None = None,
    ) -> PollResult:
        """Page through the portal's changes after `start` (to `until`, for a portal that
        can bound them) into the store. `position`: where each page's cursor is kept (None: the
        polling cursor; "": nowhere, a resync; else the re-read of that name)."""
        result = PollResult(connector.source)
        started = time.monotonic()
        token = self._token(connector.source)
        with structlog.contextvars.bound_contextvars(portal=connector.source.value):
            try:
                pages = (
                    connector.pages(start, until)
                    if until is not None and isinstance(connector, CountsChanges)
                    else connector.pages(start)
                )
                async for page in pages:
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
                        page.cursor if position != "" else None,
                        page.rejected,
                        token=token,
                        late_after=late_after,
                        now=self.clock(),
                        reread=position or None,
                    )
                    if progress is not None:
                        progress(page)
                    if self.stopping.is_set():
                        break
                else:
                    result.complete = True
            except LeaseLost:
                result.error = LEASE_LOST
                log.warning("lease_lost", duty=poll_duty(connector.source))
                self._drop_token(connector.source)
            except PortalError as exc:
                result.error, result.error_kind = str(exc), exc.kind
                log.error("portal_failed", error=str(exc), kind=exc.kind, pages_done=result.pages)
                at = self.clock().isoformat()
                await self.store.record_error(connector.source, at, str(exc), exc.kind)
                await self.store.record_status(
                    connector.source,
                    last_error=str(exc),
                    last_error_kind=exc.kind,
                    last_error_at=at,
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
        await self.store.promote_retries(self.clock())
        reconciled = mismatches = 0
        while not self.stopping.is_set():
            work = await self.store.take_work(self.consumer, self.batch)
            if not work.entry_ids:
                break
            decisions = await self._reconcile(work.codes, work)
            reconciled += len(decisions)
            mismatches += sum(len(d.mismatches) for d in decisions)
        return reconciled, mismatches

    async def decide(self, codes: Sequence[str]) -> Batch:
        """Decide about the dossiers of `codes` and of every record linked to them: one unit
        per link component (`reconcile.engine.components`), so a dossier's decision never
        depends on which of its codes was queued, or in which batch. A component whose
        records cannot be decided (a record that does not decode, an operator's value that
        does not parse, a bug) fails alone: its queued codes are in `failures`."""
        linked = await self.store.load_linked(codes)
        records = [*linked.city.values(), *linked.national.values()]
        overrides = await self.store.overrides(sorted({d.code for d in records}))
        # Migration evidence: how many city records share each receipt instant.
        receipts = await self.store.receipt_counts(receipt_second(d) for d in linked.city.values())
        known = self.procedures or None
        queued = set(codes)
        batch = Batch(linked.snapshot)
        for component in components(records):
            own = sorted({d.code for d in component})
            seeds = sorted(queued.intersection(own) | queued.intersection(_alts(component)))
            broken = [c for c in (*own, *_alts(component)) if c in linked.broken]
            try:
                if broken:
                    raise ValueError(f"stored record {broken[0]}: {linked.broken[broken[0]]}")
                decisions = decide_all(
                    [d for d in component if d.source is Source.CITY],
                    [d for d in component if d.source is Source.NATIONAL],
                    self.policy,
                    known,
                    overrides,
                    linked.complete,
                    receipts,
                )
                keys = {d.key for d in decisions}
                plans = {d.key: p for d in decisions if (p := plan(d, self.policy)) is not None}
                unit = Unit(tuple(own), decisions, tuple(c for c in own if c not in keys), plans)
                batch.add(unit, self.flags(decisions))
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.error("reconcile_failed", codes=seeds or own, error=error)
                batch.failures.update(dict.fromkeys(seeds or own, error))
            queued -= {*own, *seeds}
        for code in sorted(queued & linked.broken.keys()):
            batch.failures[code] = f"stored record {code}: {linked.broken[code]}"
        return batch

    async def _reconcile(self, codes: Sequence[str], work: WorkItem) -> list[Decision]:
        batch = await self.decide(codes)
        applied = await self._apply(batch, work)
        decisions = [d for unit in applied for d in unit.decisions]
        await self.store.save_flags(flag for unit in applied for flag in batch.flags[id(unit)])
        self.observer.reconciled(len(decisions))
        if batch.failures:
            self.observer.failed(len(batch.failures))
        for decision in decisions:
            if decision.mismatches:
                log.debug(
                    "mismatch_found",
                    code=decision.key,
                    kinds=[m.kind.value for m in decision.mismatches],
                )
        return decisions

    async def _apply(self, batch: Batch, work: WorkItem) -> list[Unit]:
        """Write the batch's units and failures with the acknowledgement of its work; the
        units written (those no newer reconciliation overtook). A unit the store refuses (a
        script error on data it holds) fails alone: the others are written one by one."""
        now = self.clock()
        try:
            skipped = await self.store.apply_units(
                batch.units, work, now, batch.snapshot, batch.failures, self.retries, self.mode
            )
        except redis.exceptions.ResponseError as exc:
            log.error("apply_failed", error=str(exc), units=len(batch.units))
            skipped = set()
            for index, unit in enumerate(batch.units):
                try:
                    skipped |= {index} & await self.store.apply_units(
                        [unit], WorkItem((), ()), now, batch.snapshot, writeback=self.mode
                    )
                except redis.exceptions.ResponseError as unit_exc:
                    skipped.add(index)
                    error = f"ResponseError: {unit_exc}"
                    batch.failures.update(dict.fromkeys(unit.codes, error))
            await self.store.apply_units([], work, now, None, batch.failures, self.retries)
        if skipped:
            log.info("reconcile_overtaken", units=len(skipped))
        return [unit for index, unit in enumerate(batch.units) if index not in skipped]

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

    async def retry_quarantine_due(self, connector: Connector) -> int:
        """Fetch again, by code, the quarantined records of this portal whose retry is due:
        one that decodes now is stored (which releases its entry) and reconciled; one that
        still fails stays, its next retry later (doubling, at most a day). Returns how many
        were released."""
        now = self.clock()
        due = [
            e
            for e in await self.store.quarantine_due(now)
            if e["source"] == connector.source.value and e["code"]
        ]
        released = 0
        for entry in due:
            try:
                page = await connector.fetch_one(entry["code"])
            except PortalError as exc:
                log.warning("quarantine_retry_failed", code=entry["code"], error=str(exc))
                page = None
            if page is not None and page.dossiers and not page.rejected:
                await self.store.upsert(
                    connector.source, page.dossiers, None, token=self._token(connector.source)
                )
                released += 1
                continue
            attempts = int(entry["attempts"]) + 1
            delay = min(QUARANTINE_RETRY_MAX, QUARANTINE_RETRY_BASE * 2**attempts)
            if page is not None and page.rejected:
                # Still malformed: the entry takes the latest reason and raw form.
                await self.store.upsert(
                    connector.source,
                    [],
                    None,
                    page.rejected,
                    now=now,
                    token=self._token(connector.source),
                )
            await self.store.reschedule_quarantined(entry["id"], attempts, now + delay)
        if released:
            log.info("quarantine_healed", portal=connector.source.value, released=released)
        return released

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

    # --- duties and leases -----------------------------------------------------------------

    def _token(self, source: Source) -> str:
        """The fencing token this process polls `source` under ("" without leases)."""
        if self.leases is None:
            return ""
        return self.tokens.get(poll_duty(source)) or ""

    def _drop_token(self, source: Source) -> None:
        self.tokens.pop(poll_duty(source), None)

    @property
    def mode(self) -> str:
        """How the outbox takes plans: "push" or "dry_run"."""
        return "push" if self.writeback else "dry_run"

    def holds(self, duty: str) -> bool:
        """Whether this process does `duty` now (always, without leases)."""
        return self.leases is None or bool(self.tokens.get(duty))

    @property
    def duties(self) -> list[str]:
        return [*(poll_duty(c.source) for c in self.connectors), MAINTENANCE]

    async def keep_leases(self) -> None:
        """Renew the leases held, take those free, and say this consumer is alive."""
        if self.leases is None:
            return
        await self.leases.heartbeat()
        for duty in self.duties:
            token = await self.leases.hold(duty)
            had = self.tokens.get(duty)
            if token and token != had:
                log.info("lease_acquired", duty=duty)
            elif had and not token:
                log.warning("lease_lost", duty=duty)
            if token:
                self.tokens[duty] = token
            else:
                self.tokens.pop(duty, None)

    async def _keeping_leases(self) -> None:
        """`keep_leases` every third of a lease period, until cancelled; Redis outages are
        waited out (the leases lapse, and fencing keeps a lapsed holder from writing)."""
        assert self.leases is not None
        tick = self.leases.period.total_seconds() / 3
        while True:
            await asyncio.sleep(tick)
            try:
                await self.keep_leases()
            except REDIS_ERRORS as exc:
                log.warning("lease_renewal_failed", error=str(exc))

    async def _pushing(self, every: float = 1.0) -> None:
        """Drain the outbox every `every` seconds while this process polls the national portal
        (its rate limit and breaker are the pusher's), independent of the cycle; errors are
        logged and waited out."""
        assert self.pusher is not None
        while True:
            await asyncio.sleep(every)
            if not self.holds(poll_duty(Source.NATIONAL)):
                continue
            try:
                await self.pusher.drain()
            except Exception:
                log.exception("push_drain_failed")
                await asyncio.sleep(every * 5)

    async def release_leases(self) -> None:
        """Give up the leases held (on a clean stop: a standby takes over at once)."""
        if self.leases is None:
            return
        with contextlib.suppress(*REDIS_ERRORS):
            for duty, token in list(self.tokens.items()):
                await self.leases.release(duty, token)
            await self.leases.retire()
        self.tokens.clear()

    # --- the cycle -------------------------------------------------------------------------

    async def _portal_duty(self, connector: Connector) -> PollResult:
        """One portal's part of a cycle: poll, then the re-reads that are due and the
        quarantined records whose retry is due (only after a successful poll)."""
        result = await self.poll(connector)
        if result.error or self.stopping.is_set():
            return result
        status = await self.store.status()
        now = self.clock()
        for schedule in self.rereads:
            field = f"{connector.source.value}:{schedule.name}"
            last = status.get(f"{field}:reread_at")
            under_way, _ = await self.store.reread_position(connector.source, schedule.name)
            if under_way or last is None or now - datetime.fromisoformat(last) >= schedule.every:
                if last is None and not under_way:
                    # The first poll read everything: the schedule starts now.
                    await self.store.end_reread(connector.source, schedule.name, now)
                    continue
                if schedule.by_counts:
                    if not isinstance(connector, CountsChanges):
                        continue  # the portal gives no counts
                    reread = await self.reread_by_counts(connector, schedule)
                else:
                    reread = await self.reread(connector, schedule)
                if reread.error or self.stopping.is_set():
                    break
        await self.retry_quarantine_due(connector)
        return result

    async def cycle(self) -> CycleResult:
        """Poll the portals this process holds the leases of (every one, without leases), with
        their re-reads and quarantine retries, then reconcile what is queued."""
        await self.keep_leases()
        return await self._cycle()

    async def _cycle(self) -> CycleResult:
        await self.refresh_catalogue()
        polled = [c for c in self.connectors if self.holds(poll_duty(c.source))]
        results = await asyncio.gather(
            *(self._portal_duty(c) for c in polled), return_exceptions=True
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
        `max_redis_failures` consecutive ones (if set) the last error is raised. Any other
        error of a cycle is logged with its traceback, counted, and waited out the same way:
        only a signal (or a bad configuration, before this) ends the loop. With leases, a
        process polls only the portals whose lease it holds and stands by for the others."""
        failures = 0
        redis_down = False
        last: CycleResult | None = None
        keeper = pushing = None
        if self.leases is not None and not once:
            keeper = asyncio.create_task(self._keeping_leases())
        if self.writeback and self.pusher is not None and not once:
            pushing = asyncio.create_task(self._pushing())
        try:
            while not self.stopping.is_set():
                try:
                    await self._one_cycle()
                    last = self.last_cycle
                except REDIS_ERRORS as exc:
                    failures += 1
                    redis_down = True
                    if max_redis_failures is not None and failures >= max_redis_failures:
                        raise
                    delay = min(redis_retry_max, 0.5 * 2**failures)
                    log.warning(
                        "redis_unavailable", error=str(exc), attempt=failures, retry_in=delay
                    )
                    await self._sleep(delay)
                    continue
                except Exception:
                    failures += 1
                    self.observer.cycle_failed()
                    delay = min(redis_retry_max, 0.5 * 2**failures)
                    log.exception("cycle_failed", attempt=failures, retry_in=delay)
                    if once:
                        return None
                    await self._sleep(delay)
                    continue
                if failures:
                    event = "redis_recovered" if redis_down else "cycle_recovered"
                    log.info(event, after_attempts=failures)
                    failures, redis_down = 0, False
                assert last is not None
                log.info("cycle_done", **last.summary())
                if once:
                    break
                await self._sleep(interval)
        finally:
            for task in (keeper, pushing):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await self.release_leases()
        return last

    async def _one_cycle(self) -> None:
        await self.keep_leases()
        standby = [d for d in self.duties if not self.holds(d)]
        if standby:
            log.info("standby", duties=standby)
        if not self._indexes_checked:
            # Data of an older syncd: its derived views, once, before any write.
            await self.store.ensure_indexes()
            self._indexes_checked = True
        if self.leases is not None:
            claimed = await self.leases.claim_from_dead()
            if claimed:
                log.info("work_claimed_from_dead_consumers", entries=claimed)
        maintaining = self.holds(MAINTENANCE)
        if maintaining and await self._sweep_due():
            await self.sweep()
        self.last_cycle = await self._cycle()
        if maintaining:
            await self.refresh_flags()
        if self.writeback and self.pusher is not None and self.holds(poll_duty(Source.NATIONAL)):
            await self.pusher.drain()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
