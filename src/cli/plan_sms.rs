//! `loa plan`'s SMS table: per step and webhook channel (loa's SMS gateways are webhooks),
//! how many segments one message needs and how many the step's occurrences need in all
//! (docs/cli.md#plan-sms).
//!
//! The count is made on one sample message, not per recipient: the first row the step's
//! `where` selects, rendered for the step's first occurrence in the listed days, exactly as
//! the daemon renders it. When the channel's `body` gives a JSON object with a `text` string,
//! that string is counted (it is what the gateway turns into the SMS, after filters such as
//! `unaccent`); otherwise the rendered text (`sms.tera`, else `text.tera`).

use anyhow::{Context as _, Result};
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use super::format::thousands;
use super::plan::Entry;
use crate::audience::recipients::Recipient;
use crate::campaign::context::Shared;
use crate::campaign::select::{address, joins, recipients, selects};
use crate::campaign::{Campaign, ChannelKind, Step, Workspace};
use crate::render::message::{Target, render};
use crate::render::sms::{Segments, segments};

/// One (step, webhook channel) of the plan.
#[derive(Debug)]
pub(super) struct SmsLine {
    pub step_id: String,
    /// The step as the plan's table shows it: its title above its id.
    pub step: String,
    pub channel: String,
    /// The channel is the step's fallback: it sends only to whom the others did not reach.
    pub fallback: bool,
    /// Of the sample message; None when no row of the audience is selected.
    pub segments: Option<Segments>,
    /// Messages over the listed occurrences (for a fallback, if every one fell back).
    pub messages: u64,
}

impl SmsLine {
    fn total(&self) -> Option<u64> {
        self.segments.map(|s| s.count as u64 * self.messages)
    }
}

/// The SMS lines of `campaign` for the kept `entries` of the plan, in step order.
pub(super) fn lines(
    ws: &Workspace,
    campaign: &Campaign,
    entries: &[Entry],
) -> Result<Vec<SmsLine>> {
    let mut out = Vec::new();
    for step in &campaign.steps {
        let webhooks: Vec<(&String, bool)> = step
            .channels
            .iter()
            .map(|c| (c, false))
            .chain(step.fallback.iter().map(|c| (c, true)))
            .filter(|(c, _)| {
                campaign.channels.get(*c).map(|ch| ch.kind) == Some(ChannelKind::Webhook)
            })
            .collect();
        // One entry per occurrence: those of the step's first channel.
        let occurrences: Vec<&Entry> = entries
            .iter()
            .filter(|e| !e.dropped && e.step == step.id && e.channel == step.channels[0])
            .collect();
        let Some(first) = occurrences.first() else {
            continue;
        };
        if webhooks.is_empty() {
            continue;
        }
        let messages = occurrences.iter().map(|e| e.recipients).sum();
        let at = (first.at, first.n.unwrap_or(1));
        let sample = sample(ws, campaign, step, at)?;
        for (channel, fallback) in webhooks {
            let segments = match &sample {
                Some(r) => Some(sample_segments(ws, campaign, step, channel, at, r)?),
                None => None,
            };
            out.push(SmsLine {
                step_id: step.id.clone(),
                step: match &step.title {
                    Some(title) => format!("{title}\n{}", step.id),
                    None => step.id.clone(),
                },
                channel: channel.clone(),
                fallback,
                segments,
                messages,
            });
        }
    }
    Ok(out)
}

/// The segments of one message of entry `e`, when it is on one of the step's own webhook
/// channels and a sample was found.
pub(super) fn per_message(lines: &[SmsLine], e: &Entry) -> Option<usize> {
    lines
        .iter()
        .find(|l| !l.fallback && l.step_id == e.step && l.channel == e.channel)
        .and_then(|l| l.segments)
        .map(|s| s.count)
}

