//! Pure time math for campaign schedules (docs/campaign-file.md#send): which instants a step's
//! `send` names, and how the campaign calendar (period, windows, quiet hours,
//! skip dates) moves or drops them.
//!
//! Nothing here reads the clock or does I/O: callers pass every instant and
//! calendar in. `campaign` validates the YAML and builds a [`Calendar`] and
//! one [`StepSchedule`] per step with the parsers below; `cli plan` lists
//! [`occurrences`]; the daemon enqueues them and, at send time, asks
//! [`next_allowed`] whether a late message must still wait.
//!
//! Local times are wall-clock times in the calendar's zone (the product's
//! default is Asia/Ho_Chi_Minh, UTC+7 without daylight saving). Where a zone
//! does change its clocks, a time skipped by the change means the first
//! instant after it, and a repeated time means its earlier instant.
//!
//! # Layout
//!
//! - `calendar`: [`Calendar`], quiet hours, skip dates, [`next_allowed`]
//! - `occurrence`: [`occurrences`] of one step, kept and dropped
//! - `cron`: [`parse_cron`] with errors for non-programmers
//! - `parse`: dates, times of day and local date-times as staff write them

mod calendar;
mod cron;
mod occurrence;
mod parse;

pub(crate) use calendar::{Calendar, DateRange, Move, QuietHours, next_allowed, resolve_local};
pub(crate) use cron::{days_joined_by_or, parse_cron};
pub(crate) use occurrence::{
    DropReason, Dropped, MAX_OCCURRENCES, ScheduleError, StepOccurrences, StepSchedule, Trigger,
};
pub(crate) use occurrence::{Occurrence, occurrences};
pub(crate) use parse::{parse_date, parse_local_datetime, parse_time_of_day};

#[cfg(test)]
mod test_support;
