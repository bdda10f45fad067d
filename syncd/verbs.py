"""The verbs of the `syncd` command (see syncd.cli for its arguments and exit codes).

The web application, the mock portals and the progress bar are imported by the verbs that use
them; this module is itself imported only once the arguments are parsed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from connectors.base import Connector, Cursor, Page
from connectors.city.client import CityConnector, CitySettings
from connectors.national.client import NationalConnector, NationalSettings
from reconcile.compare import MismatchKind
from reconcile.model import VN_TZ, Source
from reconcile.period import Period
from syncd import queue as queue_module
from syncd.cells import CsvWriter
from syncd.config import Config
from syncd.deadletters_cli import deadletters_verb
from syncd.embedded import EmbeddedRedis, EmbeddedRedisError
from syncd.i18n import MESSAGES, clock_text, detail_text, language, t, wire_reason
from syncd.leases import Leases, consumer_name
from syncd.operators import OperatorError, acting_operator
from syncd.pusher import Pusher
from syncd.report_cli import (
    ReportUsageError,
    overdue_verb,
    report_document,
    report_verb,
    write_report,
)
from syncd.service import REDIS_ERRORS, Syncer
from syncd.store import Store
from syncd.summary import paragraph
from syncd.usage import UsageError
from syncd.users_cli import users_verb
from syncd.web.auth import AuthError
from syncd.writeback_cli import writeback_verb

if TYPE_CHECKING:
    from connectors import scenario as scenario_module

log = structlog.get_logger("syncd")

DEMO_PREFIX = "syncd-demo"  # the demo's keys, apart from any real data in the same Redis


async def dispatch(args: argparse.Namespace, config: Config) -> int:
    """Run the verb `args` names; its exit code."""
    if args.verb == "check-config":
        print(t("config.ok", where=", ".join(config.sources)))
        return 0
    if args.verb == "run":
        return await run(config, once=args.once)
    if args.verb == "mock-portals":
        return await serve_mocks(config, args)
    if args.verb == "demo":
        return await demo(config, args)
    if args.verb == "report":
        return await report(config, args)
    if args.verb == "overdue":
        async with open_store(config) as store:
            return await _report_usage(overdue_verb(store, config, args))
    if args.verb == "resync":
        return await resync(config, args)
    if args.verb == "quarantine":
        return await quarantine(config, args)
    if args.verb == "scenario":
        return scenario_verb(args)
    if args.verb == "writeback":
        async with open_store(config) as store:
            return await writeback_verb(store, args, config.writeback.enabled)
    if args.verb == "mismatches":
        return await mismatches(config, args)
    if args.verb == "serve":
        return await serve(config)
    if args.verb == "deadletters":
        async with open_store(config) as store:
            return await deadletters_verb(store, args)
    if args.verb == "users":
        async with open_store(config) as store:
            try:
                return await users_verb(store, args)
            except AuthError as exc:
                raise UsageError(str(exc)) from None
    raise UsageError(args.verb)


def _period(label: str, config: Config) -> Period:
    try:
        return Period.parse(label, config.report.cutoff_day)
    except ValueError as exc:
        raise UsageError(t("period.invalid", reason=exc)) from None


@contextlib.asynccontextmanager
async def open_store(config: Config, prefix: str | None = None) -> AsyncIterator[Store]:
    """The store on the configured Redis, or on an embedded one when no URL is configured."""
    url = config.redis.url
    async with contextlib.AsyncExitStack() as stack:
        if not url:
            embedded = EmbeddedRedis(config.redis.data_dir)
            try:
                url = await stack.enter_async_context(embedded)
            except EmbeddedRedisError as exc:
                raise UsageError(t("redis.unavailable", url=embedded.url, reason=exc)) from None
            log.info("redis_embedded", data_dir=str(embedded.data_dir))
        client = aioredis.from_url(
            url,
            socket_timeout=5,
            socket_connect_timeout=2,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.1), retries=2),
            health_check_interval=15,
        )
        stack.push_async_callback(client.aclose)
        yield Store(client, prefix or config.redis.key_prefix)


@contextlib.asynccontextmanager
async def open_syncer(
    config: Config,
    city: CitySettings | None = None,
    national: NationalSettings | None = None,
    prefix: str | None = None,
) -> AsyncIterator[Syncer]:
    """A `Syncer` on the configured store and portals (or the given ones), closed after."""
    national_connector = NationalConnector(national or config.national_settings())
    city_connector = CityConnector(city or config.city_settings(), config.city_statuses())
    connectors: list[Connector] = [city_connector, national_connector]
    try:
        async with open_store(config, prefix) as store:
            sweep = config.runtime.sweep_interval_hours
            consumer = consumer_name()
            syncer = Syncer(
                store,
                connectors,
                config.runtime.reconcile_batch,
                consumer=consumer,
                catalogue=national_connector,
                catalogue_refresh=timedelta(hours=config.catalogue.refresh_hours),
                policy=config.policy(),
                writeback=config.writeback.enabled,
                sweep_interval=timedelta(hours=sweep) if sweep else None,
                due_soon_days=config.deadlines.due_soon_days,
                retries=config.runtime.retries(),
                leases=Leases(store, consumer, timedelta(seconds=config.runtime.lease_seconds)),
                rereads=config.reread.schedules(),
            )
            syncer.pusher = Pusher(
                store,
                national_connector,
                city_connector,
                config.writeback.settings(config.agency.name),
                clock=syncer.clock,
                procedures=lambda: syncer.procedures,
            )
            syncer.pusher.pushed = lambda outcome: syncer.observer.pushed(outcome)
            yield syncer
    finally:
        for connector in connectors:
            await connector.close()


def on_stop_signals(stop: Callable[[], object]) -> None:
    """Call `stop` on SIGTERM or SIGINT. Only the main thread receives signals: a verb run by
    `syncd.cli.main` in another thread (an in-process caller's) is stopped by its caller."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)


def _install_stop(syncer: Syncer) -> None:
    on_stop_signals(syncer.stopping.set)


def _redis_failed(config: Config, exc: BaseException) -> int:
    url = config.redis.url or "embedded"
    print(t("redis.unavailable", url=url, reason=exc), file=sys.stderr)
    return 1


async def serve(config: Config) -> int:
    """The operator interface alone (its resync trigger still reaches the portals)."""
    try:
        async with open_syncer(config) as syncer, _http(config, syncer, always=True):
            _install_stop(syncer)
            await syncer.stopping.wait()
    except REDIS_ERRORS as exc:
        return _redis_failed(config, exc)
    return 0


@contextlib.asynccontextmanager
async def _http(config: Config, syncer: Syncer, always: bool = False) -> AsyncIterator[None]:
    """The operator interface for the block when `http.enabled` (or `always`: `serve`)."""
    if not (always or config.http.enabled):
        yield
        return
    from syncd.web.app import make_app
    from syncd.web.server import serving

    app = make_app(syncer.store, config, syncer)
    try:
        served = serving(app, config.http.host, config.http.port)
        url = await served.__aenter__()
    except OSError as exc:
        where = f"{config.http.host}:{config.http.port}"
        raise UsageError(t("http.cannot_listen", where=where, reason=exc.strerror or exc)) from None
    try:
        print(t("http.serving", url=url), file=sys.stderr, flush=True)
        log.info("http_serving", url=url)
        yield
    finally:
        await served.__aexit__(None, None, None)


async def run(config: Config, once: bool = False) -> int:
    try:
        async with open_syncer(config) as syncer:
            if once:
                return await _run(config, syncer, once)
            async with _http(config, syncer):
                return await _run(config, syncer, once)
    except REDIS_ERRORS as exc:
        return _redis_failed(config, exc)


async def _run(config: Config, syncer: Syncer, once: bool) -> int:
    _install_stop(syncer)
    log.info("syncd_started", once=once, interval=config.runtime.poll_interval_seconds)
    if not once:
        redis_name = config.redis.url or config.redis.data_dir
        print(t("run.started", redis=redis_name), file=sys.stderr, flush=True)
    result = await syncer.run(
        config.runtime.poll_interval_seconds,
        once=once,
        redis_retry_max=config.runtime.redis_retry_max_seconds,
        max_redis_failures=5 if once else None,
    )
    log.info("syncd_stopped")
    if not once:
        print(t("run.stopped"), file=sys.stderr)
    if once and (result is None or result.failed_portals):
        return 1
    return 0


def _since(text: str | None) -> Cursor | None:
    if text is None:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(t("resync.bad_since", value=text)) from None
    return Cursor(datetime(day.year, day.month, day.day, tzinfo=VN_TZ), "")


async def resync(config: Config, args: argparse.Namespace) -> int:
    if args.code and args.since:
        raise UsageError(t("resync.since_with_code"))
    since = _since(args.since)
    async with open_syncer(config) as syncer:
        _install_stop(syncer)
        if args.code:
            written = await syncer.fetch_codes(args.code)
            print(t("resync.codes_done", count=len(args.code), written=written))
            return 0
        connector = next(c for c in syncer.connectors if c.source.value == args.portal)
        from tqdm import tqdm

        with tqdm(unit=t("unit.dossiers"), disable=not sys.stderr.isatty(), file=sys.stderr) as bar:

            def advance(page: Page) -> None:
                if page.total is not None and bar.total is None:
                    bar.reset(total=page.total)
                bar.update(len(page.dossiers) + len(page.rejected))

            result = await syncer.poll(connector, since=since, progress=advance)
        if result.error:
            print(result.error, file=sys.stderr)
            return 1
        reconciled, _ = await syncer.reconcile_pending()
        print(
            t(
                "resync.done",
                portal=args.portal,
                read=result.received,
                written=result.written,
                rejected=result.rejected,
                reconciled=reconciled,
            )
        )
    return 0


async def _unknown_entries(store: Store, ids: Sequence[str]) -> list[str]:
    """Checked before anything is retried, so that a typo changes nothing."""
    return [i for i in ids if await store.quarantine_entry(i) is None]


async def quarantine(config: Config, args: argparse.Namespace) -> int:
    if args.action == "retry":
        if not args.ids and not args.all:
            raise UsageError(t("quarantine.retry_what"))
        async with open_syncer(config) as syncer:
            if not args.all:
                missing = await _unknown_entries(syncer.store, args.ids)
                if missing:
                    raise UsageError(t("quarantine.no_entry", id=", ".join(missing)))
            result = await syncer.retry_quarantined(None if args.all else args.ids)
        print(t("quarantine.retried", released=len(result.released), kept=len(result.kept)))
        return 0
    async with open_store(config) as store:
        if args.action == "show":
            entry = await store.quarantine_entry(args.id)
            if entry is None:
                raise UsageError(t("quarantine.no_entry", id=args.id))
            print(f"{t('quarantine.id')}: {entry['id']} ({clock_text(entry['last_at'])})")
            print(f"{t('quarantine.portal')}: {entry['source']}")
            print(f"{t('quarantine.code')}: {entry['code'] or '-'}")
            print(f"{t('quarantine.reason')}: {wire_reason(entry['reason'], language())}")
            raw = json.dumps(json.loads(entry["raw"]), ensure_ascii=False, indent=2)
            print(f"{t('quarantine.raw')}:\n{raw}")
            return 0
        portal = Source(args.portal) if args.portal else None
        entries = await store.quarantined(args.limit, portal)
        total = await store.quarantine_count()
        print(t("quarantine.count", shown=len(entries), total=total))
        for e in entries:
            when, code = clock_text(e["last_at"]), e["code"] or "-"
            reason = wire_reason(e["reason"], language())
            print(f"{e['id']}  {when}  {e['source']:<8}  {code}  {reason}")
    return 0


async def _operator(given: str | None, store: Store) -> str:
    try:
        return await acting_operator(given, store)
    except OperatorError as exc:
        raise UsageError(str(exc)) from None


def _side(value: object) -> str:
    return "-" if value is None else str(value)


def _label(group: str, name: str) -> str:
    """The text for `name` in a group of messages, or the name itself if it has none."""
    return t(f"{group}.{name}") if f"{group}.{name}" in MESSAGES else name


def _resolution_text(resolution: dict[str, object] | None) -> str:
    if not resolution:
        return "-"
    label = _label("resolution", str(resolution.get("action")))
    value = resolution.get("value")
    return f"{label} ({value})" if value else label


def _print_mismatch(record: dict[str, Any]) -> None:
    resolution = record.get("resolution") or {}
    rows = [
        ("mismatch.id", record["id"]),
        ("mismatch.key", record["key"]),
        ("mismatch.kind", record["kind"]),
        ("mismatch.severity", record.get("severity")),
        ("mismatch.city", _side(record.get("city"))),
        ("mismatch.national", _side(record.get("national"))),
        ("mismatch.detail", detail_text(record.get("detail") or "", language()) or "-"),
        ("mismatch.state", _label("state", record["state"])),
        ("mismatch.present", t("yes") if record.get("present", True) else t("no")),
        ("mismatch.detected_at", clock_text(record.get("detected_at"))),
        ("mismatch.last_seen_at", clock_text(record.get("last_seen_at"))),
        ("mismatch.claimed_by", record.get("claimed_by") or "-"),
        ("mismatch.resolution", _resolution_text(resolution)),
        ("mismatch.reason", resolution.get("reason") or "-"),
        ("mismatch.resolved_by", resolution.get("by") or "-"),
    ]
    width = max(len(t(label)) for label, _ in rows)
    for label, value in rows:
        print(f"{t(label) + ':':<{width + 1}} {value}")
    print(f"{t('mismatch.history')}:")
    for event in record.get("history", []):
        action = {"action": event["action"]} if event.get("action") else None
        extra = "; ".join(
            text
            for text in (
                _resolution_text(action) if action else "",
                event.get("value") or "",
                event.get("reason") or "",
            )
            if text
        )
        sides = f"{_side(event.get('city'))} / {_side(event.get('national'))}"
        name = _label("event", str(event.get("event")))
        line = f"  {clock_text(event.get('at'))}  {event.get('by', '-')}  {name}"
        line += f"  [{_label('state', event['state'])}]  {sides}"
        print(f"{line}  {extra}" if extra else line)


def _json_cell(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _audit_state(snapshot: dict[str, Any] | None) -> str:
    return "-" if not snapshot else _label("state", snapshot["state"])


async def mismatches(config: Config, args: argparse.Namespace) -> int:
    try:
        async with open_store(config) as store:
            return await _mismatches(queue_module.MismatchQueue(store), args)
    except queue_module.QueueError as exc:
        raise UsageError(str(exc)) from None
    except REDIS_ERRORS as exc:
        return _redis_failed(config, exc)


async def _mismatches(queue: queue_module.MismatchQueue, args: argparse.Namespace) -> int:
    if args.action == "list":
        kinds = [k.value for k in MismatchKind]
        if args.kind is not None and args.kind not in kinds:
            raise UsageError(t("queue.bad_kind", kind=args.kind, kinds=", ".join(kinds)))
        found = await queue.search(args.kind, args.state, args.field, args.limit, args.offset)
        if args.format == "json":
            listing = {"total": found.total, "offset": args.offset, "items": found.items}
            print(json.dumps(listing, ensure_ascii=False, indent=2))
            return 0
        print(t("mismatches.count", shown=len(found.items), total=found.total))
        for r in found.items:
            who = r.get("claimed_by") or (r.get("resolution") or {}).get("by") or "-"
            print(
                f"{r['id']}  {_label('state', r['state'])}  {_side(r.get('city'))} / "
                f"{_side(r.get('national'))}  {clock_text(r.get('detected_at'))}  {who}"
            )
        return 0
    if args.action == "show":
        _print_mismatch(await queue.get(args.id))
        return 0
    if args.action == "claim":
        record = await queue.claim(args.id, await _operator(args.by, queue.store))
        print(t("mismatches.claimed", id=record["id"], who=record["claimed_by"]))
        return 0
    if args.action == "resolve":
        given = [args.accept is not None, args.value is not None, args.ignore]
        if sum(given) != 1:
            raise UsageError(t("queue.resolve_how"))
        if not (args.reason or "").strip():
            raise UsageError(t("queue.no_reason"))
        if args.accept:
            action = f"accept_{args.accept}"
        else:
            action = "manual" if args.value is not None else "ignore"
        who = await _operator(args.by, queue.store)
        record = await queue.resolve(args.id, who, action, args.reason, args.value)
        resolution = record["resolution"]
        print(t("mismatches.resolved", id=record["id"], action=_resolution_text(resolution)))
        if resolution.get("value"):
            print(t("mismatches.override", value=resolution["value"], key=record["key"]))
        return 0
    if args.action == "reopen":
        who = await _operator(args.by, queue.store)
        record = await queue.reopen(args.id, who, args.reason or "")
        print(t("mismatches.reopened", id=record["id"]))
        return 0
    if args.action in ("mark-migrated", "unmark-migrated"):
        marked = args.action == "mark-migrated"
        who = await _operator(args.by, queue.store)
        await queue.set_migrated(args.key, who, marked, args.reason or "")
        print(t("mismatches.marked" if marked else "mismatches.unmarked", key=args.key))
        return 0
    entries = await queue.audit(args.limit, args.since)
    if args.format == "csv":
        writer = CsvWriter(sys.stdout)
        writer.writerow(["entry", "at", "who", "action", "id", "before", "after"])
        for e in entries:
            writer.writerow(
                [e["entry"], e["at"], e["who"], e["action"], e["id"]]
                + [
                    json.dumps(e[k], ensure_ascii=False, sort_keys=True)
                    for k in ("before", "after")
                ]
            )
        return 0
    print(t("mismatches.audit_count", count=len(entries)))
    for e in entries:
        after = e["after"] or {}
        reason = (after.get("resolution") or {}).get("reason") or ""
        label = _label("audit", e["action"])
        line = (
            f"{clock_text(e['at'])}  {e['who']}  {label}  {e['id']}  "
            f"{_audit_state(e['before'])} → {_audit_state(e['after'])}"
        )
        print(f"{line}  {reason}" if reason else line)
    return 0


def _load_scenario(path: str) -> scenario_module.Scenario:
    from connectors import scenario as scenario_module

    try:
        return scenario_module.load(path)
    except scenario_module.ScenarioError as exc:
        raise UsageError(t("scenario.invalid", reason=exc)) from None
    except OSError as exc:
        raise UsageError(t("scenario.unreadable", path=path, reason=exc.strerror)) from None


def scenario_verb(args: argparse.Namespace) -> int:
    if args.action == "check":
        loaded = _load_scenario(args.file)
        print(t("scenario.ok", path=args.file, dossiers=len(loaded.dossiers)))
        return 0
    from connectors import scenario as scenario_module

    generated = scenario_module.generate(args.dossiers, args.seed)
    if args.output:
        scenario_module.save(generated, args.output)
        print(t("scenario.written", path=args.output, dossiers=args.dossiers), file=sys.stderr)
    else:
        sys.stdout.write(scenario_module.dump(generated))
    return 0


async def serve_mocks(config: Config, args: argparse.Namespace) -> int:
    from connectors import dataset as mock_dataset
    from connectors.mockserver import start_mock_portals

    flags = {
        name.removeprefix("fault_"): value
        for name, value in vars(args).items()
        if name.startswith("fault_") and value is not None
    }
    try:
        faults = config.fault_settings(flags)
    except ValueError as exc:
        name, _, problem = str(exc).partition(": ")
        flag = "fault-seed" if name == "seed" else name.replace("_", "-")
        raise UsageError(f"--{flag}: {problem}") from None
    scenario_file = args.scenario or config.mock.scenario
    source: mock_dataset.Dataset | scenario_module.Scenario = (
        _load_scenario(scenario_file)
        if scenario_file
        else mock_dataset.generate(
            args.dossiers or config.mock.dossiers,
            config.mock.seed if args.seed is None else args.seed,
        )
    )
    portals = await start_mock_portals(
        source, config.city_statuses(), args.host, args.city_port, args.national_port, faults
    )
    speed = config.mock.clock_speed if args.clock_speed is None else args.clock_speed
    if speed:
        if portals.scenario is None:
            raise UsageError(t("mock.clock_needs_scenario"))
        portals.run_clock(speed)
    print(t("mock.serving", city=portals.city_url, national=portals.national_url), flush=True)
    stop = asyncio.Event()
    on_stop_signals(stop.set)
    try:
        await stop.wait()
    finally:
        await portals.stop()
    return 0


async def report(config: Config, args: argparse.Namespace) -> int:
    period = _period(args.period, config)
    async with open_store(config) as store:
        return await _report_usage(report_verb(store, config, period, args))


async def _report_usage(work: Awaitable[int]) -> int:
    try:
        return await work
    except RuntimeError as exc:  # a ReportUsageError is already a UsageError
        raise UsageError(str(exc)) from None


async def demo(config: Config, args: argparse.Namespace) -> int:
    """Serve a scenario (the seed one by default, or a generated dataset with --dossiers) from
    the mock portals, sync it into an embedded Redis, and print the period's report: raw and
    reconciled figures side by side, with the reason for every difference."""
    from connectors import dataset as mock_dataset
    from connectors import scenario as scenario_module
    from connectors.mockserver import (
        CITY_API_KEY,
        NATIONAL_PASSWORD,
        NATIONAL_USERNAME,
        start_mock_portals,
    )

    period = _period(args.period, config)
    source: mock_dataset.Dataset | scenario_module.Scenario
    if args.dossiers is not None:
        source = mock_dataset.generate(args.dossiers, args.seed)
        now = mock_dataset.DEFAULT_NOW
    else:
        source = _load_scenario(args.scenario or str(scenario_module.seed_scenario_path()))
        now = source.now
    portals = await start_mock_portals(source, config.city_statuses())
    agency = source.agency if isinstance(source, scenario_module.Scenario) else None
    city = CitySettings(portals.city_url, CITY_API_KEY, config.portals.city.page_size)
    national = NationalSettings(
        portals.national_url,
        NATIONAL_USERNAME,
        NATIONAL_PASSWORD,
        agency or mock_dataset.AGENCY_CODE,
    )
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="syncd-demo-")
    demo_config = replace(config, redis=replace(config.redis, url="", data_dir=data_dir))
    out = sys.stdout
    try:
        async with open_syncer(demo_config, city, national, prefix=DEMO_PREFIX) as syncer:
            syncer.clock = lambda: now
            store = syncer.store
            await store.delete_all()
            cycle = await syncer.cycle()
            if cycle.failed_portals:
                for poll in cycle.polls:
                    if poll.error:
                        print(f"{poll.source.value}: {poll.error}", file=sys.stderr)
                return 1
            kinds = Counter(m["kind"] for m in await store.mismatches())
            doc = await report_document(store, demo_config, period, now)
            if args.format == "text":
                out.write(t("demo.title") + "\n")
                where = "redis.embedded" if args.data_dir else "demo.temporary"
                out.write(t(where, path=data_dir) + "\n")
                synced = t(
                    "demo.synced",
                    city=await store.count(Source.CITY),
                    national=await store.count(Source.NATIONAL),
                )
                out.write(synced + "\n")
                summary = ", ".join(f"{t(f'kind.{k}')}: {n}" for k, n in sorted(kinds.items()))
                out.write(t("demo.mismatches", summary=summary or t("demo.none")) + "\n\n")
                for figures in ("city", "corrected"):
                    out.write(t(f"demo.paragraph.{figures}") + "\n")
                    out.write(paragraph(doc, language(), figures) + "\n")
            try:
                write_report(doc, args.format, args.output, "corrected")
            except ReportUsageError as exc:
                raise UsageError(str(exc)) from None
    finally:
        await portals.stop()
        if not args.data_dir:  # the embedded server has stopped: nothing of it is left running
            shutil.rmtree(data_dir, ignore_errors=True)
    if args.data_dir:
        command = (
            f"SYNCD_REDIS_URL= SYNCD_DATA_DIR={shlex.quote(data_dir)} "
            f"SYNCD_KEY_PREFIX={DEMO_PREFIX} syncd report --period {period.label}"
        )
        print(t("demo.kept", path=data_dir, command=command), file=sys.stderr)
    return 0
