//! From the file as written to a [`Campaign`]: every rule of docs/campaign-file.md that needs
//! no data.
//!
//! Each check reports into the shared diagnostics and carries on, so one run of
//! `loa validate` shows every problem. Checks that read CSV files and templates live in
//! `data_check`.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use chrono_tz::Tz;
use indexmap::IndexMap;

use super::check::{Checker, suggest};
use super::locate::FieldPath;
use super::model::{Campaign, Status, Step};
use super::spec::{CampaignSpec, RangeSpec, SendSpec, StepSpec};
use crate::schedule::{self, Calendar, DateRange, QuietHours, StepSchedule, Trigger};

/// The product's home zone (docs/campaign-file.md#timezone: UTC+7, no daylight saving).
pub const DEFAULT_TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// Checks everything that needs no data; `None` when an error makes the campaign unusable.
pub fn campaign(
    spec: CampaignSpec,
    file: &Path,
    templates: &[String],
    c: &mut Checker<'_>,
) -> Option<Campaign> {
    let root = FieldPath::root();
    let errors_before = c.diags.error_count();
    let id = campaign_id(spec.campaign.as_deref(), c);
    let title = spec.title.unwrap_or_else(|| {
        c.missing(
            &root.key("title"),
            "add `title: \"…\"`, shown to staff in tables and the dashboard",
        );
        String::new()
    });
    let status = status(spec.status.as_deref(), c);
    let tz = timezone(spec.timezone.as_deref(), c);
    let period = match &spec.period {
        Some(p) => range(p, &root.key("period"), c),
        None => {
            c.missing(
                &root.key("period"),
                "add `period: { start: 2026-08-01, end: 2026-12-31 }`",
            );
            None
        }
    };
    let quiet_hours = spec.quiet_hours.as_ref().and_then(|q| quiet(q, c));
    let skip_dates = skip_dates(&spec.skip_dates, period, c);
    let windows = windows(&spec.windows, period, c);
    let audiences = super::validate_channels::audiences(&spec.audiences, file, c);
    let channels = super::validate_channels::channels(&spec.channels, c);
    let calendar = Calendar {
        tz: tz.unwrap_or(DEFAULT_TZ),
        period: period.unwrap_or(DateRange {
            start: NaiveDate::MIN,
            end: NaiveDate::MIN,
        }),
        quiet_hours,
        skip_dates,
    };
    let names = Names {
        audiences: audiences.keys().map(String::as_str).collect(),
        channels: channels.keys().map(String::as_str).collect(),
        windows: windows.keys().map(String::as_str).collect(),
        templates: templates.iter().map(String::as_str).collect(),
    };
    let checked = period.map(|_| &calendar);
    let steps = steps(&spec.steps, &names, &windows, period, checked, c);
    if c.diags.error_count() > errors_before {
        return None;
    }
    Some(Campaign {
        id: id?,
        title,
        status,
        file: file.to_path_buf(),
        calendar,
        windows,
        audiences,
        channels,
        messages: spec.messages,
        steps,
    })
}

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

fn timezone(s: Option<&str>, c: &mut Checker<'_>) -> Option<Tz> {
    let Some(s) = s else { return Some(DEFAULT_TZ) };
    match s.parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            let hint = match chrono_tz::TZ_VARIANTS
                .iter()
                .map(|t| t.name())
                .min_by_key(|n| super::check::edit_distance(s, n))
            {
                Some(best) if super::check::edit_distance(s, best) <= 3 => {
                    format!("did you mean `{best}`? Vietnam is Asia/Ho_Chi_Minh")
                }
                _ => "use an IANA time zone name; Vietnam is Asia/Ho_Chi_Minh".to_string(),
            };
            c.error(
                &FieldPath::root().key("timezone"),
                format!("unknown time zone {s:?}"),
                hint,
            );
            None
        }
    }
}

