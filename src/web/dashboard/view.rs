//! What each page shows, gathered from the ledger and the loaded workspace into the
//! values the templates render. Addresses and provider errors are masked here, before
//! anything reaches a template (docs/reliability.md#r16).

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Result;
use chrono_tz::Tz;
use serde::Serialize;

use super::i18n::Lang;
use super::{coverage, href, reason, timeline};
use crate::campaign::{Campaign, DEFAULT_TZ};
use crate::channel::mask_address;
use crate::mask::mask_text;
use crate::store::{
    CampaignRow, CampaignTotals, FailedMessage, MessageState, Millis, OccurrenceFigures, StatusRow,
    Store,
};
use crate::web::WebState;

/// Failed messages listed at most on a campaign's page.
const MAX_FAILURES: u32 = 100;
/// Characters of a provider error shown.
const MAX_ERROR: usize = 300;
/// The states a past occurrence's figures show (`pending`: not sent yet).
pub(super) const FIGURES: [MessageState; 7] = [
    MessageState::Pending,
    MessageState::Sent,
    MessageState::Delivered,
    MessageState::Failed,
    MessageState::Replaced,
    MessageState::Skipped,
    MessageState::Expired,
];

/// A campaign as the pages name it.
#[derive(Debug, Serialize)]
pub(super) struct Summary {
    pub id: String,
    pub href: String,
    pub title: String,
    /// From the loaded file, else as last loaded into the ledger.
    pub status: String,
    pub operator_paused: bool,
    /// The one state the page shows ([`shown_state`]), a key of the page's words.
    pub state: &'static str,
    /// Its badge's CSS class.
    pub badge: &'static str,
    pub in_ledger: bool,
    pub counts: BTreeMap<String, u64>,
    pub total: u64,
    pub last_activity: Option<String>,
}

fn summary(
    id: &str,
    row: Option<&CampaignRow>,
    loaded: Option<&Campaign>,
    paused: &HashSet<String>,
    now: Millis,
) -> Summary {
    let title = loaded
        .map(|c| c.title.clone())
        .or_else(|| row.map(|r| r.title.clone()))
        .unwrap_or_default();
    let status = loaded
        .map(|c| c.status.as_str().to_owned())
        .or_else(|| row.map(|r| r.status.clone()))
        .unwrap_or_else(|| "draft".to_owned());
    let operator_paused = paused.contains(id);
    let state = shown_state(&status, operator_paused, loaded, now);
    Summary {
        id: id.to_owned(),
        href: href(id),
        title,
        status,
        operator_paused,
        state,
        badge: match state {
            "operator_paused" => "paused",
            "ended" => "done",
            other => other,
        },
        in_ledger: row.is_some(),
        counts: MessageState::zero_counts(),
        total: 0,
        last_activity: None,
    }
}

/// One state for a campaign, the first that holds: held by an operator; the file's
/// `paused`, `draft` or `done`; an active campaign whose period has ended or not begun
/// (in its own zone); else active. Staff saw "running" beside "paused", and "running"
/// months after the last send.
fn shown_state(
    status: &str,
    operator_paused: bool,
    loaded: Option<&Campaign>,
    now: Millis,
) -> &'static str {
    if operator_paused {
        return "operator_paused";
    }
    match status {
        "paused" => return "paused",
        "draft" => return "draft",
        "done" => return "done",
        _ => {}
    }
    let today = loaded.and_then(|c| {
        let t = chrono::DateTime::from_timestamp_millis(now)?;
        Some((
            t.with_timezone(&c.calendar.tz).date_naive(),
            &c.calendar.period,
        ))
    });
    match today {
        Some((day, period)) if day > period.end => "ended",
        Some((day, period)) if day < period.start => "not_started",
        _ => "active",
    }
}

fn tz_of(c: Option<&Campaign>) -> Tz {
    c.map_or(DEFAULT_TZ, |c| c.calendar.tz)
}

/// Every campaign in the ledger or the workspace, by id, with its message counts.
pub(super) async fn campaigns(state: &WebState) -> Result<Vec<Summary>> {
    let store = state.store();
    let rows = store.campaign_rows().await?;
    let paused = store.held_campaigns().await?;
    let now = state.now();
    let totals = CampaignTotals::of(&state.counts().await?.value);
    let ws = state.workspace();
    let loaded: &[Campaign] = ws.as_ref().map_or(&[], |w| &w.campaigns);
    let mut ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    ids.extend(loaded.iter().map(|c| c.id.as_str()));
    ids.sort_unstable();
    ids.dedup();
    Ok(ids
        .into_iter()
        .map(|id| {
            let c = loaded.iter().find(|c| c.id == id);
            let mut s = summary(id, rows.iter().find(|r| r.id == id), c, &paused, now);
            if let Some(t) = totals.get(id) {
                s.total = t.counts.values().sum();
                s.counts = t.counts.clone();
                s.last_activity = Some(timeline::local_time(tz_of(c), t.last_activity));
            }
            s
        })
        .collect())
}

