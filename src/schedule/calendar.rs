//! The campaign calendar: time zone, period, quiet hours and skip dates, and
//! the one rule that moves an instant out of quiet hours and off skip dates
//! (docs/campaign-file.md#send). The daemon applies the same rule at send time through
//! [`next_allowed`], so the plan and the sends never disagree.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// A range of local dates, inclusive of both `start` and `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateRange {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DateRange {
    /// Whether `date` lies in the range (both ends included).
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }

    /// The days both ranges share, or `None` when they share none.
    pub fn intersect(&self, other: &DateRange) -> Option<DateRange> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (start <= end).then_some(DateRange { start, end })
    }
}

/// The daily hours in which nothing is sent, `from` included, `to` excluded.
///
/// `from > to` wraps midnight (21:00–07:00 covers the night). `from == to` is
/// rejected by the campaign validation; if it reaches this module anyway it
/// counts as no quiet hours at all rather than a whole quiet day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuietHours {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

impl QuietHours {
    /// Whether the time of day `t` is quiet.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.from <= self.to {
            self.from <= t && t < self.to
        } else {
            t >= self.from || t < self.to
        }
    }

    /// Whether the hours wrap midnight, so a quiet evening ends the next day.
    pub fn wraps_midnight(&self) -> bool {
        self.from > self.to
    }
}

/// Everything about a campaign that decides when a message may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub tz: Tz,
    pub period: DateRange,
    pub quiet_hours: Option<QuietHours>,
    pub skip_dates: BTreeSet<NaiveDate>,
}

/// Why an occurrence's time differs from the time its trigger named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Move {
    /// The instant fell on this skip date and moved to the next day.
    SkipDate(NaiveDate),
    /// The instant fell inside quiet hours and moved to their end.
    QuietHours,
}

impl fmt::Display for Move {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Move::SkipDate(date) => write!(f, "{date} is a skip date"),
            Move::QuietHours => f.write_str("inside quiet hours"),
        }
    }
}

/// Whether the local wall-clock time `local` falls inside the quiet hours.
#[cfg(test)]
fn in_quiet_hours(cal: &Calendar, local: NaiveDateTime) -> bool {
    cal.quiet_hours.is_some_and(|q| q.contains(local.time()))
}

/// When a message due at `at` may go: off a skip date to the same local time
/// on the next day that is not skipped, out of quiet hours to their end, and
/// again until neither applies. An allowed `at` comes back unchanged.
pub(crate) fn next_allowed(cal: &Calendar, at: DateTime<Tz>) -> DateTime<Tz> {
    adjust(cal, at).0
}

/// Like [`next_allowed`], and also says which moves were made, in order.
///
/// Each move goes forward, a skip move ends on a day that is not skipped and
/// the end of quiet hours is not quiet, so the moves settle after at most two
/// per skip date; the bound below only guards against a time zone doing
/// something no real one does.
pub(crate) fn adjust(cal: &Calendar, at: DateTime<Tz>) -> (DateTime<Tz>, Vec<Move>) {
    let mut at = at.with_timezone(&cal.tz);
    let mut moves = Vec::new();
    let bound = 2 * cal.skip_dates.len() + 4;
    for _ in 0..bound {
        let local = at.naive_local();
        if cal.skip_dates.contains(&local.date()) {
            at = move_off_skip_dates(cal, local, &mut moves);
        } else if let Some(q) = cal.quiet_hours.filter(|q| q.contains(local.time())) {
            at = end_of_quiet_hours(cal.tz, q, local);
            moves.push(Move::QuietHours);
        } else {
            break;
        }
    }
    (at, moves)
}

