"""Prometheus metrics of one syncd process, served at /metrics (syncd.web.ops).

Two kinds: what the sync loop counts as it goes (a `Metrics` is the Syncer's observer, see
`syncd.service.Observer`), and gauges read from Redis when /metrics is scraped (`refresh`). Each
`Metrics` has its own `CollectorRegistry`, not prometheus_client's global one, so that several
applications in one process (the tests) keep apart. The loop's counters are this process's:
they start at zero when it starts and count only the polls and batches it ran itself.

Counted by the sync loop (portal: city, national):

    syncd_polls_total{portal,outcome}       polls ended; outcome "ok" or "error"
    syncd_poll_errors_total{portal}         polls that failed (the portal could not be read)
    syncd_poll_duration_seconds{portal}     histogram of poll durations, failed ones included
    syncd_records_written_total{portal}     records new or newer written by the polls
    syncd_reconcile_batches_total           reconcile batches written
    syncd_reconciled_dossiers_total         dossiers decided and written by those batches
    syncd_reconcile_failures_total          queued dossiers whose reconciliation failed (each
                                            retried with backoff, then a dead letter)
    syncd_cycle_failures_total              cycles that ended with an unexpected error (the
                                            loop logs it and goes on after a pause)
    syncd_pushes_total{outcome}             write-back attempts by outcome (created, updated,
                                            unchanged, superseded, failed)

Read from Redis at each scrape (a few O(1) reads in two round trips, whatever the data size):

    syncd_redis_up                          1 if Redis answered the scrape's reads, else 0 (the
                                            other gauges are then left out)
    syncd_mismatches{kind,state}            mismatch records by kind and state (open, claimed,
                                            resolved, auto_resolved), detected now or not: from
                                            the counts the store keeps as records change state
                                            (`{P}:mismatch:counts`); left out until the counts
                                            of an older syncd's data are rebuilt
    syncd_queue_depth                       codes queued for reconciliation ({P}:dirty)
    syncd_quarantined_records{portal}       records in the quarantine
    syncd_portal_lag_seconds{portal}        seconds since the portal's last successful poll
                                            (left out for a portal never polled)
    syncd_portal_circuit{portal,state}      1 for the state of the portal's circuit breaker as
                                            the last poll recorded it (closed, open, half_open,
                                            unknown), 0 for the others
    syncd_flagged_dossiers{flag}            dossiers having each deadline flag (overdue, late,
                                            due_soon, late_no_apology)
    syncd_late_updates_total{portal}        records the scheduled re-reads found that polling
                                            had missed (stamped behind the cursor), since the
                                            store was created (all processes)
    syncd_view_complete{portal}             1 if the portal's last poll reached the end of its
                                            feed: absence on it is judged
    syncd_waiting_dossiers{portal}          dossiers absent on the portal whose absence waits
                                            for its next complete read
    syncd_retrying_dossiers                 dossiers whose reconciliation failed, to be retried
    syncd_dead_letters                      dossiers whose reconciliation failed too often
                                            (`syncd deadletters`)
    syncd_outbox_entries{state}             write-back outbox entries by state (pending,
                                            in_flight, failed, dry_run)
    syncd_outbox_oldest_seconds             age of the oldest entry waiting to be pushed (0:
                                            none)
    syncd_writeback_held                    1 while a burst of pushes is held for an operator
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from reconcile.flags import Flag
from reconcile.model import Source
from syncd.outbox import STATES
from syncd.service import REDIS_ERRORS, Observer
from syncd.store import Store

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
CIRCUIT_STATES = ("closed", "open", "half_open", "unknown")


class _Scraped(Collector):
    """The gauges read at the last scrape, exactly as read: what could not be read is absent
    (not a stale or zero value)."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterable[Metric]:
        return list(self.families)

    def describe(self) -> Iterable[Metric]:
        return []


