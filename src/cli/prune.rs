//! `loa prune --days N [--dry-run]`: clears the personal data of messages that ended more
//! than N days ago (retention, docs/reliability.md#r21); see `store::prune`.
//!
//! Safe beside a running daemon: it writes in short batches on the same ledger.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{Duration, Utc};
use indicatif::{ProgressBar, ProgressStyle};

use super::Global;
use super::format::thousands;
use crate::store::{PRUNE_BATCH, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Messages whose last change is older than this many days (at least 1).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub days: u32,
    /// Only say how many messages would be cleared.
    #[arg(long)]
    pub dry_run: bool,
}

pub(super) async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let store = Store::open(&global.database_url).await?;
    let now = Utc::now();
    let cutoff = now - Duration::days(i64::from(args.days));
    let before = cutoff.timestamp_millis();
    let total = store.prunable(before).await?;
    let day = cutoff.format("%Y-%m-%d");
    let mut out = std::io::stdout().lock();
    if args.dry_run || total == 0 {
        writeln!(
            out,
            "{} tin nhắn kết thúc trước {day} còn dữ liệu cá nhân{}.",
            thousands(total),
            if args.dry_run {
                " (chưa xoá: --dry-run)"
            } else {
                ""
            }
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} tin nhắn")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let pruned = store
        .prune_personal_data(before, now.timestamp_millis(), PRUNE_BATCH, |n| {
            bar.set_position(n)
        })
        .await?;
    bar.finish_and_clear();
    tracing::info!(
        messages = pruned.messages,
        batches = pruned.batches,
        before = %day,
        "personal data of ended messages cleared"
    );
    writeln!(
        out,
        "Đã xoá địa chỉ và dữ liệu người nhận của {} tin nhắn kết thúc trước {day}; \
         số liệu thống kê giữ nguyên.",
        thousands(pruned.messages)
    )?;
    Ok(ExitCode::SUCCESS)
}