/// The first row of the step's audience its `where` selects at occurrence `at`.
fn sample(
    ws: &Workspace,
    campaign: &Campaign,
    step: &Step,
    at: (chrono::DateTime<chrono_tz::Tz>, u32),
) -> Result<Option<Recipient>> {
    let joins = joins(campaign, &step.audience)?;
    let shared = Shared::new(campaign, step, &step.channels[0], at.0, at.1);
    for r in recipients(campaign, &step.audience, &joins)? {
        let Ok(r) = r else { continue };
        if selects(&ws.renderer, campaign, step, &shared.for_recipient(&r))? {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// The segments of `r`'s message on `channel`.
fn sample_segments(
    ws: &Workspace,
    campaign: &Campaign,
    step: &Step,
    channel: &str,
    at: (chrono::DateTime<chrono_tz::Tz>, u32),
    r: &Recipient,
) -> Result<Segments> {
    let ch = campaign.channels.get(channel).context("unknown channel")?;
    let addr = address(step, ch, r).unwrap_or_default();
    let target = Target {
        kind: ch.kind,
        template: &step.template,
        body_template: ch.body.as_deref(),
        address: &addr,
        message_id: "plan",
    };
    let mut ctx = Shared::new(campaign, step, channel, at.0, at.1).for_recipient(r);
    let rendered = render(&ws.renderer, &target, &mut ctx)
        .with_context(|| format!("step {}: rendering template {}", step.id, step.template))?;
    Ok(segments(&sms_text(
        rendered.body.as_deref(),
        rendered.text.as_deref(),
    )))
}

/// What the gateway makes the SMS of: the `text` string of a JSON body, else the text.
fn sms_text(body: Option<&str>, text: Option<&str>) -> String {
    body.and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_owned))
        .unwrap_or_else(|| text.unwrap_or_default().to_owned())
}

/// The SMS table and its note, or nothing when no step uses a webhook channel.
pub(super) fn table(lines: &[SmsLine]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "Bước",
        "Kênh SMS",
        "Mã hóa",
        "Ký tự",
        "Phần mỗi tin",
        "Tin",
        "Tổng số phần",
    ]);
    for l in lines {
        let (channel, upto) = match l.fallback {
            true => (format!("{} (dự phòng)", l.channel), "≤ "),
            false => (l.channel.clone(), ""),
        };
        let right = |s: String| Cell::new(s).set_alignment(CellAlignment::Right);
        let (encoding, chars, count) = match l.segments {
            Some(s) => (
                s.encoding.as_str().to_string(),
                s.chars.to_string(),
                s.count.to_string(),
            ),
            None => ("—".to_string(), "—".to_string(), "—".to_string()),
        };
        let total = l
            .total()
            .map_or("—".to_string(), |n| format!("{upto}{}", thousands(n)));
        t.add_row(vec![
            Cell::new(&l.step),
            Cell::new(channel),
            Cell::new(encoding),
            right(chars),
            right(count),
            right(format!("{upto}{}", thousands(l.messages))),
            right(total),
        ]);
    }
    format!(
        "\nTin SMS (1 phần: 160 ký tự GSM-7 hoặc 70 UCS-2; khi tách: 153 hoặc 67 mỗi phần)\n{t}\n\
         Số phần tính trên một tin mẫu: người nhận đầu tiên thỏa `where`, ở lần gửi đầu tiên; \
         kênh dự phòng: tối đa, nếu mọi tin đều chuyển sang.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::sms_text;

    #[test]
    fn the_text_of_a_json_body_is_what_is_counted_else_the_rendered_text() {
        let body = r#"{"to": "84901234567", "text": "Nhac BHYT", "ref": "m1"}"#;
        assert_eq!(sms_text(Some(body), Some("Nhắc BHYT")), "Nhac BHYT");
        assert_eq!(
            sms_text(Some("to=849&text=x"), Some("Nhắc BHYT")),
            "Nhắc BHYT"
        );
        assert_eq!(sms_text(None, Some("Nhắc BHYT")), "Nhắc BHYT");
        assert_eq!(sms_text(None, None), "");
    }
}
