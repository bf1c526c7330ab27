//! A step's `send` against the calendar: what `plan` and the daemon will compute, checked
//! once in `validate` (the daemon loads through the same check, so it refuses to start).
//!
//! A cron pattern that gives more than [`MAX_OCCURRENCES`] send times is an error: `plan`,
//! `simulate` and `run` could not list its occurrences. An `at` outside its window, or a
//! cron pattern with no send time inside it (`0 8 30 2 *` never fires), is a warning: the
//! campaign is valid but the step sends nothing.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use croner::Cron;
use croner::errors::CronError;

use crate::campaign::check::Checker;
use crate::campaign::locate::FieldPath;
use crate::campaign::model::Step;
use crate::schedule::{self, Calendar, MAX_OCCURRENCES, ScheduleError, StepOccurrences, Trigger};

/// Checks the occurrences of `step`, whose `send` block is at `path`.
pub(super) fn check(step: &Step, path: &FieldPath, cal: &Calendar, c: &mut Checker<'_>) {
    let bounds = step.schedule.window.intersect(&cal.period);
    let range = match (&step.within, bounds) {
        (_, None) => return,
        (Some(w), Some(b)) => format!("window `{w}` ({} – {})", b.start, b.end),
        (None, Some(b)) => format!("the campaign period ({} – {})", b.start, b.end),
    };
    let occ = match schedule::occurrences(cal, &step.schedule) {
        Ok(occ) => occ,
        Err(e) => {
            let msg = match &e {
                ScheduleError::TooMany { .. } => format!(
                    "the cron pattern gives more than {MAX_OCCURRENCES} send times in {range}"
                ),
                ScheduleError::Cron(_) => e.to_string(),
            };
            c.error(&path.key("cron"), msg, e.hint());
            return;
        }
    };
    if !occ.kept.is_empty() {
        return;
    }
    match &step.schedule.trigger {
        Trigger::At(at) => at_outside(at, &occ, &range, path, c),
        Trigger::Cron(cron) => {
            let start = bounds.map(|b| b.start).unwrap_or_default();
            no_cron_time(cron, start, cal, &range, path, c);
        }
    }
}

/// The `at` of a step lies outside its window, maybe once quiet hours or a skip date
/// moved it.
fn at_outside(
    at: &NaiveDateTime,
    occ: &StepOccurrences,
    range: &str,
    path: &FieldPath,
    c: &mut Checker<'_>,
) {
    let moved = occ
        .dropped
        .first()
        .and_then(|d| d.moved_to)
        .map(|to| {
            format!(
                ", moved by quiet hours or a skip date to {}",
                to.naive_local().format("%Y-%m-%d %H:%M")
            )
        })
        .unwrap_or_default();
    let msg = format!(
        "{}{moved} is outside {range}: the step sends nothing",
        at.format("%Y-%m-%d %H:%M")
    );
    c.warning(
        &path.key("at"),
        msg,
        "move `at` inside the window, or name another window with `within`",
    );
}

/// A cron pattern with no send time in `range`, said apart when it has none at all.
fn no_cron_time(
    cron: &Cron,
    start: NaiveDate,
    cal: &Calendar,
    range: &str,
    path: &FieldPath,
    c: &mut Checker<'_>,
) {
    let from = schedule::resolve_local(cal.tz, start.and_time(NaiveTime::MIN));
    let msg = match cron.find_next_occurrence(&from, true) {
        Err(CronError::TimeSearchLimitExceeded) => {
            "the cron pattern never fires (no date matches it, e.g. the 30th of February)"
                .to_string()
        }
        _ => format!("the cron pattern gives no send time in {range}"),
    };
    c.warning(
        &path.key("cron"),
        format!("{msg}: the step sends nothing"),
        "check day of month and month, e.g. \"0 8 * * MON\" is every Monday at 08:00",
    );
}
