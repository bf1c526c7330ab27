//! From the file as written to a [`Campaign`]: every rule of docs/campaign-file.md that needs
//! no data.
//!
//! Each check reports into the shared diagnostics and carries on, so one run of
//! `loa validate` shows every problem. Checks that read CSV files and templates live in
//! `data_check`.
//!
//! [`campaign`] walks the file top to bottom, one section per file: `calendar` (time zone,
//! period, quiet hours, skip dates, windows), `audiences`, `channels`, then `step` and `send`
//! for the steps, which may only name what the sections above defined, and `occurrences`
//! for the send times a step's `send` gives. The order of the checks is the order of the
//! diagnostics that share a place in the file, so it is kept as it is.

mod audiences;
mod calendar;
mod channels;
mod occurrences;
mod send;
mod step;

pub(crate) use calendar::DEFAULT_TZ;
pub use channels::parse_duration;
pub(crate) use channels::signing_key;

use std::path::Path;

use chrono::NaiveDate;
use indexmap::IndexMap;

use super::check::{Checker, suggest};
use super::locate::FieldPath;
use super::model::{Campaign, Status};
use super::spec::{ApprovalSpec, CampaignSpec, Number, RangeSpec};
use crate::schedule::DateRange;

/// Checks everything that needs no data, and returns the campaign as far as it is valid so
/// that the data and template checks still run on the rest (one `loa validate` shows every
/// problem): a window, audience, channel or step with an error is left out, a step whose
/// `send` is wrong is kept with a placeholder schedule, an invalid id is empty. After an
/// error the campaign is only for those checks: [`super::Workspace::load`] hands out none.
pub(super) fn campaign(
    spec: CampaignSpec,
    file: &Path,
    templates: &[String],
    c: &mut Checker<'_>,
) -> Campaign {
    let id = campaign_id(spec.campaign.as_deref(), c);
    let title = title(spec.title.as_deref(), c);
    let status = status(spec.status.as_deref(), c);
    let (calendar, period) = calendar::calendar(&spec, c);
    let windows = calendar::windows(&spec.windows, period, c);
    let audiences = audiences::audiences(&spec.audiences, file, c);
    let channels = channels::channels(&spec.channels, c);
    // Names as the file defines them: a section with its own error is not also "unknown"
    // at every step that names it.
    let names = Names {
        audiences: spec.audiences.keys().map(String::as_str).collect(),
        channels: spec.channels.keys().map(String::as_str).collect(),
        windows: spec.windows.keys().map(String::as_str).collect(),
        templates: templates.iter().map(String::as_str).collect(),
    };
    // Occurrences are only checked against a period the file gave.
    let checked = period.map(|_| &calendar);
    let steps = step::steps(&spec.steps, &names, &windows, period, checked, c);
    let windows = with_broken_windows(windows, &spec.windows);
    let second_approver_above = second_above(spec.approval.as_ref(), c);
    Campaign {
        id: id.unwrap_or_default(),
        title,
        status,
        file: file.to_path_buf(),
        calendar,
        windows,
        audiences,
        channels,
        messages: spec.messages,
        steps,
        second_approver_above,
    }
}

/// `approval: { second_above: N }`: N, a whole number of recipients (0 or more).
fn second_above(spec: Option<&ApprovalSpec>, c: &mut Checker<'_>) -> Option<u64> {
    let written = spec?.second_above.as_ref()?;
    let n = match written {
        Number::Text(t) => t.trim().parse().map_or(written.clone(), Number::Integer),
        n => n.clone(),
    };
    let problem = match &n {
        Number::Integer(n) if *n >= 0 => return Some(*n as u64),
        Number::Integer(n) => format!("second_above {n} is negative"),
        Number::Decimal(n) => format!("second_above {n} is not a whole number"),
        Number::Text(t) => format!("second_above {t:?} is not a number"),
    };
    c.error(
        &FieldPath::root().key("approval").key("second_above"),
        problem,
        "a whole number of recipients, e.g. `approval: { second_above: 100000 }`: a step \
         reaching more than that needs a second, different approver (docs/approval.md)",
    );
    None
}

/// `windows` with each window of the file that has an error added back by name, over an
/// empty range at the earliest date: the template lint then does not also call it
/// missing. Only a campaign with an error has one, and such a campaign is never used.
fn with_broken_windows(
    mut windows: IndexMap<String, DateRange>,
    specs: &IndexMap<String, RangeSpec>,
) -> IndexMap<String, DateRange> {
    for name in specs.keys() {
        windows.entry(name.clone()).or_insert(DateRange {
            start: NaiveDate::MIN,
            end: NaiveDate::MIN,
        });
    }
    windows
}

/// What a step may refer to by name.
struct Names<'a> {
    audiences: Vec<&'a str>,
    channels: Vec<&'a str>,
    windows: Vec<&'a str>,
    templates: Vec<&'a str>,
}

fn campaign_id(id: Option<&str>, c: &mut Checker<'_>) -> Option<String> {
    let path = FieldPath::root().key("campaign");
    let Some(id) = id else {
        c.missing(
            &path,
            "add `campaign: bhyt-hssv-2026-2027` (lower-case letters, digits and dashes)",
        );
        return None;
    };
    if !is_slug(id) {
        c.error(
            &path,
            format!("campaign id {id:?} is not valid"),
            "use lower-case letters a-z, digits and dashes",
        );
        return None;
    }
    Some(id.to_string())
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn title(title: Option<&str>, c: &mut Checker<'_>) -> String {
    let Some(title) = title else {
        c.missing(
            &FieldPath::root().key("title"),
            "add `title: \"…\"`, shown to staff in tables and the dashboard",
        );
        return String::new();
    };
    title.to_string()
}

fn status(s: Option<&str>, c: &mut Checker<'_>) -> Status {
    let Some(s) = s else { return Status::Draft };
    Status::parse(s).unwrap_or_else(|| {
        let hint = suggest(s, ["draft", "active", "paused", "done"]);
        c.error(
            &FieldPath::root().key("status"),
            format!("unknown status {s:?}"),
            hint,
        );
        Status::Draft
    })
}

/// The name `value` at `path`, which must be one of the `known` names of a `what`.
fn reference(
    value: Option<&str>,
    path: &FieldPath,
    what: &str,
    known: &[&str],
    c: &mut Checker<'_>,
) -> Option<String> {
    let Some(v) = value else {
        c.missing(
            path,
            format!("name one of the {what}s: {}", known.join(", ")),
        );
        return None;
    };
    if known.contains(&v) {
        return Some(v.to_string());
    }
    c.error(
        path,
        format!("unknown {what} {v:?}"),
        suggest(v, known.iter().copied()),
    );
    None
}
