"""Build `scenarios/heza-2024-07.json`: the seed report's month as a scenario (DOMAIN.md §8).

Report 321/BC-BQL of the Hai Phong Economic Zone Authority (HEZA, agency 000.00.45.H26) says that
from 20/6/2024 to 19/7/2024 (period "2024-07", cut-off day 20) it resolved 77 dossiers on the city
one-stop system, 8 of them late, received 53 online and digitised 100% — and that dossiers
processed and returned long ago on the old system were carried into the new one automatically,
so "the report's figures do not match reality". This scenario reproduces exactly those raw city
figures, and the reality behind them:

- 11 dossiers of the old system (returned between January and 21/6) were converted into the city
  system on 24/6/2024 (`migrated.at`): the city shows them received and resolved on 24/6, in the
  period; five kept their old due date and look resolved late, three lost it in the conversion,
  three were returned on the old system in June (it ran in parallel until the cut-over);
- one dossier was entered twice on the city system, one is missing from it (the national portal
  has it);
- the national portal's sync faults: lost pushes, lagging and collapsed statuses, a rewritten
  code, shifted dates, placeholder personal data, a wrong channel;
- ordinary lifecycles: supplement requests (the new due date under the restart rule), apology
  letters (Mẫu 04), a withdrawal, a refusal, dossiers carried over from before 20/6 (paper ones
  among them: the period has none), dossiers still open on 19/7 (two overdue).

Due dates on record are the law's (`reconcile.deadlines.computed_due` with the Vietnamese
calendar: the 30/4-1/5/2024 holidays and the make-up Saturday 4/5 fall inside the first carried
over dossiers' time), moved only by a supplement (restart), the end of a fee request (the days it
lasted) or an apology letter.

The file's `truth` documents the figures, computed here from ground truth, not by the engine:

- `raw_city` / `raw_national`: `reconcile.counts.counts` of each portal's view at `now`;
- `reconciled`: the counts of the TRUE records: for each dossier not migrated, the city's record
  (the city is the authority for every field; its duplicate counts once), or the national one
  when the city lacks the dossier. Migrated dossiers belong to no period of the new system.

Run `.venv/bin/python scenarios/build_heza.py` to write the file and its recoded variant
(`heza-2024-07-recoded.json`, `recode`: the old dossiers given new codes at the cut-over);
`build()` returns the scenario, `build(recoded=True)` the variant.
Everything is deterministic: no randomness, no clock.
"""

from __future__ import annotations

import hashlib
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.dataset import AGENCY_CODE, Applicant, Dataset
from connectors.dataset import procedures as procedure_fields
from connectors.scenario import (
    DISTORTION_KINDS,
    FIELDS,
    STOP_ENDS,
    STOP_STARTS,
    Collapsed,
    Distortion,
    Duplicate,
    Event,
    EventKind,
    Lag,
    Missing,
    Placeholder,
    RewrittenCode,
    Scenario,
    ScenarioDossier,
    Shifted,
    WrongChannel,
    dump,
    law_due,
)
from reconcile.calendar import WorkingCalendar
from reconcile.counts import COLUMNS, cells_of, counts
from reconcile.deadlines import DUE_TIME
from reconcile.model import VN_TZ, Channel, Dossier, Pause, Procedure, local_date
from reconcile.period import Period

PATH = Path(__file__).resolve().with_name("heza-2024-07.json")
# The same month where the conversion gave the old dossiers new codes dated at the cut-over.
RECODED_PATH = Path(__file__).resolve().with_name("heza-2024-07-recoded.json")
NOW = datetime(2024, 7, 20, 8, 0, tzinfo=VN_TZ)  # the morning after the period ends
PERIOD = Period.parse("2024-07")  # 20/6/2024 - 19/7/2024
CUTOVER = datetime(2024, 6, 24, tzinfo=VN_TZ)  # the old system's dossiers converted
CALENDAR = WorkingCalendar()
FIELD_ORDER: tuple[str, ...] = tuple(FIELDS)  # the rows of config/syncd.toml [report.fields]
SHORT_AGENCY = AGENCY_CODE.rsplit(".", 1)[0]  # a code without the province identifier (.H26)

# What report 321/BC-BQL states for the period, as the city system's own figures.
SEED = {"received_online": 53, "received_other": 0, "resolved": 77, "resolved_late": 8}

# --------------------------------------------------------------------------------------------
# The 54 procedures of Decision 4356/QĐ-UBND (15/12/2023) by field, in the order of
# `connectors.dataset.procedures()` (whose codes they take): name, days, working or calendar days.
# Times are the reduced ones the decision published ("54 TTHC cắt giảm thời gian giải quyết").

