//! Vietnamese mobile numbers: every spelling found in school spreadsheets becomes the one
//! form Zalo ZNS and the SMS relays take, `84` followed by 9 digits.
//!
//! The rules (docs/campaign-file.md#phone-numbers):
//! the normalisation recipe, the 2018 conversion of 11-digit numbers to 10 digits, the
//! mobile-prefix check and the rejection of landlines (`02x…`), which are neither SMS nor
//! Zalo targets.

/// Why a cell is not a usable mobile number. The `Display` text is the message for staff;
/// [`PhoneError::hint`] says how to fix the data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("the phone number is empty")]
    Empty,
    #[error("the number is in scientific notation, its last digits are lost")]
    ScientificNotation(String),
    #[error("the value contains characters that are not part of a phone number")]
    InvalidCharacters(String),
    #[error("the number is a landline, which cannot receive SMS or Zalo messages")]
    Landline(String),
    #[error(
        "the number has {digits} digits; a Vietnamese mobile number has 10 (0xxxxxxxxx) or 11 starting with 84"
    )]
    WrongLength { raw: String, digits: usize },
    #[error("the old 11-digit prefix {prefix} has no 10-digit equivalent")]
    UnknownLegacyPrefix { raw: String, prefix: String },
    #[error("{prefix} is not a Vietnamese mobile prefix")]
    NotMobile { raw: String, prefix: String },
}

impl PhoneError {
    /// How to fix the cell, for the validation report.
    pub fn hint(&self) -> &'static str {
        match self {
            PhoneError::Empty => "fill in the parent's mobile number, or leave the row out",
            PhoneError::ScientificNotation(_) => {
                "Excel turned the number into 8.49E+10: format the column as Text and type the number again"
            }
            PhoneError::InvalidCharacters(_) => {
                "write one mobile number per cell, digits only (spaces, dots and dashes are allowed)"
            }
            PhoneError::Landline(_) => "give a mobile number (03x, 05x, 07x, 08x, 09x)",
            PhoneError::WrongLength { .. } => {
                "check for a missing or extra digit, or two numbers in one cell"
            }
            PhoneError::UnknownLegacyPrefix { .. } | PhoneError::NotMobile { .. } => {
                "check the number with the parent; mobile numbers start with 03, 05, 07, 08 or 09"
            }
        }
    }
}

/// Normalises a Vietnamese mobile number to `84` + 9 digits.
///
/// Accepted spellings (docs/campaign-file.md#phone-numbers): `0912 345 678`, `0912.345.678`,
/// `84912345678`, `+84 91 234 5678`, `(+84) 912.345.678`, `0084912345678`, `912345678` (a
/// spreadsheet dropped the leading 0) and the pre-2018 11-digit numbers (`01662345678` →
/// `84362345678`).
pub fn normalize(raw: &str) -> Result<String, PhoneError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(PhoneError::Empty);
    }
    if looks_scientific(raw) {
        return Err(PhoneError::ScientificNotation(raw.to_string()));
    }
    let digits = strip_punctuation(raw)?;
    let national = national_form(raw, &digits)?;
    Ok(format!("84{}", &national[1..]))
}

/// `8.49E+10`, `8,49E+10`, `8.4912E10`: what Excel shows (and saves) for a long number in a
/// General-formatted cell; the trailing digits are gone, so it cannot be repaired.
fn looks_scientific(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix('+').unwrap_or(exponent);
    let mantissa_ok = !mantissa.is_empty()
        && mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && mantissa.starts_with(|c: char| c.is_ascii_digit());
    mantissa_ok && !exponent.is_empty() && exponent.chars().all(|c| c.is_ascii_digit())
}

