"""Scenarios: each dossier's true lifecycle, and what each portal makes of it.

A scenario (a JSON file, format ``syncd-scenario/1``, documented in docs/scenario.md) states, per
dossier, the TRUE lifecycle as timestamped events, and per portal the distortions of DOMAIN.md §5
that portal applies to it: a missing record, a lagging status, a collapsed status, a rewritten code,
shifted dates, a duplicate record, placeholder personal data, a wrong channel. Migrated dossiers
(carried over from the old system) are marked as such.

`Scenario.views(at)` turns it into the `connectors.dataset.Dataset` both mock portals serve at mock
time `at`: only events dated at or before `at` count, so a mock clock that advances reveals changes.
The dataset's `expected` mismatches are derived from the distortions (which record each portal
serves under which code, with which status), never by calling `reconcile.compare`.

`generate(dossiers, seed)` builds a realistic scenario of any size, deterministically; `load`,
`loads` and `dump` read and write the file format with strict validation: a bad file raises
`ScenarioError` naming the file, the JSON path (``dossiers[3].events[1].at``) and what was expected.

Rules kept deliberately short (docs/scenario.md states them for authors):

- Lifecycle: each event may only follow the statuses listed in `ALLOWED_AFTER` (the first event
  follows "nothing": it is ``registered`` or ``received``); times never decrease. Refused (3),
  withdrawn (7) and returned (10) are terminal because no event may follow them.
- An event's optional ``due`` moves the due date on record from that event on; with
  ``"apology": true`` the move is an apology letter (Mẫu 04), whose time the city serves as
  ``apology_at`` (the national portal has no such field).
- Migrated dossiers: on the city side every event time before ``migrated.at`` becomes
  ``migrated.at`` (the new system shows them re-received at the cut-over, in the status of their
  last event), under ``migrated.code`` when the new system gave them new codes (their old code as
  the alternate code with ``keeps_old_code``); the national portal does not have them unless the
  national list says otherwise (omitting ``national`` on a migrated dossier means
  ``[{"kind": "missing"}]``).
- A side's distortions apply in a fixed order: missing, lag, then on the resulting record
  collapsed, rewritten_code, shifted, channel; then duplicate copies the record under another code;
  placeholder changes the personal data served with every code of that side.
"""

from __future__ import annotations

import enum
import json
import os
import random
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal, NoReturn, TypeAlias, get_args

from connectors.dataset import (
    AGENCY_CODE,
    DEFAULT_NOW,
    Applicant,
    Dataset,
)
from connectors.dataset import (
    procedures as procedure_fields,
)
from connectors.identity import identity_hash
from reconcile.calendar import WorkingCalendar
from reconcile.compare import MismatchKind
from reconcile.deadlines import computed_due, due_from
from reconcile.model import VN_TZ, Channel, Dossier, Pause, Procedure, Source, Status, StopKind

FORMAT = "syncd-scenario/1"

FIELDS: Mapping[str, str] = {
    "DT": "Đầu tư",
    "LD": "Lao động",
    "MT": "Môi trường",
    "DD": "Đất đai",
    "TM": "Thương mại",
    "XNK": "Xuất nhập khẩu",
    "XD": "Xây dựng",
    "QH": "Quy hoạch",
}

PLACEHOLDER_ID = "000000001"
PLACEHOLDER_PHONE = "0000000000"


class ScenarioError(ValueError):
    """A scenario that does not load: names the file, the JSON path and what was expected."""

    def __init__(self, name: str, path: str, message: str) -> None:
        super().__init__(f"{name}: {path or '(top level)'}: {message}")
        self.name = name
        self.path = path
        self.message = message


# --------------------------------------------------------------------------------------------
# The model


class EventKind(enum.StrEnum):
    REGISTERED = "registered"
    RECEIVED = "received"
    REFUSED = "refused"
    PROCESSING = "processing"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    SUPPLEMENT_COMPLETED = "supplement_completed"
    FEES_REQUESTED = "fees_requested"
    FEES_PAID = "fees_paid"
    STOPPED = "stopped"
    RESUMED = "resumed"
    FINISHED = "finished"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"


# The national status a dossier is in after each event.
STATUS_AFTER: Mapping[EventKind, Status] = {
    EventKind.REGISTERED: Status.REGISTERED,
    EventKind.RECEIVED: Status.ACCEPTED,
    EventKind.REFUSED: Status.REFUSED,
    EventKind.PROCESSING: Status.PROCESSING,
    EventKind.SUPPLEMENT_REQUESTED: Status.SUPPLEMENT_REQUESTED,
    EventKind.SUPPLEMENT_COMPLETED: Status.PROCESSING,
    EventKind.FEES_REQUESTED: Status.AWAITING_FEES,
    EventKind.FEES_PAID: Status.PROCESSING,
    EventKind.STOPPED: Status.STOPPED,
    EventKind.RESUMED: Status.PROCESSING,
    EventKind.FINISHED: Status.FINISHED,
    EventKind.RETURNED: Status.RETURNED,
    EventKind.WITHDRAWN: Status.WITHDRAWN,
}

# The events that stop the clock (a stop of that kind begins) and those that end a stop.
STOP_STARTS: Mapping[EventKind, StopKind] = {
    EventKind.SUPPLEMENT_REQUESTED: StopKind.SUPPLEMENT,
    EventKind.FEES_REQUESTED: StopKind.FEES,
    EventKind.STOPPED: StopKind.STOPPED,
}
STOP_ENDS = frozenset({EventKind.SUPPLEMENT_COMPLETED, EventKind.FEES_PAID, EventKind.RESUMED})

_OPEN = frozenset({Status.ACCEPTED, Status.PROCESSING})
# The statuses (None: no event yet) each event may follow. Nothing follows 3, 7 or 10.
ALLOWED_AFTER: Mapping[EventKind, frozenset[Status | None]] = {
    EventKind.REGISTERED: frozenset({None}),
    EventKind.RECEIVED: frozenset({None, Status.REGISTERED}),
    EventKind.REFUSED: frozenset({Status.REGISTERED, Status.ACCEPTED}),
    EventKind.PROCESSING: _OPEN,
    EventKind.SUPPLEMENT_REQUESTED: _OPEN,
    EventKind.SUPPLEMENT_COMPLETED: frozenset({Status.SUPPLEMENT_REQUESTED}),
    EventKind.FEES_REQUESTED: _OPEN,
    EventKind.FEES_PAID: frozenset({Status.AWAITING_FEES}),
    EventKind.STOPPED: _OPEN,
    EventKind.RESUMED: frozenset({Status.STOPPED}),
    EventKind.FINISHED: _OPEN,
    EventKind.RETURNED: frozenset({Status.PROCESSING, Status.FINISHED}),
    EventKind.WITHDRAWN: _OPEN
    | {Status.SUPPLEMENT_REQUESTED, Status.AWAITING_FEES, Status.STOPPED},
}