# fmt: off
CATALOGUE: Mapping[str, Sequence[str]] = {  # "days W|C name": working or calendar days
    "DT": (
        "30 W Chấp thuận chủ trương đầu tư của Ban Quản lý khu kinh tế",
        "25 W Điều chỉnh văn bản chấp thuận chủ trương đầu tư của Ban Quản lý khu kinh tế",
        "10 W Cấp Giấy chứng nhận đăng ký đầu tư đối với dự án không thuộc diện chấp thuận "
        "chủ trương đầu tư",
        "3 W Cấp Giấy chứng nhận đăng ký đầu tư đối với dự án thuộc diện chấp thuận chủ trương "
        "đầu tư",
        "7 W Điều chỉnh Giấy chứng nhận đăng ký đầu tư đối với trường hợp không thuộc diện "
        "chấp thuận điều chỉnh chủ trương đầu tư",
        "10 W Điều chỉnh dự án đầu tư trong trường hợp chuyển nhượng dự án đầu tư",
        "10 W Điều chỉnh dự án đầu tư trong trường hợp chia, tách, sáp nhập dự án đầu tư",
        "10 W Điều chỉnh dự án đầu tư trong trường hợp sáp nhập, hợp nhất, chia, tách tổ chức "
        "kinh tế thực hiện dự án",
        "10 W Điều chỉnh dự án đầu tư theo bản án, quyết định của tòa án, trọng tài",
        "10 W Điều chỉnh dự án đầu tư trong trường hợp nhà đầu tư sử dụng dự án đầu tư để góp "
        "vốn vào doanh nghiệp",
        "10 W Điều chỉnh dự án đầu tư trong trường hợp nhận chuyển nhượng dự án đầu tư là tài "
        "sản bảo đảm",
        "20 W Gia hạn thời hạn hoạt động của dự án đầu tư",
        "7 W Ngừng hoạt động của dự án đầu tư",
        "10 W Chấm dứt hoạt động của dự án đầu tư",
        "3 W Cấp lại Giấy chứng nhận đăng ký đầu tư",
        "3 W Hiệu đính thông tin trên Giấy chứng nhận đăng ký đầu tư",
        "5 W Nộp lại Giấy chứng nhận đăng ký đầu tư",
        "3 W Đổi Giấy chứng nhận đăng ký đầu tư",
        "5 W Cung cấp thông tin về dự án đầu tư",
        "20 W Bảo đảm đầu tư trong trường hợp không được tiếp tục áp dụng ưu đãi đầu tư",
        "10 W Đăng ký góp vốn, mua cổ phần, mua phần vốn góp của nhà đầu tư nước ngoài vào tổ "
        "chức kinh tế",
        "10 W Thành lập văn phòng điều hành của nhà đầu tư nước ngoài trong hợp đồng BCC",
        "10 W Chấm dứt hoạt động văn phòng điều hành của nhà đầu tư nước ngoài trong hợp đồng "
        "BCC",
    ),
    "LD": (
        "5 W Cấp giấy phép lao động cho người lao động nước ngoài làm việc tại khu công "
        "nghiệp, khu kinh tế",
    ),
    "MT": (
        "30 C Cấp giấy phép môi trường",
        "10 W Cấp đổi giấy phép môi trường",
        "15 W Cấp điều chỉnh giấy phép môi trường",
        "20 W Cấp lại giấy phép môi trường",
        "25 C Thẩm định báo cáo đánh giá tác động môi trường",
        "5 W Đăng ký môi trường",
        "10 W Kiểm tra việc vận hành thử nghiệm công trình xử lý chất thải",
        "15 W Chấp thuận tách đấu nối khỏi hệ thống thu gom, xử lý nước thải tập trung của khu "
        "công nghiệp",
        "20 W Chấp thuận về môi trường đối với thay đổi trong quá trình triển khai dự án đầu tư",
    ),
    "DD": (
        "15 W Giao đất, cho thuê đất không thông qua đấu giá quyền sử dụng đất trong khu kinh "
        "tế",
        "15 W Điều chỉnh quyết định giao đất, cho thuê đất trong khu kinh tế",
        "10 W Gia hạn sử dụng đất trong khu kinh tế",
        "20 W Chuyển từ hình thức thuê đất trả tiền thuê đất hằng năm sang thuê đất trả tiền "
        "thuê đất một lần cho cả thời gian thuê",
        "10 W Thu hồi đất do người sử dụng đất tự nguyện trả lại đất trong khu kinh tế",
    ),
    "TM": (
        "7 W Cấp Giấy phép thành lập Văn phòng đại diện của thương nhân nước ngoài tại Việt Nam",
        "5 W Cấp lại Giấy phép thành lập Văn phòng đại diện của thương nhân nước ngoài tại "
        "Việt Nam",
        "5 W Điều chỉnh Giấy phép thành lập Văn phòng đại diện của thương nhân nước ngoài tại "
        "Việt Nam",
        "5 W Gia hạn Giấy phép thành lập Văn phòng đại diện của thương nhân nước ngoài tại "
        "Việt Nam",
        "5 W Chấm dứt hoạt động của Văn phòng đại diện của thương nhân nước ngoài tại Việt Nam",
    ),
    "XNK": (
        "3 W Cấp Giấy chứng nhận xuất xứ hàng hóa (C/O) ưu đãi",
        "3 W Cấp lại Giấy chứng nhận xuất xứ hàng hóa (C/O) ưu đãi",
    ),
    "XD": (
        "15 W Cấp giấy phép xây dựng mới đối với công trình không theo tuyến",
        "15 W Cấp giấy phép xây dựng sửa chữa, cải tạo công trình",
        "15 W Điều chỉnh giấy phép xây dựng",
        "5 W Gia hạn giấy phép xây dựng",
        "25 W Thẩm định thiết kế xây dựng triển khai sau thiết kế cơ sở",
    ),
    "QH": (
        "15 W Thẩm định, phê duyệt nhiệm vụ quy hoạch chi tiết xây dựng",
        "25 W Thẩm định, phê duyệt đồ án quy hoạch chi tiết xây dựng",
        "20 W Thẩm định, phê duyệt điều chỉnh cục bộ quy hoạch chi tiết xây dựng",
        "10 C Cung cấp thông tin về quy hoạch xây dựng",
    ),
}
# fmt: on


def catalogue() -> dict[str, Procedure]:
    """The procedures by short key ("DT05": the fifth of field DT)."""
    rows = {field_code: iter(entries) for field_code, entries in CATALOGUE.items()}
    seen: Counter[str] = Counter()
    out: dict[str, Procedure] = {}
    for code, field_code in procedure_fields().items():
        days, kind, name = next(rows[field_code]).split(" ", 2)
        seen[field_code] += 1
        key = f"{field_code}{seen[field_code]:02d}"
        out[key] = Procedure(code, name, field_code, int(days), working_days=kind == "W")
    assert all(next(entries, None) is None for entries in rows.values()), "names left over"
    return out


# --------------------------------------------------------------------------------------------
# The dossiers, one `Spec` each: the true lifecycle and what each portal makes of it.


@dataclass(frozen=True)
class Spec:
    """One dossier as written below.

    `received` is the receipt ("MM-DD HH:MM", 2024; None for a dossier only registered);
    `steps` the events after it, "MM-DD HH:MM event [word]": `word` is the city system's status
    word, or for the pseudo-event `apology` the working days the letter (Mẫu 04) adds to the due
    date ("+3"); a `supplement_completed` gets the new due date of the restart rule. `expect` is
    the form's columns (besides the totals 3, 7, 11) the dossier's true record counts in for the
    period, e.g. "4 8"; for a migrated dossier, its city record's; "-" for none. `city` and
    `national` are distortions ("missing", "lag 2", "duplicate", "rewritten_code",
    "shifted received_at -1", "channel 1", ...); `pushed`: a migrated dossier the old system
    did push to the national portal; `due_lost`: a migrated dossier whose due date the
    conversion lost.
    """

    procedure: str
    received: str | None
    steps: tuple[str, ...]
    expect: str
    channel: Channel = Channel.ONLINE
    registered: str | None = None
    digitised: bool = True
    migrated: bool = False
    pushed: bool = False
    due_lost: bool = False
    city: tuple[str, ...] = ()
    national: tuple[str, ...] = ()


