//! Parsing the dates and times staff write in campaign files and on the
//! command line: ISO dates (`2026-09-04`) or Vietnamese ones (`04/09/2026`,
//! day first), times of day (`7:00`, `21:00:30`), and local date-times
//! joining the two with a space or `T`. Errors are plain sentences with an
//! example of the expected form.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// Parses a local date and time: `2026-09-03 08:00`, `2026-09-03T08:00`,
/// either with `:ss` seconds, and the date part may also be `03/09/2026`.
pub(crate) fn parse_local_datetime(s: &str) -> Result<NaiveDateTime, String> {
    let trimmed = s.trim();
    let expected = || {
        format!("\"{trimmed}\" is not a date and time; write it like 2026-09-03 08:00 (local time)")
    };
    let (date, time) = trimmed
        .split_once(['T', ' '])
        .ok_or_else(|| format!("{}: the time of day is missing", expected()))?;
    let date = parse_date(date).map_err(|e| format!("{}: {e}", expected()))?;
    let time = parse_time_of_day(time).map_err(|e| format!("{}: {e}", expected()))?;
    Ok(date.and_time(time))
}

/// Parses a time of day, `HH:MM` or `HH:MM:SS`, with a one-digit hour
/// allowed (`7:00`).
pub(crate) fn parse_time_of_day(s: &str) -> Result<NaiveTime, String> {
    let trimmed = s.trim();
    let expected = || format!("\"{trimmed}\" is not a time of day; write it like 07:00 or 21:30");
    let parts: Vec<&str> = trimmed.split(':').collect();
    if parts.len() != 2 && parts.len() != 3 {
        return Err(expected());
    }
    let mut numbers = [0u32; 3];
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        *slot = small_number(part, 2).ok_or_else(expected)?;
    }
    let [h, m, sec] = numbers;
    // from_hms_opt refuses 24:00 and 60 seconds: neither is a time of day here.
    NaiveTime::from_hms_opt(h, m, sec).ok_or_else(|| {
        format!("\"{trimmed}\" is not a time of day: hours go from 0 to 23, minutes and seconds from 0 to 59")
    })
}

/// Parses a date: ISO `2026-09-04`, or Vietnamese `04/09/2026` (day, month,
/// year; one-digit day and month allowed).
pub(crate) fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let trimmed = s.trim();
    let expected = || {
        format!(
            "\"{trimmed}\" is not a date; write it like 2026-09-04 or 04/09/2026 (day/month/year)"
        )
    };
    let (y, m, d) = if let Some((y, m, d)) = split3(trimmed, '-') {
        (y, m, d)
    } else if let Some((d, m, y)) = split3(trimmed, '/') {
        (y, m, d)
    } else {
        return Err(expected());
    };
    let year = small_number(y, 4)
        .filter(|_| y.len() == 4)
        .ok_or_else(expected)?;
    let month = small_number(m, 2).ok_or_else(expected)?;
    let day = small_number(d, 2).ok_or_else(expected)?;
    let year = i32::try_from(year).map_err(|_| expected())?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
        format!(
            "\"{trimmed}\" is not a date in the calendar (day {day}, month {month}, year {year})"
        )
    })
}

/// Splits `s` into exactly three parts at `sep`.
fn split3(s: &str, sep: char) -> Option<(&str, &str, &str)> {
    let mut parts = s.split(sep);
    let triple = (parts.next()?, parts.next()?, parts.next()?);
    parts.next().is_none().then_some(triple)
}

/// A number written with 1 to `max_digits` ASCII digits and nothing else.
fn small_number(s: &str, max_digits: usize) -> Option<u32> {
    let ok = !s.is_empty() && s.len() <= max_digits && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test date")
    }

    fn time(h: u32, m: u32, s: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, s).expect("test time")
    }

    #[test]
    fn dates_are_read_in_iso_and_vietnamese_day_first_form() {
        assert_eq!(parse_date("2026-09-04"), Ok(date(2026, 9, 4)));
        assert_eq!(parse_date("04/09/2026"), Ok(date(2026, 9, 4)));
        assert_eq!(parse_date("4/9/2026"), Ok(date(2026, 9, 4)));
        assert_eq!(parse_date(" 2026-09-04 "), Ok(date(2026, 9, 4)));
    }

    #[test]
    fn impossible_or_garbled_dates_are_refused_with_an_example() {
        let err = parse_date("2026-02-30").expect_err("30 February");
        assert!(err.contains("not a date in the calendar"), "{err}");
        assert!(parse_date("31/02/2026").is_err());
        let err = parse_date("04.09.2026").expect_err("dots");
        assert!(err.contains("2026-09-04 or 04/09/2026"), "{err}");
        for bad in [
            "",
            "26-09-04",
            "2026-09",
            "2026-09-04-01",
            "2026-9a-04",
            "+2026-09-04",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_of_day_take_one_or_two_digit_hours_and_optional_seconds() {
        assert_eq!(parse_time_of_day("21:00"), Ok(time(21, 0, 0)));
        assert_eq!(parse_time_of_day("7:00"), Ok(time(7, 0, 0)));
        assert_eq!(parse_time_of_day("07:00:30"), Ok(time(7, 0, 30)));
    }

    #[test]
    fn out_of_range_or_garbled_times_are_refused() {
        let err = parse_time_of_day("24:00").expect_err("24:00");
        assert!(err.contains("hours go from 0 to 23"), "{err}");
        for bad in [
            "21:60",
            "12:00:60",
            "7h",
            "7",
            "07:00:00:00",
            "",
            "-1:00",
            "07:0x",
        ] {
            assert!(parse_time_of_day(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn local_date_times_join_a_date_and_a_time_with_a_space_or_t() {
        let expected = date(2026, 9, 3).and_time(time(8, 0, 0));
        assert_eq!(parse_local_datetime("2026-09-03 08:00"), Ok(expected));
        assert_eq!(parse_local_datetime("2026-09-03T08:00"), Ok(expected));
        assert_eq!(parse_local_datetime("2026-09-03 08:00:00"), Ok(expected));
        assert_eq!(parse_local_datetime("03/09/2026 8:00"), Ok(expected));
    }

    #[test]
    fn a_date_time_without_a_time_or_with_an_offset_is_refused() {
        let err = parse_local_datetime("2026-09-03").expect_err("no time");
        assert!(err.contains("the time of day is missing"), "{err}");
        assert!(parse_local_datetime("2026-09-03T08:00+07:00").is_err());
        assert!(parse_local_datetime("2026-09-03 25:00").is_err());
    }
}
