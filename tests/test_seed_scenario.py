"""The seed scenario (scenarios/heza-2024-07.json, built by scenarios/build_heza.py): HEZA's July
2024 as report 321/BC-BQL tells it (DOMAIN.md §8), and the reality behind its figures."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from types import ModuleType

import pytest

from connectors.dataset import AGENCY_CODE, PROCEDURES_PER_FIELD, Dataset
from connectors.dataset import procedures as procedure_fields
from connectors.mockserver import start_mock_portals
from connectors.scenario import (
    STOP_ENDS,
    STOP_STARTS,
    Duplicate,
    EventKind,
    Scenario,
    ScenarioDossier,
    dump,
    load,
)
from reconcile.calendar import WorkingCalendar
from reconcile.counts import COLUMNS, cells_of, counts
from reconcile.deadlines import computed_due
from reconcile.engine import Decision, Policy, code_date, decide
from reconcile.model import VN_TZ, Dossier, Pause, Source, Status, local_date
from reconcile.period import Period
from syncd.config import Config
from syncd.reports import gather, to_json
from syncd.service import Syncer
from syncd.store import Store
from syncd.summary import paragraph
from tests.conftest import make_connectors

ROOT = Path(__file__).resolve().parent.parent
FILE = ROOT / "scenarios" / "heza-2024-07.json"
PERIOD = Period.parse("2024-07")
NOW = datetime(2024, 7, 20, 8, 0, tzinfo=VN_TZ)


def _config_fields() -> dict[str, str]:
    with open(ROOT / "config" / "syncd.toml", "rb") as handle:
        fields: dict[str, str] = tomllib.load(handle)["report"]["fields"]
    return fields


FIELDS = _config_fields()


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_heza", ROOT / "scenarios" / "build_heza.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def seed() -> Scenario:
    return load(FILE)


@pytest.fixture(scope="module")
def view(seed: Scenario) -> Dataset:
    return seed.views()


def totals(records: tuple[Dossier, ...] | list[Dossier]) -> dict[str, int]:
    total = counts(records, PERIOD, list(FIELDS)).total
    return {str(column): total[column] for column in COLUMNS}


def receipt(d: ScenarioDossier) -> datetime:
    """The true receipt: the `received` event, else the first (a dossier only registered)."""
    return next((e.at for e in d.events if e.event is EventKind.RECEIVED), d.events[0].at)


# --------------------------------------------------------------------------------------------
# The file and its builder


def test_the_file_loads_and_the_builder_writes_it_byte_for_byte(
    builder: ModuleType, seed: Scenario
) -> None:
    built = builder.build()
    assert built == seed
    assert dump(built) == FILE.read_text(encoding="utf-8")
    assert seed.now == NOW
    assert seed.agency == "000.00.45.H26"


def test_the_builder_runs_as_a_script(builder: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "heza.json"
    assert builder.main([str(out)]) == 0
    assert out.read_bytes() == FILE.read_bytes()


def test_fields_and_procedures_are_the_seed_reports(seed: Scenario) -> None:
    assert dict(seed.fields) == FIELDS
    assert list(seed.fields) == list(FIELDS)
    assert len(seed.procedures) == 54
    assert Counter(p.field_code for p in seed.procedures) == Counter(PROCEDURES_PER_FIELD)
    assert PROCEDURES_PER_FIELD == {
        "DT": 23,
        "LD": 1,
        "MT": 9,
        "DD": 5,
        "TM": 5,
        "XNK": 2,
        "XD": 5,
        "QH": 4,
    }
    assert {p.code: p.field_code for p in seed.procedures} == procedure_fields()
    assert all(3 <= p.days <= 30 for p in seed.procedures)
    calendar_days = sum(not p.working_days for p in seed.procedures)
    assert 1 <= calendar_days <= 5
    assert len({p.name for p in seed.procedures}) == 54


# --------------------------------------------------------------------------------------------
# The city system's raw figures are the report's


def test_the_city_raw_figures_are_exactly_the_reports(view: Dataset) -> None:
    total = counts(view.city, PERIOD, list(FIELDS)).total
    assert total[7] == 77  # resolved on the city one-stop system
    assert total[10] == 8  # of which late
    assert total[4] == 53  # received online
    assert total[5] == 0  # online share 100%
    in_scope = [d for d in view.city if 3 in cells_of(d, PERIOD)]
    assert len(in_scope) == total[3]
    assert all(d.digitised for d in in_scope)  # 100% digitised


def test_the_truth_states_what_the_views_give(seed: Scenario, view: Dataset) -> None:
    truth = seed.truth
    assert truth["period"] == "2024-07"
    city = totals(view.city)
    assert truth["raw_city"] == {
        "received_online": city["4"],
        "received_other": city["5"],
        "resolved": city["7"],
        "resolved_late": city["10"],
        "digitised_share": 1.0,
    }
    assert truth["raw_city"] == {
        "received_online": 53,
        "received_other": 0,
        "resolved": 77,
        "resolved_late": 8,
        "digitised_share": 1.0,
    }
    assert truth["raw_city_columns"] == city
    assert truth["raw_national"] == totals(view.national)
    assert set(truth["description"]) == {"vi", "en"}


def test_the_reconciled_figures_add_up_and_differ_from_the_raw_ones(seed: Scenario) -> None:
    r = {int(column): n for column, n in seed.truth["reconciled"].items()}
    assert sorted(r) == list(COLUMNS)
    assert r[3] == r[7] + r[11]
    assert r[3] == r[4] + r[5] + r[6]
    assert r[7] == r[8] + r[9] + r[10]
    assert r[11] == r[12] + r[13]
    raw = seed.truth["raw_city"]
    assert (r[4], r[5], r[7], r[10]) != (
        raw["received_online"],
        raw["received_other"],
        raw["resolved"],
        raw["resolved_late"],
    )
    assert r[7] < raw["resolved"]
    assert r[10] < raw["resolved_late"]
    assert r[4] < raw["received_online"]
    assert seed.truth["reconciled"] != seed.truth["raw_city_columns"]


def _engine_decisions(seed: Scenario) -> list[Decision]:
    """The engine's decisions, the records grouped by the scenario's own dossiers."""
    view = seed.views(salt="seed-test")  # identities, so the city duplicate is fingerprinted
    city = {d.code: d for d in view.city}
    national = {d.code: d for d in view.national}
    out: dict[str, Decision] = {}
    pending = [sorted({d.code, *d.extra_codes()}) for d in seed.dossiers]
    while pending:
        codes = pending.pop()
        cs = [city[c] for c in codes if c in city]
        ns = [national[c] for c in codes if c in national]
        if cs or ns:
            decision = decide(cs, ns, Policy())
            out[decision.key] = decision
            pending.extend([code] for code in decision.unrelated)
    return list(out.values())


def test_reconciliation_gives_the_truths_figures(seed: Scenario) -> None:
    decisions = _engine_decisions(seed)
    counted = [d.corrected for d in decisions if d.excluded is None]
    assert totals(counted) == seed.truth["reconciled"]
    migrated = {d.key for d in decisions if d.excluded == "migrated"}
    assert migrated == {d.code for d in seed.dossiers if d.migrated is not None}


# --------------------------------------------------------------------------------------------
# Dossiers


def test_codes_carry_the_true_receipt_date(seed: Scenario, view: Dataset) -> None:
    city = {d.code: d for d in view.city}
    migrated = [d for d in seed.dossiers if d.migrated is not None]
    assert 10 <= len(migrated) <= 12
    for d in seed.dossiers:
        assert re.fullmatch(r"000\.00\.45(\.H26)?-\d{6}-\d{4}", d.code), d.code
        assert code_date(d.code) == local_date(receipt(d)), d.code
        if d.migrated is not None:
            # The city shows it received at the cut-over; its code is older: rule (a).
            shown = local_date(city[d.code].received_at)
            embedded = code_date(d.code)
            assert embedded is not None
            assert embedded < shown, d.code


def test_numbers_run_per_day_without_gaps(seed: Scenario) -> None:
    """The city's codes (a rewritten code keeps its number on the national portal)."""
    duplicates = [x.code for d in seed.dossiers for x in d.city if isinstance(x, Duplicate)]
    codes = [d.code for d in seed.dossiers] + duplicates
    per_day: dict[str, list[int]] = {}
    for code in codes:
        day, number = code.rsplit("-", 2)[-2:]
        per_day.setdefault(day, []).append(int(number))
    for day, numbers in per_day.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), day


