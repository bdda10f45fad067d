"""The canonical dossier: what either portal says about one dossier, in one shape.

Both connectors translate their wire format into `Dossier`; everything downstream (store,
compare, counts) speaks only this model. Times are timezone-aware and normalised to
Asia/Ho_Chi_Minh (UTC+7 all year: Vietnam has had no daylight saving time since 1975, so a
fixed offset is exact and needs no tz database).

Personal data (applicant name, ID number, phone) is deliberately absent: reconciliation does
not need it, so connectors drop it at the edge. What matching needs of it, `identity`, is a
salted hash the connectors compute there.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

VN_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


class Status(enum.IntEnum):
    """National status codes (TrangThaiHoSo), DOMAIN.md §3."""

    REGISTERED = 1  # Mới đăng ký
    ACCEPTED = 2  # Được tiếp nhận
    REFUSED = 3  # Không được tiếp nhận
    PROCESSING = 4  # Đang xử lý
    SUPPLEMENT_REQUESTED = 5  # Yêu cầu bổ sung giấy tờ
    AWAITING_FEES = 6  # Yêu cầu thực hiện nghĩa vụ tài chính
    WITHDRAWN = 7  # Công dân yêu cầu rút hồ sơ
    STOPPED = 8  # Dừng xử lý
    FINISHED = 9  # Đã xử lý xong
    RETURNED = 10  # Đã trả kết quả

    @property
    def counted(self) -> bool:
        return self not in NOT_COUNTED

    @property
    def finished(self) -> bool:
        return self in FINISHED_STATUSES

    @property
    def clock_stopped(self) -> bool:
        return self in CLOCK_STOPPED_STATUSES


NOT_COUNTED = frozenset({Status.REGISTERED, Status.REFUSED})
FINISHED_STATUSES = frozenset({Status.WITHDRAWN, Status.FINISHED, Status.RETURNED})
CLOCK_STOPPED_STATUSES = frozenset(
    {Status.SUPPLEMENT_REQUESTED, Status.AWAITING_FEES, Status.STOPPED}
)


class Channel(enum.IntEnum):
    """KenhThucHien."""

    DIRECT = 1
    ONLINE = 2
    POSTAL = 3


class Source(enum.StrEnum):
    CITY = "city"
    NATIONAL = "national"


class StopKind(enum.StrEnum):
    """Why a dossier's clock stopped (DOMAIN.md §3, §7): the statuses 5, 6 and 8."""

    SUPPLEMENT = "supplement"  # 5, Yêu cầu bổ sung giấy tờ
    FEES = "fees"  # 6, Yêu cầu thực hiện nghĩa vụ tài chính
    STOPPED = "stopped"  # 8, Dừng xử lý


# The clock-stopping status each kind of stop is, and back.
STOP_STATUS: dict[StopKind, Status] = {
    StopKind.SUPPLEMENT: Status.SUPPLEMENT_REQUESTED,
    StopKind.FEES: Status.AWAITING_FEES,
    StopKind.STOPPED: Status.STOPPED,
}
STOP_OF_STATUS: dict[Status, StopKind] = {status: kind for kind, status in STOP_STATUS.items()}


@dataclass(frozen=True, slots=True)
class Pause:
    """One stop of the clock, kept as history once it ends: the clock stops at `requested_at`
    (a supplement request, a fee request, processing stopped: `kind`) until `resumed_at` (the
    complete dossier received, the fees paid, processing resumed; None while in force).

    `due_before` is the due date on record when the stop began (the national portal's
    NgayHenTraTruoc), None when the source does not say: ending a stop may move the due date
    (a supplement under the restart rule), and a past period must be judged on the date in
    force then (`Dossier.due_at_end_of`). The class keeps its first name, `Pause`, for the
    supplement requests it first described."""

    requested_at: datetime
    resumed_at: datetime | None = None
    kind: StopKind = StopKind.SUPPLEMENT
    due_before: datetime | None = None

    def in_force_at_end_of(self, day: date) -> bool:
        if local_date(self.requested_at) > day:
            return False
        return self.resumed_at is None or local_date(self.resumed_at) > day


