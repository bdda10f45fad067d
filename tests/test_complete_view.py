"""Absence is judged on a complete view only (ARCHITECTURE.md, invariant 10).

A dossier is `missing_<portal>` only once that portal has completed a read that would have
delivered it. While a portal's reads fail (429 storms, an open circuit breaker, a portal not up
yet, a poll failing part-way), the other side's dossiers wait: not one false `missing_*` entry is
ever written, to the queue or to the audit; when the reads complete, exactly the true ones are.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from connectors.dataset import Dataset
from connectors.fault_settings import FaultSettings
from connectors.faults import FAULTS
from connectors.http import HttpSettings
from connectors.mockserver import MockPortals
from connectors.scenario import Scenario
from reconcile.compare import MismatchKind
from reconcile.model import Source
from syncd.config import Config
from syncd.service import Syncer
from syncd.store import Store
from tests.conftest import FAST_HTTP, make_connectors, truth_decisions

MISSING = {MismatchKind.MISSING_CITY.value, MismatchKind.MISSING_NATIONAL.value}


def true_missing(scenario: Scenario, dataset: Dataset) -> set[str]:
    return {
        f"{key}|{m.kind.value}"
        for key, d in truth_decisions(scenario, dataset).items()
        for m in d.mismatches
        if m.kind.value in MISSING
    }


async def missing_ever_detected(store: Store) -> set[str]:
    """The mismatch ids of every `missing_*` detection in the audit, and in the queue now."""
    entries: Any = await store.redis.xrange(store.key("audit"))
    ids = {fields[b"id"].decode() for _, fields in entries}
    ids |= {r["id"] for r in await store.mismatches(include_gone=True)}
    return {i for i in ids if i.rpartition("|")[2] in MISSING}


async def cycle_until_quiet(syncer: Syncer, rounds: int = 8) -> None:
    for _ in range(rounds):
        result = await syncer.cycle()
        if not result.failed_portals and result.reconciled == 0:
            return
        await asyncio.sleep(0.25)  # an open breaker's cool-down
    raise AssertionError("the sync did not settle")


async def test_a_portal_that_never_answers_leaves_the_other_sides_dossiers_waiting(
    store: Store, portals: MockPortals, config: Config, scenario: Scenario, dataset: Dataset
) -> None:
    """429 on every request, then the breaker open: the national view never completes, so no
    city dossier is judged missing there; once the portal answers, the true ones are."""
    faults = portals.national_app[FAULTS]
    faults.settings = FaultSettings(throttle_rate=1.0, retry_after_seconds=0)
    breaking = replace(FAST_HTTP, breaker_failures=2, breaker_cooldown_seconds=0.2)
    connectors = make_connectors(portals, config, http=breaking)
    syncer = Syncer(store, connectors)
    try:
        for _ in range(3):
            result = await syncer.cycle()
            assert result.failed_portals == [Source.NATIONAL]
        assert await missing_ever_detected(store) == set()
        waiting = await store.waiting()
        assert waiting[Source.NATIONAL] > 0
        assert waiting[Source.CITY] == 0
        assert (await store.status())["national:complete"] == "0"

        faults.settings = FaultSettings()
        await cycle_until_quiet(syncer)
        assert await missing_ever_detected(store) == true_missing(scenario, dataset)
        assert await store.waiting() == {Source.CITY: 0, Source.NATIONAL: 0}
    finally:
        for c in connectors:
            await c.close()


async def test_polls_failing_part_way_write_no_false_missing_entry(
    store: Store, portals: MockPortals, config: Config, scenario: Scenario, dataset: Dataset
) -> None:
    """Both portals fail part-way through their polls, cycle after cycle (5xx and 429 with one
    attempt per request): whatever was read, nothing is judged missing that is not."""
    storm = FaultSettings(seed=3, error_rate=0.15, throttle_rate=0.1, retry_after_seconds=0)
    for app in (portals.city_app, portals.national_app):
        app[FAULTS].settings = storm
    one_try = HttpSettings(**{**vars_of(FAST_HTTP), "attempts": 1, "breaker_failures": 1000})
    connectors = make_connectors(portals, config, page_size=11, http=one_try)
    syncer = Syncer(store, connectors, batch=13)
    try:
        partial = 0
        for _ in range(12):
            result = await syncer.cycle()
            partial += len(result.failed_portals)
            assert await missing_ever_detected(store) <= true_missing(scenario, dataset)
        assert partial > 0, "the storm must cut some polls short"

        for app in (portals.city_app, portals.national_app):
            app[FAULTS].settings = FaultSettings()
        await cycle_until_quiet(syncer)
        assert await missing_ever_detected(store) == true_missing(scenario, dataset)
    finally:
        for c in connectors:
            await c.close()


def vars_of(settings: HttpSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}
