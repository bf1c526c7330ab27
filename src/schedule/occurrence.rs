//! The occurrences of one step: the instants its `send` names (`at` or
//! `cron`), moved off skip dates and out of quiet hours by the calendar,
//! bounded by the step's window and the campaign period, de-duplicated and cut
//! at `max` (SPEC §3). What is dropped is kept with its reason, for the plan
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
pub const MAX_OCCURRENCES: usize = 10_000;

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
pub struct Occurrence {
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
pub struct Dropped {
    pub nominal: DateTime<Tz>,
    /// Where the calendar moved it, when it moved.
    pub moved_to: Option<DateTime<Tz>>,
    pub reason: DropReason,
}

/// Why an instant is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
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
pub struct StepOccurrences {
    /// What will be sent, in order of `at`, numbered from 1.
    pub kept: Vec<Occurrence>,
    /// What will not, in the order the trigger named them.
    pub dropped: Vec<Dropped>,
}

/// Why a step's occurrences cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the cron pattern gives more than {limit} send times for this step")]
    TooMany { limit: usize },
    #[error("the cron pattern could not be evaluated: {0}")]
    Cron(String),
}

impl ScheduleError {
    /// What the campaign author can do about it.
    pub fn hint(&self) -> &'static str {
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
pub fn occurrences(cal: &Calendar, sched: &StepSchedule) -> Result<StepOccurrences, ScheduleError> {
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
