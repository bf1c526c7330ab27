//! Skip reasons and loa's own error texts in Vietnamese, for staff.
//!
//! The ledger keeps each reason in English (`message.last_error`), and `loa report`'s
//! CSV and JSON keep that text as the stable code machines match on. What a person reads
//! — the dashboard in Vietnamese, `loa preview` — goes through [`vietnamese`], which
//! translates the parts it knows and leaves a provider's own words as they came.

/// Whole parts (between `; `) of the reasons loa writes, and their Vietnamese.
const PARTS: &[(&str, &str)] = &[
    (
        "suppressed: the recipient unsubscribed",
        "bị chặn: người nhận đã hủy đăng ký",
    ),
    ("the phone number is empty", "số điện thoại để trống"),
    (
        "the number is in scientific notation, its last digits are lost",
        "số bị ghi dạng khoa học (8.49E+10), các chữ số cuối đã mất",
    ),
    (
        "the value contains characters that are not part of a phone number",
        "ô có ký tự không thuộc số điện thoại",
    ),
    (
        "the number is a landline, which cannot receive SMS or Zalo messages",
        "số máy bàn, không nhận được SMS hay Zalo",
    ),
    ("the email address is empty", "địa chỉ e-mail để trống"),
    (
        "the address holds more than one address",
        "ô chứa nhiều hơn một địa chỉ",
    ),
    (
        "the address is not a bare address",
        "ô không chỉ chứa địa chỉ (có tên hoặc dấu <>)",
    ),
    ("the address has no @", "địa chỉ thiếu @"),
    (
        "the address has an invalid part before the @",
        "phần trước @ của địa chỉ không hợp lệ",
    ),
    (
        "the address has an invalid domain after the @",
        "tên miền sau @ của địa chỉ không hợp lệ",
    ),
    (
        "fill in the address or leave the row out",
        "điền địa chỉ hoặc bỏ dòng này",
    ),
    ("keep one address per cell", "mỗi ô một địa chỉ"),
    (
        "an address looks like name@example.vn",
        "địa chỉ có dạng ten@example.vn",
    ),
    // Failures loa writes itself, beside the provider's own words.
    ("SMTP server timed out", "máy chủ SMTP không trả lời kịp"),
    ("the endpoint is gone", "địa chỉ nhận không còn (HTTP 410)"),
    (
        "put the final URL in the channel",
        "ghi địa chỉ cuối cùng vào kênh",
    ),
    ("window closed", "hết thời gian được gửi"),
    ("retry requested", "được yêu cầu gửi lại"),
    ("step removed", "bước đã bị xoá khỏi chiến dịch"),
    (
        "lease expired, outcome unknown",
        "hết hạn giữ tin, không rõ kết quả",
    ),
];

/// Beginnings of the failures loa writes, before a detail that stays as it came (a
/// server's reply, a host name, a library's error).
const PREFIXES: &[(&str, &str)] = &[
    (
        "SMTP authentication failed: ",
        "máy chủ SMTP từ chối đăng nhập: ",
    ),
    ("SMTP connect failed: ", "không kết nối được máy chủ SMTP: "),
    ("SMTP TLS failed: ", "lỗi TLS với máy chủ SMTP: "),
    ("SMTP connection lost: ", "mất kết nối với máy chủ SMTP: "),
    (
        "SMTP session refused locally: ",
        "không mở được phiên SMTP (xem cấu hình kênh): ",
    ),
    ("SMTP message refused: ", "thư bị từ chối trước khi gửi: "),
    ("SMTP ", "máy chủ SMTP trả lời: "),
    ("template error: ", "lỗi mẫu tin: "),
    (
        "stored data unreadable: ",
        "dữ liệu đã lưu không đọc được: ",
    ),
    ("cannot connect to ", "không kết nối được tới "),
    ("request failed to ", "gửi yêu cầu thất bại tới "),
    ("disable or fix the channel. ", "hãy tắt hoặc sửa kênh. "),
    ("Zalo error ", "Zalo báo lỗi "),
    ("no channel ", "không có kênh "),
    ("bad HTTP method ", "phương thức HTTP không hợp lệ: "),
    ("bad header name ", "tên header không hợp lệ: "),
    ("refused: ", "bị chặn: "),
];

/// `reason` as staff read it in Vietnamese; parts loa did not write stay as they are.
pub(crate) fn vietnamese(reason: &str) -> String {
    if let Some(rest) = reason.strip_suffix(" for the fallback") {
        return format!("{} (kênh dự phòng)", vietnamese(rest));
    }
    reason.split("; ").map(part).collect::<Vec<_>>().join("; ")
}

fn part(text: &str) -> String {
    if let Some((_, vi)) = PARTS.iter().find(|(en, _)| *en == text) {
        return (*vi).to_owned();
    }
    // "no phone": the cell of that column is empty (the column name is the workspace's).
    if let Some(field) = text.strip_prefix("no ").filter(|f| is_column(f)) {
        return format!("ô {field} trống");
    }
    if let Some(channel) = text
        .strip_prefix("sent by ")
        .and_then(|r| r.strip_suffix(" instead"))
    {
        return format!("đã gửi qua kênh {channel}");
    }
    if let Some(digits) = text
        .strip_prefix("the number has ")
        .and_then(|r| r.strip_suffix(" digits"))
    {
        return format!("số có {digits} chữ số");
    }
    if text.starts_with("a Vietnamese mobile number has 10") {
        return "số di động Việt Nam có 10 chữ số (0xxxxxxxxx) hoặc 11 chữ số bắt đầu bằng 84"
            .to_owned();
    }
    if let Some(prefix) = text
        .strip_prefix("the old 11-digit prefix ")
        .and_then(|r| r.strip_suffix(" has no 10-digit equivalent"))
    {
        return format!("đầu số 11 chữ số cũ {prefix} không có đầu số 10 chữ số tương ứng");
    }
    if let Some(prefix) = text.strip_suffix(" is not a Vietnamese mobile prefix") {
        return format!("{prefix} không phải đầu số di động Việt Nam");
    }
    failure(text)
}