/// The same local time on the first following day that is not skipped,
/// recording one move per skipped day.
fn move_off_skip_dates(
    cal: &Calendar,
    local: NaiveDateTime,
    moves: &mut Vec<Move>,
) -> DateTime<Tz> {
    let mut date = local.date();
    while cal.skip_dates.contains(&date) {
        moves.push(Move::SkipDate(date));
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    resolve_local(cal.tz, date.and_time(local.time()))
}

/// The instant the quiet hours containing `local` end: today's `to`, or
/// tomorrow's when the quiet hours wrap midnight and `local` is in the
/// evening part.
fn end_of_quiet_hours(tz: Tz, q: QuietHours, local: NaiveDateTime) -> DateTime<Tz> {
    let date = if q.wraps_midnight() && local.time() >= q.from {
        local.date().succ_opt().unwrap_or(local.date())
    } else {
        local.date()
    };
    resolve_local(tz, date.and_time(q.to))
}

/// The instant a local wall-clock time names in `tz`.
///
/// An ambiguous time (the repeated hour when clocks go back) is the earlier
/// instant. A time that does not exist (the hour skipped when clocks go
/// forward) is the first instant after the gap: 02:30 on a spring-forward
/// day in Europe/Berlin is 03:00 CEST.
pub(crate) fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Tz> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(at) => at,
        chrono::LocalResult::Ambiguous(earlier, _) => earlier,
        chrono::LocalResult::None => first_instant_at_or_after(tz, local),
    }
}