fn add_counts<'a>(s: &mut Summary, rows: impl Iterator<Item = &'a StatusRow>) {
    for row in rows {
        for (state, n) in &row.counts {
            *s.counts.entry(state.clone()).or_insert(0) += n;
            s.total += n;
        }
    }
}

/// One (step, channel) of the funnel.
#[derive(Debug, Serialize)]
pub(super) struct Funnel {
    pub step: String,
    /// The step's `title:` while the campaign file gives one, else its id.
    pub name: String,
    pub channel: String,
    pub counts: BTreeMap<String, u64>,
    pub total: u64,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Serialize)]
pub(super) struct Segment {
    pub state: &'static str,
    pub width: String,
}

/// A past occurrence and its figures.
#[derive(Debug, Serialize)]
pub(super) struct Occurrence {
    pub step: String,
    /// The step's `title:` while the campaign file gives one, else its id.
    pub name: String,
    pub n: u32,
    pub at: String,
    pub missed: bool,
    pub counts: BTreeMap<String, u64>,
}

/// Past occurrences listed on one page: a campaign with a frequent cron has thousands.
pub(super) const PAGE_SIZE: usize = 50;

/// One page of the past occurrences, oldest first; by default the latest page.
#[derive(Debug, Serialize)]
pub(super) struct Occurrences {
    pub rows: Vec<Occurrence>,
    /// All past occurrences, on every page.
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    /// The rank of the first and last row shown, from 1.
    pub first: usize,
    pub last: usize,
}

impl Occurrences {
    fn page(mut all: Vec<Occurrence>, asked: Option<usize>) -> Occurrences {
        let total = all.len();
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let page = asked.unwrap_or(pages).clamp(1, pages);
        let start = (page - 1) * PAGE_SIZE;
        let rows: Vec<Occurrence> = all.drain(start.min(total)..).take(PAGE_SIZE).collect();
        Occurrences {
            first: start + 1,
            last: start + rows.len(),
            rows,
            total,
            page,
            pages,
        }
    }
}

/// A failed message, masked.
#[derive(Debug, Serialize)]
pub(super) struct Failure {
    pub at: String,
    pub step: String,
    pub channel: String,
    pub address: String,
    pub attempts: u32,
    pub error: String,
}

/// Everything the campaign page shows, or None when no one knows the campaign.
/// `page` of the past occurrences is shown (1 the oldest; beyond the last, the last).
pub(super) async fn campaign(
    state: &WebState,
    id: &str,
    lang: Lang,
    page: Option<usize>,
) -> Result<Option<tera::Context>> {
    let store = state.store();
    let row = store.campaign_row(id).await?;
    let ws = state.workspace();
    let loaded = ws
        .as_ref()
        .and_then(|w| w.campaigns.iter().find(|c| c.id == id));
    if row.is_none() && loaded.is_none() {
        return Ok(None);
    }
    let paused = store.held_campaigns().await?;
    let kept = state.campaign_figures(id, MAX_FAILURES).await?.value;
    let status = &kept.status;
    let mut header = summary(id, row.as_ref(), loaded, &paused, state.now());
    add_counts(&mut header, status.iter());
    let tz = tz_of(loaded);
    let figures = &kept.occurrences;
    let mut ctx = tera::Context::new();
    if let Some(c) = loaded {
        ctx.insert("timeline", &timeline::build(c, figures, state.now(), lang));
        // The audience file may be gone or being rewritten: the rest of the page stands.
        let coverage = coverage::build(store, c).await.unwrap_or_else(|e| {
            tracing::warn!(campaign = %id, error = %format!("{e:#}"), "no coverage table");
            None
        });
        ctx.insert("coverage", &coverage);
    }
    let names = step_names(loaded);
    let occurrences = Occurrences::page(past(figures, state.now(), tz, &names), page);
    let failed_total = header
        .counts
        .get(MessageState::Failed.as_str())
        .copied()
        .unwrap_or(0);
    let failures: Vec<Failure> = kept.failed.iter().map(|f| failure(f, tz, lang)).collect();
    ctx.insert("audit", &recent_actions(store, id, tz).await?);
    ctx.insert("failures_more", &(failed_total > failures.len() as u64));
    ctx.insert("failures", &failures);
    ctx.insert("failed_total", &failed_total);
    ctx.insert("occurrences", &occurrences);
    let funnels: Vec<Funnel> = status.iter().map(|r| funnel(r, &names)).collect();
    ctx.insert("funnel", &funnels);
    ctx.insert("c", &header);
    ctx.insert("figures", &FIGURES);
    Ok(Some(ctx))
}