/// A failure loa wrote, its own words in Vietnamese and the detail after them as it came.
fn failure(text: &str) -> String {
    // "HTTP 503" and "HTTP 503: <the endpoint's answer or loa's words about it>".
    if let Some(rest) = text.strip_prefix("HTTP ") {
        return match rest.split_once(": ") {
            Some((status, detail)) => format!("máy chủ trả lời HTTP {status}: {}", part(detail)),
            None => format!("máy chủ trả lời HTTP {rest}"),
        };
    }
    if let Some(to) = text
        .strip_prefix("redirect to ")
        .and_then(|r| r.strip_suffix(" not followed"))
    {
        return format!("không theo chuyển hướng tới {to}");
    }
    if let Some(n) = text
        .strip_prefix("lease expired after attempt ")
        .and_then(|r| r.strip_suffix(", outcome unknown"))
    {
        return format!("hết hạn giữ tin sau lần gửi thứ {n}, không rõ kết quả");
    }
    if let Some((host, secs)) = text
        .strip_suffix(" s")
        .and_then(|r| r.split_once(" did not answer within "))
    {
        return format!("{host} không trả lời trong {secs} giây");
    }
    if let Some(header) = text
        .strip_prefix("header ")
        .and_then(|r| r.strip_suffix(" cannot be sent"))
    {
        return format!("header {header} không gửi được");
    }
    match PREFIXES.iter().find(|(en, _)| text.starts_with(en)) {
        Some((en, vi)) => format!("{vi}{}", &text[en.len()..]),
        None => text.to_owned(),
    }
}

/// A column name as a workspace spells it (`phone`, `parent_email`), not a sentence.
fn is_column(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audience::phone::normalize;

    #[test]
    fn the_reasons_loa_writes_read_in_vietnamese_and_the_rest_stays() {
        assert_eq!(vietnamese("no phone"), "ô phone trống");
        assert_eq!(
            vietnamese("no parent_phone for the fallback"),
            "ô parent_phone trống (kênh dự phòng)"
        );
        assert_eq!(
            vietnamese("no email; sent by sms instead"),
            "ô email trống; đã gửi qua kênh sms"
        );
        assert_eq!(
            vietnamese("the address has no @; an address looks like name@example.vn"),
            "địa chỉ thiếu @; địa chỉ có dạng ten@example.vn"
        );
        assert_eq!(
            vietnamese("suppressed: the recipient unsubscribed"),
            "bị chặn: người nhận đã hủy đăng ký"
        );
        assert_eq!(
            vietnamese("550 mailbox unavailable"),
            "550 mailbox unavailable"
        );
        assert_eq!(
            vietnamese("SMTP 550 5.1.1 mailbox unavailable"),
            "máy chủ SMTP trả lời: 550 5.1.1 mailbox unavailable"
        );
        assert_eq!(
            vietnamese("HTTP 410: the endpoint is gone; disable or fix the channel. gone"),
            "máy chủ trả lời HTTP 410: địa chỉ nhận không còn (HTTP 410); hãy tắt hoặc sửa kênh. gone"
        );
        assert_eq!(vietnamese("HTTP 503"), "máy chủ trả lời HTTP 503");
        assert_eq!(
            vietnamese("sms.example.vn did not answer within 10 s"),
            "sms.example.vn không trả lời trong 10 giây"
        );
        assert_eq!(vietnamese("no such user here"), "no such user here");
    }

    /// Each failure text loa writes itself, made by the code that writes it, reads in
    /// Vietnamese: no English word of loa's own is left beside the detail that came.
    #[test]
    fn every_failure_loa_writes_reads_in_vietnamese() {
        use crate::channel::ChannelError;
        use crate::channel::classify::{SmtpFailure, http_status, smtp};
        let now = chrono::Utc::now();
        let reply = |code| SmtpFailure::Reply {
            code,
            text: format!("{code} x"),
        };
        let texts: Vec<String> = [
            smtp(&reply(535), true),
            smtp(&reply(451), false),
            smtp(&reply(550), false),
            smtp(&SmtpFailure::Timeout, false),
            smtp(&SmtpFailure::Connect("x".into()), true),
            smtp(&SmtpFailure::Tls("x".into()), true),
            smtp(&SmtpFailure::Network("x".into()), false),
            smtp(&SmtpFailure::Client("x".into()), true),
            smtp(&SmtpFailure::Client("x".into()), false),
            http_status(500, None, ""),
            http_status(400, None, "x"),
            crate::channel::classify::zalo(-124, "x", now),
        ]
        .into_iter()
        .map(|e| match e {
            ChannelError::Transient { message, .. }
            | ChannelError::Permanent { message, .. }
            | ChannelError::Paused { message, .. } => message,
        })
        .collect();
        for en in texts {
            let vi = vietnamese(&en);
            for word in ["failed", "refused", "lost", "timed out", "error", "server"] {
                assert!(!vi.contains(word), "{en} → {vi}");
            }
            assert_ne!(vi, en, "{en} is left in English");
        }
    }

    #[test]
    fn every_phone_error_reads_in_vietnamese() {
        for raw in [
            "",
            "8.49E+10",
            "09x12",
            "0243 826 1234",
            "091234",
            "0612345678",
        ] {
            let why = normalize(raw).unwrap_err().to_string();
            let vi = vietnamese(&why);
            assert!(
                !vi.contains("the ") && !vi.contains("number"),
                "{raw:?}: {why} → {vi}"
            );
        }
    }
}