/// The first instant whose local time is at or after `local`, found by
/// bisection over whole UTC seconds: every UTC offset is within ±26 hours,
/// and local time only rises around a gap, so the answer lies in that range.
/// Dates near the ends of chrono's range, which no campaign uses, fall back
/// to reading `local` as UTC rather than panicking.
fn first_instant_at_or_after(tz: Tz, local: NaiveDateTime) -> DateTime<Tz> {
    let as_utc = local.and_utc().timestamp();
    let span = 26 * 3600;
    let at = |ts: i64| DateTime::from_timestamp(ts, 0).map(|utc| utc.with_timezone(&tz));
    let reaches = |ts: i64| at(ts).is_some_and(|t| t.naive_local() >= local);
    let (mut lo, mut hi) = (as_utc - span, as_utc + span);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reaches(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    at(hi).unwrap_or_else(|| tz.from_utc_datetime(&local))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::schedule::test_support::{BERLIN, HCM, at, campaign, local, with_quiet, with_skips};

    #[test]
    fn seven_in_the_morning_in_ho_chi_minh_city_is_midnight_utc() {
        let seven = resolve_local(HCM, local("2026-09-04 07:00"));
        let midnight_utc = Utc.with_ymd_and_hms(2026, 9, 4, 0, 0, 0).single();
        assert_eq!(Some(seven.with_timezone(&Utc)), midnight_utc);
    }

    #[test]
    fn a_time_in_the_berlin_spring_forward_gap_is_the_first_instant_after_it() {
        // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist.
        let resolved = resolve_local(BERLIN, local("2026-03-29 02:30"));
        assert_eq!(resolved.naive_local(), local("2026-03-29 03:00"));
        assert_eq!(
            resolved.with_timezone(&Utc).naive_utc(),
            local("2026-03-29 01:00")
        );
    }

    #[test]
    fn a_repeated_time_in_the_berlin_autumn_is_the_earlier_instant() {
        // 2026-10-25 03:00 CEST goes back to 02:00 CET: 02:30 happens twice.
        let resolved = resolve_local(BERLIN, local("2026-10-25 02:30"));
        assert_eq!(
            resolved.with_timezone(&Utc).naive_utc(),
            local("2026-10-25 00:30")
        );
    }

    #[test]
    fn quiet_hours_include_their_start_and_exclude_their_end() {
        let cal = with_quiet(campaign(), "21:00", "07:00");
        assert!(in_quiet_hours(&cal, local("2026-09-04 21:00")));
        assert!(in_quiet_hours(&cal, local("2026-09-04 23:59:59")));
        assert!(in_quiet_hours(&cal, local("2026-09-04 00:00")));
        assert!(in_quiet_hours(&cal, local("2026-09-04 06:59:59")));
        assert!(!in_quiet_hours(&cal, local("2026-09-04 07:00")));
        assert!(!in_quiet_hours(&cal, local("2026-09-04 20:59:59")));
    }

    #[test]
    fn quiet_hours_from_and_to_the_same_time_silence_nothing() {
        let cal = with_quiet(campaign(), "07:00", "07:00");
        assert!(!in_quiet_hours(&cal, local("2026-09-04 07:00")));
        assert!(!in_quiet_hours(&cal, local("2026-09-04 03:00")));
    }

    #[test]
    fn without_quiet_hours_or_skip_dates_nothing_moves() {
        let cal = campaign();
        let late = at(&cal, "2026-09-04 23:30");
        assert_eq!(adjust(&cal, late), (late, vec![]));
    }

    #[test]
    fn a_send_at_22_30_moves_to_07_00_the_next_day() {
        let cal = with_quiet(campaign(), "21:00", "07:00");
        let moved = next_allowed(&cal, at(&cal, "2026-09-03 22:30"));
        assert_eq!(moved, at(&cal, "2026-09-04 07:00"));
    }

    #[test]
    fn a_send_at_05_00_moves_to_07_00_the_same_day() {
        let cal = with_quiet(campaign(), "21:00", "07:00");
        let moved = next_allowed(&cal, at(&cal, "2026-09-04 05:00"));
        assert_eq!(moved, at(&cal, "2026-09-04 07:00"));
    }

    #[test]
    fn quiet_hours_over_lunch_move_a_send_to_their_end_the_same_day() {
        let cal = with_quiet(campaign(), "12:00", "13:30");
        let moved = adjust(&cal, at(&cal, "2026-09-04 12:15"));
        assert_eq!(
            moved,
            (at(&cal, "2026-09-04 13:30"), vec![Move::QuietHours])
        );
        let before = at(&cal, "2026-09-04 11:59");
        assert_eq!(next_allowed(&cal, before), before);
        let after = at(&cal, "2026-09-04 13:30");
        assert_eq!(next_allowed(&cal, after), after);
    }

    #[test]
    fn consecutive_skip_dates_move_a_send_to_the_first_free_day() {
        let cal = with_skips(campaign(), &["2026-09-02", "2026-09-03"]);
        let (moved, moves) = adjust(&cal, at(&cal, "2026-09-02 08:00"));
        assert_eq!(moved, at(&cal, "2026-09-04 08:00"));
        let skipped = [
            Move::SkipDate(date("2026-09-02")),
            Move::SkipDate(date("2026-09-03")),
        ];
        assert_eq!(moves, skipped);
    }

    #[test]
    fn a_move_out_of_quiet_hours_onto_a_skip_date_moves_again() {
        let cal = with_skips(with_quiet(campaign(), "21:00", "07:00"), &["2026-09-05"]);
        let (moved, moves) = adjust(&cal, at(&cal, "2026-09-04 22:00"));
        assert_eq!(moved, at(&cal, "2026-09-06 07:00"));
        assert_eq!(
            moves,
            [Move::QuietHours, Move::SkipDate(date("2026-09-05"))]
        );
    }

    #[test]
    fn the_end_of_quiet_hours_inside_a_gap_is_the_first_instant_after_the_gap() {
        let mut cal = with_quiet(campaign(), "22:00", "02:30");
        cal.tz = BERLIN;
        let moved = next_allowed(&cal, at(&cal, "2026-03-28 23:00"));
        assert_eq!(moved.naive_local(), local("2026-03-29 03:00"));
    }

    #[test]
    fn date_ranges_intersect_to_the_days_they_share() {
        let window = range("2026-07-20", "2026-08-10");
        let period = range("2026-08-01", "2026-12-31");
        assert_eq!(
            window.intersect(&period),
            Some(range("2026-08-01", "2026-08-10"))
        );
        assert_eq!(range("2026-01-01", "2026-01-31").intersect(&period), None);
    }

    fn date(s: &str) -> NaiveDate {
        crate::schedule::test_support::date(s)
    }

    fn range(start: &str, end: &str) -> DateRange {
        crate::schedule::test_support::range(start, end)
    }
}