fn date(s: Option<&str>, path: &FieldPath, c: &mut Checker<'_>) -> Option<NaiveDate> {
    let Some(s) = s else {
        c.missing(path, "write a date as 2026-09-04");
        return None;
    };
    schedule::parse_date(s)
        .map_err(|e| {
            c.error(
                path,
                format!("bad date {s:?}: {e}"),
                "write a date as 2026-09-04 (or 04/09/2026)",
            )
        })
        .ok()
}

fn range(r: &RangeSpec, path: &FieldPath, c: &mut Checker<'_>) -> Option<DateRange> {
    let start = date(r.start.as_deref(), &path.key("start"), c);
    let end = date(r.end.as_deref(), &path.key("end"), c);
    let (start, end) = (start?, end?);
    if end < start {
        c.error(
            &path.key("end"),
            format!("ends ({end}) before it starts ({start})"),
            "swap start and end",
        );
        return None;
    }
    Some(DateRange { start, end })
}

fn quiet(q: &super::spec::QuietSpec, c: &mut Checker<'_>) -> Option<QuietHours> {
    let path = FieldPath::root().key("quiet_hours");
    let from = time_of_day(q.from.as_deref(), &path.key("from"), c);
    let to = time_of_day(q.to.as_deref(), &path.key("to"), c);
    let (from, to) = (from?, to?);
    if from == to {
        c.error(
            &path.key("to"),
            "quiet hours start and end at the same time",
            "remove quiet_hours or give two different times",
        );
        return None;
    }
    Some(QuietHours { from, to })
}

fn time_of_day(
    v: Option<&str>,
    path: &FieldPath,
    c: &mut Checker<'_>,
) -> Option<chrono::NaiveTime> {
    let Some(v) = v else {
        c.missing(
            path,
            "write quiet hours as { from: \"21:00\", to: \"07:00\" }",
        );
        return None;
    };
    schedule::parse_time_of_day(v)
        .map_err(|e| {
            c.error(
                path,
                format!("bad time: {e}"),
                "write a time of day as \"21:00\"",
            )
        })
        .ok()
}

fn skip_dates(
    list: &[String],
    period: Option<DateRange>,
    c: &mut Checker<'_>,
) -> BTreeSet<NaiveDate> {
    let path = FieldPath::root().key("skip_dates");
    let mut out = BTreeSet::new();
    for (i, s) in list.iter().enumerate() {
        let Some(d) = date(Some(s), &path.index(i), c) else {
            continue;
        };
        if let Some(p) = period
            && (d < p.start || d > p.end)
        {
            c.warning(
                &path.index(i),
                format!("{d} is outside the period"),
                "it has no effect; remove it",
            );
        }
        out.insert(d);
    }
    out
}

fn windows(
    specs: &IndexMap<String, RangeSpec>,
    period: Option<DateRange>,
    c: &mut Checker<'_>,
) -> IndexMap<String, DateRange> {
    let mut out = IndexMap::new();
    for (name, spec) in specs {
        let path = FieldPath::root().key("windows").key(name.as_str());
        let Some(w) = range(spec, &path, c) else {
            continue;
        };
        if let Some(p) = period
            && (w.start < p.start || w.end > p.end)
        {
            let msg = format!(
                "window {name} ({} – {}) is not inside the period ({} – {})",
                w.start, w.end, p.start, p.end
            );
            c.error(
                &path,
                msg,
                "windows are named parts of the period; move it inside or widen the period",
            );
            continue;
        }
        out.insert(name.clone(), w);
    }
    out
}

