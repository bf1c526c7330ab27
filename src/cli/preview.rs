//! `loa preview FILE --step S --recipient KEY [--channel C]`: the exact message one
//! recipient would get, rendered with today's data (docs/cli.md#preview).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use chrono::Utc;

use super::Global;
use super::format::local_time;
use crate::campaign::context::Shared;
use crate::campaign::select::{address, find, selects};
use crate::campaign::{Campaign, Step};
use crate::render::message::{Rendered, Target, render, text_file};
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
    println!("Chiến dịch  {} — {}", campaign.id, campaign.title);
    println!("Bước        {} (lần {n}, {})", step.id, local_time(&at));
    println!("Kênh        {channel_name} ({})", channel.kind.as_str());
    if !selects(&ws.renderer, campaign, step, &ctx)? {
        println!(
            "Lưu ý       người nhận này không thỏa điều kiện `where: {}`: sẽ không được gửi",
            step.condition.as_deref().unwrap_or("")
        );
    }
    let addr = match address(step, channel, &r) {
        Ok(a) => {
            println!("Đến         {a}");
            a
        }
        Err(why) => {
            println!(
                "Đến         (không có địa chỉ: {why}; tin sẽ bị bỏ qua hoặc chuyển sang kênh dự phòng)"
            );
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
    let text_title = match text_file(&ws.renderer, channel.kind, &step.template) {
        "sms.tera" => "sms",
        _ => "text",
    };
    print_parts(&rendered, text_title);
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

/// The rendered parts; `text_title` names the text's file (`sms` for `sms.tera`).
fn print_parts(r: &Rendered, text_title: &str) {
    let section = |title: &str, body: &str| println!("\n── {title} ──\n{body}");
    if let Some(s) = &r.subject {
        println!("Tiêu đề     {s}");
    }
    if let Some(t) = &r.text {
        section(text_title, t.trim_end());
    }
    if let Some(h) = &r.html {
        section("html", h.trim_end());
    }
    if let Some(z) = &r.zns {
        let params = serde_json::to_string_pretty(&z.params).unwrap_or_default();
        section(
            "zalo zns",
            &format!("template_id: {}\ntemplate_data: {params}", z.template_id),
        );
    }
    if let Some(b) = &r.body {
        section("request body", b.trim_end());
    }
}
