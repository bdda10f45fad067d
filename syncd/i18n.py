"""Texts people read: Vietnamese by default, English on request (`--lang en` or SYNCD_LANG=en).

Log events stay in English: they are for machines and administrators, and their keys are stable.
"""

from __future__ import annotations

import os
from typing import Literal

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
    "type.choice": {"vi": "một trong các giá trị {choices}", "en": "one of {choices}"},
    "type.range": {"vi": "{kind} trong khoảng {low}–{high}", "en": "{kind} from {low} to {high}"},
    "type.min": {"vi": "{kind} không nhỏ hơn {low}", "en": "{kind} of at least {low}"},
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
    "help.check": {"vi": "kiểm tra một tệp cấu hình", "en": "validate a configuration file"},
    "help.check_file": {
        "vi": "tệp cần kiểm tra (mặc định: --config, hoặc cấu hình mặc định)",
        "en": "file to check (default: --config, or the defaults)",
    },
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
