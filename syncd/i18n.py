"""Texts people read: Vietnamese by default, English on request (`--lang en` or SYNCD_LANG=en).

Log events stay in English: they are for machines and administrators, and their keys are stable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, Literal

from reconcile.model import VN_TZ

Language = Literal["vi", "en"]
LANGUAGES: tuple[Language, ...] = ("vi", "en")

_current: list[Language] = ["vi"]

MESSAGES: dict[str, dict[Language, str]] = {
    "config.error": {
        "vi": "Lỗi cấu hình: {where}: {key}: {problem}",
        "en": "Configuration error: {where}: {key}: {problem}",
    },
    "config.ok": {"vi": "Cấu hình hợp lệ: {where}", "en": "Configuration is valid: {where}"},
    "config.missing": {"vi": "thiếu khóa bắt buộc", "en": "required key is missing"},
    "config.unknown": {
        "vi": "khóa không được hỗ trợ (các khóa hợp lệ: {allowed})",
        "en": "unknown key (valid keys: {allowed})",
    },
    "config.expected": {
        "vi": "cần {expected}, nhận được {got}",
        "en": "expected {expected}, got {got}",
    },
    "config.unknown_env": {
        "vi": "Cảnh báo: biến môi trường {variable} không được syncd hỗ trợ và bị bỏ qua",
        "en": "Warning: environment variable {variable} is not one syncd knows; ignored",
    },
    "config.unreadable": {
        "vi": "không đọc được tệp: {reason}",
        "en": "cannot read the file: {reason}",
    },
    "config.toml": {"vi": "TOML không hợp lệ: {reason}", "en": "invalid TOML: {reason}"},
    "type.str": {"vi": "một chuỗi ký tự", "en": "a string"},
    "type.int": {"vi": "một số nguyên", "en": "an integer"},
    "type.float": {"vi": "một số", "en": "a number"},
    "type.bool": {"vi": "true hoặc false", "en": "true or false"},
    "type.table": {"vi": "một bảng (table)", "en": "a table"},
    "type.list": {"vi": "một danh sách", "en": "a list"},
    "type.clock": {"vi": "một giờ dạng HH:MM", "en": "a time of day as HH:MM"},
    "type.choice": {"vi": "một trong các giá trị {choices}", "en": "one of {choices}"},
    "type.range": {"vi": "{kind} trong khoảng {low}–{high}", "en": "{kind} from {low} to {high}"},
    "type.min": {"vi": "{kind} không nhỏ hơn {low}", "en": "{kind} of at least {low}"},
    "type.date": {
        "vi": "một ngày dạng YYYY-MM-DD (hoặc để trống)",
        "en": "a day as YYYY-MM-DD (or empty)",
    },
    "type.window": {
        "vi": 'hai ngày ["YYYY-MM-DD", "YYYY-MM-DD"] (ngày đầu không sau ngày cuối), '
        "hoặc [] nếu không có",
        "en": 'two days ["YYYY-MM-DD", "YYYY-MM-DD"] (the first not after the last), or [] '
        "for none",
    },
    "type.burst": {
        "vi": "0 (tắt) hoặc từ 2 trở lên",
        "en": "0 (off) or 2 and more",
    },
    "config.migration_cutover": {
        "vi": "khóa này không còn dùng: thay bằng reconcile.migration_window = "
        '["YYYY-MM-DD", "YYYY-MM-DD"], khung thời gian chuyển đổi; nó chỉ đánh dấu '
        "các hồ sơ có thêm dấu hiệu chuyển từ hệ thống cũ",
        "en": 'no longer used: write reconcile.migration_window = ["YYYY-MM-DD", '
        '"YYYY-MM-DD"], the cut-over window; it marks only dossiers that carry another sign '
        "of migration",
    },
    "type.url": {"vi": "một địa chỉ http:// hoặc https://", "en": "an http:// or https:// URL"},
    "type.redis_url": {
        "vi": "một địa chỉ redis://, rediss:// hoặc unix:// (hoặc để trống)",
        "en": "a redis://, rediss:// or unix:// URL (or empty)",
    },
    "run.started": {
        "vi": "syncd đang chạy (Redis: {redis}). Nhấn Ctrl+C để dừng.",
        "en": "syncd is running (Redis: {redis}). Press Ctrl+C to stop.",
    },
    "run.stopped": {"vi": "syncd đã dừng an toàn.", "en": "syncd stopped cleanly."},
    "redis.embedded": {
        "vi": "Redis nhúng, dữ liệu tại {path}",
        "en": "embedded Redis, data in {path}",
    },
    "redis.unavailable": {
        "vi": "Không kết nối được Redis ({url}): {reason}",
        "en": "Cannot reach Redis ({url}): {reason}",
    },
    "period.invalid": {
        "vi": "Kỳ báo cáo không hợp lệ: {reason}",
        "en": "Invalid reporting period: {reason}",
    },
    "mock.serving": {
        "vi": "Cổng giả lập đang phục vụ: một cửa thành phố {city}, DVCQG {national}",
        "en": "Mock portals serving: city one-stop {city}, national portal {national}",
    },
    "demo.title": {
        "vi": "syncd — chạy thử với cổng giả lập và Redis nhúng",
        "en": "syncd — demo with mock portals and embedded Redis",
    },
    "demo.synced": {
        "vi": "Đã đồng bộ: {city} hồ sơ từ một cửa thành phố, {national} hồ sơ từ DVCQG",
        "en": "Synced: {city} dossiers from the city system, {national} from DVCQG",
    },
    "demo.mismatches": {
        "vi": "Sai lệch phát hiện được: {summary}",
        "en": "Mismatches found: {summary}",
    },
    "demo.none": {"vi": "không có", "en": "none"},
    "demo.temporary": {
        "vi": "Redis nhúng, dữ liệu tạm tại {path} (xoá khi chạy xong; giữ lại bằng --data-dir)",
        "en": "embedded Redis, temporary data in {path} (removed at the end; keep it with "
        "--data-dir)",
    },
    "demo.kept": {
        "vi": "Dữ liệu chạy thử được giữ tại {path} (khóa Redis có tiền tố syncd-demo). Để đọc "
        "lại, ví dụ:\n  {command}",
        "en": "The demo's data is kept in {path} (Redis keys prefixed syncd-demo). To read it "
        "again, e.g.:\n  {command}",
    },
    "demo.paragraph.city": {
        "vi": "Số liệu thô của hệ thống Một cửa thành phố, theo lời văn của báo cáo:",
        "en": "The city system's raw figures, in the report's own words:",
    },
    "demo.paragraph.corrected": {
        "vi": "Số liệu sau đối soát:",
        "en": "The reconciled figures:",
    },
    "help.demo_scenario": {
        "vi": "tệp kịch bản phục vụ (mặc định: kịch bản mẫu HEZA tháng 7/2024)",
        "en": "scenario file to serve (default: the HEZA July 2024 seed scenario)",
    },
    "help.demo_dossiers": {
        "vi": "dùng bộ dữ liệu sinh ngẫu nhiên gồm N hồ sơ thay cho kịch bản",
        "en": "serve a generated dataset of N dossiers instead of a scenario",
    },
    "interrupted": {"vi": "Đã hủy.", "en": "Interrupted."},
    "report.form": {"vi": "Biểu số", "en": "Form"},
    "report.period": {
        "vi": "Kỳ báo cáo {label}: từ ngày {start} đến ngày {end}",
        "en": "Reporting period {label}: {start} to {end}",
    },
    "report.unit": {"vi": "Đơn vị tính: hồ sơ", "en": "Unit: dossiers"},
    "report.total": {"vi": "Tổng cộng", "en": "Total"},
    "report.by_source": {
        "vi": "Đối chiếu tổng số (cột 3, 4, 7, 10, 11, 13) theo từng nguồn:",
        "en": "Totals (columns 3, 4, 7, 10, 11, 13) by source:",
    },
    "report.corrected": {"vi": "Sau đối soát", "en": "Reconciled"},
    "report.version": {
        "vi": "Bản công bố số {number}, ngày {at}",
        "en": "Published version {number}, {at}",
    },
    "report.policy": {
        "vi": "Quy tắc áp dụng: tạm dừng khi yêu cầu bổ sung = {pause_policy}; "
        "hồ sơ giấy nhận sau {paper_cutoff} tính từ ngày làm việc tiếp theo",
        "en": "Rules in force: supplement requests = {pause_policy}; paper dossiers received "
        "after {paper_cutoff} count from the next working day",
    },
    "report.indicators": {
        "vi": "Chỉ số (Quyết định 766/QĐ-TTg):",
        "en": "Indicators (Decision 766/QĐ-TTg):",
    },
    "indicator.online_share": {"vi": "trực tuyến", "en": "online"},
    "indicator.digitisation_rate": {"vi": "số hoá", "en": "digitised"},
    "indicator.on_time_rate": {"vi": "đúng hạn", "en": "on time"},
    "indicator.sync_rate": {"vi": "đồng bộ DVCQG", "en": "synced to DVCQG"},
    "report.differences": {
        "vi": "Chênh lệch giữa số liệu Một cửa thành phố và số liệu sau đối soát: {count} hồ sơ, "
        "theo lý do (ô thô -> ô sau đối soát):",
        "en": "Differences between the city system's figures and the reconciled ones: {count} "
        "dossiers, by reason (raw cells -> reconciled cells):",
    },
    "report.more": {"vi": "… và {count} hồ sơ khác", "en": "… and {count} more"},
    "report.restatement": {
        "vi": "Điều chỉnh so với bản công bố số {number} ({at}):",
        "en": "Restatement against published version {number} ({at}):",
    },
    "report.unchanged": {"vi": "không có thay đổi", "en": "no change"},
    "report.published": {
        "vi": "Đã công bố báo cáo kỳ {label}: bản số {number}.",
        "en": "Published the report for {label}: version {number}.",
    },
    "report.no_version": {
        "vi": "Kỳ {label} không có bản công bố số {number}.",
        "en": "Period {label} has no published version {number}.",
    },
    "report.written": {"vi": "Đã ghi {path}", "en": "Wrote {path}"},
    "report.unwritable": {
        "vi": "Không ghi được tệp {path}: {reason}",
        "en": "Cannot write {path}: {reason}",
    },
    "report.bad_cell": {
        "vi": "ô {cell!r} không hợp lệ: cần LĨNH_VỰC:CỘT (cột 3-13), ví dụ DT:10 hoặc total:7",
        "en": "cell {cell!r} is not valid: FIELD:COLUMN (columns 3-13) is needed, e.g. DT:10 "
        "or total:7",
    },
    "report.unknown_field": {
        "vi": "lĩnh vực {field!r} không có trong báo cáo; các lĩnh vực: {fields}",
        "en": "field {field!r} is not in the report; the fields are: {fields}",
    },
    "report.trust": {
        "vi": "Độ tin cậy của số liệu:",
        "en": "How far these figures can be trusted:",
    },
    "portal.city": {"vi": "Hệ thống Một cửa thành phố", "en": "The city one-stop system"},
    "portal.national": {"vi": "Cổng DVCQG", "en": "The national portal"},
    "trust.provisional": {
        "vi": "TẠM TÍNH: kỳ báo cáo chưa kết thúc (đến hết ngày {end}); số liệu còn thay đổi.",
        "en": "PROVISIONAL: the period has not ended (it runs to the end of {end}); the figures "
        "will still change.",
    },
    "trust.read": {
        "vi": "{portal}: đọc đầy đủ gần nhất lúc {at}.",
        "en": "{portal}: last complete read at {at}.",
    },
    "trust.never_read": {
        "vi": "{portal}: chưa từng được đọc đầy đủ; số liệu của cổng này thiếu hoặc không có.",
        "en": "{portal}: never read completely; its figures are missing or incomplete.",
    },
    "trust.not_read_since_end": {
        "vi": "{portal}: lần đọc đầy đủ gần nhất lúc {at}, trước khi kỳ kết thúc (hết ngày "
        "{end}); những thay đổi cuối kỳ có thể chưa có.",
        "en": "{portal}: last complete read at {at}, before the period ended (end of {end}); "
        "its last changes may be missing.",
    },
    "trust.failures": {
        "vi": "{portal}: {count} lần đọc lỗi từ đó, gần nhất lúc {at}: {error}",
        "en": "{portal}: {count} failed polls since, the latest at {at}: {error}",
    },
    "trust.quarantined": {
        "vi": "{count} bản ghi bị cách ly có thể thuộc kỳ này: {codes}",
        "en": "{count} quarantined records could belong to this period: {codes}",
    },
    "trust.dead_letters": {
        "vi": "{count} hồ sơ đối soát lỗi nhiều lần có thể thuộc kỳ này: {codes}",
        "en": "{count} dossiers whose reconciliation kept failing could belong to this period: "
        "{codes}",
    },
    "trust.without_code": {
        "vi": "(và {count} bản ghi không đọc được mã)",
        "en": "(and {count} records whose code does not read)",
    },
    "trust.limited": {
        "vi": "(chỉ xem {scanned} bản ghi bị cách ly mới nhất; có thể còn nữa)",
        "en": "(only the newest {scanned} quarantined records were looked at; there may be more)",
    },
    "trust.empty": {
        "vi": "Kỳ này không có hồ sơ nào, trong số liệu sau đối soát cũng như của cả hai cổng.",
        "en": "No dossier at all in this period, reconciled or on either portal.",
    },
    "trust.ok": {
        "vi": "Số liệu đã chốt: hai cổng đã được đọc đầy đủ sau khi kỳ kết thúc; không có bản "
        "ghi bị cách ly hay hồ sơ đối soát lỗi có thể thuộc kỳ này.",
        "en": "Final figures: both portals were read completely after the period ended; no "
        "quarantined record or failing reconciliation could belong to this period.",
    },
    "trust.forced": {
        "vi": "Bản này được công bố dù chưa đủ điều kiện ({issues}); người công bố: {by}; lý do: "
        "{reason}",
        "en": "This version was published although {issues}; published by {by}; reason: {reason}",
    },
    "refusal.provisional": {
        "vi": "kỳ báo cáo chưa kết thúc (đến hết ngày {end})",
        "en": "the period has not ended (it runs to the end of {end})",
    },
    "refusal.never_read": {
        "vi": "{portal} chưa từng được đọc đầy đủ",
        "en": "{portal} was never read completely",
    },
    "refusal.not_read_since_end": {
        "vi": "{portal} chưa được đọc đầy đủ kể từ khi kỳ kết thúc (hết ngày {end})",
        "en": "{portal} was not read completely since the period ended (end of {end})",
    },
    "refusal.failed_polls": {
        "vi": "{portal} có lần đọc lỗi",
        "en": "{portal} had failed polls",
    },
    "refusal.quarantined": {
        "vi": "{count} bản ghi bị cách ly có thể thuộc kỳ này",
        "en": "{count} quarantined records could belong to the period",
    },
    "refusal.dead_letters": {
        "vi": "{count} hồ sơ đối soát lỗi có thể thuộc kỳ này",
        "en": "{count} dossiers whose reconciliation failed could belong to the period",
    },
    "refusal.empty": {
        "vi": "kỳ này không có hồ sơ nào",
        "en": "the period has no dossier at all",
    },
    "publish.refused": {
        "vi": "Không công bố báo cáo kỳ {label}: {reasons}. Muốn công bố vẫn được, dùng --force "
        "--reason LÝ_DO (lý do được ghi vào nhật ký và vào bản công bố).",
        "en": "Not publishing the report for {label}: {reasons}. To publish anyway, use --force "
        "--reason TEXT (the reason goes to the audit trail and into the published version).",
    },
    "publish.refused_api": {
        "vi": "Không công bố báo cáo kỳ {label}: {reasons}. Muốn công bố vẫn được, gửi "
        '"force": true kèm "reason" (lý do được ghi vào nhật ký và vào bản công bố).',
        "en": "Not publishing the report for {label}: {reasons}. To publish anyway, send "
        '"force": true with a "reason" (it goes to the audit trail and into the published '
        "version).",
    },
    "publish.force_needs_reason": {
        "vi": "--force cần --reason LÝ_DO không để trống",
        "en": "--force needs --reason TEXT, not empty",
    },
    "publish.reason_needs_force": {
        "vi": "--reason chỉ dùng kèm --force khi công bố",
        "en": "--reason goes with --force when publishing",
    },
    "help.force": {
        "vi": "công bố dù báo cáo chưa đủ điều kiện (cần --reason)",
        "en": "publish even though the report is not fit to be (needs --reason)",
    },
    "help.publish_reason": {
        "vi": "lý do công bố khi dùng --force, được ghi vào nhật ký và vào bản công bố",
        "en": "why, with --force: kept in the audit trail and in the published version",
    },
    "report.city": {"vi": "Một cửa thành phố (thô)", "en": "City one-stop (raw)"},
    "report.national": {"vi": "Cổng DVCQG (thô)", "en": "National portal (raw)"},
    "help.description": {
        "vi": "Đồng bộ và đối soát hồ sơ TTHC giữa hệ thống Một cửa thành phố và Cổng DVCQG.",
        "en": "Sync and reconcile dossiers between the city one-stop system and the national "
        "public service portal.",
    },
    "help.config": {
        "vi": "tệp cấu hình (mặc định: $SYNCD_CONFIG)",
        "en": "configuration file (default: $SYNCD_CONFIG)",
    },
    "help.lang": {
        "vi": "ngôn ngữ hiển thị (mặc định: vi)",
        "en": "language of messages (default: vi)",
    },
    "help.run": {
        "vi": "lấy dữ liệu hai cổng và đối soát, lặp lại theo chu kỳ",
        "en": "poll both portals and reconcile, on an interval",
    },
    "help.once": {"vi": "chạy một chu kỳ rồi thoát", "en": "one cycle, then exit"},
    "help.mock": {
        "vi": "chạy hai cổng giả lập cho đến khi dừng",
        "en": "serve both mock portals until stopped",
    },
    "help.host": {"vi": "địa chỉ lắng nghe", "en": "address to listen on"},
    "help.city_port": {
        "vi": "cổng TCP của hệ thống Một cửa giả lập",
        "en": "TCP port of the mock city system",
    },
    "help.national_port": {
        "vi": "cổng TCP của Cổng DVCQG giả lập",
        "en": "TCP port of the mock national portal",
    },
    "help.dossiers": {
        "vi": "số hồ sơ của bộ dữ liệu sinh ra",
        "en": "dossiers in the generated dataset",
    },
    "help.seed": {"vi": "hạt giống của bộ dữ liệu sinh ra", "en": "seed of the generated dataset"},
    "help.demo": {
        "vi": "chạy thử: cổng giả lập + Redis nhúng + một chu kỳ + báo cáo",
        "en": "demo: mock portals + embedded Redis + one cycle + report",
    },
    "help.period": {"vi": "kỳ báo cáo (YYYY-MM)", "en": "reporting period (YYYY-MM)"},
    "help.format": {"vi": "định dạng đầu ra", "en": "output format"},
    "help.report_action": {
        "vi": "show: xem báo cáo (mặc định); publish: công bố một bản cố định, đánh số; "
        "versions: liệt kê các bản đã công bố",
        "en": "show: the report (default); publish: freeze a numbered version; versions: list "
        "the published versions",
    },
    "help.report_output": {
        "vi": "ghi ra tệp (xlsx mặc định ghi bieu-06-<kỳ>.xlsx)",
        "en": "write to a file (xlsx defaults to bieu-06-<period>.xlsx)",
    },
    "help.report_version": {
        "vi": "hiển thị bản đã công bố số N thay vì số liệu hiện tại",
        "en": "show published version N instead of the current figures",
    },
    "help.report_cell": {
        "vi": "liệt kê các hồ sơ tạo nên một ô, ví dụ DT:10 hoặc total:7",
        "en": "list the dossiers behind one cell, e.g. DT:10 or total:7",
    },
    "help.figures": {
        "vi": "số liệu dùng cho csv, paragraph và --cell: corrected (sau đối soát), city, "
        "national (thô)",
        "en": "figures for csv, paragraph and --cell: corrected, or city / national (raw)",
    },
    "help.overdue": {
        "vi": "liệt kê hồ sơ quá hạn, sắp đến hạn, trễ hạn",
        "en": "list overdue, due-soon and late dossiers",
    },
    "help.as_of": {
        "vi": "tính đến hết ngày này (mặc định: hôm nay)",
        "en": "as of the end of this day (default: today)",
    },
    "help.field_filter": {"vi": "chỉ lĩnh vực này (mã)", "en": "only this field (code)"},
    "help.flag": {"vi": "chỉ cờ này", "en": "only this flag"},
    "overdue.bad_date": {
        "vi": "ngày {value!r} không hợp lệ: cần YYYY-MM-DD",
        "en": "date {value!r} is not valid: YYYY-MM-DD is needed",
    },
    "overdue.title": {
        "vi": "Hồ sơ cần chú ý tính đến hết ngày {as_of}: {count}",
        "en": "Dossiers needing attention as of the end of {as_of}: {count}",
    },
    "overdue.due": {"vi": "hạn", "en": "due"},
    "overdue.days_late": {"vi": "({days} ngày làm việc)", "en": "({days} working days)"},
    "flag.overdue": {"vi": "quá hạn", "en": "overdue"},
    "flag.late": {"vi": "trả kết quả trễ hạn", "en": "finished late"},
    "flag.due_soon": {"vi": "sắp đến hạn", "en": "due soon"},
    "flag.late_no_apology": {
        "vi": "trễ hạn chưa có phiếu xin lỗi (Mẫu 04)",
        "en": "late without an apology letter (Mẫu 04)",
    },
    "help.data_dir": {
        "vi": "giữ dữ liệu Redis của bản chạy thử tại đây (mặc định: thư mục tạm)",
        "en": "keep the demo's Redis data here (default: a temporary directory)",
    },
    "help.report": {
        "vi": "in Biểu số 06/VPCP/KSTT của một kỳ báo cáo",
        "en": "print form 06/VPCP/KSTT for a period",
    },
    "help.resync": {
        "vi": "đọc lại dữ liệu từ một cổng, hoặc một số hồ sơ theo mã",
        "en": "read a portal's data again, or some dossiers by code",
    },
    "help.resync_portal": {"vi": "cổng cần đọc lại", "en": "the portal to read again"},
    "help.resync_code": {
        "vi": "mã hồ sơ cần đọc lại từ cả hai cổng (có thể lặp lại)",
        "en": "a dossier code to read again from both portals (repeatable)",
    },
    "help.resync_since": {
        "vi": "chỉ đọc các thay đổi từ ngày này (mặc định: toàn bộ)",
        "en": "only changes since this day (default: everything)",
    },
    "help.quarantine": {
        "vi": "các bản ghi bị cách ly vì không hợp lệ",
        "en": "records set aside because they failed validation",
    },
    "help.quarantine_list": {"vi": "liệt kê, mới nhất trước", "en": "list them, newest first"},
    "help.quarantine_show": {"vi": "xem một bản ghi", "en": "show one"},
    "help.quarantine_retry": {
        "vi": "đọc lại từ cổng theo mã hồ sơ; bản ghi hợp lệ được đưa vào kho",
        "en": "fetch them again by code; records that now pass are stored",
    },
    "help.quarantine_id": {
        "vi": "mã mục cách ly (cột đầu của list)",
        "en": "quarantine entry id (first column of list)",
    },
    "help.quarantine_all": {"vi": "thử lại tất cả", "en": "retry all of them"},
    "help.limit": {"vi": "số dòng tối đa", "en": "at most this many rows"},
    "help.portal_filter": {"vi": "chỉ của cổng này", "en": "only this portal's"},
    "unit.dossiers": {"vi": "hồ sơ", "en": "dossiers"},
    "resync.bad_since": {
        "vi": "--since {value!r}: cần một ngày dạng YYYY-MM-DD",
        "en": "--since {value!r}: expected a day as YYYY-MM-DD",
    },
    "resync.since_with_code": {
        "vi": "--since chỉ dùng với --portal",
        "en": "--since goes with --portal only",
    },
    "resync.codes_done": {
        "vi": "Đã đọc lại {count} mã hồ sơ từ hai cổng: {written} bản ghi mới hoặc thay đổi; "
        "đã đối soát lại.",
        "en": "Read {count} dossier codes again from both portals: {written} records new or "
        "changed; reconciled.",
    },
    "resync.done": {
        "vi": "Đọc lại cổng {portal}: {read} hồ sơ, {written} mới hoặc thay đổi, {rejected} bị "
        "cách ly; đã đối soát {reconciled} hồ sơ.",
        "en": "Resynced {portal}: {read} dossiers read, {written} new or changed, {rejected} "
        "quarantined; {reconciled} reconciled.",
    },
    "help.deadletters": {
        "vi": "hồ sơ đối chiếu lỗi nhiều lần (thư chết) và hồ sơ đang chờ thử lại",
        "en": "dossiers whose reconciliation keeps failing (dead letters), and those to be retried",
    },
    "help.deadletters_list": {
        "vi": "liệt kê (mặc định)",
        "en": "list them (the default)",
    },
    "help.deadletters_retry": {
        "vi": "đối chiếu lại ngay các hồ sơ này",
        "en": "reconcile these dossiers again now",
    },
    "help.deadletters_all": {"vi": "mọi thư chết", "en": "every dead letter"},
    "deadletters.count": {
        "vi": "{dead} hồ sơ đối chiếu lỗi quá số lần cho phép (thư chết), {retrying} hồ sơ đang "
        "chờ thử lại.",
        "en": "{dead} dossiers failed too often (dead letters), {retrying} to be retried.",
    },
    "deadletters.retrying": {
        "vi": "Đang chờ thử lại (mã, lần thử tới, số lần, lỗi):",
        "en": "To be retried (code, next attempt, attempts, error):",
    },
    "deadletters.retry_what": {
        "vi": "Cần chỉ ra mã hồ sơ, hoặc --all (không dùng cả hai)",
        "en": "Name the dossier codes, or --all (not both)",
    },
    "deadletters.unknown": {
        "vi": "Không phải thư chết: {codes}",
        "en": "Not dead letters: {codes}",
    },
    "deadletters.queued": {
        "vi": "Đã xếp {count} hồ sơ vào hàng đợi đối chiếu.",
        "en": "{count} dossiers queued for reconciliation.",
    },
    "quarantine.retry_what": {
        "vi": "Cần chỉ ra mã mục, hoặc --all",
        "en": "Name the entry ids, or --all",
    },
    "quarantine.retried": {
        "vi": "Đã thử lại: {released} bản ghi hợp lệ đã vào kho, {kept} vẫn bị cách ly.",
        "en": "Retried: {released} records now stored, {kept} still quarantined.",
    },
    "quarantine.no_entry": {"vi": "Không có mục cách ly {id}", "en": "No quarantine entry {id}"},
    "quarantine.count": {
        "vi": "{shown} trong tổng số {total} bản ghi bị cách ly:",
        "en": "{shown} of {total} quarantined records:",
    },
    "quarantine.id": {"vi": "Mã mục", "en": "Entry"},
    "quarantine.portal": {"vi": "Cổng", "en": "Portal"},
    "quarantine.code": {"vi": "Mã hồ sơ", "en": "Dossier code"},
    "quarantine.reason": {"vi": "Lý do", "en": "Reason"},
    "quarantine.raw": {
        "vi": "Bản ghi gốc (đã bỏ thông tin cá nhân)",
        "en": "Raw record (personal fields removed)",
    },
    "help.scenario": {"vi": "kịch bản dữ liệu cho cổng giả lập", "en": "mock portal scenarios"},
    "help.scenario_generate": {
        "vi": "sinh một kịch bản (JSON) với số hồ sơ và hạt giống cho trước",
        "en": "generate a scenario (JSON) of a given size and seed",
    },
    "help.scenario_check": {"vi": "kiểm tra một tệp kịch bản", "en": "validate a scenario file"},
    "help.scenario_file": {"vi": "tệp kịch bản (JSON)", "en": "scenario file (JSON)"},
    "help.output": {
        "vi": "ghi ra tệp này (mặc định: đầu ra chuẩn)",
        "en": "write to this file (default: standard output)",
    },
    "scenario.invalid": {
        "vi": "Kịch bản không hợp lệ: {reason}",
        "en": "Invalid scenario: {reason}",
    },
    "scenario.unreadable": {
        "vi": "Không đọc được tệp kịch bản {path}: {reason}",
        "en": "Cannot read scenario file {path}: {reason}",
    },
    "scenario.ok": {
        "vi": "Kịch bản hợp lệ: {path} ({dossiers} hồ sơ)",
        "en": "Scenario is valid: {path} ({dossiers} dossiers)",
    },
    "scenario.written": {
        "vi": "Đã ghi kịch bản {dossiers} hồ sơ vào {path}",
        "en": "Wrote a scenario of {dossiers} dossiers to {path}",
    },
    "help.dossiers_config": {
        "vi": "số hồ sơ của bộ dữ liệu sinh ra (mặc định: mock.dossiers)",
        "en": "dossiers in the generated dataset (default: mock.dossiers)",
    },
    "help.seed_config": {
        "vi": "hạt giống của bộ dữ liệu sinh ra (mặc định: mock.seed)",
        "en": "seed of the generated dataset (default: mock.seed)",
    },
    "help.mock_scenario": {
        "vi": "phục vụ tệp kịch bản này (mặc định: mock.scenario)",
        "en": "serve this scenario file (default: mock.scenario)",
    },
    "help.clock_speed": {
        "vi": "số giây của kịch bản trôi qua mỗi giây thực (mặc định: mock.clock_speed)",
        "en": "scenario seconds per real second (default: mock.clock_speed)",
    },
    "help.fault": {"vi": "lỗi giả lập, xem {key}", "en": "injected fault, see {key}"},
    "mock.clock_needs_scenario": {
        "vi": "--clock-speed cần một kịch bản (--scenario hoặc mock.scenario)",
        "en": "--clock-speed needs a scenario (--scenario or mock.scenario)",
    },
    "help.writeback": {
        "vi": "hàng đợi cập nhật lên Cổng DVCQG: chờ đẩy, đang đẩy, lỗi, đã đẩy",
        "en": "the write-back outbox: to push, in flight, failed, done",
    },
    "help.writeback_list": {
        "vi": "các mục đang chờ (mặc định)",
        "en": "entries waiting (the default)",
    },
    "help.writeback_state": {
        "vi": "chỉ các mục ở trạng thái này",
        "en": "only entries in this state",
    },
    "help.writeback_log": {
        "vi": "các mục đã xong (mới nhất trước)",
        "en": "entries done with, newest first",
    },
    "help.writeback_retry": {"vi": "thử đẩy lại ngay", "en": "push these again now"},
    "help.writeback_all_failed": {"vi": "mọi mục bị lỗi", "en": "every failed entry"},
    "help.writeback_cancel": {
        "vi": "hủy một mục (kế hoạch này không được lập lại; ghi nhật ký)",
        "en": "cancel an entry (this plan is not taken again; audited)",
    },
    "help.writeback_release": {
        "vi": "cho phép đẩy một đợt lớn đang bị giữ lại (ghi nhật ký)",
        "en": "let a held burst of pushes go (audited)",
    },
    "writeback.count": {
        "vi": "{count} mục chờ cập nhật lên Cổng DVCQG ({mode}):",
        "en": "{count} entries to push to the national portal ({mode}):",
    },
    "writeback.dry_run": {"vi": "chạy thử, chưa đẩy", "en": "dry run, nothing pushed"},
    "writeback.enabled": {"vi": "đang đẩy", "en": "pushing"},
    "writeback.held": {
        "vi": "Đang giữ lại, chưa đẩy: {reason}. Xem xét rồi chạy: "
        "syncd writeback release --reason …",
        "en": "Held, nothing pushed: {reason}. Review, then: syncd writeback release --reason …",
    },
    "writeback.state.pending": {"vi": "chờ đẩy", "en": "pending"},
    "writeback.state.in_flight": {"vi": "đang đẩy", "en": "in flight"},
    "writeback.state.failed": {"vi": "lỗi, sẽ thử lại", "en": "failed, to be retried"},
    "writeback.state.dry_run": {"vi": "chạy thử", "en": "dry run"},
    "writeback.outcome.created": {"vi": "đã tạo", "en": "created"},
    "writeback.outcome.updated": {"vi": "đã cập nhật", "en": "updated"},
    "writeback.outcome.unchanged": {"vi": "không cần thay đổi", "en": "nothing to change"},
    "writeback.outcome.superseded": {
        "vi": "hồ sơ trên Cổng đã thay đổi, đối chiếu lại",
        "en": "the portal's record changed; reconciled again",
    },
    "writeback.outcome.withdrawn": {"vi": "không còn cần", "en": "no longer needed"},
    "writeback.outcome.cancelled": {"vi": "đã hủy", "en": "cancelled"},
    "writeback.retry_what": {
        "vi": "Cần chỉ ra mã hồ sơ, hoặc --all (không dùng cả hai)",
        "en": "Name the dossier keys, or --all (not both)",
    },
    "writeback.unknown": {
        "vi": "Không có trong hàng đợi: {keys}",
        "en": "Not in the outbox: {keys}",
    },
    "writeback.retried": {"vi": "Sẽ thử lại ngay {count} mục.", "en": "{count} entries due now."},
    "writeback.cancelled": {"vi": "Đã hủy mục {key}.", "en": "Entry {key} cancelled."},
    "writeback.released": {
        "vi": "Đã cho phép đẩy đợt đang giữ lại.",
        "en": "The held burst may be pushed.",
    },
    "help.check": {"vi": "kiểm tra một tệp cấu hình", "en": "validate a configuration file"},
    "help.serve": {
        "vi": "chỉ phục vụ giao diện vận hành (API, trang web), không đồng bộ",
        "en": "serve the operator interface (API, pages) only, without syncing",
    },
    "help.users": {"vi": "quản lý tài khoản người dùng", "en": "manage user accounts"},
    "help.users_add": {"vi": "thêm người dùng", "en": "add a user"},
    "help.users_remove": {
        "vi": "xoá người dùng và mọi phiên đăng nhập, token của họ",
        "en": "remove a user and all their sessions and tokens",
    },
    "help.users_sessions": {
        "vi": "liệt kê các phiên đăng nhập và token còn hiệu lực của người dùng",
        "en": "list a user's live sessions and tokens",
    },
    "help.users_logout": {
        "vi": "kết thúc mọi phiên đăng nhập và token của người dùng",
        "en": "end all of a user's sessions and tokens",
    },
    "help.users_list": {"vi": "liệt kê người dùng và vai trò", "en": "list users and roles"},
    "help.users_passwd": {
        "vi": "đặt lại mật khẩu (mọi phiên đăng nhập và token cũ kết thúc)",
        "en": "set a new password (every earlier session and token ends)",
    },
    "help.users_role": {
        "vi": "đổi vai trò (mọi phiên đăng nhập và token cũ kết thúc)",
        "en": "change a user's role (every earlier session and token ends)",
    },
    "help.users_token": {
        "vi": "cấp một token API cho máy (chỉ hiển thị một lần)",
        "en": "issue an API token for a machine (shown once)",
    },
    "help.token_label": {"vi": "ghi chú cho token", "en": "a label for the token"},
    "help.password_stdin": {
        "vi": "đọc mật khẩu từ dòng đầu của đầu vào chuẩn",
        "en": "read the password from the first line of standard input",
    },
    # A mismatch's detail, value by value (detail_text)
    "detail.code_date": {"vi": "ngày trong mã hồ sơ: {value}", "en": "date in the code: {value}"},
    "detail.cutover": {
        "vi": "ngày chuyển sang hệ thống mới: {value}",
        "en": "cut-over day: {value}",
    },
    "detail.computed": {
        "vi": "ngày hẹn trả tính theo quy định: {value}",
        "en": "due date by the rules: {value}",
    },
    "detail.differs": {"vi": "khác ở: {sides}", "en": "differs on: {sides}"},
    "detail.duplicates": {
        "vi": "bản ghi trùng của {key}: {codes}",
        "en": "duplicates of {key}: {codes}",
    },
    "source.city": {"vi": "Một cửa thành phố", "en": "City system"},
    "source.national": {"vi": "Cổng DVCQG", "en": "National portal"},
    # Quarantine reasons (connectors.base.WIRE_REASONS: the English is the stored wording).
    "wire.missing": {"vi": "thiếu giá trị", "en": "missing"},
    "wire.not_text": {
        "vi": "cần một chuỗi ký tự, nhận được kiểu {type}",
        "en": "expected a string, got {type}",
    },
    "wire.not_date": {
        "vi": "{value} không phải ngày giờ theo dạng {format}",
        "en": "{value} is not a date in the form {format}",
    },
    "wire.not_records": {
        "vi": "cần một danh sách các đối tượng",
        "en": "expected a list of objects",
    },
    "wire.not_object": {"vi": "không phải một đối tượng JSON", "en": "not a JSON object"},
    "wire.unknown_status": {
        "vi": "trạng thái {value} chưa có trong bảng ánh xạ status_map.city",
        "en": "unknown status {value}",
    },
    "wire.not_choice": {
        "vi": "{value} không thuộc các giá trị {choices}",
        "en": "{value} is not one of {choices}",
    },
    "wire.not_boolean": {"vi": "cần true hoặc false", "en": "expected true or false"},
    "wire.not_code_number": {
        "vi": "{value} không phải mã hợp lệ",
        "en": "{value} is not a valid code",
    },
    "wire.not_zero_one": {"vi": "{value} không phải 0 hoặc 1", "en": "{value} is not 0 or 1"},
    "wire.not_days": {
        "vi": "{value} không phải một số ngày",
        "en": "{value} is not a number of days",
    },
    "wire.negative": {"vi": "{value} là số âm", "en": "{value} is negative"},
    "wire.not_unit": {
        "vi": "{value} không phải «Ngày làm việc» hay «Ngày»",
        "en": "{value} is neither 'Ngày làm việc' nor 'Ngày'",
    },
    "wire.bad_code": {
        "vi": "{value} không phải mã {kind} hợp lệ ({rule})",
        "en": "{value} is not a {kind} code ({rule})",
    },
    "wire.kind.dossier": {"vi": "hồ sơ", "en": "dossier"},
    "wire.kind.procedure": {"vi": "thủ tục", "en": "procedure"},
    "wire.kind.field": {"vi": "lĩnh vực", "en": "field"},
    "wire.rule.dossier": {
        "vi": "chữ, số, '.', '-', '_', bắt đầu bằng chữ hoặc số, tối đa 64 ký tự",
        "en": "letters, digits, '.', '-', '_', starting with a letter or digit, at most 64",
    },
    "wire.rule.procedure": {
        "vi": "chữ, số, '.', '-', '_', bắt đầu bằng chữ hoặc số, tối đa 64 ký tự",
        "en": "letters, digits, '.', '-', '_', starting with a letter or digit, at most 64",
    },
    "wire.rule.field": {
        "vi": "chữ in hoa, số, '.', '-', '_', bắt đầu bằng chữ hoặc số, tối đa 20 ký tự",
        "en": "upper-case letters, digits, '.', '-', '_', starting with a letter or digit, "
        "at most 20",
    },
    "failure.unreachable": {
        "vi": "Không kết nối được tới cổng, hoặc cổng không trả lời kịp",
        "en": "The portal could not be reached, or did not answer in time",
    },
    "failure.overloaded": {
        "vi": "Cổng báo quá tải và yêu cầu gửi chậm lại (HTTP 429)",
        "en": "The portal is overloaded and asked us to slow down (HTTP 429)",
    },
    "failure.server_error": {
        "vi": "Máy chủ của cổng gặp lỗi (HTTP 5xx)",
        "en": "The portal's server failed (HTTP 5xx)",
    },
    "failure.bad_answer": {
        "vi": "Cổng trả về dữ liệu không đúng định dạng đã công bố",
        "en": "The portal answered with data not in its documented format",
    },
    "failure.login_refused": {
        "vi": "Cổng từ chối đăng nhập: kiểm tra tài khoản và mật khẩu kết nối",
        "en": "The portal refused the login: check the connection's account and password",
    },
    "failure.unauthorized": {
        "vi": "Cổng từ chối phiên làm việc hoặc thông tin xác thực (HTTP 401)",
        "en": "The portal refused the session or credentials (HTTP 401)",
    },
    "failure.not_found": {
        "vi": "Cổng không có hồ sơ hoặc địa chỉ được yêu cầu",
        "en": "The portal has no such record or address",
    },
    "failure.refused": {
        "vi": "Cổng từ chối yêu cầu",
        "en": "The portal refused the request",
    },
    "failure.service_error": {
        "vi": "Cổng DVCQG trả về mã lỗi",
        "en": "The national portal answered with an error code",
    },
    "failure.circuit_open": {
        "vi": "Tạm ngừng gọi cổng vì lỗi liên tiếp; sẽ thử lại sau thời gian chờ",
        "en": "Calls to the portal are paused after repeated failures; retried after a cool-down",
    },
    "failure.bad_record": {
        "vi": "Bản ghi đọc lại từ cổng không hợp lệ",
        "en": "The record read back from the portal is not valid",
    },
    "failure.stale": {
        "vi": "Hồ sơ trên cổng đã thay đổi sau khi quyết định; đang đối soát lại",
        "en": "The portal's record changed after the decision; it is being reconciled again",
    },
    "failure.detail": {"vi": "chi tiết kỹ thuật", "en": "technical detail"},
    "auth.bad_name": {
        "vi": "Tên người dùng {name!r} không hợp lệ: cần 2–64 ký tự a–z, 0–9, '.', '_', '-', "
        "bắt đầu bằng chữ hoặc số.",
        "en": "user name {name!r}: 2-64 of a-z, 0-9, '.', '_', '-', starting with a letter or "
        "digit",
    },
    "auth.bad_role": {
        "vi": "Vai trò {role!r} không hợp lệ: chọn một trong {roles}.",
        "en": "role {role!r}: one of {roles}",
    },
    "auth.exists": {"vi": "Người dùng {name!r} đã có.", "en": "user {name!r} exists"},
    "auth.no_user": {"vi": "Không có người dùng {name!r}.", "en": "no user {name!r}"},
    "auth.weak_password": {
        "vi": "Mật khẩu không dùng được: {why}. Hãy dùng một cụm nhiều từ mà người khác khó "
        "đoán, ví dụ ba, bốn từ không liên quan nối bằng dấu gạch.",
        "en": "the password will not do: {why}. Use a phrase of several words others would not "
        "guess, e.g. three or four unrelated words joined by dashes",
    },
    "auth.short_password": {
        "vi": "mật khẩu cần ít nhất {min} ký tự",
        "en": "the password needs at least {min} characters",
    },
    "auth.weak.passwords": {
        "vi": "nó nằm trong danh sách mật khẩu thường gặp",
        "en": "it is on the list of common passwords",
    },
    "auth.weak.user_inputs": {
        "vi": "nó dựa trên tên người dùng hoặc tên hệ thống",
        "en": "it is built on the user name or the system's name",
    },
    "auth.weak.repeat": {
        "vi": "nó lặp lại ký tự hoặc cụm ký tự",
        "en": "it repeats characters or groups of characters",
    },
    "auth.weak.sequence": {
        "vi": "nó là dãy ký tự liên tiếp (như abcd, 1234)",
        "en": "it is a run of consecutive characters (like abcd, 1234)",
    },
    "auth.weak.spatial": {
        "vi": "nó là các phím liền nhau trên bàn phím",
        "en": "it is keys next to each other on the keyboard",
    },
    "auth.weak.date": {
        "vi": "nó dựa trên một ngày tháng hoặc năm",
        "en": "it is built on a date or a year",
    },
    "auth.weak.guessable": {
        "vi": "nó quá dễ đoán",
        "en": "it is too easy to guess",
    },
    "users.password_prompt": {"vi": "Mật khẩu: ", "en": "Password: "},
    "users.password_again": {"vi": "Nhập lại mật khẩu: ", "en": "Password again: "},
    "users.password_mismatch": {"vi": "hai mật khẩu không khớp", "en": "the passwords differ"},
    "users.added": {"vi": "Đã thêm {name} ({role}).", "en": "Added {name} ({role})."},
    "users.removed": {"vi": "Đã xoá {name}.", "en": "Removed {name}."},
    "users.password_set": {
        "vi": "Đã đặt mật khẩu mới cho {name}.",
        "en": "New password set for {name}.",
    },
    "users.role_set": {
        "vi": "{name} nay có vai trò {role}.",
        "en": "{name} now has the role {role}.",
    },
    "users.ended": {
        "vi": "Đã kết thúc {count} phiên đăng nhập và token của {name}.",
        "en": "Ended {count} sessions and tokens of {name}.",
    },
    "users.no_sessions": {
        "vi": "{name} không có phiên đăng nhập hay token nào còn hiệu lực.",
        "en": "{name} has no live session or token.",
    },
    "users.session": {"vi": "phiên đăng nhập", "en": "session"},
    "users.token": {"vi": "token", "en": "token"},
    "users.created": {"vi": "tạo lúc {at}", "en": "created {at}"},
    "users.expires": {"vi": "hết hạn lúc {at}", "en": "expires {at}"},
    "users.label": {"vi": "ghi chú: {label}", "en": "label: {label}"},
    "users.token_once": {
        "vi": "Hãy lưu token này: nó không được hiển thị lại.",
        "en": "Keep this token: it will not be shown again.",
    },
    "http.cannot_listen": {
        "vi": "Không mở được giao diện vận hành tại {where}: {reason}. Đổi http.port "
        "(SYNCD_HTTP_PORT) hoặc tắt bằng http.enabled = false.",
        "en": "Cannot serve the operator interface on {where}: {reason}. Change http.port "
        "(SYNCD_HTTP_PORT) or turn it off with http.enabled = false.",
    },
    "http.serving": {
        "vi": "Giao diện vận hành: {url}",
        "en": "Operator interface: {url}",
    },
    "help.check_file": {
        "vi": "tệp cần kiểm tra (mặc định: --config, hoặc cấu hình mặc định)",
        "en": "file to check (default: --config, or the defaults)",
    },
    "help.mismatches": {
        "vi": "hàng đợi sai lệch: xem, nhận xử lý, giải quyết, mở lại, nhật ký",
        "en": "the mismatch queue: list, claim, resolve, reopen, audit trail",
    },
    "help.mismatches_list": {
        "vi": "liệt kê, phát hiện sớm nhất trước",
        "en": "list them, earliest detected first",
    },
    "help.mismatches_show": {
        "vi": "xem một sai lệch và lịch sử của nó",
        "en": "show one, with its history",
    },
    "help.mismatches_claim": {"vi": "nhận xử lý một sai lệch", "en": "claim one to work on it"},
    "help.mismatches_resolve": {
        "vi": "giải quyết một sai lệch (kèm lý do)",
        "en": "resolve one (with a reason)",
    },
    "help.mismatches_reopen": {
        "vi": "mở lại một sai lệch đã nhận hoặc đã giải quyết",
        "en": "reopen a claimed or resolved one",
    },
    "help.mismatches_audit": {
        "vi": "nhật ký mọi thay đổi trạng thái, cũ nhất trước",
        "en": "the audit trail of every state change, oldest first",
    },
    "help.mismatch_id": {
        "vi": "mã sai lệch, dạng <mã hồ sơ>|<loại> (cột đầu của list)",
        "en": "mismatch id, <dossier code>|<kind> (first column of list)",
    },
    "help.mismatch_kind": {"vi": "chỉ loại sai lệch này", "en": "only this kind"},
    "help.mismatch_state": {"vi": "chỉ trạng thái này", "en": "only this state"},
    "help.mismatch_field": {
        "vi": "chỉ hồ sơ thuộc lĩnh vực này (mã lĩnh vực)",
        "en": "only dossiers of this field (field code)",
    },
    "help.offset": {"vi": "bỏ qua số dòng đầu này", "en": "skip this many rows first"},
    "help.by": {
        "vi": "ghi tên tài khoản này (vai trò operator hoặc admin) thay cho người chạy lệnh; chỉ "
        "khi tên đăng nhập hệ điều hành của bạn là một tài khoản admin",
        "en": "record this account (role operator or admin) instead of who runs the command; "
        "only if your OS login name is an admin account",
    },
    "mismatches.by_not_admin": {
        "vi": "--by chỉ dùng được khi tên đăng nhập hệ điều hành của bạn, {me}, là một tài "
        "khoản admin của giao diện vận hành: nhật ký ghi tên người chạy lệnh. Hãy bỏ --by, hoặc "
        "nhờ quản trị viên.",
        "en": "--by is honoured only in an administrator's context: your OS login name, {me}, "
        "must be an admin account of the operator interface; the audit names who runs the "
        "command. Leave out --by, or ask an administrator.",
    },
    "mismatches.by_unknown": {
        "vi": "--by {name!r}: không có tài khoản nào tên này được xử lý sai lệch (vai trò "
        "operator hoặc admin).",
        "en": "--by {name!r}: no account of that name may work the queue (role operator or admin).",
    },
    "help.reason": {"vi": "lý do (bắt buộc)", "en": "the reason (required)"},
    "help.accept": {
        "vi": "lấy giá trị của bên này (city: Một cửa thành phố, national: Cổng DVCQG)",
        "en": "take this side's value (city: the city system, national: the national portal)",
    },
    "help.value": {
        "vi": "giá trị nhập tay, dạng TRƯỜNG=GIÁ_TRỊ (vd. status=9)",
        "en": "a manual value, FIELD=VALUE (e.g. status=9)",
    },
    "help.ignore": {"vi": "bỏ qua sai lệch này", "en": "ignore this mismatch"},
    "help.since": {
        "vi": "từ thời điểm này (ISO 8601, hoặc mã mục của nhật ký)",
        "en": "from this time (ISO 8601, or an audit entry id)",
    },
    "kind.missing_national": {"vi": "thiếu trên DVCQG", "en": "missing on the national portal"},
    "kind.missing_city": {"vi": "thiếu trên Một cửa", "en": "missing on the city system"},
    "kind.status": {"vi": "lệch trạng thái", "en": "statuses differ"},
    "kind.collapsed_status": {
        "vi": "trạng thái bị gộp thành đã xử lý",
        "en": "status collapsed into finished",
    },
    "kind.received_date": {"vi": "lệch ngày tiếp nhận", "en": "received dates differ"},
    "kind.due_date": {"vi": "lệch ngày hẹn trả", "en": "due dates differ"},
    "kind.finished_date": {"vi": "lệch ngày kết thúc xử lý", "en": "finish dates differ"},
    "kind.channel": {"vi": "lệch kênh thực hiện", "en": "channels differ"},
    "kind.procedure": {"vi": "lệch thủ tục", "en": "procedure codes differ"},
    "kind.field": {"vi": "lệch lĩnh vực", "en": "fields differ"},
    "kind.duplicate": {"vi": "hồ sơ trùng", "en": "duplicate dossier"},
    "kind.migrated": {"vi": "chuyển từ hệ thống cũ", "en": "migrated from the old system"},
    "kind.unknown_procedure": {
        "vi": "thủ tục không có trong danh mục",
        "en": "procedure not in the catalogue",
    },
    # Reasons a report gives beside the mismatch kinds (syncd.reports, "differences").
    "kind.excluded": {"vi": "không tính vào kỳ báo cáo", "en": "left out of the period"},
    "kind.override": {"vi": "cán bộ đã sửa số liệu", "en": "corrected by an operator"},
    "kind.clock_stops": {
        "vi": "thời gian tạm dừng ghi nhận khác nhau (Cổng DVCQG chỉ ghi yêu cầu bổ sung)",
        "en": "the clock stops on record differ (the national portal dates supplement "
        "requests only)",
    },
    "kind.unexplained": {
        "vi": "dữ liệu hai bên khác nhau ở trường không đối chiếu",
        "en": "the records differ in a field reconciliation does not compare",
    },
    "kind.gone": {"vi": "không còn thuộc kỳ báo cáo", "en": "no longer in the period"},
    "kind.updated": {"vi": "dữ liệu hồ sơ đã thay đổi", "en": "the dossier's data changed"},
    "kind.new": {
        "vi": "hồ sơ mới đồng bộ sau khi công bố",
        "en": "a dossier synced after publication",
    },
    "state.open": {"vi": "đang mở", "en": "open"},
    "state.claimed": {"vi": "đã nhận xử lý", "en": "claimed"},
    "state.pushing": {
        "vi": "đang cập nhật lên Cổng DVC quốc gia",
        "en": "being pushed to the national portal",
    },
    "state.resolved": {"vi": "đã giải quyết", "en": "resolved"},
    "state.auto_resolved": {"vi": "tự động giải quyết", "en": "auto-resolved"},
    "op.claim": {"vi": "nhận xử lý", "en": "claim it"},
    "op.resolve": {"vi": "giải quyết", "en": "resolve it"},
    "op.reopen": {"vi": "mở lại", "en": "reopen it"},
    "resolution.accept_city": {
        "vi": "lấy theo Một cửa thành phố",
        "en": "the city system's value",
    },
    "resolution.accept_national": {
        "vi": "lấy theo Cổng DVCQG",
        "en": "the national portal's value",
    },
    "resolution.manual": {"vi": "giá trị nhập tay", "en": "a manual value"},
    "resolution.ignore": {"vi": "bỏ qua", "en": "ignored"},
    "resolution.mark_migrated": {
        "vi": "cán bộ xác định là hồ sơ chuyển từ hệ thống cũ",
        "en": "marked by an operator as migrated from the old system",
    },
    "resolution.unmark_migrated": {
        "vi": "cán bộ xác định không phải hồ sơ chuyển từ hệ thống cũ",
        "en": "marked by an operator as not migrated",
    },
    "audit.mark_migrated": {"vi": "đánh dấu chuyển từ hệ thống cũ", "en": "marked migrated"},
    "audit.unmark_migrated": {
        "vi": "bỏ đánh dấu chuyển từ hệ thống cũ",
        "en": "unmarked migrated",
    },
    "queue.no_dossier": {"vi": "Không có hồ sơ {key}", "en": "No dossier {key}"},
    "mismatches.marked": {
        "vi": "Đã đánh dấu hồ sơ {key} là chuyển từ hệ thống cũ; hồ sơ sẽ được đối soát lại "
        "và không được tính vào báo cáo.",
        "en": "Marked dossier {key} as migrated; it will be reconciled again and left out of "
        "the counts.",
    },
    "mismatches.unmarked": {
        "vi": "Đã xác định hồ sơ {key} không phải hồ sơ chuyển từ hệ thống cũ; hồ sơ sẽ được "
        "đối soát lại và được tính vào báo cáo.",
        "en": "Marked dossier {key} as not migrated; it will be reconciled again and counted.",
    },
    "help.mismatches_mark": {
        "vi": "xác định một hồ sơ là chuyển từ hệ thống cũ (không tính vào báo cáo), kèm lý do",
        "en": "mark a dossier as migrated from the old system (left out of the counts), with a "
        "reason",
    },
    "help.mismatches_unmark": {
        "vi": "xác định một hồ sơ không phải chuyển từ hệ thống cũ (được tính), kèm lý do",
        "en": "mark a dossier as not migrated (counted), with a reason",
    },
    "help.dossier_key": {"vi": "mã hồ sơ", "en": "the dossier's key (its code)"},
    "audit.detect": {"vi": "phát hiện", "en": "detected"},
    "audit.auto_resolve": {"vi": "tự động giải quyết", "en": "auto-resolved"},
    "audit.reopen": {"vi": "mở lại", "en": "reopened"},
    "audit.claim": {"vi": "nhận xử lý", "en": "claimed"},
    "audit.push_planned": {
        "vi": "chờ cập nhật lên Cổng DVC quốc gia",
        "en": "to be pushed to the national portal",
    },
    "audit.push": {
        "vi": "đã cập nhật lên Cổng DVC quốc gia",
        "en": "pushed to the national portal",
    },
    "audit.push_failed": {
        "vi": "cập nhật lên Cổng DVC quốc gia thất bại",
        "en": "push to the national portal failed",
    },
    "audit.push_cancel": {"vi": "hủy cập nhật", "en": "push cancelled"},
    "audit.push_release": {"vi": "cho phép đẩy hàng loạt", "en": "burst of pushes released"},
    "audit.resolve": {"vi": "giải quyết", "en": "resolved"},
    "queue.unknown": {"vi": "Không có sai lệch {id}", "en": "No mismatch {id}"},
    "queue.bad_transition": {
        "vi": "Sai lệch {id} đang ở trạng thái {state}: không thể {op}",
        "en": "Mismatch {id} is {state}: cannot {op}",
    },
    "queue.already_claimed": {
        "vi": "Sai lệch {id} đã được {who} nhận xử lý",
        "en": "Mismatch {id} is already claimed by {who}",
    },
    "queue.no_reason": {
        "vi": "Cần nêu lý do (--reason), không được để trống",
        "en": "A reason is required (--reason) and cannot be empty",
    },
    "queue.no_who": {
        "vi": "Cần tên người thực hiện (--by), không được để trống",
        "en": "Who does it is required (--by) and cannot be empty",
    },
    "queue.bad_action": {
        "vi": "Cách giải quyết không hợp lệ {action!r} (các cách hợp lệ: {actions})",
        "en": "Unknown resolution {action!r} (valid: {actions})",
    },
    "queue.resolve_how": {
        "vi": "Cần đúng một cách giải quyết: --accept city|national, --value TRƯỜNG=GIÁ_TRỊ "
        "hoặc --ignore",
        "en": "Give exactly one resolution: --accept city|national, --value FIELD=VALUE or "
        "--ignore",
    },
    "api.no_reason": {
        "vi": "Cần nêu lý do (reason), không được để trống",
        "en": "A reason is required and cannot be empty",
    },
    "api.no_who": {
        "vi": "Không xác định được người thực hiện",
        "en": "Who does it could not be determined",
    },
    "api.resolve_how": {
        "vi": "Cần đúng một cách giải quyết (action): accept_city, accept_national, manual kèm "
        "value TRƯỜNG=GIÁ_TRỊ, hoặc ignore",
        "en": "Give exactly one resolution (action): accept_city, accept_national, manual with "
        "a value FIELD=VALUE, or ignore",
    },
    "queue.needs_value": {
        "vi": "Giải quyết bằng giá trị nhập tay cần một giá trị TRƯỜNG=GIÁ_TRỊ",
        "en": "A manual resolution needs a value FIELD=VALUE",
    },
    "queue.value_only_manual": {
        "vi": "Chỉ giải quyết bằng giá trị nhập tay mới kèm giá trị",
        "en": "Only a manual resolution takes a value",
    },
    "queue.value_form": {
        "vi": "Giá trị {value!r}: cần dạng TRƯỜNG=GIÁ_TRỊ, TRƯỜNG là một trong {fields}",
        "en": "Value {value!r}: expected FIELD=VALUE, FIELD one of {fields}",
    },
    "queue.value_field": {
        "vi": "Trường {field!r} không sửa được (các trường hợp lệ: {fields})",
        "en": "Field {field!r} cannot be set (valid fields: {fields})",
    },
    "queue.value_number": {
        "vi": "{field}={value!r}: cần một số nguyên từ 1 đến {high}",
        "en": "{field}={value!r}: expected a whole number from 1 to {high}",
    },
    "queue.value_time": {
        "vi": "{field}={value!r}: cần thời điểm ISO 8601 kèm múi giờ, "
        "vd. 2024-07-01T08:30:00+07:00",
        "en": "{field}={value!r}: expected an ISO 8601 time with its offset, "
        "e.g. 2024-07-01T08:30:00+07:00",
    },
    "queue.value_code": {
        "vi": "{field}={value!r}: cần một mã không rỗng, không có khoảng trắng",
        "en": "{field}={value!r}: expected a non-empty code without spaces",
    },
    "queue.no_side_record": {
        "vi": "Sai lệch {id}: không tìm thấy bản ghi của bên {side} để lấy giá trị; "
        "hãy dùng --value TRƯỜNG=GIÁ_TRỊ",
        "en": "Mismatch {id}: no {side} record to take the value from; use --value FIELD=VALUE",
    },
    "queue.bad_state_filter": {
        "vi": "Trạng thái không hợp lệ {state!r} (các trạng thái: {states})",
        "en": "Unknown state {state!r} (states: {states})",
    },
    "queue.bad_kind": {
        "vi": "Loại sai lệch không hợp lệ {kind!r} (các loại: {kinds})",
        "en": "Unknown mismatch kind {kind!r} (kinds: {kinds})",
    },
    "queue.bad_page": {
        "vi": "--limit và --offset không được âm",
        "en": "--limit and --offset cannot be negative",
    },
    "queue.bad_since": {
        "vi": "--since {value!r}: cần thời điểm ISO 8601 hoặc mã mục của nhật ký",
        "en": "--since {value!r}: expected an ISO 8601 time or an audit entry id",
    },
    "mismatches.count": {
        "vi": "{shown} trong tổng số {total} sai lệch:",
        "en": "{shown} of {total} mismatches:",
    },
    "mismatches.claimed": {
        "vi": "Đã nhận xử lý sai lệch {id} (người nhận: {who}).",
        "en": "Claimed mismatch {id} (by {who}).",
    },
    "mismatches.resolved": {
        "vi": "Đã giải quyết sai lệch {id}: {action}.",
        "en": "Resolved mismatch {id}: {action}.",
    },
    "mismatches.override": {
        "vi": "Đã ghi giá trị {value} cho hồ sơ {key}; hồ sơ sẽ được đối soát lại.",
        "en": "Set {value} for dossier {key}; it will be reconciled again.",
    },
    "mismatches.reopened": {"vi": "Đã mở lại sai lệch {id}.", "en": "Reopened mismatch {id}."},
    "mismatches.audit_count": {
        "vi": "{count} mục nhật ký:",
        "en": "{count} audit entries:",
    },
    "mismatch.id": {"vi": "Mã sai lệch", "en": "Mismatch"},
    "mismatch.key": {"vi": "Mã hồ sơ", "en": "Dossier code"},
    "mismatch.kind": {"vi": "Loại", "en": "Kind"},
    "mismatch.severity": {"vi": "Mức độ", "en": "Severity"},
    "mismatch.city": {"vi": "Một cửa thành phố", "en": "City system"},
    "mismatch.national": {"vi": "Cổng DVCQG", "en": "National portal"},
    "mismatch.detail": {"vi": "Chi tiết", "en": "Detail"},
    "mismatch.state": {"vi": "Trạng thái", "en": "State"},
    "mismatch.present": {"vi": "Còn phát hiện", "en": "Still detected"},
    "mismatch.detected_at": {"vi": "Phát hiện lúc", "en": "Detected at"},
    "mismatch.last_seen_at": {"vi": "Thấy lần cuối", "en": "Last seen at"},
    "mismatch.claimed_by": {"vi": "Người nhận xử lý", "en": "Claimed by"},
    "mismatch.resolution": {"vi": "Cách giải quyết", "en": "Resolution"},
    "mismatch.reason": {"vi": "Lý do", "en": "Reason"},
    "mismatch.resolved_by": {"vi": "Người giải quyết", "en": "Resolved by"},
    "mismatch.history": {"vi": "Lịch sử", "en": "History"},
    "event.detected": {"vi": "phát hiện", "en": "detected"},
    "event.claimed": {"vi": "nhận xử lý", "en": "claimed"},
    "event.being pushed": {
        "vi": "chờ cập nhật lên Cổng DVC quốc gia",
        "en": "being pushed to the national portal",
    },
    "event.reopened: no longer pushed": {
        "vi": "mở lại: không còn được cập nhật tự động",
        "en": "reopened: no longer pushed",
    },
    "event.resolved": {"vi": "giải quyết", "en": "resolved"},
    "event.reopened": {"vi": "mở lại", "en": "reopened"},
    "event.auto_resolved": {"vi": "tự động giải quyết", "en": "auto-resolved"},
    "event.no longer detected": {"vi": "không còn phát hiện", "en": "no longer detected"},
    "event.data changed": {"vi": "dữ liệu thay đổi", "en": "data changed"},
    "event.reopened: data changed": {
        "vi": "mở lại: dữ liệu thay đổi",
        "en": "reopened: data changed",
    },
    "event.reopened: detected again": {
        "vi": "mở lại: phát hiện lại",
        "en": "reopened: detected again",
    },
    "yes": {"vi": "có", "en": "yes"},
    "no": {"vi": "không", "en": "no"},
}


def set_language(language: str | None) -> Language:
    chosen = (language or os.environ.get("SYNCD_LANG") or "vi").strip().lower()
    _current[0] = "en" if chosen.startswith("en") else "vi"
    return _current[0]


def language() -> Language:
    return _current[0]


def t(message: str, /, **values: object) -> str:
    """`message` in the current language."""
    return tr(_current[0], message, **values)


def tr(lang: Language, message: str, /, **values: object) -> str:
    """`message` in `lang`."""
    return MESSAGES[message][lang].format(**values)


def reason_text(reason: Mapping[str, Any], lang: Language) -> str:
    """A report's reason in words, as a sentence: its kind's label (`kind.*`, the one
    vocabulary of mismatch kinds), then its detail in words ("Chuyển từ hệ thống cũ (ngày
    trong mã hồ sơ: 15/04/2024)"); for "excluded", the detail is itself a kind."""
    kind = str(reason.get("kind") or "")
    detail = str(reason.get("detail") or "")
    label = _sentence(tr(lang, f"kind.{kind}") if f"kind.{kind}" in MESSAGES else kind)
    if kind == "excluded" and detail:
        because = tr(lang, f"kind.{detail}") if f"kind.{detail}" in MESSAGES else detail
        return f"{label}: {because}"
    return f"{label} ({detail_text(detail, lang)})" if detail else label


