//! `loa preview FILE --step S --recipient KEY [--channel C] [--at DATE | --occurrence N]`:
//! the exact message one recipient would get, rendered with today's data (docs/cli.md#preview).
//!
//! Which occurrence: by default the next one from now (the last once the step is over);
//! `--at` and `--occurrence` pick any other, so a `where` or a template that reads
//! `occurrence` can be checked for the first one too.

use std::cmp::Ordering;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::Global;
use super::format::local_time;
use crate::audience::recipients::Recipient;
use crate::campaign::context::Shared;
use crate::campaign::select::{address, find, selects};
use crate::campaign::{Channel, Step};
use crate::render::message::{Rendered, Target, render, text_file};
use crate::schedule::{self, Occurrence, StepOccurrences};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign file.
    pub file: PathBuf,
    /// The step id.
    #[arg(long)]
    pub step: String,
    /// The recipient's key (the audience's `key` column).
    #[arg(long)]
    pub recipient: String,
    /// One of the step's channels, or its fallback (default: the first channel).
    #[arg(long)]
    pub channel: Option<String>,
    /// The occurrence on this local day (2026-09-05 or 05/09/2026; the first of the day) or
    /// at this local time (2026-09-05 19:30). Default: the next one, or the last once the
    /// step is over.
    #[arg(long, value_name = "DATE", value_parser = parse_at, conflicts_with = "occurrence")]
    pub at: Option<At>,
    /// The step's N-th occurrence, 1 for the first (as `occurrence.n` in templates).
    #[arg(long, value_name = "N")]
    pub occurrence: Option<u32>,
}

/// A local day or a local date and time, in the campaign's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Day(NaiveDate),
    Time(NaiveDateTime),
}

impl Args {
    fn wanted(&self) -> Wanted {
        match (self.at, self.occurrence) {
            (Some(at), _) => Wanted::At(at),
            (None, Some(n)) => Wanted::Number(n),
            (None, None) => Wanted::Next(Utc::now()),
        }
    }
}

fn parse_at(s: &str) -> Result<At, String> {
    if s.trim().contains([' ', 'T']) {
        schedule::parse_local_datetime(s).map(At::Time)
    } else {
        schedule::parse_date(s).map(At::Day)
    }
}

pub(super) fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let Some(ws) = super::load_campaign_file(global, &args.file)? else {
        return Ok(ExitCode::FAILURE);
    };
    let campaign = &ws.campaigns[0];
    let step = campaign.step(&args.step).with_context(|| {
        let ids: Vec<&str> = campaign.steps.iter().map(|s| s.id.as_str()).collect();
        format!("no step {:?}; steps: {}", args.step, ids.join(", "))
    })?;
    let channel_name = pick_channel(step, args.channel.as_deref())?;
    let channel = campaign
        .channels
        .get(&channel_name)
        .context("unknown channel")?;
    let occ = schedule::occurrences(&campaign.calendar, &step.schedule)?;
    let wanted = args.wanted();
    let chosen = pick(&occ, wanted).map_err(|why| anyhow::anyhow!("step {}: {why}", step.id))?;
    let r = find(campaign, &step.audience, &args.recipient)?;
    let shared = Shared::new(campaign, step, &channel_name, chosen.at, chosen.n);
    let mut ctx = shared.for_recipient(&r);
    // Written, not printed: a reader that goes away early is an error to end on quietly
    // (docs/cli.md#global-options), where `println!` would panic.
    let mut out = std::io::stdout().lock();
    writeln!(out, "Chiến dịch  {} — {}", campaign.id, campaign.title)?;
    writeln!(
        out,
        "Bước        {} (lần {}, {})",
        step.id,
        chosen.n,
        local_time(&chosen.at)
    )?;
    writeln!(
        out,
        "Kênh        {channel_name} ({})",
        channel.kind.as_str()
    )?;
    if let Some(more) = same_day_note(&occ, wanted, chosen) {
        writeln!(out, "Lưu ý       {more}")?;
    }
    if !selects(&ws.renderer, campaign, step, &ctx)? {
        writeln!(
            out,
            "Lưu ý       người nhận này không thỏa điều kiện `where: {}`: sẽ không được gửi",
            step.condition.as_deref().unwrap_or("")
        )?;
    }
    let addr = print_address(&mut out, step, channel, &r)?;
    let target = Target {
        kind: channel.kind,
        template: &step.template,
        body_template: channel.body.as_deref(),
        address: &addr,
        message_id: "preview",
    };
    let rendered = render(&ws.renderer, &target, &mut ctx)
        .with_context(|| format!("rendering template {}", step.template))?;
    let text_file = text_file(&ws.renderer, channel.kind, &step.template);
    print_parts(&mut out, &rendered, text_file.trim_end_matches(".tera"))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the recipient's address on `channel`; empty when they have none there.
