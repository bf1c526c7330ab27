//! Fixed calendars and instants shared by the schedule tests.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::{
    Calendar, DateRange, QuietHours, parse_date, parse_local_datetime, parse_time_of_day,
    resolve_local,
};

pub(super) const HCM: Tz = chrono_tz::Asia::Ho_Chi_Minh;
pub(super) const BERLIN: Tz = chrono_tz::Europe::Berlin;

pub(super) fn date(s: &str) -> NaiveDate {
    parse_date(s).expect("test date")
}

pub(super) fn local(s: &str) -> NaiveDateTime {
    parse_local_datetime(s).expect("test date-time")
}

pub(super) fn range(start: &str, end: &str) -> DateRange {
    DateRange {
        start: date(start),
        end: date(end),
    }
}

/// The example campaign's calendar: Aug–Dec 2026 in Ho Chi Minh City, no
/// quiet hours and no skip dates until a test adds them.
pub(super) fn campaign() -> Calendar {
    Calendar {
        tz: HCM,
        period: range("2026-08-01", "2026-12-31"),
        quiet_hours: None,
        skip_dates: Default::default(),
    }
}

pub(super) fn with_quiet(mut cal: Calendar, from: &str, to: &str) -> Calendar {
    let from = parse_time_of_day(from).expect("test time");
    let to = parse_time_of_day(to).expect("test time");
    cal.quiet_hours = Some(QuietHours { from, to });
    cal
}

pub(super) fn with_skips(mut cal: Calendar, dates: &[&str]) -> Calendar {
    cal.skip_dates = dates.iter().map(|d| date(d)).collect();
    cal
}

/// The instant a local date-time names in the calendar's zone.
pub(super) fn at(cal: &Calendar, s: &str) -> DateTime<Tz> {
    resolve_local(cal.tz, local(s))
}
