//! `loa status [CAMPAIGN]`: message counts by step, channel and state (docs/cli.md#status).

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;

use super::Global;
use super::format::thousands;
use crate::store::{MessageState, StatusRow, Store};
use crate::web::dashboard::i18n::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this campaign.
    pub campaign: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub(super) async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let store = Store::open_existing(&global.database_url).await?;
    if let Some(campaign) = &args.campaign {
        super::known_campaign(&store, global, campaign).await?;
    }
    let rows = store.status(args.campaign.as_deref()).await?;
    // Written, not printed: a reader that goes away early is an error to end on quietly
    // (docs/cli.md#global-options), where `print!` would panic.
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&to_json(&rows))?)?,
        Format::Table => write!(out, "{}", table(&rows))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// docs/cli.md#status: `{"campaign": …, "steps": [{"step", "channel", "counts": {state: n}}]}`,
/// one object per campaign (an array when several campaigns are listed).
pub(super) fn to_json(rows: &[StatusRow]) -> serde_json::Value {
    let campaigns: BTreeSet<&str> = rows.iter().map(|r| r.campaign.as_str()).collect();
    let objects: Vec<serde_json::Value> = campaigns
        .iter()
        .map(|c| {
            let steps: Vec<_> = rows
                .iter()
                .filter(|r| r.campaign == *c)
                .map(|r| json!({"step": r.step, "channel": r.channel, "counts": r.counts}))
                .collect();
            json!({"campaign": c, "steps": steps})
        })
        .collect();
    match objects.len() {
        1 => objects.into_iter().next().unwrap_or_default(),
        _ => serde_json::Value::Array(objects),
    }
}

pub(super) fn table(rows: &[StatusRow]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["Chiến dịch", "Bước", "Kênh"];
    // The staff's words; `--format json` keeps the English codes for machines.
    header.extend(MessageState::ALL.map(|s| Lang::Vi.state(s)));
    t.set_header(header);
    for r in rows {
        let mut cells = vec![
            Cell::new(&r.campaign),
            Cell::new(&r.step),
            Cell::new(&r.channel),
        ];
        for s in MessageState::ALL {
            let n = r.counts.get(s.as_str()).copied().unwrap_or(0);
            cells.push(
                Cell::new(if n == 0 { String::new() } else { thousands(n) })
                    .set_alignment(CellAlignment::Right),
            );
        }
        t.add_row(cells);
    }
    if rows.is_empty() {
        return "Chưa có tin nhắn nào.\n".into();
    }
    format!("{t}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_states_in_vietnamese_and_the_json_keeps_the_codes() {
        let mut counts = MessageState::zero_counts();
        counts.insert("sent".into(), 2400);
        let rows = [StatusRow {
            campaign: "c".into(),
            step: "s".into(),
            channel: "email".into(),
            counts,
        }];
        let text = table(&rows);
        assert!(text.contains("đã gửi") && text.contains("2.400"), "{text}");
        assert!(!text.contains("sent"), "{text}");
        assert_eq!(to_json(&rows)["steps"][0]["counts"]["sent"], 2400);
    }
}
