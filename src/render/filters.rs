//! Tera filters for Vietnamese readers: `vnd`, `vn_date`, `percent` and `unaccent`.
//!
//! - `vnd`: a number of đồng, rounded to whole đồng: `1234567` → "1.234.567 đ".
//! - `vn_date`: a date or date-time → "04/9/2026" (day on two digits, month unpadded).
//!   A date-time keeps the calendar date written in it, in its own offset; convert to the
//!   campaign time zone before rendering if the data is in UTC.
//! - `percent`: a ratio → "96,55%". `decimals` (default 2, at most 10) digits are always
//!   shown, so 1 → "100,00%" and a column of rates lines up.
//! - `unaccent`: Vietnamese without diacritics, "Đắk Lắk" → "Dak Lak", for SMS: plain
//!   Latin text fits 160 characters per segment in the GSM 7-bit alphabet, Vietnamese with
//!   diacritics needs UCS-2 and 70 (3GPP TS 23.038).
//!
//! Numbers may be JSON numbers or strings holding a plain decimal (`"1234.5"`); any other
//! input, and any unknown argument, is a filter error that names the filter.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use serde_json::Value;
use tera::{Error, Result, Tera};
use unicode_normalization::UnicodeNormalization;

use super::decimal::Decimal;

/// The most fraction digits `percent` accepts.
const MAX_PERCENT_DECIMALS: u64 = 10;

/// Registers the four filters on `tera`.
pub(super) fn register(tera: &mut Tera) {
    tera.register_filter("vnd", vnd);
    tera.register_filter("vn_date", vn_date);
    tera.register_filter("percent", percent);
    tera.register_filter("unaccent", unaccent);
}

fn vnd(value: &Value, args: &HashMap<String, Value>) -> Result<Value> {
    reject_unknown_args("vnd", args, &[])?;
    let amount = number("vnd", value)?;
    Ok(Value::String(format!(
        "{} đ",
        amount.round(0).to_vietnamese()
    )))
}

fn percent(value: &Value, args: &HashMap<String, Value>) -> Result<Value> {
    reject_unknown_args("percent", args, &["decimals"])?;
    let decimals = match args.get("decimals") {
        None => 2,
        Some(v) => v
            .as_u64()
            .filter(|d| *d <= MAX_PERCENT_DECIMALS)
            .ok_or_else(|| {
                Error::msg(format!(
                    "filter `percent`: `decimals` must be a whole number from 0 to \
                     {MAX_PERCENT_DECIMALS}, got {v}"
                ))
            })?,
    };
    let ratio = number("percent", value)?;
    let places = usize::try_from(decimals).unwrap_or(2);
    Ok(Value::String(format!(
        "{}%",
        ratio.times_hundred().round(places).to_vietnamese()
    )))
}

fn vn_date(value: &Value, args: &HashMap<String, Value>) -> Result<Value> {
    reject_unknown_args("vn_date", args, &[])?;
    let date = value.as_str().and_then(parse_date).ok_or_else(|| {
        Error::msg(format!(
            "filter `vn_date` expects a date such as \"2026-09-04\" or an RFC 3339 date-time \
             such as \"2026-09-04T08:00:00+07:00\", got {}",
            describe(value)
        ))
    })?;
    Ok(Value::String(format!(
        "{:02}/{}/{:04}",
        date.day(),
        date.month(),
        date.year()
    )))
}

fn unaccent(value: &Value, args: &HashMap<String, Value>) -> Result<Value> {
    reject_unknown_args("unaccent", args, &[])?;
    let text = value.as_str().ok_or_else(|| {
        Error::msg(format!(
            "filter `unaccent` expects text, got {}",
            describe(value)
        ))
    })?;
    Ok(Value::String(strip_diacritics(text)))
}

/// Removes Vietnamese (and other Latin) diacritics: canonical decomposition, then drop the
/// combining marks U+0300–U+036F. `đ`/`Đ` are letters in their own right with no
/// decomposition, so they are mapped explicitly.
pub(super) fn strip_diacritics(text: &str) -> String {
    text.nfd()
        .filter(|c| !('\u{0300}'..='\u{036F}').contains(c))
        .map(|c| match c {
            'đ' => 'd',
            'Đ' => 'D',
            other => other,
        })
        .nfc()
        .collect()
}

/// Accepts `YYYY-MM-DD`, RFC 3339 date-times, and local date-times written
/// `YYYY-MM-DD HH:MM[:SS]` or with a `T`.
fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(date);
    }
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(moment.date_naive());
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(|moment| moment.date())
}

fn number(filter: &str, value: &Value) -> Result<Decimal> {
    Decimal::from_value(value).ok_or_else(|| {
        Error::msg(format!(
            "filter `{filter}` expects a number, got {}",
            describe(value)
        ))
    })
}

fn reject_unknown_args(filter: &str, args: &HashMap<String, Value>, known: &[&str]) -> Result<()> {
    let mut unknown: Vec<&str> = args
        .keys()
        .map(String::as_str)
        .filter(|name| !known.contains(name))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    let accepted = if known.is_empty() {
        "it takes no arguments".to_string()
    } else {
        format!("it accepts {}", known.join(", "))
    };
    Err(Error::msg(format!(
        "filter `{filter}` got unknown argument(s) {}; {accepted}",
        unknown.join(", ")
    )))
}