@dataclass(frozen=True, slots=True)
class Dossier:
    """One dossier as one source system records it."""

    source: Source
    code: str
    procedure_code: str
    field_code: str
    channel: Channel
    status: Status
    received_at: datetime
    updated_at: datetime
    due_at: datetime | None = None
    finished_at: datetime | None = None
    returned_at: datetime | None = None
    # When the apology letter (Mẫu 04, "Phiếu xin lỗi và hẹn lại ngày trả kết quả") that moved
    # `due_at` was sent; None when no letter is on record (DOMAIN.md §6, overdue handling).
    apology_at: datetime | None = None
    alt_codes: tuple[str, ...] = ()
    pauses: tuple[Pause, ...] = ()
    digitised: bool = False
    native_status: str = ""
    # A salted hash of the applicant's identity, computed by the connectors at the edge so no
    # personal data enters the core; "" when unknown or a placeholder ("000000001").
    identity: str = ""

    @property
    def version(self) -> int:
        """Monotonic version used by idempotent upserts: updated_at in microseconds."""
        return to_micros(self.updated_at)

    def finish_date(self) -> date | None:
        """The date processing ended (DOMAIN.md §7): the finish date, else the return date.

        Only a dossier in a finished status (7, 9, 10) has one; a withdrawn dossier's
        finish date is its withdrawal date, carried in `finished_at`. A finished dossier with
        neither date recorded falls back to the date of its last update, so it is still
        counted once rather than silently treated as open.
        """
        if not self.status.finished:
            return None
        when = self.finished_at or self.returned_at or self.updated_at
        return local_date(when)

    @property
    def supplements(self) -> tuple[Pause, ...]:
        """The supplement requests among the clock stops."""
        return tuple(p for p in self.pauses if p.kind is StopKind.SUPPLEMENT)

    def clock_stopped_at_end_of(self, day: date) -> bool:
        """Whether a stop of the clock (supplement, fees, stopped: DOMAIN.md §7) was in force
        at the end of `day`, from the stops' dates: a stop that ended later still stopped the
        clock on `day`. A record in status 5, 6 or 8 with no open stop of that kind on record
        (a source that does not date its stops, such as the national portal for fees and
        stops, or a record stored before stops were kept) is taken as stopped from its last
        update on: all its status tells."""
        if any(p.in_force_at_end_of(day) for p in self.pauses):
            return True
        if not self.status.clock_stopped or local_date(self.updated_at) > day:
            return False
        kind = STOP_OF_STATUS[self.status]
        return not any(p.kind is kind and p.resumed_at is None for p in self.pauses)

    def due_at_end_of(self, day: date) -> datetime | None:
        """The due date on record at the end of `day`: the date before the first stop that
        began after `day` when that stop recorded it (ending it may have moved the date: a
        supplement restarts the time), else the date on record now. An apology letter (Mẫu 04)
        dated after `day` replaced a date that was itself after `day` (the law has it sent at
        least a day before the deadline), so it changes nothing on `day`."""
        later = [p for p in self.pauses if local_date(p.requested_at) > day]
        if later:
            first = min(later, key=lambda p: to_micros(local(p.requested_at)))
            if first.due_before is not None:
                return first.due_before
        return self.due_at


@dataclass(frozen=True, slots=True)
class Procedure:
    """A procedure (TTHC) of the national catalogue with its legal resolution time."""

    code: str
    name: str
    field_code: str
    days: int
    working_days: bool = True  # False: the law counts calendar days


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_micros(when: datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def local_date(when: datetime) -> date:
    return local(when).date()


def local(when: datetime) -> datetime:
    """`when` on the Asia/Ho_Chi_Minh clock; naive values are taken to be local already."""
    if when.tzinfo is None:
        return when.replace(tzinfo=VN_TZ)
    return when.astimezone(VN_TZ)
