"""One month's report and the overdue-flag refresh while Redis holds N dossiers over three years.

    .venv/bin/python bench/bench_report.py [--dossiers 1000000] [--workers 2] [--keep]
                                           [--prefix P] [--redis-url URL]

Loading (timed, but apart from the measured operations): child processes generate N dossiers
received evenly from 2022-07-20 to 2025-07-19 (`--workers` of them, each taking every W-th page
of 2000; the data depend on the seed and N only), write both portals' records with
`Store.upsert` (pages of 2000, no cursor), decide each dossier with `reconcile.engine.decide` and
write the decisions with `Store.apply` (batches of 1000) and their flags with `Store.save_flags`,
as a reconcile would. The work queue the upserts fill (`dirty`, `work`) is then dropped, as
reconciling would have consumed it. The dossiers: a city record each and, for 98.5%, a national
one; most resolved before their due date, ~6% late, ~1.5% withdrawn, ~0.5% refused, ~0.3% stuck
open for good, the recent ones still open; a national record lags behind the city's for a share
of the recently finished ones.

Then, in this process (the peak RSS of each step is reset before it where Linux allows,
/proc/self/clear_refs; otherwise it is this process's peak so far):

- the report of period 2024-07 (cut-off day 20): `gather` through the period index, `to_json`
  and `json.dumps`, three times (min and median), and the same for the latest period (2025-07);
- `Syncer.refresh_flags(force=True)` over every open dossier;
- for comparison, one full scan of the corrected records (what the report used to read).

Keys go under `bench-report-<pid>` (or `--prefix`) and are deleted at the end unless `--keep`;
`--prefix` naming a prefix kept earlier skips loading. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.dataset import AGENCY_CODE, procedures  # noqa: E402
from reconcile.calendar import WorkingCalendar  # noqa: E402
from reconcile.engine import Decision, Policy, decide  # noqa: E402
from reconcile.model import VN_TZ, Channel, Dossier, Pause, Source, Status  # noqa: E402
from reconcile.period import Period  # noqa: E402
from syncd import config as config_module  # noqa: E402
from syncd import logs  # noqa: E402
from syncd.reports import ReportSettings, gather, to_json  # noqa: E402
from syncd.service import Syncer  # noqa: E402
from syncd.store import Store, WorkItem  # noqa: E402

PAGE = 2000  # records per upsert (one portal page)
APPLY_BATCH = 1000  # decisions per Store.apply
SEED = 11
FIRST_DAY = date(2022, 7, 20)
LAST_DAY = date(2025, 7, 19)
DAYS = (LAST_DAY - FIRST_DAY).days + 1
# "Now" for everything measured: the end of the data's last day.
NOW = datetime(2025, 7, 19, 17, 30, tzinfo=VN_TZ)
PERIODS = ("2024-07", "2025-07")
RUNS = 3
# Legal resolution times (working days) a procedure may have.
LEGAL_DAYS = (3, 5, 7, 10, 15, 20, 30)

T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Peak memory per step


def peak_mib() -> float:
    """This process's peak RSS (as bench_reconcile.peak_mib; not imported from there, which
    would make mypy check that file and its optional pandas and datacompy imports)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0); False if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_mib() -> float:
    """This process's RSS now (MiB; 0 where /proc is not there)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    return next(
        (int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")),
        0.0,
    )


def start_step() -> float:
    """Collect garbage and reset the peak RSS: the RSS the step starts from (MiB)."""
    gc.collect()
    reset_peak()
    return rss_mib()


def memory_text(peak: float, before: float) -> str:
    grown = max(0.0, peak - before)
    return f"peak RSS {peak:,.0f} MiB (+{grown:,.0f} over the {before:,.0f} MiB before)"


async def timed(step: Callable[[], Awaitable[T]]) -> tuple[T, float, str]:
    """Run `step`: its result, wall seconds and what it took of memory (text)."""
    before = start_step()
    started = time.perf_counter()
    result = await step()
    return result, time.perf_counter() - started, memory_text(peak_mib(), before)


# --------------------------------------------------------------------------------------------
# The dossiers


class Days:
    """Working days around the data's range, by index, and each date's next working day."""

    def __init__(self) -> None:
        calendar = WorkingCalendar()
        last = LAST_DAY + timedelta(days=240)
        self.work: list[date] = []
        self.after: list[int] = []  # per day offset from FIRST_DAY: first working day after it
        day = FIRST_DAY - timedelta(days=1)
        while day <= last:
            if calendar.is_working_day(day):
                self.work.append(day)
            day += timedelta(days=1)
        for offset in range(DAYS):
            target = FIRST_DAY + timedelta(days=offset)
            index = self.after[-1] if self.after else 0
            while self.work[index] <= target:
                index += 1
            self.after.append(index)
        self.midnight = [datetime(d.year, d.month, d.day, tzinfo=VN_TZ) for d in self.work]

    def at(self, index: int, minutes: int) -> datetime:
        return self.midnight[index] + timedelta(minutes=minutes)


@dataclass(frozen=True)
class Catalogue:
    codes: tuple[str, ...]
    fields: tuple[str, ...]
    legal_days: tuple[int, ...]


def catalogue() -> Catalogue:
    by_code = procedures()
    rng = random.Random(SEED)
    codes = tuple(by_code)
    return Catalogue(
        codes, tuple(by_code[c] for c in codes), tuple(rng.choice(LEGAL_DAYS) for _ in codes)
    )


def page_of(
    number: int, total: int, days: Days, cat: Catalogue
) -> list[tuple[Dossier, Dossier | None]]:
    """Page `number` (PAGE dossiers) of `total`: (city record, national record or None)."""
    rng = random.Random(SEED * 1_000_003 + number)
    out: list[tuple[Dossier, Dossier | None]] = []
    now = NOW
    recent = NOW - timedelta(days=14)
    for i in range(number * PAGE, min(total, (number + 1) * PAGE)):
        offset = i * DAYS // total
        first_of_day = -(-offset * total // DAYS)
        day = FIRST_DAY + timedelta(days=offset)
        code = f"{AGENCY_CODE}-{day:%y%m%d}-{i - first_of_day + 1:05d}"
        p = rng.randrange(len(cat.codes))
        legal = cat.legal_days[p]
        roll = rng.random()
        channel = (
            Channel.ONLINE if roll < 0.65 else Channel.DIRECT if roll < 0.95 else Channel.POSTAL
        )
        minutes = rng.randrange(1440) if channel is Channel.ONLINE else rng.randrange(450, 1020)
        received = datetime(day.year, day.month, day.day, tzinfo=VN_TZ) + timedelta(minutes=minutes)
        start = days.after[offset]  # the first working day after receipt
        due_index = start + legal - 1
        pauses: tuple[Pause, ...] = ()
        resumed_index = start
        if rng.random() < 0.05:  # a supplement request; the due date moves by its length
            asked = start + rng.randrange(max(1, legal // 2))
            length = rng.randint(1, 8)
            requested_at = days.at(asked, rng.randrange(480, 1020))
            resumed_at = days.at(asked + length, rng.randrange(480, 1020))
            if requested_at <= now:
                pauses = (Pause(requested_at, resumed_at if resumed_at <= now else None),)
                resumed_index = asked + length + 1
                due_index += length
        due = days.at(due_index, 1020)
        finished: datetime | None = None
        returned: datetime | None = None
        apology: datetime | None = None
        fate = rng.random()
        if fate < 0.005:
            status = Status.REFUSED
            updated = received + timedelta(hours=rng.randint(2, 48))
            pauses = ()
        elif fate < 0.008:  # stuck: open for good, overdue
            status = Status.PROCESSING
            updated = received + timedelta(days=rng.randint(1, 5))
            pauses = ()
        else:
            if fate < 0.023:
                status = Status.WITHDRAWN
                done = start + rng.randrange(legal)
            elif rng.random() < 0.06:
                status = Status.FINISHED
                done = due_index + rng.randint(1, 15)
                if rng.random() < 0.5:
                    apology = days.at(due_index - 1, rng.randrange(480, 1020))
            else:
                status = Status.FINISHED
                moved = due_index - (start + legal - 1)  # by the supplement request
                done = start + moved + rng.randint(max(0, legal // 3 - 1), legal - 1)
            done = max(done, resumed_index)
            finished = days.at(done, rng.randrange(480, 1020))
            if finished > now:  # not yet: still open at the end of the data
                finished = None
                apology = None if apology is None or apology > now else apology
                if pauses and pauses[0].resumed_at is None:
                    status = Status.SUPPLEMENT_REQUESTED
                    updated = pauses[0].requested_at
                elif now - received < timedelta(hours=24):
                    status = Status.ACCEPTED
                    updated = received
                else:
                    status = Status.PROCESSING
                    updated = received + (now - received) * rng.random()
                    if pauses and pauses[0].resumed_at is not None:
                        updated = max(updated, pauses[0].resumed_at)
            elif status is Status.FINISHED and rng.random() < 0.85:
                returned = finished + timedelta(hours=rng.randint(1, 72))
                if returned <= now:
                    status = Status.RETURNED
                    updated = returned
                else:
                    returned = None
                    updated = finished
            else:
                updated = finished
        identity = f"{rng.getrandbits(128):032x}"
        city = Dossier(
            source=Source.CITY,
            code=code,
            procedure_code=cat.codes[p],
            field_code=cat.fields[p],
            channel=channel,
            status=status,
            received_at=received,
            updated_at=updated,
            due_at=due if status.counted else None,
            finished_at=finished,
            returned_at=returned,
            apology_at=apology,
            pauses=pauses,
            digitised=rng.random() < 0.8,
            identity=identity,
        )
        side = rng.random()
        national: Dossier | None
        if side < 0.015 and status.counted:
            national = None  # never pushed
        elif finished is not None and (
            (updated >= recent and side < 0.15) or side < 0.017  # lagging behind the city
        ):
            national = Dossier(
                source=Source.NATIONAL,
                code=code,
                procedure_code=city.procedure_code,
                field_code=city.field_code,
                channel=channel,
                status=Status.PROCESSING,
                received_at=received,
                updated_at=received + (finished - received) / 2,
                due_at=city.due_at,
                digitised=city.digitised,
                identity=identity,
            )
        else:
            national = Dossier(
                source=Source.NATIONAL,
                code=code,
                procedure_code=city.procedure_code,
                field_code=city.field_code,
                channel=Channel.DIRECT if 0.5 < side < 0.505 else channel,
                status=status,
                received_at=received,
                updated_at=updated,
                due_at=city.due_at,
                finished_at=finished,
                returned_at=returned,
                pauses=pauses,
                digitised=city.digitised,
                identity=identity,
            )
        out.append((city, national))
    return out


# --------------------------------------------------------------------------------------------
# Loading (child processes)


async def load_worker(url: str, prefix: str, total: int, worker: int, workers: int) -> None:
    """Write every `workers`-th page from page `worker` on; prints its timings as JSON."""
    days, cat = Days(), catalogue()
    client = aioredis.from_url(url)
    store = Store(client, prefix)
    syncer = Syncer(store, [], clock=lambda: NOW)
    policy = Policy()
    spent = {"generate": 0.0, "decide": 0.0, "upsert": 0.0, "apply": 0.0, "flags": 0.0}
    counts = {"city": 0, "national": 0, "mismatches": 0}
    try:
        for number in range(worker, -(-total // PAGE), workers):
            t0 = time.perf_counter()
            pairs = page_of(number, total, days, cat)
            city = [c for c, _ in pairs]
            national = [n for _, n in pairs if n is not None]
            t1 = time.perf_counter()
            await store.upsert(Source.CITY, city, None)
            await store.upsert(Source.NATIONAL, national, None)
            t2 = time.perf_counter()
            decisions: list[Decision] = [
                decide([c], [n] if n is not None else [], policy) for c, n in pairs
            ]
            t3 = time.perf_counter()
            for start in range(0, len(decisions), APPLY_BATCH):
                await store.apply(decisions[start : start + APPLY_BATCH], WorkItem((), ()), NOW)
            t4 = time.perf_counter()
            await store.save_flags(syncer.flags(decisions))
            t5 = time.perf_counter()
            for name, seconds in zip(
                spent, (t1 - t0, t3 - t2, t2 - t1, t4 - t3, t5 - t4), strict=True
            ):
                spent[name] += seconds
            counts["city"] += len(city)
            counts["national"] += len(national)
            counts["mismatches"] += sum(len(d.mismatches) for d in decisions)
    finally:
        await client.aclose()
    print(json.dumps({**spent, **counts}), flush=True)


async def load(url: str, prefix: str, total: int, workers: int) -> dict[str, float]:
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--load-worker",
            f"{w}/{workers}",
            "--prefix",
            prefix,
            "--dossiers",
            str(total),
            "--redis-url",
            url,
            stdout=asyncio.subprocess.PIPE,
        )
        for w in range(workers)
    ]
    totals: dict[str, float] = {}
    for child in children:
        out, _ = await child.communicate()
        if child.returncode:
            raise RuntimeError(f"a loading worker failed (exit {child.returncode})")
        for name, value in json.loads(out.decode().strip().splitlines()[-1]).items():
            totals[name] = totals.get(name, 0) + value
    return totals


# --------------------------------------------------------------------------------------------
# Measuring


def cells_text(cells: dict[str, int]) -> str:
    return " ".join(f"({c}){n:,}" for c, n in cells.items())


def settings() -> ReportSettings:
    return config_module.load(env={}).report_settings()


async def measure_report(
    store: Store, label: str, report_settings: ReportSettings, total: int
) -> dict[str, Any]:
    period = Period.parse(label, report_settings.cutoff_day)
    keys = await store.period_keys(period)
    runs: list[dict[str, float]] = []
    peak = 0.0
    size = ledger_size = 0
    doc: dict[str, Any] = {}
    before = start_step()
    for _ in range(RUNS):
        start_step()
        t0 = time.perf_counter()
        gathered = await gather(store, period, report_settings, NOW)
        t1 = time.perf_counter()
        doc = to_json(gathered, await store.report_versions(period.label))
        t2 = time.perf_counter()
        text = json.dumps(doc, ensure_ascii=False)
        t3 = time.perf_counter()
        peak = max(peak, peak_mib())
        runs.append({"gather": t1 - t0, "to_json": t2 - t1, "dumps": t3 - t2, "total": t3 - t0})
        size = len(text.encode())
        del gathered, text
    ledger_size = len(json.dumps(doc["ledger"], ensure_ascii=False).encode())
    totals = [r["total"] for r in runs]
    result = {
        "label": label,
        "keys": len(keys),
        "min": min(totals),
        "median": statistics.median(totals),
        "peak": peak,
        "rss_before": before,
        "size": size,
        "ledger_size": ledger_size,
        "differences": len(doc["differences"]),
        "total_row": doc["corrected"]["total"]["cells"],
        "phases": {
            p: statistics.median(r[p] for r in runs) for p in ("gather", "to_json", "dumps")
        },
    }
    print(
        f"report {label} ({period.start:%d/%m/%Y}-{period.end:%d/%m/%Y}): the index handed "
        f"{len(keys):,} of {total:,} dossiers ({len(keys) / total:.1%}) to the report\n"
        f"   {RUNS} runs: min {result['min']:.2f}s, median {result['median']:.2f}s "
        f"(median gather {result['phases']['gather']:.2f}s, to_json "
        f"{result['phases']['to_json']:.2f}s, json.dumps {result['phases']['dumps']:.2f}s); "
        f"{memory_text(peak, before)}\n"
        f"   corrected total row: {cells_text(result['total_row'])}\n"
        f"   JSON document {size / 2**20:,.1f} MiB ({size:,} bytes; ledger "
        f"{ledger_size / 2**20:,.1f} MiB), {result['differences']:,} differences"
    )
    return result


async def scan(store: Store) -> int:
    count = 0
    async for _ in store.iter_records("corrected"):
        count += 1
    return count


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


async def main(args: argparse.Namespace) -> None:
    client = aioredis.from_url(args.redis_url)
    prefix = args.prefix or f"bench-report-{os.getpid()}"
    store = Store(client, prefix)
    figures: list[tuple[str, str]] = []
    try:
        total = int(await client.hlen(store.key("corrected")))
        if total:
            print(f"prefix {prefix}: reusing {total:,} dossiers already loaded")
        else:
            print(
                f"loading {args.dossiers:,} dossiers received {FIRST_DAY:%d/%m/%Y}-"
                f"{LAST_DAY:%d/%m/%Y} into prefix {prefix} ({args.workers} worker processes) ..."
            )
            memory_before = (await client.info("memory"))["used_memory"]
            started = time.perf_counter()
            spent = await load(args.redis_url, prefix, args.dossiers, args.workers)
            await client.unlink(store.key("dirty"), store.key("work"))  # consumed by reconciling
            loaded = time.perf_counter() - started
            memory = (await client.info("memory"))["used_memory"] - memory_before
            total = int(await client.hlen(store.key("corrected")))
            print(
                f"   loaded in {loaded:.0f}s wall: {spent['city']:,.0f} city + "
                f"{spent['national']:,.0f} national records, {total:,} decisions, "
                f"{spent['mismatches']:,.0f} mismatches; redis memory +{memory / 2**20:,.0f} MiB\n"
                f"   time by phase, summed over the workers: generate "
                f"{spent['generate']:.0f}s, upsert {spent['upsert']:.0f}s, decide "
                f"{spent['decide']:.0f}s ({spent['decide'] / total * 1e6:.0f} µs/decision), "
                f"apply {spent['apply']:.0f}s, save_flags {spent['flags']:.0f}s"
            )
            figures.append(("load, wall", f"{loaded:.0f}s"))
            figures.append(
                (
                    "load phases, summed over workers",
                    ", ".join(
                        f"{name} {spent[key]:.0f}s"
                        for name, key in (
                            ("generate", "generate"),
                            ("upsert", "upsert"),
                            ("decide", "decide"),
                            ("apply", "apply"),
                            ("save_flags", "flags"),
                        )
                    ),
                )
            )
        months = sorted(
            [
                _str(k).rsplit(":", 1)[1]
                async for k in client.scan_iter(match=f"{{{prefix}}}:pidx:m:*", count=1000)
            ]
        )
        open_size = int(await client.scard(store.key("pidx", "open")))
        spans = int(await client.hlen(store.key("pidx", "span")))
        sizes = {m: int(await client.scard(store.key("pidx", "m", m))) for m in months}
        print(
            f"period index: {len(months)} month sets ({months[0] if months else '-'} .. "
            f"{months[-1] if months else '-'}), {spans:,} spans; open {open_size:,} "
            f"({open_size / max(total, 1):.1%}); "
            + ", ".join(
                f"m:{m} {sizes[m]:,}"
                for m in ("2024-06", "2024-07", "2025-06", "2025-07")
                if m in sizes
            )
            + f"; median month set {statistics.median(sizes.values()) if sizes else 0:,.0f}"
        )
        if not months or not open_size:
            print("   WARNING: the period index looks empty; reports will find few dossiers")
        figures.append(("dossiers (corrected records)", f"{total:,}"))
        figures.append(
            ("open index / month set 2024-07", f"{open_size:,} / {sizes.get('2024-07', 0):,}")
        )

        report_settings = settings()
        for label in PERIODS:
            r = await measure_report(store, label, report_settings, total)
            figures.append(
                (
                    f"report {label}: keys read / min / median",
                    f"{r['keys']:,} / {r['min']:.2f}s / {r['median']:.2f}s",
                )
            )
            figures.append(
                (
                    f"report {label}: JSON size / peak RSS (before)",
                    f"{r['size'] / 2**20:.1f} MiB / {r['peak']:,.0f} MiB ({r['rss_before']:,.0f})",
                )
            )

        syncer = Syncer(
            store,
            [],
            clock=lambda: NOW,
            calendar=report_calendar(),
            due_soon_days=report_settings.due_soon_days,
        )
        for attempt in (1, 2):
            seen, elapsed, peak = await timed(lambda: syncer.refresh_flags(force=True))
            flagged = {
                name: int(await client.scard(store.key("flag", name)))
                for name in ("overdue", "due_soon", "late", "late_no_apology")
            }
            print(
                f"refresh_flags(force=True) #{attempt}: {seen:,} open dossiers in {elapsed:.2f}s "
                f"= {seen / elapsed:,.0f}/s; {peak}; flagged now: "
                + ", ".join(f"{k} {v:,}" for k, v in flagged.items())
            )
            figures.append(
                (
                    f"refresh_flags #{attempt}",
                    f"{seen:,} in {elapsed:.2f}s = {seen / elapsed:,.0f}/s, "
                    + peak.removeprefix("peak RSS ").split(" (")[0],
                )
            )

        count, elapsed, peak = await timed(lambda: scan(store))
        print(
            f"full scan of corrected (iter_records, count only): {count:,} in {elapsed:.2f}s = "
            f"{count / elapsed:,.0f}/s; {peak}"
        )
        figures.append(
            (
                "full scan of corrected",
                f"{count:,} in {elapsed:.2f}s = {count / elapsed:,.0f}/s, "
                + peak.removeprefix("peak RSS ").split(" (")[0],
            )
        )
        print("\nfigures\n" + table(figures))
    finally:
        if args.keep:
            print(f"kept: --prefix {prefix}")
        else:
            removed = await store.delete_all()
            print(f"deleted {removed} keys under {prefix}")
        await client.aclose()


def report_calendar() -> WorkingCalendar:
    return config_module.load(env={}).calendar.calendar()


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="loading processes")
    parser.add_argument("--keep", action="store_true", help="do not delete the keys at the end")
    parser.add_argument("--prefix", default="", help="key prefix; one kept earlier is reused")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--load-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logs.configure("console", "warning")
    if args.load_worker:
        worker, workers = (int(x) for x in args.load_worker.split("/"))
        asyncio.run(load_worker(args.redis_url, args.prefix, args.dossiers, worker, workers))
        return
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
