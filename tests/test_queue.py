"""The mismatch queue against the machine's real Redis: what `Store.apply` keeps, and what
operators do with it (syncd.queue)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from reconcile.compare import Decision, Match, MatchMethod, Mismatch, MismatchKind, Severity
from reconcile.model import Dossier, Source
from reconcile.writeback import Plan
from syncd.queue import MismatchQueue, QueueError, fields_of, parse_value, public_id, stored_id
from syncd.store import Store, Unit, WorkItem
from tests.test_store import T0, dossier, snapshot

NOTHING = WorkItem((), ())
STATUS = MismatchKind.STATUS
MISSING = MismatchKind.MISSING_NATIONAL
UNKNOWN = MismatchKind.UNKNOWN_PROCEDURE


def mismatch(
    key: str,
    kind: MismatchKind = STATUS,
    city: str | None = "9",
    national: str | None = "4",
    auto: bool = False,
) -> Mismatch:
    return Mismatch(key, kind, Severity.MEDIUM, city, national, "", auto_resolvable=auto)


def decision(
    key: str,
    *mismatches: Mismatch,
    corrected: Dossier | None = None,
    excluded: str | None = None,
    national_code: str | None = None,
) -> Decision:
    """A decision as reconcile makes it; `national_code`: matched with that national record."""
    matches = (Match(key, national_code, MatchMethod.ALT_CODE),) if national_code else ()
    return Decision(
        key=key,
        matches=matches,
        corrected=corrected or dossier(key),
        mismatches=mismatches,
        excluded=excluded,
    )


class Clock:
    def __init__(self) -> None:
        self.now = T0 + timedelta(days=1)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def queue(store: Store) -> MismatchQueue:
    return MismatchQueue(store, clock=Clock())


async def apply(store: Store, *decisions: Decision, at: datetime = T0) -> None:
    await store.apply(decisions, NOTHING, at)


async def audit_actions(queue: MismatchQueue) -> list[tuple[str, str, str]]:
    return [(e["who"], e["action"], stored_id(e["id"])) for e in await queue.audit(1000)]


async def open_ids(store: Store) -> set[str]:
    members = await store.redis.smembers(store.key("mismatch", "open"))
    return {m.decode() if isinstance(m, bytes) else m for m in members}


# --- what apply keeps ---------------------------------------------------------------------


async def test_repeated_detection_never_duplicates_and_only_moves_last_seen_at(
    store: Store, queue: MismatchQueue
) -> None:
    for hours in range(3):
        await apply(store, decision("A", mismatch("A")), at=T0 + timedelta(hours=hours))
    [record] = await store.mismatches()
    assert record["id"] == "A|status"
    assert (record["code"], record["key"], record["kind"]) == ("A", "A", "status")
    assert (record["city"], record["national"]) == ("9", "4")
    assert record["state"] == "open"
    assert record["detected_at"] == T0.isoformat()
    assert record["last_seen_at"] == (T0 + timedelta(hours=2)).isoformat()
    assert [h["event"] for h in record["history"]] == ["detected"]
    assert await open_ids(store) == {"A|status"}
    assert await audit_actions(queue) == [("syncd", "detect", "A|status")]


async def test_applying_twice_is_byte_identical_and_later_only_last_seen_at_moves(
    store: Store,
) -> None:
    batch = [
        decision("A", mismatch("A"), mismatch("A", UNKNOWN, "X", "X")),
        decision("B", mismatch("B", MISSING, "9", None, auto=True)),
        decision("C"),
    ]
    await apply(store, *batch)
    await apply(store, decision("A", mismatch("A")), decision("B"))  # closes two
    await apply(store, *batch)  # and they come back
    before = await snapshot(store)
    await apply(store, *batch)
    assert await snapshot(store) == before

    later = T0 + timedelta(hours=5)
    await apply(store, *batch, at=later)
    after = await snapshot(store)
    mismatch_key = store.key("mismatch").encode()
    old, new = before.pop(mismatch_key), after.pop(mismatch_key)
    assert after == before
    assert isinstance(old, dict)
    assert isinstance(new, dict)
    assert old.keys() == new.keys()
    for field, blob in new.items():
        record = json.loads(blob)
        assert record.pop("last_seen_at") == later.isoformat()
        previous = json.loads(old[field])
        previous.pop("last_seen_at")
        assert record == previous


async def test_a_mismatch_write_back_will_fix_is_being_pushed_until_it_is_no_longer_seen(
    store: Store, queue: MismatchQueue
) -> None:
    """Without write-back (a dry run) operators see it open; with it, it is being pushed, stays
    active, and resolves only when a later reconciliation no longer finds it."""
    await apply(store, decision("A", mismatch("A", auto=True)))
    assert (await queue.get("A|status"))["state"] == "open"

    a = dossier("A")
    plan = Plan("A", "A", ("A",), "update", {"status": ("4", "9")}, ("status behind",), 1, a)
    unit = Unit(("A",), (decision("A", mismatch("A", auto=True)),), plans={"A": plan})
    await store.apply_units([unit], NOTHING, T0 + timedelta(minutes=1), writeback="push")
    record = await queue.get("A|status")
    assert record["state"] == "pushing"
    assert "A|status" in await open_ids(store)
    [entry] = await store.outbox.entries()
    assert (entry["key"], entry["state"], entry["changes"]) == (
        "A",
        "pending",
        {"status": ["4", "9"]},
    )
    # Seen again with the same plan: nothing moves.
    await store.apply_units([unit], NOTHING, T0 + timedelta(minutes=2), writeback="push")
    assert [e["action"] for e in await queue.audit(10)] == ["detect", "push_planned"]

    # The portal agrees: no longer detected, resolved; the plan is withdrawn.
    await store.apply_units(
        [Unit(("A",), (decision("A"),))], NOTHING, T0 + timedelta(minutes=3), writeback="push"
    )
    record = await queue.get("A|status")
    assert record["state"] == "auto_resolved"
    assert record["resolution"]["reason"] == "auto: no longer detected"
    assert await store.outbox.entries() == []
    assert [e["outcome"] for e in await store.outbox.log()] == ["withdrawn"]


async def test_a_mismatch_that_disappears_is_auto_resolved_and_a_resolved_one_stays(
    store: Store, queue: MismatchQueue
) -> None:
    await apply(store, decision("A", mismatch("A"), mismatch("A", UNKNOWN, "X", "X")))
    await queue.claim("A|status", "lan")
    await queue.resolve("A|unknown_procedure", "lan", "ignore", "catalogue lags")
    await apply(store, decision("A"), at=T0 + timedelta(hours=1))

    gone = await queue.get("A|status")
    assert gone["state"] == "auto_resolved"
    assert gone["present"] is False
    assert gone["claimed_by"] is None
    assert gone["resolution"]["reason"] == "auto: no longer detected"
    assert [h["event"] for h in gone["history"]] == [
        "detected",
        "claimed",
        "no longer detected",
        "auto_resolved",
    ]
    kept = await queue.get("A|unknown_procedure")
    assert kept["state"] == "resolved"
    assert kept["resolution"]["reason"] == "catalogue lags"
    assert kept["present"] is False
    assert await store.mismatches() == []
    assert len(await store.mismatches(include_gone=True)) == 2
    assert await open_ids(store) == set()
    assert await store.redis.hget(store.key("mismatch", "kinds"), "A") is None
    assert (await queue.audit(10))[-1]["action"] == "auto_resolve"

    # Detected again: the one syncd closed reopens, the operator's resolution holds.
    later = T0 + timedelta(hours=2)
    await apply(store, decision("A", mismatch("A"), mismatch("A", UNKNOWN, "X", "X")), at=later)
    back = await queue.get("A|status")
    assert (back["state"], back["present"]) == ("open", True)
    assert back["history"][-1]["event"] == "reopened: detected again"
    assert (await queue.get("A|unknown_procedure"))["state"] == "resolved"


async def test_a_resolved_mismatch_stays_resolved_until_its_values_change(
    store: Store, queue: MismatchQueue
) -> None:
    await apply(store, decision("A", mismatch("A")))
    await queue.resolve("A|status", "lan", "ignore", "known delay at the portal")
    await apply(store, decision("A", mismatch("A")), at=T0 + timedelta(hours=1))
    assert (await queue.get("A|status"))["state"] == "resolved"

    await apply(store, decision("A", mismatch("A", national="6")), at=T0 + timedelta(hours=2))
    record = await queue.get("A|status")
    assert record["state"] == "open"
    assert record["resolution"] is None
    assert (record["city"], record["national"]) == ("9", "6")
    events = [h["event"] for h in record["history"]]
    assert events == ["detected", "resolved", "reopened: data changed"]
    assert record["history"][1]["reason"] == "known delay at the portal"
    assert record["history"][1]["national"] == "4"
    assert record["detected_at"] == T0.isoformat()
    assert await open_ids(store) == {"A|status"}
    assert [a for _, a, _ in await audit_actions(queue)] == ["detect", "resolve", "reopen"]


async def test_an_open_mismatch_takes_new_values_without_changing_state(
    store: Store, queue: MismatchQueue
) -> None:
    await apply(store, decision("A", mismatch("A")))
    await queue.claim("A|status", "lan")
    await apply(store, decision("A", mismatch("A", national="6")), at=T0 + timedelta(hours=1))
    record = await queue.get("A|status")
    assert (record["state"], record["claimed_by"], record["national"]) == ("claimed", "lan", "6")
    assert record["history"][-1]["event"] == "data changed"
    assert [a for _, a, _ in await audit_actions(queue)] == ["detect", "claim"]


async def test_history_is_bounded(store: Store, queue: MismatchQueue) -> None:
    await apply(store, decision("A", mismatch("A")))
    for i in range(30):
        await queue.claim("A|status", "lan")
        await queue.reopen("A|status", "lan", f"round {i}")
    history = (await queue.get("A|status"))["history"]
    assert len(history) == 50
    assert history[-1]["reason"] == "round 29"
    assert len(await queue.audit(1000)) == 61


async def test_an_excluded_dossier_is_recorded_and_cleared(store: Store) -> None:
    await apply(store, decision("A", excluded="migrated"), decision("B"))
    assert await store.excluded(["A", "B"]) == {"A": "migrated"}
    await apply(store, decision("A"))
    assert await store.excluded(["A", "B"]) == {}


# --- operators ----------------------------------------------------------------------------


async def test_claim_resolve_and_reopen_with_their_refusals(
    store: Store, queue: MismatchQueue
) -> None:
    await apply(store, decision("A", mismatch("A")))
    claimed = await queue.claim("A|status", "lan")
    assert (claimed["state"], claimed["claimed_by"]) == ("claimed", "lan")
    assert claimed["claimed_at"] is not None

    async def refused(coro: Any, message: str) -> None:
        before = await snapshot(store)
        with pytest.raises(QueueError) as caught:
            await coro
        assert caught.value.message == message
        assert await snapshot(store) == before

    await refused(queue.claim("A|status", "minh"), "queue.already_claimed")
    await refused(queue.reopen("A|status", "lan", "  "), "queue.no_reason")
    await refused(queue.resolve("A|status", "lan", "ignore", ""), "queue.no_reason")
    await refused(queue.resolve("A|status", "", "ignore", "x"), "queue.no_who")
    await refused(queue.resolve("A|status", "lan", "delete", "x"), "queue.bad_action")
    await refused(queue.resolve("A|status", "lan", "manual", "x"), "queue.needs_value")
    await refused(
        queue.resolve("A|status", "lan", "ignore", "x", "status=4"), "queue.value_only_manual"
    )
    for call in (
        queue.get("Z|status"),
        queue.claim("Z|status", "lan"),
        queue.resolve("Z|status", "lan", "ignore", "x"),
        queue.reopen("Z|status", "lan", "x"),
    ):
        await refused(call, "queue.unknown")

    resolved = await queue.resolve("A|status", "minh", "ignore", "  portal lag  ")
    assert resolved["state"] == "resolved"
    assert resolved["claimed_by"] is None
    assert {k: resolved["resolution"][k] for k in ("action", "value", "reason", "by")} == {
        "action": "ignore",
        "value": None,
        "reason": "portal lag",
        "by": "minh",
    }
    assert await open_ids(store) == set()
    await refused(queue.resolve("A|status", "lan", "ignore", "again"), "queue.bad_transition")
    await refused(queue.claim("A|status", "lan"), "queue.bad_transition")

    reopened = await queue.reopen("A|status", "lan", "wrong call")
    assert (reopened["state"], reopened["resolution"]) == ("open", None)
    assert await open_ids(store) == {"A|status"}
    await refused(queue.reopen("A|status", "lan", "again"), "queue.bad_transition")

    entries = await queue.audit(100)
    assert [(e["who"], e["action"]) for e in entries] == [
        ("syncd", "detect"),
        ("lan", "claim"),
        ("minh", "resolve"),
        ("lan", "reopen"),
    ]
    assert entries[1]["before"] == {"state": "open", "resolution": None, "claimed_by": None}
    assert entries[1]["after"] == {"state": "claimed", "resolution": None, "claimed_by": "lan"}
    assert entries[2]["after"]["resolution"]["reason"] == "portal lag"
    assert entries[3]["before"]["state"] == "resolved"
    assert entries[3]["after"]["state"] == "open"
    assert all(e["id"] == "A~status" for e in entries)


@pytest.mark.parametrize(
    "value",
    [
        "status",
        "=4",
        "colour=red",
        "status=0",
        "status=11",
        "status=four",
        "channel=4",
        "received_at=2024-07-01",
        "received_at=2024-07-01T08:30:00",
        "due_at=tomorrow",
        "procedure_code=",
        "field_code=D T",
    ],
)
async def test_a_bad_manual_value_is_refused_and_changes_nothing(
    store: Store, queue: MismatchQueue, value: str
) -> None:
    await apply(store, decision("A", mismatch("A")))
    before = await snapshot(store)
    with pytest.raises(QueueError) as caught:
        await queue.resolve("A|status", "lan", "manual", "checked the paper file", value)
    assert caught.value.message.startswith("queue.value_")
    assert await snapshot(store) == before


def test_good_manual_values_are_normalised() -> None:
    assert parse_value("status=09") == ("status", "9")
    assert parse_value(" channel = 2 ") == ("channel", "2")
    assert parse_value("finished_at=2024-07-01T08:30+07:00") == (
        "finished_at",
        "2024-07-01T08:30:00+07:00",
    )
    assert parse_value("procedure_code=1.009876") == ("procedure_code", "1.009876")
    assert fields_of("status") == ("status",)
    assert fields_of("collapsed_status") == ("status",)
    assert fields_of("received_date") == ("received_at",)
    assert fields_of("finished_date") == ("finished_at", "returned_at")
    assert fields_of("procedure") == ("procedure_code",)
    assert fields_of("returned_at") == ("returned_at",)
    for kind in ("missing_national", "missing_city", "duplicate", "migrated", "unknown_procedure"):
        assert fields_of(kind) == ()


async def queued(store: Store) -> list[str]:
    entries: Any = await store.redis.xrange(store.key("work"))
    return [fields[b"c"].decode() for _, fields in entries]


async def test_accepting_a_side_writes_an_override_and_queues_the_dossier_again(
    store: Store, queue: MismatchQueue
) -> None:
    await apply(store, decision("A", mismatch("A")), decision("B", mismatch("B", MISSING)))
    resolved = await queue.resolve("A|status", "lan", "accept_national", "national is right")
    assert resolved["resolution"]["value"] == "status=4"
    assert await store.overrides(["A", "B"]) == {"A": {"status": "4"}}
    assert await queued(store) == ["A"]
    assert await store.redis.sismember(store.key("dirty"), "A")

    # A kind about no single field: only the state changes.
    await queue.resolve("B|missing_national", "lan", "accept_city", "will be sent")
    assert await store.overrides(["B"]) == {}
    assert await queued(store) == ["A"]

    # Reopening withdraws the override and queues the dossier again.
    await store.ensure_group()
    assert (await store.take_work("c1", 10)).codes == ("A",)
    await queue.reopen("A|status", "minh", "national was wrong after all")
    assert await store.overrides(["A"]) == {}
    assert await queued(store) == ["A", "A"]


async def test_a_manual_value_is_written_and_withdrawn_when_the_data_changes(
    store: Store, queue: MismatchQueue
) -> None:
    await apply(store, decision("A", mismatch("A")))
    await queue.resolve("A|status", "lan", "manual", "per the paper file", "status=10")
    assert await store.overrides(["A"]) == {"A": {"status": "10"}}
    await store.ensure_group()
    await store.take_work("c1", 10)
    await apply(store, decision("A", mismatch("A", city="10")), at=T0 + timedelta(hours=1))
    assert (await queue.get("A|status"))["state"] == "open"
    assert await store.overrides(["A"]) == {}
    assert await queued(store) == ["A", "A"]


async def test_accepting_the_city_takes_the_city_value(store: Store, queue: MismatchQueue) -> None:
    await apply(store, decision("A", mismatch("A", city="10", national="9")))
    await queue.resolve("A|status", "lan", "accept_city", "city is the system of record")
    assert await store.overrides(["A"]) == {"A": {"status": "10"}}


async def test_accepting_a_side_takes_full_dates_from_its_stored_record(
    store: Store, queue: MismatchQueue
) -> None:
    city = replace(dossier("A"), finished_at=T0 + timedelta(days=3, hours=2))
    national = replace(
        dossier("N-A"),
        source=Source.NATIONAL,
        received_at=T0 + timedelta(days=1, minutes=5),
        returned_at=T0 + timedelta(days=4),
    )
    await store.upsert(Source.CITY, [city], None)
    await store.upsert(Source.NATIONAL, [national], None)
    found = (
        mismatch("A", MismatchKind.RECEIVED_DATE, "2024-07-01", "2024-07-02"),
        mismatch("A", MismatchKind.FINISHED_DATE, "2024-07-04", "2024-07-05"),
    )
    await apply(store, decision("A", *found, national_code="N-A"))
    await queue.resolve("A|received_date", "lan", "accept_national", "the portal has the receipt")
    resolved = await queue.resolve("A|finished_date", "lan", "accept_city", "city is right")
    assert resolved["resolution"]["overrides"] == {
        "finished_at": city.finished_at.isoformat() if city.finished_at else "",
        "returned_at": "",
    }
    assert await store.overrides(["A"]) == {
        "A": {
            "received_at": national.received_at.isoformat(),
            "finished_at": "2024-07-04T10:30:00+07:00",
            "returned_at": "",
        }
    }
    await queue.reopen("A|finished_date", "lan", "check again")
    assert await store.overrides(["A"]) == {"A": {"received_at": national.received_at.isoformat()}}


async def test_accepting_a_date_without_the_side_record_is_refused(
    store: Store, queue: MismatchQueue
) -> None:
    found = mismatch("A", MismatchKind.DUE_DATE, "2024-07-10", "2024-07-12")
    await apply(store, decision("A", found))
    before = await snapshot(store)
    with pytest.raises(QueueError) as caught:
        await queue.resolve("A|due_date", "lan", "accept_national", "x")
    assert caught.value.message == "queue.no_side_record"
    assert await snapshot(store) == before


async def test_list_filters_by_kind_state_and_field_and_pages(
    store: Store, queue: MismatchQueue
) -> None:
    def with_field(key: str, field: str) -> Dossier:
        return replace(dossier(key), field_code=field)

    for i, key in enumerate(["D", "C", "B", "A"]):
        field = "DT" if i % 2 == 0 else "TP"
        found = [mismatch(key)] + ([mismatch(key, UNKNOWN, "X", "X")] if key in "AB" else [])
        await apply(
            store,
            decision(key, *found, corrected=with_field(key, field)),
            at=T0 + timedelta(minutes=i),
        )
    await queue.claim("C|status", "lan")
    await queue.resolve("B|status", "lan", "ignore", "x")

    ids = [stored_id(r["id"]) for r in await queue.list()]
    assert ids == [
        "D|status",
        "C|status",
        "B|status",
        "B|unknown_procedure",
        "A|status",
        "A|unknown_procedure",
    ]
    assert [stored_id(r["id"]) for r in await queue.list(kind="unknown_procedure")] == [
        "B|unknown_procedure",
        "A|unknown_procedure",
    ]
    assert [stored_id(r["id"]) for r in await queue.list(state="open")] == [
        "D|status",
        "B|unknown_procedure",
        "A|status",
        "A|unknown_procedure",
    ]
    assert [stored_id(r["id"]) for r in await queue.list(state="claimed")] == ["C|status"]
    assert [stored_id(r["id"]) for r in await queue.list(state="resolved")] == ["B|status"]
    assert await queue.list(state="auto_resolved") == []
    assert [stored_id(r["id"]) for r in await queue.list(field="TP")] == [
        "C|status",
        "A|status",
        "A|unknown_procedure",
    ]
    assert [
        stored_id(r["id"]) for r in await queue.list(kind="status", state="open", field="DT")
    ] == ["D|status"]
    page = await queue.search(limit=2, offset=2)
    assert [stored_id(r["id"]) for r in page.items] == ["B|status", "B|unknown_procedure"]
    assert page.total == 6
    assert [stored_id(r["id"]) for r in await queue.list(limit=2, offset=5)] == [
        "A|unknown_procedure"
    ]
    with pytest.raises(QueueError):
        await queue.list(state="closed")


async def test_audit_from_a_time(store: Store, queue: MismatchQueue) -> None:
    await apply(store, decision("A", mismatch("A")), decision("B", mismatch("B")))
    await queue.claim("A|status", "lan")
    everything = await queue.audit(100)
    assert [e["action"] for e in everything] == ["detect", "detect", "claim"]
    assert [e["id"] for e in await queue.audit(1)] == ["A~status"]
    assert [e["action"] for e in await queue.audit(1)] == ["claim"]
    since = await queue.audit(10, since=everything[1]["entry"])
    assert [e["entry"] for e in since] == [e["entry"] for e in everything[1:]]
    assert await queue.audit(10, since=datetime.now(T0.tzinfo) + timedelta(hours=1)) == []
    assert len(await queue.audit(10, since="2000-01-01")) == 3


async def test_ids_read_well_and_the_stored_form_is_still_accepted(
    store: Store, queue: MismatchQueue
) -> None:
    await apply(store, decision("000.00.45.H26-240701-0001", mismatch("000.00.45.H26-240701-0001")))
    shown = "000.00.45.H26-240701-0001~status"
    assert (await queue.get(shown))["id"] == shown
    assert (await queue.get("000.00.45.H26-240701-0001|status"))["id"] == shown
    claimed = await queue.claim(shown, "lan")
    assert (claimed["id"], claimed["state"]) == (shown, "claimed")
    assert [r["id"] for r in await queue.list()] == [shown]
    assert public_id("report:2024-07") == "report:2024-07"  # other audit subjects as they are
    assert stored_id(stored_id(shown)) == stored_id(shown) == "000.00.45.H26-240701-0001|status"
