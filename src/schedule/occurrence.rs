//! The occurrences of one step: the instants its `send` names (`at` or
//! `cron`), moved off skip dates and out of quiet hours by the calendar,
//! bounded by the step's window and the campaign period, de-duplicated and cut
//! at `max` (docs/campaign-file.md#send). What is dropped is kept with its reason, for the plan
//! table.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use croner::Cron;
use croner::errors::CronError;

use super::calendar::{Calendar, DateRange, Move, adjust, resolve_local};

/// The most occurrences one step may produce (kept or dropped) before it is
/// refused as too frequent: a reminder campaign has no use for more, and the
/// plan table would be unreadable.
pub(crate) const MAX_OCCURRENCES: usize = 10_000;

/// When a step sends; times are local wall-clock times in the calendar's zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// Once, at this local time.
    At(NaiveDateTime),
    /// At every match of the pattern.
    Cron(Box<Cron>),
}

/// A step's `send` block, with `within` resolved to a date range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSchedule {
    pub trigger: Trigger,
    pub window: DateRange,
    pub max: Option<u32>,
}

/// One instant at which the step sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Occurrence {
    /// 1-based number among the kept occurrences, in order of `at`.
    pub n: u32,
    /// When it is sent.
    pub at: DateTime<Tz>,
    /// When the trigger named it, before any move.
    pub nominal: DateTime<Tz>,
    /// Why `at` differs from `nominal`, in the order the moves were made.
    pub moves: Vec<Move>,
}

/// An instant the trigger named that will not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    pub nominal: DateTime<Tz>,
    /// Where the calendar moved it, when it moved.
    pub moved_to: Option<DateTime<Tz>>,
    pub reason: DropReason,
}

/// Why an instant is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DropReason {
    /// It lies, or was moved, outside the step's window or the period.
    LeftWindow,
    /// It was moved onto the time of an occurrence already kept.
    Duplicate,
    /// The step's `max` was already reached.
    OverMax,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::LeftWindow => "outside the step's window",
            DropReason::Duplicate => "same time as an earlier occurrence",
            DropReason::OverMax => "the step's max is reached",
        })
    }
}

/// Everything [`occurrences`] found for one step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct StepOccurrences {
    /// What will be sent, in order of `at`, numbered from 1.
    pub kept: Vec<Occurrence>,
    /// What will not, in the order the trigger named them.
    pub dropped: Vec<Dropped>,
}

/// Why a step's occurrences cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScheduleError {
    #[error("the cron pattern gives more than {limit} send times for this step")]
    TooMany { limit: usize },
    #[error("the cron pattern could not be evaluated: {0}")]
    Cron(String),
}

impl ScheduleError {
    /// What the campaign author can do about it.
    pub(crate) fn hint(&self) -> &'static str {
        match self {
            ScheduleError::TooMany { .. } => {
                "use a less frequent pattern such as \"0 8 * * MON\" (every Monday at 08:00), \
                 a shorter window with `within`, or `max`"
            }
            ScheduleError::Cron(_) => "simplify the cron pattern, e.g. \"0 8 * * MON\"",
        }
    }
}

/// The occurrences of one step.
///
/// A trigger time is first checked against the step's bounds (its window ∩
/// the period), then moved by the calendar, then checked again: leaving the
/// bounds drops it as [`DropReason::LeftWindow`]. One landing on the time of
/// an occurrence already kept is a [`DropReason::Duplicate`]. Once `max` are
/// kept, the next one that would have been kept is reported as
/// [`DropReason::OverMax`] and the search stops there, so a step with `max`
/// never walks its whole window; later trigger times are not listed.
pub(crate) fn occurrences(
    cal: &Calendar,
    sched: &StepSchedule,
) -> Result<StepOccurrences, ScheduleError> {
    let bounds = sched.window.intersect(&cal.period);
    let mut collector = Collector::new(cal, bounds, sched.max);
    match &sched.trigger {
        Trigger::At(local) => {
            collector.offer(resolve_local(cal.tz, *local));
        }
        Trigger::Cron(cron) => {
            if let Some(bounds) = bounds {
                for_each_match(cal.tz, cron, bounds, |nominal| collector.offer(nominal))?;
            }
        }
    }
    Ok(collector.finish())
}