class Metrics(Observer):
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.polls = Counter(
            "syncd_polls", "Polls of a portal ended, by outcome", ["portal", "outcome"], registry=r
        )
        self.poll_errors = Counter(
            "syncd_poll_errors", "Polls that failed to read the portal", ["portal"], registry=r
        )
        self.poll_seconds = Histogram(
            "syncd_poll_duration_seconds",
            "Duration of a poll of a portal",
            ["portal"],
            buckets=POLL_BUCKETS,
            registry=r,
        )
        self.written = Counter(
            "syncd_records_written", "Records new or newer written by polls", ["portal"], registry=r
        )
        self.batches = Counter("syncd_reconcile_batches", "Reconcile batches written", registry=r)
        self.dossiers = Counter(
            "syncd_reconciled_dossiers", "Dossiers decided and written by reconcile", registry=r
        )
        self.failures = Counter(
            "syncd_reconcile_failures",
            "Queued dossiers whose reconciliation failed",
            registry=r,
        )
        self.cycle_failures = Counter(
            "syncd_cycle_failures", "Cycles that ended with an unexpected error", registry=r
        )
        self.pushes = Counter(
            "syncd_pushes", "Write-back attempts by outcome", ["outcome"], registry=r
        )
        for outcome in ("created", "updated", "unchanged", "superseded", "failed"):
            self.pushes.labels(outcome)
        self.redis_up = Gauge("syncd_redis_up", "Whether Redis answered the scrape", registry=r)
        self.scraped = _Scraped()
        r.register(self.scraped)
        for source in Source:
            self.polls.labels(source.value, "ok")
            self.polls.labels(source.value, "error")
            self.poll_errors.labels(source.value)
            self.written.labels(source.value)

    # --- the sync loop's observer ----------------------------------------------------------

    def polled(self, source: str, seconds: float, written: int, error: str | None) -> None:
        self.polls.labels(source, "error" if error else "ok").inc()
        if error:
            self.poll_errors.labels(source).inc()
        self.poll_seconds.labels(source).observe(seconds)
        self.written.labels(source).inc(written)

    def reconciled(self, count: int) -> None:
        self.batches.inc()
        self.dossiers.inc(count)

    def failed(self, count: int) -> None:
        self.failures.inc(count)

    def cycle_failed(self) -> None:
        self.cycle_failures.inc()

    def pushed(self, outcome: str) -> None:
        self.pushes.labels(outcome).inc()

    # --- scraping --------------------------------------------------------------------------

    async def refresh(self, store: Store, now: datetime) -> None:
        """Read the gauges of the module docstring from Redis, for the next exposition."""
        try:
            async with store.redis.pipeline(transaction=False) as pipe:
                pipe.scard(store.key("dirty"))
                pipe.hgetall(store.key("status"))
                for flag in Flag:
                    pipe.scard(store.key("flag", flag.value))
                depth, raw_status, *flag_counts = await pipe.execute()
            counts = await store.mismatch_counts()
            quarantined = await store.quarantine_counts()
            failing = await store.failure_counts()
            waiting = await store.waiting()
            outbox = await store.outbox.entries()
        except REDIS_ERRORS:
            self.redis_up.set(0)
            self.scraped.families = []
            return
        self.redis_up.set(1)
        status = {_text(k): _text(v) for k, v in raw_status.items()}
        self.scraped.families = [
            *_families(now, int(depth), status, flag_counts, counts, quarantined),
            *_reliability(status, failing, waiting),
            *_writeback(now, status, outbox),
        ]

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format (version 0.0.4)."""
        return generate_latest(self.registry)


def _families(
    now: datetime,
    depth: int,
    status: dict[str, str],
    flag_counts: list[int],
    counts: dict[tuple[str, str], int] | None,
    quarantined: dict[str, int],
) -> Iterator[Metric]:
    yield GaugeMetricFamily("syncd_queue_depth", "Codes queued for reconciliation", value=depth)
    if counts is not None:
        family = GaugeMetricFamily(
            "syncd_mismatches", "Mismatch records by kind and state", labels=["kind", "state"]
        )
        for (state, kind), n in sorted(counts.items()):
            family.add_metric([kind, state], n)
        yield family
    family = GaugeMetricFamily(
        "syncd_quarantined_records", "Records in the quarantine", labels=["portal"]
    )
    for source in Source:
        family.add_metric([source.value], quarantined.get(source.value, 0))
    yield family
    lag = GaugeMetricFamily(
        "syncd_portal_lag_seconds",
        "Seconds since the portal's last successful poll",
        labels=["portal"],
    )
    circuit = GaugeMetricFamily(
        "syncd_portal_circuit",
        "State of the portal's circuit breaker at its last poll (1 = current)",
        labels=["portal", "state"],
    )
    for source in Source:
        last = status.get(f"{source.value}:last_success_at")
        if last:
            seconds = (now - datetime.fromisoformat(last)).total_seconds()
            lag.add_metric([source.value], max(seconds, 0.0))
        current = status.get(f"{source.value}:circuit", "unknown")
        for state in CIRCUIT_STATES:
            circuit.add_metric([source.value, state], 1 if state == current else 0)
    yield lag
    yield circuit
    family = GaugeMetricFamily(
        "syncd_flagged_dossiers", "Dossiers having a deadline flag", labels=["flag"]
    )
    for flag, n in zip(Flag, flag_counts, strict=True):
        family.add_metric([flag.value], int(n))
    yield family


def _reliability(
    status: dict[str, str], failing: tuple[int, int], waiting: dict[Source, int]
) -> Iterator[Metric]:
    late = CounterMetricFamily(
        "syncd_late_updates",
        "Records the re-reads found that polling had missed",
        labels=["portal"],
    )
    complete = GaugeMetricFamily(
        "syncd_view_complete",
        "Whether the portal's last poll read its whole feed",
        labels=["portal"],
    )
    waits = GaugeMetricFamily(
        "syncd_waiting_dossiers",
        "Dossiers whose absence on the portal waits for its complete read",
        labels=["portal"],
    )
    for source in Source:
        late.add_metric([source.value], int(status.get(f"{source.value}:late_updates", 0)))
        complete.add_metric(
            [source.value], 1 if status.get(f"{source.value}:complete") == "1" else 0
        )
        waits.add_metric([source.value], waiting.get(source, 0))
    yield late
    yield complete
    yield waits
    retrying, dead = failing
    yield GaugeMetricFamily(
        "syncd_retrying_dossiers",
        "Dossiers whose reconciliation failed, to be retried",
        value=retrying,
    )
    yield GaugeMetricFamily(
        "syncd_dead_letters", "Dossiers whose reconciliation failed too often", value=dead
    )


def _writeback(
    now: datetime, status: dict[str, str], outbox: list[dict[str, Any]]
) -> Iterator[Metric]:
    entries = GaugeMetricFamily(
        "syncd_outbox_entries", "Write-back outbox entries by state", labels=["state"]
    )
    for state in STATES:
        entries.add_metric([state], sum(e.get("state") == state for e in outbox))
    yield entries
    waiting = [
        datetime.fromisoformat(e["created_at"])
        for e in outbox
        if e.get("state") != "dry_run" and e.get("created_at")
    ]
    oldest = (now - min(waiting)).total_seconds() if waiting else 0.0
    yield GaugeMetricFamily(
        "syncd_outbox_oldest_seconds", "Age of the oldest entry waiting to be pushed", value=oldest
    )
    yield GaugeMetricFamily(
        "syncd_writeback_held",
        "Whether a burst of pushes is held for an operator",
        value=1 if status.get("writeback:held") else 0,
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
