"""One sync cycle against both mock portals over loopback, into the real Redis."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from connectors.base import Connector
from connectors.dataset import Dataset
from connectors.mockserver import MockPortals
from connectors.scenario import Scenario
from reconcile.compare import MismatchKind
from reconcile.counts import counts
from reconcile.model import Dossier, Source
from reconcile.period import Period
from syncd import logs
from syncd.config import Config
from syncd.reports import gather, render_json, to_json
from syncd.service import Syncer
from syncd.store import Store
from tests.conftest import make_connectors, truth_decisions
from tests.test_store import snapshot


def as_truth(d: Dossier) -> Dossier:
    """The dataset states lifecycles in national codes; the city's own word is extra."""
    return replace(d, native_status="")


async def test_one_cycle_stores_both_sides_and_finds_the_known_disagreements(
    store: Store,
    connectors: list[Connector],
    dataset: Dataset,
    scenario: Scenario,
    config: Config,
) -> None:
    """Records arrive page by page, matched through the store's indexes: the end state must be
    exactly the engine's decisions on the scenario's own grouping of records into dossiers."""
    result = await Syncer(store, connectors, batch=50).cycle()

    assert result.failed_portals == []
    assert await store.count(Source.CITY) == len(dataset.city)
    assert await store.count(Source.NATIONAL) == len(dataset.national)
    stored_city = {d.code: d async for d in store.iter_records("rec:city")}
    assert {c: as_truth(d) for c, d in stored_city.items()} == {d.code: d for d in dataset.city}
    statuses = config.city_statuses()
    assert all(statuses.to_national(d.native_status) == d.status for d in stored_city.values())

    truth = truth_decisions(scenario, dataset)
    found = {(m["code"], MismatchKind(m["kind"])) for m in await store.mismatches()}
    expected = {(key, m.kind) for key, d in truth.items() for m in d.mismatches}
    assert found == expected
    kinds = {k for _, k in expected}
    assert kinds >= {
        MismatchKind.MISSING_NATIONAL,
        MismatchKind.MISSING_CITY,
        MismatchKind.STATUS,
        MismatchKind.COLLAPSED_STATUS,
        MismatchKind.MIGRATED,
        MismatchKind.DUPLICATE,
    }

    corrected = {d.code: as_truth(d) async for d in store.iter_records("corrected")}
    assert corrected == {key: as_truth(d.corrected) for key, d in truth.items()}
    assert await store.excluded() == {k: d.excluded for k, d in truth.items() if d.excluded}
    matched = {
        key: (m.city_code, m.national_code, m.method.value)
        for key, d in truth.items()
        for m in d.matches
    }
    stored_matches = {
        k: (v["city"], v["national"], v["method"]) for k, v in (await store.matches()).items()
    }
    assert stored_matches == matched
    assert {method for *_, method in matched.values()} >= {"code", "alt_code"}
    pushes = await store.outbox.entries()
    assert {e["key"] for e in pushes} == {k for k, d in truth.items() if d.push is not None}
    assert {e["state"] for e in pushes} == {"dry_run"}  # write-back is off
    assert await store.queue_depth() == 0


async def test_the_report_counts_the_reconciled_truth(
    store: Store,
    connectors: list[Connector],
    dataset: Dataset,
    scenario: Scenario,
    config: Config,
) -> None:
    await Syncer(store, connectors).cycle()
    period = Period.parse("2024-07", 20)
    now = datetime(2024, 7, 25, tzinfo=UTC)
    gathered = await gather(store, period, config.report_settings(), now)
    report = gathered.report

    truth = truth_decisions(scenario, dataset)
    counted = [d.corrected for d in truth.values() if d.excluded is None]
    assert report.corrected == counts(counted, period, list(config.report.fields))
    assert report.forms["national"] == counts(dataset.national, period, list(config.report.fields))
    assert report.forms["city"] == counts(dataset.city, period, list(config.report.fields))
    assert report.corrected.total[3] > 0
    assert report.corrected != report.forms["national"]
    # The period index handed the report fewer dossiers than the store holds.
    assert report.entries < await store.redis.hlen(store.key("corrected"))
    as_json = json.loads(render_json(to_json(gathered)))
    assert as_json["period"] == {
        "label": "2024-07",
        "start": "2024-06-20",
        "end": "2024-07-19",
        "cutoff_day": 20,
    }
    assert as_json["corrected"]["total"]["cells"]["3"] == report.corrected.total[3]
    # Every difference between a raw and the corrected figure is explained, cell by cell.
    for source in ("city", "national"):
        raw = as_json["raw"][source]["total"]["cells"]
        fixed = as_json["corrected"]["total"]["cells"]
        for column in raw:
            moved = sum(
                (int(column) in d["corrected_cells"]) - (int(column) in d["raw_cells"])
                for d in as_json["differences"]
                if d["source"] == source
            )
            assert raw[column] + moved == fixed[column], (source, column)
        assert all(d["reasons"] for d in as_json["differences"])


async def test_a_second_cycle_over_unchanged_portals_changes_nothing(
    store: Store, connectors: list[Connector]
) -> None:
    syncer = Syncer(store, connectors)
    await syncer.cycle()
    before = await snapshot(store)
    second = await syncer.cycle()
    assert [p.written for p in second.polls] == [0, 0]
    assert second.reconciled == 0
    after = await snapshot(store)
    status_key = store.key("status").encode()
    before.pop(status_key), after.pop(status_key)  # last-success times move on, nothing else
    assert after == before


async def test_a_restart_resumes_after_the_last_page_written(
    store: Store, portals: MockPortals, config: Config, dataset: Dataset
) -> None:
    """Stop after the first page: the next run reads the rest and nothing twice."""
    first = make_connectors(portals, config, page_size=25)
    syncer = Syncer(store, first)
    syncer.stopping.set()  # finish the page in hand, then stop
    polls = [await syncer.poll(c) for c in first]
    assert [p.pages for p in polls] == [1, 1]
    assert await store.count(Source.CITY) == 25
    for c in first:
        await c.close()

    second = make_connectors(portals, config, page_size=25)
    resumed = [await Syncer(store, second).poll(c) for c in second]
    assert resumed[0].written == len(dataset.city) - 25
    assert resumed[1].written == len(dataset.national) - 25
    assert await store.count(Source.CITY) == len(dataset.city)
    for c in second:
        await c.close()


async def test_no_personal_data_reaches_the_logs(
    store: Store, connectors: list[Connector], dataset: Dataset
) -> None:
    stream = io.StringIO()
    logs.configure("json", "debug", stream)
    try:
        await Syncer(store, connectors).cycle()
    finally:
        logs.configure("json", "info")
    output = stream.getvalue()
    for applicant in dataset.applicants.values():
        for value in (applicant.name, applicant.id_number, applicant.phone):
            assert value not in output


@pytest.mark.parametrize("page_size", [1, 500])
async def test_extreme_page_sizes_read_everything(
    store: Store, portals: MockPortals, config: Config, dataset: Dataset, page_size: int
) -> None:
    made = make_connectors(portals, config, page_size=page_size)
    try:
        polls = [await Syncer(store, made).poll(c) for c in made]
    finally:
        for c in made:
            await c.close()
    assert [p.written for p in polls] == [len(dataset.city), len(dataset.national)]