def test_due_dates_on_record_are_the_laws(seed: Scenario) -> None:
    """At receipt, and at the end of a stop of the clock (a supplement restarts the time, a fee
    request moves it by its working days); only an apology letter moves a due date otherwise.
    Migrated dossiers may have lost theirs in the conversion."""
    calendar = WorkingCalendar()
    procedures = {p.code: p for p in seed.procedures}
    ended = Counter[EventKind]()
    for d in seed.dossiers:
        received = [e.at for e in d.events if e.event is EventKind.RECEIVED]
        if not received or (d.migrated is not None and d.due is None):
            continue
        probe = Dossier(
            Source.CITY, d.code, d.procedure, "", d.channel, Status.PROCESSING, received[0], NOW
        )
        procedure = procedures[d.procedure]
        assert d.due == computed_due(probe, procedure, calendar), d.code
        pauses: list[Pause] = []
        for e in d.events:
            if e.event in STOP_STARTS:
                pauses.append(Pause(e.at, None, STOP_STARTS[e.event]))
            elif e.event in STOP_ENDS:
                pauses[-1] = replace(pauses[-1], resumed_at=e.at)
                resumed = replace(probe, pauses=tuple(pauses))
                assert e.due == computed_due(resumed, procedure, calendar), d.code
                ended[e.event] += 1
            elif e.due is not None:
                assert e.apology, (d.code, e)
    assert ended[EventKind.SUPPLEMENT_COMPLETED] >= 3
    assert ended[EventKind.FEES_PAID] == 1


