//! `loa plan FILE`: every occurrence with its step, channel and recipient count (docs/cli.md#plan).
//!
//! Occurrences come from the pure schedule functions; recipient counts from one streamed
//! pass over each audience with today's data. The JSON form lists only what will be sent;
//! the table also shows what was moved or dropped, and why.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveDate, TimeZone};
use chrono_tz::Tz;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::Global;
use super::format::{local_time, thousands};
use crate::campaign::count::{StepOccurrences, count_matching};
use crate::campaign::{Campaign, Step, Workspace};
use crate::schedule::{self, DropReason, Dropped, Move, Occurrence};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Ics,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign file.
    pub file: PathBuf,
    /// First day to list (default: the start of the period).
    #[arg(long, value_parser = parse_day)]
    pub from: Option<NaiveDate>,
    /// Last day to list, inclusive (default: the end of the period).
    #[arg(long, value_parser = parse_day)]
    pub to: Option<NaiveDate>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    schedule::parse_date(s)
}

/// One line of the plan: an occurrence on one channel, or a dropped occurrence.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub at: DateTime<Tz>,
    pub step: String,
    /// The step's `title:`, shown in place of (table: above) its id.
    pub title: Option<String>,
    pub channel: String,
    pub audience: String,
    pub recipients: u64,
    pub n: Option<u32>,
    pub note: String,
    pub dropped: bool,
}

/// The machine-readable form (docs/cli.md#plan).
#[derive(Debug, Serialize)]
pub(super) struct JsonEntry<'a> {
    pub at: String,
    pub step: &'a str,
    /// The step's `title:`, null when it has none.
    pub title: Option<&'a str>,
    pub channel: &'a str,
    pub audience: &'a str,
    pub recipients: u64,
    /// On a webhook (SMS) channel: the segments of one message (docs/cli.md#plan-sms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments_per_message: Option<usize>,
    /// On a webhook (SMS) channel: the segments of all the occurrence's messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<u64>,
}

pub(super) fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let Some(ws) = super::load_campaign_file(global, &args.file)? else {
        return Ok(ExitCode::FAILURE);
    };
    let campaign = &ws.campaigns[0];
    let entries = entries(&ws, campaign, args.from, args.to)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let sms = super::plan_sms::lines(&ws, campaign, &entries)?;
            let json: Vec<JsonEntry<'_>> = entries
                .iter()
                .filter(|e| !e.dropped)
                .map(|e| to_json(e, super::plan_sms::per_message(&sms, e)))
                .collect();
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out)?;
        }
        Format::Table => {
            let sms = super::plan_sms::lines(&ws, campaign, &entries)?;
            write!(out, "{}", table(campaign, &entries))?;
            write!(out, "{}", super::plan_sms::table(&sms))?;
        }
        Format::Ics => write!(out, "{}", super::plan_ics::calendar(campaign, &entries))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `e` as JSON; `sms` is the segments of one message when its channel is a webhook.
fn to_json(e: &Entry, sms: Option<usize>) -> JsonEntry<'_> {
    JsonEntry {
        at: e.at.to_rfc3339(),
        step: &e.step,
        title: e.title.as_deref(),
        channel: &e.channel,
        audience: &e.audience,
        recipients: e.recipients,
        segments_per_message: sms,
        segments: sms.map(|n| n as u64 * e.recipients),
    }
}

