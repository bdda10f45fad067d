"""The soak (bench/soak.py) in small: two replicas through a fault storm with the mock clock
running, kill -9 of replicas and of Redis (append-only file on), then quiet: the store must be
exactly a clean single run's, records, mismatches and report cells; with write-back on, every
push made once in effect and none backwards.

The two soaks run side by side (each has its own Redis, mocks and replicas): their storms are
fixed lengths of wall-clock time, mostly spent waiting."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bench.soak import SoakParams, soak

STORM = SoakParams(
    dossiers=400,
    storm_seconds=40,
    full_reread_seconds=15,
    quiet_timeout=240,
    log=False,
)


async def test_small_soaks_end_exactly_where_a_clean_run_does_with_write_back_off_and_on() -> None:
    plain, pushing = await asyncio.gather(
        soak(replace(STORM, seed=11, kills=4, redis_restarts=1)),
        soak(replace(STORM, seed=12, kills=3, redis_restarts=1, writeback=True)),
    )
    assert (plain.kills, plain.redis_restarts) == (4, 1)
    assert plain.records["city"] > 350
    assert plain.clean, "\n".join(plain.lines())

    assert (pushing.kills, pushing.redis_restarts) == (3, 1)
    assert pushing.pushes["made"] > 0
    assert pushing.pushes["duplicated"] == 0
    assert pushing.pushes["regressed"] == 0
    assert pushing.clean, "\n".join(pushing.lines())
