//! `loa report CAMPAIGN`: one row per message (SPEC §5), as RFC 4180 CSV or JSON.

use std::process::ExitCode;

use anyhow::Result;
use chrono::{TimeZone, Utc};
use serde::Serialize;
use serde::ser::{SerializeSeq as _, Serializer as _};
use std::io::Write as _;

use super::Global;
use crate::channel::mask_address;
use crate::store::{Millis, ReportRow, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    pub campaign: String,
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Show addresses in full (default: masked, as personal data).
    #[arg(long)]
    pub full_addresses: bool,
}

/// The columns of SPEC §5, in order.
#[derive(Debug, Serialize)]
pub struct Line {
    pub campaign: String,
    pub step: String,
    pub occurrence_at: String,
    pub recipient: String,
    pub channel: String,
    pub address: String,
    pub state: String,
    pub attempts: u32,
    pub last_error: String,
    pub queued_at: String,
    pub sent_at: String,
    pub delivered_at: String,
}

fn time(t: Option<Millis>) -> String {
    t.and_then(|t| Utc.timestamp_millis_opt(t).single())
        .map(|t| t.with_timezone(&crate::campaign::DEFAULT_TZ).to_rfc3339())
        .unwrap_or_default()
}

pub fn line(r: &ReportRow, full: bool) -> Line {
    let address = r.address.clone().unwrap_or_default();
    Line {
        campaign: r.campaign.clone(),
        step: r.step.clone(),
        occurrence_at: time(Some(r.occurrence_at)),
        recipient: r.recipient.clone(),
        channel: r.channel.clone(),
        address: if full || address.is_empty() {
            address
        } else {
            mask_address(&address)
        },
        state: r.state.clone(),
        attempts: r.attempts,
        // Masked when stored; masked again for ledgers written before that was so.
        last_error: match &r.last_error {
            Some(e) if !full => {
                crate::mask::mask_text(e, r.address.as_deref().unwrap_or_default()).into_owned()
            }
            other => other.clone().unwrap_or_default(),
        },
        queued_at: time(Some(r.queued_at)),
        sent_at: time(r.sent_at),
        delivered_at: time(r.delivered_at),
    }
}

/// The columns of the CSV, for a report with no row (serde writes them otherwise).
const COLUMNS: [&str; 12] = [
    "campaign",
    "step",
    "occurrence_at",
    "recipient",
    "channel",
    "address",
    "state",
    "attempts",
    "last_error",
    "queued_at",
    "sent_at",
    "delivered_at",
];

/// Writes the report as the ledger hands the rows over: memory stays flat whatever the
/// campaign's size.
pub async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let store = Store::open(&global.database_url).await?;
    let stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let full = args.full_addresses;
    match args.format {
        Format::Json => {
            let mut json = serde_json::Serializer::pretty(stdout);
            let mut seq = json.serialize_seq(None)?;
            store
                .report_each(&args.campaign, |r| {
                    Ok(seq.serialize_element(&line(&r, full))?)
                })
                .await?;
            seq.end()?;
            json.into_inner().flush()?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(stdout);
            let n = store
                .report_each(&args.campaign, |r| Ok(w.serialize(line(&r, full))?))
                .await?;
            if n == 0 {
                w.write_record(COLUMNS)?;
            }
            w.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
