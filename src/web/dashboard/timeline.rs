//! The campaign's timeline, from the first day of its period to the last: its windows as
//! bands, each step's occurrences as marks (past ones with their delivery figures), month
//! ticks and today's line — as percentages for the page's CSS to place.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate};
use chrono_tz::Tz;
use serde::Serialize;

use super::i18n::Lang;
use crate::campaign::Campaign;
use crate::schedule::{self, resolve_local};
use crate::store::{MessageState, Millis, OccurrenceFigures};

/// What the template draws.
#[derive(Debug, Serialize)]
pub(super) struct Timeline {
    pub start: String,
    pub end: String,
    pub bands: Vec<Band>,
    /// The windows' track height (one line per window), CSS.
    pub bands_height: String,
    pub rows: Vec<Row>,
    pub ticks: Vec<Tick>,
    /// Where today is, when inside the period.
    pub now: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct Band {
    pub name: String,
    pub left: String,
    pub width: String,
    pub dates: String,
    /// Its line in the windows' track, CSS.
    pub top: String,
}

/// One step's line of marks.
#[derive(Debug, Serialize)]
pub(super) struct Row {
    pub step: String,
    /// What the line is labelled with: the step's `title:`, else its id.
    pub name: String,
    pub marks: Vec<Mark>,
}

#[derive(Debug, Serialize)]
pub(super) struct Mark {
    pub left: String,
    pub past: bool,
    /// Date and time, and for a past occurrence its figures.
    pub label: String,
}

#[derive(Debug, Serialize)]
pub(super) struct Tick {
    pub left: String,
    pub label: String,
}

/// The period as instants: its first midnight and the midnight after its last day.
struct Span {
    start: Millis,
    end: Millis,
}

impl Span {
    fn of(tz: Tz, first: NaiveDate, last: NaiveDate) -> Span {
        let start = resolve_local(tz, first.and_time(chrono::NaiveTime::MIN));
        let after = last.succ_opt().unwrap_or(last);
        let end = resolve_local(tz, after.and_time(chrono::NaiveTime::MIN));
        Span {
            start: start.timestamp_millis(),
            end: end.timestamp_millis().max(start.timestamp_millis() + 1),
        }
    }