/// Step ids with their titles, for the steps of the loaded file that have one; the ledger
/// knows steps only by id, and a step no longer in the file keeps it.
fn step_names(loaded: Option<&Campaign>) -> HashMap<String, String> {
    loaded
        .iter()
        .flat_map(|c| &c.steps)
        .filter_map(|s| Some((s.id.clone(), s.title.clone()?)))
        .collect()
}

/// The name the pages show for step `id`.
fn step_name(names: &HashMap<String, String>, id: &str) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.to_owned())
}

/// The occurrences at or before `now`, with their times in `tz`.
fn past(
    figures: &[OccurrenceFigures],
    now: Millis,
    tz: Tz,
    names: &HashMap<String, String>,
) -> Vec<Occurrence> {
    figures
        .iter()
        .filter(|f| f.at <= now)
        .map(|f| Occurrence {
            at: timeline::local_time(tz, f.at),
            missed: f.missed_at.is_some(),
            step: f.step.clone(),
            name: step_name(names, &f.step),
            n: f.n,
            counts: f.counts.clone(),
        })
        .collect()
}

fn funnel(row: &StatusRow, names: &HashMap<String, String>) -> Funnel {
    let total: u64 = row.counts.values().sum();
    let segments = MessageState::ALL
        .iter()
        .filter_map(|s| {
            let n = row.counts.get(s.as_str()).copied().unwrap_or(0);
            (n > 0).then(|| Segment {
                state: s.as_str(),
                width: format!("{:.2}%", n as f64 * 100.0 / total.max(1) as f64),
            })
        })
        .collect();
    Funnel {
        step: row.step.clone(),
        name: step_name(names, &row.step),
        channel: row.channel.clone(),
        counts: row.counts.clone(),
        total,
        segments,
    }
}

/// An error as staff read it: loa's own texts in Vietnamese on a Vietnamese page (the
/// ledger and `loa report` keep the English), at most [`MAX_ERROR`] characters.
fn shown_error(error: &str, lang: Lang) -> String {
    let text = match lang {
        Lang::Vi => reason::vietnamese(error),
        Lang::En => error.to_owned(),
    };
    text.chars().take(MAX_ERROR).collect()
}

/// One row of the campaign's audit trail.
#[derive(Debug, Serialize)]
pub(super) struct Action {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

/// Audit rows shown at most, newest first.
const MAX_ACTIONS: usize = 10;

async fn recent_actions(store: &Store, id: &str, tz: Tz) -> Result<Vec<Action>> {
    let log = store.audit_log(Some(id)).await?;
    Ok(log
        .into_iter()
        .rev()
        .take(MAX_ACTIONS)
        .map(|r| Action {
            at: timeline::local_time(tz, r.at),
            actor: r.actor,
            action: r.action,
            detail: r.detail.unwrap_or_default(),
        })
        .collect())
}

fn failure(f: &FailedMessage, tz: Tz, lang: Lang) -> Failure {
    let address = f.address.as_deref().unwrap_or_default();
    let error = match (&f.last_code, &f.last_error) {
        (Some(code), Some(e)) if !e.starts_with(code.as_str()) => format!("{code} {e}"),
        (_, Some(e)) => e.clone(),
        (Some(code), None) => code.clone(),
        (None, None) => String::new(),
    };
    Failure {
        at: timeline::local_time(tz, f.updated_at),
        step: f.step.clone(),
        channel: f.channel.clone(),
        address: mask_address(address),
        attempts: f.attempts,
        error: shown_error(&mask_text(&error, address), lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_lose_every_address_they_quote() {
        let masked = mask_text(
            "550 5.1.1 <nguyen.van.a@example.vn>: no such user; also 84912345678",
            "nguyen.van.a@example.vn",
        );
        assert!(!masked.contains("nguyen.van.a@"), "{masked}");
        assert!(!masked.contains("84912345678"), "{masked}");
        assert!(masked.contains("ng***@example.vn"), "{masked}");
        let other = mask_text("rejected: other.person@example.vn", "");
        assert_eq!(other, "rejected: ot***@example.vn");
        assert_eq!(mask_text("timeout after 30 s", ""), "timeout after 30 s");
    }
}
