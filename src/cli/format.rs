//! How numbers and times are shown to Vietnamese staff: `1.919.166`, `T2 07/09/2026 08:00`.

use chrono::{DateTime, Datelike, Weekday};
use chrono_tz::Tz;

/// Thousands separated by dots, as Vietnamese writes them.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(ch);
    }
    out
}

/// Vietnamese weekday abbreviation: Monday is "T2" (thứ hai), Sunday "CN".
pub(super) fn weekday(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "T2",
        Weekday::Tue => "T3",
        Weekday::Wed => "T4",
        Weekday::Thu => "T5",
        Weekday::Fri => "T6",
        Weekday::Sat => "T7",
        Weekday::Sun => "CN",
    }
}

/// `T2 07/09/2026 08:00` in the campaign's zone.
pub(super) fn local_time(t: &DateTime<Tz>) -> String {
    format!("{} {}", weekday(t.weekday()), t.format("%d/%m/%Y %H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn thousands_are_separated_by_dots() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_919_166), "1.919.166");
        assert_eq!(thousands(2_000_000), "2.000.000");
    }

    #[test]
    fn local_times_read_the_vietnamese_way() {
        let t = chrono_tz::Asia::Ho_Chi_Minh
            .with_ymd_and_hms(2026, 9, 7, 8, 0, 0)
            .unwrap();
        assert_eq!(local_time(&t), "T2 07/09/2026 08:00");
    }
}