fn print_address(
    out: &mut impl Write,
    step: &Step,
    channel: &Channel,
    r: &Recipient,
) -> std::io::Result<String> {
    Ok(match address(step, channel, r) {
        Ok(a) => {
            writeln!(out, "Đến         {a}")?;
            a
        }
        Err(why) => {
            let why = crate::web::dashboard::reason::vietnamese(&why);
            writeln!(
                out,
                "Đến         (không có địa chỉ: {why}; tin sẽ bị bỏ qua hoặc chuyển sang kênh dự phòng)"
            )?;
            String::new()
        }
    })
}

fn pick_channel(step: &Step, wanted: Option<&str>) -> Result<String> {
    match wanted {
        None => Ok(step.channels[0].clone()),
        Some(c) if step.channels.iter().any(|x| x == c) || step.fallback.as_deref() == Some(c) => {
            Ok(c.to_string())
        }
        Some(c) => bail!(
            "step {} does not use channel {c:?}; it uses {}",
            step.id,
            step.channels.join(", ")
        ),
    }
}

/// Which occurrence the user asked for.
#[derive(Debug, Clone, Copy)]
enum Wanted {
    /// The next from this instant, or the last when all are past.
    Next(DateTime<Utc>),
    At(At),
    Number(u32),
}

/// The occurrence `wanted` names; the error says why there is none and which there are.
fn pick(occ: &StepOccurrences, wanted: Wanted) -> Result<&Occurrence, String> {
    let kept = &occ.kept;
    let last = kept
        .last()
        .ok_or("the step has no occurrence in its window")?;
    match wanted {
        Wanted::Next(now) => Ok(kept.iter().find(|o| o.at >= now).unwrap_or(last)),
        Wanted::Number(n) => kept.iter().find(|o| o.n == n).ok_or_else(|| {
            format!(
                "there is no occurrence {n}: the step has {} (--occurrence 1 to {}), \
                 the last on {}",
                kept.len(),
                last.n,
                local_time(&last.at)
            )
        }),
        Wanted::At(at) => {
            let sent = kept.iter().find(|o| on(at, &o.at) == Ordering::Equal);
            // A time the calendar moved (quiet hours, a skip date) still names its occurrence.
            let moved = || kept.iter().find(|o| on(at, &o.nominal) == Ordering::Equal);
            sent.or_else(moved).ok_or_else(|| none_at(occ, at))
        }
    }
}

/// How an instant compares with `at`: by day for a date, to the minute for a time.
fn on(at: At, t: &DateTime<Tz>) -> Ordering {
    match at {
        At::Day(day) => t.date_naive().cmp(&day),
        At::Time(time) => t.naive_local().cmp(&time),
    }
}

/// Nothing is sent at `at`: why, when the calendar dropped it, and the nearest occurrences.
fn none_at(occ: &StepOccurrences, at: At) -> String {
    let shown = match at {
        At::Day(day) => day.format("%d/%m/%Y").to_string(),
        At::Time(time) => time.format("%d/%m/%Y %H:%M").to_string(),
    };
    let mut msg = format!("no occurrence on {shown}");
    let dropped = occ
        .dropped
        .iter()
        .find(|d| on(at, &d.nominal) == Ordering::Equal);
    if let Some(d) = dropped {
        msg.push_str(&format!(
            " ({} is not sent: {})",
            local_time(&d.nominal),
            d.reason
        ));
    }
    let before = occ
        .kept
        .iter()
        .rev()
        .find(|o| on(at, &o.at) == Ordering::Less);
    let after = occ.kept.iter().find(|o| on(at, &o.at) == Ordering::Greater);
    let name = |o: &Occurrence| format!("occurrence {} ({})", o.n, local_time(&o.at));
    let nearest = match (before, after) {
        (Some(b), Some(a)) => format!("before it: {}; after it: {}", name(b), name(a)),
        (None, Some(a)) => format!("the first is {}", name(a)),
        (Some(b), None) => format!("the last is {}", name(b)),
        (None, None) => String::new(),
    };
    format!("{msg}; {nearest} (`loa plan` lists them all)")
}

/// When `--at` named a day with several occurrences: that the first was taken, and how to
/// name another.
fn same_day_note(occ: &StepOccurrences, wanted: Wanted, chosen: &Occurrence) -> Option<String> {
    let Wanted::At(day @ At::Day(_)) = wanted else {
        return None;
    };
    let that_day: Vec<&Occurrence> = occ
        .kept
        .iter()
        .filter(|o| on(day, &o.at) == Ordering::Equal)
        .collect();
    let other = that_day.iter().find(|o| o.n != chosen.n)?;
    let times: Vec<String> = that_day
        .iter()
        .map(|o| o.at.format("%H:%M").to_string())
        .collect();
    Some(format!(
        "ngày này có {} lần gửi ({}); đây là lần {} — chọn lần khác bằng --at \"{}\"",
        that_day.len(),
        times.join(", "),
        chosen.at.format("%H:%M"),
        other.at.format("%Y-%m-%d %H:%M")
    ))
}

