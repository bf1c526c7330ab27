//! The dashboard's words, in Vietnamese (the default) and English.
//!
//! The language comes from `?lang=vi|en`, which also sets the `loa_lang` cookie so that
//! the choice follows the staff member from page to page; otherwise from that cookie.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderValue, header};

use crate::store::MessageState;

/// The cookie that keeps the chosen language.
pub(crate) const COOKIE: &str = "loa_lang";

/// A language the dashboard speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    Vi,
    En,
}

impl Lang {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    fn parse(s: &str) -> Option<Lang> {
        match s {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language asked for by `?lang=` (`switched`: then the cookie must be set), else
    /// the cookie's, else Vietnamese.
    pub(crate) fn of(query: Option<&str>, headers: &HeaderMap) -> (Lang, bool) {
        if let Some(lang) = super::query_field(query, "lang").and_then(|l| Lang::parse(&l)) {
            return (lang, true);
        }
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
            .and_then(Lang::parse);
        (cookie.unwrap_or(Lang::Vi), false)
    }

    /// The `Set-Cookie` value that keeps this language for a year.
    pub(crate) fn cookie(self) -> HeaderValue {
        let text = format!(
            "{COOKIE}={}; Path=/; SameSite=Strict; Max-Age=31536000",
            self.code()
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// A message state as staff read it in this language (the page's word for its code).
    pub(crate) fn state(self, state: MessageState) -> &'static str {
        let key = state.as_str();
        WORDS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map_or(key, |(_, vi, en)| if self == Lang::Vi { vi } else { en })
    }

    /// Every word of the dashboard in this language, by key.
    pub(crate) fn texts(self) -> BTreeMap<&'static str, &'static str> {
        WORDS
            .iter()
            .map(|(key, vi, en)| (*key, if self == Lang::Vi { *vi } else { *en }))
            .collect()
    }
}

/// (key, Vietnamese, English).
const WORDS: &[(&str, &str, &str)] = &[
    ("dashboard", "Bảng điều khiển", "Dashboard"),
    ("campaigns", "Chiến dịch", "Campaigns"),
    ("campaign", "Chiến dịch", "Campaign"),
    ("status", "Trạng thái", "Status"),
    ("messages", "Tin nhắn", "Messages"),
    ("last_activity", "Hoạt động gần nhất", "Last activity"),
    ("none", "chưa có", "none yet"),
    (
        "no_campaigns",
        "Chưa có chiến dịch nào.",
        "No campaigns yet.",
    ),
    ("logout", "Đăng xuất", "Log out"),
    ("login", "Đăng nhập", "Log in"),
    ("back", "← Tất cả chiến dịch", "← All campaigns"),
    ("timeline", "Lịch trình", "Timeline"),
    (
        "refused_edit",
        "Bản sửa mới nhất của chiến dịch có lỗi; loa vẫn chạy theo bản trước:",
        "The latest edit has errors; loa keeps running the previous version:",
    ),
    ("windows", "Đợt", "Windows"),
    ("today", "hôm nay", "today"),
    ("occurrences", "Các lần gửi đã qua", "Past sends"),
    (
        "no_occurrences",
        "Chưa có lần gửi nào.",
        "Nothing sent yet.",
    ),
    ("when", "Thời điểm", "When"),
    ("step", "Bước", "Step"),
    ("channel", "Kênh", "Channel"),
    ("missed", "bị lỡ", "missed"),
    (
        "funnel",
        "Kết quả theo bước và kênh",
        "Funnel by step and channel",
    ),
    ("failures", "Tin lỗi", "Failures"),
    ("no_failures", "Không có tin lỗi.", "No failures."),
    ("address", "Địa chỉ", "Address"),
    ("attempts", "Số lần thử", "Attempts"),
    ("error", "Lỗi gần nhất", "Last error"),
    ("showing", "Hiển thị", "Showing"),
    ("of", "trên", "of"),
    (
        "coverage",
        "Tỷ lệ tham gia theo trường",
        "Coverage by school",
    ),
    ("school", "Trường", "School"),
    ("students_total", "Tổng số HSSV", "Students"),
    ("students_insured", "Đã tham gia", "Insured"),
    ("rate", "Tỷ lệ", "Rate"),
    (
        "reached",
        "Tin đã gửi tới trường",
        "Messages sent to the school",
    ),
    ("actions", "Thao tác", "Actions"),
    ("pause", "Tạm dừng", "Pause"),
    ("resume", "Tiếp tục", "Resume"),
    ("retry", "Gửi lại tin lỗi", "Retry failed"),
    (
        "operator_paused",
        "tạm dừng bởi cán bộ",
        "paused by an operator",
    ),
    (
        "no_workspace",
        "Không có tệp chiến dịch đã nạp: chỉ hiển thị sổ ghi.",
        "No campaign files loaded: showing the ledger only.",
    ),
    ("done_paused", "Đã tạm dừng chiến dịch.", "Campaign paused."),
    ("approval", "Phê duyệt", "Approval"),
    ("request_approval", "Gửi yêu cầu duyệt", "Request approval"),
    ("approve", "Duyệt", "Approve"),
    ("version_on_disk", "Phiên bản hiện tại", "Version on disk"),
    ("approval_approved", "đã duyệt", "approved"),
    ("approval_awaiting", "chờ duyệt", "awaiting approval"),
    (
        "approval_not_requested",
        "chưa gửi yêu cầu duyệt",
        "approval not requested",
    ),
    ("requested_by", "Người yêu cầu", "Requested by"),
    ("approved_by", "Người duyệt", "Approved by"),
    (
        "approvers_needed",
        "Số người duyệt cần có",
        "Approvers needed",
    ),
    (
        "last_approved",
        "Phiên bản duyệt gần nhất",
        "Last approved version",
    ),
    (
        "sending_this",
        "Đang gửi phiên bản này.",
        "Sending this version.",
    ),
    (
        "sending_older",
        "Vẫn gửi phiên bản đã duyệt trước; bản sửa chờ duyệt.",
        "The approved version keeps sending; the edit awaits approval.",
    ),
    (
        "sending_nothing",
        "Không gửi gì cho đến khi phiên bản này được duyệt.",
        "Sends nothing until this version is approved.",
    ),
    (
        "done_submitted",
        "Đã gửi yêu cầu duyệt.",
        "Approval requested.",
    ),
    (
        "done_approved",
        "Đã duyệt: chiến dịch gửi phiên bản này.",
        "Approved: the campaign sends this version.",
    ),
    (
        "done_approved_one",
        "Đã ghi nhận; cần thêm người duyệt thứ hai.",
        "Recorded; a second approver is needed.",
    ),
    (
        "done_own_request",
        "Người yêu cầu duyệt không thể tự duyệt: cần một người duyệt khác.",
        "The requester cannot approve their own request: another approver must.",
    ),
    (
        "done_not_requested",
        "Chưa có yêu cầu duyệt cho phiên bản này.",
        "Nobody has requested approval of this version.",
    ),
    (
        "done_changed",
        "Tệp chiến dịch đã thay đổi sau khi trang được mở: hãy xem lại phiên bản mới rồi bấm lại.",
        "The campaign files changed since the page was shown: look at the new version and press again.",
    ),
    (
        "done_no_version",
        "Không có tệp chiến dịch đã nạp để duyệt.",
        "No loaded campaign file to approve.",
    ),
    (
        "done_resumed",
        "Chiến dịch đã được tiếp tục.",
        "Campaign resumed.",
    ),
    (
        "done_retried",
        "Số tin lỗi được đưa lại vào hàng đợi:",
        "Failed messages re-queued:",
    ),
    ("draft", "nháp", "draft"),
    ("ended", "đã kết thúc", "ended"),
    ("not_started", "chưa bắt đầu", "not started yet"),
    ("older_page", "← Cũ hơn", "← Older"),
    ("newer_page", "Mới hơn →", "Newer →"),
    ("active", "đang chạy", "active"),
    ("paused", "tạm dừng", "paused"),
    ("done", "đã xong", "done"),
    ("pending", "chờ gửi", "pending"),
    ("sending", "đang gửi", "sending"),
    ("sent", "đã gửi", "sent"),
    ("delivered", "đã nhận", "delivered"),
    ("failed", "lỗi", "failed"),
    ("skipped", "bỏ qua", "skipped"),
    ("expired", "hết hạn", "expired"),
    ("cancelled", "đã hủy", "cancelled"),
    (
        "replaced",
        "đã chuyển kênh dự phòng",
        "replaced by the fallback",
    ),
    ("total", "Tổng", "Total"),
    ("audit", "Nhật ký thao tác", "Actions log"),
    ("actor", "Người thực hiện", "By"),
    ("detail", "Chi tiết", "Detail"),
    ("launch", "Khởi chạy", "Launch"),
    ("cancel", "Hủy", "Cancel"),
    ("edit", "Sửa", "Edit"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_is_the_default_and_the_query_wins_over_the_cookie() {
        let mut headers = HeaderMap::new();
        assert_eq!(Lang::of(None, &headers), (Lang::Vi, false));
        headers.insert(header::COOKIE, "a=b; loa_lang=en".parse().unwrap());
        assert_eq!(Lang::of(None, &headers), (Lang::En, false));
        assert_eq!(Lang::of(Some("lang=vi"), &headers), (Lang::Vi, true));
        assert_eq!(Lang::of(Some("lang=xx"), &headers), (Lang::En, false));
    }

    #[test]
    fn every_word_has_both_languages() {
        for (key, vi, en) in WORDS {
            assert!(!vi.is_empty() && !en.is_empty(), "{key}");
        }
        assert_eq!(Lang::En.texts()["pause"], "Pause");
        assert_eq!(Lang::Vi.texts()["pause"], "Tạm dừng");
    }

    #[test]
    fn every_message_state_has_a_vietnamese_label() {
        for s in MessageState::ALL {
            let vi = Lang::Vi.state(s);
            assert_ne!(vi, s.as_str(), "{s} has no Vietnamese label");
            assert!(!Lang::En.texts()[s.as_str()].is_empty(), "{s}");
        }
        assert_eq!(Lang::Vi.state(MessageState::Skipped), "bỏ qua");
    }
}
