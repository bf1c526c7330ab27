//! One CSV cell to one typed JSON value: NFC normalisation, inference for undeclared
//! columns, strict checks for declared ones.
//!
//! Text is normalised to NFC at ingest because Vietnamese letters arrive both precomposed
//! and decomposed and only NFC compares, measures and renders reliably
//! (docs/campaign-file.md#text-encodings). Dates stay ISO strings (`2026-09-04`) so templates
//! format them with `vn_date`; a missing value is always the empty string, so `where`
//! expressions and templates see one kind of "nothing".

use chrono::NaiveDate;
use serde_json::{Number, Value};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use super::{ColumnType, email, phone};

/// Why a cell does not fit its declared type, split the way [`super::RowError`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CellError {
    pub message: String,
    pub hint: String,
}

impl CellError {
    pub(crate) fn new(message: impl Into<String>, hint: impl Into<String>) -> CellError {
        CellError {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// NFC-normalised and trimmed: the form every text value and header is kept in.
pub(crate) fn clean(raw: &str) -> String {
    // Most cells are already NFC (ASCII ids, numbers); skip the re-composition for them.
    if is_nfc_quick(raw.chars()) == IsNormalized::Yes {
        return raw.trim().to_string();
    }
    let nfc: String = raw.nfc().collect();
    nfc.trim().to_string()
}

/// [`type_cell_detailed`] with the error's message and hint joined, as the tests read it.
#[cfg(test)]
fn type_cell(raw: &str, declared: Option<ColumnType>) -> Result<Value, String> {
    type_cell_detailed(raw, declared).map_err(|e| format!("{}; {}", e.message, e.hint))
}

/// Types one cell. Without a declared type the value is inferred: booleans (`true`, `false`,
/// `x`, `có`, `không`), integers without leading zeros, decimals with a dot, dates
/// (`dd/mm/yyyy`, `d/m/yyyy`, `yyyy-mm-dd` → `"yyyy-mm-dd"`), otherwise the text itself.
/// With a declared type the cell must fit it; the error says what is wrong and how to fix it.
pub(crate) fn type_cell_detailed(
    raw: &str,
    declared: Option<ColumnType>,
) -> Result<Value, CellError> {
    let text = clean(raw);
    match declared {
        None => Ok(infer(text)),
        Some(ColumnType::Bool) => declared_bool(&text).map(Value::Bool),
        // A missing value is not a type error: a row without an email simply has no address.
        Some(_) if text.is_empty() => Ok(Value::String(text)),
        Some(ColumnType::Text) => Ok(Value::String(text)),
        Some(ColumnType::Integer) => declared_integer(&text),
        Some(ColumnType::Decimal) => declared_decimal(&text),
        Some(ColumnType::Date) => parse_date(&text).map(Value::String).ok_or_else(|| {
            CellError::new(
                "the value is not a date",
                "write dd/mm/yyyy (04/09/2026) or yyyy-mm-dd (2026-09-04); in Excel, format the column as Text",
            )
        }),
        Some(ColumnType::Phone) => phone::normalize(&text)
            .map(Value::String)
            .map_err(|e| CellError::new(e.to_string(), e.hint())),
        Some(ColumnType::Email) => email::check(&text).map(Value::String),
    }
}

fn infer(text: String) -> Value {
    if text.is_empty() {
        return Value::String(text);
    }
    if let Some(b) = bool_word(&text) {
        return Value::Bool(b);
    }
    if is_plain_integer(&text)
        && let Ok(i) = text.parse::<i64>()
    {
        return Value::from(i);
    }
    if is_plain_decimal(&text)
        && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(n);
    }
    match parse_date(&text) {
        Some(iso) => Value::String(iso),
        None => Value::String(text),
    }
}

/// The words staff use for yes/no in an undeclared column; `x` is the tick mark of
/// spreadsheets ("đã đóng: x").
fn bool_word(text: &str) -> Option<bool> {
    // The longest word is `không` (6 bytes, 7 decomposed): longer text needs no lowercase copy.
    if text.len() > 7 {
        return None;
    }
    match text.to_lowercase().as_str() {
        "true" | "x" | "có" => Some(true),
        "false" | "không" => Some(false),
        _ => None,
    }
}

fn declared_bool(text: &str) -> Result<bool, CellError> {
    match text.to_lowercase().as_str() {
        "true" | "x" | "có" | "yes" | "1" => Ok(true),
        "false" | "không" | "no" | "0" | "" => Ok(false),
        _ => Err(CellError::new(
            "the value is not a yes/no value",
            "use true/false, có/không, yes/no, 1/0, x for yes or leave the cell empty for no",
        )),
    }
}

/// Split off one optional leading sign.
fn unsigned(text: &str) -> &str {
    text.strip_prefix(['+', '-']).unwrap_or(text)
}

/// Digits only, no leading zero, under 16 digits: `007` and `0912345678` are codes and
/// phone numbers, not quantities, so they stay text.
fn is_plain_integer(text: &str) -> bool {
    let digits = unsigned(text);
    !digits.is_empty()
        && digits.len() < 16
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
}

/// `96.55`, `0.9655`: one dot, digits on both sides, no leading zero before the dot.
fn is_plain_decimal(text: &str) -> bool {
    let Some((int, frac)) = unsigned(text).split_once('.') else {
        return false;
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && (int == "0" || !int.starts_with('0'))
        && !frac.is_empty()
        && frac.bytes().all(|b| b.is_ascii_digit())
}

fn declared_integer(text: &str) -> Result<Value, CellError> {
    let digits = unsigned(text);
    let hint = "write a whole number with digits only, without thousands separators, e.g. 1919166";
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CellError::new("the value is not a whole number", hint));
    }
    text.parse::<i64>()
        .map(Value::from)
        .map_err(|_| CellError::new("the value is too large for a whole number", hint))
}

/// Accepts a dot or, as Vietnamese spreadsheets write it, a decimal comma (`96,55`).
fn declared_decimal(text: &str) -> Result<Value, CellError> {
    let hint = "write a plain number such as 96.55 or 96,55, without thousands separators or %";
    let error = || CellError::new("the value is not a number", hint);
    let dotted = if text.contains('.') {
        text.to_string()
    } else {
        text.replacen(',', ".", 1)
    };
    let body = unsigned(&dotted);
    let (int, frac) = body.split_once('.').unwrap_or((body, "0"));
    let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok(int) || !digits_ok(frac) {
        return Err(error());
    }
    dotted
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(error)
}

/// `dd/mm/yyyy` or `d/m/yyyy` (how Vietnamese write dates) or ISO `yyyy-mm-dd`, to ISO.
pub(crate) fn parse_date(text: &str) -> Option<String> {
    let date = if text.contains('/') {
        let mut parts = text.split('/');
        let (d, m, y) = (parts.next()?, parts.next()?, parts.next()?);
        let short = |s: &str| (1..=2).contains(&s.len());
        if parts.next().is_some() || !short(d) || !short(m) || y.len() != 4 {
            return None;
        }
        ymd(y, m, d)?
    } else {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        ymd(&text[..4], &text[5..7], &text[8..])?
    };
    Some(date.format("%Y-%m-%d").to_string())
}

fn ymd(y: &str, m: &str, d: &str) -> Option<NaiveDate> {
    let all_digits = [y, m, d]
        .iter()
        .all(|s| s.bytes().all(|b| b.is_ascii_digit()));
    if !all_digits {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn undeclared(raw: &str) -> Value {
        type_cell(raw, None).unwrap_or_else(|e| panic!("{raw:?}: {e}"))
    }

    fn declared(raw: &str, t: ColumnType) -> Result<Value, String> {
        type_cell(raw, Some(t))
    }

    #[test]
    fn undeclared_cells_are_typed_by_their_look() {
        let table = [
            ("true", json!(true)),
            ("FALSE", json!(false)),
            ("x", json!(true)),
            ("X", json!(true)),
            ("có", json!(true)),
            ("Có", json!(true)),
            ("KHÔNG", json!(false)),
            ("không", json!(false)),
            ("312", json!(312)),
            ("-5", json!(-5)),
            ("+5", json!(5)),
            ("0", json!(0)),
            ("1", json!(1)),
            ("999999999999999", json!(999_999_999_999_999_i64)),
            ("0.9655", json!(0.9655)),
            ("96.55", json!(96.55)),
            ("-0.5", json!(-0.5)),
            ("04/09/2026", json!("2026-09-04")),
            ("4/9/2026", json!("2026-09-04")),
            ("2026-09-04", json!("2026-09-04")),
            ("", json!("")),
            ("   ", json!("")),
            ("Trường THPT Lê Quý Đôn", json!("Trường THPT Lê Quý Đôn")),
        ];
        for (raw, expected) in table {
            assert_eq!(undeclared(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn values_that_only_look_numeric_stay_strings() {
        for raw in [
            "0912345678",
            "007",
            "-007",
            "00.5",
            ".5",
            "1.919.166",
            "96,55",
            "1e5",
            "8.49E+10",
            "1234567890123456",
            "31/02/2026",
            "2026-13-01",
            "4/9/26",
            "yes",
            "no",
        ] {
            assert_eq!(undeclared(raw), json!(raw), "{raw:?}");
        }
    }

    #[test]
    fn text_is_trimmed_and_nfc() {
        let nfd = "  Nguye\u{302}\u{303}n Thi\u{323} Hoa  ";
        let v = undeclared(nfd);
        assert_eq!(v, json!("Nguyễn Thị Hoa"));
        // NFD "có" is still a boolean once composed.
        assert_eq!(undeclared("co\u{301}"), json!(true));
    }

    #[test]
    fn declared_bool_accepts_the_usual_yes_no_spellings() {
        for raw in ["true", "1", "x", "Có", "yes", "YES"] {
            assert_eq!(declared(raw, ColumnType::Bool), Ok(json!(true)), "{raw}");
        }
        for raw in ["false", "0", "không", "no", ""] {
            assert_eq!(declared(raw, ColumnType::Bool), Ok(json!(false)), "{raw}");
        }
        let e = declared("maybe", ColumnType::Bool).expect_err("maybe");
        assert!(e.contains("yes/no") && e.contains("có/không"), "{e}");
        assert!(!e.contains("maybe"), "the value is not quoted: {e}");
    }

    #[test]
    fn declared_integer_accepts_leading_zeros_and_rejects_separators() {
        assert_eq!(declared("007", ColumnType::Integer), Ok(json!(7)));
        assert_eq!(declared("-12", ColumnType::Integer), Ok(json!(-12)));
        for raw in ["1.919.166", "12a", "1,5", "+", "99999999999999999999"] {
            let e = declared(raw, ColumnType::Integer).expect_err(raw);
            assert!(e.contains("whole number"), "{e}");
            assert!(!e.contains(raw), "the value is not quoted: {e}");
        }
    }

    #[test]
    fn declared_decimal_accepts_a_vietnamese_decimal_comma() {
        assert_eq!(declared("96,55", ColumnType::Decimal), Ok(json!(96.55)));
        assert_eq!(declared("96.55", ColumnType::Decimal), Ok(json!(96.55)));
        assert_eq!(declared("0,9655", ColumnType::Decimal), Ok(json!(0.9655)));
        assert_eq!(declared("42", ColumnType::Decimal), Ok(json!(42.0)));
        for raw in ["96,55%", "1.234,5", "abc", "1,2,3", ",5", "5."] {
            assert!(declared(raw, ColumnType::Decimal).is_err(), "{raw}");
        }
    }

    #[test]
    fn declared_date_rejects_impossible_dates() {
        assert_eq!(
            declared("4/9/2026", ColumnType::Date),
            Ok(json!("2026-09-04"))
        );
        assert_eq!(
            declared("2026-09-04", ColumnType::Date),
            Ok(json!("2026-09-04"))
        );
        for raw in ["31/02/2026", "2026/09/04", "04-09-2026", "hôm nay", "46269"] {
            let e = declared(raw, ColumnType::Date).expect_err(raw);
            assert!(e.contains("dd/mm/yyyy"), "{e}");
        }
    }

    #[test]
    fn declared_text_keeps_numbers_as_text() {
        assert_eq!(declared("312", ColumnType::Text), Ok(json!("312")));
        assert_eq!(declared("true", ColumnType::Text), Ok(json!("true")));
    }

    #[test]
    fn declared_phone_and_email_are_normalised() {
        assert_eq!(
            declared("0912 345 678", ColumnType::Phone),
            Ok(json!("84912345678"))
        );
        assert_eq!(
            declared(" Hoa.Nguyen@Example.VN ", ColumnType::Email),
            Ok(json!("Hoa.Nguyen@example.vn"))
        );
        let e = declared("8.49E+10", ColumnType::Phone).expect_err("scientific");
        assert!(e.contains("Text"), "{e}");
    }

    #[test]
    fn empty_declared_cells_are_empty_strings() {
        for t in [
            ColumnType::Text,
            ColumnType::Integer,
            ColumnType::Decimal,
            ColumnType::Date,
            ColumnType::Phone,
            ColumnType::Email,
        ] {
            assert_eq!(declared(" ", t), Ok(json!("")), "{t:?}");
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        // A fixed-seed generator over characters that stress the parsers: digits, signs,
        // separators, combining marks, multi-byte letters and the legacy-font range.
        const ALPHABET: &[char] = &[
            '0', '1', '8', '9', '+', '-', '.', ',', '/', '(', ')', ' ', '@', 'e', 'E', 'x', 'a',
            'ó', 'ệ', '\u{301}', '\u{323}', 'µ', '¸', '\u{a0}', '\u{FFFD}', '"', ';', '\r',
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let types = [
            None,
            Some(ColumnType::Text),
            Some(ColumnType::Integer),
            Some(ColumnType::Decimal),
            Some(ColumnType::Bool),
            Some(ColumnType::Date),
            Some(ColumnType::Phone),
            Some(ColumnType::Email),
        ];
        for _ in 0..20_000 {
            let len = (next() % 16) as usize;
            let text: String = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            for t in types {
                let _ = type_cell(&text, t);
            }
        }
    }
}
