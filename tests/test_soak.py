"""The soak (bench/soak.py) in small: two replicas through a fault storm with the mock clock
running, kill -9 of replicas and of Redis (append-only file on), then quiet: the store must be
exactly a clean single run's, records, mismatches and report cells."""

from __future__ import annotations

from bench.soak import SoakParams, soak


async def test_a_small_soak_ends_exactly_where_a_clean_run_does() -> None:
    params = SoakParams(
        dossiers=400,
        seed=11,
        kills=4,
        redis_restarts=1,
        storm_seconds=40,
        full_reread_seconds=15,
        quiet_timeout=240,
        log=False,
    )
    report = await soak(params)
    assert (report.kills, report.redis_restarts) == (4, 1)
    assert report.records["city"] > 350
    assert report.clean, "\n".join(report.lines())


async def test_a_small_soak_with_write_back_on_pushes_once_and_never_backwards() -> None:
    params = SoakParams(
        dossiers=400,
        seed=12,
        kills=3,
        redis_restarts=1,
        storm_seconds=40,
        full_reread_seconds=15,
        quiet_timeout=240,
        writeback=True,
        log=False,
    )
    report = await soak(params)
    assert report.pushes["made"] > 0
    assert report.pushes["duplicated"] == 0
    assert report.pushes["regressed"] == 0
    assert report.clean, "\n".join(report.lines())
