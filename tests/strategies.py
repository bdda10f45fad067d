"""Hypothesis strategies and small builders for the `reconcile` core's tests."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import strategies as st

from reconcile.model import VN_TZ, Channel, Dossier, Pause, Source, Status, StopKind

# A realistic dossier code (Circular 01/2018, Art. 19): <agency>-YYMMDD-XXXX.
_AGENCIES = ("000.00.45.H26", "000.00.12.H26", "H26.45")

dossier_codes: st.SearchStrategy[str] = st.builds(
    lambda agency, day, seq: f"{agency}-{day:%y%m%d}-{seq:04d}",
    st.sampled_from(_AGENCIES),
    st.dates(min_value=date(2018, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=0, max_value=9999),
)

# Free text for the remaining string fields: any printable text, Vietnamese included.
_texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)

# Salted identity hashes as the connectors compute them ("" = unknown or placeholder); a small
# pool, so that two records share one often.
identities: st.SearchStrategy[str] = st.just("") | st.sampled_from(
    ("3f9a1c0d5e7b2a64", "b41e07c9d2a85f13", "0c6d8e2f4a1b9357")
)

_NATIVE_STATUSES = ("processing", "done", "Chờ ký duyệt", "Đang xử lý", "waiting_signature")


_DAY_US = 86_400 * 1_000_000
_HOUR_US = 3_600 * 1_000_000
# Times of day worth hitting often: local midnight, UTC midnight (07:00 local), the usual
# due time (17:00), the last microsecond of the day.
_EDGE_TIMES = (0, 7 * _HOUR_US - 1, 7 * _HOUR_US, 17 * _HOUR_US, _DAY_US - 1)


def _on_day(day: date, micros: int) -> datetime:
    return datetime.combine(day, time.min, tzinfo=VN_TZ) + timedelta(microseconds=micros)


def local_datetimes(
    min_day: date = date(2015, 1, 1), max_day: date = date(2030, 12, 31)
) -> st.SearchStrategy[datetime]:
    """Timezone-aware datetimes on the Asia/Ho_Chi_Minh clock, to the microsecond.

    Built from a date and a time of day (cheaper to generate than `st.datetimes`), with
    times near local and UTC midnight drawn often.
    """
    return st.builds(
        _on_day,
        st.dates(min_value=min_day, max_value=max_day),
        st.sampled_from(_EDGE_TIMES) | st.integers(min_value=0, max_value=_DAY_US - 1),
    )


@st.composite
def _pauses(draw: st.DrawFn, when: st.SearchStrategy[datetime]) -> Pause:
    return Pause(
        draw(when), draw(st.none() | when), draw(st.sampled_from(StopKind)), draw(st.none() | when)
    )


def dossiers(
    source: Source | None = None,
    code: str | None = None,
    *,
    min_day: date = date(2015, 1, 1),
    max_day: date = date(2030, 12, 31),
    field_codes: tuple[str, ...] | None = None,
) -> st.SearchStrategy[Dossier]:
    """Any `Dossier`; `source` and `code` pin those fields, the rest vary freely.

    Dates are drawn independently of each other (a finish date may precede the receipt
    date), so code under test sees inconsistent data as well as consistent data.
    """
    when = local_datetimes(min_day, max_day)
    maybe_when = st.none() | when
    if field_codes:
        fields = st.sampled_from(field_codes)
    else:
        fields = st.sampled_from(("DT", "LD", "MT", "DD", "TM", "XNK", "XD", "QH")) | _texts
    return st.builds(
        Dossier,
        source=st.just(source) if source is not None else st.sampled_from(Source),
        code=st.just(code) if code is not None else dossier_codes | _texts,
        procedure_code=st.sampled_from(("1.009876", "2.001234", "")) | _texts,
        field_code=fields,
        channel=st.sampled_from(Channel),
        status=st.sampled_from(Status),
        received_at=when,
        updated_at=when,
        due_at=maybe_when,
        finished_at=maybe_when,
        returned_at=maybe_when,
        alt_codes=st.lists(dossier_codes | _texts, max_size=3).map(tuple),
        pauses=st.lists(_pauses(when), max_size=3).map(tuple),
        digitised=st.booleans(),
        native_status=st.just("") | st.sampled_from(_NATIVE_STATUSES) | _texts,
        identity=identities,
    )


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """A time on the Asia/Ho_Chi_Minh clock."""
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


def build_dossier(
    *,
    received_at: datetime,
    status: Status = Status.PROCESSING,
    channel: Channel = Channel.DIRECT,
    field_code: str = "DT",
    code: str = "000.00.45.H26-240701-0001",
    source: Source = Source.CITY,
    updated_at: datetime | None = None,
    due_at: datetime | None = None,
    finished_at: datetime | None = None,
    returned_at: datetime | None = None,
    pauses: tuple[Pause, ...] = (),
    identity: str = "",
    apology_at: datetime | None = None,
    digitised: bool = False,
) -> Dossier:
    """A hand-built dossier; `updated_at` defaults to the receipt time."""
    return Dossier(
        source=source,
        code=code,
        procedure_code="1.009876",
        field_code=field_code,
        channel=channel,
        status=status,
        received_at=received_at,
        updated_at=updated_at if updated_at is not None else received_at,
        due_at=due_at,
        finished_at=finished_at,
        returned_at=returned_at,
        pauses=pauses,
        identity=identity,
        apology_at=apology_at,
        digitised=digitised,
    )