def detail_text(detail: str, lang: Language) -> str:
    """A mismatch's detail (as reconcile.engine words it: "code_date=2024-04-15; cutover=…",
    "computed=…; differs: city", "duplicates of K: a, b") with each value labelled in `lang`;
    a part of no known form as it is."""
    parts = []
    for part in detail.split("; "):
        name, sep, value = part.partition("=")
        if sep and f"detail.{name}" in MESSAGES:
            parts.append(tr(lang, f"detail.{name}", value=_day_text(value)))
        elif part.startswith("differs: "):
            sides = [
                tr(lang, f"source.{s}") if f"source.{s}" in MESSAGES else s
                for s in part.removeprefix("differs: ").split(", ")
            ]
            parts.append(tr(lang, "detail.differs", sides=", ".join(sides)))
        elif part.startswith("duplicates of ") and ": " in part:
            key, _, codes = part.removeprefix("duplicates of ").partition(": ")
            parts.append(tr(lang, "detail.duplicates", key=key, codes=codes))
        else:
            parts.append(part)
    return "; ".join(parts)


def clock_text(value: object) -> str:
    """A stored time as the command line prints it: local (Vietnam) dd/mm/yyyy HH:MM:SS; "-"
    for none, and a text that is not a time as it is."""
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(str(value)).astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M:%S")
    except ValueError:
        return str(value)


