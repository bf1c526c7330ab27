//! `loa preview FILE --step S --recipient KEY [--channel C]`: the exact message one
//! recipient would get, rendered with today's data (docs/cli.md#preview).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use chrono::Utc;

use super::Global;
use super::format::local_time;
use crate::campaign::context::Shared;
use crate::campaign::select::{address, find, selects};
use crate::campaign::{Campaign, Step};
use crate::render::message::{Rendered, Target, render};
use crate::schedule;

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
    let (at, n) = occurrence(campaign, step)?;
    let r = find(campaign, &step.audience, &args.recipient)?;
    let shared = Shared::new(campaign, step, &channel_name, at, n);
    let mut ctx = shared.for_recipient(&r);
    // Written, not printed: a reader that goes away early is an error to end on quietly
    // (docs/cli.md#global-options), where `println!` would panic.
    let mut out = std::io::stdout().lock();
    writeln!(out, "Chiến dịch  {} — {}", campaign.id, campaign.title)?;
    writeln!(
        out,
        "Bước        {} (lần {n}, {})",
        step.id,
        local_time(&at)
    )?;
    writeln!(
        out,
        "Kênh        {channel_name} ({})",
        channel.kind.as_str()
    )?;
    if !selects(&ws.renderer, campaign, step, &ctx)? {
        writeln!(
            out,
            "Lưu ý       người nhận này không thỏa điều kiện `where: {}`: sẽ không được gửi",
            step.condition.as_deref().unwrap_or("")
        )?;
    }
    let addr = match address(step, channel, &r) {
        Ok(a) => {
            writeln!(out, "Đến         {a}")?;
            a
        }
        Err(why) => {
            writeln!(
                out,
                "Đến         (không có địa chỉ: {why}; tin sẽ bị bỏ qua hoặc chuyển sang kênh dự phòng)"
            )?;
            String::new()
        }
    };
    let target = Target {
        kind: channel.kind,
        template: &step.template,
        body_template: channel.body.as_deref(),
        address: &addr,
        message_id: "preview",
    };
    let rendered = render(&ws.renderer, &target, &mut ctx)
        .with_context(|| format!("rendering template {}", step.template))?;
    print_parts(&mut out, &rendered)?;
    Ok(ExitCode::SUCCESS)
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

/// The next occurrence from now, or the last one when the step is over.
fn occurrence(campaign: &Campaign, step: &Step) -> Result<(chrono::DateTime<chrono_tz::Tz>, u32)> {
    let occ = schedule::occurrences(&campaign.calendar, &step.schedule)?;
    let now = Utc::now();
    let o = occ
        .kept
        .iter()
        .find(|o| o.at >= now)
        .or(occ.kept.last())
        .context("the step has no occurrence in its window")?;
    Ok((o.at, o.n))
}

fn print_parts(out: &mut impl Write, r: &Rendered) -> std::io::Result<()> {
    if let Some(s) = &r.subject {
        writeln!(out, "Tiêu đề     {s}")?;
    }
    if let Some(t) = &r.text {
        section(out, "text", t.trim_end())?;
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