/// Whether the search for trigger times goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// Calls `visit` with every match of `cron` from 00:00 on the first day of
/// `bounds` to the end of its last day, in `tz`, until `visit` says stop.
fn for_each_match(
    tz: Tz,
    cron: &Cron,
    bounds: DateRange,
    mut visit: impl FnMut(DateTime<Tz>) -> Flow,
) -> Result<(), ScheduleError> {
    let start = resolve_local(tz, bounds.start.and_time(NaiveTime::MIN));
    let mut next = cron.find_next_occurrence(&start, true);
    let mut count = 0;
    loop {
        let at = match next {
            Ok(at) => at,
            // croner gives up when no match exists before year 5000.
            Err(CronError::TimeSearchLimitExceeded) => return Ok(()),
            Err(err) => return Err(ScheduleError::Cron(err.to_string())),
        };
        if at.naive_local().date() > bounds.end {
            return Ok(());
        }
        count += 1;
        if count > MAX_OCCURRENCES {
            return Err(ScheduleError::TooMany {
                limit: MAX_OCCURRENCES,
            });
        }
        if visit(at) == Flow::Stop {
            return Ok(());
        }
        next = cron.find_next_occurrence(&at, false);
    }
}

/// Sorts trigger times into kept and dropped, one at a time.
struct Collector<'a> {
    cal: &'a Calendar,
    bounds: Option<DateRange>,
    max: Option<u32>,
    kept: Vec<Occurrence>,
    kept_at: BTreeSet<DateTime<Tz>>,
    dropped: Vec<Dropped>,
}

impl<'a> Collector<'a> {
    fn new(cal: &'a Calendar, bounds: Option<DateRange>, max: Option<u32>) -> Self {
        Collector {
            cal,
            bounds,
            max,
            kept: Vec::new(),
            kept_at: BTreeSet::new(),
            dropped: Vec::new(),
        }
    }

    fn within_bounds(&self, at: DateTime<Tz>) -> bool {
        let date = at.naive_local().date();
        self.bounds.is_some_and(|b| b.contains(date))
    }

    fn offer(&mut self, nominal: DateTime<Tz>) -> Flow {
        if !self.within_bounds(nominal) {
            self.reject(nominal, None, DropReason::LeftWindow);
            return Flow::Continue;
        }
        let (at, moves) = adjust(self.cal, nominal);
        let moved_to = (at != nominal).then_some(at);
        if !self.within_bounds(at) {
            self.reject(nominal, moved_to, DropReason::LeftWindow);
        } else if self.kept_at.contains(&at) {
            self.reject(nominal, moved_to, DropReason::Duplicate);
        } else if self.max.is_some_and(|max| self.kept.len() >= max as usize) {
            self.reject(nominal, moved_to, DropReason::OverMax);
            return Flow::Stop;
        } else {
            self.kept_at.insert(at);
            let n = 0; // numbered in `finish`, once in order of `at`
            self.kept.push(Occurrence {
                n,
                at,
                nominal,
                moves,
            });
        }
        Flow::Continue
    }

    fn reject(
        &mut self,
        nominal: DateTime<Tz>,
        moved_to: Option<DateTime<Tz>>,
        reason: DropReason,
    ) {
        self.dropped.push(Dropped {
            nominal,
            moved_to,
            reason,
        });
    }