/// Drops the separators people type (spaces, dots, dashes, parentheses) and one leading `+`.
fn strip_punctuation(raw: &str) -> Result<String, PhoneError> {
    let mut digits = String::with_capacity(raw.len());
    for (i, c) in raw.char_indices() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '.' | '-' | '(' | ')' => {}
            c if c.is_whitespace() => {}
            // A `+` is only meaningful before the country code: "+84…" or "(+84)…".
            '+' if digits.is_empty() && !raw[..i].contains('+') => {}
            _ => return Err(PhoneError::InvalidCharacters(raw.to_string())),
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::InvalidCharacters(raw.to_string()));
    }
    Ok(digits)
}

/// The national form `0` + 9 digits, validated as a mobile number.
fn national_form(raw: &str, digits: &str) -> Result<String, PhoneError> {
    let digits = digits.strip_prefix("00").unwrap_or(digits);
    let national = if let Some(rest) = digits.strip_prefix("84").filter(|r| r.len() >= 9) {
        format!("0{rest}")
    } else if digits.starts_with('0') {
        digits.to_string()
    } else if digits.len() == 9 {
        // Excel stored the number as a number and dropped its leading 0.
        format!("0{digits}")
    } else {
        return Err(wrong_length(raw, digits));
    };
    if national.starts_with("02") {
        return Err(PhoneError::Landline(raw.to_string()));
    }
    let national = match national.len() {
        10 => national,
        11 if national.starts_with("01") => convert_legacy(raw, &national)?,
        _ => return Err(wrong_length(raw, &national)),
    };
    if !is_mobile_prefix(&national) {
        return Err(PhoneError::NotMobile {
            raw: raw.to_string(),
            prefix: national[..3].to_string(),
        });
    }
    Ok(national)
}

fn wrong_length(raw: &str, digits: &str) -> PhoneError {
    PhoneError::WrongLength {
        raw: raw.to_string(),
        digits: digits.len(),
    }
}

/// The 2018 switch from 11 to 10 digits changed only the prefix and kept the last 7 digits
/// (the Tiền Phong and FPT lists of the change), so legacy numbers in old school lists convert
/// mechanically.
const LEGACY_PREFIXES: [(&str, &str); 20] = [
    // Viettel 0162–0169 → 032–039
    ("0162", "032"),
    ("0163", "033"),
    ("0164", "034"),
    ("0165", "035"),
    ("0166", "036"),
    ("0167", "037"),
    ("0168", "038"),
    ("0169", "039"),
    // VinaPhone
    ("0123", "083"),
    ("0124", "084"),
    ("0125", "085"),
    ("0127", "081"),
    ("0129", "082"),
    // MobiFone
    ("0120", "070"),
    ("0121", "079"),
    ("0122", "077"),
    ("0126", "076"),
    ("0128", "078"),
    // Vietnamobile
    ("0186", "056"),
    ("0188", "058"),
];

/// Gmobile 0199 → 059, kept apart so the table above stays grouped by carrier.
const LEGACY_GMOBILE: (&str, &str) = ("0199", "059");

fn convert_legacy(raw: &str, national: &str) -> Result<String, PhoneError> {
    let (old, rest) = national.split_at(4);
    LEGACY_PREFIXES
        .iter()
        .chain(std::iter::once(&LEGACY_GMOBILE))
        .find(|(from, _)| *from == old)
        .map(|(_, to)| format!("{to}{rest}"))
        .ok_or_else(|| PhoneError::UnknownLegacyPrefix {
            raw: raw.to_string(),
            prefix: old.to_string(),
        })
}

