"""A generated set of dossiers that both mock portals serve, with known disagreements.

Deterministic from a seed. The city side holds every dossier's true lifecycle; the national side
is derived from it with the distortions of DOMAIN.md §5 that the walking skeleton reconciles:

- missing on the national portal (a push that never happened);
- status lag (the national portal still shows an earlier status);
- collapsed status (a dossier paused under 5, 6 or 8 shown as 9, finished);
- missing on the city system (a record only the national portal has).

`Dataset.expected` says, per dossier code, which mismatch kinds reconciliation must find.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from reconcile.compare import MismatchKind
from reconcile.model import VN_TZ, Channel, Dossier, Pause, Source, Status

AGENCY_CODE = "000.00.45.H26"
# The 54 procedures of Decision 4356/QĐ-UBND by field, as the seed report lists them.
PROCEDURES_PER_FIELD = {"DT": 23, "LD": 1, "MT": 9, "DD": 5, "TM": 5, "XNK": 2, "XD": 5, "QH": 4}
DEFAULT_NOW = datetime(2024, 7, 25, 17, 0, tzinfo=VN_TZ)

_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"]
_MIDDLE = ["Văn", "Thị", "Minh", "Đức", "Thu", "Ngọc", "Quang", "Thanh"]
_GIVEN = ["An", "Bình", "Cường", "Dung", "Hà", "Hải", "Hương", "Khoa", "Lan", "Long", "Mai"]


@dataclass(frozen=True, slots=True)
class Applicant:
    """Personal data the portals carry and syncd must never store or log."""

    name: str
    id_number: str
    phone: str


@dataclass(frozen=True)
class Dataset:
    city: tuple[Dossier, ...]
    national: tuple[Dossier, ...]
    applicants: Mapping[str, Applicant]
    expected: Mapping[str, frozenset[MismatchKind]] = field(default_factory=dict)
    procedures: Mapping[str, str] = field(default_factory=dict)  # procedure code -> field code


def procedures() -> dict[str, str]:
    catalogue: dict[str, str] = {}
    number = 9000
    for field_code, count in PROCEDURES_PER_FIELD.items():
        for _ in range(count):
            number += 7
            catalogue[f"1.00{number}"] = field_code
    return catalogue


def _working_time(rng: random.Random, start: datetime, end: datetime) -> datetime:
    while True:
        day = start + timedelta(days=rng.randrange((end - start).days + 1))
        if day.weekday() < 5:
            return day.replace(hour=rng.randint(7, 16), minute=rng.randrange(60), second=0)


def _lifecycle(rng: random.Random, base: Dossier, days_allowed: int, now: datetime) -> Dossier:
    """Advance a freshly received dossier along a plausible lifecycle up to `now`."""
    received = base.received_at
    due = (received + timedelta(days=days_allowed)).replace(hour=17, minute=0)
    d = replace(base, due_at=due, status=Status.ACCEPTED)
    roll = rng.random()
    if roll < 0.03:
        return replace(d, status=Status.REFUSED, due_at=None, updated_at=received)
    if roll < 0.07:
        withdrawn = min(received + timedelta(days=rng.randint(1, days_allowed)), now)
        return replace(d, status=Status.WITHDRAWN, finished_at=withdrawn, updated_at=withdrawn)
    finish = received + timedelta(minutes=int(days_allowed * 1440 * rng.uniform(0.3, 1.4)) + 60)
    if finish <= now:
        returned = finish + timedelta(hours=rng.randint(1, 60))
        if returned <= now:
            return replace(
                d,
                status=Status.RETURNED,
                finished_at=finish,
                returned_at=returned,
                updated_at=returned,
            )
        return replace(d, status=Status.FINISHED, finished_at=finish, updated_at=finish)
    started = min(received + timedelta(hours=2), now)
    roll = rng.random()
    if roll < 0.10:
        paused = min(received + timedelta(days=1), now)
        return replace(
            d, status=Status.SUPPLEMENT_REQUESTED, pauses=(Pause(paused),), updated_at=paused
        )
    if roll < 0.14:
        return replace(d, status=Status.AWAITING_FEES, updated_at=started)
    if roll < 0.16:
        return replace(d, status=Status.STOPPED, updated_at=started)
    if received > now - timedelta(days=1):
        return replace(d, updated_at=received)
    return replace(d, status=Status.PROCESSING, updated_at=started)


_LAG = {
    Status.RETURNED: Status.PROCESSING,
    Status.FINISHED: Status.PROCESSING,
    Status.PROCESSING: Status.ACCEPTED,
}


def generate(dossiers: int = 300, seed: int = 7, now: datetime = DEFAULT_NOW) -> Dataset:
    rng = random.Random(seed)
    catalogue = procedures()
    codes = sorted(catalogue)
    start = now - timedelta(days=75)
    sequence: dict[str, int] = {}
    city: list[Dossier] = []
    applicants: dict[str, Applicant] = {}
    for _ in range(dossiers):
        received = _working_time(rng, start, now)
        day = received.strftime("%y%m%d")
        sequence[day] = sequence.get(day, 0) + 1
        code = f"{AGENCY_CODE}-{day}-{sequence[day]:04d}"
        procedure = rng.choice(codes)
        channel = rng.choices([Channel.ONLINE, Channel.DIRECT, Channel.POSTAL], [70, 25, 5])[0]
        base = Dossier(
            source=Source.CITY,
            code=code,
            procedure_code=procedure,
            field_code=catalogue[procedure],
            channel=channel,
            status=Status.ACCEPTED,
            received_at=received,
            updated_at=received,
            digitised=rng.random() < 0.97,
        )
        city.append(_lifecycle(rng, base, rng.choice([3, 5, 7, 10, 15]), now))
        applicants[code] = Applicant(
            f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}",
            f"0{rng.randrange(10**10, 10**11)}",
            f"09{rng.randrange(10**7, 10**8)}",
        )

    national: list[Dossier] = []
    expected: dict[str, frozenset[MismatchKind]] = {}
    for d in city:
        mirrored = replace(d, source=Source.NATIONAL, native_status="")
        if not d.status.counted:
            if rng.random() < 0.5:
                national.append(mirrored)
            continue
        roll = rng.random()
        if roll < 0.06:
            expected[d.code] = frozenset({MismatchKind.MISSING_NATIONAL})
            continue
        if d.status.clock_stopped and roll < 0.5:
            mirrored = replace(mirrored, status=Status.FINISHED, finished_at=d.updated_at)
            expected[d.code] = frozenset({MismatchKind.STATUS})
        elif d.status in _LAG and roll < 0.16:
            lagging = _LAG[d.status]
            stale_at = d.received_at + timedelta(hours=1)
            mirrored = replace(
                mirrored, status=lagging, finished_at=None, returned_at=None, updated_at=stale_at
            )
            expected[d.code] = frozenset({MismatchKind.STATUS})
        national.append(mirrored)

    orphans = max(1, dossiers // 50)
    for number in range(orphans):
        received = _working_time(rng, start, now)
        code = f"{AGENCY_CODE}-{received:%y%m%d}-{9000 + number:04d}"
        procedure = rng.choice(codes)
        national.append(
            Dossier(
                source=Source.NATIONAL,
                code=code,
                procedure_code=procedure,
                field_code=catalogue[procedure],
                channel=Channel.ONLINE,
                status=Status.PROCESSING,
                received_at=received,
                updated_at=received,
                due_at=received + timedelta(days=7),
            )
        )
        applicants[code] = Applicant("Lê Văn Bình", "000000001", "0900000000")
        expected[code] = frozenset({MismatchKind.MISSING_CITY})
    return Dataset(tuple(city), tuple(national), applicants, expected, catalogue)
