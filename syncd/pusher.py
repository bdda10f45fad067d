"""The pusher: drains the write-back outbox into the national portal, merging, never overwriting.

For each entry due (syncd.outbox), under the national connector's rate limit and breaker:

1. The national record is looked up (`TraCuuHoSo`) under every code the dossier is known by
   (its key, the matched national code, alternate codes): a record rewritten under another code
   is found, not duplicated.
2. Found: if it changed since the decision (another version than the plan's `base_version`), or
   the plan was to create it, the fresh record is stored and the dossier reconciled again
   ("superseded": the new decision plans anew). When the store already held that version, the
   dossier is queued for a new decision all the same, and the entry is "unchanged" if the portal
   already has what it planned (a push whose end a crash lost), else kept as failed until the
   new decision replaces it. Otherwise the record as the portal serves it is
   sent back with only the planned fields changed: the applicant's data travels from the
   portal's own record and is never stored by syncd. A status is never moved backwards (a
   status the national portal already has, or one it has gone past, is left, with the dates
   that go with it); nothing left to change is "unchanged". A status change is also sent as a
   processing step (`CapNhatTienDoHoSoMC`).
3. Not found: the record is created from the corrected one, with the applicant's data fetched
   from the city system by code at that moment (never stored). An answer `ALREADY_EXISTS` (it
   was created meanwhile) is looked up again and merged.

A confirmed push leaves the outbox (the push log and the audit keep it, with the fields before
and after and the portal's answer); the mismatch it fixes resolves when a later read agrees. A
failed push stays, `failed` with the portal's answer, and is retried after a backoff
(`writeback.retry_after_seconds`, doubling up to `writeback.retry_max_seconds`). A crash at any
point pushes later, never twice in effect: an entry a dead pusher had in flight is due again after
the in-flight timeout, and step 2 finds the national record already at the target.

Nothing is pushed while the national view is incomplete (its last poll did not read the whole
feed), nor during a burst: when more entries are waiting than `writeback.burst_share` of the
agency's dossiers (and at least `writeback.burst_min`), the pusher holds them all and alerts
(log `writeback_held`, `{P}:status` "writeback:held", the metric `syncd_writeback_held`) until an
operator releases them (`syncd writeback release`, audited) or the outbox shrinks again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connectors.base import PortalError, WireError
from connectors.city.client import CityConnector
from connectors.fields import format_local
from connectors.national import wire as national_wire
from connectors.national.client import (
    ALREADY_EXISTS,
    NationalConnector,
    ProgressStep,
    ServiceError,
)
from reconcile import codec
from reconcile.model import Dossier, Procedure, Source, Status
from reconcile.writeback import moves_forward
from syncd.outbox import Outbox
from syncd.store import Store

log = structlog.get_logger("syncd.pusher")

STEP_NOTE = "Đồng bộ trạng thái từ Hệ thống Một cửa điện tử"
# National wire fields of the fields a plan may change.
WIRE_FIELDS: Mapping[str, str] = {
    "status": "TrangThaiHoSo",
    "finished_at": "NgayKetThucXuLy",
    "returned_at": "NgayTra",
}
# The dates a status change carries with it: left out when the status is.
_STATUS_DATES = ("finished_at", "returned_at")
# The city system's applicant fields and the national ones they fill on a created record.
APPLICANT_FIELDS: Mapping[str, str] = {
    "applicantName": "ChuHoSo",
    "applicantIdNo": "SoGiayTo",
    "contactTelNo": "SoDienThoai",
    "applicantType": "LoaiDoiTuong",
}


@dataclass(frozen=True, slots=True)
class PushSettings:
    retry_after: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(minutes=10)
    burst_share: float = 0.2
    burst_min: int = 50
    in_flight_seconds: float = 120.0
    agency_name: str = ""


@dataclass(slots=True)
class Pushed:
    outcome: str  # created, updated, unchanged, superseded
    changes: dict[str, tuple[str | None, str | None]]
    answer: str
    versions: str = ""  # the national record's version before and after ("a>b")


class Pusher:
    def __init__(
        self,
        store: Store,
        national: NationalConnector,
        city: CityConnector,
        settings: PushSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        procedures: Callable[[], Mapping[str, Procedure]] = dict,
    ) -> None:
        self.store = store
        self.outbox: Outbox = store.outbox
        self.national = national
        self.city = city
        self.settings = settings
        self.clock = clock
        self.procedures = procedures
        self.pushed: Callable[[str], None] = lambda outcome: None  # the metrics' hook

    async def held(self) -> str | None:
        """Why the outbox is held now (None: it is not): the national view is incomplete, or
        a burst waits for an operator's release."""
        status = await self.store.status()
        if status.get("national:complete") != "1":
            return "national view incomplete"
        waiting = sum(n for state, n in (await self.outbox.counts()).items() if state != "dry_run")
        dossiers = int(await self.store.redis.hlen(self.store.key("corrected")))
        limit = max(self.settings.burst_min, int(self.settings.burst_share * dossiers))
        if waiting <= limit:
            if status.get("writeback:held") or status.get("writeback:released"):
                await self.store.redis.hdel(
                    self.store.key("status"), "writeback:held", "writeback:released"
                )
            return None
        if status.get("writeback:released"):
            return None
        reason = f"{waiting} pushes waiting, more than {limit} of {dossiers} dossiers"
        if not status.get("writeback:held"):
            log.error("writeback_held", waiting=waiting, limit=limit, dossiers=dossiers)
            await self.store.redis.hset(
                self.store.key("status"),
                "writeback:held",
                json.dumps({"at": self.clock().isoformat(), "reason": reason}),
            )
        return reason

    async def drain(self, limit: int = 100) -> dict[str, int]:
        """Push the entries due now (at most `limit`); outcomes counted."""
        counted: dict[str, int] = {}
        if await self.held():
            return counted
        now = self.clock()
        for key in await self.outbox.due(now, limit):
            entry = await self.outbox.entry(key)
            if entry is None or entry.get("state") == "dry_run":
                continue
            taken = await self.outbox.start(entry, now, self.settings.in_flight_seconds)
            if taken is None:
                continue
            outcome = await self.push_one(taken)
            counted[outcome] = counted.get(outcome, 0) + 1
        return counted

    async def push_one(self, entry: Mapping[str, Any]) -> str:
        """One attempt at one entry; its outcome ("failed" when the portal refused or failed)."""
        now = self.clock()
        try:
            pushed = await self._push(entry)
        except (PortalError, WireError, PlanStale) as exc:
            answer = (
                json.dumps({"error_code": exc.code, "message": exc.message}, ensure_ascii=False)
                if isinstance(exc, ServiceError)
                else ""
            )
            kind = "bad_record" if isinstance(exc, WireError) else exc.kind
            attempts = int(entry.get("attempts") or 1)
            wait = min(self.settings.retry_max, self.settings.retry_after * 2 ** (attempts - 1))
            await self.outbox.fail(entry, str(exc), kind, answer, now, now + wait)
            log.warning(
                "push_failed", key=entry["key"], error=str(exc), kind=kind, attempts=attempts
            )
            self.pushed("failed")
            return "failed"
        await self.outbox.finish(
            entry, pushed.outcome, pushed.changes, pushed.answer, now, versions=pushed.versions
        )
        log.info(
            "pushed",
            key=entry["key"],
            code=entry["code"],
            outcome=pushed.outcome,
            fields=sorted(pushed.changes),
        )
        self.pushed(pushed.outcome)
        return pushed.outcome

    async def _push(self, entry: Mapping[str, Any], created_meanwhile: bool = False) -> Pushed:
        target = codec.loads(entry["target"])
        found = await self._look_up([entry["code"], *entry.get("codes", ())])
        if found is None:
            if created_meanwhile:
                raise PortalError("national: the record exists and cannot be found", "not_found")
            return await self._create(entry, target)
        code, raw = found
        current = self.national.wire.decode(raw)
        base = entry.get("base_version")
        if entry["action"] == "create" or created_meanwhile or str(current.version) != base:
            # The portal holds something the decision did not see: decide again from it.
            if await self.store.upsert(Source.NATIONAL, [current], None, now=self.clock()):
                return Pushed("superseded", {}, "")
            # Nothing new to store, so nothing queues the new decision: queue it. The portal
            # already has what the plan wanted (a push whose finish a crash lost): done.
            # Otherwise the entry stays (failed, retried after a backoff) until that decision
            # replaces it.
            await self.store.enqueue([entry["key"]])
            if not self._merge_changes(entry, current):
                return Pushed("unchanged", {}, "")
            raise PlanStale(
                f"national: {code} is at version {current.version}, "
                f"the plan was made from {base or 'no record'}"
            )
        changes = self._merge_changes(entry, current)
        if not changes:
            return Pushed("unchanged", {}, "")
        merged = dict(raw)
        for name, (_, value) in changes.items():
            merged[WIRE_FIELDS[name]] = _wire_value(name, value)
        answer = await self.national.write_record(merged, updating=True)
        if "status" in changes:
            steps = [
                ProgressStep(datetime.fromisoformat(at), Status(status), STEP_NOTE)
                for at, status in entry.get("steps", ())
            ] or [ProgressStep(target.updated_at, target.status, STEP_NOTE)]
            await self.national.push_progress(code, steps)
        after = await self._confirmed(code)
        versions = f"{current.updated_at.isoformat()}>{after}"
        return Pushed("updated", changes, _answer(answer), versions)

    def _merge_changes(
        self, entry: Mapping[str, Any], current: Dossier
    ) -> dict[str, tuple[str | None, str | None]]:
        """The planned changes that still change something on the record as it is now: a
        status only forward, and its dates only with it."""
        planned: dict[str, Sequence[str | None]] = entry["changes"]
        changes: dict[str, tuple[str | None, str | None]] = {}
        status_goes = True
        if "status" in planned:
            target = Status(int(str(planned["status"][1])))
            status_goes = moves_forward(current.status, target)
        for name, (_, to) in planned.items():
            if name not in WIRE_FIELDS:
                continue  # an update writes only what a status correction carries
            if (name == "status" or name in _STATUS_DATES) and not status_goes:
                continue
            now_value = _text_of(current, name)
            if now_value != to:
                changes[name] = (now_value, to)
        return changes

    async def _create(self, entry: Mapping[str, Any], target: Dossier) -> Pushed:
        applicant = await self.city.look_up(entry["key"])
        if applicant is None:
            raise PortalError(
                f"city: {entry['key']} not found: no applicant to create it with", "not_found"
            )
        extra = {
            national: str(applicant[city])
            for city, national in APPLICANT_FIELDS.items()
            if applicant.get(city) not in (None, "")
        }
        procedure = self.procedures().get(target.procedure_code)
        if procedure is not None:
            extra["TenTTHC"] = procedure.name
        if self.settings.agency_name:
            extra["DonViXuLy"] = self.settings.agency_name
        record = national_wire.encode(target, extra)
        record["MaHoSo"] = entry["code"]
        try:
            answer = await self.national.write_record(record, updating=False)
        except ServiceError as exc:
            if exc.code not in ALREADY_EXISTS:
                raise
            return await self._push(entry, created_meanwhile=True)
        created: dict[str, tuple[str | None, str | None]] = {
            k: (None, v[1]) for k, v in entry["changes"].items()
        }
        after = await self._confirmed(entry["code"])
        return Pushed("created", created, _answer(answer), f">{after}")

    async def _confirmed(self, code: str) -> str:
        """The written record's version as the portal serves it now ('' if it cannot say):
        the portal's confirmation, kept in the push log. The record read back is stored, so the
        dossier is reconciled from it at once (its mismatch resolves when it agrees) rather than
        when a poll meets it, which a portal stamping to the second may never do."""
        try:
            raw = await self.national.look_up(code)
            if raw is None:
                return ""
            record = self.national.wire.decode(raw)
        except (PortalError, WireError):
            return ""
        await self.store.upsert(Source.NATIONAL, [record], None, now=self.clock())
        return record.updated_at.isoformat()

    async def _look_up(self, codes: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
        for code in dict.fromkeys(c for c in codes if c):
            raw = await self.national.look_up(code)
            if raw is not None:
                return code, raw
        return None


class PlanStale(Exception):
    """The portal's record is not the one the plan was made from, and the store already holds
    it: the dossier must be decided again before anything is pushed."""

    kind = "stale"  # as a failed attempt records it (syncd.outbox.FAILURE_KINDS)


def _text_of(d: Dossier, name: str) -> str | None:
    value = getattr(d, name)
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(int(value)) if isinstance(value, int) else str(value)


def _wire_value(name: str, value: str | None) -> str:
    if value is None:
        return ""
    if name == "status":
        return value
    return format_local(datetime.fromisoformat(value), national_wire.DATE_FORMAT)


def _answer(body: Mapping[str, Any]) -> str:
    return json.dumps(
        {"error_code": body.get("error_code"), "message": body.get("message", "")},
        ensure_ascii=False,
    )