fn steps(
    specs: &[StepSpec],
    names: &Names<'_>,
    windows: &IndexMap<String, DateRange>,
    period: Option<DateRange>,
    calendar: Option<&Calendar>,
    c: &mut Checker<'_>,
) -> Vec<Step> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let path = FieldPath::root().key("steps").index(i);
        if let Some(id) = &spec.id
            && !seen.insert(id.clone())
        {
            c.error(
                &path.key("id"),
                format!("step id {id:?} is used twice"),
                "give every step its own id",
            );
        }
        if let Some(step) = step(spec, &path, names, windows, period, c) {
            if let Some(cal) = calendar {
                super::validate_schedule::check(&step, &path.key("send"), cal, c);
            }
            out.push(step);
        }
    }
    if specs.is_empty() {
        c.warning(
            &FieldPath::root(),
            "the campaign has no steps",
            "add `steps:`; nothing will be sent",
        );
    }
    out
}

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

fn step(
    spec: &StepSpec,
    path: &FieldPath,
    names: &Names<'_>,
    windows: &IndexMap<String, DateRange>,
    period: Option<DateRange>,
    c: &mut Checker<'_>,
) -> Option<Step> {
    let id = match &spec.id {
        Some(id) if is_slug(&id.replace('_', "-")) => Some(id.clone()),
        Some(id) => {
            c.error(
                &path.key("id"),
                format!("step id {id:?} is not valid"),
                "use lower-case letters, digits, - and _",
            );
            None
        }
        None => {
            c.missing(&path.key("id"), "add `id: weekly-reminder`");
            None
        }
    };
    let audience = reference(
        spec.audience.as_deref(),
        &path.key("audience"),
        "audience",
        &names.audiences,
        c,
    );
    let channels = step_channels(spec, path, names, c);
    let fallback = spec.fallback.as_deref().and_then(|f| {
        let f = reference(
            Some(f),
            &path.key("fallback"),
            "channel",
            &names.channels,
            c,
        )?;
        if channels.contains(&f) {
            c.error(
                &path.key("fallback"),
                "the fallback is also one of the step's channels",
                "pick another channel",
            );
        }
        Some(f)
    });
    let template = reference(
        spec.template.as_deref(),
        &path.key("template"),
        "template",
        &names.templates,
        c,
    );
    let (schedule, within, send_text) = send(
        spec.send.as_ref(),
        &path.key("send"),
        names,
        windows,
        period,
        c,
    )?;
    Some(Step {
        id: id?,
        audience: audience?,
        condition: spec.condition.clone(),
        channels,
        fallback,
        template: template?,
        to: spec.to.clone(),
        schedule,
        within,
        send_text,
    })
}

fn step_channels(
    spec: &StepSpec,
    path: &FieldPath,
    names: &Names<'_>,
    c: &mut Checker<'_>,
) -> Vec<String> {
    let Some(list) = spec.channel.as_ref() else {
        c.missing(
            &path.key("channel"),
            format!("name a channel: {}", names.channels.join(", ")),
        );
        return Vec::new();
    };
    let list = match list {
        super::spec::OneOrMany::One(s) => vec![(path.key("channel"), s.as_str())],
        super::spec::OneOrMany::Many(v) => v
            .iter()
            .enumerate()
            .map(|(i, s)| (path.key("channel").index(i), s.as_str()))
            .collect(),
    };
    list.into_iter()
        .filter_map(|(p, name)| reference(Some(name), &p, "channel", &names.channels, c))
        .collect()
}

type Send = (StepSchedule, Option<String>, String);

fn send(
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
    let trigger = match (&spec.at, &spec.cron) {
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
        (None, Some(cron)) => schedule::parse_cron(cron)
            .map_err(|e| {
                c.error(
                    &path.key("cron"),
                    format!("bad cron expression {cron:?}: {e}"),
                    e.hint.clone(),
                )
            })
            .ok()
            .map(|cr| Trigger::Cron(Box::new(cr))),
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
    };
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
    let text = match (&spec.at, &spec.cron) {
        (Some(at), _) => format!("at {at}"),
        (_, Some(cron)) => format!("cron {cron}"),
        _ => String::new(),
    };
    Some((
        StepSchedule {
            trigger: trigger?,
            window: window?,
            max: spec.max,
        },
        spec.within.clone(),
        text,
    ))
}