def S(
    procedure: str,
    received: str | None,
    *steps: str,
    expect: str,
    channel: Channel = Channel.ONLINE,
    registered: str | None = None,
    digitised: bool = True,
    city: str = "",
    national: str = "",
) -> Spec:
    return Spec(
        procedure,
        received,
        steps,
        expect,
        channel,
        registered,
        digitised,
        city=(city,) if city else (),
        national=(national,) if national else (),
    )


def M(
    procedure: str,
    received: str,
    *steps: str,
    expect: str,
    pushed: bool = False,
    due_lost: bool = False,
) -> Spec:
    """A dossier of the old system, converted into the city system at `CUTOVER`."""
    spec = S(procedure, received, *steps, expect=expect)
    return replace(spec, migrated=True, pushed=pushed, due_lost=due_lost)


P, D = Channel.POSTAL, Channel.DIRECT

# Old-system dossiers converted on 24/6 (all online: the period has no paper receipt).
MIGRATED = (
    # Returned long ago, their old due date kept: the city shows them resolved late on 24/6.
    M("DT03", "02-26 09:10", "02-26 10:30 processing", "03-07 15:00 finished",
      "03-08 09:00 returned", expect="4 10", pushed=True),
    M("DT05", "03-12 14:20", "03-12 15:30 processing", "03-19 10:00 finished",
      "03-20 08:30 returned", expect="4 10"),
    M("MT06", "03-28 08:50", "03-28 10:00 processing", "04-03 16:00 finished",
      "04-04 09:15 returned", expect="4 10"),
    M("TM01", "04-10 10:40", "04-10 14:00 processing", "04-17 11:00 finished",
      "04-19 08:30 returned", expect="4 10"),
    M("XD04", "05-06 09:30", "05-06 10:45 processing", "05-10 15:30 finished",
      "05-13 09:00 returned", expect="4 10"),
    # Returned long ago, the due date lost in the conversion: resolved "on time" (no due date).
    M("DT15", "01-15 08:45", "01-15 09:30 processing", "01-17 14:00 finished",
      "01-18 08:30 returned", expect="4 9", due_lost=True),
    M("XNK01", "02-20 10:10", "02-20 11:00 processing", "02-22 15:00 finished",
      "02-23 08:00 returned", expect="4 9", due_lost=True),
    M("DT18", "04-22 14:30", "04-22 15:10 processing", "04-25 10:00 finished",
      "04-26 09:30 returned", expect="4 9", due_lost=True),
    # Returned in June on the old system, still in use until the cut-over: early or on time.
    M("XD01", "06-07 09:00", "06-07 10:20 processing", "06-19 16:00 finished",
      "06-21 08:30 returned", expect="4 8"),
    M("DT06", "06-11 10:00", "06-11 11:15 processing", "06-18 15:30 finished",
      "06-19 09:00 returned", expect="4 8"),
    M("DT03", "06-10 08:30", "06-10 09:45 processing", "06-17 14:00 finished",
      "06-18 10:00 returned", expect="4 9"),
)  # fmt: skip

# Received and resolved before the period on the city system: not counted.
HISTORY = (
    S("DT04", "06-10 09:15", "06-10 10:00 processing", "06-12 15:00 finished",
      "06-13 08:30 returned", expect="-", channel=D, digitised=False),
    S("XNK01", "06-17 08:20", "06-17 09:00 processing", "06-18 14:30 finished",
      "06-18 16:00 returned", expect="-"),
    S("DT15", "06-14 13:40", "06-14 14:30 processing", "06-19 10:00 finished",
      "06-19 15:00 returned", expect="-"),
)  # fmt: skip

