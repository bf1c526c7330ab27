//! The campaign's calendar: time zone, period, quiet hours, skip dates and named windows.
//!
//! Every date and time of the file is read here; steps then only name a window.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use chrono_tz::Tz;
use indexmap::IndexMap;

use crate::campaign::check::{self, Checker};
use crate::campaign::locate::FieldPath;
use crate::campaign::spec::{CampaignSpec, QuietSpec, RangeSpec};
use crate::schedule::{self, Calendar, DateRange, QuietHours};

/// The product's home zone (docs/campaign-file.md#timezone: UTC+7, no daylight saving).
pub(crate) const DEFAULT_TZ: Tz = chrono_tz::Asia::Ho_Chi_Minh;

/// The calendar the steps are planned in, and the period when the file gave a valid one.
/// Without one the calendar holds an empty period at the earliest date, which the
/// campaign never reaches: an error has been reported and the campaign is not used.
pub(super) fn calendar(spec: &CampaignSpec, c: &mut Checker<'_>) -> (Calendar, Option<DateRange>) {
    let tz = timezone(spec.timezone.as_deref(), c);
    let period = match &spec.period {
        Some(p) => range(p, &FieldPath::root().key("period"), c),
        None => {
            c.missing(
                &FieldPath::root().key("period"),
                "add `period: { start: 2026-08-01, end: 2026-12-31 }`",
            );
            None
        }
    };
    let quiet_hours = spec.quiet_hours.as_ref().and_then(|q| quiet(q, c));
    let skip_dates = skip_dates(&spec.skip_dates, period, c);
    let calendar = Calendar {
        tz: tz.unwrap_or(DEFAULT_TZ),
        period: period.unwrap_or(DateRange {
            start: NaiveDate::MIN,
            end: NaiveDate::MIN,
        }),
        quiet_hours,
        skip_dates,
    };
    (calendar, period)
}

fn timezone(s: Option<&str>, c: &mut Checker<'_>) -> Option<Tz> {
    let Some(s) = s else { return Some(DEFAULT_TZ) };
    match s.parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            let hint = match chrono_tz::TZ_VARIANTS
                .iter()
                .map(|t| t.name())
                .min_by_key(|n| check::edit_distance(s, n))
            {
                Some(best) if check::edit_distance(s, best) <= 3 => {
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

fn quiet(q: &QuietSpec, c: &mut Checker<'_>) -> Option<QuietHours> {
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

pub(super) fn windows(
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
