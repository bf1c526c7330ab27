//! Parsing `send: { cron: … }` (SPEC §3): 5 fields, or 6 with seconds first,
//! evaluated by croner. Errors are written for the communications officer who
//! typed the pattern: they name the field at fault and give an example.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A cron pattern that cannot be used, with a hint on how to write it.
///
/// `Display` shows only the message; campaign validation reports the hint
/// in its own column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CronSyntaxError {
    pub message: String,
    pub hint: String,
}

const HINT: &str = "write minute hour day month weekday, e.g. \"0 8 * * MON\" \
                    (every Monday at 08:00) or \"30 7 1 * *\" (the 1st of each month at 07:30); \
                    \"*\" means every value, \"1-5\" a range, \"*/15\" every 15th";

const SIX_FIELD_HINT: &str = "with 6 fields the first is seconds: \"0 0 8 * * MON\" \
                              is every Monday at 08:00:00";

/// The name and allowed values of each field of a 6-field pattern.
const FIELDS: [(&str, &str); 6] = [
    ("second", "seconds go from 0 to 59"),
    ("minute", "minutes go from 0 to 59"),
    ("hour", "hours go from 0 to 23"),
    (
        "day",
        "days of the month go from 1 to 31 (L is the last day)",
    ),
    ("month", "months are 1 to 12 or JAN, FEB, … DEC"),
    (
        "weekday",
        "weekdays are 0 to 7 (0 and 7 are Sunday) or SUN, MON, TUE, WED, THU, FRI, SAT",
    ),
];

/// Parses a 5-field (minute hour day month weekday) or 6-field (seconds
/// first) cron pattern. Nicknames such as `@daily` and year fields are not
/// part of the campaign format and are refused.
pub fn parse_cron(expr: &str) -> Result<Cron, CronSyntaxError> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 5 && fields.len() != 6 {
        return Err(wrong_field_count(expr, fields.len()));
    }
    parser().parse(expr).map_err(|err| {
        field_error(expr, &fields).unwrap_or_else(|| CronSyntaxError {
            message: format!("cron \"{}\" is not valid: {err}", expr.trim()),
            hint: hint_for(fields.len()).to_string(),
        })
    })
}

/// The one parser configuration loa uses: seconds optional, no years.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

fn hint_for(field_count: usize) -> &'static str {
    if field_count == 6 {
        SIX_FIELD_HINT
    } else {
        HINT
    }
}

fn wrong_field_count(expr: &str, got: usize) -> CronSyntaxError {
    let trimmed = expr.trim();
    let hint = if trimmed.starts_with('@') {
        format!("nicknames like @daily are not supported; {HINT}")
    } else {
        HINT.to_string()
    };
    CronSyntaxError {
        message: format!(
            "cron needs 5 fields (minute hour day month weekday) or 6 with seconds first; \
             got {got}: \"{trimmed}\""
        ),
        hint,
    }
}

/// Finds the first field that croner refuses on its own, by parsing it with
/// every other field set to `*`, so the message can name it.
fn field_error(expr: &str, fields: &[&str]) -> Option<CronSyntaxError> {
    let offset = 6 - fields.len();
    fields.iter().enumerate().find_map(|(i, field)| {
        let mut probe = ["*"; 6];
        probe[offset + i] = field;
        parser().parse(&probe.join(" ")).err()?;
        let (name, allowed) = FIELDS[offset + i];
        Some(CronSyntaxError {
            message: format!(
                "the {name} field of cron \"{}\" is \"{field}\", which is not valid: {allowed}",
                expr.trim()
            ),
            hint: hint_for(fields.len()).to_string(),
        })
    })
}