    /// `at` as a percentage of the span, clamped to it.
    fn percent(&self, at: Millis) -> f64 {
        let share = (at - self.start) as f64 / (self.end - self.start) as f64;
        (share * 100.0).clamp(0.0, 100.0)
    }
}

fn pct(value: f64) -> String {
    format!("{value:.2}%")
}

/// `at` as a local date and time, `dd/mm/yyyy HH:MM`.
pub(super) fn local_time(tz: Tz, at: Millis) -> String {
    DateTime::from_timestamp_millis(at)
        .map(|t| t.with_timezone(&tz).format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// Marks at most on a step's line: occurrences closer than 1/`MAX_MARKS` of the period
/// share one mark (labelled with their first and last time, their number and figures), so
/// a cron every five minutes draws a bounded line, not a hundred thousand dots.
const MAX_MARKS: f64 = 400.0;

/// The timeline of `campaign` at `now`; `figures` are the ledger's occurrences, labelled
/// in `lang`.
pub(super) fn build(
    campaign: &Campaign,
    figures: &[OccurrenceFigures],
    now: Millis,
    lang: Lang,
) -> Timeline {
    let cal = &campaign.calendar;
    let span = Span::of(cal.tz, cal.period.start, cal.period.end);
    let bands = bands(campaign, &span);
    Timeline {
        bands_height: format!("{:.1}rem", bands.len() as f64 * 1.3 + 0.3),
        start: cal.period.start.format("%d/%m/%Y").to_string(),
        end: cal.period.end.format("%d/%m/%Y").to_string(),
        bands,
        rows: rows(campaign, figures, &span, now, lang),
        ticks: ticks(cal.tz, cal.period.start, cal.period.end, &span),
        now: (span.start..span.end)
            .contains(&now)
            .then(|| pct(span.percent(now))),
    }
}

/// The campaign's windows, one line each.
fn bands(campaign: &Campaign, span: &Span) -> Vec<Band> {
    let tz = campaign.calendar.tz;
    campaign
        .windows
        .iter()
        .enumerate()
        .map(|(i, (name, range))| {
            let w = Span::of(tz, range.start, range.end);
            let left = span.percent(w.start);
            Band {
                name: name.clone(),
                left: pct(left),
                width: pct((span.percent(w.end) - left).max(0.5)),
                dates: format!(
                    "{} – {}",
                    range.start.format("%d/%m"),
                    range.end.format("%d/%m")
                ),
                top: format!("{:.1}rem", i as f64 * 1.3 + 0.2),
            }
        })
        .collect()
}

/// Each step's occurrences as planned, past ones labelled with the ledger's figures; close
/// ones share a mark ([`MAX_MARKS`]).
fn rows(
    campaign: &Campaign,
    figures: &[OccurrenceFigures],
    span: &Span,
    now: Millis,
    lang: Lang,
) -> Vec<Row> {
    let ledger: HashMap<(&str, u32), &OccurrenceFigures> = figures
        .iter()
        .map(|f| ((f.step.as_str(), f.n), f))
        .collect();
    campaign
        .steps
        .iter()
        .map(|step| {
            // A step whose occurrences cannot be computed was refused by validation.
            let kept: Vec<(u32, Millis)> =
                schedule::occurrences(&campaign.calendar, &step.schedule)
                    .map(|o| o.kept)
                    .unwrap_or_default()
                    .iter()
                    .map(|o| (o.n, o.at.timestamp_millis()))
                    .collect();
            let marks = kept
                .chunk_by(|a, b| slot(span, a.1) == slot(span, b.1))
                .map(|group| {
                    let found = group
                        .iter()
                        .filter_map(|(n, _)| ledger.get(&(&*step.id, *n)));
                    mark(campaign.calendar.tz, group, found, span, now, lang)
                })
                .collect();
            Row {
                step: step.id.clone(),
                name: step.name().to_string(),
                marks,
            }
        })
        .collect()
}

/// Which of the [`MAX_MARKS`] places along the period `at` falls in.
fn slot(span: &Span, at: Millis) -> u64 {
    (span.percent(at) / 100.0 * MAX_MARKS) as u64
}

/// One mark for `group` (consecutive occurrences, at least one), with the figures `found`
/// for them in the ledger.
fn mark<'a>(
    tz: Tz,
    group: &[(u32, Millis)],
    found: impl Iterator<Item = &'a &'a OccurrenceFigures>,
    span: &Span,
    now: Millis,
    lang: Lang,
) -> Mark {
    let (first, last) = (group[0].1, group[group.len() - 1].1);
    let mut text = local_time(tz, first);
    if group.len() > 1 {
        let many = lang.number(group.len() as u64);
        let times = if lang == Lang::Vi { "lần" } else { "sends" };
        text = format!("{text} – {} · {many} {times}", local_time(tz, last));
    }
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut any = false;
    for f in found {
        any = true;
        for (state, n) in &f.counts {
            *counts.entry(state.clone()).or_insert(0) += n;
        }
    }
    if any {
        text.push_str(" — ");
        text.push_str(&summary(&counts, lang));
    }
    Mark {
        left: pct(span.percent(first)),
        past: first <= now,
        label: text,
    }
}

/// `đã gửi 3 · đã nhận 2 · lỗi 1`, states with no message left out.
pub(super) fn summary(counts: &BTreeMap<String, u64>, lang: Lang) -> String {
    let parts: Vec<String> = [
        MessageState::Sent,
        MessageState::Delivered,
        MessageState::Failed,
        MessageState::Replaced,
        MessageState::Skipped,
        MessageState::Expired,
    ]
    .iter()
    .filter_map(|s| {
        let n = counts.get(s.as_str()).copied().unwrap_or(0);
        (n > 0).then(|| format!("{} {}", lang.state(*s), lang.number(n)))
    })
    .collect();
    parts.join(" · ")
}

/// The first of every month inside the period.
fn ticks(tz: Tz, first: NaiveDate, last: NaiveDate, span: &Span) -> Vec<Tick> {
    let mut out = Vec::new();
    let mut month = NaiveDate::from_ymd_opt(first.year(), first.month(), 1);
    while let Some(day) = month.filter(|d| *d <= last) {
        if day >= first {
            let at = resolve_local(tz, day.and_time(chrono::NaiveTime::MIN)).timestamp_millis();
            out.push(Tick {
                left: pct(span.percent(at)),
                label: day.format("%m/%Y").to_string(),
            });
        }
        month = day.checked_add_months(chrono::Months::new(1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_places_instants_as_clamped_percentages() {
        let tz = crate::campaign::DEFAULT_TZ;
        let first = NaiveDate::from_ymd_opt(2026, 8, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(2026, 8, 10).unwrap();
        let span = Span::of(tz, first, last);
        let day = 86_400_000;
        assert_eq!(span.percent(span.start), 0.0);
        assert_eq!(pct(span.percent(span.start + 5 * day)), "50.00%");
        assert_eq!(span.percent(span.end + day), 100.0);
        assert_eq!(span.percent(span.start - day), 0.0);
        let t = ticks(tz, first, last, &span);
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].left.as_str(), t[0].label.as_str()),
            ("0.00%", "08/2026")
        );
        assert_eq!(local_time(tz, span.start), "01/08/2026 00:00");
    }

    #[test]
    fn a_year_of_five_minute_occurrences_draws_a_bounded_line() {
        let tz = crate::campaign::DEFAULT_TZ;
        let first = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(2027, 8, 31).unwrap();
        let span = Span::of(tz, first, last);
        let every = 5 * 60_000;
        let times: Vec<(u32, Millis)> = (0..105_120u32)
            .map(|i| (i + 1, span.start + i64::from(i) * every))
            .collect();
        let groups: Vec<_> = times
            .chunk_by(|a, b| slot(&span, a.1) == slot(&span, b.1))
            .collect();
        assert!(groups.len() <= MAX_MARKS as usize + 1, "{}", groups.len());
        assert_eq!(groups.iter().map(|g| g.len()).sum::<usize>(), times.len());
        let m = mark(
            tz,
            groups[0],
            std::iter::empty(),
            &span,
            span.start,
            Lang::Vi,
        );
        assert!(
            m.label.starts_with("01/09/2026 00:00 – 01/09/2026 "),
            "{}",
            m.label
        );
        assert!(m.label.ends_with(" lần"), "{}", m.label);
    }
}