class DayKind(enum.StrEnum):
    """How a procedure's resolution time counts (the file's "day_kind")."""

    WORKING = "working"
    CALENDAR = "calendar"


@dataclass(frozen=True, slots=True)
class Event:
    """One step of a dossier's true lifecycle.

    `city_status` is the city system's own word for the resulting status ("" = the mock's
    default word); `due`, when set, is the due date on record from this event on; `apology`
    says that move is an apology letter (Mẫu 04, "Phiếu xin lỗi và hẹn lại ngày trả kết quả")
    sent at `at` (only with a `due`).
    """

    at: datetime
    event: EventKind
    city_status: str = ""
    due: datetime | None = None
    apology: bool = False

    @property
    def status(self) -> Status:
        return STATUS_AFTER[self.event]


# Distortions (DOMAIN.md §5), one small class per kind; `kind` is the JSON tag.


@dataclass(frozen=True, slots=True)
class Missing:
    """The portal does not have the dossier at all."""

    kind: ClassVar[str] = "missing"


@dataclass(frozen=True, slots=True)
class Lag:
    """The portal shows the state as it was `events` events earlier."""

    events: int
    kind: ClassVar[str] = "lag"


@dataclass(frozen=True, slots=True)
class Collapsed:
    """National only: while the true status is 5, 6 or 8 the portal shows 9."""

    kind: ClassVar[str] = "collapsed"


@dataclass(frozen=True, slots=True)
class RewrittenCode:
    """National only: the record carries `code`, with the original as its alternate code."""

    code: str
    kind: ClassVar[str] = "rewritten_code"


ShiftedField: TypeAlias = Literal["received_at", "due_at", "finished_at"]
SHIFTED_FIELDS: tuple[ShiftedField, ...] = get_args(ShiftedField)
_SHIFTED: Mapping[str, ShiftedField] = {name: name for name in SHIFTED_FIELDS}


@dataclass(frozen=True, slots=True)
class Shifted:
    """One of the record's dates moved by `days` days."""

    field: ShiftedField
    days: int
    kind: ClassVar[str] = "shifted"


@dataclass(frozen=True, slots=True)
class Duplicate:
    """The portal also serves the same record under `code`, unlinked."""

    code: str
    kind: ClassVar[str] = "duplicate"


@dataclass(frozen=True, slots=True)
class Placeholder:
    """The portal carries placeholder personal data (first word of the name, fixed ID/phone)."""

    kind: ClassVar[str] = "placeholder"


@dataclass(frozen=True, slots=True)
class WrongChannel:
    """The portal records `channel` instead of the true one."""

    channel: Channel
    kind: ClassVar[str] = "channel"


Distortion: TypeAlias = (
    Missing | Lag | Collapsed | RewrittenCode | Shifted | Duplicate | Placeholder | WrongChannel
)
DISTORTION_KINDS: tuple[str, ...] = (
    "missing",
    "lag",
    "collapsed",
    "rewritten_code",
    "shifted",
    "duplicate",
    "placeholder",
    "channel",
)
NATIONAL_ONLY = frozenset({"collapsed", "rewritten_code"})
# What `generate(kinds=...)` can leave out: every distortion kind, and migrated dossiers.
GENERATED_KINDS: tuple[str, ...] = (*DISTORTION_KINDS, "migrated")


