"""Texts of the web pages, in Vietnamese and English.

`text(lang, key, **values)` looks here first, then in `syncd.i18n.MESSAGES` (mismatch kinds,
states, flags, queue errors...), so the pages and the command line name things alike. A few
queue errors mention command-line flags (`--reason`); their page wording is here and wins.
"""

from __future__ import annotations

from collections.abc import Mapping

from syncd.i18n import MESSAGES, Language, reason_text

Text = dict[Language, str]

PAGE_TEXTS: dict[str, Text] = {
    # --- frame ---------------------------------------------------------------------------
    "app.name": {"vi": "syncd — Đối soát hồ sơ TTHC", "en": "syncd — dossier reconciliation"},
    "app.agency": {"vi": "Đơn vị: {name}", "en": "Agency: {name}"},
    "skip": {"vi": "Bỏ qua, đến nội dung chính", "en": "Skip to main content"},
    "nav.label": {"vi": "Điều hướng chính", "en": "Main navigation"},
    "nav.dashboard": {"vi": "Tổng quan", "en": "Dashboard"},
    "nav.mismatches": {"vi": "Sai lệch", "en": "Mismatches"},
    "nav.overdue": {"vi": "Quá hạn", "en": "Overdue"},
    "nav.reports": {"vi": "Báo cáo", "en": "Reports"},
    "nav.audit": {"vi": "Nhật ký", "en": "Audit log"},
    "nav.writeback": {"vi": "Cập nhật lên Cổng quốc gia", "en": "Write-back"},
    "nav.quarantine": {"vi": "Cách ly và lỗi", "en": "Quarantine and failures"},
    # --- write-back ------------------------------------------------------------------------
    "writeback.title": {
        "vi": "Cập nhật lên Cổng Dịch vụ công quốc gia",
        "en": "Write-back to the national portal",
    },
    "writeback.mode_push": {
        "vi": "Đang bật: các sửa đổi an toàn được đẩy lên Cổng quốc gia, chỉ những trường được "
        "sửa, không bao giờ lùi trạng thái.",
        "en": "On: safe fixes are pushed to the national portal, only the corrected fields, "
        "never moving a status backwards.",
    },
    "writeback.mode_dry_run": {
        "vi": "Chạy thử: chưa đẩy gì; dưới đây là những gì sẽ được đẩy khi bật "
        "(writeback.enabled).",
        "en": "Dry run: nothing is pushed; below is what would be pushed once switched on "
        "(writeback.enabled).",
    },
    "writeback.held_page": {
        "vi": "Đang giữ lại, chưa đẩy (từ {at}): {reason}. Cần quản trị viên xem xét.",
        "en": "Held, nothing pushed (since {at}): {reason}. An administrator must look.",
    },
    "writeback.release_reason": {"vi": "Lý do cho phép đẩy", "en": "Why it may go"},
    "writeback.release": {"vi": "Cho phép đẩy", "en": "Release"},
    "writeback.outbox": {"vi": "Hàng đợi ({count})", "en": "Outbox ({count})"},
    "writeback.empty": {"vi": "Không có gì chờ đẩy.", "en": "Nothing waits to be pushed."},
    "writeback.log": {"vi": "Đã xử lý gần đây ({count})", "en": "Done with lately ({count})"},
    "writeback.log_empty": {"vi": "Chưa có mục nào.", "en": "None yet."},
    "writeback.col_action": {"vi": "Thao tác", "en": "Action"},
    "writeback.col_changes": {"vi": "Thay đổi", "en": "Changes"},
    "writeback.col_attempts": {"vi": "Số lần thử", "en": "Attempts"},
    "writeback.col_error": {"vi": "Lỗi gần nhất", "en": "Last error"},
    "writeback.col_do": {"vi": "Xử lý", "en": "Act"},
    "writeback.col_when": {"vi": "Thời điểm", "en": "When"},
    "writeback.col_outcome": {"vi": "Kết quả", "en": "Outcome"},
    "writeback.col_by": {"vi": "Người thực hiện", "en": "By"},
    "writeback.retry": {"vi": "Đẩy lại ngay", "en": "Push now"},
    "writeback.cancel": {"vi": "Hủy", "en": "Cancel"},
    "writeback.cancel_reason": {"vi": "Lý do hủy", "en": "Why cancel"},
    "writeback.action.create": {"vi": "tạo mới", "en": "create"},
    "writeback.action.update": {"vi": "cập nhật", "en": "update"},
    "writeback.gone": {
        "vi": "{key} không còn trong hàng đợi.",
        "en": "{key} is no longer in the outbox.",
    },
    "writeback.retried_one": {"vi": "{key} sẽ được đẩy ngay.", "en": "{key} will be pushed now."},
    "writeback.cancelled_one": {"vi": "Đã hủy {key}.", "en": "{key} cancelled."},
    "writeback.reason_needed": {"vi": "Cần nhập lý do.", "en": "A reason is needed."},
    "writeback.released_page": {
        "vi": "Đã cho phép đẩy đợt đang giữ lại.",
        "en": "The held burst may be pushed.",
    },
    # --- quarantine and failures -----------------------------------------------------------
    "quarantine.title": {"vi": "Cách ly và lỗi đối chiếu", "en": "Quarantine and failures"},
    "quarantine.dead": {
        "vi": "Hồ sơ đối chiếu lỗi nhiều lần ({count})",
        "en": "Dossiers whose reconciliation keeps failing ({count})",
    },
    "quarantine.dead_help": {
        "vi": "Mỗi hồ sơ lỗi được thử lại nhiều lần; sau đó được giữ ở đây và thử lại khi dữ "
        "liệu của nó thay đổi, khi quét toàn bộ, hoặc khi quản trị viên yêu cầu.",
        "en": "Each failing dossier is retried several times; then it waits here, and is tried "
        "again when its data changes, at a full sweep, or when an administrator asks.",
    },
    "quarantine.dead_retry": {"vi": "Đối chiếu lại tất cả", "en": "Reconcile them all again"},
    "quarantine.dead_queued": {
        "vi": "Đã xếp {count} hồ sơ vào hàng đợi đối chiếu.",
        "en": "{count} dossiers queued for reconciliation.",
    },
    "quarantine.dead_table": {"vi": "Hồ sơ đối chiếu lỗi", "en": "Failing dossiers"},
    "quarantine.retrying": {"vi": "Đang chờ thử lại ({count})", "en": "To be retried ({count})"},
    "quarantine.records": {
        "vi": "Bản ghi bị cách ly ({shown} trong {total})",
        "en": "Quarantined records ({shown} of {total})",
    },
    "quarantine.none": {
        "vi": "Không có bản ghi nào bị cách ly.",
        "en": "No record is quarantined.",
    },
    "quarantine.no_code": {"vi": "(không đọc được mã)", "en": "(code unreadable)"},
    "quarantine.col_code": {"vi": "Mã hồ sơ", "en": "Dossier code"},
    "quarantine.col_portal": {"vi": "Nguồn", "en": "Portal"},
    "quarantine.col_reason": {"vi": "Lý do", "en": "Reason"},
    "quarantine.col_seen": {"vi": "Số lần gặp", "en": "Times seen"},
    "quarantine.col_last": {"vi": "Lần gặp gần nhất", "en": "Last seen"},
    "quarantine.col_retry": {"vi": "Thử lại lúc", "en": "Next retry"},
    "quarantine.col_attempts": {"vi": "Số lần thử", "en": "Attempts"},
    "quarantine.col_last_at": {"vi": "Lỗi gần nhất lúc", "en": "Last failed"},
    "quarantine.col_next_at": {"vi": "Thử lại lúc", "en": "Next attempt"},
    "quarantine.col_error": {"vi": "Lỗi", "en": "Error"},
    "lang.label": {"vi": "Ngôn ngữ", "en": "Language"},
    "lang.vi": {"vi": "Tiếng Việt", "en": "Tiếng Việt"},
    "lang.en": {"vi": "English", "en": "English"},
    "user.signed_in": {"vi": "Người dùng: {name} ({role})", "en": "Signed in: {name} ({role})"},
    "role.viewer": {"vi": "người xem", "en": "viewer"},
    "role.operator": {"vi": "cán bộ xử lý", "en": "operator"},
    "role.admin": {"vi": "quản trị", "en": "administrator"},
    "logout": {"vi": "Đăng xuất", "en": "Log out"},
    "logout.done": {"vi": "Đã đăng xuất.", "en": "You are logged out."},
    "flash.ok": {"vi": "Thông báo", "en": "Notice"},
    "flash.error": {"vi": "Lỗi", "en": "Error"},
    "none": {"vi": "—", "en": "—"},
    "table.scroll": {
        "vi": "Bảng có thể cuộn ngang",
        "en": "The table scrolls horizontally",
    },
    # --- login ---------------------------------------------------------------------------
    "login.title": {"vi": "Đăng nhập", "en": "Log in"},
    "login.intro": {
        "vi": "Đăng nhập bằng tài khoản do quản trị viên cấp.",
        "en": "Log in with the account your administrator gave you.",
    },
    "login.user": {"vi": "Tên đăng nhập", "en": "User name"},
    "login.password": {"vi": "Mật khẩu", "en": "Password"},
    "login.submit": {"vi": "Đăng nhập", "en": "Log in"},
    "login.failed": {
        "vi": "Tên đăng nhập hoặc mật khẩu không đúng.",
        "en": "The user name or the password is wrong.",
    },
    "login.throttled_pair": {
        "vi": "Tài khoản này đã đăng nhập sai {count} lần liên tiếp từ máy của bạn. Để bảo vệ "
        "tài khoản, vui lòng chờ {wait} rồi thử lại (từ {at}). Quên mật khẩu? Hãy nhờ quản trị "
        "viên đặt lại.",
        "en": "{count} failed attempts in a row for this account from your device. To protect "
        "the account, please wait {wait} and try again (from {at}). Forgot the password? Ask "
        "your administrator to set a new one.",
    },
    "login.throttled_address": {
        "vi": "Có {count} lần đăng nhập sai từ địa chỉ mạng của bạn trong {window} qua. Vui lòng "
        "thử lại sau {wait} (từ {at}). Nếu cả cơ quan dùng chung một địa chỉ, hãy báo quản trị "
        "viên.",
        "en": "{count} failed logins came from your network address in the last {window}. "
        "Please try again in {wait} (from {at}). If your whole office shares one address, "
        "tell your administrator.",
    },
    "login.stale": {
        "vi": "Biểu mẫu đăng nhập đã cũ. Vui lòng nhập lại.",
        "en": "The login form was out of date. Please enter your details again.",
    },
    # --- dashboard -----------------------------------------------------------------------
    "dash.title": {"vi": "Tổng quan", "en": "Dashboard"},
    "dash.sync": {"vi": "Tình trạng đồng bộ", "en": "Sync status"},
    "portal.city": {"vi": "Hệ thống Một cửa thành phố", "en": "City one-stop system"},
    "portal.national": {"vi": "Cổng Dịch vụ công quốc gia", "en": "National public service portal"},
    "sync.state": {"vi": "Tình trạng", "en": "State"},
    "sync.ok": {"vi": "Bình thường", "en": "Working"},
    "sync.failing": {"vi": "Đang lỗi", "en": "Failing"},
    "sync.never": {"vi": "Chưa đồng bộ lần nào", "en": "Not synced yet"},
    "sync.last_success_at": {"vi": "Đồng bộ thành công lần cuối", "en": "Last successful sync"},
    "sync.last_error": {"vi": "Lỗi gần nhất", "en": "Last error"},
    "sync.last_error_at": {"vi": "Thời điểm lỗi gần nhất", "en": "Last error at"},
    "sync.lag_seconds": {"vi": "Độ trễ", "en": "Lag"},
    "sync.cursor": {"vi": "Con trỏ đồng bộ", "en": "Cursor"},
    "sync.circuit": {"vi": "Bộ ngắt mạch", "en": "Circuit breaker"},
    "sync.quarantined": {"vi": "Bản ghi bị cách ly", "en": "Quarantined records"},
    "sync.unavailable": {
        "vi": "Chưa lấy được tình trạng đồng bộ.",
        "en": "The sync status is not available.",
    },
    "circuit.closed": {"vi": "đóng (bình thường)", "en": "closed (normal)"},
    "circuit.open": {"vi": "mở (tạm ngừng gọi cổng)", "en": "open (calls paused)"},
    "circuit.half_open": {"vi": "nửa mở (đang thử lại)", "en": "half-open (trying again)"},
    "circuit.unknown": {
        "vi": "chưa rõ (chưa gọi cổng lần nào)",
        "en": "unknown (no call made yet)",
    },
    "sync.resync": {"vi": "Lần đọc lại gần nhất", "en": "Last resync"},
    "duration.seconds": {"vi": "{n} giây", "en": "{n} s"},
    "duration.minutes": {"vi": "{n} phút", "en": "{n} min"},
    "duration.hours": {"vi": "{n} giờ {m} phút", "en": "{n} h {m} min"},
    "duration.days": {"vi": "{n} ngày {h} giờ", "en": "{n} d {h} h"},
    "dash.open_by_kind": {"vi": "Sai lệch chưa xử lý theo loại", "en": "Open mismatches by kind"},
    "dash.open_total": {
        "vi": "Tổng số sai lệch chưa xử lý: {count}",
        "en": "Open mismatches in all: {count}",
    },
    "dash.no_open": {"vi": "Không có sai lệch nào chưa xử lý.", "en": "No open mismatches."},
    "dash.deadlines": {
        "vi": "Thời hạn giải quyết (tính đến hết ngày {day})",
        "en": "Deadlines (as of the end of {day})",
    },
    "dash.overdue": {"vi": "Hồ sơ quá hạn", "en": "Overdue dossiers"},
    "dash.due_soon": {"vi": "Hồ sơ sắp đến hạn", "en": "Dossiers due soon"},
    "dash.see_list": {"vi": "Xem danh sách", "en": "See the list"},
    "dash.period": {
        "vi": "Số liệu kỳ báo cáo {label} (từ {start} đến {end})",
        "en": "Figures of period {label} ({start} to {end})",
    },
    "dash.period_note": {
        "vi": "Tổng cộng các lĩnh vực: số liệu sau đối soát so với số liệu thô của hệ thống "
        "Một cửa thành phố.",
        "en": "All fields together: the reconciled figures beside the city system's raw ones.",
    },
    "dash.choose_period": {"vi": "Kỳ báo cáo", "en": "Reporting period"},
    "dash.see_report": {"vi": "Xem báo cáo đầy đủ", "en": "See the full report"},
    "col.kind": {"vi": "Loại sai lệch", "en": "Kind"},
    "col.open": {"vi": "Đang mở", "en": "Open"},
    "col.claimed": {"vi": "Đã nhận xử lý", "en": "Claimed"},
    "col.total": {"vi": "Tổng", "en": "Total"},
    "col.figures": {"vi": "Số liệu", "en": "Figures"},
    "col.difference": {"vi": "Chênh lệch", "en": "Difference"},
    # --- mismatch queue ------------------------------------------------------------------
    "mm.title": {"vi": "Hàng đợi sai lệch", "en": "Mismatch queue"},
    "filter.legend": {"vi": "Bộ lọc", "en": "Filters"},
    "filter.kind": {"vi": "Loại sai lệch", "en": "Kind"},
    "filter.state": {"vi": "Trạng thái", "en": "State"},
    "filter.field": {"vi": "Lĩnh vực", "en": "Field"},
    "filter.from": {"vi": "Phát hiện từ ngày", "en": "Detected from"},
    "filter.to": {"vi": "Đến ngày", "en": "Detected until"},
    "filter.any": {"vi": "Tất cả", "en": "All"},
    "filter.apply": {"vi": "Lọc", "en": "Filter"},
    "filter.clear": {"vi": "Bỏ lọc", "en": "Clear filters"},
    "filter.bad_date": {
        "vi": "Ngày {value} không hợp lệ (cần dạng YYYY-MM-DD); bộ lọc này bị bỏ qua.",
        "en": "The day {value} is not valid (YYYY-MM-DD is needed); that filter is ignored.",
    },
    "mm.count": {
        "vi": "{total} sai lệch; đang xem {first}–{last}.",
        "en": "{total} mismatches; showing {first}–{last}.",
    },
    "mm.none": {
        "vi": "Không có sai lệch nào khớp bộ lọc.",
        "en": "No mismatch matches the filters.",
    },
    "pager.label": {"vi": "Phân trang", "en": "Pages"},
    "pager.prev": {"vi": "‹ Trang trước", "en": "‹ Previous"},
    "pager.next": {"vi": "Trang sau ›", "en": "Next ›"},
    "pager.page": {"vi": "Trang {n}", "en": "Page {n}"},
    "pager.current": {"vi": "Trang {n} (đang xem)", "en": "Page {n} (current)"},
    "col.id": {"vi": "Mã sai lệch", "en": "Mismatch"},
    "col.key": {"vi": "Mã hồ sơ", "en": "Dossier code"},
    "col.severity": {"vi": "Mức độ", "en": "Severity"},
    "col.state": {"vi": "Trạng thái", "en": "State"},
    "col.city": {"vi": "Một cửa thành phố", "en": "City system"},
    "col.national": {"vi": "Cổng DVCQG", "en": "National portal"},
    "col.detected_at": {"vi": "Phát hiện lúc", "en": "Detected at"},
    "col.claimed_by": {"vi": "Người nhận xử lý", "en": "Claimed by"},
    "col.open_link": {"vi": "Xem chi tiết sai lệch {id}", "en": "Open mismatch {id}"},
    "severity.high": {"vi": "cao", "en": "high"},
    "severity.medium": {"vi": "trung bình", "en": "medium"},
    "severity.low": {"vi": "thấp", "en": "low"},
    # --- one mismatch --------------------------------------------------------------------
    "mm.detail_title": {"vi": "Sai lệch: {kind}", "en": "Mismatch: {kind}"},
    "mm.name": {"vi": "{key} — {kind}", "en": "{key} — {kind}"},
    "mm.facts": {"vi": "Thông tin chung", "en": "Facts"},
    "mm.dossier_link": {"vi": "Xem hồ sơ {key}", "en": "See dossier {key}"},
    "mm.sides": {"vi": "Đối chiếu từng trường", "en": "Field by field"},
    "mm.sides_note": {
        "vi": "Các dòng có đánh dấu «≠ Khác nhau» là các trường hai hệ thống ghi khác nhau.",
        "en": "Rows marked «≠ Differs» are the fields the two systems record differently.",
    },
    "mm.no_sides": {
        "vi": "Không có bản ghi để đối chiếu.",
        "en": "There are no records to compare.",
    },
    "col.field": {"vi": "Trường", "en": "Field"},
    "col.corrected": {"vi": "Sau đối soát", "en": "Reconciled"},
    "col.compare": {"vi": "So sánh", "en": "Comparison"},
    "marker.differs": {"vi": "≠ Khác nhau", "en": "≠ Differs"},
    "marker.same": {"vi": "= Khớp", "en": "= Same"},
    "mm.value_shown": {"vi": "Giá trị ghi nhận", "en": "Recorded values"},
    "mm.resolution": {"vi": "Kết quả giải quyết", "en": "Resolution"},
    "mm.resolution_text": {
        "vi": "{action} — bởi {by}, lúc {at}. Lý do: {reason}",
        "en": "{action} — by {by} at {at}. Reason: {reason}",
    },
    "mm.history": {"vi": "Lịch sử", "en": "History"},
    "mm.actions": {"vi": "Xử lý sai lệch", "en": "Work on this mismatch"},
    "mm.claim_title": {"vi": "Nhận xử lý", "en": "Claim"},
    "mm.claim_hint": {
        "vi": "Nhận xử lý để đồng nghiệp biết bạn đang giải quyết sai lệch này.",
        "en": "Claim it so that colleagues know you are working on it.",
    },
    "mm.claim": {"vi": "Nhận xử lý", "en": "Claim"},
    "mm.resolve_title": {"vi": "Giải quyết", "en": "Resolve"},
    "mm.action": {"vi": "Cách giải quyết", "en": "Resolution"},
    "mm.value": {"vi": "Giá trị nhập tay", "en": "Manual value"},
    "mm.value_hint": {
        "vi": "Chỉ điền khi chọn «giá trị nhập tay», dạng TRƯỜNG=GIÁ_TRỊ, ví dụ {example}.",
        "en": "Only with «a manual value»: FIELD=VALUE, e.g. {example}.",
    },
    "mm.reason": {"vi": "Lý do (bắt buộc)", "en": "Reason (required)"},
    "mm.resolve": {"vi": "Giải quyết", "en": "Resolve"},
    "mm.reopen_title": {"vi": "Mở lại", "en": "Reopen"},
    "mm.reopen_reason": {"vi": "Lý do mở lại (bắt buộc)", "en": "Why reopen it (required)"},
    "mm.reopen": {"vi": "Mở lại", "en": "Reopen"},
    "mm.readonly": {
        "vi": "Bạn có quyền xem. Chỉ cán bộ xử lý mới nhận, giải quyết hoặc mở lại sai lệch.",
        "en": "You can read. Only operators claim, resolve or reopen mismatches.",
    },
    "mm.back": {"vi": "‹ Quay lại hàng đợi", "en": "‹ Back to the queue"},
    # --- dossier -------------------------------------------------------------------------
    "dossier.title": {"vi": "Hồ sơ {key}", "en": "Dossier {key}"},
    "dossier.records": {"vi": "Bản ghi của hai hệ thống", "en": "Both systems' records"},
    "dossier.corrected": {"vi": "Bản ghi sau đối soát", "en": "Reconciled record"},
    "dossier.no_corrected": {
        "vi": "Chưa có bản ghi sau đối soát.",
        "en": "There is no reconciled record yet.",
    },
    "dossier.excluded": {
        "vi": "Không tính vào báo cáo: {reason}",
        "en": "Left out of the report: {reason}",
    },
    "dossier.flags": {"vi": "Cờ thời hạn", "en": "Deadline flags"},
    "dossier.no_flags": {"vi": "Không có cờ nào.", "en": "No flags."},
    "dossier.due": {"vi": "Hạn giải quyết: {due}", "en": "Due: {due}"},
    "dossier.mismatches": {"vi": "Sai lệch của hồ sơ", "en": "The dossier's mismatches"},
    "dossier.no_mismatches": {"vi": "Không có sai lệch.", "en": "No mismatches."},
    "dossier.history": {"vi": "Nhật ký thay đổi", "en": "Change history"},
    "dossier.no_history": {"vi": "Chưa có thay đổi nào.", "en": "No changes yet."},
    "dossier.none_side": {"vi": "(không có bản ghi)", "en": "(no record)"},
    "dossier.record_of": {"vi": "{side}: {code}", "en": "{side}: {code}"},
    # --- overdue -------------------------------------------------------------------------
    "overdue.page_title": {
        "vi": "Hồ sơ quá hạn và sắp đến hạn",
        "en": "Overdue dossiers and dossiers due soon",
    },
    "overdue.as_of": {"vi": "Tính đến hết ngày", "en": "As of the end of"},
    "overdue.show": {"vi": "Xem", "en": "Show"},
    "overdue.overdue_list": {"vi": "Quá hạn: {count} hồ sơ", "en": "Overdue: {count} dossiers"},
    "overdue.due_soon_list": {
        "vi": "Sắp đến hạn: {count} hồ sơ",
        "en": "Due soon: {count} dossiers",
    },
    "overdue.late_list": {
        "vi": "Đã trả kết quả trễ hạn trong kỳ: {count} hồ sơ",
        "en": "Finished late in the period: {count} dossiers",
    },
    "overdue.none": {"vi": "Không có hồ sơ nào.", "en": "None."},
    "col.procedure": {"vi": "Thủ tục", "en": "Procedure"},
    "col.received": {"vi": "Ngày tiếp nhận", "en": "Received"},
    "col.due": {"vi": "Hạn giải quyết", "en": "Due"},
    "col.days_late": {"vi": "Số ngày làm việc trễ", "en": "Working days late"},
    "col.status": {"vi": "Trạng thái", "en": "Status"},
    "col.flags": {"vi": "Cờ", "en": "Flags"},
    "col.apology": {"vi": "Phiếu xin lỗi (Mẫu 04)", "en": "Apology letter (Mẫu 04)"},
    # --- reports -------------------------------------------------------------------------
    "report.page_title": {"vi": "Báo cáo Biểu số 06/VPCP/KSTT", "en": "Report form 06/VPCP/KSTT"},
    "report.choose": {"vi": "Chọn kỳ báo cáo", "en": "Choose a period"},
    "report.period_field": {"vi": "Kỳ báo cáo (YYYY-MM)", "en": "Period (YYYY-MM)"},
    "report.show": {"vi": "Xem báo cáo", "en": "Show the report"},
    "report.recent": {"vi": "Các kỳ gần đây", "en": "Recent periods"},
    "report.bad_period": {
        "vi": "Kỳ báo cáo {value} không hợp lệ: cần dạng YYYY-MM, ví dụ 2024-07.",
        "en": "The period {value} is not valid: YYYY-MM is needed, e.g. 2024-07.",
    },
    "report.heading": {"vi": "Báo cáo kỳ {label}", "en": "Report for {label}"},
    "report.span": {
        "vi": "Từ ngày {start} đến ngày {end}. Lập lúc {at}.",
        "en": "From {start} to {end}. Generated at {at}.",
    },
    "report.viewing_version": {
        "vi": "Đang xem bản công bố số {number} (công bố lúc {at}).",
        "en": "Showing published version {number} (published at {at}).",
    },
    "report.current": {"vi": "Xem số liệu hiện tại", "en": "See the current figures"},
    "report.table": {"vi": "Biểu số liệu", "en": "The form"},
    "report.table_note": {
        "vi": "Mỗi lĩnh vực có ba dòng: số liệu sau đối soát, rồi số liệu thô của từng hệ "
        "thống. Ô thô được đánh dấu «≠» khi khác số liệu sau đối soát. Chọn một ô để xem "
        "các hồ sơ tạo nên ô đó.",
        "en": "Each field has three rows: the reconciled figures, then each system's raw ones. "
        "A raw cell marked «≠» differs from the reconciled figure. Choose a cell to see the "
        "dossiers behind it.",
    },
    "report.source": {"vi": "Nguồn số liệu", "en": "Figures from"},
    "report.differs": {"vi": "khác số liệu sau đối soát", "en": "differs from the reconciled"},
    "report.cell_link": {
        "vi": "{value} hồ sơ — {field}, cột {column}, {figures}",
        "en": "{value} dossiers — {field}, column {column}, {figures}",
    },
    "report.cell_title": {
        "vi": "Các hồ sơ trong ô {field}, cột ({column}) — {figures}: {count}",
        "en": "Dossiers in {field}, column ({column}) — {figures}: {count}",
    },
    "report.cell_none": {"vi": "Ô này không có hồ sơ nào.", "en": "No dossier is in this cell."},
    "report.cell_bad": {
        "vi": "Ô {cell} không hợp lệ: cần LĨNH_VỰC:CỘT (cột 3–13), ví dụ DT:10 hoặc total:7.",
        "en": "The cell {cell} is not valid: FIELD:COLUMN (columns 3–13), e.g. DT:10 or total:7.",
    },
    "report.close_cell": {"vi": "Đóng danh sách", "en": "Close the list"},
    "report.indicators": {"vi": "Các chỉ tiêu", "en": "Indicators"},
    "report.no_data": {"vi": "không có số liệu", "en": "no data"},
    "report.differences": {
        "vi": "Chênh lệch và lý do ({count} dòng)",
        "en": "Differences and their reasons ({count} rows)",
    },
    "report.no_differences": {"vi": "Không có chênh lệch.", "en": "No differences."},
    "report.differences_more": {
        "vi": "Chỉ hiển thị {shown} dòng đầu; tệp tải về có đầy đủ.",
        "en": "Only the first {shown} rows are shown; the downloads have them all.",
    },
    "col.system": {"vi": "Hệ thống", "en": "System"},
    "col.raw_cells": {"vi": "Cột theo hệ thống", "en": "System's columns"},
    "col.corrected_cells": {"vi": "Cột sau đối soát", "en": "Reconciled columns"},
    "col.reasons": {"vi": "Lý do", "en": "Reasons"},
    "report.downloads": {"vi": "Tải về", "en": "Downloads"},
    "report.download_json": {"vi": "JSON (đầy đủ)", "en": "JSON (complete)"},
    "report.download_csv": {"vi": "CSV (bảng số liệu)", "en": "CSV (the form's table)"},
    "report.download_xlsx": {"vi": "XLSX (Biểu 06, Excel)", "en": "XLSX (form 06, Excel)"},
    "report.versions": {"vi": "Các bản đã công bố", "en": "Published versions"},
    "report.no_versions": {
        "vi": "Kỳ này chưa có bản công bố nào.",
        "en": "No version of this period is published yet.",
    },
    "report.version_item": {
        "vi": "Bản số {number}, công bố lúc {at}",
        "en": "Version {number}, published at {at}",
    },
    "report.publish_title": {"vi": "Công bố", "en": "Publish"},
    "report.publish_hint": {
        "vi": "Công bố cố định số liệu hiện tại thành một bản đánh số. Bản đã công bố không "
        "thay đổi được; các thay đổi sau đó được ghi thành điều chỉnh.",
        "en": "Freeze the current figures as a numbered version. A published version never "
        "changes; later changes are shown as a restatement.",
    },
    "report.publish": {"vi": "Công bố báo cáo kỳ {label}", "en": "Publish the report for {label}"},
    "report.publish_refused": {
        "vi": "Chưa công bố: {reasons}. Muốn công bố vẫn được, chọn «Công bố dù chưa đủ điều "
        "kiện» và nêu lý do.",
        "en": "Not published: {reasons}. To publish anyway, tick «Publish although not fit» and "
        "give the reason.",
    },
    "report.publish_force": {
        "vi": "Công bố dù chưa đủ điều kiện",
        "en": "Publish although not fit",
    },
    "report.publish_force_reason": {
        "vi": "Công bố khi chưa đủ điều kiện cần nêu lý do.",
        "en": "Publishing although not fit needs a reason.",
    },
    "report.publish_reason": {
        "vi": "Lý do (ghi vào nhật ký và vào bản công bố)",
        "en": "Reason (kept in the audit trail and in the published version)",
    },
    "report.publish_blocked": {
        "vi": "Báo cáo chưa đủ điều kiện công bố: {reasons}.",
        "en": "The report is not fit to be published: {reasons}.",
    },
    "report.trust_title": {"vi": "Độ tin cậy của số liệu", "en": "How far to trust these figures"},
    "report.publish_conflict": {
        "vi": "Một người khác vừa công bố cùng lúc; vui lòng thử lại.",
        "en": "Someone else published at the same moment; please try again.",
    },
    "report.restatement_title": {
        "vi": "Điều chỉnh so với bản công bố số {number} ({at})",
        "en": "Restatement against published version {number} ({at})",
    },
    "report.restatement_none": {
        "vi": "Không có thay đổi so với bản đã công bố.",
        "en": "Nothing changed since the published version.",
    },
    "report.restatement_cell": {
        "vi": "{field}, cột ({column}): {published} → {now}",
        "en": "{field}, column ({column}): {published} → {now}",
    },
    "report.added": {"vi": "Thêm vào", "en": "Added"},
    "report.removed": {"vi": "Bớt ra", "en": "Removed"},
    # --- audit ---------------------------------------------------------------------------
    "audit.title": {"vi": "Nhật ký thao tác", "en": "Audit log"},
    "audit.who": {"vi": "Người thực hiện", "en": "Who"},
    "audit.key": {"vi": "Mã hồ sơ", "en": "Dossier code"},
    "audit.limit": {"vi": "Số dòng", "en": "Rows"},
    "audit.csv": {"vi": "Tải nhật ký (CSV)", "en": "Download the log (CSV)"},
    "audit.none": {"vi": "Không có mục nhật ký nào.", "en": "No audit entries."},
    "audit.count": {
        "vi": "{count} mục gần nhất, cũ nhất trước.",
        "en": "The latest {count} entries, oldest first.",
    },
    "col.at": {"vi": "Thời điểm", "en": "When"},
    "col.who": {"vi": "Người thực hiện", "en": "Who"},
    "col.action": {"vi": "Thao tác", "en": "Action"},
    "col.mismatch": {"vi": "Sai lệch", "en": "Mismatch"},
    "col.change": {"vi": "Trước → Sau", "en": "Before → After"},
    "col.reason": {"vi": "Lý do", "en": "Reason"},
    "col.event": {"vi": "Sự kiện", "en": "Event"},
    "audit.nothing": {"vi": "(chưa có)", "en": "(none)"},
    "audit.publish": {"vi": "công bố báo cáo", "en": "published a report"},
    "audit.user_add": {"vi": "thêm người dùng", "en": "added a user"},
    "audit.user_remove": {"vi": "xoá người dùng", "en": "removed a user"},
    "audit.user_password": {"vi": "đặt lại mật khẩu", "en": "set a new password"},
    "audit.user_role": {"vi": "đổi vai trò", "en": "changed a role"},
    "audit.user_logout": {
        "vi": "kết thúc các phiên đăng nhập",
        "en": "ended the sessions",
    },
    "audit.version": {"vi": "bản công bố số {number}", "en": "published version {number}"},
    # --- errors --------------------------------------------------------------------------
    "error.title": {"vi": "Không tìm thấy", "en": "Not found"},
    "error.not_found": {
        "vi": "Không tìm thấy trang hoặc dữ liệu yêu cầu: {what}",
        "en": "The page or data asked for was not found: {what}",
    },
    "error.home": {"vi": "Về trang tổng quan", "en": "Back to the dashboard"},
    "error.no_page": {
        "vi": "Không có trang nào ở địa chỉ {path}. Hãy kiểm tra lại địa chỉ, hoặc dùng thanh "
        "điều hướng.",
        "en": "There is no page at {path}. Check the address, or use the navigation.",
    },
    "error.method_title": {"vi": "Không thực hiện được", "en": "Not allowed"},
    "error.method": {
        "vi": "Trang {path} không nhận yêu cầu {method}.",
        "en": "The page {path} does not take {method} requests.",
    },
    "error.server_title": {"vi": "Lỗi máy chủ", "en": "Server error"},
    "error.server": {
        "vi": "Máy chủ gặp lỗi khi xử lý yêu cầu này; lỗi đã được ghi vào nhật ký hệ thống. "
        "Vui lòng thử lại sau ít phút, hoặc báo quản trị viên.",
        "en": "The server failed to handle this request; the error is in the server log. "
        "Please try again in a few minutes, or tell your administrator.",
    },
    "error.other_title": {"vi": "Lỗi {status}", "en": "Error {status}"},
    "error.other": {
        "vi": "Không thực hiện được yêu cầu.",
        "en": "The request could not be done.",
    },
    # --- queue errors, worded for the pages -----------------------------------------------
    "queue.no_reason": {
        "vi": "Cần nêu lý do, không được để trống.",
        "en": "A reason is required and cannot be empty.",
    },
    "queue.no_who": {"vi": "Cần đăng nhập.", "en": "You need to log in."},
    "queue.no_side_record": {
        "vi": "Sai lệch {id}: không tìm thấy bản ghi của bên {side} để lấy giá trị; hãy chọn "
        "«giá trị nhập tay» và nhập TRƯỜNG=GIÁ_TRỊ.",
        "en": "Mismatch {id}: no {side} record to take the value from; choose «a manual value» "
        "and enter FIELD=VALUE.",
    },
    # --- dossier fields, statuses, channels -----------------------------------------------
    "fieldname.code": {"vi": "Mã hồ sơ", "en": "Dossier code"},
    "fieldname.source": {"vi": "Nguồn", "en": "Source"},
    "fieldname.procedure_code": {"vi": "Mã thủ tục", "en": "Procedure code"},
    "fieldname.field_code": {"vi": "Lĩnh vực", "en": "Field"},
    "fieldname.channel": {"vi": "Kênh thực hiện", "en": "Channel"},
    "fieldname.status": {"vi": "Trạng thái", "en": "Status"},
    "fieldname.received_at": {"vi": "Ngày tiếp nhận", "en": "Received"},
    "fieldname.updated_at": {"vi": "Cập nhật lần cuối", "en": "Last updated"},
    "fieldname.due_at": {"vi": "Ngày hẹn trả", "en": "Due"},
    "fieldname.finished_at": {"vi": "Ngày kết thúc xử lý", "en": "Finished"},
    "fieldname.returned_at": {"vi": "Ngày trả kết quả", "en": "Returned"},
    "fieldname.apology_at": {
        "vi": "Ngày phiếu xin lỗi (Mẫu 04)",
        "en": "Apology letter (Mẫu 04)",
    },
    "fieldname.alt_codes": {"vi": "Mã khác", "en": "Other codes"},
    "fieldname.pauses": {"vi": "Tạm dừng tính thời gian", "en": "Clock stops"},
    "dossier.migration": {
        "vi": "Hồ sơ chuyển từ hệ thống cũ",
        "en": "Carried over from the old system",
    },
    "dossier.migrated_because": {
        "vi": "Hồ sơ được xác định là chuyển từ hệ thống cũ và không được tính vào báo cáo. "
        "Dấu hiệu: {evidence}",
        "en": "This dossier is taken as carried over from the old system and left out of the "
        "counts. Signs: {evidence}",
    },
    "dossier.not_migrated": {
        "vi": "Không có đủ dấu hiệu hồ sơ chuyển từ hệ thống cũ: hồ sơ được tính vào báo cáo.",
        "en": "No sufficient sign that this dossier was carried over: it is counted.",
    },
    "dossier.verdict_true": {
        "vi": "Cán bộ đã xác định hồ sơ này chuyển từ hệ thống cũ.",
        "en": "An operator marked this dossier as migrated.",
    },
    "dossier.verdict_false": {
        "vi": "Cán bộ đã xác định hồ sơ này không phải chuyển từ hệ thống cũ.",
        "en": "An operator marked this dossier as not migrated.",
    },
    "dossier.verdict_title": {
        "vi": "Xác định hồ sơ chuyển từ hệ thống cũ",
        "en": "Decide whether it was migrated",
    },
    "dossier.verdict_hint": {
        "vi": "Quyết định của cán bộ thay cho kết luận của hệ thống, được ghi vào nhật ký kèm lý "
        "do. Mở lại sai lệch «chuyển từ hệ thống cũ» để trả lại cho hệ thống kết luận.",
        "en": "An operator's decision replaces the engine's and is audited with its reason. "
        "Reopen the «migrated» mismatch to give the engine its say back.",
    },
    "dossier.verdict_legend": {"vi": "Hồ sơ này", "en": "This dossier"},
    "dossier.verdict_mark": {
        "vi": "chuyển từ hệ thống cũ (không tính vào báo cáo)",
        "en": "was migrated (left out of the counts)",
    },
    "dossier.verdict_unmark": {
        "vi": "không phải chuyển từ hệ thống cũ (được tính)",
        "en": "was not migrated (counted)",
    },
    "dossier.verdict_submit": {"vi": "Ghi nhận", "en": "Record it"},
    "dossier.verdict_choose": {
        "vi": "Cần chọn hồ sơ có chuyển từ hệ thống cũ hay không.",
        "en": "Choose whether the dossier was migrated.",
    },
    "stop.supplement": {"vi": "yêu cầu bổ sung", "en": "supplement request"},
    "stop.fees": {"vi": "thực hiện nghĩa vụ tài chính", "en": "fees requested"},
    "stop.stopped": {"vi": "dừng xử lý", "en": "processing stopped"},
    "fieldname.digitised": {"vi": "Đã số hoá", "en": "Digitised"},
    "fieldname.native_status": {"vi": "Trạng thái gốc", "en": "Native status"},
    "fieldname.identity": {"vi": "Định danh (đã băm)", "en": "Identity (hashed)"},
    "status.1": {"vi": "1 — Mới đăng ký", "en": "1 — Registered"},
    "status.2": {"vi": "2 — Được tiếp nhận", "en": "2 — Accepted"},
    "status.3": {"vi": "3 — Không được tiếp nhận", "en": "3 — Refused"},
    "status.4": {"vi": "4 — Đang xử lý", "en": "4 — Processing"},
    "status.5": {"vi": "5 — Yêu cầu bổ sung giấy tờ", "en": "5 — Supplement requested"},
    "status.6": {
        "vi": "6 — Yêu cầu thực hiện nghĩa vụ tài chính",
        "en": "6 — Awaiting fees",
    },
    "status.7": {"vi": "7 — Công dân yêu cầu rút hồ sơ", "en": "7 — Withdrawn"},
    "status.8": {"vi": "8 — Dừng xử lý", "en": "8 — Stopped"},
    "status.9": {"vi": "9 — Đã xử lý xong", "en": "9 — Finished"},
    "status.10": {"vi": "10 — Đã trả kết quả", "en": "10 — Returned"},
    "channel.1": {"vi": "1 — Trực tiếp", "en": "1 — In person"},
    "channel.2": {"vi": "2 — Trực tuyến", "en": "2 — Online"},
    "channel.3": {"vi": "3 — Bưu chính", "en": "3 — By post"},
}


def has_text(key: str) -> bool:
    return key in PAGE_TEXTS or key in MESSAGES


def text(lang: Language, key: str, /, **values: object) -> str:
    """`key` in `lang` (page texts first, then the shared messages); an unknown key is
    shown as itself, so a missing text is visible rather than fatal."""
    found = PAGE_TEXTS.get(key) or MESSAGES.get(key)
    if found is None:
        return key
    template = found[lang]
    return template.format(**values) if values else template


def label(lang: Language, prefix: str, name: object) -> str:
    """The label of `name` under `prefix` ("kind", "state", "flag"...), else the name."""
    key = f"{prefix}.{name}"
    return text(lang, key) if has_text(key) else str(name)


def reason_words(reason: Mapping[str, object], lang: Language) -> str:
    return reason_text(reason, lang)