def test_the_lifecycles_the_scenario_promises(seed: Scenario, view: Dataset) -> None:
    events = Counter(e.event for d in seed.dossiers for e in d.events)
    for kind in (
        EventKind.SUPPLEMENT_REQUESTED,
        EventKind.SUPPLEMENT_COMPLETED,
        EventKind.WITHDRAWN,
        EventKind.REFUSED,
        EventKind.FEES_REQUESTED,
    ):
        assert events[kind] >= 1, kind
    assert sum(e.apology for d in seed.dossiers for e in d.events) >= 2
    apologies = [d for d in view.city if d.apology_at is not None]
    assert apologies
    assert all(d.apology_at is None for d in view.national)
    assert any(e.at > seed.now for d in seed.dossiers for e in d.events)  # the mock clock
    # Paper dossiers only among those received before the period.
    for d in seed.dossiers:
        if d.channel != 2:
            assert local_date(receipt(d)) < PERIOD.start, d.code
    places = Counter(c for d in view.city for c in cells_of(d, PERIOD))
    assert places[6] >= 25  # carried over
    assert places[13] >= 1  # still open and overdue on 19/7


def test_every_distortion_the_brief_lists_is_there(seed: Scenario) -> None:
    kinds = {f"national.{x.kind}" for d in seed.dossiers for x in d.national}
    kinds |= {f"city.{x.kind}" for d in seed.dossiers for x in d.city}
    assert {
        "city.duplicate",
        "city.missing",
        "national.missing",
        "national.lag",
        "national.collapsed",
        "national.rewritten_code",
        "national.placeholder",
        "national.shifted",
    } <= kinds
    causes = seed.truth["causes"]
    assert len(causes["migrated"]) == sum(d.migrated is not None for d in seed.dossiers)
    codes = {d.code for d in seed.dossiers}
    for entries in causes.values():
        for entry in entries:
            assert entry["code"] in codes
            assert entry["effect"]


