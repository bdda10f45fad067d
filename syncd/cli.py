"""The `syncd` command. Every verb is documented in README.md, "Command line".

Exit codes: 0 success; 1 the work failed (a portal or Redis could not be reached in a one-shot
run); 2 bad usage or bad configuration (one line on stderr naming the key, no traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from connectors import dataset as mock_dataset
from connectors.base import Connector
from connectors.city.client import CityConnector, CitySettings
from connectors.mockserver import (
    CITY_API_KEY,
    NATIONAL_PASSWORD,
    NATIONAL_USERNAME,
    start_mock_portals,
)
from connectors.national.client import NationalConnector, NationalSettings
from reconcile.model import Source
from reconcile.period import Period
from syncd import config as config_module
from syncd import logs
from syncd.config import Config, ConfigError
from syncd.embedded import EmbeddedRedis, EmbeddedRedisError
from syncd.i18n import set_language, t
from syncd.reports import gather, render
from syncd.service import REDIS_ERRORS, Syncer
from syncd.store import Store

log = structlog.get_logger("syncd")

FORMATS = ("text", "json", "csv")
DEMO_PERIOD = "2024-07"


class UsageError(Exception):
    """Bad input from the command line: exit code 2, one line."""


def build_parser() -> argparse.ArgumentParser:
    """The parser, its help in the current language (see `_early_language`)."""
    parser = argparse.ArgumentParser(prog="syncd", description=t("help.description"))
    parser.add_argument("--config", metavar="FILE", help=t("help.config"))
    parser.add_argument("--lang", choices=("vi", "en"), help=t("help.lang"))
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    run = verbs.add_parser("run", help=t("help.run"))
    run.add_argument("--once", action="store_true", help=t("help.once"))

    mock = verbs.add_parser("mock-portals", help=t("help.mock"))
    mock.add_argument("--host", default="127.0.0.1", help=t("help.host"))
    mock.add_argument("--city-port", type=int, default=8081, help=t("help.city_port"))
    mock.add_argument("--national-port", type=int, default=8082, help=t("help.national_port"))
    _dataset_flags(mock)

    demo = verbs.add_parser("demo", help=t("help.demo"))
    _dataset_flags(demo)
    demo.add_argument("--period", default=DEMO_PERIOD, help=t("help.period"))
    demo.add_argument("--format", choices=FORMATS, default="text", help=t("help.format"))
    demo.add_argument("--data-dir", help=t("help.data_dir"))

    report = verbs.add_parser("report", help=t("help.report"))
    report.add_argument("--period", required=True, help=t("help.period"))
    report.add_argument("--format", choices=FORMATS, default="text", help=t("help.format"))

    check = verbs.add_parser("check-config", help=t("help.check"))
    check.add_argument("file", nargs="?", help=t("help.check_file"))
    return parser


def _dataset_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dossiers", type=int, default=300, help=t("help.dossiers"))
    parser.add_argument("--seed", type=int, default=7, help=t("help.seed"))


def _early_language(argv: Sequence[str]) -> str | None:
    """--lang before parsing, so that --help itself is in the chosen language."""
    for index, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return arg.partition("=")[2]
        if arg == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    set_language(_early_language(argv))
    args = build_parser().parse_args(argv)
    try:
        config = config_module.load(
            args.file if args.verb == "check-config" and args.file else args.config
        )
        if args.lang is None:
            set_language(config.ui.language)
        for warning in config.warnings:
            print(warning, file=sys.stderr)
        logs.configure(config.log.format, "warning" if args.verb == "demo" else config.log.level)
        return asyncio.run(_dispatch(args, config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(t("interrupted"), file=sys.stderr)
        return 130


async def _dispatch(args: argparse.Namespace, config: Config) -> int:
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
        return await report(config, args.period, args.format)
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


def connectors_for(
    city: CitySettings, national: NationalSettings, config: Config
) -> list[Connector]:
    return [CityConnector(city, config.city_statuses()), NationalConnector(national)]


def _install_stop(syncer: Syncer) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, syncer.stopping.set)


async def run(config: Config, once: bool = False) -> int:
    connectors = connectors_for(config.city_settings(), config.national_settings(), config)
    try:
        async with open_store(config) as store:
            syncer = Syncer(store, connectors, config.runtime.reconcile_batch)
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
    except REDIS_ERRORS as exc:
        print(
            t("redis.unavailable", url=config.redis.url or "embedded", reason=exc), file=sys.stderr
        )
        return 1
    finally:
        for connector in connectors:
            await connector.close()
    log.info("syncd_stopped")
    if not once:
        print(t("run.stopped"), file=sys.stderr)
    if once and (result is None or result.failed_portals):
        return 1
    return 0


async def serve_mocks(config: Config, args: argparse.Namespace) -> int:
    data = mock_dataset.generate(args.dossiers, args.seed)
    portals = await start_mock_portals(
        data, config.city_statuses(), args.host, args.city_port, args.national_port
    )
    print(t("mock.serving", city=portals.city_url, national=portals.national_url), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await portals.stop()
    return 0


async def report(config: Config, label: str, fmt: str) -> int:
    period = _period(label, config)
    async with open_store(config) as store:
        result = await gather(
            store, period, config.report.cutoff_day, config.report.fields, config.agency.name
        )
    sys.stdout.write(render(result, fmt))
    return 0


async def demo(config: Config, args: argparse.Namespace) -> int:
    period = _period(args.period, config)
    data = mock_dataset.generate(args.dossiers, args.seed)
    portals = await start_mock_portals(data, config.city_statuses())
    city = CitySettings(portals.city_url, CITY_API_KEY, config.portals.city.page_size)
    national = NationalSettings(
        portals.national_url, NATIONAL_USERNAME, NATIONAL_PASSWORD, mock_dataset.AGENCY_CODE
    )
    connectors = connectors_for(city, national, config)
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="syncd-demo-")
    demo_config = _with_data_dir(config, data_dir)
    out = sys.stdout
    try:
        async with open_store(demo_config, prefix="syncd-demo") as store:
            await store.delete_all()
            syncer = Syncer(store, connectors, config.runtime.reconcile_batch)
            cycle = await syncer.cycle()
            if cycle.failed_portals:
                for poll in cycle.polls:
                    if poll.error:
                        print(f"{poll.source.value}: {poll.error}", file=sys.stderr)
                return 1
            kinds = Counter(m["kind"] for m in await store.mismatches())
            result = await gather(
                store, period, config.report.cutoff_day, config.report.fields, config.agency.name
            )
            if args.format == "text":
                out.write(t("demo.title") + "\n")
                out.write(t("redis.embedded", path=data_dir) + "\n")
                out.write(
                    t(
                        "demo.synced",
                        city=await store.count(Source.CITY),
                        national=await store.count(Source.NATIONAL),
                    )
                    + "\n"
                )
                summary = ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items()))
                out.write(t("demo.mismatches", summary=summary or t("demo.none")) + "\n\n")
            out.write(render(result, args.format))
    finally:
        for connector in connectors:
            await connector.close()
        await portals.stop()
    return 0


def _with_data_dir(config: Config, data_dir: str) -> Config:
    return replace(config, redis=replace(config.redis, url="", data_dir=str(Path(data_dir))))
