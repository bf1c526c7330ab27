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
    text.to_owned()
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
        assert_eq!(vietnamese("no such user here"), "no such user here");
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