def _day_text(value: str) -> str:
    try:
        return date.fromisoformat(value).strftime("%d/%m/%Y")
    except ValueError:
        return value


def wire_reason(text: str, lang: Language) -> str:
    """A quarantine reason as stored (English, connectors.base.WIRE_REASONS) in `lang`; a
    reason of no known form is shown as it is."""
    from connectors.base import parse_reason

    parsed = parse_reason(text)
    if parsed is None:
        return text
    code, field, values = parsed
    if code == "bad_code" and f"wire.kind.{values['kind']}" in MESSAGES:
        kind = values["kind"]
        values = {
            **values,
            "kind": tr(lang, f"wire.kind.{kind}"),
            "rule": tr(lang, f"wire.rule.{kind}"),
        }
    return f"{field}: {tr(lang, f'wire.{code}', **values)}"


# argparse's own words (its gettext message ids, CPython 3.11) in Vietnamese; a message it has
# that is not here stays in English.
ARGPARSE_VI: dict[str, str] = {
    "usage: ": "cách dùng: ",
    "options": "tùy chọn",
    "positional arguments": "tham số vị trí",
    "show this help message and exit": "hiện hướng dẫn này rồi thoát",
    "%(prog)s: error: %(message)s\n": "%(prog)s: lỗi: %(message)s\n",
    "argument %(argument_name)s: %(message)s": "tham số %(argument_name)s: %(message)s",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "giá trị %(value)r không hợp lệ (chọn một trong: %(choices)s)"
    ),
    "invalid %(type)s value: %(value)r": "giá trị %(value)r không hợp lệ (cần kiểu %(type)s)",
    "the following arguments are required: %s": "thiếu tham số bắt buộc: %s",
    "unrecognized arguments: %s": "tham số không nhận ra: %s",
    "expected one argument": "cần một giá trị",
    "expected at least one argument": "cần ít nhất một giá trị",
    "expected at most one argument": "cần nhiều nhất một giá trị",
    "one of the arguments %s is required": "cần một trong các tham số %s",
    "not allowed with argument %s": "không dùng cùng tham số %s",
    "ambiguous option: %(option)s could match %(matches)s": (
        "tùy chọn %(option)s không rõ, có thể là %(matches)s"
    ),
    "can't open '%(filename)s': %(error)s": "không mở được '%(filename)s': %(error)s",
    "ignored explicit argument %r": "bỏ qua giá trị %r",
}


def argparse_words(message: str) -> str:
    """argparse's gettext: its usage lines, headings and errors in the current language."""
    return ARGPARSE_VI.get(message, message) if _current[0] == "vi" else message


def named_choices(prefix: str, values: Iterable[str]) -> str:
    """The values a command-line option takes, each with its name in the current language
    (`prefix` + value): "open (đang mở), claimed (đã nhận xử lý), …"; a name that only
    repeats the value ("auto-resolved") is left out."""

    def named(value: str) -> str:
        name = t(prefix + value)
        same = name.replace("-", "_").replace(" ", "_") == value
        return value if same else f"{value} ({name})"

    return ", ".join(named(value) for value in values)


def failure_text(kind: str | None, detail: str, lang: Language) -> str:
    """A failure as an operator reads it: why, in their language (`failure.<kind>`: the kinds
    of connectors.base.FAILURES and the pusher's own), then the technical detail as the portal
    client wrote it; a failure of no known kind is its detail alone."""
    if not kind or f"failure.{kind}" not in MESSAGES:
        return detail
    why = tr(lang, f"failure.{kind}")
    return f"{why} ({tr(lang, 'failure.detail')}: {detail})" if detail else why


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