def test_applicants_are_fake_realistic_and_distinct(seed: Scenario, view: Dataset) -> None:
    people = [d.applicant for d in seed.dossiers]
    for person in people:
        assert re.fullmatch(r"031[0-3]\d{8}", person.id_number), person
        assert re.fullmatch(r"09\d{8}", person.phone), person
        assert len(person.name.split()) == 3, person
    for value in ("id_number", "phone", "name"):
        assert len({getattr(p, value) for p in people}) == len(people), value
    # Only the city duplicate, a copy of its record, shares an applicant.
    served = Counter(view.applicant(Source.CITY, d.code) for d in view.city)
    assert [n for n in served.values() if n > 1] == [2]


def test_the_docs_table_is_the_truths(seed: Scenario) -> None:
    docs = (ROOT / "docs" / "scenario.md").read_text(encoding="utf-8")
    rows = {
        "city, raw": seed.truth["raw_city_columns"],
        "national, raw": seed.truth["raw_national"],
        "reconciled": seed.truth["reconciled"],
    }
    for name, figures in rows.items():
        cells = " | ".join(str(figures[str(column)]) for column in COLUMNS)
        assert f"\n| {name} | {cells} |\n" in docs, name


async def test_the_pipeline_reproduces_the_seed_and_explains_every_correction(
    seed: Scenario, store: Store, config: Config
) -> None:
    """Mocks serving the seed scenario, a real cycle into Redis (catalogue, calendar, the
    configured policy), then the report: raw city figures are the seed's, the reconciled ones
    are the truth's, and every difference has its reason."""
    portals = await start_mock_portals(seed, config.city_statuses())
    assert seed.agency == AGENCY_CODE
    connectors = make_connectors(portals, config)
    try:
        national = connectors[1]
        syncer = Syncer(
            store, connectors, clock=lambda: seed.now, policy=config.policy(), catalogue=national
        )
        await syncer.cycle()
        gathered = await gather(store, PERIOD, config.report_settings(), seed.now)
    finally:
        for c in connectors:
            await c.close()
        await portals.stop()
    doc = to_json(gathered)
    truth = seed.truth
    assert doc["raw"]["city"]["total"]["cells"] == truth["raw_city_columns"]
    assert doc["raw"]["national"]["total"]["cells"] == truth["raw_national"]
    assert doc["corrected"]["total"]["cells"] == truth["reconciled"]
    assert doc["indicators"]["city"]["digitisation_rate"] == 1.0
    assert sorted(gathered.report.behind("corrected", None, 10)) == truth["reconciled_late"]
    assert sorted(gathered.report.behind("corrected", None, 13)) == truth["reconciled_overdue"]
    city_diffs = [d for d in doc["differences"] if d["source"] == "city"]
    migrated = sorted(c["code"] for c in truth["causes"]["migrated"])
    assert (
        sorted(d["key"] for d in city_diffs if any(r["kind"] == "migrated" for r in d["reasons"]))
        == migrated
    )
    assert all(d["reasons"] for d in doc["differences"])
    for column, raw in truth["raw_city_columns"].items():
        moved = sum(
            (int(column) in d["corrected_cells"]) - (int(column) in d["raw_cells"])
            for d in city_diffs
        )
        assert raw + moved == truth["reconciled"][column], column
    # The seed's own sentences, with the city's raw figures.
    first = paragraph(doc, "vi", "city").splitlines()[0]
    assert first == (
        "Tính từ ngày 20/6/2024 đến ngày 19/7/2024 Ban Quản lý đã giải quyết được: 77 TTHC trên "
        "hệ thống Một cửa thành phố; trong đó, 08 TTHC quá hạn."
    )