    /// Orders the kept occurrences by send time (a skip date can move one
    /// past the next) and numbers them from 1.
    fn finish(self) -> StepOccurrences {
        let mut kept = self.kept;
        kept.sort_by_key(|o| (o.at, o.nominal));
        for (n, occurrence) in (1..).zip(kept.iter_mut()) {
            occurrence.n = n;
        }
        StepOccurrences {
            kept,
            dropped: self.dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::schedule::parse_cron;
    use crate::schedule::test_support::{
        BERLIN, at, campaign, date, local, range, with_quiet, with_skips,
    };

    fn cron(expr: &str, start: &str, end: &str) -> StepSchedule {
        let cron = parse_cron(expr).expect("test cron");
        StepSchedule {
            trigger: Trigger::Cron(Box::new(cron)),
            window: range(start, end),
            max: None,
        }
    }

    fn at_once(when: &str, start: &str, end: &str) -> StepSchedule {
        StepSchedule {
            trigger: Trigger::At(local(when)),
            window: range(start, end),
            max: None,
        }
    }

    fn run(cal: &Calendar, sched: &StepSchedule) -> StepOccurrences {
        occurrences(cal, sched).expect("occurrences")
    }

    fn kept_at(found: &StepOccurrences) -> Vec<NaiveDateTime> {
        found.kept.iter().map(|o| o.at.naive_local()).collect()
    }

    fn reasons(found: &StepOccurrences) -> Vec<DropReason> {
        found.dropped.iter().map(|d| d.reason).collect()
    }

    #[test]
    fn a_weekly_monday_cron_on_a_skip_date_sends_on_tuesday_at_the_same_time() {
        let cal = with_skips(campaign(), &["2026-09-14"]);
        let found = run(&cal, &cron("0 8 * * MON", "2026-09-01", "2026-09-30"));
        let expected = [
            "2026-09-07 08:00",
            "2026-09-15 08:00",
            "2026-09-21 08:00",
            "2026-09-28 08:00",
        ];
        assert_eq!(kept_at(&found), expected.map(local));
        assert_eq!(found.kept[1].nominal, at(&cal, "2026-09-14 08:00"));
        assert_eq!(found.kept[1].moves, [Move::SkipDate(date("2026-09-14"))]);
        assert!(found.kept[0].moves.is_empty());
        assert!(found.dropped.is_empty());
    }

    #[test]
    fn a_send_at_22_30_moves_to_the_end_of_quiet_hours() {
        let cal = with_quiet(campaign(), "21:00", "07:00");
        let found = run(
            &cal,
            &at_once("2026-09-03 22:30", "2026-08-01", "2026-12-31"),
        );
        assert_eq!(kept_at(&found), [local("2026-09-04 07:00")]);
        assert_eq!(found.kept[0].nominal, at(&cal, "2026-09-03 22:30"));
        assert_eq!(found.kept[0].moves, [Move::QuietHours]);
    }

    #[test]
    fn an_occurrence_on_the_last_day_moved_out_by_quiet_hours_is_dropped() {
        let cal = with_quiet(campaign(), "21:00", "07:00");
        let found = run(&cal, &cron("30 22 * * *", "2026-09-28", "2026-09-30"));
        assert_eq!(
            kept_at(&found),
            [local("2026-09-29 07:00"), local("2026-09-30 07:00")]
        );
        let dropped = Dropped {
            nominal: at(&cal, "2026-09-30 22:30"),
            moved_to: Some(at(&cal, "2026-10-01 07:00")),
            reason: DropReason::LeftWindow,
        };
        assert_eq!(found.dropped, [dropped]);
    }

    #[test]
    fn max_keeps_the_first_n_and_reports_the_next_as_over_max() {
        let mut sched = cron("0 19 * * SAT", "2026-08-15", "2026-12-31");
        sched.max = Some(4);
        let cal = campaign();
        let found = run(&cal, &sched);
        let expected = [
            "2026-08-15 19:00",
            "2026-08-22 19:00",
            "2026-08-29 19:00",
            "2026-09-05 19:00",
        ];
        assert_eq!(kept_at(&found), expected.map(local));
        let over = Dropped {
            nominal: at(&cal, "2026-09-12 19:00"),
            moved_to: None,
            reason: DropReason::OverMax,
        };
        assert_eq!(found.dropped, [over]);
    }

    #[test]
    fn max_zero_sends_nothing() {
        let mut sched = at_once("2026-09-03 08:00", "2026-08-01", "2026-12-31");
        sched.max = Some(0);
        let found = run(&campaign(), &sched);
        assert!(found.kept.is_empty());
        assert_eq!(reasons(&found), [DropReason::OverMax]);
    }

    #[test]
    fn a_six_field_cron_sends_at_its_seconds() {
        let found = run(
            &campaign(),
            &cron("30 0 8 * * MON", "2026-09-01", "2026-09-13"),
        );
        assert_eq!(kept_at(&found), [local("2026-09-07 08:00:30")]);
    }

    #[test]
    fn a_daily_07_00_cron_in_ho_chi_minh_city_sends_at_midnight_utc() {
        let found = run(&campaign(), &cron("0 7 * * *", "2026-09-04", "2026-09-04"));
        let utc: Vec<_> = found
            .kept
            .iter()
            .map(|o| o.at.with_timezone(&Utc))
            .collect();
        let expected = Utc.with_ymd_and_hms(2026, 9, 4, 0, 0, 0).single();
        assert_eq!(utc.first().copied(), expected);
        assert_eq!(utc.len(), 1);
    }

    #[test]
    fn a_daily_cron_at_a_time_in_the_berlin_gap_sends_when_the_gap_ends() {
        let mut cal = campaign();
        cal.tz = BERLIN;
        cal.period = range("2026-03-01", "2026-04-30");
        let found = run(&cal, &cron("30 2 * * *", "2026-03-28", "2026-03-30"));
        let expected = ["2026-03-28 02:30", "2026-03-29 03:00", "2026-03-30 02:30"];
        assert_eq!(kept_at(&found), expected.map(local));
        let in_gap = run(
            &cal,
            &at_once("2026-03-29 02:30", "2026-03-01", "2026-04-30"),
        );
        assert_eq!(kept_at(&in_gap), [local("2026-03-29 03:00")]);
    }

    #[test]
    fn a_daily_cron_at_a_repeated_berlin_time_sends_once_at_the_earlier_instant() {
        let mut cal = campaign();
        cal.tz = BERLIN;
        cal.period = range("2026-10-01", "2026-10-31");
        let found = run(&cal, &cron("30 2 * * *", "2026-10-25", "2026-10-25"));
        let utc: Vec<_> = found
            .kept
            .iter()
            .map(|o| o.at.with_timezone(&Utc).naive_utc())
            .collect();
        assert_eq!(utc, [local("2026-10-25 00:30")]); // 02:30 CEST, not 02:30 CET
    }

    #[test]
    fn an_at_outside_the_window_is_dropped() {
        let cal = campaign();
        let found = run(
            &cal,
            &at_once("2026-09-03 08:00", "2026-09-04", "2026-09-18"),
        );
        assert!(found.kept.is_empty());
        let dropped = Dropped {
            nominal: at(&cal, "2026-09-03 08:00"),
            moved_to: None,
            reason: DropReason::LeftWindow,
        };
        assert_eq!(found.dropped, [dropped]);
    }

    #[test]
    fn an_at_outside_the_period_is_dropped_even_inside_its_window() {
        let found = run(
            &campaign(),
            &at_once("2027-01-02 08:00", "2026-12-01", "2027-01-31"),
        );
        assert_eq!(reasons(&found), [DropReason::LeftWindow]);
    }

    #[test]
    fn a_window_reaching_past_the_period_is_cut_to_the_period() {
        let found = run(&campaign(), &cron("0 8 * * *", "2026-07-30", "2026-08-02"));
        assert_eq!(
            kept_at(&found),
            [local("2026-08-01 08:00"), local("2026-08-02 08:00")]
        );
        let outside = run(&campaign(), &cron("0 8 * * *", "2027-01-01", "2027-01-31"));
        assert_eq!(outside, StepOccurrences::default());
    }

    #[test]
    fn consecutive_skip_dates_move_a_send_past_all_of_them() {
        let cal = with_skips(campaign(), &["2026-09-02", "2026-09-03"]);
        let found = run(
            &cal,
            &at_once("2026-09-02 08:00", "2026-08-01", "2026-12-31"),
        );
        assert_eq!(kept_at(&found), [local("2026-09-04 08:00")]);
        let skipped = [
            Move::SkipDate(date("2026-09-02")),
            Move::SkipDate(date("2026-09-03")),
        ];
        assert_eq!(found.kept[0].moves, skipped);
    }

    #[test]
    fn quiet_hours_over_lunch_delay_a_send_to_13_30_the_same_day() {
        let cal = with_quiet(campaign(), "12:00", "13:30");
        let found = run(&cal, &cron("0 11-13 * * *", "2026-09-04", "2026-09-04"));
        assert_eq!(
            kept_at(&found),
            [local("2026-09-04 11:00"), local("2026-09-04 13:30")]
        );
        assert_eq!(reasons(&found), [DropReason::Duplicate]);
    }

    #[test]
    fn an_hourly_cron_in_quiet_hours_collapses_into_one_send_at_their_end() {
        let cal = with_quiet(campaign(), "21:00", "07:00");
        let found = run(&cal, &cron("0 * * * *", "2026-09-04", "2026-09-04"));
        let hours: Vec<_> = (7..=20)
            .map(|h| local(&format!("2026-09-04 {h}:00")))
            .collect();
        assert_eq!(kept_at(&found), hours);
        assert_eq!(found.kept[0].nominal, at(&cal, "2026-09-04 00:00"));
        let mut expected = vec![DropReason::Duplicate; 7]; // 01:00 to 07:00
        expected.extend([DropReason::LeftWindow; 3]); // 21:00 to 23:00 move to 5 September
        assert_eq!(reasons(&found), expected);
        assert_eq!(
            found.dropped[0].moved_to,
            Some(at(&cal, "2026-09-04 07:00"))
        );
    }

    #[test]
    fn a_skip_date_moving_a_daily_send_onto_the_next_days_send_keeps_one() {
        let cal = with_skips(campaign(), &["2026-09-02"]);
        let found = run(&cal, &cron("0 8 * * *", "2026-09-01", "2026-09-04"));
        let expected = ["2026-09-01 08:00", "2026-09-03 08:00", "2026-09-04 08:00"];
        assert_eq!(kept_at(&found), expected.map(local));
        assert_eq!(found.kept[1].nominal, at(&cal, "2026-09-02 08:00"));
        assert_eq!(reasons(&found), [DropReason::Duplicate]);
    }

    #[test]
    fn occurrences_are_numbered_from_one_in_send_order_and_the_same_every_time() {
        let cal = with_skips(campaign(), &["2026-09-14"]);
        let sched = cron("0 8 * * MON", "2026-09-01", "2026-09-30");
        let found = run(&cal, &sched);
        let numbered: Vec<_> = found
            .kept
            .iter()
            .map(|o| (o.n, o.at.naive_local()))
            .collect();
        let expected = [
            (1, local("2026-09-07 08:00")),
            (2, local("2026-09-15 08:00")),
            (3, local("2026-09-21 08:00")),
            (4, local("2026-09-28 08:00")),
        ];
        assert_eq!(numbered, expected);
        assert_eq!(run(&cal, &sched), found);
    }

    #[test]
    fn a_cron_every_second_is_refused_as_too_many() {
        let err = occurrences(
            &campaign(),
            &cron("* * * * * *", "2026-09-01", "2026-09-30"),
        );
        assert_eq!(
            err,
            Err(ScheduleError::TooMany {
                limit: MAX_OCCURRENCES
            })
        );
        let hint = ScheduleError::TooMany {
            limit: MAX_OCCURRENCES,
        }
        .hint();
        assert!(hint.contains("less frequent"), "{hint}");
    }

    #[test]
    fn a_frequent_cron_with_a_small_max_is_not_too_many() {
        let mut sched = cron("* * * * *", "2026-08-01", "2026-12-31");
        sched.max = Some(3);
        assert_eq!(run(&campaign(), &sched).kept.len(), 3);
    }

    #[test]
    fn a_cron_that_never_matches_sends_nothing() {
        let found = run(&campaign(), &cron("0 8 30 2 *", "2026-08-01", "2026-12-31"));
        assert_eq!(found, StepOccurrences::default());
    }

    #[test]
    fn drop_reasons_read_as_plain_english() {
        assert_eq!(
            DropReason::LeftWindow.to_string(),
            "outside the step's window"
        );
        assert_eq!(
            DropReason::Duplicate.to_string(),
            "same time as an earlier occurrence"
        );
        assert_eq!(DropReason::OverMax.to_string(), "the step's max is reached");
    }
}
