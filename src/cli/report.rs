//! `loa report CAMPAIGN`: one row per message (docs/cli.md#report), as RFC 4180 CSV or JSON.

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

/// The columns of docs/cli.md#report, in order.
#[derive(Debug, Serialize)]
pub(super) struct Line {
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

pub(super) fn line(r: &ReportRow, full: bool) -> Line {
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
        state: r.state.to_string(),
        attempts: r.attempts,
        // Masked when stored; masked again for ledgers written before that was so.
        last_error: match r.last_error.as_deref().map(what_happened) {
            Some(e) if !full => {
                crate::mask::mask_text(&e, r.address.as_deref().unwrap_or_default()).into_owned()
            }
            other => other.unwrap_or_default(),
        },
        queued_at: time(Some(r.queued_at)),
        sent_at: time(r.sent_at),
        delivered_at: time(r.delivered_at),
    }
}

/// A skip reason as stored, without the "; sent by CHANNEL instead" that versions before
/// issue 14 appended when the row was enqueued, before anything was sent (the fallback's
/// own row says what became of it, skipped or sent).
fn what_happened(error: &str) -> String {
    match error.rsplit_once("; sent by ") {
        Some((reason, rest)) if rest.ends_with(" instead") && !rest.contains(';') => {
            reason.to_owned()
        }
        _ => error.to_owned(),
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

/// Writes one report row as CSV, every text cell made safe to open in a spreadsheet.
fn write_csv_line(w: &mut csv::Writer<impl std::io::Write>, l: Line) -> Result<()> {
    let Line {
        campaign,
        step,
        occurrence_at,
        recipient,
        channel,
        address,
        state,
        attempts,
        last_error,
        queued_at,
        sent_at,
        delivered_at,
    } = l;
    let safe = Line {
        campaign: csv_cell(campaign),
        step: csv_cell(step),
        occurrence_at: csv_cell(occurrence_at),
        recipient: csv_cell(recipient),
        channel: csv_cell(channel),
        address: csv_cell(address),
        state: csv_cell(state),
        attempts,
        last_error: csv_cell(last_error),
        queued_at: csv_cell(queued_at),
        sent_at: csv_cell(sent_at),
        delivered_at: csv_cell(delivered_at),
    };
    Ok(w.serialize(safe)?)
}

/// A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`) or whose leading tab or
/// carriage return hides one, prefixed with a single quote so it shows as text (OWASP,
/// "CSV Injection"). Quoting of `"` and separators is the CSV writer's job; JSON is left
/// as it is.
fn csv_cell(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// Writes the report as the ledger hands the rows over: memory stays flat whatever the
/// campaign's size.
pub(super) async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let store = Store::open_existing(&global.database_url).await?;
    super::known_campaign(&store, global, &args.campaign).await?;
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
                .report_each(&args.campaign, |r| write_csv_line(&mut w, line(&r, full)))
                .await?;
            if n == 0 {
                w.write_record(COLUMNS)?;
            }
            w.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_line(recipient: &str, last_error: &str) -> Line {
        Line {
            campaign: "c".into(),
            step: "s".into(),
            occurrence_at: "2026-09-07T07:00:00+07:00".into(),
            recipient: recipient.into(),
            channel: "mail".into(),
            address: String::new(),
            state: "failed".into(),
            attempts: 1,
            last_error: last_error.into(),
            queued_at: String::new(),
            sent_at: String::new(),
            delivered_at: String::new(),
        }
    }

    fn csv_of(lines: Vec<Line>) -> Vec<Vec<String>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        for l in lines {
            write_csv_line(&mut w, l).expect("write");
        }
        let bytes = w.into_inner().expect("flush");
        csv::Reader::from_reader(bytes.as_slice())
            .records()
            .map(|r| r.expect("record").iter().map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_as_formulas_start_with_a_quote() {
        let cases = [
            (
                "=HYPERLINK(\"http://x\",\"a\")",
                "'=HYPERLINK(\"http://x\",\"a\")",
            ),
            ("+84912", "'+84912"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("HS001", "HS001"),
            ("a=b", "a=b"),
            ("", ""),
        ];
        let lines = cases.iter().map(|(raw, _)| report_line(raw, raw)).collect();
        let rows = csv_of(lines);
        for ((raw, want), row) in cases.iter().zip(&rows) {
            assert_eq!(row[3], *want, "recipient {raw:?}");
            assert_eq!(row[8], *want, "last_error {raw:?}");
            assert_eq!(row[7], "1");
        }
    }

    #[test]
    fn json_keeps_cells_as_they_are() {
        let json = serde_json::to_value(report_line("=1+1", "-x")).expect("json");
        assert_eq!(json["recipient"], "=1+1");
        assert_eq!(json["last_error"], "-x");
    }
}

#[cfg(test)]
mod wording_tests {
    use super::*;

    #[test]
    fn a_skip_reason_written_before_the_fallback_ran_says_only_what_happened() {
        let row = ReportRow {
            campaign: "hcm".into(),
            step: "notice".into(),
            occurrence_at: 0,
            recipient: "E1".into(),
            channel: "email".into(),
            address: None,
            state: crate::store::MessageState::Skipped,
            attempts: 0,
            last_error: Some("no email; sent by sms instead".into()),
            queued_at: 0,
            sent_at: None,
            delivered_at: None,
        };
        assert_eq!(line(&row, false).last_error, "no email");
        let other = ReportRow {
            last_error: Some("550 mailbox unavailable".into()),
            ..row
        };
        assert_eq!(line(&other, false).last_error, "550 mailbox unavailable");
    }
}