/// Names the type and shows a short excerpt of a value, for error messages.
fn describe(value: &Value) -> String {
    let kind = match value {
        Value::Null => return "null (an empty value)".to_string(),
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => return "a list".to_string(),
        Value::Object(_) => return "an object".to_string(),
    };
    let shown: String = value.to_string().chars().take(40).collect();
    format!("{kind} {shown}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(filter: &str, value: Value, args: &[(&str, Value)]) -> Result<Value> {
        let args: HashMap<String, Value> = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        match filter {
            "vnd" => vnd(&value, &args),
            "percent" => percent(&value, &args),
            "vn_date" => vn_date(&value, &args),
            _ => unaccent(&value, &args),
        }
    }

    fn ok(filter: &str, value: Value) -> String {
        match apply(filter, value, &[]) {
            Ok(Value::String(s)) => s,
            other => panic!("{filter}: {other:?}"),
        }
    }

    fn err(filter: &str, value: Value, args: &[(&str, Value)]) -> String {
        match apply(filter, value, args) {
            Err(e) => e.to_string(),
            Ok(v) => panic!("{filter} accepted: {v}"),
        }
    }

    #[test]
    fn vnd_formats_a_contribution_with_dot_groups_and_dong_sign() {
        assert_eq!(ok("vnd", json!(1_234_567)), "1.234.567 đ");
        assert_eq!(ok("vnd", json!(884_520)), "884.520 đ");
        assert_eq!(ok("vnd", json!(0)), "0 đ");
    }

    #[test]
    fn vnd_keeps_the_sign_of_a_refund() {
        assert_eq!(ok("vnd", json!(-1_234_567)), "-1.234.567 đ");
    }

    #[test]
    fn vnd_rounds_decimals_to_whole_dong() {
        assert_eq!(ok("vnd", json!(619_164.5)), "619.165 đ");
        assert_eq!(ok("vnd", json!(619_164.49)), "619.164 đ");
        assert_eq!(ok("vnd", json!("1234567.6")), "1.234.568 đ");
    }

    #[test]
    fn vnd_rejects_text_that_is_not_a_number() {
        let message = err("vnd", json!("một triệu"), &[]);
        assert!(message.contains("`vnd` expects a number"), "{message}");
        assert!(message.contains("một triệu"), "{message}");
        assert!(err("vnd", json!(null), &[]).contains("null"));
    }

    #[test]
    fn vn_date_writes_day_padded_and_month_unpadded() {
        assert_eq!(ok("vn_date", json!("2026-09-04")), "04/9/2026");
        assert_eq!(ok("vn_date", json!("2026-12-31")), "31/12/2026");
    }

    #[test]
    fn vn_date_keeps_the_calendar_date_of_a_date_time() {
        assert_eq!(
            ok("vn_date", json!("2026-09-04T19:00:00+07:00")),
            "04/9/2026"
        );
        assert_eq!(ok("vn_date", json!("2026-09-03T23:30:00Z")), "03/9/2026");
        assert_eq!(ok("vn_date", json!("2026-09-05 08:00")), "05/9/2026");
    }

    #[test]
    fn vn_date_rejects_a_vietnamese_written_date_and_numbers() {
        assert!(err("vn_date", json!("04/09/2026"), &[]).contains("`vn_date` expects a date"));
        assert!(err("vn_date", json!(20260904), &[]).contains("a number"));
    }

    #[test]
    fn percent_shows_the_hcmc_coverage_rate_with_a_comma() {
        assert_eq!(ok("percent", json!(0.9655)), "96,55%");
        assert_eq!(ok("percent", json!(0.9194)), "91,94%");
        assert_eq!(ok("percent", json!(0.952)), "95,20%");
    }

    #[test]
    fn percent_always_shows_the_requested_decimals() {
        assert_eq!(ok("percent", json!(1)), "100,00%");
        assert_eq!(ok("percent", json!(0)), "0,00%");
        let one = apply("percent", json!(0.759), &[("decimals", json!(1))]);
        assert_eq!(one.ok(), Some(json!("75,9%")));
        let none = apply("percent", json!(0.9655), &[("decimals", json!(0))]);
        assert_eq!(none.ok(), Some(json!("97%")));
    }

    #[test]
    fn percent_rejects_a_bad_decimals_argument_and_typos() {
        assert!(err("percent", json!(0.5), &[("decimals", json!(-1))]).contains("decimals"));
        assert!(err("percent", json!(0.5), &[("decimals", json!(11))]).contains("0 to 10"));
        let typo = err("percent", json!(0.5), &[("decimal", json!(1))]);
        assert!(typo.contains("unknown argument(s) decimal"), "{typo}");
    }

    #[test]
    fn unaccent_strips_vietnamese_diacritics_for_sms() {
        assert_eq!(ok("unaccent", json!("Đắk Lắk")), "Dak Lak");
        assert_eq!(
            ok("unaccent", json!("Bảo hiểm y tế học sinh, sinh viên")),
            "Bao hiem y te hoc sinh, sinh vien"
        );
        assert_eq!(ok("unaccent", json!("ƯỚC MƠ đường")), "UOC MO duong");
    }

    #[test]
    fn unaccent_handles_decomposed_input() {
        let decomposed: String = "Thông báo".nfd().collect();
        assert_eq!(ok("unaccent", json!(decomposed)), "Thong bao");
    }

    #[test]
    fn unaccent_rejects_numbers() {
        assert!(err("unaccent", json!(12), &[]).contains("`unaccent` expects text"));
    }
}
