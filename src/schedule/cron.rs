//! Parsing `send: { cron: … }` (docs/campaign-file.md#send): 5 fields, or 6 with seconds first,
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
pub(crate) struct CronSyntaxError {
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
pub(crate) fn parse_cron(expr: &str) -> Result<Cron, CronSyntaxError> {
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

/// A pattern that restricts both the day of the month and the weekday: standard cron
/// (and croner) then sends on a day that matches *either*, which almost nobody means
/// (`0 8 1-7 * MON` is days 1–7 and every Monday, not the first Monday).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DaysJoinedByOr {
    pub day: String,
    pub weekday: String,
}

/// Whether the valid pattern `expr` joins a restricted day of the month and a restricted
/// weekday with "or". A weekday written `+MON` asks croner for "and", and is left alone.
pub(crate) fn days_joined_by_or(expr: &str) -> Option<DaysJoinedByOr> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let offset = fields.len().checked_sub(5)?;
    let (day, weekday) = (fields.get(offset + 2)?, fields.get(offset + 4)?);
    let restricted = |f: &str| f != "*" && f != "?";
    (restricted(day) && restricted(weekday) && !weekday.starts_with('+')).then(|| DaysJoinedByOr {
        day: day.to_string(),
        weekday: weekday.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn error(expr: &str) -> CronSyntaxError {
        match parse_cron(expr) {
            Ok(_) => panic!("{expr:?} should be refused"),
            Err(err) => err,
        }
    }

    #[test]
    fn five_and_six_field_patterns_are_accepted() {
        assert!(parse_cron("0 8 * * MON").is_ok());
        assert!(parse_cron("0 19 * * sat").is_ok());
        assert!(parse_cron("30 0 8 * * MON").is_ok());
        assert!(parse_cron("*/15 8-17 * 9-12 1-5").is_ok());
    }

    #[test]
    fn a_pattern_with_four_fields_says_how_many_are_needed() {
        let err = error("0 8 * *");
        assert_eq!(
            err.message,
            "cron needs 5 fields (minute hour day month weekday) or 6 with seconds first; \
             got 4: \"0 8 * *\""
        );
        assert!(err.hint.contains("\"0 8 * * MON\""), "{}", err.hint);
    }

    #[test]
    fn a_pattern_with_seven_fields_is_refused_even_though_croner_reads_years() {
        let err = error("0 0 8 * * MON 2026");
        assert!(err.message.contains("got 7"), "{}", err.message);
    }

    #[test]
    fn an_empty_pattern_or_a_nickname_is_refused_with_a_hint() {
        assert!(error("  ").message.contains("got 0"));
        let err = error("@daily");
        assert!(err.message.contains("got 1"), "{}", err.message);
        assert!(
            err.hint.contains("@daily are not supported"),
            "{}",
            err.hint
        );
    }

    #[test]
    fn minute_61_is_refused_naming_the_minute_field() {
        let err = error("61 8 * * MON");
        assert_eq!(
            err.message,
            "the minute field of cron \"61 8 * * MON\" is \"61\", which is not valid: \
             minutes go from 0 to 59"
        );
        assert!(err.hint.contains("\"0 8 * * MON\""), "{}", err.hint);
    }

    #[test]
    fn a_misspelt_weekday_is_refused_naming_the_weekday_field() {
        let err = error("0 8 * * MOON");
        assert!(
            err.message.starts_with("the weekday field of cron"),
            "{}",
            err.message
        );
        assert!(err.message.contains("\"MOON\""), "{}", err.message);
        assert!(err.message.contains("SUN, MON, TUE"), "{}", err.message);
        assert!(err.hint.contains("\"0 8 * * MON\""), "{}", err.hint);
    }

    #[test]
    fn a_bad_field_in_a_six_field_pattern_is_named_after_the_seconds() {
        let err = error("0 0 25 * * MON");
        assert!(err.message.starts_with("the hour field"), "{}", err.message);
        assert!(err.hint.contains("first is seconds"), "{}", err.hint);
        let err = error("99 0 8 * * MON");
        assert!(
            err.message.starts_with("the second field"),
            "{}",
            err.message
        );
    }

    /// The first send time of `expr` from 2026-09-01 00:00 UTC (a Tuesday), and the next.
    fn first_two(expr: &str) -> [String; 2] {
        use chrono::{TimeZone, Utc};
        let cron = parse_cron(expr).unwrap_or_else(|e| panic!("{expr:?}: {e}"));
        let first = cron
            .find_next_occurrence(&Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap(), true)
            .unwrap();
        let second = cron.find_next_occurrence(&first, false).unwrap();
        [first, second].map(|t| t.format("%Y-%m-%d %a %H:%M").to_string())
    }

    /// Every form docs/campaign-file.md#send shows, with what it means.
    #[test]
    fn the_documented_forms_mean_what_the_docs_say() {
        let cases: [(&str, [&str; 2]); 11] = [
            (
                "0 8 * * MON",
                ["2026-09-07 Mon 08:00", "2026-09-14 Mon 08:00"],
            ),
            (
                "0 8 * * MON-FRI",
                ["2026-09-01 Tue 08:00", "2026-09-02 Wed 08:00"],
            ),
            (
                "30 7 1,15 * *",
                ["2026-09-01 Tue 07:30", "2026-09-15 Tue 07:30"],
            ),
            (
                "0 */6 * * *",
                ["2026-09-01 Tue 00:00", "2026-09-01 Tue 06:00"],
            ),
            (
                "0 8 * * MON#1",
                ["2026-09-07 Mon 08:00", "2026-10-05 Mon 08:00"],
            ),
            (
                "0 8 * * TUE#5",
                ["2026-09-29 Tue 08:00", "2026-12-29 Tue 08:00"],
            ),
            (
                "0 8 * * FRI#L",
                ["2026-09-25 Fri 08:00", "2026-10-30 Fri 08:00"],
            ),
            (
                "0 8 L * *",
                ["2026-09-30 Wed 08:00", "2026-10-31 Sat 08:00"],
            ),
            (
                "0 8 15W * *",
                ["2026-09-15 Tue 08:00", "2026-10-15 Thu 08:00"],
            ),
            (
                "0 8 ? * MON",
                ["2026-09-07 Mon 08:00", "2026-09-14 Mon 08:00"],
            ),
            (
                "0 8 1-7 * +MON",
                ["2026-09-07 Mon 08:00", "2026-10-05 Mon 08:00"],
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(first_two(expr), want, "{expr}");
        }
    }

    #[test]
    fn a_day_of_the_month_and_a_weekday_are_joined_by_or() {
        // What `0 8 1-7 * MON` does: days 1-7 and every Monday after them.
        let cron = parse_cron("0 8 1-7 * MON").unwrap();
        use chrono::{TimeZone, Utc};
        let mut t = Utc.with_ymd_and_hms(2026, 9, 7, 12, 0, 0).unwrap();
        t = cron.find_next_occurrence(&t, false).unwrap();
        assert_eq!(t.format("%Y-%m-%d %a").to_string(), "2026-09-14 Mon");
        let or = days_joined_by_or("0 8 1-7 * MON").unwrap();
        assert_eq!((or.day.as_str(), or.weekday.as_str()), ("1-7", "MON"));
        assert!(days_joined_by_or("0 0 8 1-7 * MON").is_some());
        for alone in [
            "0 8 * * MON",
            "0 8 1-7 * *",
            "0 8 ? * MON#1",
            "0 8 1-7 * +MON",
        ] {
            assert_eq!(days_joined_by_or(alone), None, "{alone}");
        }
    }

    #[test]
    fn the_error_displays_its_message() {
        let err = error("0 8 32 * *");
        assert_eq!(err.to_string(), err.message);
        assert!(err.message.starts_with("the day field"), "{}", err.message);
    }
}