# Received before 20/6 and open at its start (col 6): 30 resolved in the period, 3 still open.
CARRIED_OVER = (
    # Received before the 30/4-1/5 holidays; a long supplement request restarts the time.
    S("DT01", "04-26 10:15", "04-26 14:00 processing", "05-15 09:30 supplement_requested",
      "06-07 10:00 supplement_completed", "07-10 09:00 processing waiting_signature",
      "07-12 15:00 finished", "07-15 09:00 returned", expect="6 8"),
    S("XD05", "04-25 14:30", "04-25 16:00 processing", "05-13 10:00 supplement_requested",
      "06-05 09:30 supplement_completed", "07-03 14:00 processing waiting_signature",
      "07-05 16:00 finished", "07-08 08:30 returned", expect="6 8", channel=D),
    S("MT01", "05-28 09:00", "05-28 10:30 processing", "06-25 15:00 finished",
      "06-26 09:00 returned", expect="6 8"),
    S("MT05", "05-30 10:20", "05-30 14:00 processing",
      "06-21 10:00 processing waiting_interagency", "06-24 16:30 finished",
      "06-25 08:30 returned", expect="6 9"),
    # Late although an apology letter moved the date: the new date was missed too.
    S("QH02", "05-20 09:40", "05-20 10:30 processing", "06-21 09:00 apology +3",
      "07-02 15:00 finished", "07-03 09:00 returned", expect="6 10"),
    # Late with no apology letter: a compliance finding.
    S("XD01", "06-03 08:50", "06-03 10:00 processing",
      "06-20 14:00 processing waiting_signature", "06-26 10:30 finished",
      "06-27 08:30 returned", expect="6 10"),
    # Paper, received after 15:00: the time counts from the next working day; on time.
    S("DT03", "06-10 15:40", "06-11 08:30 processing", "06-25 15:30 finished",
      "06-26 09:00 returned", expect="6 9", channel=D),
    S("DT05", "06-12 09:20", "06-12 10:00 processing", "06-20 15:00 finished",
      "06-21 08:30 returned", expect="6 8"),
    S("DT05", "06-13 14:10", "06-13 15:00 processing", "06-21 10:30 finished",
      "06-24 08:45 returned", expect="6 8", national="missing"),
    S("DT21", "06-06 10:30", "06-06 14:00 processing", "06-20 15:45 finished",
      "06-21 09:00 returned", expect="6 9", channel=D),
    S("DD01", "05-31 08:40", "05-31 10:00 processing", "06-20 11:00 finished",
      "06-21 14:00 returned", expect="6 8"),
    S("DD02", "06-05 09:10", "06-05 10:40 processing", "06-24 14:30 finished",
      "06-25 09:00 returned", expect="6 8"),
    S("TM01", "06-14 10:05", "06-14 11:00 processing", "06-24 10:00 finished",
      "06-24 15:30 returned", expect="6 8"),
    S("TM03", "06-18 08:30", "06-18 09:15 processing", "06-21 14:00 finished",
      "06-24 08:30 returned", expect="6 8"),
    S("XNK01", "06-19 16:10", "06-20 08:00 processing", "06-20 10:30 finished",
      "06-20 14:00 returned", expect="6 8"),
    S("XNK02", "06-19 10:25", "06-19 11:00 processing", "06-21 09:30 finished",
      "06-21 10:30 returned", expect="6 8"),
    S("LD01", "06-14 09:50", "06-14 10:30 processing", "06-20 16:00 finished",
      "06-21 08:15 returned", expect="6 8"),
    S("LD01", "06-17 14:20", "06-17 15:00 processing", "06-21 11:30 finished",
      "06-24 09:00 returned", expect="6 8"),
    S("MT06", "06-13 08:30", "06-13 09:20 processing", "06-20 16:20 finished",
      "06-21 08:40 returned", expect="6 9"),
    S("XD02", "06-04 09:00", "06-04 10:30 processing", "06-24 15:00 finished",
      "06-25 08:30 returned", expect="6 8", channel=D),
    S("XD03", "06-07 13:30", "06-07 14:30 processing", "06-27 10:00 finished",
      "06-28 09:00 returned", expect="6 8", national="lag 1"),
    S("QH01", "06-03 10:00", "06-03 11:00 processing", "06-10 09:30 supplement_requested",
      "06-14 14:00 supplement_completed", "07-03 15:00 finished", "07-04 09:00 returned",
      expect="6 8"),
    S("DT12", "05-27 08:45", "05-27 10:00 processing", "06-21 15:00 finished",
      "06-24 10:00 returned", expect="6 8"),
    S("DT14", "06-12 10:40", "06-12 14:00 processing", "06-25 11:00 finished",
      "06-26 08:30 returned", expect="6 8", channel=P),
    S("DT19", "06-17 09:30", "06-17 10:30 processing", "06-21 15:30 finished",
      "06-24 08:30 returned", expect="6 8", channel=D),
    S("MT03", "06-05 14:45", "06-05 15:30 processing", "06-25 16:00 finished",
      "06-26 09:30 returned", expect="6 8"),
    S("DD03", "06-11 09:00", "06-11 10:00 processing", "06-24 14:00 finished",
      "06-25 10:00 returned", expect="6 8"),
    S("DT06", "06-14 08:30", "06-14 09:30 processing", "06-27 15:30 finished",
      "06-28 08:30 returned", expect="6 8", national="lag 2"),
    S("DT02", "05-22 13:50", "05-22 15:00 processing", "06-25 10:30 finished",
      "06-26 14:00 returned", expect="6 8"),
    S("MT08", "06-10 10:15", "06-10 11:00 processing", "06-28 14:00 finished",
      "07-01 09:00 returned", expect="6 8"),
    # Still open on 19/7: overdue despite an apology letter; a supplement request and a fee
    # request stop the clock.
    S("MT01", "06-10 09:20", "06-10 10:30 processing", "07-09 10:00 apology +3",
      "07-12 09:00 processing waiting_interagency", "07-23 15:00 finished",
      "07-24 09:00 returned", expect="6 13"),
    S("DD01", "06-12 14:00", "06-12 15:00 processing", "06-28 10:00 supplement_requested",
      "07-22 09:30 supplement_completed", expect="6 12", national="collapsed"),
    S("DD04", "06-14 10:30", "06-14 11:30 processing", "07-10 09:00 fees_requested",
      "07-23 10:00 fees_paid", expect="6 12", channel=D),
)  # fmt: skip