/// The rendered parts; `text_title` names the text's file (`text` or `sms`).
fn print_parts(out: &mut impl Write, r: &Rendered, text_title: &str) -> std::io::Result<()> {
    if let Some(s) = &r.subject {
        writeln!(out, "Tiêu đề     {s}")?;
    }
    if let Some(t) = &r.text {
        section(out, text_title, t.trim_end())?;
    }
    if let Some(h) = &r.html {
        section(out, "html", h.trim_end())?;
    }
    if let Some(z) = &r.zns {
        let params = serde_json::to_string_pretty(&z.params).unwrap_or_default();
        section(
            out,
            "zalo zns",
            &format!("template_id: {}\ntemplate_data: {params}", z.template_id),
        )?;
    }
    if let Some(b) = &r.body {
        section(out, "request body", b.trim_end())?;
    }
    Ok(())
}

fn section(out: &mut impl Write, title: &str, body: &str) -> std::io::Result<()> {
    writeln!(out, "\n── {title} ──\n{body}")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use chrono_tz::Asia::Ho_Chi_Minh;

    use super::*;
    use crate::schedule::{DropReason, Dropped};

    fn local(d: u32, h: u32, m: u32) -> DateTime<Tz> {
        Ho_Chi_Minh.with_ymd_and_hms(2026, 9, d, h, m, 0).unwrap()
    }

    fn kept(n: u32, at: DateTime<Tz>, nominal: DateTime<Tz>) -> Occurrence {
        Occurrence {
            n,
            at,
            nominal,
            moves: Vec::new(),
        }
    }

    /// 05/09 08:00 and 12:00; 06/09 21:30 moved by quiet hours to 07/09 07:00; 08/09 08:00
    /// dropped (outside the window).
    fn steps() -> StepOccurrences {
        StepOccurrences {
            kept: vec![
                kept(1, local(5, 8, 0), local(5, 8, 0)),
                kept(2, local(5, 12, 0), local(5, 12, 0)),
                kept(3, local(7, 7, 0), local(6, 21, 30)),
            ],
            dropped: vec![Dropped {
                nominal: local(8, 8, 0),
                moved_to: None,
                reason: DropReason::LeftWindow,
            }],
        }
    }

    fn day(d: u32) -> At {
        At::Day(NaiveDate::from_ymd_opt(2026, 9, d).unwrap())
    }

    #[test]
    fn a_time_the_calendar_moved_still_names_its_occurrence() {
        let occ = steps();
        let at = At::Time(local(6, 21, 30).naive_local());
        assert_eq!(pick(&occ, Wanted::At(at)).map(|o| o.n), Ok(3));
        assert_eq!(pick(&occ, Wanted::At(day(7))).map(|o| o.n), Ok(3));
    }

    #[test]
    fn a_dropped_instant_says_why_and_names_the_one_before() {
        let err = pick(&steps(), Wanted::At(day(8))).unwrap_err();
        assert_eq!(
            err,
            "no occurrence on 08/09/2026 (T3 08/09/2026 08:00 is not sent: outside the step's \
             window); the last is occurrence 3 (T2 07/09/2026 07:00) (`loa plan` lists them all)"
        );
    }

    #[test]
    fn a_day_with_two_occurrences_takes_the_first_and_says_how_to_name_the_other() {
        let occ = steps();
        let wanted = Wanted::At(day(5));
        let chosen = pick(&occ, wanted).unwrap();
        assert_eq!(chosen.n, 1);
        let note = same_day_note(&occ, wanted, chosen).unwrap();
        assert!(note.contains("(08:00, 12:00)"), "{note}");
        assert!(note.contains("--at \"2026-09-05 12:00\""), "{note}");
        assert_eq!(same_day_note(&occ, Wanted::Number(1), chosen), None);
    }

    #[test]
    fn without_a_choice_the_next_occurrence_or_else_the_last_is_taken() {
        let occ = steps();
        let now = local(5, 9, 0).with_timezone(&Utc);
        assert_eq!(pick(&occ, Wanted::Next(now)).map(|o| o.n), Ok(2));
        let later = local(30, 0, 0).with_timezone(&Utc);
        assert_eq!(pick(&occ, Wanted::Next(later)).map(|o| o.n), Ok(3));
        let none = StepOccurrences::default();
        assert!(pick(&none, Wanted::Number(1)).is_err());
    }
}