/// `^0(3[2-9]|5[25689]|7[06-9]|8[1-689]|9[0-46-9])\d{7}$`, on the national form,
/// widened to `8[1-9]`: Itel's 087 is among the current prefixes, and the
/// regex (taken from a third-party project) leaves it out; refusing a real parent's number
/// costs more than accepting an unassigned one.
fn is_mobile_prefix(national: &str) -> bool {
    let b = national.as_bytes();
    if b.len() != 10 || b[0] != b'0' || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    match b[1] {
        b'3' => matches!(b[2], b'2'..=b'9'),
        b'5' => matches!(b[2], b'2' | b'5' | b'6' | b'8' | b'9'),
        b'7' => matches!(b[2], b'0' | b'6'..=b'9'),
        b'8' => matches!(b[2], b'1'..=b'9'),
        b'9' => matches!(b[2], b'0'..=b'4' | b'6'..=b'9'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        normalize(raw).unwrap_or_else(|e| panic!("{raw:?} should be accepted: {e}"))
    }

    #[test]
    fn every_common_spelling_becomes_84_and_nine_digits() {
        for raw in [
            "0912 345 678",
            "0912345678",
            "0912.345.678",
            "0912-345-678",
            "84912345678",
            "+84 91 234 5678",
            "+84912345678",
            "(+84) 912.345.678",
            "(84) 912 345 678",
            "0084912345678",
            "00 84 912 345 678",
            " 0912345678 ",
            "0912\u{a0}345\u{a0}678",
        ] {
            assert_eq!(ok(raw), "84912345678", "{raw:?}");
        }
    }

    #[test]
    fn phone_with_lost_leading_zero_is_restored() {
        assert_eq!(ok("912345678"), "84912345678");
        assert_eq!(ok("362345678"), "84362345678");
        assert_eq!(ok("862345678"), "84862345678");
    }

    #[test]
    fn eleven_digit_numbers_from_before_2018_are_converted() {
        assert_eq!(ok("01662345678"), "84362345678");
        assert_eq!(ok("0123 456 7890"), "84834567890");
        assert_eq!(ok("01204567890"), "84704567890");
        assert_eq!(ok("01884567890"), "84584567890");
        assert_eq!(ok("01994567890"), "84594567890");
        // The old numbers were also written internationally.
        assert_eq!(ok("+84 166 234 5678"), "84362345678");
    }

    #[test]
    fn every_current_carrier_prefix_is_accepted() {
        for p in [
            "032", "039", "052", "055", "056", "058", "059", "070", "076", "079", "081", "086",
            "087", "088", "089", "090", "093", "094", "096", "099",
        ] {
            assert_eq!(ok(&format!("{p}1234567")), format!("84{}1234567", &p[1..]));
        }
    }

    #[test]
    fn excel_scientific_notation_is_rejected_with_a_text_format_hint() {
        for raw in ["8.49E+10", "8,49E+10", "8.49123e10"] {
            let e = normalize(raw).expect_err(raw);
            assert!(
                matches!(e, PhoneError::ScientificNotation(_)),
                "{raw}: {e:?}"
            );
            assert!(e.hint().contains("Text"));
        }
    }

    #[test]
    fn landlines_are_rejected() {
        for raw in [
            "024 3825 1234",
            "02438251234",
            "+84 24 3825 1234",
            "0283456789",
        ] {
            let e = normalize(raw).expect_err(raw);
            assert!(matches!(e, PhoneError::Landline(_)), "{raw}: {e:?}");
            assert!(e.to_string().contains("landline"));
        }
    }

    #[test]
    fn invalid_phones_are_rejected_with_a_message() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("abc", "characters"),
            ("0912 345 678 / 0987 654 321", "characters"),
            ("0912345678;0987654321", "characters"),
            ("091234567", "digits"),
            ("09123456789", "digits"),
            ("12345", "digits"),
            ("0112345678", "not a Vietnamese mobile prefix"),
            ("0612345678", "not a Vietnamese mobile prefix"),
            ("01312345678", "no 10-digit equivalent"),
            ("84+912345678", "characters"),
            ("++84912345678", "characters"),
        ];
        for (raw, expected) in cases {
            let e = normalize(raw).expect_err(raw);
            assert!(e.to_string().contains(expected), "{raw:?}: {e}");
            let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
            if digits.len() > 4 {
                assert!(
                    !e.to_string().contains(&digits),
                    "the number is quoted: {e}"
                );
            }
            assert!(!e.hint().is_empty());
        }
    }
}
