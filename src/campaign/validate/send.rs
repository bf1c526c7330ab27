//! A step's `send:` block: exactly one trigger (`at` or `cron`), the window it sends in and
//! how many times at most.

use chrono::{NaiveDate, NaiveDateTime};
use indexmap::IndexMap;

use super::{Names, reference};
use crate::campaign::check::Checker;
use crate::campaign::locate::FieldPath;
use crate::campaign::spec::SendSpec;
use crate::schedule::{self, DateRange, StepSchedule, Trigger};

/// A checked `send:` block.
pub(super) struct Send {
    pub(super) schedule: StepSchedule,
    /// The `within:` window as written, or None for the whole period.
    pub(super) within: Option<String>,
    /// The trigger as written (`at 2026-09-03 08:00`, `cron 0 8 * * MON`), for `step.*` in
    /// templates and for tables.
    pub(super) text: String,
}

pub(super) fn send(
    spec: Option<&SendSpec>,
    path: &FieldPath,
    names: &Names<'_>,
    windows: &IndexMap<String, DateRange>,
    period: Option<DateRange>,
    c: &mut Checker<'_>,
) -> Option<Send> {
    let Some(spec) = spec else {
        c.missing(
            path,
            "add `send: { at: \"2026-09-03 08:00\" }` or `send: { cron: \"0 8 * * MON\" }`",
        );
        return None;
    };
    let trigger = trigger(spec, path, c);
    let window = match &spec.within {
        Some(w) => {
            let name = reference(Some(w), &path.key("within"), "window", &names.windows, c)?;
            windows.get(&name).copied()
        }
        None => period,
    };
    if spec.max == Some(0) {
        c.error(
            &path.key("max"),
            "max is 0: the step would never send",
            "remove the step or give max ≥ 1",
        );
    }
    Some(Send {
        schedule: StepSchedule {
            trigger: trigger?,
            window: window?,
            max: spec.max,
        },
        within: spec.within.clone(),
        text: text(spec),
    })
}

/// What stands for a `send` with an error, so that the rest of its step is still checked:
/// one time at the earliest date, in an empty window. It never reaches `plan` or the
/// daemon, as the error keeps the workspace from loading.
pub(super) fn placeholder() -> Send {
    let never = DateRange {
        start: NaiveDate::MIN,
        end: NaiveDate::MIN,
    };
    Send {
        schedule: StepSchedule {
            trigger: Trigger::At(NaiveDateTime::MIN),
            window: never,
            max: None,
        },
        within: None,
        text: String::new(),
    }
}

fn trigger(spec: &SendSpec, path: &FieldPath, c: &mut Checker<'_>) -> Option<Trigger> {
    match (&spec.at, &spec.cron) {
        (Some(at), None) => schedule::parse_local_datetime(at)
            .map_err(|e| {
                c.error(
                    &path.key("at"),
                    format!("bad time {at:?}: {e}"),
                    "write local time as \"2026-09-03 08:00\"",
                )
            })
            .ok()
            .map(Trigger::At),
        (None, Some(cron)) => {
            let parsed = schedule::parse_cron(cron)
                .map_err(|e| {
                    c.error(
                        &path.key("cron"),
                        format!("bad cron expression {cron:?}: {e}"),
                        e.hint.clone(),
                    )
                })
                .ok()?;
            days_joined_by_or(cron, &path.key("cron"), c);
            Some(Trigger::Cron(Box::new(parsed)))
        }
        (Some(_), Some(_)) => {
            c.error(
                path,
                "`send` has both `at` and `cron`",
                "keep exactly one of them",
            );
            None
        }
        (None, None) => {
            c.missing(
                &path.key("at"),
                "`send` needs `at: \"2026-09-03 08:00\"` or `cron: \"0 8 * * MON\"`",
            );
            None
        }
    }
}

/// Warns when `cron` restricts both the day of the month and the weekday: cron then sends
/// on days matching either, and `0 8 1-7 * MON` meant as "the first Monday" also sends on
/// the 1st to the 7th and on every Monday.
fn days_joined_by_or(cron: &str, path: &FieldPath, c: &mut Checker<'_>) {
    let Some(or) = schedule::days_joined_by_or(cron) else {
        return;
    };
    let (day, weekday) = (&or.day, &or.weekday);
    let msg = format!(
        "cron {cron:?} sends on days {day} of the month and also on every {weekday}: \
         cron joins a day of the month and a weekday with \"or\""
    );
    // `MON#1` only reads for one weekday; a list or range gets the general form.
    let hint = if weekday.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        format!(
            "for \"the first {weekday} of the month\" write \"{}\" ({weekday}#2 the second, \
             {weekday}#L the last), or \"+{weekday}\" for days {day} that are also a \
             {weekday}; to keep both, make them two steps",
            first_of(cron, weekday),
        )
    } else {
        "for \"the first Monday of the month\" write the day as * and the weekday as MON#1 \
         (#2 the second, #L the last), or start the weekday with + for days that match \
         both; to keep both, make them two steps"
            .to_string()
    };
    c.warning(path, msg, hint);
}

/// `cron` with the day of the month made `*` and the weekday `<weekday>#1`.
fn first_of(cron: &str, weekday: &str) -> String {
    let mut fields: Vec<String> = cron.split_whitespace().map(str::to_string).collect();
    let n = fields.len();
    fields[n - 3] = "*".to_string();
    fields[n - 1] = format!("{weekday}#1");
    fields.join(" ")
}

fn text(spec: &SendSpec) -> String {
    match (&spec.at, &spec.cron) {
        (Some(at), _) => format!("at {at}"),
        (_, Some(cron)) => format!("cron {cron}"),
        _ => String::new(),
    }
}