# Received in the period, all online (col 4): 35 resolved in it, 6 still open on 19/7.
RECEIVED = (
    S("DT05", "06-20 08:15", "06-20 09:40 processing", "06-27 15:20 finished",
      "06-28 08:45 returned", expect="4 8", national="shifted received_at -1"),
    S("DT15", "06-20 10:30", "06-20 11:00 processing", "06-24 14:00 finished",
      "06-24 16:00 returned", expect="4 8", registered="06-19 21:10"),
    S("XNK01", "06-21 09:00", "06-21 09:30 processing", "06-24 10:00 finished",
      "06-24 14:30 returned", expect="4 8"),
    # Late after a supplement request: the restart rule's new date was missed.
    S("DT03", "06-21 14:00", "06-21 15:00 processing", "06-24 10:00 supplement_requested",
      "06-27 15:00 supplement_completed", "07-12 10:00 processing waiting_signature",
      "07-15 16:00 finished", "07-16 09:00 returned", expect="4 10"),
    S("LD01", "06-24 08:40", "06-24 09:30 processing", "06-28 10:00 finished",
      "06-28 15:00 returned", expect="4 8"),
    S("TM03", "06-24 10:15", "06-24 11:00 processing", "06-28 14:30 finished",
      "07-01 08:30 returned", expect="4 8", national="missing"),
    S("DT16", "06-25 09:20", "06-25 10:00 processing", "06-27 11:00 finished",
      "06-27 15:00 returned", expect="4 8", city="duplicate"),
    S("MT06", "06-25 14:10", "06-25 15:00 processing", "07-02 15:30 finished",
      "07-03 08:30 returned", expect="4 9"),
    S("DT04", "06-26 08:50", "06-26 09:30 processing", "06-28 15:00 finished",
      "07-01 09:00 returned", expect="4 8"),
    S("XD04", "06-26 13:30", "06-26 14:30 processing", "07-01 10:00 finished",
      "07-01 14:00 returned", expect="4 8"),
    S("DT21", "06-27 09:00", "06-27 10:00 processing",
      "07-05 10:00 processing waiting_signature", "07-08 14:00 finished",
      "07-09 08:30 returned", expect="4 8", registered="06-26 19:40"),
    S("XNK02", "06-27 15:20", "06-27 16:00 processing", "07-01 09:00 finished",
      "07-01 10:00 returned", expect="4 8"),
    S("DT18", "06-28 10:00", "06-28 10:45 processing", "07-02 15:00 finished",
      "07-03 09:30 returned", expect="4 8", national="placeholder"),
    S("TM01", "07-01 08:30", "07-01 09:30 processing", "07-05 10:00 withdrawn", expect="4 9"),
    S("DT05", "07-01 10:00", "07-01 11:00 processing", "07-09 15:00 finished",
      "07-10 08:30 returned", expect="4 8", national="rewritten_code"),
    S("DT19", "07-02 08:40", "07-02 09:30 processing", "07-05 14:00 finished",
      "07-08 08:30 returned", expect="4 8"),
    # An apology letter moved the date: resolved after the first date, before the new one.
    S("DT05", "07-02 14:00", "07-02 15:00 processing", "07-10 09:00 apology +3",
      "07-15 16:00 finished", "07-16 08:30 returned", expect="4 8"),
    S("XD04", "07-03 09:10", "07-03 10:00 processing", "07-09 11:00 finished",
      "07-09 15:00 returned", expect="4 8"),
    S("LD01", "07-03 10:30", "07-03 11:15 processing", "07-08 16:00 finished",
      "07-09 09:00 returned", expect="4 8", national="channel 1"),
    S("DT16", "07-04 08:20", "07-04 09:00 processing", "07-08 10:00 finished",
      "07-08 14:00 returned", expect="4 8"),
    S("MT02", "07-04 13:00", "07-04 14:00 processing", "07-08 09:00 supplement_requested",
      "07-10 10:30 supplement_completed", "07-17 15:00 finished", "07-18 08:30 returned",
      expect="4 8"),
    S("DT15", "07-05 09:30", "07-05 10:00 processing", "07-10 15:00 finished",
      "07-11 08:30 returned", expect="4 9"),
    S("TM04", "07-05 11:00", "07-05 14:00 processing", "07-11 10:00 finished",
      "07-11 14:30 returned", expect="4 8"),
    S("XNK01", "07-08 08:30", "07-08 09:00 processing", "07-10 10:00 finished",
      "07-10 14:00 returned", expect="4 8", national="lag 1"),
    S("DT17", "07-08 10:10", "07-08 11:00 processing", "07-12 15:00 finished",
      "07-15 08:30 returned", expect="4 8"),
    S("QH04", "07-09 09:40", "07-09 10:30 processing", "07-16 14:00 finished",
      "07-17 09:00 returned", expect="4 8"),
    S("DT04", "07-09 14:20", "07-09 15:00 processing", "07-11 10:00 finished",
      "07-11 15:30 returned", expect="4 8"),
    S("XD04", "07-10 08:45", "07-10 09:30 processing", "07-16 10:00 finished",
      "07-16 15:00 returned", expect="4 8", national="shifted due_at -5"),
    S("LD01", "07-10 10:30", "07-10 11:00 processing", "07-15 14:00 finished",
      "07-16 08:30 returned", expect="4 8"),
    S("DT18", "07-11 09:00", "07-11 10:00 processing", "07-15 10:00 finished",
      "07-15 14:00 returned", expect="4 8"),
    S("XNK02", "07-12 08:40", "07-12 09:10 processing", "07-16 09:00 finished",
      "07-16 10:00 returned", expect="4 8"),
    S("DT16", "07-12 10:00", "07-12 11:00 processing", "07-17 15:30 finished",
      "07-18 08:30 returned", expect="4 9"),
    S("TM02", "07-15 09:00", "07-15 10:00 processing", "07-18 15:00 finished",
      "07-22 09:00 returned", expect="4 8", national="lag 1"),
    S("XNK01", "07-16 08:30", "07-16 09:00 processing", "07-18 10:00 finished",
      "07-18 15:00 returned", expect="4 8"),
    S("DT15", "07-17 10:00", "07-17 10:40 processing", "07-19 14:00 finished",
      "07-19 16:00 returned", expect="4 8"),
    # Still open on 19/7.
    S("DT15", "07-08 14:30", "07-08 15:00 processing",
      "07-10 09:00 processing waiting_interagency", "07-22 15:00 finished",
      "07-23 09:00 returned", expect="4 13"),
    S("DT05", "07-11 10:20", "07-11 11:00 processing", "07-15 09:30 supplement_requested",
      "07-23 14:00 supplement_completed", expect="4 12", national="collapsed"),
    S("DT03", "07-16 09:00", "07-16 10:00 processing", "07-24 15:00 finished",
      "07-25 09:00 returned", expect="4 12", registered="07-15 20:30"),
    S("LD01", "07-17 13:30", "07-17 14:30 processing",
      "07-19 10:00 processing waiting_signature", "07-23 11:00 finished",
      "07-23 15:00 returned", expect="4 12"),
    S("XD01", "07-18 09:30", "07-18 10:30 processing", expect="4 12", national="missing"),
    S("TM01", "07-19 10:00", expect="4 12"),
    # Missing from the city system; the national portal has it.
    S("MT07", "07-09 08:30", "07-09 09:30 processing", "07-17 15:00 finished",
      "07-18 09:00 returned", expect="4 8", city="missing"),
    # Never accepted: a refusal, and an online registration accepted only after the period.
    S("DT03", None, "07-04 09:00 refused", expect="-", registered="07-03 20:15"),
    S("DT21", "07-22 08:30", "07-22 09:30 processing", expect="-", registered="07-19 21:30"),
)  # fmt: skip

SPECS: tuple[Spec, ...] = (*MIGRATED, *HISTORY, *CARRIED_OVER, *RECEIVED)


# --------------------------------------------------------------------------------------------
# From specs to scenario dossiers


def _at(text: str) -> datetime:
    day, clock = text.split()
    month, dom = (int(part) for part in day.split("-"))
    hour, minute = (int(part) for part in clock.split(":"))
    return datetime(2024, month, dom, hour, minute, tzinfo=VN_TZ)


