//! `loa retry CAMPAIGN [--step S] [--state failed]`: puts messages back in the queue.

use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;

use super::Global;
use super::format::thousands;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub campaign: String,
    #[arg(long)]
    pub step: Option<String>,
    /// Which messages to re-queue: failed (default) or expired.
    #[arg(long, default_value = "failed", value_parser = ["failed", "expired"])]
    pub state: String,
}

pub async fn run(global: &Global, args: &Args) -> Result<ExitCode> {
    let store = Store::open(&global.database_url).await?;
    let n = store
        .retry(
            &args.campaign,
            args.step.as_deref(),
            &args.state,
            Utc::now().timestamp_millis(),
        )
        .await?;
    println!(
        "{} tin nhắn ({}) được đưa lại vào hàng đợi.",
        thousands(n),
        args.state
    );
    Ok(ExitCode::SUCCESS)
}