/// All plan entries of `campaign` between `from` and `to` (local days, inclusive), by time.
pub(super) fn entries(
    ws: &Workspace,
    campaign: &Campaign,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Vec<Entry>> {
    let tz = campaign.calendar.tz;
    let from = from.map(|d| day_start(tz, d)).transpose()?;
    let to = to
        .and_then(|d| d.succ_opt())
        .map(|d| day_start(tz, d))
        .transpose()?;
    let inside = |t: &DateTime<Tz>| from.is_none_or(|f| *t >= f) && to.is_none_or(|e| *t < e);
    let mut entries = Vec::new();
    let mut occurrences = StepOccurrences::new();
    for step in &campaign.steps {
        step_entries(campaign, step, &inside, &mut entries, &mut occurrences)?;
    }
    let counts = count(ws, campaign, &occurrences)?;
    for e in entries.iter_mut().filter(|e| !e.dropped) {
        let key = (e.step.clone(), e.n.unwrap_or_default());
        e.recipients = counts.get(&key).copied().unwrap_or(0);
    }
    let order: HashMap<&str, usize> = campaign
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    entries.sort_by_key(|e| (e.at, order.get(e.step.as_str()).copied(), e.dropped));
    Ok(entries)
}

/// The entries of one step inside the range: one per kept occurrence and channel (recipients
/// counted later, for every step at once), one per dropped occurrence; the kept ones are
/// also noted in `occurrences` for the count.
fn step_entries(
    campaign: &Campaign,
    step: &Step,
    inside: &impl Fn(&DateTime<Tz>) -> bool,
    entries: &mut Vec<Entry>,
    occurrences: &mut StepOccurrences,
) -> Result<()> {
    let occ = schedule::occurrences(&campaign.calendar, &step.schedule)
        .with_context(|| format!("step {}", step.id))?;
    for o in occ.kept.iter().filter(|o| inside(&o.at)) {
        occurrences
            .entry(step.id.clone())
            .or_default()
            .push((o.at, o.n));
        for ch in &step.channels {
            entries.push(Entry {
                at: o.at,
                step: step.id.clone(),
                title: step.title.clone(),
                channel: ch.clone(),
                audience: step.audience.clone(),
                recipients: 0,
                n: Some(o.n),
                note: move_note(o),
                dropped: false,
            });
        }
    }
    for d in occ.dropped.iter().filter(|d| inside(&d.nominal)) {
        entries.push(Entry {
            at: d.nominal,
            step: step.id.clone(),
            title: step.title.clone(),
            channel: step.channels.join(", "),
            audience: step.audience.clone(),
            recipients: 0,
            n: None,
            note: drop_note(d),
            dropped: true,
        });
    }
    Ok(())
}

/// Counts with a spinner on stderr when it is a terminal: over millions of rows the count
/// takes tens of seconds, which should not pass in silence; piped or logged, stderr gets
/// nothing.
fn count(
    ws: &Workspace,
    campaign: &Campaign,
    at: &StepOccurrences,
) -> Result<HashMap<(String, u32), u64>> {
    let bar = match std::io::stderr().is_terminal() {
        true => ProgressBar::new_spinner(),
        false => ProgressBar::hidden(),
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} đang đếm người nhận… {msg} dòng ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let counts = count_matching(campaign, &ws.renderer, at, |rows| {
        bar.set_message(thousands(rows));
    });
    bar.finish_and_clear();
    counts
}

fn day_start(tz: Tz, d: NaiveDate) -> Result<DateTime<Tz>> {
    match tz
        .from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
        .earliest()
    {
        Some(t) => Ok(t),
        None => bail!("{d} has no midnight in {tz}"),
    }
}

/// "dời từ T2 31/08/2026 08:00 (ngày nghỉ)": where an occurrence was due, and why it moved.
fn move_note(o: &Occurrence) -> String {
    if o.moves.is_empty() {
        return String::new();
    }
    let why: Vec<&str> = o
        .moves
        .iter()
        .map(|m| match m {
            Move::SkipDate(_) => "ngày nghỉ",
            Move::QuietHours => "giờ yên lặng",
        })
        .fold(Vec::new(), |mut v, w| {
            if !v.contains(&w) {
                v.push(w);
            }
            v
        });
    format!("dời từ {} ({})", local_time(&o.nominal), why.join(", "))
}

fn drop_note(d: &Dropped) -> String {
    let why = match d.reason {
        DropReason::LeftWindow => "ra ngoài khoảng gửi",
        DropReason::Duplicate => "trùng một lần gửi khác",
        DropReason::OverMax => "đã đủ số lần gửi (max)",
    };
    match &d.moved_to {
        Some(t) => format!("bỏ: {why} (lẽ ra dời tới {})", local_time(t)),
        None => format!("bỏ: {why}"),
    }
}

/// The step as the table shows it: its title above its id (the name `preview` takes).
fn step_cell(e: &Entry) -> String {
    match &e.title {
        Some(title) => format!("{title}\n{}", e.step),
        None => e.step.clone(),
    }
}

fn table(campaign: &Campaign, entries: &[Entry]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "Thời điểm",
        "Bước",
        "Lần",
        "Kênh",
        "Đối tượng",
        "Người nhận",
        "Ghi chú",
    ]);
    for e in entries {
        let n = e.n.map(|n| n.to_string()).unwrap_or_default();
        let recipients = if e.dropped {
            String::new()
        } else {
            thousands(e.recipients)
        };
        t.add_row(vec![
            Cell::new(local_time(&e.at)),
            Cell::new(step_cell(e)),
            Cell::new(n).set_alignment(CellAlignment::Right),
            Cell::new(&e.channel),
            Cell::new(&e.audience),
            Cell::new(recipients).set_alignment(CellAlignment::Right),
            Cell::new(&e.note),
        ]);
    }
    let sent = entries.iter().filter(|e| !e.dropped).count();
    let messages: u64 = entries
        .iter()
        .filter(|e| !e.dropped)
        .map(|e| e.recipients)
        .sum();
    format!(
        "{} — {}\n{t}\n{} lần gửi, khoảng {} tin nhắn (theo dữ liệu hôm nay); {} lần bị bỏ. Giờ {}.\n",
        campaign.id,
        campaign.title,
        thousands(sent as u64),
        thousands(messages),
        thousands((entries.len() - sent) as u64),
        campaign.calendar.tz,
    )
}