def _events(spec: Spec, procedure: Procedure) -> tuple[list[Event], datetime | None]:
    """The lifecycle of `spec` and its due date at receipt."""
    events: list[Event] = []
    if spec.registered:
        events.append(Event(_at(spec.registered), EventKind.REGISTERED))
    due: datetime | None = None
    received: datetime | None = None
    if spec.received:
        received = _at(spec.received)
        events.append(Event(received, EventKind.RECEIVED))
        due = law_due(procedure, received, spec.channel)
    initial = due
    stops: list[Pause] = []
    for step in spec.steps:
        day, clock, name, *extra = step.split()
        when = _at(f"{day} {clock}")
        if name == "apology":
            # Mẫu 04, at least a day before the deadline; it moves the date once.
            assert due is not None, step
            assert local_date(when) < local_date(due), step
            moved = CALENDAR.add_working_days(local_date(due), int(extra[0]))
            due = datetime.combine(moved, DUE_TIME, VN_TZ)
            events.append(Event(when, EventKind.PROCESSING, due=due, apology=True))
            continue
        kind = EventKind(name)
        new_due: datetime | None = None
        if kind in STOP_STARTS:
            stops.append(Pause(when, None, STOP_STARTS[kind]))
        elif kind in STOP_ENDS:
            # A supplement restarts the time, a fee request or a stop moves it by its days.
            stops[-1] = replace(stops[-1], resumed_at=when)
            assert received is not None
            due = new_due = law_due(procedure, received, spec.channel, stops)
        events.append(Event(when, kind, extra[0] if extra else "", new_due))
    return events, initial


def _distortion(text: str) -> Distortion:
    """One distortion written as in `Spec` (codes of rewritten and duplicate come later)."""
    kind, *args = text.split()
    if kind == "missing":
        return Missing()
    if kind == "lag":
        return Lag(int(args[0]))
    if kind == "collapsed":
        return Collapsed()
    if kind == "placeholder":
        return Placeholder()
    if kind == "channel":
        return WrongChannel(Channel(int(args[0])))
    if kind == "shifted":
        name, days = args
        assert name in ("received_at", "due_at", "finished_at"), name
        return Shifted(name, int(days))  # type: ignore[arg-type]
    raise ValueError(f"not a distortion: {text!r}")


_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô", "Dương",
           "Lương", "Phan", "Đinh", "Trịnh", "Cao", "Mạc", "Tô", "Hà", "Lưu", "Vương", "Đoàn",
           "Tạ")  # fmt: skip
_MEN = (("Văn", "Đức", "Minh", "Quang", "Hữu", "Thành", "Xuân", "Tiến"),
        ("Hải", "Hùng", "Dũng", "Tuấn", "Long", "Nam", "Khánh", "Phong", "Sơn", "Thắng",
         "Cường", "Hiếu", "Trung", "Bình", "Toàn", "Vinh", "Huy", "Đạt", "Kiên"))  # fmt: skip
_WOMEN = (("Thị", "Thu", "Ngọc", "Thanh", "Minh", "Phương", "Hồng"),
          ("Hà", "Lan", "Hương", "Mai", "Linh", "Trang", "Thảo", "Huyền", "Nga", "Yến",
           "Hạnh", "Dung", "Loan", "Vân", "Oanh", "Nhung", "Giang"))  # fmt: skip