@dataclass(frozen=True, slots=True)
class ScenarioDossier:
    """One dossier: its true lifecycle and each portal's distortions.

    `migrated` is the cut-over time for a dossier carried over from the old system;
    `migrated_code`, when not "", the code the new system gave it at the cut-over (the city
    serves it under that code, with its old code as its alternate code when `keeps_old_code`).
    The lists are explicit here: a migrated dossier absent from the national portal has
    `national=(Missing(),)` (the file format makes that the default for migrated dossiers).
    """

    code: str
    procedure: str
    channel: Channel
    digitised: bool
    due: datetime | None
    applicant: Applicant
    events: tuple[Event, ...]
    migrated: datetime | None = None
    city: tuple[Distortion, ...] = ()
    national: tuple[Distortion, ...] = ()
    migrated_code: str = ""
    keeps_old_code: bool = False

    def distortions(self, source: Source) -> tuple[Distortion, ...]:
        return self.city if source is Source.CITY else self.national

    def extra_codes(self) -> list[str]:
        """Codes other than `code` that a portal serves this dossier under."""
        recoded = [self.migrated_code] if self.migrated_code else []
        return recoded + [
            d.code for d in (*self.city, *self.national) if isinstance(d, RewrittenCode | Duplicate)
        ]


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file. `truth` is free-form documentation the file carries (what the
    scenario is meant to show, the figures it must produce); nothing here reads it."""

    agency: str
    now: datetime
    procedures: tuple[Procedure, ...]
    fields: Mapping[str, str]
    dossiers: tuple[ScenarioDossier, ...]
    truth: Mapping[str, Any] = field(default_factory=dict)

    def views(self, at: datetime | None = None, salt: str | None = None) -> Dataset:
        """What both portals serve at mock time `at` (default: the scenario's `now`). With a
        `salt`, records carry the applicant's identity hashed with it, as connectors configured
        with that salt read them; without, no identity."""
        return _views(self, self.now if at is None else at, salt)


# --------------------------------------------------------------------------------------------
# Views


def placeholder_of(applicant: Applicant) -> Applicant:
    first = applicant.name.split()[0] if applicant.name.split() else ""
    return Applicant(first, PLACEHOLDER_ID, PLACEHOLDER_PHONE)


def _record(
    d: ScenarioDossier, source: Source, events: Sequence[Event], field_code: str
) -> Dossier:
    received_at = events[0].at
    due = d.due
    finished: datetime | None = None
    returned: datetime | None = None
    apology: datetime | None = None
    pauses: list[Pause] = []
    city = source is Source.CITY
    for e in events:
        kind = e.event
        if kind is EventKind.RECEIVED:
            received_at = e.at
        elif kind is EventKind.FINISHED or kind is EventKind.WITHDRAWN:
            finished = e.at
        elif kind is EventKind.RETURNED:
            returned = e.at
        elif kind in STOP_STARTS:
            pauses.append(Pause(e.at, None, STOP_STARTS[kind], due))
        elif kind in STOP_ENDS:
            pauses[-1] = replace(pauses[-1], resumed_at=e.at)
        if e.due is not None:
            due = e.due
        if e.apology:
            apology = e.at
    if not city:  # the national portal dates supplement requests only (DanhSachHoSoBoSung)
        pauses = [p for p in pauses if p.kind is StopKind.SUPPLEMENT]
    last = events[-1]
    return Dossier(
        source=source,
        code=d.code,
        procedure_code=d.procedure,
        field_code=field_code,
        channel=d.channel,
        status=STATUS_AFTER[last.event],
        received_at=received_at,
        updated_at=last.at,
        due_at=due,
        finished_at=finished,
        returned_at=returned,
        apology_at=apology if city else None,  # the national portal has no such field
        pauses=tuple(pauses),
        digitised=d.digitised,
        native_status=last.city_status if city else "",
    )


_COLLAPSING = frozenset({Status.SUPPLEMENT_REQUESTED, Status.AWAITING_FEES, Status.STOPPED})


def _side(
    d: ScenarioDossier, source: Source, at: datetime, field_code: str
) -> tuple[list[Dossier], list[str]]:
    """The records one portal serves for `d` at `at` (primary first) and the kinds applied."""
    events = d.events
    if source is Source.CITY and d.migrated is not None:
        cut = d.migrated
        events = tuple(e if e.at >= cut else replace(e, at=cut) for e in events)
    visible = 0
    for e in events:
        if e.at > at:
            break
        visible += 1
    if not visible:
        return [], []
    distortions = d.distortions(source)
    applied: list[str] = []
    for x in distortions:
        if isinstance(x, Missing):
            return [], ["missing"]
    for x in distortions:
        if isinstance(x, Lag):
            applied.append("lag")
            visible -= x.events
    if visible <= 0:
        return [], applied
    record = _record(d, source, events[:visible], field_code)
    if source is Source.CITY and d.migrated_code:
        # Recoded at the cut-over: the code's date no longer tells.
        old = (d.code,) if d.keeps_old_code else ()
        record = replace(record, code=d.migrated_code, alt_codes=old)
    extra: list[str] = []
    for x in distortions:
        if isinstance(x, Collapsed) and record.status in _COLLAPSING:
            record = replace(record, status=Status.FINISHED, finished_at=record.updated_at)
            applied.append(x.kind)
    for x in distortions:
        if isinstance(x, RewrittenCode):
            record = replace(record, code=x.code, alt_codes=(d.code,))
            applied.append(x.kind)
    for x in distortions:
        if isinstance(x, Shifted):
            record, moved = _shift(record, x)
            if moved:
                applied.append(x.kind)
    for x in distortions:
        if isinstance(x, WrongChannel):
            record = replace(record, channel=x.channel)
            applied.append(x.kind)
        elif isinstance(x, Duplicate):
            extra.append(x.code)
            applied.append(x.kind)
        elif isinstance(x, Placeholder):
            applied.append(x.kind)
    records = [record, *(replace(record, code=code, alt_codes=()) for code in extra)]
    return records, applied


def _shift(record: Dossier, x: Shifted) -> tuple[Dossier, bool]:
    delta = timedelta(days=x.days)
    if x.field == "received_at":
        return replace(record, received_at=record.received_at + delta), True
    if x.field == "due_at":
        if record.due_at is None:
            return record, False
        return replace(record, due_at=record.due_at + delta), True
    if record.finished_at is None:
        return record, False
    return replace(record, finished_at=record.finished_at + delta), True


def _views(scenario: Scenario, at: datetime, salt: str | None) -> Dataset:
    fields = {p.code: p.field_code for p in scenario.procedures}
    city: list[Dossier] = []
    national: list[Dossier] = []
    city_applicants: dict[str, Applicant] = {}
    national_applicants: dict[str, Applicant] = {}
    applicants: dict[str, Applicant] = {}
    expected: dict[str, frozenset[MismatchKind]] = {}
    distortions: dict[str, tuple[str, ...]] = {}
    for d in scenario.dossiers:
        if d.events[0].at > at:
            continue
        field_code = fields[d.procedure]
        city_records, city_applied = _side(d, Source.CITY, at, field_code)
        national_records, national_applied = _side(d, Source.NATIONAL, at, field_code)
        shown = {Source.CITY: d.applicant, Source.NATIONAL: d.applicant}
        placeholder = placeholder_of(d.applicant)
        if any(isinstance(x, Placeholder) for x in d.city):
            shown[Source.CITY] = placeholder
        if any(isinstance(x, Placeholder) for x in d.national):
            shown[Source.NATIONAL] = placeholder
        # What a connector keeps of the applicant: the salted hash of the ID number it is served.
        if salt is not None:
            city_records = [
                replace(r, identity=identity_hash(shown[Source.CITY].id_number, salt))
                for r in city_records
            ]
            national_records = [
                replace(r, identity=identity_hash(shown[Source.NATIONAL].id_number, salt))
                for r in national_records
            ]
        city.extend(city_records)
        national.extend(national_records)
        for r in city_records:
            city_applicants[r.code] = shown[Source.CITY]
        for r in national_records:
            national_applicants[r.code] = shown[Source.NATIONAL]
        for r in (*city_records, *national_records):
            # One shared map for mocks that do not ask per side: a placeholder wins.
            value = shown[r.source]
            if r.code not in applicants or value != d.applicant:
                applicants[r.code] = value
        by_code = {r.code: r for r in city_records}
        national_by_code = {r.code: r for r in national_records}
        for code in by_code.keys() | national_by_code.keys():
            kinds = _expected(by_code.get(code), national_by_code.get(code))
            if kinds:
                expected[code] = kinds
        applied = (
            *(["migrated"] if d.migrated is not None else []),
            *(f"city.{k}" for k in city_applied),
            *(f"national.{k}" for k in national_applied),
        )
        if applied:
            for code in {d.code, *by_code, *national_by_code}:
                distortions[code] = applied
    return Dataset(
        city=tuple(city),
        national=tuple(national),
        applicants=applicants,
        expected=expected,
        procedures=fields,
        city_applicants=city_applicants,
        national_applicants=national_applicants,
        distortions=distortions,
        at=at,
        catalogue=scenario.procedures,
    )


def _expected(city: Dossier | None, national: Dossier | None) -> frozenset[MismatchKind]:
    """The mismatch kinds one code must show, from which records the portals serve under it."""
    if city is None:
        return frozenset({MismatchKind.MISSING_CITY})
    if national is None:
        if city.status.counted:
            return frozenset({MismatchKind.MISSING_NATIONAL})
        return frozenset()
    if city.status != national.status:
        return frozenset({MismatchKind.STATUS})
    return frozenset()


# --------------------------------------------------------------------------------------------
# Reading


_NOTHING: Any = object()


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Reader:
    """Typed readers over parsed JSON; every failure names the JSON path."""

    def __init__(self, name: str) -> None:
        self.name = name

    def fail(self, path: str, expected: str, got: Any = _NOTHING) -> NoReturn:
        message = f"expected {expected}"
        if got is not _NOTHING:
            message += f", got {_show(got)}"
        raise ScenarioError(self.name, path, message)

    def obj(
        self, value: Any, path: str, required: Sequence[str], optional: Sequence[str] = ()
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, "an object", value)
        for key in value:
            if key not in required and key not in optional:
                allowed = ", ".join([*required, *optional])
                raise ScenarioError(
                    self.name, _join(path, key), f"unknown key (expected one of: {allowed})"
                )
        for key in required:
            if key not in value:
                raise ScenarioError(self.name, _join(path, key), "missing (it is required)")
        return value

    def array(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, "a list", value)
        return value

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "a non-empty string", value)
        return value

    def integer(
        self, value: Any, path: str, low: int | None = None, high: int | None = None
    ) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "an integer", value)
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                self.fail(path, f"an integer >= {low}", value)
            self.fail(path, f"an integer from {low} to {high}", value)
        return value

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, "true or false", value)
        return value

    def time(self, value: Any, path: str) -> datetime:
        expected = "a time like 2024-07-01T08:30:00+07:00 (whole seconds, with its UTC offset)"
        if not isinstance(value, str):
            self.fail(path, expected, value)
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            self.fail(path, expected, value)
        if when.tzinfo is None or when.microsecond:
            self.fail(path, expected, value)
        return when.astimezone(VN_TZ)

    def optional_time(self, value: Any, path: str) -> datetime | None:
        return None if value is None else self.time(value, path)

    def choice(self, value: Any, path: str, allowed: Collection[str]) -> str:
        if not isinstance(value, str) or value not in allowed:
            self.fail(path, "one of " + ", ".join(allowed), value)
        return value


def load(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario file."""
    with open(path, encoding="utf-8") as handle:
        return loads(handle.read(), name=os.fspath(path))


def loads(text: str, name: str = "<string>") -> Scenario:
    """Parse and validate a scenario; `name` (the file) appears in every error message."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(
            name, "", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    r = _Reader(name)
    top = r.obj(
        raw, "", ("format", "agency", "now", "fields", "procedures", "dossiers"), ("truth",)
    )
    if top["format"] != FORMAT:
        r.fail("format", repr(FORMAT), top["format"])
    agency = r.string(top["agency"], "agency")
    now = r.time(top["now"], "now")
    fields_raw = top["fields"]
    if not isinstance(fields_raw, dict) or not fields_raw:
        r.fail("fields", "an object of field code: field name", fields_raw)
    fields = {key: r.string(value, f"fields.{key}") for key, value in fields_raw.items()}
    truth = top.get("truth", {})
    if not isinstance(truth, dict):
        r.fail("truth", "an object (free-form: what the scenario shows)", truth)
    procedures: list[Procedure] = []
    seen: set[str] = set()
    for i, item in enumerate(r.array(top["procedures"], "procedures")):
        path = f"procedures[{i}]"
        procedure = _procedure(r, item, path)
        if procedure.code in seen:
            r.fail(f"{path}.code", "a procedure code not used before", procedure.code)
        if procedure.field_code not in fields:
            r.fail(f"{path}.field", "a field listed under `fields`", procedure.field_code)
        seen.add(procedure.code)
        procedures.append(procedure)
    dossiers: list[ScenarioDossier] = []
    codes: set[str] = set()
    for i, item in enumerate(r.array(top["dossiers"], "dossiers")):
        path = f"dossiers[{i}]"
        dossier = _dossier(r, item, path)
        if dossier.procedure not in seen:
            r.fail(f"{path}.procedure", "a code listed under `procedures`", dossier.procedure)
        if dossier.code in codes:
            r.fail(f"{path}.code", "a code no other dossier or distortion uses", dossier.code)
        codes.add(dossier.code)
        dossiers.append(dossier)
    # Extra codes (recoded at the cut-over, rewritten, duplicate) must not collide with any
    # served code.
    for i, dossier in enumerate(dossiers):
        extra = [(f"dossiers[{i}].migrated.code", dossier.migrated_code)]
        extra += [
            (f"dossiers[{i}].{side}[{j}].code", x.code)
            for side in ("city", "national")
            for j, x in enumerate(dossier.distortions(Source(side)))
            if isinstance(x, RewrittenCode | Duplicate)
        ]
        for path, code in extra:
            if not code:
                continue
            if code in codes:
                r.fail(path, "a code no other dossier or distortion uses", code)
            codes.add(code)
    return Scenario(agency, now, tuple(procedures), fields, tuple(dossiers), truth)


def _procedure(r: _Reader, value: Any, path: str) -> Procedure:
    raw = r.obj(value, path, ("code", "name", "field", "days"), ("day_kind",))
    day_kind = r.choice(raw.get("day_kind", "working"), f"{path}.day_kind", _DAY_KINDS)
    return Procedure(
        code=r.string(raw["code"], f"{path}.code"),
        name=r.string(raw["name"], f"{path}.name"),
        field_code=r.string(raw["field"], f"{path}.field"),
        days=r.integer(raw["days"], f"{path}.days", 1),
        working_days=day_kind == DayKind.WORKING,
    )


_DAY_KINDS = tuple(k.value for k in DayKind)
_EVENT_KINDS = tuple(k.value for k in EventKind)
_DOSSIER_KEYS = ("code", "procedure", "channel", "applicant", "events")
_DOSSIER_OPTIONAL = ("digitised", "due", "migrated", "city", "national")


def _dossier(r: _Reader, value: Any, path: str) -> ScenarioDossier:
    raw = r.obj(value, path, _DOSSIER_KEYS, _DOSSIER_OPTIONAL)
    applicant_raw = r.obj(raw["applicant"], f"{path}.applicant", ("name", "id_number", "phone"))
    applicant = Applicant(
        r.string(applicant_raw["name"], f"{path}.applicant.name"),
        r.string(applicant_raw["id_number"], f"{path}.applicant.id_number"),
        r.string(applicant_raw["phone"], f"{path}.applicant.phone"),
    )
    events = _events(r, raw["events"], f"{path}.events")
    migrated: datetime | None = None
    migrated_code = ""
    keeps_old_code = False
    if raw.get("migrated") is not None:
        here = f"{path}.migrated"
        migration = r.obj(raw["migrated"], here, ("at",), ("code", "keeps_old_code"))
        migrated = r.time(migration["at"], f"{here}.at")
        if "code" in migration:
            migrated_code = r.string(migration["code"], f"{here}.code")
        keeps_old_code = r.boolean(migration.get("keeps_old_code", False), f"{here}.keeps_old_code")
        if keeps_old_code and not migrated_code:
            r.fail(f"{here}.keeps_old_code", 'true only with a new "code"', True)
        if migrated < events[0].at:
            r.fail(
                f"{path}.migrated.at",
                f"a time at or after the first event ({events[0].at.isoformat()})",
                migration["at"],
            )
    channel = Channel(r.integer(raw["channel"], f"{path}.channel", 1, 3))
    city = _distortions(r, raw.get("city", []), f"{path}.city", Source.CITY, channel)
    default_national: Any = [{"kind": "missing"}] if migrated is not None else []
    national = _distortions(
        r, raw.get("national", default_national), f"{path}.national", Source.NATIONAL, channel
    )
    if any(isinstance(x, Missing) for x in city) and any(isinstance(x, Missing) for x in national):
        r.fail(f"{path}.city", "the dossier on at least one side (it is missing on both)")
    return ScenarioDossier(
        code=r.string(raw["code"], f"{path}.code"),
        procedure=r.string(raw["procedure"], f"{path}.procedure"),
        channel=channel,
        digitised=r.boolean(raw.get("digitised", False), f"{path}.digitised"),
        due=r.optional_time(raw.get("due"), f"{path}.due"),
        applicant=applicant,
        events=events,
        migrated=migrated,
        city=city,
        national=national,
        migrated_code=migrated_code,
        keeps_old_code=keeps_old_code,
    )


def _status_name(status: Status | None) -> str:
    return "nothing" if status is None else f"{int(status)} ({status.name.lower()})"


def _events(r: _Reader, value: Any, path: str) -> tuple[Event, ...]:
    items = r.array(value, path)
    if not items:
        r.fail(path, "at least one event", items)
    events: list[Event] = []
    status: Status | None = None
    previous: datetime | None = None
    for i, item in enumerate(items):
        here = f"{path}[{i}]"
        raw = r.obj(item, here, ("at", "event"), ("city_status", "due", "apology"))
        at = r.time(raw["at"], f"{here}.at")
        kind = EventKind(r.choice(raw["event"], f"{here}.event", _EVENT_KINDS))
        if previous is not None and at < previous:
            r.fail(
                f"{here}.at",
                f"a time at or after the previous event ({previous.isoformat()})",
                raw["at"],
            )
        if status not in ALLOWED_AFTER[kind]:
            allowed = sorted(k.value for k, after in ALLOWED_AFTER.items() if status in after)
            r.fail(
                f"{here}.event",
                f"an event that may follow status {_status_name(status)}: "
                + (", ".join(allowed) or "none (the lifecycle has ended)"),
                kind.value,
            )
        city_status = ""
        if "city_status" in raw:
            city_status = r.string(raw["city_status"], f"{here}.city_status")
        due = r.time(raw["due"], f"{here}.due") if "due" in raw else None
        apology = r.boolean(raw.get("apology", False), f"{here}.apology")
        if apology and due is None:
            r.fail(
                f"{here}.apology",
                'true only on an event that also has "due" (the date the letter moves it to)',
                raw["apology"],
            )
        events.append(Event(at, kind, city_status, due, apology))
        status, previous = STATUS_AFTER[kind], at
    return tuple(events)


_DISTORTION_KEYS: Mapping[str, tuple[str, ...]] = {
    "missing": (),
    "lag": ("events",),
    "collapsed": (),
    "rewritten_code": ("code",),
    "shifted": ("field", "days"),
    "duplicate": ("code",),
    "placeholder": (),
    "channel": ("channel",),
}


def _distortions(
    r: _Reader, value: Any, path: str, source: Source, channel: Channel
) -> tuple[Distortion, ...]:
    allowed = [k for k in DISTORTION_KINDS if source is Source.NATIONAL or k not in NATIONAL_ONLY]
    out: list[Distortion] = []
    seen: set[str] = set()
    for i, item in enumerate(r.array(value, path)):
        here = f"{path}[{i}]"
        if not isinstance(item, dict):
            r.fail(here, "an object", item)
        if "kind" not in item:
            raise ScenarioError(r.name, f"{here}.kind", "missing (it is required)")
        kind = r.choice(item["kind"], f"{here}.kind", allowed)
        raw = r.obj(item, here, ("kind", *_DISTORTION_KEYS[kind]))
        x = _distortion(r, kind, raw, here, channel)
        tag = f"shifted.{x.field}" if isinstance(x, Shifted) else kind
        if tag in seen:
            r.fail(f"{here}.kind", f"{kind} at most once per side (per field for shifted)", kind)
        seen.add(tag)
        out.append(x)
    if len(out) > 1 and any(isinstance(x, Missing) for x in out):
        r.fail(path, "nothing besides 'missing' (a missing record has no other distortion)")
    return tuple(out)


def _distortion(r: _Reader, kind: str, raw: dict[str, Any], path: str, true: Channel) -> Distortion:
    if kind == "missing":
        return Missing()
    if kind == "lag":
        return Lag(r.integer(raw["events"], f"{path}.events", 1))
    if kind == "collapsed":
        return Collapsed()
    if kind == "rewritten_code":
        return RewrittenCode(r.string(raw["code"], f"{path}.code"))
    if kind == "shifted":
        name = r.choice(raw["field"], f"{path}.field", SHIFTED_FIELDS)
        days = r.integer(raw["days"], f"{path}.days")
        if days == 0:
            r.fail(f"{path}.days", "a non-zero number of days", days)
        return Shifted(_SHIFTED[name], days)
    if kind == "duplicate":
        return Duplicate(r.string(raw["code"], f"{path}.code"))
    if kind == "placeholder":
        return Placeholder()
    channel = Channel(r.integer(raw["channel"], f"{path}.channel", 1, 3))
    if channel == true:
        r.fail(f"{path}.channel", f"a channel other than the dossier's own ({int(true)})", channel)
    return WrongChannel(channel)


# --------------------------------------------------------------------------------------------
# Writing


def _time(when: datetime) -> str:
    return when.astimezone(VN_TZ).isoformat()


def _event_json(e: Event) -> dict[str, Any]:
    out: dict[str, Any] = {"at": _time(e.at), "event": e.event.value}
    if e.city_status:
        out["city_status"] = e.city_status
    if e.due is not None:
        out["due"] = _time(e.due)
    if e.apology:
        out["apology"] = True
    return out


def distortion_json(x: Distortion) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": x.kind}
    if isinstance(x, Lag):
        out["events"] = x.events
    elif isinstance(x, RewrittenCode | Duplicate):
        out["code"] = x.code
    elif isinstance(x, Shifted):
        out["field"] = x.field
        out["days"] = x.days
    elif isinstance(x, WrongChannel):
        out["channel"] = int(x.channel)
    return out


def dossier_json(d: ScenarioDossier) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": d.code,
        "procedure": d.procedure,
        "channel": int(d.channel),
        "digitised": d.digitised,
        "due": None if d.due is None else _time(d.due),
        "applicant": {
            "name": d.applicant.name,
            "id_number": d.applicant.id_number,
            "phone": d.applicant.phone,
        },
        "events": [_event_json(e) for e in d.events],
    }
    if d.migrated is not None:
        out["migrated"] = {"at": _time(d.migrated)}
        if d.migrated_code:
            out["migrated"]["code"] = d.migrated_code
        if d.keeps_old_code:
            out["migrated"]["keeps_old_code"] = True
    if d.city:
        out["city"] = [distortion_json(x) for x in d.city]
    default_national = (Missing(),) if d.migrated is not None else ()
    if d.national != default_national:
        out["national"] = [distortion_json(x) for x in d.national]
    return out


_WIDTH = 100


def _pretty(value: Any, indent: str) -> str:
    """`value` as JSON on one line if it fits in `_WIDTH`, else one key or item a line,
    recursively; an item of a list (a record) always stays on one line."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(indent) + len(flat) <= _WIDTH or not isinstance(value, dict | list) or not value:
        return flat
    inner = indent + " "
    if isinstance(value, dict):
        items = [
            f"{inner}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, inner)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "}"
    return "[\n" + ",\n".join(f"{inner}{json.dumps(v, ensure_ascii=False)}" for v in value) + "]"


def dump(scenario: Scenario) -> str:
    """The scenario as JSON text that `loads` reads back equal: one procedure or dossier a line
    (and `truth`, when there is one, spread over lines to be read)."""

    def line(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    procedures = [
        {
            "code": p.code,
            "name": p.name,
            "field": p.field_code,
            "days": p.days,
            "day_kind": (DayKind.WORKING if p.working_days else DayKind.CALENDAR).value,
        }
        for p in scenario.procedures
    ]
    parts = [
        f'{{"format": {line(FORMAT)},',
        f' "agency": {line(scenario.agency)},',
        f' "now": {line(_time(scenario.now))},',
        f' "truth": {_pretty(dict(scenario.truth), " ")},' if scenario.truth else "",
        f' "fields": {line(dict(scenario.fields))},',
        ' "procedures": [',
        ",\n".join(f"  {line(p)}" for p in procedures),
        " ],",
        ' "dossiers": [',
        ",\n".join(f"  {line(dossier_json(d))}" for d in scenario.dossiers),
        " ]}",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def save(scenario: Scenario, path: str | os.PathLike[str]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(dump(scenario))


# --------------------------------------------------------------------------------------------
# Generating


_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"]
_MIDDLE = ["Văn", "Thị", "Minh", "Đức", "Thu", "Ngọc", "Quang", "Thanh"]
_GIVEN = ["An", "Bình", "Cường", "Dung", "Hà", "Hải", "Hương", "Khoa", "Lan", "Long", "Mai"]
_NAMES: Mapping[str, tuple[str, ...]] = {
    "DT": (
        "Cấp Giấy chứng nhận đăng ký đầu tư",
        "Điều chỉnh Giấy chứng nhận đăng ký đầu tư",
        "Chấp thuận chủ trương đầu tư",
        "Chuyển nhượng dự án đầu tư",
        "Chấm dứt hoạt động của dự án đầu tư",
    ),
    "LD": ("Cấp giấy phép lao động cho người lao động nước ngoài",),
    "MT": ("Cấp giấy phép môi trường", "Thẩm định báo cáo đánh giá tác động môi trường"),
    "DD": ("Giao đất, cho thuê đất trong khu kinh tế",),
    "TM": ("Cấp Giấy phép thành lập Văn phòng đại diện của thương nhân nước ngoài",),
    "XNK": ("Cấp Giấy chứng nhận xuất xứ hàng hóa",),
    "XD": ("Cấp giấy phép xây dựng", "Thẩm định thiết kế xây dựng triển khai sau thiết kế cơ sở"),
    "QH": ("Thẩm định, phê duyệt quy hoạch chi tiết xây dựng",),
}
_CITY_WORDS = ("waiting_signature", "waiting_interagency")
# The old system's cut-over, and how far back the generated dossiers go.
_WINDOW_DAYS = 75
_CUTOVER_BEFORE_NOW = timedelta(days=54)


def catalogue(rng: random.Random) -> tuple[Procedure, ...]:
    """The 54 procedures of the seed report, codes as `connectors.dataset.procedures()`."""
    out: list[Procedure] = []
    counters: dict[str, int] = {}
    for code, field_code in procedure_fields().items():
        k = counters[field_code] = counters.get(field_code, 0) + 1
        names = _NAMES[field_code]
        name = names[k - 1] if k <= len(names) else f"{names[0]} (trường hợp {k})"
        days = rng.choice([3, 5, 5, 7, 10, 15])
        out.append(Procedure(code, name, field_code, days, working_days=rng.random() >= 0.15))
    return tuple(out)


def add_days(start: datetime, procedure: Procedure, channel: Channel = Channel.ONLINE) -> datetime:
    """The due date on record, as the law gives it (`reconcile.deadlines.due_from`): `days`
    working days (Vietnamese holidays included) or calendar days, from the receipt day, a paper
    dossier after 15:00 counting from the next working day."""
    return due_from(start, channel, procedure, _CALENDAR)


def law_due(
    procedure: Procedure, received: datetime, channel: Channel, stops: Sequence[Pause] = ()
) -> datetime:
    """The due date the law gives a dossier received at `received` whose clock stopped as
    `stops` say (all ended): `reconcile.deadlines.computed_due` under the restart rule, with the
    Vietnamese calendar. What a system records when a stop ends."""
    probe = Dossier(
        source=Source.CITY,
        code="",
        procedure_code=procedure.code,
        field_code=procedure.field_code,
        channel=channel,
        status=Status.PROCESSING,
        received_at=received,
        updated_at=received,
        pauses=tuple(stops),
    )
    due = computed_due(probe, procedure, _CALENDAR)
    if due is None:
        raise ValueError("law_due needs stops that have all ended")
    return due


_CALENDAR = WorkingCalendar()


def _working_time(rng: random.Random, start: datetime, days: int) -> datetime:
    """A time in office hours on a weekday within `days` days from `start`."""
    while True:
        day = start + timedelta(days=rng.randrange(days))
        if day.weekday() < 5:
            return day.replace(hour=rng.randint(7, 16), minute=rng.randrange(60), second=0)


def _minutes(rng: random.Random, low: int, high: int) -> timedelta:
    return timedelta(minutes=rng.randint(low, high))


@dataclass
class _Life:
    """A lifecycle being written, one event after another."""

    events: list[Event] = field(default_factory=list)

    @property
    def last(self) -> datetime:
        return self.events[-1].at

    def add(
        self,
        at: datetime,
        kind: EventKind,
        city_status: str = "",
        due: datetime | None = None,
        apology: bool = False,
    ) -> datetime:
        at = max(at, self.last) if self.events else at
        self.events.append(Event(at, kind, city_status, due, apology))
        return at


def _lifecycle(
    rng: random.Random, received: datetime, procedure: Procedure, online: bool, words: bool
) -> tuple[list[Event], datetime | None]:
    """A plausible full lifecycle (future included) and the initial due date."""
    life = _Life()
    roll = rng.random()
    if roll < 0.03:
        life.add(received, EventKind.REGISTERED)
        if roll < 0.025:
            life.add(received + _minutes(rng, 60, 2880), EventKind.REFUSED)
        return life.events, None
    if online and rng.random() < 0.3:
        life.add(received - _minutes(rng, 30, 1440), EventKind.REGISTERED)
    life.add(received, EventKind.RECEIVED)
    channel = Channel.ONLINE if online else Channel.DIRECT
    due = add_days(received, procedure, channel)
    allowed = (due - received).total_seconds() / 60
    finish = received + timedelta(minutes=int(allowed * rng.uniform(0.3, 1.3)) + 60)
    life.add(received + _minutes(rng, 30, 240), EventKind.PROCESSING)
    if roll < 0.07:
        life.add(received + timedelta(days=rng.randint(1, procedure.days)), EventKind.WITHDRAWN)
        return life.events, due
    roll = rng.random()
    if roll < 0.10:
        asked = life.add(life.last + _minutes(rng, 600, 4320), EventKind.SUPPLEMENT_REQUESTED)
        if rng.random() < 0.25:  # never completed; sometimes given up
            if rng.random() < 0.3:
                life.add(asked + timedelta(days=rng.randint(10, 40)), EventKind.WITHDRAWN)
            return life.events, due
        done = asked + _minutes(rng, 1440, 8640)
        new_due = add_days(done, procedure, channel)  # the decree's restart rule
        life.add(done, EventKind.SUPPLEMENT_COMPLETED, due=new_due)
        finish = done + (finish - asked if finish > asked else _minutes(rng, 600, 4320))
    elif roll < 0.16:
        fees = roll < 0.14
        start_kind, end_kind = (
            (EventKind.FEES_REQUESTED, EventKind.FEES_PAID)
            if fees
            else (EventKind.STOPPED, EventKind.RESUMED)
        )
        asked = life.add(life.last + _minutes(rng, 600, 4320), start_kind)
        if rng.random() < (0.15 if fees else 0.4):
            return life.events, due
        ended = asked + (_minutes(rng, 1440, 5760) if fees else _minutes(rng, 2880, 14400))
        # The clock stood still: the due date moves by the working days stopped.
        stop = Pause(asked, ended, STOP_STARTS[start_kind])
        life.add(ended, end_kind, due=law_due(procedure, received, channel, (stop,)))
        finish = max(finish, ended + _minutes(rng, 120, 2880))
    current_due = next((e.due for e in reversed(life.events) if e.due is not None), due)
    if finish > current_due and rng.random() < 0.3:
        # An apology letter (Mẫu 04) a day before the deadline moves the date once.
        letter = current_due - timedelta(days=1)
        moved = current_due + timedelta(days=rng.randint(2, 7))
        life.add(letter, EventKind.PROCESSING, due=moved, apology=True)
    if words and rng.random() < 0.3:
        life.add(finish - _minutes(rng, 60, 1440), EventKind.PROCESSING, rng.choice(_CITY_WORDS))
    finished = life.add(finish, EventKind.FINISHED)
    if rng.random() < 0.95:
        life.add(finished + _minutes(rng, 60, 3600), EventKind.RETURNED)
    return life.events, due


def _applicant(rng: random.Random) -> Applicant:
    return Applicant(
        f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}",
        f"0{rng.randrange(10**10, 10**11)}",
        f"09{rng.randrange(10**7, 10**8)}",
    )


def _other_channel(rng: random.Random, channel: Channel) -> WrongChannel:
    return WrongChannel(rng.choice([c for c in Channel if c != channel]))


def _shifted(rng: random.Random) -> Shifted:
    return Shifted(rng.choice(SHIFTED_FIELDS), rng.choice([-1, 1, 1, 2, -7, 30]))


def generate(
    dossiers: int,
    seed: int,
    now: datetime = DEFAULT_NOW,
    *,
    kinds: Iterable[str] | None = None,
    city_words: bool = True,
) -> Scenario:
    """A realistic scenario of `dossiers` dossiers, the same for the same arguments.

    Dossiers are received in office hours over the 75 days before `now` (about 1% in the two
    days after it); about 2% of events fall after `now`. `kinds` limits the distortions used
    (names from `GENERATED_KINDS`, default all); `city_words=False` leaves every event's
    `city_status` empty (the mock then serves its default word for each status).
    """
    wanted = frozenset(GENERATED_KINDS if kinds is None else kinds)
    unknown = wanted - set(GENERATED_KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; expected some of {GENERATED_KINDS}")
    rng = random.Random(seed)
    procedures = catalogue(rng)
    now = now.astimezone(VN_TZ)
    start = (now - timedelta(days=_WINDOW_DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    cutover = (now - _CUTOVER_BEFORE_NOW).replace(hour=0, minute=0, second=0, microsecond=0)
    horizon = now + timedelta(days=2)

    plans: list[tuple[datetime, bool]] = []
    for _ in range(dossiers):
        migrated = "migrated" in wanted and rng.random() < 0.03
        if migrated:
            received = _working_time(rng, cutover - timedelta(days=100), 99)
        elif rng.random() < 0.01:
            received = now + _minutes(rng, 1, 2 * 1440)  # arrives as the mock clock runs
        else:
            received = _working_time(rng, start, _WINDOW_DAYS + 1)
            received = min(received, now)
        plans.append((received, migrated))
    plans.sort(key=lambda plan: plan[0])

    # Duplicates take the day's next numbers after all regular ones.
    per_day = Counter(received.strftime("%y%m%d") for received, _ in plans)
    duplicates: dict[str, int] = {}
    sequence: dict[str, int] = {}
    built: list[ScenarioDossier] = []
    short_agency = AGENCY_CODE.rsplit(".", 1)[0]
    for received, migrated in plans:
        day = received.strftime("%y%m%d")
        number = sequence[day] = sequence.get(day, 0) + 1
        code = f"{AGENCY_CODE}-{day}-{number:04d}"
        procedure = rng.choice(procedures)
        channel = rng.choices([Channel.ONLINE, Channel.DIRECT, Channel.POSTAL], [70, 25, 5])[0]
        events, due = _lifecycle(rng, received, procedure, channel is Channel.ONLINE, city_words)
        events = [e for e in events if e.at <= horizon]
        city: list[Distortion] = []
        national: list[Distortion] = []
        extras: list[tuple[list[Distortion], str]] = []
        if migrated:
            national.append(Missing())
            if rng.random() < 0.1:
                national.clear()  # the old system had pushed it after all
        else:
            roll = rng.random()
            if roll < 0.06 and "missing" in wanted:
                national.append(Missing())
            elif roll < 0.07 and "missing" in wanted:
                city.append(Missing())
            else:
                _distort(rng, wanted, events, channel, city, national, extras)
        for side, kind in extras:
            if kind == "rewritten_code":
                side.append(RewrittenCode(code))
                code = f"{short_agency}-{day}-{number:04d}"
            else:
                duplicates[day] = duplicates.get(day, 0) + 1
                side.append(Duplicate(f"{AGENCY_CODE}-{day}-{per_day[day] + duplicates[day]:04d}"))
        built.append(
            ScenarioDossier(
                code=code,
                procedure=procedure.code,
                channel=channel,
                digitised=rng.random() < 0.97,
                due=due,
                applicant=_applicant(rng),
                events=tuple(events),
                migrated=cutover if migrated else None,
                city=tuple(city),
                national=tuple(national),
            )
        )
    return Scenario(AGENCY_CODE, now, procedures, dict(FIELDS), tuple(built))


def _distort(
    rng: random.Random,
    wanted: frozenset[str],
    events: Sequence[Event],
    channel: Channel,
    city: list[Distortion],
    national: list[Distortion],
    extras: list[tuple[list[Distortion], str]],
) -> None:
    def pick(kind: str, rate: float) -> bool:
        return kind in wanted and rng.random() < rate

    if pick("lag", 0.10):
        national.append(Lag(1 if rng.random() < 0.8 else 2))
    if pick("lag", 0.01):
        city.append(Lag(1))
    if any(e.status in _COLLAPSING for e in events) and pick("collapsed", 0.5):
        national.append(Collapsed())
    if pick("rewritten_code", 0.015):
        extras.append((national, "rewritten_code"))
    if pick("shifted", 0.015):
        national.append(_shifted(rng))
    if pick("shifted", 0.005):
        city.append(_shifted(rng))
    if pick("duplicate", 0.012):
        extras.append((national, "duplicate"))
    if pick("duplicate", 0.003):
        extras.append((city, "duplicate"))
    if pick("placeholder", 0.015):
        national.append(Placeholder())
    if pick("placeholder", 0.005):
        city.append(Placeholder())
    if pick("channel", 0.015):
        national.append(_other_channel(rng, channel))
    if pick("channel", 0.005):
        city.append(_other_channel(rng, channel))


SEED_SCENARIO = "heza-2024-07.json"


def seed_scenario_path() -> Path:
    """The seed scenario (HEZA, July 2024): `connectors/scenarios/` when installed, `scenarios/`
    in a source tree."""
    here = Path(__file__).resolve().parent
    for candidate in (
        here / "scenarios" / SEED_SCENARIO,
        here.parent / "scenarios" / SEED_SCENARIO,
    ):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"the seed scenario {SEED_SCENARIO} is not installed beside {here}")