def _digits(seed: str, count: int) -> str:
    """`count` decimal digits derived from `seed` (stable across Python versions)."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    return f"{number % 10**count:0{count}d}"


def applicant(index: int) -> Applicant:
    """Fake personal data: a Vietnamese name, a Hai Phong citizen ID (031, then the gender and
    century digit, the birth year's last two digits, six digits), a mobile number."""
    woman = index % 3 == 1
    middles, givens = _WOMEN if woman else _MEN
    family = _FAMILY[(index * 7) % len(_FAMILY)]
    middle = middles[(index * 5) % len(middles)]
    given = givens[(index * 11) % len(givens)]
    born = 1968 + (index * 13) % 30
    id_number = f"031{1 if woman else 0}{born % 100:02d}{_digits(f'id{index}', 6)}"
    phone = f"09{'0134678'[index % 7]}{_digits(f'phone{index}', 7)}"
    return Applicant(f"{family} {middle} {given}", id_number, phone)


def receipt(spec: Spec) -> datetime:
    """The time the dossier code dates from: its receipt, else its registration."""
    when = spec.received or spec.registered
    assert when is not None
    return _at(when)


def dossiers(procedures: Mapping[str, Procedure]) -> tuple[ScenarioDossier, ...]:
    """Every spec as a scenario dossier, in order of receipt, with the codes of Circular
    01/2018 Art. 19: `<agency>-YYMMDD-NNNN`, numbered by receipt time within the day (a city
    duplicate takes the day's next number after all regular ones)."""
    ordered = sorted(SPECS, key=receipt)
    per_day = Counter(receipt(spec).strftime("%y%m%d") for spec in ordered)
    numbers: Counter[str] = Counter()
    extra_numbers: Counter[str] = Counter()
    out: list[ScenarioDossier] = []
    for index, spec in enumerate(ordered):
        procedure = procedures[spec.procedure]
        day = receipt(spec).strftime("%y%m%d")
        numbers[day] += 1
        code = f"{AGENCY_CODE}-{day}-{numbers[day]:04d}"
        events, due = _events(spec, procedure)
        city: list[Distortion] = []
        national: list[Distortion] = []
        for text in spec.city:
            if text == "duplicate":
                extra_numbers[day] += 1
                number = per_day[day] + extra_numbers[day]
                city.append(Duplicate(f"{AGENCY_CODE}-{day}-{number:04d}"))
            else:
                city.append(_distortion(text))
        for text in spec.national:
            if text == "rewritten_code":
                # The city code lacks the province identifier; DVCQG's has it.
                national.append(RewrittenCode(code))
                code = f"{SHORT_AGENCY}-{day}-{numbers[day]:04d}"
            else:
                national.append(_distortion(text))
        if spec.migrated and not spec.pushed:
            national = [Missing()]
        out.append(
            ScenarioDossier(
                code=code,
                procedure=procedure.code,
                channel=spec.channel,
                digitised=spec.digitised,
                due=None if spec.due_lost else due,
                applicant=applicant(index),
                events=tuple(events),
                migrated=CUTOVER if spec.migrated else None,
                city=tuple(city),
                national=tuple(national),
            )
        )
    return tuple(out)


def recode(scenario: Scenario) -> Scenario:
    """The scenario as if the conversion had given the old system's dossiers new codes, dated
    at the cut-over (`<agency>-240624-NNNN`, numbered after that day's own dossiers), so that
    the code's date says nothing of their past. The one the old system had pushed to DVCQG, and
    those returned in June, keep their old code as the city record's alternate code
    (`otherDossierNo`); the others lost it."""
    day = CUTOVER.strftime("%y%m%d")
    taken = [
        int(code.rsplit("-", 1)[1])
        for d in scenario.dossiers
        for code in (d.code, *d.extra_codes())
        if code.rsplit("-", 2)[-2] == day
    ]
    number = max(taken, default=0)
    out: list[ScenarioDossier] = []
    for d in scenario.dossiers:
        if d.migrated is None:
            out.append(d)
            continue
        number += 1
        pushed = not any(isinstance(x, Missing) for x in d.national)
        june = next(e.at for e in d.events).month == 6
        out.append(
            replace(
                d,
                migrated_code=f"{AGENCY_CODE}-{day}-{number:04d}",
                keeps_old_code=pushed or june,
            )
        )
    return replace(scenario, dossiers=tuple(out))


# --------------------------------------------------------------------------------------------
# The truth: figures from the views and from the true records


def columns(records: Iterable[Dossier]) -> dict[str, int]:
    """The form's TOTAL row for the period, columns 3-13 as {"3": n, ...}."""
    total = counts(records, PERIOD, FIELD_ORDER).total
    return {str(column): total[column] for column in COLUMNS}


def true_records(scenario: Scenario, view: Dataset) -> dict[str, Dossier]:
    """Per dossier code, the record reconciliation must count: the city's for a dossier the city
    has (the city is the authority for every field; a duplicate counts once), else the national
    portal's; none for a migrated dossier, which belongs to no period of the new system."""
    city = {d.code: d for d in view.city}
    national = {d.code: d for d in view.national}
    out: dict[str, Dossier] = {}
    for d in scenario.dossiers:
        if d.migrated is not None:
            continue
        if d.code in city:
            out[d.code] = city[d.code]
            continue
        served = _national_code(d)
        if served in national:
            out[d.code] = national[served]
    return out


def _national_code(d: ScenarioDossier) -> str:
    return next((x.code for x in d.national if isinstance(x, RewrittenCode)), d.code)


def raw_city(view: Dataset) -> dict[str, Any]:
    """The city system's own figures for the period, as the seed report states them."""
    total = columns(view.city)
    in_scope = [d for d in view.city if 3 in cells_of(d, PERIOD)]
    return {
        "received_online": total["4"],
        "received_other": total["5"],
        "resolved": total["7"],
        "resolved_late": total["10"],
        "digitised_share": sum(d.digitised for d in in_scope) / len(in_scope),
    }


_WORDS = {
    4: "received online",
    5: "received in person or by post",
    6: "carried over",
    8: "resolved early",
    9: "resolved on time",
    10: "resolved late",
    12: "pending within the time limit",
    13: "pending overdue",
}


def _place(d: Dossier | None) -> frozenset[int]:
    return frozenset() if d is None else cells_of(d, PERIOD)


def words(cells: frozenset[int]) -> str:
    """Where a dossier is counted, in words: "received online and resolved late (cols 4, 10)"."""
    named = [c for c in sorted(cells) if c in _WORDS]
    if not named:
        return "not at all"
    return " and ".join(_WORDS[c] for c in named) + f" (cols {', '.join(map(str, named))})"


def _what(x: Distortion, d: ScenarioDossier) -> str:
    """What a national distortion is, in words."""
    if isinstance(x, Missing):
        return "the push to DVCQG was lost"
    if isinstance(x, Lag):
        changes = "status change" if x.events == 1 else f"{x.events} status changes"
        return f"the last {changes} never reached DVCQG"
    if isinstance(x, Collapsed):
        return "a supplement, fee or stop status (5/6/8) was pushed as finished (9)"
    if isinstance(x, RewrittenCode):
        return (
            "the city code lacks the province identifier; DVCQG holds the dossier as "
            f"{x.code}, with the city's code as MaHoSoKhac"
        )
    if isinstance(x, Shifted):
        days = f"{abs(x.days)} day{'s' if abs(x.days) > 1 else ''}"
        return f"{x.field} pushed {days} {'earlier' if x.days < 0 else 'later'}"
    if isinstance(x, Placeholder):
        return "the personal data was pushed as placeholders (ID 000000001)"
    if isinstance(x, WrongChannel):
        return f"pushed as channel {int(x.channel)} instead of {int(d.channel)}"
    raise ValueError(f"no words for {x}")


def causes(scenario: Scenario, view: Dataset) -> dict[str, list[dict[str, str]]]:
    """Per cause of mismatch, the dossiers it touches and what it does to the figures."""
    city = {d.code: d for d in view.city}
    national = {d.code: d for d in view.national}
    truth = true_records(scenario, view)
    out: dict[str, list[dict[str, str]]] = {}

    def add(cause: str, code: str, effect: str) -> None:
        out.setdefault(cause, []).append({"code": code, "effect": effect})

    for d in scenario.dossiers:
        if d.migrated is not None:
            pushed = "never pushed to DVCQG"
            if not any(isinstance(x, Missing) for x in d.national):
                pushed = "DVCQG has it from the old system, with its true dates"
            served = d.migrated_code or d.code
            recoded = ""
            if d.migrated_code:
                kept = "kept as its other code" if d.keeps_old_code else "lost"
                recoded = f" under the new code {served} (the old one {kept})"
            add(
                "migrated",
                d.code,
                f"returned on the old system, converted on 24/6{recoded}: the city counts it "
                f"{words(_place(city.get(served)))} in the period; {pushed}; "
                "excluded from the reconciled figures",
            )
            continue
        true = _place(truth.get(d.code))
        for x in d.city:
            if isinstance(x, Duplicate):
                add(
                    "city.duplicate",
                    d.code,
                    f"entered twice on the city system (also as {x.code}): the city counts it "
                    f"twice, {words(_place(city.get(x.code)))}; counted once when reconciled",
                )
            elif isinstance(x, Missing):
                add(
                    "city.missing",
                    d.code,
                    "absent from the city system: the city figures lack it; the reconciled "
                    f"figures count the national record: {words(true)}",
                )
        shown = _place(national.get(_national_code(d)))
        for x in d.national:
            what = _what(x, d)
            if shown == true:
                effect = f"{what}; no effect on the figures: both count it {words(true)}"
            elif not shown:
                effect = f"{what}: the national figures lack it; truly {words(true)}"
            else:
                effect = f"{what}: the national figures count it {words(shown)} instead of "
                effect += words(true)
            add(f"national.{x.kind}", d.code, effect)
    return dict(sorted(out.items(), key=lambda item: _CAUSE_ORDER.index(item[0])))


_CAUSE_ORDER = (
    "migrated",
    "city.duplicate",
    "city.missing",
    *(f"national.{kind}" for kind in DISTORTION_KINDS),
)

DESCRIPTION = {
    "vi": "Kỳ báo cáo tháng 7/2024 (20/6–19/7/2024) của Ban Quản lý Khu kinh tế Hải Phòng theo "
    "Báo cáo 321/BC-BQL: số liệu thô của Hệ thống Một cửa điện tử thành phố đúng như báo cáo "
    "(77 hồ sơ đã giải quyết, 8 hồ sơ quá hạn, 53 hồ sơ tiếp nhận trực tuyến, 100% hồ sơ được "
    "số hóa) nhưng không đúng với thực tế, chủ yếu vì 11 hồ sơ đã xử lý và trả kết quả trên hệ "
    "thống cũ được tự động chuyển sang hệ thống mới ngày 24/6/2024; ngoài ra có một hồ sơ nhập "
    "trùng và một hồ sơ thiếu trên hệ thống thành phố, cùng các lỗi đồng bộ lên Cổng Dịch vụ "
    "công quốc gia (mất bản ghi, trạng thái chậm hoặc bị gộp, mã hồ sơ bị đổi, ngày lệch, dữ "
    "liệu giữ chỗ, sai kênh).",
    "en": "HEZA's July 2024 reporting period (20/6-19/7/2024), report 321/BC-BQL: the city "
    "one-stop system's raw figures are exactly the report's (77 resolved, 8 of them late, 53 "
    "received online, 100% digitised) but do not match reality, mainly because 11 dossiers "
    "processed and returned on the old system were carried into the new one automatically on "
    "24/6/2024; also one dossier entered twice and one missing on the city system, and the "
    "national portal's sync faults (lost pushes, lagging and collapsed statuses, a rewritten "
    "code, shifted dates, placeholder data, a wrong channel).",
}


RECODED_DESCRIPTION = {
    "vi": DESCRIPTION["vi"]
    + " Trong biến thể này, khi chuyển đổi các hồ sơ của hệ thống cũ được cấp mã mới mang ngày "
    "24/6/2024, nên ngày trong mã hồ sơ không còn cho biết hồ sơ đã được tiếp nhận từ trước; "
    "các hồ sơ này vẫn được nhận ra nhờ các dấu hiệu khác (cùng một thời điểm tiếp nhận, Cổng "
    "Dịch vụ công quốc gia đã có hồ sơ từ trước).",
    "en": DESCRIPTION["en"]
    + " In this variant the conversion gave the old system's dossiers new codes dated 24/6/2024, "
    "so the code's date no longer shows they were received earlier; they are still found by "
    "other signs (one receipt instant for all, the national portal holding them from before).",
}


def truth_of(scenario: Scenario) -> dict[str, Any]:
    """What the scenario shows, computed from its views at `now` and its true records."""
    view = scenario.views()
    reconciled = true_records(scenario, view).values()
    late = sorted(d.code for d in reconciled if 10 in cells_of(d, PERIOD))
    overdue = sorted(d.code for d in reconciled if 13 in cells_of(d, PERIOD))
    recoded = any(d.migrated_code for d in scenario.dossiers)
    return {
        "description": RECODED_DESCRIPTION if recoded else DESCRIPTION,
        "period": PERIOD.label,
        "period_days": [PERIOD.start.isoformat(), PERIOD.end.isoformat()],
        "pause_policy": "restart",
        "migration_cutover": CUTOVER.isoformat(),
        "raw_city": raw_city(view),
        "raw_city_columns": columns(view.city),
        "raw_national": columns(view.national),
        "reconciled": columns(reconciled),
        "reconciled_late": late,
        "reconciled_overdue": overdue,
        "causes": causes(scenario, view),
    }


# --------------------------------------------------------------------------------------------
# Checks and the build


def check(scenario: Scenario) -> None:
    """What the scenario promises; raises AssertionError when a spec breaks it."""
    view = scenario.views()
    city = {d.code: d for d in view.city}
    truth = true_records(scenario, view)
    by_receipt = sorted(SPECS, key=receipt)
    for spec, d in zip(by_receipt, scenario.dossiers, strict=True):
        served = d.migrated_code or d.code
        record = city.get(served) if d.migrated is not None else truth.get(d.code)
        named = sorted(c for c in _place(record) if c in _WORDS)
        expected = [] if spec.expect == "-" else [int(c) for c in spec.expect.split()]
        assert named == expected, (d.code, spec, named)
    got = raw_city(view)
    assert {key: got[key] for key in SEED} == SEED, got
    assert got["digitised_share"] == 1.0, got
    people = [
        (d.applicant.id_number, d.applicant.name, d.applicant.phone) for d in scenario.dossiers
    ]
    for position in range(3):
        values = [person[position] for person in people]
        assert len(set(values)) == len(values), f"applicants share a value ({position})"


def build(recoded: bool = False) -> Scenario:
    """The seed scenario, truth included; with `recoded`, its variant where the old system's
    dossiers were given new codes at the cut-over (`recode`)."""
    procedures = catalogue()
    scenario = Scenario(
        agency=AGENCY_CODE,
        now=NOW,
        procedures=tuple(procedures.values()),
        fields=dict(FIELDS),
        dossiers=dossiers(procedures),
    )
    if recoded:
        scenario = recode(scenario)
    check(scenario)
    return replace(scenario, truth=truth_of(scenario))


def main(argv: Sequence[str] = ()) -> int:
    """Write the seed scenario to argv[0] (default `PATH`) and, with no argument or a second
    one, its recoded variant there (default `RECODED_PATH`)."""
    targets = [(Path(argv[0]) if argv else PATH, False)]
    if len(argv) != 1:
        targets.append((Path(argv[1]) if len(argv) > 1 else RECODED_PATH, True))
    for path, recoded in targets:
        scenario = build(recoded)
        path.write_text(dump(scenario), encoding="utf-8")
        reconciled = scenario.truth["reconciled"]
        print(f"{path}: {len(scenario.dossiers)} dossiers; reconciled totals {reconciled}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
